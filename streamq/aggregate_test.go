package streamq

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aggCall is one AggregateHandler call.
type aggCall struct {
	key     string
	ns      []int
	attempt int
	headers []map[string]string
}

// Aggregation groups: a full group is flushed by the Add that fills it, a
// quiet one after GracePeriod; the handler gets each group's messages in
// order, with their headers; a failed aggregate is retried as a whole; one
// out of deliveries is dead-lettered as a whole and requeued.
func caseAggregate(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{Aggregation: AggregateConfig{MaxSize: 3, GracePeriod: 200 * time.Millisecond, MaxDelay: 5 * time.Second}})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	var mu sync.Mutex
	var calls []aggCall
	c, err := q.NewAggregateConsumer("g", func(_ context.Context, key string, ms []Msg[job]) error {
		call := aggCall{key: key, attempt: ms[0].Attempt}
		for _, m := range ms {
			call.ns = append(call.ns, m.Value.N)
			call.headers = append(call.headers, m.Headers)
		}
		mu.Lock()
		calls = append(calls, call)
		mu.Unlock()
		switch {
		case key == "retry" && call.attempt == 1:
			return errors.New("try again")
		case key == "dead" && call.attempt < 9:
			return errors.New("always")
		}
		return nil
	}, fast(ConsumerConfig{MaxDeliveries: 2}))
	require.NoError(t, err)
	start[job](t, c)
	get := func() []aggCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]aggCall(nil), calls...)
	}
	find := func(key string) []aggCall {
		var out []aggCall
		for _, c := range get() {
			if c.key == key {
				out = append(out, c)
			}
		}
		return out
	}
	id, err := q.Add(ctx, job{N: 1}, Aggregate("full"), Header("h", "1"))
	require.NoError(t, err)
	assert.Empty(t, id, "waiting in its group")
	_, err = q.Add(ctx, job{N: 2}, Aggregate("full"))
	require.NoError(t, err)
	id, err = q.Add(ctx, job{N: 3}, Aggregate("full"))
	require.NoError(t, err)
	assert.NotEmpty(t, id, "the Add that fills the group flushes it")
	_, err = q.Add(ctx, job{N: 10}, Aggregate("quiet"))
	require.NoError(t, err)
	_, err = q.Add(ctx, job{N: 11}, Aggregate("quiet"))
	require.NoError(t, err)
	_, err = q.AddBatch(ctx, []job{{N: 20}, {N: 21}}, Aggregate("retry"))
	require.NoError(t, err)
	_, err = q.Add(ctx, job{N: 30}, Aggregate("dead"))
	require.NoError(t, err)
	_, err = q.Add(ctx, job{N: 99}) // not aggregated: alone, key ""
	require.NoError(t, err)
	eventually(t, 60*time.Second, "every group handled", func() bool {
		// At least: a delivery may run once more on a loaded machine.
		return len(find("full")) >= 1 && len(find("quiet")) >= 1 && len(find("retry")) >= 2 && len(find("")) >= 1
	})
	assert.Equal(t, []int{1, 2, 3}, find("full")[0].ns)
	assert.Equal(t, []map[string]string{{"h": "1"}, nil, nil}, find("full")[0].headers)
	assert.Equal(t, []int{10, 11}, find("quiet")[0].ns, "flushed after the grace period")
	retried := find("retry")[len(find("retry"))-1]
	assert.Equal(t, []int{20, 21}, retried.ns, "retried as a whole")
	assert.GreaterOrEqual(t, retried.attempt, 2)
	assert.Equal(t, []int{99}, find("")[0].ns)
	var dls []DeadLetter[job]
	eventually(t, 60*time.Second, "the failing aggregate dead-lettered", func() bool {
		dls, err = q.DeadLetters(ctx, "g", "", 10)
		return err == nil && len(dls) == 1
	})
	assert.Equal(t, "dead", dls[0].Aggregate)
	assert.NoError(t, dls[0].DecodeErr)
	// Count the runs before the requeue: on a loaded machine a delivery may be
	// reclaimed and run once more before it is dead-lettered (at least once),
	// so the number of runs so far is not a fixed 2.
	before := len(find("dead"))
	n, err := q.RequeueDeadLetters(ctx, "g", dls[0].ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	eventually(t, 60*time.Second, "the requeued aggregate runs again", func() bool { return len(find("dead")) > before })
	assert.Equal(t, []int{30}, find("dead")[before].ns)
}

