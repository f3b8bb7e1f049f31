package cronx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder collects runs of jobs.
type recorder struct {
	mu   sync.Mutex
	runs []RunInfo
	at   []time.Time
}

func (r *recorder) fn(err error) Func {
	return func(ctx context.Context) error {
		ri, _ := InfoFrom(ctx)
		r.mu.Lock()
		r.runs = append(r.runs, ri)
		r.at = append(r.at, time.Now())
		r.mu.Unlock()
		return err
	}
}

func (r *recorder) snapshot() ([]RunInfo, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RunInfo(nil), r.runs...), append([]time.Time(nil), r.at...)
}

// newTestScheduler starts a scheduler with replica "r1", in UTC and
// silent unless cfg says otherwise.
func newTestScheduler(t *testing.T, cfg Config) *Scheduler {
	t.Helper()
	if cfg.Replica == "" {
		cfg.Replica = "r1"
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	return s
}

func shutdown(t *testing.T, s *Scheduler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
}

// TestTicks: under synctest the engine's timers are fake, so the ticks and
// the run info are exact.
func TestTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, Config{})
		var rec recorder
		require.NoError(t, s.Add("every-2s", "*/2 * * * * *", rec.fn(nil)))
		start := time.Now().UTC()
		time.Sleep(10*time.Second + time.Millisecond)
		shutdown(t, s)
		runs, at := rec.snapshot()
		require.Len(t, runs, 5)
		for i, ri := range runs {
			want := start.Truncate(2 * time.Second).Add(time.Duration(i+1) * 2 * time.Second)
			assert.Equal(t, RunInfo{Job: "every-2s", Tick: want, Trigger: TriggerSchedule, Attempt: 1, Replica: "r1"},
				RunInfo{Job: ri.Job, Tick: ri.Tick.UTC(), Trigger: ri.Trigger, Attempt: ri.Attempt, Replica: ri.Replica})
			assert.Equal(t, want, at[i].UTC(), "run started at its tick")
		}
	})
}

func TestManageJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, Config{})
		var a, b recorder
		require.NoError(t, s.Add("a", "* * * * * *", a.fn(nil)))
		err := s.Add("a", "* * * * * *", a.fn(nil))
		assert.ErrorIs(t, err, ErrDuplicateName)
		time.Sleep(3*time.Second + time.Millisecond)
		runs, _ := a.snapshot()
		assert.Len(t, runs, 3)

		require.NoError(t, s.Pause("a"))
		e, err := s.Entry("a")
		require.NoError(t, err)
		assert.True(t, e.Paused)
		time.Sleep(3 * time.Second)
		runs, _ = a.snapshot()
		assert.Len(t, runs, 3, "paused job does not run")
		e, _ = s.Entry("a")
		assert.Equal(t, uint64(3), e.Skips)
		require.NoError(t, s.Resume("a"))
		time.Sleep(2 * time.Second)
		runs, _ = a.snapshot()
		assert.Len(t, runs, 5)

		// Replace keeps stats; the new function runs from the next tick on.
		require.NoError(t, s.Replace("a", "*/2 * * * * *", b.fn(nil)))
		time.Sleep(4 * time.Second)
		runsA, _ := a.snapshot()
		runsB, _ := b.snapshot()
		assert.Len(t, runsA, 5)
		assert.Len(t, runsB, 2)
		e, _ = s.Entry("a")
		assert.Equal(t, uint64(7), e.Runs)
		assert.Equal(t, "*/2 * * * * *", e.Spec)
		assert.ErrorIs(t, s.Replace("nope", "* * * * *", b.fn(nil)), ErrNotFound)

		// RunNow: same chain, manual trigger, runs even when paused.
		require.NoError(t, s.Pause("a"))
		require.NoError(t, s.RunNow(context.Background(), "a"))
		runsB, _ = b.snapshot()
		require.Len(t, runsB, 3)
		assert.Equal(t, TriggerManual, runsB[2].Trigger)
		assert.True(t, time.Now().Equal(runsB[2].Tick), "manual tick is the call time")
		assert.ErrorIs(t, s.RunNow(context.Background(), "nope"), ErrNotFound)

		require.NoError(t, s.Remove("a"))
		assert.ErrorIs(t, s.Remove("a"), ErrNotFound)
		_, err = s.Entry("a")
		assert.ErrorIs(t, err, ErrNotFound)
		assert.Empty(t, s.Entries())
		shutdown(t, s)
		assert.ErrorIs(t, s.Add("x", "* * * * *", b.fn(nil)), ErrClosed)
		assert.ErrorIs(t, s.Start(), ErrClosed)
		assert.ErrorIs(t, s.Shutdown(context.Background()), ErrClosed)
	})
}

