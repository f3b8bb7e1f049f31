package streamq

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The core cases run on a single redis-server and on the 3-master cluster.
func TestCore(t *testing.T) { testCore(t, single) }

func TestCoreCluster(t *testing.T) {
	testCore(t, func(t testing.TB) target {
		env := testenv.RedisCluster(t)
		return target{client: env.Client, prefix: env.Prefix}
	})
}

func testCore(t *testing.T, mk func(testing.TB) target) {
	cases := []struct {
		name string
		run  func(*testing.T, target)
	}{
		{"AddConsumeAck", caseAddConsumeAck},
		{"AddBatch", caseAddBatch},
		{"RetryThenSuccess", caseRetryThenSuccess},
		{"DeadLetterAfterMaxDeliveries", caseDeadLetter},
		{"UndecodableGoesToDeadLetters", caseUndecodable},
		{"PanicIsRetried", casePanic},
		{"SkipRetry", caseSkipRetry},
		{"ProcessIn", caseProcessIn},
		{"FanOutAndSubscriber", caseFanOut},
		{"DeadConsumerReclaimed", caseDeadConsumer},
		{"KillConsumerMidHandler", caseKillMidHandler},
		{"AckAwareTrim", caseTrim},
		{"StatsAndReaper", caseStats},
		{"AddUnique", caseAddUnique},
		{"BatchHandler", caseBatchHandler},
		{"List", caseList},
		{"Headers", caseHeaders},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, mk(t))
		})
	}
}

func caseAddConsumeAck(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	rec := newRecorder()
	var acks atomic.Int64
	c, err := q.NewConsumer("workers", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil },
		fast(ConsumerConfig{Hooks: Hooks{OnAck: func(MsgInfo) { acks.Add(1) }}}))
	require.NoError(t, err)
	stop := start[job](t, c)
	ids := map[string]bool{}
	for i := range 50 {
		id, err := q.Add(ctx, job{N: i})
		require.NoError(t, err)
		ids[id] = true
	}
	eventually(t, 10*time.Second, "50 messages handled", func() bool { return rec.distinct() == 50 })
	eventually(t, 5*time.Second, "acks flushed", func() bool {
		p, err := tg.client.XPending(ctx, q.StreamKey(), "workers").Result()
		return err == nil && p.Count == 0
	})
	stop()
	assert.Equal(t, 50, rec.total(), "each message handled once")
	assert.Equal(t, int64(50), acks.Load())
	for _, m := range rec.msgs {
		assert.True(t, ids[m.ID], "unknown ID %s", m.ID)
		assert.Equal(t, 1, m.Attempt)
		assert.Equal(t, "workers", m.Group)
		assert.Equal(t, m.ID, m.OriginalID)
		assert.WithinDuration(t, time.Now(), m.Enqueued, time.Minute)
	}
	// A clean shutdown with nothing pending leaves the group.
	cons, err := tg.client.XInfoConsumers(ctx, q.StreamKey(), "workers").Result()
	require.NoError(t, err)
	assert.Empty(t, cons, "consumer deleted on clean shutdown")
}

func caseAddBatch(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	vs := make([]job, 250)
	for i := range vs {
		vs[i] = job{N: i}
	}
	ids, err := q.AddBatch(ctx, vs)
	require.NoError(t, err)
	require.Len(t, ids, 250)
	msgs, err := tg.client.XRange(ctx, q.StreamKey(), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 250)
	for i, m := range msgs {
		assert.Equal(t, ids[i], m.ID, "order kept")
		assert.Equal(t, fmt.Sprintf(`{"n":%d}`, i), m.Values["d"])
	}
	ids, err = q.AddBatch(ctx, nil)
	assert.NoError(t, err)
	assert.Empty(t, ids)
}

func caseRetryThenSuccess(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	rec := newRecorder()
	var retries atomic.Int64
	c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error {
		rec.add(m)
		if m.Attempt < 3 {
			return errors.New("transient")
		}
		return nil
	}, fast(ConsumerConfig{MaxDeliveries: 5, Hooks: Hooks{OnRetry: func(_ MsgInfo, err error, d time.Duration) {
		retries.Add(1)
		assert.EqualError(t, err, "transient")
		assert.Equal(t, 10*time.Millisecond, d)
	}}}))
	require.NoError(t, err)
	start[job](t, c)
	first, err := q.Add(ctx, job{N: 7})
	require.NoError(t, err)
	eventually(t, 10*time.Second, "third attempt", func() bool { return len(rec.attempts(7)) == 3 })
	assert.Equal(t, []int{1, 2, 3}, rec.attempts(7))
	assert.Equal(t, int64(2), retries.Load())
	rec.mu.Lock()
	last := rec.msgs[2]
	rec.mu.Unlock()
	assert.Equal(t, first, last.OriginalID, "retries keep the original ID")
	assert.NotEqual(t, first, last.ID, "a retry is a new entry of the retry stream")
	eventually(t, 5*time.Second, "retry stream acked and deleted", func() bool {
		n, err := tg.client.XLen(ctx, q.keys("g").rs).Result()
		return err == nil && n == 0
	})
	time.Sleep(100 * time.Millisecond)
	assert.Len(t, rec.attempts(7), 3, "no delivery after success")
}

