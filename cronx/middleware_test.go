package cronx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChainOrder(t *testing.T) {
	var got []string
	mw := func(name string) Middleware {
		return func(next Func) Func {
			return func(ctx context.Context) error {
				got = append(got, name+">")
				err := next(ctx)
				got = append(got, "<"+name)
				return err
			}
		}
	}
	f := Chain(mw("a"), nil, mw("b"), mw("c"))(func(context.Context) error { got = append(got, "f"); return nil })
	require.NoError(t, f(context.Background()))
	assert.Equal(t, []string{"a>", "b>", "c>", "f", "<c", "<b", "<a"}, got)
}

func TestRecover(t *testing.T) {
	boom := errors.New("boom")
	err := Recover()(func(context.Context) error { panic(boom) })(context.Background())
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, boom, pe.Value)
	assert.ErrorIs(t, err, boom, "a panic with an error value unwraps to it")
	assert.Contains(t, string(pe.Stack), "TestRecover")

	err = Recover()(func(context.Context) error { panic("text") })(context.Background())
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "text", pe.Value)
	assert.Nil(t, pe.Unwrap())
}

func TestRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := RetryPolicy{MaxAttempts: 4, Initial: time.Second, Max: 3 * time.Second}.withDefaults()
		require.NoError(t, err)
		start := time.Now()
		var at []time.Duration
		var attempts []int
		f := retryMW(p, nil)(func(ctx context.Context) error {
			ri, _ := InfoFrom(ctx)
			attempts = append(attempts, ri.Attempt)
			at = append(at, time.Since(start))
			if ri.Attempt < 4 {
				return fmt.Errorf("fail %d", ri.Attempt)
			}
			return nil
		})
		require.NoError(t, f(ContextWithInfo(context.Background(), RunInfo{Job: "j"})))
		assert.Equal(t, []int{1, 2, 3, 4}, attempts)
		// backoffs 1s, 2s, then 4s capped at 3s
		assert.Equal(t, []time.Duration{0, time.Second, 3 * time.Second, 6 * time.Second}, at)
	})
}

func TestRetryStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := RetryPolicy{MaxAttempts: 5, Initial: time.Second}.withDefaults()
		require.NoError(t, err)
		calls := 0
		perm := errors.New("bad config")
		err = retryMW(p, nil)(func(context.Context) error { calls++; return Permanent(perm) })(context.Background())
		assert.ErrorIs(t, err, perm)
		assert.True(t, IsPermanent(err))
		assert.Equal(t, 1, calls, "a Permanent error is not retried")

		// Exhausted attempts return the last error.
		calls = 0
		p3, _ := RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond}.withDefaults()
		err = retryMW(p3, nil)(func(context.Context) error { calls++; return fmt.Errorf("try %d", calls) })(context.Background())
		assert.EqualError(t, err, "try 3")

		// Never retries into the next tick: next tick 2.5s away, backoffs 1s then 2s.
		calls = 0
		start := time.Now()
		stopAt := func(RunInfo) time.Time { return start.Add(2500 * time.Millisecond) }
		err = retryMW(p, stopAt)(func(context.Context) error { calls++; return errors.New("down") })(context.Background())
		assert.Equal(t, 2, calls)
		assert.ErrorContains(t, err, "after the next tick")
		assert.Equal(t, time.Second, time.Since(start))

		// Cancellation during backoff ends the retries.
		calls = 0
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(500*time.Millisecond, cancel)
		err = retryMW(p, nil)(func(context.Context) error { calls++; return errors.New("down") })(ctx)
		assert.Equal(t, 1, calls)
		assert.ErrorContains(t, err, "abandoned")
	})
}

func TestRetryPolicyValidation(t *testing.T) {
	for name, p := range map[string]RetryPolicy{
		"zero attempts":  {},
		"negative":       {MaxAttempts: 2, Initial: -time.Second},
		"max below init": {MaxAttempts: 2, Initial: time.Minute, Max: time.Second},
		"multiplier < 1": {MaxAttempts: 2, Multiplier: 0.5},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.withDefaults()
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
}

func TestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		err := timeoutMW(3 * time.Second)(func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})(context.Background())
		assert.ErrorIs(t, err, ErrTimeout)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 3*time.Second, time.Since(start))

		err = timeoutMW(3 * time.Second)(func(ctx context.Context) error { return nil })(context.Background())
		assert.NoError(t, err)
	})
}

func TestJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		measure := func(pick func(RunInfo) time.Duration, job string) time.Duration {
			start := time.Now()
			var ran time.Duration
			err := jitterMW(pick)(func(context.Context) error { ran = time.Since(start); return nil })(ContextWithInfo(context.Background(), RunInfo{Job: job}))
			require.NoError(t, err)
			return ran
		}
		max := 10 * time.Second
		a1, a2 := measure(stableJitter(max), "report"), measure(stableJitter(max), "report")
		assert.Equal(t, a1, a2, "stable jitter is fixed per name")
		assert.Less(t, a1, max)
		seen := map[time.Duration]bool{}
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			seen[measure(stableJitter(max), name)] = true
		}
		assert.Greater(t, len(seen), 1, "different names spread")
		for range 20 {
			d := measure(randomJitter(max), "x")
			assert.GreaterOrEqual(t, d, time.Duration(0))
			assert.Less(t, d, max)
		}
	})
}

func TestOverlapGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newOverlapGate(1, nil)
		release := make(chan struct{})
		var mu sync.Mutex
		var order []int
		f := g.mw(func(ctx context.Context) error {
			ri, _ := InfoFrom(ctx)
			mu.Lock()
			order = append(order, ri.Attempt)
			mu.Unlock()
			<-release
			return nil
		})
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := 1; i <= 3; i++ {
			wg.Go(func() { errs[i] = f(ContextWithInfo(context.Background(), RunInfo{Attempt: i})) })
			synctest.Wait() // deterministic arrival order
		}
		var skip *SkipError
		require.ErrorAs(t, errs[3], &skip, "third tick: one running, one waiting, queue bound 1")
		assert.Equal(t, SkipOverlap, skip.Reason)
		close(release)
		wg.Wait()
		assert.NoError(t, errs[1])
		assert.NoError(t, errs[2])
		assert.Equal(t, []int{1, 2}, order, "the delayed tick ran after the first")

		// Skip-only gate; the slot is released when the job panics (robfig/cron#366).
		g0 := newOverlapGate(0, nil)
		calls := 0
		pf := Recover()(g0.mw(func(context.Context) error { calls++; panic("x") }))
		for range 3 {
			var pe *PanicError
			assert.ErrorAs(t, pf(context.Background()), &pe)
		}
		assert.Equal(t, 3, calls)
	})
}

func TestOverlapGateCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newOverlapGate(2, nil)
		release := make(chan struct{})
		go g.mw(func(context.Context) error { <-release; return nil })(context.Background())
		synctest.Wait()
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(time.Second, func() { cancel(ErrShuttingDown) })
		err := g.mw(func(context.Context) error { t.Error("must not run"); return nil })(ctx)
		var skip *SkipError
		require.ErrorAs(t, err, &skip)
		assert.Equal(t, SkipShuttingDown, skip.Reason)
		assert.ErrorIs(t, err, ErrShuttingDown)
		close(release)
	})
}