func TestEntries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, Config{})
		boom := errors.New("boom")
		var r recorder
		require.NoError(t, s.Add("hourly", "@hourly", r.fn(nil)))
		require.NoError(t, s.Add("fails", "*/5 * * * * *", r.fn(boom)))
		require.NoError(t, s.Add("paused", "* * * * *", r.fn(nil), StartPaused()))
		time.Sleep(5*time.Second + time.Millisecond)
		now := time.Now().UTC()
		es := s.Entries()
		require.Len(t, es, 3)
		assert.Equal(t, []string{"fails", "paused", "hourly"}, []string{es[0].Name, es[1].Name, es[2].Name}, "sorted by Next")
		f := es[0]
		assert.Equal(t, now.Truncate(5*time.Second).Add(5*time.Second), f.Next.UTC())
		assert.Equal(t, now.Truncate(5*time.Second), f.Prev.UTC())
		assert.ErrorIs(t, f.LastErr, boom)
		assert.Equal(t, uint64(1), f.Runs)
		assert.Equal(t, uint64(1), f.Failures)
		assert.True(t, es[1].Paused)
		assert.True(t, es[2].Prev.IsZero())
		h := es[2].NextRuns(3)
		require.Len(t, h, 3)
		assert.Equal(t, es[2].Next, h[0])
		assert.Equal(t, []time.Duration{time.Hour, time.Hour}, []time.Duration{h[1].Sub(h[0]), h[2].Sub(h[1])})
		assert.Nil(t, es[2].NextRuns(0))
		shutdown(t, s)
	})
}

func TestPanicIsRecoveredAndReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var failures []error
		var successes, starts int
		hooks := Hooks{
			OnStart: func(context.Context, RunInfo) { mu.Lock(); starts++; mu.Unlock() },
			OnFailure: func(_ context.Context, _ RunInfo, err error, _ time.Duration) {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			},
			OnSuccess: func(context.Context, RunInfo, time.Duration) { mu.Lock(); successes++; mu.Unlock() },
		}
		var buf safeBuffer
		s := newTestScheduler(t, Config{Hooks: hooks, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
		n := 0
		require.NoError(t, s.Add("flaky", "* * * * * *", func(context.Context) error {
			n++
			if n == 1 {
				panic("first run explodes")
			}
			return nil
		}))
		time.Sleep(3*time.Second + time.Millisecond)
		shutdown(t, s)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, 3, starts)
		assert.Equal(t, 2, successes, "the job keeps running after a panic (the overlap slot was released)")
		require.Len(t, failures, 1)
		var pe *PanicError
		require.ErrorAs(t, failures[0], &pe)
		assert.Equal(t, "first run explodes", pe.Value)
		assert.Contains(t, buf.String(), "cronx: run failed")
		assert.Contains(t, buf.String(), "job=flaky")
		assert.Contains(t, buf.String(), "stack=", "the log line carries the panic's stack")
		assert.Contains(t, buf.String(), "scheduler_test.go", "the stack points at the panicking code")
	})
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *safeBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestOverlapSkipInScheduler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		skips := map[SkipReason]int{}
		s := newTestScheduler(t, Config{Hooks: Hooks{OnSkip: func(_ context.Context, _ RunInfo, why SkipReason, _ error) {
			mu.Lock()
			skips[why]++
			mu.Unlock()
		}}})
		var r recorder
		slow := func(ctx context.Context) error { _ = r.fn(nil)(ctx); return sleep(ctx, 2500*time.Millisecond) }
		require.NoError(t, s.Add("slow", "* * * * * *", slow))
		time.Sleep(6*time.Second + time.Millisecond)
		e, err := s.Entry("slow")
		require.NoError(t, err)
		assert.Equal(t, SkipOverlap, e.LastSkip, "Entries say why the last tick was skipped")
		assert.True(t, time.Now().Truncate(time.Second).Equal(e.LastSkipAt), "last skipped tick %v", e.LastSkipAt)
		shutdown(t, s)
		runs, _ := r.snapshot()
		// ticks 1..6: runs at 1 (busy until 3.5), 4 (until 6.5); 2,3,5,6 skipped
		assert.Len(t, runs, 2)
		mu.Lock()
		assert.Equal(t, 4, skips[SkipOverlap])
		mu.Unlock()
	})
}