func caseDeadLetter(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	var dead atomic.Int64
	c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error {
		return fmt.Errorf("boom %d", m.Attempt)
	}, fast(ConsumerConfig{MaxDeliveries: 3, Hooks: Hooks{OnDead: func(MsgInfo, error) { dead.Add(1) }}}))
	require.NoError(t, err)
	stop := start[job](t, c)
	orig, err := q.Add(ctx, job{N: 1, Note: "bad"})
	require.NoError(t, err)
	var dls []DeadLetter[job]
	eventually(t, 10*time.Second, "dead letter", func() bool {
		dls, err = q.DeadLetters(ctx, "g", "", 10)
		return err == nil && len(dls) == 1
	})
	stop()
	dl := dls[0]
	assert.Equal(t, orig, dl.OriginalID)
	assert.Equal(t, job{N: 1, Note: "bad"}, dl.Value)
	assert.NoError(t, dl.DecodeErr)
	assert.Equal(t, 3, dl.Attempts)
	assert.Equal(t, "boom 3", dl.Err)
	assert.Equal(t, "g", dl.Group)
	assert.Equal(t, int64(1), dead.Load())
	st, err := q.Stats(ctx)
	require.NoError(t, err)
	require.Len(t, st.Groups, 1)
	assert.Equal(t, int64(1), st.Groups[0].DeadLetters)
	assert.Equal(t, int64(0), st.Groups[0].Pending)

	// Requeue: only this group sees it again, with a fresh attempt count.
	rec := newRecorder()
	c2, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil }, fast(ConsumerConfig{}))
	require.NoError(t, err)
	stop2 := start[job](t, c2)
	n, err := q.RequeueDeadLetters(ctx, "g", dl.ID, "1-1")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "one of the two IDs existed")
	eventually(t, 10*time.Second, "requeued message handled", func() bool { return rec.total() == 1 })
	stop2()
	assert.Equal(t, []int{1}, rec.attempts(1))
	assert.Equal(t, orig, rec.msgs[0].OriginalID)
	dls, err = q.DeadLetters(ctx, "g", "", 10)
	require.NoError(t, err)
	assert.Empty(t, dls)

	// Delete.
	id, err := tg.client.XAdd(ctx, &redis.XAddArgs{Stream: q.keys("g").dead, Values: []string{"d", "{}", "id", orig, "a", "1"}}).Result()
	require.NoError(t, err)
	n, err = q.DeleteDeadLetters(ctx, "g", id)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func caseUndecodable(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	rec := newRecorder()
	c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil }, fast(ConsumerConfig{}))
	require.NoError(t, err)
	start[job](t, c)
	_, err = tg.client.XAdd(ctx, &redis.XAddArgs{Stream: q.StreamKey(), Values: []string{"d", "{not json"}}).Result()
	require.NoError(t, err)
	_, err = tg.client.XAdd(ctx, &redis.XAddArgs{Stream: q.StreamKey(), Values: []string{"other", "x"}}).Result()
	require.NoError(t, err)
	_, err = q.Add(ctx, job{N: 2})
	require.NoError(t, err)
	eventually(t, 10*time.Second, "good message after bad ones", func() bool { return rec.total() == 1 })
	var dls []DeadLetter[job]
	eventually(t, 10*time.Second, "two dead letters", func() bool {
		dls, err = q.DeadLetters(ctx, "g", "", 10)
		return err == nil && len(dls) == 2
	})
	for _, dl := range dls {
		assert.Equal(t, 1, dl.Attempts, "no retries for undecodable payloads")
		assert.Contains(t, dl.Err, "streamq: decode")
		assert.Error(t, dl.DecodeErr)
	}
	payloads := []string{string(dls[0].Payload), string(dls[1].Payload)}
	assert.ElementsMatch(t, []string{"{not json", ""}, payloads)
	// Paging with after.
	page, err := q.DeadLetters(ctx, "g", dls[0].ID, 10)
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, dls[1].ID, page[0].ID)
}

