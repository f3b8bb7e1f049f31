package cronx

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// BenchmarkRun measures the per-run overhead of cronx's wrapper chain
// (tick watermark, overlap gate, hooks, two recovers, run info in the
// context) against a bare robfig FuncJob and robfig's own
// Recover+SkipIfStillRunning chain. The job does nothing, so the numbers
// are pure overhead; the tick computation (prevActivation) is measured
// separately in BenchmarkTick.
func BenchmarkRun(b *testing.B) {
	ctx := context.Background()
	noop := func(context.Context) error { return nil }
	b.Run("plumb", func(b *testing.B) {
		s, err := New(Config{Replica: "bench", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Add("j", "* * * * * *", noop); err != nil {
			b.Fatal(err)
		}
		j := s.jobs["j"]
		ri := RunInfo{Job: "j", Tick: time.Unix(1_700_000_000, 0), Trigger: TriggerSchedule, Attempt: 1, Replica: "bench"}
		for b.Loop() {
			ri.Tick = ri.Tick.Add(time.Second) // a new tick each run, like the engine
			if err := s.execute(ctx, j, ri); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plumb-retry-timeout", func(b *testing.B) {
		s, err := New(Config{Replica: "bench", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Add("j", "* * * * * *", noop, Timeout(time.Minute), Retry(RetryPolicy{MaxAttempts: 3})); err != nil {
			b.Fatal(err)
		}
		j := s.jobs["j"]
		ri := RunInfo{Job: "j", Tick: time.Unix(1_700_000_000, 0), Trigger: TriggerSchedule, Attempt: 1, Replica: "bench"}
		for b.Loop() {
			ri.Tick = ri.Tick.Add(time.Second)
			if err := s.execute(ctx, j, ri); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("robfig", func(b *testing.B) {
		job := cron.FuncJob(func() { _ = noop(ctx) })
		for b.Loop() {
			job.Run()
		}
	})
	b.Run("robfig-chain", func(b *testing.B) {
		job := cron.NewChain(cron.Recover(cron.DiscardLogger), cron.SkipIfStillRunning(cron.DiscardLogger)).Then(cron.FuncJob(func() { _ = noop(ctx) }))
		for b.Loop() {
			job.Run()
		}
	})
}

// BenchmarkTick measures the tick computation cronx does on every wake
// (the latest activation at or before now, from the schedule).
func BenchmarkTick(b *testing.B) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 3_000_000, time.UTC)
	for _, spec := range []string{"* * * * * *", "*/5 * * * *", "CRON_TZ=America/New_York 30 2 * * *", "@every 1m"} {
		s, err := Parse(spec, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				if prevActivation(s, now).IsZero() {
					b.Fatal("no activation")
				}
			}
		})
	}
}
