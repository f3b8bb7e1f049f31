package asynqx_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/asynqx"
	"github.com/goplumb/plumb/internal/testenv"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type handled struct {
	mu   sync.Mutex
	runs map[string]map[int64][]cronx.RunInfo // job -> tick -> runs
}

func (h *handled) add(ri cronx.RunInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.runs[ri.Job] == nil {
		h.runs[ri.Job] = map[int64][]cronx.RunInfo{}
	}
	h.runs[ri.Job][ri.Tick.Unix()] = append(h.runs[ri.Job][ri.Tick.Unix()], ri)
}

func (h *handled) get(job string, tick int64) []cronx.RunInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]cronx.RunInfo(nil), h.runs[job][tick]...)
}

func skew(d time.Duration) cronx.Middleware {
	return func(next cronx.Func) cronx.Func {
		return func(ctx context.Context) error { time.Sleep(d); return next(ctx) }
	}
}

// TestThreeReplicasOneServer: 3 schedulers enqueue every tick, one asynq
// server handles them: each tick is enqueued once and handled once on
// success; a failing handler is retried by asynq.
func TestThreeReplicasOneServer(t *testing.T) {
	env := testenv.Redis(t)
	redisOpt := asynq.RedisClientOpt{Addr: env.Addr, DB: env.DB}

	var h handled
	h.runs = map[string]map[int64][]cronx.RunInfo{}
	mux := asynq.NewServeMux()
	mux.Handle(asynqx.TaskType("ok"), asynqx.Handler(func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		h.add(ri)
		return nil
	}))
	mux.Handle(asynqx.TaskType("flaky"), asynqx.Handler(func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		h.add(ri)
		if ri.Attempt == 1 {
			return errors.New("first attempt fails")
		}
		return nil
	}))
	// Control: asynq's Unique option (a lock on type+payload, deleted when
	// the task succeeds) with replicas 100 ms apart must show duplicates,
	// or this test could not tell per-tick TaskIDs from it.
	mux.Handle("control:unique", asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		tick, err := strconv.ParseInt(string(t.Payload()), 10, 64)
		if err != nil {
			return err
		}
		h.add(cronx.RunInfo{Job: "control", Tick: time.Unix(tick, 0)})
		return nil
	}))
	srv := asynq.NewServer(redisOpt, asynq.Config{
		Concurrency:              4,
		RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 200 * time.Millisecond },
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		TaskCheckInterval:        20 * time.Millisecond,
		LogLevel:                 asynq.ErrorLevel,
	})
	require.NoError(t, srv.Start(mux))
	defer srv.Shutdown()

	var mu sync.Mutex
	enqueued := map[string]map[int64]int{} // job -> tick -> successful enqueues
	var conflicts atomic.Int64
	hooks := cronx.Hooks{
		OnSuccess: func(_ context.Context, ri cronx.RunInfo, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if enqueued[ri.Job] == nil {
				enqueued[ri.Job] = map[int64]int{}
			}
			enqueued[ri.Job][ri.Tick.Unix()]++
		},
		OnSkip: func(_ context.Context, _ cronx.RunInfo, why cronx.SkipReason, _ error) {
			if why == cronx.SkipClaimedElsewhere {
				conflicts.Add(1)
			}
		},
	}
	var ss []*cronx.Scheduler
	for i := range 3 {
		c := asynq.NewClient(redisOpt)
		defer c.Close()
		s, err := cronx.New(cronx.WithReplica(fmt.Sprintf("r%d", i)), cronx.WithHooks(hooks),
			cronx.WithMiddleware(skew(time.Duration(i)*30*time.Millisecond)))
		require.NoError(t, err)
		okFn, err := asynqx.Enqueue(c, "ok", asynqx.Options{Retention: time.Minute})
		require.NoError(t, err)
		flakyFn, err := asynqx.Enqueue(c, "flaky", asynqx.Options{Retention: time.Minute, MaxRetry: 3})
		require.NoError(t, err)
		require.NoError(t, s.Add("ok", "* * * * * *", okFn))
		require.NoError(t, s.Add("flaky", "* * * * * *", flakyFn))
		lag := time.Duration(i) * 100 * time.Millisecond
		require.NoError(t, s.Add("control", "* * * * * *", func(ctx context.Context) error {
			ri, _ := cronx.InfoFrom(ctx)
			time.Sleep(lag)
			// The payload is the tick only so the handler can count per tick;
			// the Unique lock (type+payload) is then per tick too, which is the
			// most favourable case for Unique.
			_, err := c.EnqueueContext(ctx, asynq.NewTask("control:unique", []byte(strconv.FormatInt(ri.Tick.Unix(), 10))), asynq.Unique(time.Minute))
			if errors.Is(err, asynq.ErrDuplicateTask) {
				return &cronx.SkipError{Reason: cronx.SkipClaimedElsewhere, Err: err}
			}
			return err
		}))
		ss = append(ss, s)
	}
	for _, s := range ss {
		require.NoError(t, s.Start())
	}
	time.Sleep(6 * time.Second)
	for _, s := range ss {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		require.NoError(t, s.Shutdown(ctx))
		cancel()
	}

	mu.Lock()
	defer mu.Unlock()
	require.Eventually(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, runs := range h.runs["control"] {
			if len(runs) > 1 {
				return true
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond, "the Unique control showed no duplicate: the test cannot tell the difference")
	h.mu.Lock()
	dups := 0
	for _, runs := range h.runs["control"] {
		if len(runs) > 1 {
			dups++
		}
	}
	t.Logf("control (asynq.Unique): %d of %d ticks handled more than once", dups, len(h.runs["control"]))
	h.mu.Unlock()
	require.GreaterOrEqual(t, len(enqueued["ok"]), 5)
	require.GreaterOrEqual(t, len(enqueued["flaky"]), 5)
	assert.Positive(t, conflicts.Load(), "the other replicas' enqueues conflicted")
	for job, ticks := range enqueued {
		if job == "control" {
			continue
		}
		for tk, n := range ticks {
			assert.Equal(t, 1, n, "%s tick %d enqueued %d times", job, tk, n)
		}
	}
	for tk := range enqueued["ok"] {
		require.Eventually(t, func() bool { return len(h.get("ok", tk)) >= 1 }, 15*time.Second, 50*time.Millisecond, "ok tick %d handled", tk)
	}
	for tk := range enqueued["flaky"] {
		require.Eventually(t, func() bool { return len(h.get("flaky", tk)) >= 2 }, 15*time.Second, 50*time.Millisecond, "flaky tick %d retried", tk)
	}
	time.Sleep(500 * time.Millisecond) // a duplicate would show up now
	for tk := range enqueued["ok"] {
		runs := h.get("ok", tk)
		require.Len(t, runs, 1, "ok tick %d handled once", tk)
		assert.Equal(t, 1, runs[0].Attempt)
		assert.Equal(t, cronx.TriggerSchedule, runs[0].Trigger)
		assert.Equal(t, tk, runs[0].Tick.Unix())
		assert.NotEmpty(t, runs[0].Replica)
	}
	for tk := range enqueued["flaky"] {
		runs := h.get("flaky", tk)
		require.Len(t, runs, 2, "flaky tick %d: one failure, one retry", tk)
		assert.Equal(t, []int{1, 2}, []int{runs[0].Attempt, runs[1].Attempt})
	}
}

func TestRunNowAndPermanent(t *testing.T) {
	env := testenv.Redis(t)
	redisOpt := asynq.RedisClientOpt{Addr: env.Addr, DB: env.DB}
	c := asynq.NewClient(redisOpt)
	defer c.Close()
	s, err := cronx.New(cronx.WithReplica("r0"))
	require.NoError(t, err)
	fn, err := asynqx.Enqueue(c, "report", asynqx.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Add("report", "@yearly", fn))
	require.NoError(t, s.RunNow(context.Background(), "report"))
	require.NoError(t, s.RunNow(context.Background(), "report"), "manual runs never conflict")

	got := make(chan cronx.RunInfo, 4)
	var calls atomic.Int64
	mux := asynq.NewServeMux()
	mux.Handle(asynqx.TaskType("report"), asynqx.Handler(func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		calls.Add(1)
		got <- ri
		return cronx.Permanent(errors.New("bad input, do not retry"))
	}))
	srv := asynq.NewServer(redisOpt, asynq.Config{Concurrency: 2, TaskCheckInterval: 100 * time.Millisecond, LogLevel: asynq.FatalLevel,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return 100 * time.Millisecond }, DelayedTaskCheckInterval: 100 * time.Millisecond})
	require.NoError(t, srv.Start(mux))
	defer srv.Shutdown()
	for range 2 {
		select {
		case ri := <-got:
			assert.Equal(t, cronx.TriggerManual, ri.Trigger)
			assert.Equal(t, "report", ri.Job)
			assert.Equal(t, "r0", ri.Replica)
		case <-time.After(15 * time.Second):
			t.Fatal("manual task not handled")
		}
	}
	time.Sleep(time.Second)
	assert.Equal(t, int64(2), calls.Load(), "a Permanent error is not retried")
	require.NoError(t, s.Shutdown(context.Background()))
}