func casePanic(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	rec := newRecorder()
	var retryErr atomic.Value
	c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error {
		rec.add(m)
		if m.Attempt == 1 {
			panic("handler bug")
		}
		return nil
	}, fast(ConsumerConfig{Hooks: Hooks{OnRetry: func(_ MsgInfo, err error, _ time.Duration) { retryErr.Store(err) }}}))
	require.NoError(t, err)
	start[job](t, c)
	_, err = q.Add(ctx, job{N: 3})
	require.NoError(t, err)
	eventually(t, 10*time.Second, "retry after panic", func() bool { return len(rec.attempts(3)) == 2 })
	got, _ := retryErr.Load().(error)
	require.Error(t, got)
	assert.Equal(t, "streamq: panic: handler bug", got.Error())
	var pe *PanicError
	require.ErrorAs(t, got, &pe)
	assert.Equal(t, "handler bug", pe.Value)
	assert.NotEmpty(t, pe.Stack)
	assert.NoError(t, pe.Unwrap(), "a non-error panic value unwraps to nil")
	cause := errors.New("boom")
	assert.ErrorIs(t, &PanicError{Value: cause}, cause, "panic(err) unwraps to err")
}

func caseSkipRetry(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	var calls atomic.Int64
	c, err := q.NewConsumer("g", func(context.Context, Msg[job]) error {
		calls.Add(1)
		return fmt.Errorf("invalid order: %w", ErrSkipRetry)
	}, fast(ConsumerConfig{}))
	require.NoError(t, err)
	start[job](t, c)
	_, err = q.Add(ctx, job{N: 1})
	require.NoError(t, err)
	eventually(t, 10*time.Second, "dead letter", func() bool {
		dls, err := q.DeadLetters(ctx, "g", "", 10)
		return err == nil && len(dls) == 1 && dls[0].Attempts == 1
	})
	assert.Equal(t, int64(1), calls.Load())
}

func caseProcessIn(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	got := make(chan time.Time, 2)
	c, err := q.NewConsumer("g", func(context.Context, Msg[job]) error { got <- time.Now(); return nil }, fast(ConsumerConfig{}))
	require.NoError(t, err)
	start[job](t, c)
	t0 := time.Now()
	require.NoError(t, q.ProcessIn(ctx, job{N: 1}, 700*time.Millisecond))
	st, err := q.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), st.Delayed)
	select {
	case at := <-got:
		assert.GreaterOrEqual(t, at.Sub(t0), 700*time.Millisecond, "not delivered before due")
		assert.Less(t, at.Sub(t0), 5*time.Second, "delivered within seconds of due")
	case <-time.After(10 * time.Second):
		t.Fatal("delayed message never delivered")
	}
	require.NoError(t, q.ProcessAt(ctx, job{N: 2}, time.Now().Add(-time.Hour)))
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("past-due message never delivered")
	}
}

