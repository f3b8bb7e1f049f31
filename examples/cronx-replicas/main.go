// Command cronx-replicas runs three cronx schedulers in one process, as
// three replicas of a service would, sharing one Redis through
// cronx/redislock: every tick of a job runs on exactly one replica.
//
// It shows a seconds-level spec evaluated in Asia/Shanghai, a job that
// panics once (recovered, reported, and the job keeps running), a job added
// and removed at run time, at the end a table proving that each tick ran
// on exactly one replica, and the cluster-wide view redislock keeps in
// Redis (Jobs, History).
//
//	go run ./examples/tour cronx-replicas     # starts redis-server for it
//	PLUMB_REDIS_URL=redis://localhost:6379/0 go run ./examples/cronx-replicas
//
// Without PLUMB_REDIS_URL it starts a redis-server of its own (it must be
// installed) and stops it at the end. It runs for about 15 seconds.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/redislock"
	"github.com/goplumb/plumb/internal/services"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if cerr := services.CloseAll(); cerr != nil {
		fmt.Fprintln(os.Stderr, "cronx-replicas: stopping redis-server:", cerr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cronx-replicas:", err)
		os.Exit(1)
	}
}

func redisOptions(ctx context.Context) (*redis.Options, error) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u, started, err := services.RedisURL(sctx)
	if err != nil {
		return nil, err
	}
	if started {
		fmt.Println("started redis-server at", u)
	}
	return redis.ParseURL(u)
}

// ledger records which replica ran which tick, outside Redis.
type ledger struct {
	mu   sync.Mutex
	runs map[string]map[time.Time][]string
}

func (l *ledger) add(ri cronx.RunInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.runs[ri.Job] == nil {
		l.runs[ri.Job] = map[time.Time][]string{}
	}
	l.runs[ri.Job][ri.Tick] = append(l.runs[ri.Job][ri.Tick], ri.Replica)
}

