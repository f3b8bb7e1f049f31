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

// Headers travel with the message through every path: a retry, the
// dead-letter stream and a requeue, delayed delivery, AddUnique, AddBatch,
// Peek and a Subscriber.
func caseHeaders(t *testing.T, tg target) {
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	var mu sync.Mutex
	seen := map[int][]map[string]string{}
	sub, err := q.NewSubscriber(func(_ context.Context, m Msg[job]) error {
		mu.Lock()
		seen[-m.Value.N] = append(seen[-m.Value.N], m.Headers)
		mu.Unlock()
		return nil
	}, SubscriberConfig{Block: 50 * time.Millisecond})
	require.NoError(t, err)
	start[job](t, sub)
	eventually(t, 30*time.Second, "subscriber reading", func() bool {
		_, err := q.Add(ctx, job{N: -100}, Header("probe", "1"))
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return len(seen[100]) > 0
	})
	// Every OnAck's headers, in a list: keyed by ID, an ack of a main-stream
	// entry overwrote one of a retry-stream entry with the same ID (the two
	// streams number their entries independently), and the check below
	// then waited in vain on a loaded machine.
	var ackMu sync.Mutex
	var ackHeaders []map[string]string
	c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error {
		mu.Lock()
		seen[m.Value.N] = append(seen[m.Value.N], m.Headers)
		mu.Unlock()
		switch {
		case m.Value.N == 1 && m.Attempt == 1:
			return errors.New("retry me")
		case m.Value.N == 2:
			return ErrSkipRetry
		}
		return nil
	}, fast(ConsumerConfig{Hooks: Hooks{OnAck: func(i MsgInfo) {
		ackMu.Lock()
		ackHeaders = append(ackHeaders, i.Headers)
		ackMu.Unlock()
	}}}))
	require.NoError(t, err)
	start[job](t, c)
	h := map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tenant": "acme"}
	_, err = q.Add(ctx, job{N: 1}, Headers(h))
	require.NoError(t, err)
	_, err = q.Add(ctx, job{N: 2}, Headers(h))
	require.NoError(t, err)
	require.NoError(t, q.ProcessIn(ctx, job{N: 3}, 10*time.Millisecond, Header("delayed", "yes")))
	_, _, err = q.AddUnique(ctx, "u", time.Minute, job{N: 4}, Header("unique", "yes"))
	require.NoError(t, err)
	_, err = q.AddBatch(ctx, []job{{N: 5}, {N: 6}}, Header("batch", "yes"))
	require.NoError(t, err)
	_, err = q.Add(ctx, job{N: 7}) // none
	require.NoError(t, err)
	get := func(n int) []map[string]string {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]string(nil), seen[n]...)
	}
	eventually(t, 30*time.Second, "all handled", func() bool {
		return len(get(1)) == 2 && len(get(2)) == 1 && len(get(3)) == 1 && len(get(4)) == 1 && len(get(5)) == 1 && len(get(6)) == 1 && len(get(7)) == 1
	})
	assert.Equal(t, []map[string]string{h, h}, get(1), "kept through the retry")
	assert.Equal(t, map[string]string{"delayed": "yes"}, get(3)[0])
	assert.Equal(t, map[string]string{"unique": "yes"}, get(4)[0])
	assert.Equal(t, map[string]string{"batch": "yes"}, get(6)[0])
	assert.Nil(t, get(7)[0])
	eventually(t, 30*time.Second, "the subscriber saw them", func() bool { return len(get(-1)) == 1 })
	assert.Equal(t, h, get(-1)[0])
	// OnAck runs when the batched ack is flushed, after the handler returned.
	eventually(t, 30*time.Second, "hooks see the headers", func() bool {
		ackMu.Lock()
		defer ackMu.Unlock()
		for _, v := range ackHeaders {
			if assert.ObjectsAreEqual(h, v) {
				return true
			}
		}
		return false
	})

	dls, err := q.DeadLetters(ctx, "g", "", 10)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	assert.Equal(t, h, dls[0].Headers)
	n, err := q.RequeueDeadLetters(ctx, "g", dls[0].ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	eventually(t, 30*time.Second, "requeued", func() bool { return len(get(2)) == 2 })
	assert.Equal(t, h, get(2)[1], "kept through dead letters and the requeue")
	es, err := q.Peek(ctx, "", 100)
	require.NoError(t, err)
	peeked := false
	for _, e := range es {
		peeked = peeked || (e.Value.N == 1 && assert.ObjectsAreEqual(h, e.Headers))
	}
	assert.True(t, peeked, "Peek shows headers")
}

// A message whose Deadline passed is dead-lettered with the reason
// "deadline" and never handled; one with time left gets it as its
// context's deadline. Timeout bounds each handler call.
func TestDeadlineAndTimeout(t *testing.T) {
	t.Parallel()
	tg := single(t)
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	_, err := q.Add(ctx, job{N: 1}, Deadline(time.Now().Add(-time.Second)))
	require.NoError(t, err)
	require.NoError(t, q.ProcessIn(ctx, job{N: 2}, 300*time.Millisecond, Deadline(time.Now().Add(100*time.Millisecond))))
	far := time.Now().Add(time.Hour)
	_, err = q.Add(ctx, job{N: 3}, Deadline(far))
	require.NoError(t, err)
	_, err = q.Add(ctx, job{N: 4}, Timeout(50*time.Millisecond))
	require.NoError(t, err)
	rec := newRecorder()
	var mu sync.Mutex
	deadlines := map[int]time.Time{}
	c, err := q.NewConsumer("g", func(ctx context.Context, m Msg[job]) error {
		rec.add(m)
		d, _ := ctx.Deadline()
		mu.Lock()
		deadlines[m.Value.N] = d
		mu.Unlock()
		if m.Value.N == 4 && m.Attempt == 1 {
			<-ctx.Done() // the 50 ms timeout ends it
			return ctx.Err()
		}
		return nil
	}, fast(ConsumerConfig{}))
	require.NoError(t, err)
	start[job](t, c)
	eventually(t, 30*time.Second, "two dead letters", func() bool {
		dls, err := q.DeadLetters(ctx, "g", "", 10)
		return err == nil && len(dls) == 2
	})
	dls, err := q.DeadLetters(ctx, "g", "", 10)
	require.NoError(t, err)
	for _, dl := range dls {
		assert.Contains(t, dl.Err, "deadline", "message %d", dl.Value.N)
		assert.Contains(t, []int{1, 2}, dl.Value.N)
	}
	eventually(t, 30*time.Second, "3 handled, 4 retried after its timeout", func() bool {
		return len(rec.attempts(3)) == 1 && len(rec.attempts(4)) == 2
	})
	assert.Empty(t, rec.attempts(1), "never handled late")
	assert.Empty(t, rec.attempts(2), "never handled late")
	mu.Lock()
	defer mu.Unlock()
	assert.WithinDuration(t, far, deadlines[3], time.Millisecond, "the handler's ctx ends at the deadline")
}