func TestTimeoutAndRetryInScheduler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, Config{})
		var r recorder
		require.NoError(t, s.Add("t", "*/10 * * * * *", func(ctx context.Context) error {
			_ = r.fn(nil)(ctx)
			<-ctx.Done()
			return context.Cause(ctx)
		}, Timeout(time.Second), Retry(RetryPolicy{MaxAttempts: 3, Initial: time.Second})))
		time.Sleep(10*time.Second + time.Millisecond)
		time.Sleep(9 * time.Second)
		e, err := s.Entry("t")
		require.NoError(t, err)
		assert.ErrorIs(t, e.LastErr, ErrTimeout)
		runs, at := r.snapshot()
		require.Len(t, runs, 3)
		for i, ri := range runs {
			assert.Equal(t, i+1, ri.Attempt)
		}
		// attempt 1 at 10s, times out at 11s, backoff 1s → 12s, times out 13s, backoff 2s → 15s
		assert.Equal(t, []time.Duration{0, 2 * time.Second, 5 * time.Second}, []time.Duration{0, at[1].Sub(at[0]), at[2].Sub(at[0])})
		shutdown(t, s)
	})
}

// TestPanicLoggedByDefault: without a Logger, a panic goes to
// slog.Default() with its stack (robfig's Recover needs a logger).
func TestPanicLoggedByDefault(t *testing.T) {
	var buf safeBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)
	s, err := New(Config{Location: time.UTC})
	require.NoError(t, err)
	require.NoError(t, s.Add("boom", "@daily", func(context.Context) error { panic("kaboom") }))
	var pe *PanicError
	require.ErrorAs(t, s.RunNow(context.Background(), "boom"), &pe)
	require.NoError(t, s.Shutdown(context.Background()))
	out := buf.String()
	assert.Contains(t, out, `level=ERROR msg="cronx: run failed" job=boom`)
	assert.Contains(t, out, "kaboom")
	assert.Contains(t, out, "stack=")
}

func TestShutdownDeadlineReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, Config{})
		cause := make(chan error, 1)
		require.NoError(t, s.Add("stuck", "* * * * * *", func(ctx context.Context) error {
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return ctx.Err()
		}))
		time.Sleep(1500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := s.Shutdown(ctx)
		assert.Equal(t, 2*time.Second, time.Since(start), "returns at the deadline once the run returned")
		var se *ShutdownError
		require.ErrorAs(t, err, &se)
		assert.ErrorIs(t, err, ErrShutdownTimeout)
		require.Len(t, se.Running, 1)
		assert.Equal(t, "stuck", se.Running[0].Job)
		assert.Equal(t, start.UTC().Truncate(time.Second), se.Running[0].Tick.UTC())
		assert.ErrorIs(t, <-cause, ErrShuttingDown)
	})
}

func TestShutdownWaitsForRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, Config{})
		finished := false
		require.NoError(t, s.Add("slow", "* * * * * *", func(ctx context.Context) error {
			if err := sleep(ctx, 3*time.Second); err != nil {
				return err
			}
			finished = true
			return nil
		}))
		time.Sleep(1500 * time.Millisecond)
		start := time.Now()
		shutdown(t, s)
		assert.True(t, finished)
		assert.Equal(t, 2500*time.Millisecond, time.Since(start))
	})
}

