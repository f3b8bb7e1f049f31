package streamq

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// levelRecorder records the priority level of each handled message, in
// order (job.N is the level).
type levelRecorder struct {
	mu    sync.Mutex
	order []int
}

func (r *levelRecorder) add(m Msg[job]) {
	r.mu.Lock()
	r.order = append(r.order, m.Value.N)
	r.mu.Unlock()
}

func (r *levelRecorder) get() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.order...)
}

// backlog adds n messages to each of levels levels (N = level).
func backlog(t *testing.T, q *Queue[job], levels, n int) {
	ctx := ctxT(t)
	for l := range levels {
		vs := make([]job, n)
		for i := range vs {
			vs[i] = job{N: l}
		}
		_, err := q.AddBatch(ctx, vs, Priority(l))
		require.NoError(t, err)
	}
}

// Strict priority: with a backlog on three levels, every message of a
// higher level is handled before any of a lower one.
func casePriorityStrict(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{Priorities: 3})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	backlog(t, q, 3, 20)
	rec := &levelRecorder{}
	c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil },
		fast(ConsumerConfig{StrictPriority: true, Concurrency: 1, BatchSize: 5, Prefetch: 5}))
	require.NoError(t, err)
	start[job](t, c)
	eventually(t, 20*time.Second, "all 60 handled", func() bool { return len(rec.get()) == 60 })
	order := rec.get()
	for i := 1; i < len(order); i++ {
		require.LessOrEqual(t, order[i], order[i-1], "level %d handled after level %d: %v", order[i], order[i-1], order)
	}
	// All keys of all levels are on the queue's slot (one hash tag).
	for l := range 3 {
		assert.Contains(t, q.Level(l).StreamKey(), "{q}")
	}
	_, err = q.Add(ctx, job{}, Priority(3))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Nil(t, q.Level(3))
}

// Weighted priority (the default): with backlogs on three levels and
// weights 1, 2, 3, no level starves and the shares follow the weights.
func TestPriorityWeighted(t *testing.T) {
	t.Parallel()
	tg := single(t)
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{Priorities: 3})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	backlog(t, q, 3, 300)
	rec := &levelRecorder{}
	c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil },
		fast(ConsumerConfig{Concurrency: 1, BatchSize: 5, Prefetch: 5}))
	require.NoError(t, err)
	start[job](t, c)
	eventually(t, 30*time.Second, "all 900 handled", func() bool { return len(rec.get()) == 900 })
	// While every level still had a backlog (the first 300 handled: level
	// 2 alone has 300), each got reads by weight: 1/6, 2/6, 3/6 of 60 reads.
	first := rec.get()[:300]
	counts := make([]int, 3)
	for _, l := range first {
		counts[l]++
	}
	t.Logf("levels of the first 300 handled: %v", counts)
	// Bounds, not exact shares: each level's consumer reads only when it has
	// room, which depends on scheduling.
	assert.Positive(t, counts[0], "level 0 does not starve")
	assert.Greater(t, counts[2], counts[0], "weight 3 over weight 1")
	_, err = q.NewConsumer("g", func(context.Context, Msg[job]) error { return nil }, ConsumerConfig{Weights: []int{1}})
	assert.ErrorIs(t, err, ErrInvalid, "one weight per level")
	q1 := newNamedQueue[job](t, tg, "single", Config{})
	_, err = q1.NewConsumer("g", func(context.Context, Msg[job]) error { return nil }, ConsumerConfig{Weights: []int{1, 2}})
	assert.ErrorIs(t, err, ErrInvalid, "weights without levels")
}