// Handler and BatchHandler consumers get an aggregate's messages too: one
// by one in order, or in one call of their own. Aggregate needs
// Config.Aggregation.
func TestAggregateOtherHandlers(t *testing.T) {
	t.Parallel()
	tg := single(t)
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{Aggregation: AggregateConfig{MaxSize: 2}})
	require.NoError(t, q.CreateGroup(ctx, "one", false))
	require.NoError(t, q.CreateGroup(ctx, "batch", false))
	rec := newRecorder()
	c, err := q.NewConsumer("one", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil }, fast(ConsumerConfig{}))
	require.NoError(t, err)
	start[job](t, c)
	var mu sync.Mutex
	var sizes [][]int
	b, err := q.NewBatchConsumer("batch", func(_ context.Context, ms []Msg[job]) error {
		var ns []int
		for _, m := range ms {
			ns = append(ns, m.Value.N)
		}
		mu.Lock()
		sizes = append(sizes, ns)
		mu.Unlock()
		return nil
	}, fast(ConsumerConfig{}))
	require.NoError(t, err)
	start[job](t, b)
	for _, n := range []int{1, 2} {
		_, err := q.Add(ctx, job{N: n}, Aggregate("k"))
		require.NoError(t, err)
	}
	eventually(t, 10*time.Second, "both consumers", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return rec.total() == 2 && len(sizes) == 1
	})
	rec.mu.Lock()
	assert.Equal(t, 1, rec.msgs[0].Value.N)
	assert.Equal(t, 2, rec.msgs[1].Value.N)
	rec.mu.Unlock()
	mu.Lock()
	assert.Equal(t, [][]int{{1, 2}}, sizes)
	mu.Unlock()

	plain := newNamedQueue[job](t, tg, "plain", Config{})
	_, err = plain.Add(ctx, job{}, Aggregate("k"))
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = q.Add(ctx, job{}, Aggregate(""))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorIs(t, q.ProcessIn(ctx, job{}, time.Second, Aggregate("k")), ErrInvalid)
	_, err = New[job](tg.client, "x", Config{Aggregation: AggregateConfig{MaxDelay: time.Millisecond, GracePeriod: time.Second}})
	assert.ErrorIs(t, err, ErrInvalid)
}

// A group that never goes quiet is flushed MaxDelay after its first
// message: a steady trickle (one message per 50 ms, grace 1 s) is handed
// on in several aggregates while it still flows.
func TestAggregateMaxDelay(t *testing.T) {
	t.Parallel()
	tg := single(t)
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{Aggregation: AggregateConfig{MaxSize: 10000, GracePeriod: time.Second, MaxDelay: time.Second}})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	var mu sync.Mutex
	var sizes []int
	c, err := q.NewAggregateConsumer("g", func(_ context.Context, _ string, ms []Msg[job]) error {
		mu.Lock()
		sizes = append(sizes, len(ms))
		mu.Unlock()
		return nil
	}, fast(ConsumerConfig{}))
	require.NoError(t, err)
	start[job](t, c)
	got := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), sizes...)
	}
	n := 0
	// Progress, not time: keep the trickle going until an aggregate came
	// while it flows (MaxDelay), then once more.
	for len(got()) < 2 {
		_, err := q.Add(ctx, job{N: n}, Aggregate("trickle"))
		require.NoError(t, err)
		n++
		time.Sleep(50 * time.Millisecond)
		require.Less(t, n, 2000, "no aggregate after %d messages", n)
	}
	eventually(t, 60*time.Second, "the rest flushed after the grace period", func() bool {
		total := 0
		for _, s := range got() {
			total += s
		}
		return total == n
	})
	assert.GreaterOrEqual(t, len(got()), 2)
}