func TestBadInput(t *testing.T) {
	fn := func(context.Context) error { return nil }
	for name, cfg := range map[string]Config{
		"space in replica":  {Replica: "my replica"},
		"nil middleware":    {Middleware: []Middleware{nil}},
		"nil default":       {Defaults: []Option{nil}},
		"bad default":       {Defaults: []Option{Timeout(-time.Second)}},
		"negative deadline": {ClaimTimeout: -time.Second},
		"negative limit":    {MaxConcurrent: -1},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := New(cfg)
			if err == nil { // a bad default surfaces when a job is added
				err = s.Add("j", "* * * * *", fn)
			}
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}

	s, err := New(Config{})
	require.NoError(t, err)
	cases := []struct {
		name, job, spec string
		fn              Func
		opts            []Option
		want            error
	}{
		{"empty name", "", "* * * * *", fn, nil, ErrInvalid},
		{"space in name", "my job", "* * * * *", fn, nil, ErrInvalid},
		{"nil func", "j", "* * * * *", nil, nil, ErrInvalid},
		{"bad spec", "j", "* * *", fn, nil, ErrInvalidSpec},
		{"never fires", "j", "0 0 30 2 *", fn, nil, ErrInvalidSpec},
		{"bad zone", "j", "CRON_TZ=Mars/Olympus 0 * * * *", fn, nil, ErrInvalidSpec},
		{"negative timeout", "j", "* * * * *", fn, []Option{Timeout(-time.Second)}, ErrInvalid},
		{"negative jitter", "j", "* * * * *", fn, []Option{Jitter(-time.Second)}, ErrInvalid},
		{"zero stable jitter", "j", "* * * * *", fn, []Option{StableJitter(0)}, ErrInvalid},
		{"bad retry", "j", "* * * * *", fn, []Option{Retry(RetryPolicy{})}, ErrInvalid},
		{"bad delay", "j", "* * * * *", fn, []Option{DelayIfRunning(0)}, ErrInvalid},
		{"nil middleware", "j", "* * * * *", fn, []Option{Use(nil)}, ErrInvalid},
		{"nil option", "j", "* * * * *", fn, []Option{nil}, ErrInvalid},
		{"once without coordinator", "j", "* * * * *", fn, []Option{OncePerTick()}, ErrInvalid},
		{"empty tag", "j", "* * * * *", fn, []Option{Tags("")}, ErrInvalid},
		{"zero start", "j", "* * * * *", fn, []Option{StartAt(time.Time{})}, ErrInvalid},
		{"zero stop", "j", "* * * * *", fn, []Option{StopAt(time.Time{})}, ErrInvalid},
		{"stop before start", "j", "* * * * *", fn, []Option{StartAt(time.Unix(2e9, 0)), StopAt(time.Unix(1e9, 0))}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Add(tc.job, tc.spec, tc.fn, tc.opts...)
			assert.ErrorIs(t, err, tc.want)
			assert.ErrorIs(t, err, ErrInvalid, "every bad input matches ErrInvalid")
		})
	}
	assert.ErrorIs(t, s.AddOnce("j", time.Time{}, fn), ErrInvalid)
	assert.ErrorIs(t, s.AddSchedule("j", nil, fn), ErrInvalid)
	assert.ErrorIs(t, s.AddJob("j", "* * * * *", nil), ErrInvalid)
	assert.Empty(t, s.Entries(), "nothing was added")
	//lint:ignore SA1012 a nil context is the bad input under test
	assert.ErrorIs(t, s.Shutdown(nil), ErrInvalid)
	//lint:ignore SA1012 a nil context is the bad input under test
	assert.ErrorIs(t, s.RunNow(nil, "j"), ErrInvalid)
}