func run(ctx context.Context) error {
	opts, err := redisOptions(ctx)
	if err != nil {
		return err
	}
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return fmt.Errorf("load Asia/Shanghai (install tzdata): %w", err)
	}
	prefix := fmt.Sprintf("cronx-replicas:%d:", time.Now().UnixNano())
	led := &ledger{runs: map[string]map[time.Time][]string{}}
	var panicked atomic.Bool

	heartbeat := func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		led.add(ri)
		fmt.Printf("  %s  heartbeat  ran on %s  fence %d\n", ri.Tick.In(shanghai).Format("15:04:05 MST"), ri.Replica, ri.Fence)
		return nil
	}
	flaky := func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		led.add(ri)
		if panicked.CompareAndSwap(false, true) {
			panic("flaky: first run blows up")
		}
		fmt.Printf("  %s  flaky      ran on %s  (fine after its panic)\n", ri.Tick.In(shanghai).Format("15:04:05 MST"), ri.Replica)
		return nil
	}
	temp := func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		led.add(ri)
		fmt.Printf("  %s  temp       ran on %s\n", ri.Tick.In(shanghai).Format("15:04:05 MST"), ri.Replica)
		return nil
	}
	var skipMu sync.Mutex
	lost := map[string]int{}
	hooks := cronx.Hooks{OnSkip: func(_ context.Context, ri cronx.RunInfo, why cronx.SkipReason, _ error) {
		if why == cronx.SkipClaimedElsewhere {
			skipMu.Lock()
			lost[ri.Replica]++
			skipMu.Unlock()
		}
	}, OnFailure: func(_ context.Context, ri cronx.RunInfo, err error, _ time.Duration) {
		var pe *cronx.PanicError
		if errors.As(err, &pe) {
			fmt.Printf("  %s  %-10s PANIC on %s: %v (stack %d B)\n", ri.Tick.In(shanghai).Format("15:04:05 MST"), ri.Job, ri.Replica, pe.Value, len(pe.Stack))
			return
		}
		fmt.Printf("  %s failed on %s: %v\n", ri.Job, ri.Replica, err)
	}}

	quiet := slog.New(slog.DiscardHandler)
	var view *redislock.Coordinator // any replica's coordinator sees the whole cluster
	var schedulers []*cronx.Scheduler
	defer func() {
		for _, s := range schedulers {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.Shutdown(sctx)
			cancel()
		}
	}()
	for i := range 3 {
		rdb := redis.NewClient(opts) // each replica has its own connection pool
		defer rdb.Close()
		// SkewBudget is also how long a Redis that just started (or lost its
		// data) refuses claims: keep it short for a 15-second demo.
		coord, err := redislock.New(rdb, redislock.Config{Logger: quiet, Prefix: prefix, SkewBudget: 2 * time.Second, ClaimTTL: time.Minute})
		if err != nil {
			return err
		}
		if view == nil {
			view = coord
		}
		s, err := cronx.New(cronx.Config{
			Replica:     fmt.Sprintf("replica-%d", i+1),
			Location:    shanghai,
			Coordinator: coord,
			Hooks:       hooks,
			Logger:      quiet, // the hooks print what this example shows
			// Pretend the replicas' clocks disagree by up to 40 ms, so
			// that a different replica fires first from tick to tick.
			Middleware: []cronx.Middleware{func(next cronx.Func) cronx.Func {
				return func(ctx context.Context) error { time.Sleep(rand.N(40 * time.Millisecond)); return next(ctx) }
			}},
		})
		if err != nil {
			return err
		}
		if err := s.Add("heartbeat", "*/2 * * * * *", heartbeat, cronx.OncePerTick()); err != nil {
			return err
		}
		if err := s.Add("flaky", "*/3 * * * * *", flaky, cronx.OncePerTick()); err != nil {
			return err
		}
		schedulers = append(schedulers, s)
	}
	fmt.Println("three replicas, specs evaluated in Asia/Shanghai, claims in Redis:")
	for _, s := range schedulers {
		if err := s.Start(); err != nil {
			return err
		}
	}
	wait := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := wait(4 * time.Second); err != nil {
		return err
	}
	fmt.Println("-- adding job \"temp\" (every second) on all replicas")
	for _, s := range schedulers {
		if err := s.Add("temp", "* * * * * *", temp, cronx.OncePerTick()); err != nil {
			return err
		}
	}
	if err := wait(4 * time.Second); err != nil {
		return err
	}
	fmt.Println("-- removing job \"temp\"")
	for _, s := range schedulers {
		if err := s.Remove("temp"); err != nil {
			return err
		}
	}
	if err := wait(5 * time.Second); err != nil {
		return err
	}
	for _, s := range schedulers {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.Shutdown(sctx)
		cancel()
		if err != nil {
			return err
		}
	}
	schedulers = nil

	fmt.Println()
	fmt.Println("who ran each tick (Asia/Shanghai):")
	led.mu.Lock()
	defer led.mu.Unlock()
	dups := 0
	for _, job := range []string{"heartbeat", "flaky", "temp"} {
		ticks := make([]time.Time, 0, len(led.runs[job]))
		for tk := range led.runs[job] {
			ticks = append(ticks, tk)
		}
		sort.Slice(ticks, func(i, j int) bool { return ticks[i].Before(ticks[j]) })
		var cells []string
		for _, tk := range ticks {
			who := led.runs[job][tk]
			slices.Sort(who)
			if len(who) != 1 {
				dups++
			}
			cells = append(cells, fmt.Sprintf("%s=%s", tk.In(shanghai).Format("15:04:05"), strings.Join(who, "+")))
		}
		// Four cells a line keeps the output within 100 columns.
		fmt.Printf("  %-9s %d ticks:\n", job, len(ticks))
		for i := 0; i < len(cells); i += 4 {
			fmt.Printf("    %s\n", strings.Join(cells[i:min(i+4, len(cells))], "  "))
		}
	}
	skipMu.Lock()
	fmt.Printf("ticks each replica found already claimed (skipped): %v\n", lost)
	skipMu.Unlock()
	if dups > 0 {
		return fmt.Errorf("%d ticks ran on more than one replica", dups)
	}

	fmt.Println()
	fmt.Println("the cluster-wide view in Redis (redislock Jobs and History):")
	jobs, err := view.Jobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		fmt.Printf("  %-9s last tick %s on %s (fence %d)\n", j.Name, j.Last.Tick.In(shanghai).Format("15:04:05"), j.Last.Replica, j.Last.Fence)
		if f := j.LastFailure; f != nil {
			fmt.Printf("  %-9s last failure: %s %q at %s\n", "", f.Outcome, f.Error, f.Tick.In(shanghai).Format("15:04:05"))
		}
	}
	hist, err := view.History(ctx, "flaky", 3)
	if err != nil {
		return err
	}
	for _, r := range hist {
		fmt.Printf("  flaky history: %s %-5s on %s, took %v\n", r.Tick.In(shanghai).Format("15:04:05"), r.Outcome, r.Replica, r.Duration.Round(time.Microsecond))
	}
	fmt.Println("every tick ran on exactly one replica; the panic was recovered and the job kept running.")
	return nil
}
