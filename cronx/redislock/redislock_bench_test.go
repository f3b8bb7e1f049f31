package redislock_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/redislock"
	"github.com/goplumb/plumb/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// counter is a go-redis hook counting round trips (commands and pipelines).
type counter struct{ n atomic.Int64 }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// BenchmarkClaim is what one replica does with Redis per tick. "claim" is
// the claim alone (one Lua script: restart guard, tick claim, fence,
// last-claim state), which every replica runs for every tick; the anchor,
// "raw-go-redis", is the bare SET NX PX a lock-by-name would do (without
// its DEL at the end, which plumb does not need). "claim+release" adds the
// winner's release, which records the run in the job's history (a second
// round trip, made only by the replica that ran the tick), and
// "nooverlap" the running lease too. roundtrips/tick counts the client's
// round trips with a go-redis hook; vs-raw is raw ns/op ÷ claim ns/op.
func BenchmarkClaim(b *testing.B) {
	env := testenv.Redis(b)
	ctx := context.Background()
	base := time.Now().Add(time.Hour).Truncate(time.Second) // after the fresh server's guard window
	// Each invocation (go test -count) claims under job names of its own.
	var inv atomic.Int64
	name := func(s string) string { return fmt.Sprintf("%s-%d", s, inv.Load()) }
	quiet := slog.New(slog.DiscardHandler)
	var rawNs, claimNs float64
	run := func(b *testing.B, prefix string, o cronx.ClaimOptions, release bool) float64 {
		inv.Add(1)
		c := env.NewClient(b)
		var cnt counter
		c.AddHook(&cnt)
		coord, err := redislock.New(c, redislock.Config{Prefix: env.Prefix + prefix, ClaimTTL: time.Minute, SkewBudget: time.Second, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		warm, err := coord.Claim(ctx, name("warm"), base, "r", o) // connects, loads the scripts
		if err != nil {
			b.Fatal(err)
		}
		if err := warm.Release(ctx, nil); err != nil {
			b.Fatal(err)
		}
		cnt.n.Store(0)
		i := 0
		start := time.Now()
		for b.Loop() {
			i++
			l, err := coord.Claim(ctx, name("job"), base.Add(time.Duration(i)*time.Second), "r", o)
			if err != nil {
				b.Fatal(err)
			}
			if release {
				if err := l.Release(ctx, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(cnt.n.Load())/float64(i), "roundtrips/tick")
		return float64(time.Since(start).Nanoseconds()) / float64(i)
	}
	b.Run("raw-go-redis", func(b *testing.B) {
		inv.Add(1)
		c := env.NewClient(b)
		var cnt counter
		c.AddHook(&cnt)
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		cnt.n.Store(0)
		i := 0
		start := time.Now()
		for b.Loop() {
			i++
			if err := c.SetNX(ctx, env.Prefix+name("raw")+":"+strconv.Itoa(i), "r", time.Minute).Err(); err != nil {
				b.Fatal(err)
			}
		}
		rawNs = float64(time.Since(start).Nanoseconds()) / float64(i)
		b.ReportMetric(float64(cnt.n.Load())/float64(i), "roundtrips/tick")
	})
	// claim-interleaved alternates a raw SET NX PX and a claim in each
	// iteration and times each, so that the machine's noise hits both
	// alike: vs-raw is the ratio of their summed times.
	b.Run("claim-interleaved", func(b *testing.B) {
		inv.Add(1)
		c := env.NewClient(b)
		coord, err := redislock.New(c, redislock.Config{Prefix: env.Prefix + "i:", ClaimTTL: time.Minute, SkewBudget: time.Second, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := coord.Claim(ctx, name("warm"), base, "r", cronx.ClaimOptions{}); err != nil {
			b.Fatal(err)
		}
		var raw, claim time.Duration
		i := 0
		for b.Loop() {
			i++
			t0 := time.Now()
			if err := c.SetNX(ctx, env.Prefix+name("iraw")+":"+strconv.Itoa(i), "r", time.Minute).Err(); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := coord.Claim(ctx, name("ijob"), base.Add(time.Duration(i)*time.Second), "r", cronx.ClaimOptions{}); err != nil {
				b.Fatal(err)
			}
			claim += time.Since(t1)
			raw += t1.Sub(t0)
		}
		b.ReportMetric(float64(raw)/float64(claim), "vs-raw")
	})
	b.Run("claim", func(b *testing.B) {
		claimNs = run(b, "c:", cronx.ClaimOptions{}, false)
		if rawNs > 0 {
			b.ReportMetric(rawNs/claimNs, "vs-raw")
		}
	})
	b.Run("claim+release", func(b *testing.B) {
		ns := run(b, "p:", cronx.ClaimOptions{}, true)
		if rawNs > 0 {
			b.ReportMetric(rawNs/ns, "vs-raw")
		}
	})
	b.Run("nooverlap", func(b *testing.B) {
		ns := run(b, "q:", cronx.ClaimOptions{NoClusterOverlap: true}, true)
		if rawNs > 0 {
			b.ReportMetric(rawNs/ns, "vs-raw")
		}
	})
}