// TestShutdownDropsDelayedTicks: a tick waiting behind a running one
// (DelayIfRunning) is dropped at Shutdown instead of delaying it.
func TestShutdownDropsDelayedTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		skips := map[SkipReason]int{}
		s := newTestScheduler(t, Config{Hooks: Hooks{OnSkip: func(_ context.Context, _ RunInfo, why SkipReason, _ error) {
			mu.Lock()
			skips[why]++
			mu.Unlock()
		}}})
		var r recorder
		require.NoError(t, s.Add("slow", "* * * * * *", func(ctx context.Context) error {
			_ = r.fn(nil)(ctx)
			return sleep(ctx, 5*time.Second)
		}, DelayIfRunning(1)))
		time.Sleep(3500 * time.Millisecond) // tick 1 runs until 6; tick 2 waits; tick 3 was skipped (queue full)
		start := time.Now()
		shutdown(t, s)
		assert.Equal(t, 2500*time.Millisecond, time.Since(start), "waits for the running tick only")
		runs, _ := r.snapshot()
		assert.Len(t, runs, 1)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, 1, skips[SkipOverlap])
		assert.Equal(t, 1, skips[SkipShuttingDown])
	})
}

type failingCoordinator struct{}

func (failingCoordinator) Claim(context.Context, string, time.Time, string, ClaimOptions) (Lease, error) {
	return nil, errors.New("redis: connection refused")
}

// TestLoggingAndHookDurations: log levels per event, and the durations the
// hooks get.
func TestLoggingAndHookDurations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf safeBuffer
		var mu sync.Mutex
		var took []time.Duration
		var reasons []SkipReason
		s := newTestScheduler(t, Config{
			Logger:      slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Coordinator: failingCoordinator{},
			Hooks: Hooks{
				OnSuccess: func(_ context.Context, _ RunInfo, d time.Duration) { mu.Lock(); took = append(took, d); mu.Unlock() },
				OnSkip: func(_ context.Context, _ RunInfo, why SkipReason, _ error) {
					mu.Lock()
					reasons = append(reasons, why)
					mu.Unlock()
				},
			}})
		require.NoError(t, s.Add("work", "*/5 * * * * *", func(ctx context.Context) error { return sleep(ctx, 1500*time.Millisecond) }))
		require.NoError(t, s.Add("claimed", "*/5 * * * * *", func(context.Context) error { return nil }, OncePerTick()))
		time.Sleep(5*time.Second + 2*time.Second)
		shutdown(t, s)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []time.Duration{1500 * time.Millisecond}, took)
		assert.Equal(t, []SkipReason{SkipCoordinatorError}, reasons, "a coordinator error is a fail-closed skip")
		out := buf.String()
		assert.Contains(t, out, `level=DEBUG msg="cronx: run started" job=work`)
		assert.Contains(t, out, `level=INFO msg="cronx: run succeeded" job=work`)
		assert.Contains(t, out, "took=1.5s")
		assert.Contains(t, out, `level=WARN msg="cronx: run skipped" job=claimed`)
		assert.Contains(t, out, "reason=coordinator-error")
		assert.Contains(t, out, "connection refused")
	})
}

// TestReplaceKeepsOverlapPolicy: a run of the replaced job still blocks
// the new job's ticks under the default skip policy.
func TestReplaceKeepsOverlapPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, Config{})
		var active, maxActive int
		var mu sync.Mutex
		slow := func(ctx context.Context) error {
			mu.Lock()
			active++
			maxActive = max(maxActive, active)
			mu.Unlock()
			err := sleep(ctx, 2500*time.Millisecond)
			mu.Lock()
			active--
			mu.Unlock()
			return err
		}
		require.NoError(t, s.Add("j", "* * * * * *", slow))
		time.Sleep(1500 * time.Millisecond) // the run of tick 1 lasts until 3.5
		require.NoError(t, s.Replace("j", "* * * * * *", slow))
		time.Sleep(3 * time.Second)
		shutdown(t, s)
		e := maxActive
		assert.Equal(t, 1, e, "the new job's ticks were skipped while the old run lived")
	})
}

