package cronx

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Add(tc.job, tc.spec, tc.fn, tc.opts...)
			assert.ErrorIs(t, err, tc.want)
			assert.ErrorIs(t, err, ErrInvalid, "every bad input matches ErrInvalid")
		})
	}
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