func caseFanOut(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	require.NoError(t, q.CreateGroup(ctx, "billing", false))
	require.NoError(t, q.CreateGroup(ctx, "email", false))
	billing, email, sub := newRecorder(), newRecorder(), newRecorder()
	for _, g := range []struct {
		name string
		rec  *recorder
		n    int
	}{{"billing", billing, 2}, {"email", email, 1}} {
		for range g.n {
			rec := g.rec
			c, err := q.NewConsumer(g.name, func(_ context.Context, m Msg[job]) error { rec.add(m); return nil }, fast(ConsumerConfig{}))
			require.NoError(t, err)
			start[job](t, c)
		}
	}
	ready := make(chan struct{}, 1)
	s, err := q.NewSubscriber(func(_ context.Context, m Msg[job]) error {
		if m.Value.N < 0 {
			select {
			case ready <- struct{}{}:
			default:
			}
			return nil
		}
		sub.add(m)
		return nil
	}, SubscriberConfig{Block: 100 * time.Millisecond})
	require.NoError(t, err)
	start[job](t, s)
	// The subscriber reads from "$": wait until it is reading.
	eventually(t, 10*time.Second, "subscriber ready", func() bool {
		_, err := q.Add(ctx, job{N: -1})
		require.NoError(t, err)
		select {
		case <-ready:
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
	for i := range 100 {
		_, err := q.Add(ctx, job{N: i})
		require.NoError(t, err)
	}
	eventually(t, 10*time.Second, "every group and the subscriber got all", func() bool {
		return billing.distinct() >= 100 && email.distinct() >= 100 && sub.distinct() == 100
	})
	assert.Equal(t, 100, sub.total(), "subscriber got each message once")
	sub.mu.Lock()
	for i, m := range sub.msgs {
		assert.Equal(t, i, m.Value.N, "subscriber order")
		assert.Empty(t, m.Group)
		assert.ErrorIs(t, m.Extend(ctx), ErrNoGroup)
	}
	sub.mu.Unlock()
}

// caseDeadConsumer: a consumer that took messages and died (never
// heartbeat, never acked) loses them to a live consumer within seconds.
func caseDeadConsumer(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	for i := range 5 {
		_, err := q.Add(ctx, job{N: i})
		require.NoError(t, err)
	}
	// The crashed consumer: read with raw go-redis and vanish.
	res, err := tg.client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "crashed", Streams: []string{q.StreamKey(), ">"}, Count: 10, Block: -1}).Result()
	require.NoError(t, err)
	require.Len(t, res[0].Messages, 5)
	// One of its messages is trimmed away meanwhile: a ghost pending entry.
	require.NoError(t, tg.client.XDel(ctx, q.StreamKey(), res[0].Messages[4].ID).Err())

	rec := newRecorder()
	var reclaimed atomic.Int64
	c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil },
		fast(ConsumerConfig{Hooks: Hooks{OnReclaim: func(from string, n int) {
			if from == "crashed" {
				reclaimed.Add(int64(n))
			}
		}}}))
	require.NoError(t, err)
	t0 := time.Now()
	start[job](t, c)
	eventually(t, 10*time.Second, "4 reclaimed messages handled", func() bool { return rec.distinct() == 4 })
	assert.Less(t, time.Since(t0), 5*time.Second, "taken over within seconds")
	for i := range 4 {
		assert.Equal(t, []int{2}, rec.attempts(i), "second delivery of message %d", i)
	}
	assert.Equal(t, int64(4), reclaimed.Load())
	// The ghost entry is gone and the dead consumer reaped.
	eventually(t, 10*time.Second, "dead consumer reaped, no ghost pending", func() bool {
		p, err := tg.client.XPending(ctx, q.StreamKey(), "g").Result()
		if err != nil || p.Count != 0 {
			return false
		}
		cons, err := tg.client.XInfoConsumers(ctx, q.StreamKey(), "g").Result()
		if err != nil {
			return false
		}
		for _, c := range cons {
			if c.Name == "crashed" {
				return false
			}
		}
		return true
	})
}

// caseKillMidHandler: a consumer is stopped while its handler runs and does
// not return in time; the message is not acked and another consumer
// processes it.
func caseKillMidHandler(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	started := make(chan struct{})
	a, err := q.NewConsumer("g", func(ctx context.Context, _ Msg[job]) error {
		close(started)
		<-ctx.Done() // stuck until the shutdown deadline cancels it
		return ctx.Err()
	}, fast(ConsumerConfig{Name: "a", ShutdownTimeout: 100 * time.Millisecond}))
	require.NoError(t, err)
	stopA := start[job](t, a)
	_, err = q.Add(ctx, job{N: 1})
	require.NoError(t, err)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("handler never started")
	}
	stopA()
	rec := newRecorder()
	b, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil }, fast(ConsumerConfig{Name: "b"}))
	require.NoError(t, err)
	start[job](t, b)
	eventually(t, 10*time.Second, "b handles a's message", func() bool { return rec.total() == 1 })
	assert.Equal(t, []int{2}, rec.attempts(1))
	assert.Equal(t, "b", rec.msgs[0].Consumer)
}

func caseTrim(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	require.NoError(t, q.CreateGroup(ctx, "fast", false))
	require.NoError(t, q.CreateGroup(ctx, "slow", false))
	vs := make([]job, 20)
	ids, err := q.AddBatch(ctx, vs)
	require.NoError(t, err)
	rec := newRecorder()
	c, err := q.NewConsumer("fast", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil }, fast(ConsumerConfig{DisableTrim: true}))
	require.NoError(t, err)
	stop := start[job](t, c)
	eventually(t, 10*time.Second, "fast group done", func() bool {
		p, err := tg.client.XPending(ctx, q.StreamKey(), "fast").Result()
		return rec.total() == 20 && err == nil && p.Count == 0
	})
	stop()
	res, err := q.Trim(ctx)
	require.NoError(t, err)
	assert.Equal(t, TrimResult{OldestKept: ids[0], PinnedBy: "slow"}, res, "slow group has read nothing: nothing trimmed")
	// slow reads 10 and acks 5: the 5 acked ones are trimmable.
	r, err := tg.client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "slow", Consumer: "x", Streams: []string{q.StreamKey(), ">"}, Count: 10, Block: -1}).Result()
	require.NoError(t, err)
	var acked []string
	for _, m := range r[0].Messages[:5] {
		acked = append(acked, m.ID)
	}
	require.NoError(t, tg.client.XAck(ctx, q.StreamKey(), "slow", acked...).Err())
	res, err = q.Trim(ctx)
	require.NoError(t, err)
	assert.Equal(t, TrimResult{Trimmed: 5, OldestKept: ids[5], PinnedBy: "slow"}, res)
	assert.Less(t, res.Age(time.Now()), time.Minute)
	assert.Zero(t, TrimResult{}.Age(time.Now()), "empty stream: no age")
	n, err := tg.client.XLen(ctx, q.StreamKey()).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(15), n)

	// A hard cap drops unacknowledged entries and counts them.
	q2 := newNamedQueue[job](t, tg, "capped", Config{MaxLen: 10})
	require.NoError(t, q2.CreateGroup(ctx, "g", false))
	ids2, err := q2.AddBatch(ctx, make([]job, 25))
	require.NoError(t, err)
	res, err = q2.Trim(ctx)
	require.NoError(t, err)
	assert.Equal(t, TrimResult{Dropped: 15, OldestKept: ids2[15], PinnedBy: "g"}, res)
	st, err := q2.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(15), st.Dropped)
	assert.Equal(t, int64(10), st.Length)
}