// TestMiddlewarePlacement: scheduler-wide middleware wraps every tick and
// sees skips as *SkipError; per-job middleware runs only for executed runs.
func TestMiddlewarePlacement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var outer, inner []string
		outerMW := func(next Func) Func {
			return func(ctx context.Context) error {
				err := next(ctx)
				var skip *SkipError
				mu.Lock()
				if errors.As(err, &skip) {
					outer = append(outer, "skip:"+string(skip.Reason))
				} else {
					outer = append(outer, "ran")
				}
				mu.Unlock()
				return err
			}
		}
		innerMW := func(next Func) Func {
			return func(ctx context.Context) error {
				mu.Lock()
				inner = append(inner, "ran")
				mu.Unlock()
				return next(ctx)
			}
		}
		s := newTestScheduler(t, Config{Middleware: []Middleware{outerMW}})
		require.NoError(t, s.Add("j", "* * * * * *", func(context.Context) error { return nil }, Use(innerMW), StartPaused()))
		time.Sleep(2*time.Second + time.Millisecond)
		require.NoError(t, s.Resume("j"))
		time.Sleep(time.Second)
		shutdown(t, s)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{"skip:paused", "skip:paused", "ran"}, outer)
		assert.Equal(t, []string{"ran"}, inner)
	})
}

// hangingCoordinator never answers: its claims end only with their context,
// like a Redis client retrying dials to a server that is down.
type hangingCoordinator struct{}

func (hangingCoordinator) Claim(ctx context.Context, _ string, _ time.Time, _ string, _ ClaimOptions) (Lease, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestClaimDeadline: a claim that hangs is cut off by the scheduler's own
// deadline (Config.ClaimTimeout, at most half the interval), so every tick
// during an outage is a coordinator error, never an overlap.
func TestClaimDeadline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		spec    string
		took    time.Duration // how long each claim hangs
	}{
		{"default, 1s interval", 0, "* * * * * *", 500 * time.Millisecond},
		{"default, 10s interval", 0, "*/10 * * * * *", 2 * time.Second},
		{"configured", 300 * time.Millisecond, "* * * * * *", 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				skips := map[SkipReason]int{}
				var errs []error
				s := newTestScheduler(t, Config{Coordinator: hangingCoordinator{}, ClaimTimeout: tc.timeout,
					Hooks: Hooks{OnSkip: func(_ context.Context, _ RunInfo, why SkipReason, err error) {
						mu.Lock()
						defer mu.Unlock()
						skips[why]++
						errs = append(errs, err)
					}}})
				require.NoError(t, s.Add("j", tc.spec, func(context.Context) error { return nil }, OncePerTick()))
				time.Sleep(60*time.Second + time.Millisecond)
				shutdown(t, s)
				mu.Lock()
				defer mu.Unlock()
				assert.Zero(t, skips[SkipOverlap], "no tick found the previous claim still running")
				assert.Positive(t, skips[SkipCoordinatorError])
				for _, err := range errs {
					assert.ErrorIs(t, err, context.DeadlineExceeded)
					assert.ErrorContains(t, err, "claim took longer than "+tc.took.String())
				}
			})
		})
	}
}

// lostLease is a lease whose Release finds it gone, as redislock does when
// the process was frozen past the lease's TTL.
type lostLease struct{}

func (lostLease) Fence() uint64         { return 7 }
func (lostLease) Lost() <-chan struct{} { return nil }
func (lostLease) Release(context.Context, error) error {
	return fmt.Errorf("%w: lease taken over", ErrLeaseLost)
}

type lostCoordinator struct{}

func (lostCoordinator) Claim(context.Context, string, time.Time, string, ClaimOptions) (Lease, error) {
	return lostLease{}, nil
}

// TestLeaseLostAtRelease: a run that returned nil but whose lease was gone
// at release is a failure (ErrLeaseLost) in hooks and Entries, not a
// success.
func TestLeaseLostAtRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var failures []error
		var successes int
		s := newTestScheduler(t, Config{Coordinator: lostCoordinator{}, Hooks: Hooks{
			OnSuccess: func(context.Context, RunInfo, time.Duration) { mu.Lock(); successes++; mu.Unlock() },
			OnFailure: func(_ context.Context, _ RunInfo, err error, _ time.Duration) {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			},
		}})
		require.NoError(t, s.Add("j", "* * * * * *", func(context.Context) error { return nil }, NoClusterOverlap()))
		time.Sleep(2*time.Second + time.Millisecond)
		e, err := s.Entry("j")
		require.NoError(t, err)
		shutdown(t, s)
		mu.Lock()
		defer mu.Unlock()
		assert.Zero(t, successes)
		require.Len(t, failures, 2)
		for _, err := range failures {
			assert.ErrorIs(t, err, ErrLeaseLost)
		}
		assert.ErrorIs(t, e.LastErr, ErrLeaseLost)
		assert.Equal(t, uint64(2), e.Failures)
		assert.Equal(t, uint64(7), e.LastFence)
	})
}