func TestBadInput(t *testing.T) {
	_, err := asynqx.Enqueue(nil, "j", asynqx.Options{})
	assert.ErrorIs(t, err, cronx.ErrInvalidArgument)
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1"})
	defer c.Close()
	_, err = asynqx.Enqueue(c, "", asynqx.Options{})
	assert.ErrorIs(t, err, cronx.ErrInvalidArgument)
	_, err = asynqx.Enqueue(c, "j", asynqx.Options{Retention: -time.Second})
	assert.ErrorIs(t, err, cronx.ErrInvalidArgument)
	fn, err := asynqx.Enqueue(c, "j", asynqx.Options{})
	require.NoError(t, err)
	assert.ErrorIs(t, fn(context.Background()), cronx.ErrInvalidArgument, "no RunInfo")
	assert.ErrorIs(t, fn(cronx.ContextWithInfo(context.Background(), cronx.RunInfo{Job: "other", Tick: time.Now()})), cronx.ErrInvalidArgument, "name mismatch")

	h := asynqx.Handler(func(context.Context) error { panic("boom") })
	err = h.ProcessTask(context.Background(), asynq.NewTask("other", nil))
	assert.ErrorIs(t, err, asynq.SkipRetry)
	err = h.ProcessTask(context.Background(), asynq.NewTask(asynqx.TaskType("j"), nil))
	assert.ErrorIs(t, err, asynq.SkipRetry, "missing tick header")
	task := asynq.NewTaskWithHeaders(asynqx.TaskType("j"), nil, map[string]string{asynqx.HeaderTick: "1700000000000000000"})
	var pe *cronx.PanicError
	assert.ErrorAs(t, h.ProcessTask(context.Background(), task), &pe, "panics are recovered")
	assert.ErrorIs(t, asynqx.Handler(nil).ProcessTask(context.Background(), task), cronx.ErrInvalidArgument)
}
