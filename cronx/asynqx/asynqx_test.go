package asynqx_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

var quiet = slog.New(slog.DiscardHandler)

func skew(d time.Duration) cronx.Middleware {
	return func(next cronx.Func) cronx.Func {
		return func(ctx context.Context) error { time.Sleep(d); return next(ctx) }
	}
}

// TestThreeReplicasOneServer: 3 schedulers enqueue every tick, one asynq
// server handles them: each tick is enqueued once (asynq refuses a second
// task with the same TaskID), and handled as many times as asynq records
// attempts for it (once on success; a failing handler is retried).
//
// No assertion waits for a duplicate to show up: the counts are read after
// the schedulers and the asynq server have shut down, when they are final,
// and compared with asynq's own record of each task.
func TestThreeReplicasOneServer(t *testing.T) {
	env := testenv.Redis(t)
	redisOpt := asynq.RedisClientOpt{Addr: env.Addr, DB: env.DB}

	var h handled
	h.runs = map[string]map[int64][]cronx.RunInfo{}
	mux := asynq.NewServeMux()
	mux.Handle(asynqx.TaskType("ok"), asynqx.Handler(func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		h.add(ri)
		if string(asynqx.PayloadFrom(ctx)) != "ok-payload" {
			return fmt.Errorf("payload %q", asynqx.PayloadFrom(ctx))
		}
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
	// the task succeeds). A replica whose clock is behind by more than the
	// task's run time enqueues the tick again: the control replicas other
	// than r0 enqueue only after the tick was handled, so the duplicate is
	// certain, not a matter of timing.
	handledTick := make(map[int64]chan struct{})
	var hmu sync.Mutex
	tickDone := func(tick int64) chan struct{} {
		hmu.Lock()
		defer hmu.Unlock()
		ch, ok := handledTick[tick]
		if !ok {
			ch = make(chan struct{})
			handledTick[tick] = ch
		}
		return ch
	}
	mux.Handle("control:unique", asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		tick, err := strconv.ParseInt(string(t.Payload()), 10, 64)
		if err != nil {
			return err
		}
		h.add(cronx.RunInfo{Job: "control", Tick: time.Unix(tick, 0)})
		ch := tickDone(tick)
		hmu.Lock()
		select {
		case <-ch:
		default:
			close(ch)
		}
		hmu.Unlock()
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
	srvDown := false
	defer func() {
		if !srvDown {
			srv.Shutdown()
		}
	}()

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
	stopControl := make(chan struct{}) // closed before the schedulers shut down
	count := func(job string) int { mu.Lock(); defer mu.Unlock(); return len(enqueued[job]) }
	var ss []*cronx.Scheduler
	for i := range 3 {
		c := asynq.NewClient(redisOpt)
		defer c.Close()
		s, err := cronx.New(cronx.Config{Replica: fmt.Sprintf("r%d", i), Hooks: hooks, Logger: quiet,
			Middleware: []cronx.Middleware{skew(time.Duration(i) * 30 * time.Millisecond)}})
		require.NoError(t, err)
		okFn, err := asynqx.Enqueue(c, "ok", asynqx.Config{Retention: time.Minute, Payload: []byte("ok-payload")})
		require.NoError(t, err)
		flakyFn, err := asynqx.Enqueue(c, "flaky", asynqx.Config{Retention: time.Minute, MaxRetry: 3})
		require.NoError(t, err)
		require.NoError(t, s.Add("ok", "* * * * * *", okFn))
		require.NoError(t, s.Add("flaky", "* * * * * *", flakyFn))
		late := i > 0
		require.NoError(t, s.Add("control", "* * * * * *", func(ctx context.Context) error {
			ri, _ := cronx.InfoFrom(ctx)
			if late { // behind r0 by more than the task's run time
				select {
				case <-tickDone(ri.Tick.Unix()):
				case <-stopControl:
					return &cronx.SkipError{Reason: cronx.SkipShuttingDown}
				case <-time.After(30 * time.Second):
					return errors.New("control: r0's task was not handled")
				}
			}
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
	require.Eventually(t, func() bool { return count("ok") >= 5 && count("flaky") >= 5 && count("control") >= 2 },
		60*time.Second, 50*time.Millisecond, "five ticks of each job enqueued")
	close(stopControl)
	for _, s := range ss {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		require.NoError(t, s.Shutdown(ctx))
		cancel()
	}

	mu.Lock()
	defer mu.Unlock()
	assert.Positive(t, conflicts.Load(), "the other replicas' enqueues conflicted")
	for _, job := range []string{"ok", "flaky"} {
		for tk, n := range enqueued[job] {
			assert.Equal(t, 1, n, "%s tick %d enqueued %d times", job, tk, n)
		}
	}
	// Wait for asynq to finish every enqueued task, then stop the server so
	// the handled counts are final.
	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()
	info := map[string]*asynq.TaskInfo{}
	for _, job := range []string{"ok", "flaky"} {
		for tk := range enqueued[job] {
			id := asynqx.TaskID(job, time.Unix(tk, 0))
			require.Eventually(t, func() bool {
				ti, err := insp.GetTaskInfo("default", id)
				if err != nil || ti.State != asynq.TaskStateCompleted {
					return false
				}
				info[id] = ti
				return true
			}, 60*time.Second, 50*time.Millisecond, "task %s completed", id)
		}
	}
	srv.Shutdown()
	srvDown = true

	for tk := range enqueued["ok"] {
		runs := h.get("ok", tk)
		ti := info[asynqx.TaskID("ok", time.Unix(tk, 0))]
		require.Len(t, runs, 1+ti.Retried, "ok tick %d handled once per attempt asynq recorded", tk)
		assert.Equal(t, 1, runs[0].Attempt)
		assert.Equal(t, cronx.TriggerSchedule, runs[0].Trigger)
		assert.Equal(t, tk, runs[0].Tick.Unix())
		assert.NotEmpty(t, runs[0].Replica)
	}
	for tk := range enqueued["flaky"] {
		runs := h.get("flaky", tk)
		ti := info[asynqx.TaskID("flaky", time.Unix(tk, 0))]
		assert.Equal(t, 1, ti.Retried, "flaky tick %d: one failure, then success", tk)
		require.Len(t, runs, 2, "flaky tick %d: one failure, one retry", tk)
		assert.Equal(t, []int{1, 2}, []int{runs[0].Attempt, runs[1].Attempt})
	}
	h.mu.Lock()
	dups := 0
	for _, runs := range h.runs["control"] {
		if len(runs) > 1 {
			dups++
		}
	}
	t.Logf("control (asynq.Unique): %d of %d ticks handled more than once", dups, len(h.runs["control"]))
	h.mu.Unlock()
	assert.Positive(t, dups, "the Unique control showed no duplicate: the test cannot tell the difference")
}

// TestRunNowAndPermanent: manual runs get task IDs of their own, and a
// handler error marked Permanent is archived by asynq without a retry.
func TestRunNowAndPermanent(t *testing.T) {
	env := testenv.Redis(t)
	redisOpt := asynq.RedisClientOpt{Addr: env.Addr, DB: env.DB}
	c := asynq.NewClient(redisOpt)
	defer c.Close()
	s, err := cronx.New(cronx.Config{Replica: "r0", Logger: quiet})
	require.NoError(t, err)
	fn, err := asynqx.Enqueue(c, "report", asynqx.Config{})
	require.NoError(t, err)
	require.NoError(t, s.Add("report", "@yearly", fn))
	require.NoError(t, s.RunNow(context.Background(), "report"))
	require.NoError(t, s.RunNow(context.Background(), "report"), "manual runs never conflict")

	var calls atomic.Int64
	var mu sync.Mutex
	var got []cronx.RunInfo
	mux := asynq.NewServeMux()
	mux.Handle(asynqx.TaskType("report"), asynqx.Handler(func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		calls.Add(1)
		mu.Lock()
		got = append(got, ri)
		mu.Unlock()
		return cronx.Permanent(errors.New("bad input, do not retry"))
	}))
	srv := asynq.NewServer(redisOpt, asynq.Config{Concurrency: 2, TaskCheckInterval: 100 * time.Millisecond, LogLevel: asynq.FatalLevel,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return 100 * time.Millisecond }, DelayedTaskCheckInterval: 100 * time.Millisecond})
	require.NoError(t, srv.Start(mux))
	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()
	var archived []*asynq.TaskInfo
	require.Eventually(t, func() bool {
		archived, err = insp.ListArchivedTasks("default")
		return err == nil && len(archived) == 2
	}, 60*time.Second, 50*time.Millisecond, "both manual tasks archived")
	srv.Shutdown() // the count below is final
	for _, ti := range archived {
		assert.Equal(t, 0, ti.Retried, "a Permanent error is not retried")
	}
	assert.Equal(t, int64(2), calls.Load(), "each task handled once")
	mu.Lock()
	defer mu.Unlock()
	for _, ri := range got {
		assert.Equal(t, cronx.TriggerManual, ri.Trigger)
		assert.Equal(t, "report", ri.Job)
		assert.Equal(t, "r0", ri.Replica)
	}
	require.NoError(t, s.Shutdown(context.Background()))
}

func TestBadInput(t *testing.T) {
	_, err := asynqx.Enqueue(nil, "j", asynqx.Config{})
	assert.ErrorIs(t, err, cronx.ErrInvalid)
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1"})
	defer c.Close()
	_, err = asynqx.Enqueue(c, "", asynqx.Config{})
	assert.ErrorIs(t, err, cronx.ErrInvalid)
	_, err = asynqx.Enqueue(c, "j", asynqx.Config{Retention: -time.Second})
	assert.ErrorIs(t, err, cronx.ErrInvalid)
	fn, err := asynqx.Enqueue(c, "j", asynqx.Config{})
	require.NoError(t, err)
	assert.ErrorIs(t, fn(context.Background()), cronx.ErrInvalid, "no RunInfo")
	assert.ErrorIs(t, fn(cronx.ContextWithInfo(context.Background(), cronx.RunInfo{Job: "other", Tick: time.Now()})), cronx.ErrInvalid, "name mismatch")

	h := asynqx.Handler(func(context.Context) error { panic("boom") })
	err = h.ProcessTask(context.Background(), asynq.NewTask("other", nil))
	assert.ErrorIs(t, err, asynq.SkipRetry)
	err = h.ProcessTask(context.Background(), asynq.NewTask(asynqx.TaskType("j"), nil))
	assert.ErrorIs(t, err, asynq.SkipRetry, "no envelope")
	for _, bad := range []string{"cronx/1 x schedule r\n", "cronx/1 1 sometimes r\n", "cronx/1 1 schedule"} {
		err = h.ProcessTask(context.Background(), asynq.NewTask(asynqx.TaskType("j"), []byte(bad)))
		assert.ErrorIs(t, err, asynq.SkipRetry, "bad envelope %q", bad)
	}
	task := asynq.NewTask(asynqx.TaskType("j"), []byte("cronx/1 1700000000000000000 schedule r0\n"))
	var pe *cronx.PanicError
	assert.ErrorAs(t, h.ProcessTask(context.Background(), task), &pe, "panics are recovered")
	assert.ErrorIs(t, asynqx.Handler(nil).ProcessTask(context.Background(), task), cronx.ErrInvalid)
}