// TestDSTScheduler runs a scheduler in New York under synctest through a
// fall-back fold and a spring-forward gap, and checks when each job ran,
// in UTC: a job with a wildcard or step hour field keeps its real-time
// cadence through both (as in Vixie cron); a fixed-hour job runs once in
// the fold (first reading) and once right after the gap.
func TestDSTScheduler(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	every15 := func(from, to string) []string {
		a, _ := time.Parse(time.RFC3339, from)
		b, _ := time.Parse(time.RFC3339, to)
		var out []string
		for x := a; !x.After(b); x = x.Add(15 * time.Minute) {
			out = append(out, x.Format(time.RFC3339))
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		start, end string // UTC
		jobs       map[string][]string
	}{
		{"fold 2024-11-03", "2024-11-03T04:40:00Z", "2024-11-03T08:00:00Z", map[string][]string{
			"*/15 * * * *": every15("2024-11-03T04:45:00Z", "2024-11-03T08:00:00Z"), // 00:45 EDT ... 01:45 EDT, 01:00 EST ... 03:00 EST
			"0 * * * *":    {"2024-11-03T05:00:00Z", "2024-11-03T06:00:00Z", "2024-11-03T07:00:00Z", "2024-11-03T08:00:00Z"},
			"30 1 * * *":   {"2024-11-03T05:30:00Z"}, // 01:30 EDT only
		}},
		{"gap 2024-03-10", "2024-03-10T06:40:00Z", "2024-03-10T08:00:00Z", map[string][]string{
			"*/15 * * * *": every15("2024-03-10T06:45:00Z", "2024-03-10T08:00:00Z"), // 01:45 EST, 03:00 EDT, ...
			"30 2 * * *":   {"2024-03-10T07:00:00Z"},                                // 02:30 does not exist: 03:00 EDT
			"0 2 * * *":    {"2024-03-10T07:00:00Z"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start, _ := time.Parse(time.RFC3339, tc.start)
				end, _ := time.Parse(time.RFC3339, tc.end)
				time.Sleep(time.Until(start))
				s := newTestScheduler(t, Config{Location: ny})
				var mu sync.Mutex
				got := map[string][]string{}
				for spec := range tc.jobs {
					name := strings.NewReplacer(" ", "_", "*", "x", "/", "-").Replace(spec)
					require.NoError(t, s.Add(name, spec, func(ctx context.Context) error {
						ri, _ := InfoFrom(ctx)
						mu.Lock()
						defer mu.Unlock()
						assert.True(t, ri.Tick.Equal(time.Now()), "tick %v at %v", ri.Tick, time.Now())
						got[spec] = append(got[spec], time.Now().UTC().Format(time.RFC3339))
						return nil
					}))
				}
				time.Sleep(time.Until(end) + time.Millisecond)
				shutdown(t, s)
				mu.Lock()
				defer mu.Unlock()
				for spec, want := range tc.jobs {
					assert.Equal(t, want, got[spec], spec)
				}
			})
		})
	}
}