func caseStats(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	st, err := q.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, Stats{Queue: "q"}, st, "stats of a queue that does not exist yet")
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	_, err = q.AddBatch(ctx, make([]job, 10))
	require.NoError(t, err)
	_, err = tg.client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "raw", Streams: []string{q.StreamKey(), ">"}, Count: 4, Block: -1}).Result()
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	st, err = q.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(10), st.Length)
	require.Len(t, st.Groups, 1)
	g := st.Groups[0]
	assert.Equal(t, "g", g.Name)
	assert.Equal(t, int64(4), g.Pending)
	assert.Equal(t, int64(6), g.Lag)
	assert.Equal(t, int64(4), g.EntriesRead)
	assert.Greater(t, g.OldestPendingAge, time.Duration(0))
	require.Len(t, g.Consumers, 1)
	assert.Equal(t, "raw", g.Consumers[0].Name)
	assert.False(t, g.Consumers[0].Alive, "raw consumer never heartbeat")

	// An empty, heartbeat-less, idle consumer is reaped by a running
	// consumer; "raw" (4 pending) is reclaimed first, then reaped.
	_, err = tg.client.XGroupCreateConsumer(ctx, q.StreamKey(), "g", "idle").Result()
	require.NoError(t, err)
	c, err := q.NewConsumer("g", func(context.Context, Msg[job]) error { return nil }, fast(ConsumerConfig{Name: "live"}))
	require.NoError(t, err)
	start[job](t, c)
	eventually(t, 10*time.Second, "only the live consumer left, nothing pending", func() bool {
		st, err := q.Stats(ctx)
		if err != nil || len(st.Groups) != 1 {
			return false
		}
		g := st.Groups[0]
		return g.Pending == 0 && g.Lag == 0 && len(g.Consumers) == 1 && g.Consumers[0].Name == "live" && g.Consumers[0].Alive
	})
}

func caseAddUnique(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	id1, added, err := q.AddUnique(ctx, "order-1", time.Minute, job{N: 1})
	require.NoError(t, err)
	assert.True(t, added)
	id2, added, err := q.AddUnique(ctx, "order-1", time.Minute, job{N: 1})
	require.NoError(t, err)
	assert.False(t, added)
	assert.Equal(t, id1, id2)
	_, added, err = q.AddUnique(ctx, "order-2", time.Minute, job{N: 2})
	require.NoError(t, err)
	assert.True(t, added)
	n, err := tg.client.XLen(ctx, q.StreamKey()).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
}

func caseBatchHandler(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	_, err := q.AddBatch(ctx, make([]job, 30))
	require.NoError(t, err)
	var sizes []int
	var total atomic.Int64
	var failedOnce atomic.Bool
	done := make(chan struct{})
	c, err := q.NewBatchConsumer("g", func(_ context.Context, ms []Msg[job]) error {
		if failedOnce.CompareAndSwap(false, true) {
			return errors.New("whole batch fails once")
		}
		sizes = append(sizes, len(ms))
		if total.Add(int64(len(ms))) == 30 {
			close(done)
		}
		return nil
	}, fast(ConsumerConfig{Concurrency: 1, BatchSize: 100}))
	require.NoError(t, err)
	start[job](t, c)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("batches handled %d of 30", total.Load())
	}
	assert.LessOrEqual(t, len(sizes), 5, "retried messages come back in batches, not one by one: %v", sizes)
}