// TestOneTimeAndWindows: AddOnce runs once; StartAt and StopAt bound a
// job's ticks.
func TestOneTimeAndWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, Config{})
		var once, win recorder
		t0 := time.Now().UTC().Truncate(time.Second)
		require.NoError(t, s.AddOnce("once", t0.Add(3*time.Second), once.fn(nil)))
		require.NoError(t, s.AddOnce("past", t0.Add(-time.Hour), once.fn(nil)))
		require.NoError(t, s.Add("window", "* * * * * *", win.fn(nil), StartAt(t0.Add(5*time.Second)), StopAt(t0.Add(8*time.Second))))
		e, err := s.Entry("window")
		require.NoError(t, err)
		assert.Equal(t, []time.Time{t0.Add(5 * time.Second), t0.Add(6 * time.Second), t0.Add(7 * time.Second), t0.Add(8 * time.Second)}, e.NextRuns(10))
		time.Sleep(20 * time.Second)
		e, err = s.Entry("once")
		require.NoError(t, err)
		assert.True(t, e.Next.IsZero(), "a one-time job has no next run")
		shutdown(t, s)
		runs, at := once.snapshot()
		require.Len(t, runs, 1)
		assert.Equal(t, "once", runs[0].Job)
		assert.True(t, at[0].Equal(t0.Add(3*time.Second)))
		_, at = win.snapshot()
		assert.Equal(t, []time.Time{t0.Add(5 * time.Second), t0.Add(6 * time.Second), t0.Add(7 * time.Second), t0.Add(8 * time.Second)}, utcAll(at))
	})
}

// TestTags: pause, resume and remove by tag.
func TestTags(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, Config{})
		var a, b, c recorder
		require.NoError(t, s.Add("a", "* * * * * *", a.fn(nil), Tags("billing")))
		require.NoError(t, s.Add("b", "* * * * * *", b.fn(nil), Tags("billing", "reports", "billing")))
		require.NoError(t, s.Add("c", "* * * * * *", c.fn(nil), Tags("reports")))
		n, err := s.PauseTag("billing")
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		time.Sleep(3*time.Second + time.Millisecond)
		ra, _ := a.snapshot()
		rc, _ := c.snapshot()
		assert.Empty(t, ra, "paused by tag")
		assert.Len(t, rc, 3)
		n, _ = s.ResumeTag("billing")
		assert.Equal(t, 2, n)
		time.Sleep(2 * time.Second)
		ra, _ = a.snapshot()
		assert.Len(t, ra, 2, "resumed by tag")
		n, _ = s.RemoveTag("reports")
		assert.Equal(t, 2, n)
		es := s.Entries()
		require.Len(t, es, 1)
		assert.Equal(t, "a", es[0].Name)
		assert.Equal(t, []string{"billing"}, es[0].Tags)
		n, _ = s.RemoveTag("nothing")
		assert.Zero(t, n)
		shutdown(t, s)
	})
}

// TestMaxConcurrent: with Config.MaxConcurrent 1, two slow jobs never run
// at the same time on the scheduler; the other's ticks are skipped.
func TestMaxConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		skips := map[SkipReason]int{}
		s := newTestScheduler(t, Config{MaxConcurrent: 1, Hooks: Hooks{OnSkip: func(_ context.Context, _ RunInfo, why SkipReason, _ error) {
			mu.Lock()
			skips[why]++
			mu.Unlock()
		}}})
		var active, maxActive int
		slow := func(ctx context.Context) error {
			mu.Lock()
			active++
			maxActive = max(maxActive, active)
			mu.Unlock()
			err := sleep(ctx, 1500*time.Millisecond)
			mu.Lock()
			active--
			mu.Unlock()
			return err
		}
		require.NoError(t, s.Add("x", "* * * * * *", slow))
		require.NoError(t, s.Add("y", "* * * * * *", slow))
		time.Sleep(6*time.Second + time.Millisecond)
		shutdown(t, s)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, 1, maxActive)
		assert.Positive(t, skips[SkipConcurrencyLimit])
	})
}

// TestCatchUpNeedsLastTicker: CatchUp without a coordinator that records
// ticks is refused when the job is added.
func TestCatchUpNeedsLastTicker(t *testing.T) {
	s := newTestScheduler(t, Config{Coordinator: failingCoordinator{}})
	defer shutdown(t, s)
	fn := func(context.Context) error { return nil }
	err := s.Add("j", "* * * * *", fn, OncePerTick(), CatchUp(CatchUpPolicy{MaxAge: time.Hour}))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "LastTicker")
	assert.ErrorIs(t, s.Add("k", "* * * * *", fn, OncePerTick(), CatchUp(CatchUpPolicy{})), ErrInvalid)
}
