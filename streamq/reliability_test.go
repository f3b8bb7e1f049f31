package streamq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A live consumer keeps a slow message while it extends it; without
// extending, another consumer reclaims it after the visibility timeout and
// the first one's late Extend reports the loss.
func TestVisibilityTimeoutAndExtend(t *testing.T) {
	t.Parallel()
	tg := single(t)
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	const visibility = time.Second
	cfg := ConsumerConfig{VisibilityTimeout: visibility, Concurrency: 1, BatchSize: 1, Prefetch: 1}
	aStarted := make(chan string, 2)
	aDone := make(chan error, 2)
	reclaimed := make(chan struct{})
	a, err := q.NewConsumer("g", func(ctx context.Context, m Msg[job]) error {
		aStarted <- m.Value.Note
		if m.Value.Note == "extend" {
			// Run 2.5 visibility timeouts, extending every 100ms.
			var first error
			for range 25 {
				time.Sleep(100 * time.Millisecond)
				if err := m.Extend(ctx); err != nil && first == nil {
					first = err
				}
			}
			aDone <- first
			return nil
		}
		// "slow": never extend; wait until another consumer took it over.
		select {
		case <-reclaimed:
		case <-time.After(30 * time.Second):
		}
		aDone <- m.Extend(ctx)
		return nil
	}, fast(ConsumerConfig{Name: "a", VisibilityTimeout: cfg.VisibilityTimeout, Concurrency: 1, BatchSize: 1, Prefetch: 1}))
	require.NoError(t, err)
	start[job](t, a)
	_, err = q.Add(ctx, job{N: 1, Note: "extend"})
	require.NoError(t, err)
	require.Equal(t, "extend", <-aStarted)

	// b runs (and reclaims idle messages) the whole time a extends.
	recB := newRecorder()
	b, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error { recB.add(m); return nil }, fast(cfg))
	require.NoError(t, err)
	stopB := start[job](t, b)
	assert.NoError(t, <-aDone, "Extend succeeds while a owns the message")
	assert.Empty(t, recB.attempts(1), "an extended message is not reclaimed")
	stopB()

	t0 := time.Now() // before the delivery to a: its idle time starts later
	_, err = q.Add(ctx, job{N: 2, Note: "slow"})
	require.NoError(t, err)
	require.Equal(t, "slow", <-aStarted)
	recC := newRecorder()
	var once sync.Once
	c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error {
		recC.add(m)
		once.Do(func() { close(reclaimed) })
		return nil
	}, fast(cfg))
	require.NoError(t, err)
	start[job](t, c)
	eventually(t, 20*time.Second, "c reclaims the slow message", func() bool { return len(recC.attempts(2)) == 1 })
	assert.GreaterOrEqual(t, time.Since(t0), visibility, "not reclaimed from a live consumer before the visibility timeout")
	assert.Equal(t, []int{2}, recC.attempts(2), "second delivery")
	assert.ErrorIs(t, <-aDone, ErrNotOwner, "a's late Extend reports that it lost the message")
}

// Messages read but not started when Run is cancelled are handed back with
// their delivery counter restored, and another consumer takes them at once.
func TestShutdownHandsBackPrefetched(t *testing.T) {
	t.Parallel()
	tg := single(t)
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	var handledByA atomic.Int64
	a, err := q.NewConsumer("g", func(context.Context, Msg[job]) error {
		started <- struct{}{}
		<-release
		handledByA.Add(1)
		return nil
	}, fast(ConsumerConfig{Name: "a", Concurrency: 1, BatchSize: 10}))
	require.NoError(t, err)
	// Added before a starts, so its first read takes all ten.
	_, err = q.AddBatch(ctx, make([]job, 10))
	require.NoError(t, err)
	stopA := start[job](t, a)
	<-started
	go func() {
		// Let the handler finish only once a stopped fetching, so no
		// second handler can start.
		for !a.stopping.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		close(release)
	}()
	stopA() // returns after the running handler finished
	assert.Equal(t, int64(1), handledByA.Load(), "only the started message ran")
	pend, err := tg.client.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: q.StreamKey(), Group: "g", Start: "-", End: "+", Count: 100}).Result()
	require.NoError(t, err)
	require.Len(t, pend, 9, "nine unstarted messages still pending")
	for _, p := range pend {
		assert.Equal(t, int64(0), p.RetryCount, "delivery counter restored")
		assert.GreaterOrEqual(t, p.Idle, 5*time.Second, "idle pushed past the visibility timeout")
	}
	rec := newRecorder()
	b, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil }, fast(ConsumerConfig{Name: "b"}))
	require.NoError(t, err)
	start[job](t, b)
	eventually(t, 10*time.Second, "b runs the nine", func() bool { return rec.total() == 9 })
	rec.mu.Lock()
	for _, m := range rec.msgs {
		assert.Equal(t, 1, m.Attempt, "a handed-back message was never attempted")
	}
	rec.mu.Unlock()
}

// A client whose ReadTimeout is shorter than the consumer's Block: blocking
// reads must not surface i/o timeouts.
func TestShortReadTimeoutNeverFails(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	client := redis.NewClient(&redis.Options{Addr: env.Addr, DB: env.DB, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { client.Close() }) // after the consumer stopped (cleanups run last-in first-out)
	ctx := ctxT(t)
	q := newQueue[job](t, target{client: client, prefix: env.Prefix}, Config{})
	// Only read errors count: on a loaded machine another command (a
	// heartbeat) may really exceed the read timeout, which is reported and retried.
	var errs atomic.Int64
	rec := newRecorder()
	c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil },
		fast(ConsumerConfig{Block: time.Second, Hooks: Hooks{OnError: func(err error) {
			t.Log(err)
			if strings.Contains(err.Error(), "xreadgroup") {
				errs.Add(1)
			}
		}}}))
	require.NoError(t, err)
	start[job](t, c)
	time.Sleep(2500 * time.Millisecond) // a few idle blocking reads, each 5x the read timeout
	_, err = q.Add(ctx, job{N: 1})
	require.NoError(t, err)
	eventually(t, 5*time.Second, "message handled", func() bool { return rec.total() == 1 })
	assert.Zero(t, errs.Load(), "no errors from blocking reads")
	// Run is single-use at a time.
	assert.ErrorIs(t, c.Run(ctx), ErrAlreadyRunning)
	// The consumer never closes the caller's client.
	assert.NoError(t, client.Ping(ctx).Err())
}

func TestHandlerTimeout(t *testing.T) {
	t.Parallel()
	tg := single(t)
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	rec := newRecorder()
	c, err := q.NewConsumer("g", func(ctx context.Context, m Msg[job]) error {
		rec.add(m)
		if m.Attempt == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}, fast(ConsumerConfig{HandlerTimeout: 50 * time.Millisecond}))
	require.NoError(t, err)
	start[job](t, c)
	_, err = q.Add(ctx, job{N: 1})
	require.NoError(t, err)
	eventually(t, 10*time.Second, "retried after timeout", func() bool { return len(rec.attempts(1)) == 2 })
}

// fails decides, deterministically, whether delivery attempt of message n
// fails (about 30% of attempts).
func fails(n, attempt int) bool {
	h := uint32(n)*2654435761 ^ uint32(attempt)*0x9E3779B9
	h ^= h >> 15
	h *= 0x85EBCA6B
	h ^= h >> 13
	return h%10 < 3
}

// 100k messages, 4 consumers, random failures: every message is processed
// or in the dead-letter stream, none lost. Without reclaims (no consumer
// was taken for dead) the dead letters are exactly the messages that failed
// every attempt. Under -race the run is smaller (see race_test.go): the
// race detector makes it several times slower, and 30k messages still cross
// every path (batches, retries, dead letters, 4 competing consumers) many
// times.
func TestAccounting100k(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	t.Parallel()
	total := 100_000
	if raceEnabled {
		total = 30_000
	}
	const maxDeliveries = 3
	tg := single(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	q := newQueue[job](t, tg, Config{})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	batch := make([]job, 1000)
	ids := make(map[string]int, total)
	for i := 0; i < total; i += len(batch) {
		for j := range batch {
			batch[j] = job{N: i + j}
		}
		got, err := q.AddBatch(ctx, batch)
		require.NoError(t, err)
		for j, id := range got {
			ids[id] = i + j
		}
	}
	processed := make([]atomic.Int32, total)
	dead := make([]atomic.Int32, total) // by OnDead, through OriginalID
	var reclaims atomic.Int64
	var stops []func()
	for range 4 {
		c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error {
			if fails(m.Value.N, m.Attempt) {
				return errors.New("random failure")
			}
			processed[m.Value.N].Add(1)
			return nil
		}, fast(ConsumerConfig{
			MaxDeliveries: maxDeliveries,
			Backoff:       func(int, error) time.Duration { return time.Millisecond },
			// Generous, so a loaded machine does not make a live consumer
			// look dead (that is legal, but changes attempt counts).
			DeadAfter: 3 * time.Second,
			Hooks: Hooks{
				OnDead:    func(info MsgInfo, _ error) { dead[ids[info.OriginalID]].Add(1) },
				OnReclaim: func(string, int) { reclaims.Add(1) },
			},
		}))
		require.NoError(t, err)
		stops = append(stops, start[job](t, c))
	}
	missing := func() int {
		n := 0
		for i := range total {
			if processed[i].Load() == 0 && dead[i].Load() == 0 {
				n++
			}
		}
		return n
	}
	// Wait for progress, not for a throughput: fail only when nothing moved
	// for a minute (a loaded machine may be slow, never stuck).
	last, lastMove := missing(), time.Now()
	for m := last; m > 0; m = missing() {
		if m < last {
			last, lastMove = m, time.Now()
		}
		if time.Since(lastMove) > time.Minute {
			st, err := q.Stats(ctx)
			t.Fatalf("%d of %d messages neither processed nor dead-lettered, none for a minute; stats %+v (%v)", m, total, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	eventually(t, 30*time.Second, "nothing left in flight", func() bool {
		st, err := q.Stats(ctx)
		if err != nil || len(st.Groups) != 1 {
			return false
		}
		g := st.Groups[0]
		return g.Pending+g.RetryPending+g.RetryScheduled+g.Lag == 0
	})
	for _, s := range stops {
		s()
	}
	gotDead := map[int]bool{}
	after := ""
	for {
		dls, err := q.DeadLetters(ctx, "g", after, 1000)
		require.NoError(t, err)
		if len(dls) == 0 {
			break
		}
		for _, dl := range dls {
			require.NoError(t, dl.DecodeErr)
			assert.False(t, gotDead[dl.Value.N], "message %d dead-lettered twice", dl.Value.N)
			gotDead[dl.Value.N] = true
			assert.Equal(t, dl.Value.N, ids[dl.OriginalID], "dead letter keeps the original ID")
			assert.GreaterOrEqual(t, dl.Attempts, maxDeliveries)
			assert.LessOrEqual(t, dl.Attempts, maxDeliveries+1, "at most one delivery past the cap (a reclaimed last attempt)")
			after = dl.ID
		}
	}
	for n := range total {
		if dead[n].Load() > 0 {
			assert.True(t, gotDead[n], "OnDead reported %d but it is not in the dead-letter stream", n)
		}
	}
	assert.Equal(t, len(gotDead), func() int {
		k := 0
		for n := range total {
			if dead[n].Load() > 0 {
				k++
			}
		}
		return k
	}(), "OnDead and the dead-letter stream agree")
	dup := 0
	for n := range total {
		if processed[n].Load() > 1 {
			dup++
		}
	}
	if reclaims.Load() == 0 {
		// Every delivery went through the retry path, so the outcome is
		// fully determined by fails().
		wantDead := map[int]bool{}
		for n := range total {
			if fails(n, 1) && fails(n, 2) && fails(n, 3) {
				wantDead[n] = true
			}
		}
		assert.Equal(t, wantDead, gotDead, "dead letters are exactly the messages that failed every attempt")
		for n := range wantDead {
			assert.Zero(t, processed[n].Load(), "dead message %d was also processed", n)
		}
		assert.Zero(t, dup, "no reclaim, so no message ran twice")
	}
	t.Logf("%d messages, %d dead-lettered, %d processed more than once, %d reclaims", total, len(gotDead), dup, reclaims.Load())
}

// Restart redis-server (AOF, appendfsync always) twice while producers and
// consumers run: once with SIGTERM and once with SIGKILL (a crash, no
// shutdown work; a read executed but not answered strands its entries).
// Every acknowledged Add is delivered at least once and the consumers
// resume by themselves. Each restart waits only for progress (a few hundred
// more acknowledged adds), never for a throughput.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	srv := testenv.NewRedisServer(t, "--appendonly", "yes", "--appendfsync", "always")
	client := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	q, err := New[job](client, "restart", Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	const maxN = 1 << 20
	got := make([]atomic.Int32, maxN)
	var errs, stranded atomic.Int64
	for range 2 {
		c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error {
			got[m.Value.N].Add(1)
			return nil
		}, fast(ConsumerConfig{VisibilityTimeout: 5 * time.Minute, Hooks: Hooks{
			OnError:    func(error) { errs.Add(1) },
			OnStranded: func(n int) { stranded.Add(int64(n)) },
		}}))
		require.NoError(t, err)
		start[job](t, c)
	}
	acked := make([]atomic.Bool, maxN)
	var ackedN atomic.Int64
	var next atomic.Int64
	pctx, stopProducers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pctx.Err() == nil {
				n := int(next.Add(1) - 1)
				if n >= maxN {
					return
				}
				// Retry until acknowledged: an Add that errored may or may
				// not have been stored; only acknowledged ones are promised.
				for pctx.Err() == nil {
					if _, err := q.Add(pctx, job{N: n}); err == nil {
						acked[n].Store(true)
						ackedN.Add(1)
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	progress := func(what string) {
		t.Helper()
		base := ackedN.Load()
		eventually(t, 2*time.Minute, what, func() bool { return ackedN.Load() >= base+300 })
	}
	progress("300 adds before the first restart")
	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Start())
	progress("300 adds after a SIGTERM restart")
	require.NoError(t, srv.Kill())
	require.NoError(t, srv.Start())
	progress("300 adds after a SIGKILL restart")
	stopProducers()
	wg.Wait()
	total := int(ackedN.Load())
	eventually(t, 2*time.Minute, "every acknowledged Add delivered (the visibility timeout is 5 minutes)", func() bool {
		for n := range min(int(next.Load()), maxN) {
			if acked[n].Load() && got[n].Load() == 0 {
				return false
			}
		}
		return true
	})
	// Errors are not asserted: go-redis may retry through a quick restart.
	t.Logf("%d acknowledged adds; consumers reported %d errors, redelivered %d stranded messages", total, errs.Load(), stranded.Load())
}

// A batch handler that always fails: the batch is retried together, and
// once out of deliveries every message is dead-lettered with its count.
func TestBatchHandlerDeadLetters(t *testing.T) {
	t.Parallel()
	tg := single(t)
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	vs := make([]job, 12)
	for i := range vs {
		vs[i] = job{N: i}
	}
	_, err := q.AddBatch(ctx, vs)
	require.NoError(t, err)
	var mu sync.Mutex
	var sizes []int
	var retries, dead atomic.Int64
	c, err := q.NewBatchConsumer("g", func(_ context.Context, ms []Msg[job]) error {
		mu.Lock()
		sizes = append(sizes, len(ms))
		mu.Unlock()
		return errors.New("warehouse down")
	}, fast(ConsumerConfig{Concurrency: 1, MaxDeliveries: 2, Hooks: Hooks{
		OnRetry: func(MsgInfo, error, time.Duration) { retries.Add(1) },
		OnDead:  func(MsgInfo, error) { dead.Add(1) },
	}}))
	require.NoError(t, err)
	start[job](t, c)
	var dls []DeadLetter[job]
	eventually(t, 20*time.Second, "all 12 dead-lettered", func() bool {
		dls, err = q.DeadLetters(ctx, "g", "", 100)
		return err == nil && len(dls) == 12
	})
	seen := map[int]bool{}
	for _, dl := range dls {
		assert.Equal(t, 2, dl.Attempts)
		assert.Equal(t, "warehouse down", dl.Err)
		seen[dl.Value.N] = true
	}
	assert.Len(t, seen, 12, "each message dead-lettered once")
	assert.Equal(t, int64(12), retries.Load(), "one retry each")
	assert.Equal(t, int64(12), dead.Load())
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range sizes {
		total += n
	}
	assert.Equal(t, 24, total, "two deliveries each: %v", sizes)
	assert.Equal(t, []int{12, 12}, sizes, "the retry comes back as one batch")
}

// Two running consumers may not share a name; a crashed consumer's name can
// be reused once its heartbeat is DeadAfter old.
func TestConsumerNameInUse(t *testing.T) {
	t.Parallel()
	tg := single(t)
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	h := func(context.Context, Msg[job]) error { return nil }
	a, err := q.NewConsumer("g", h, fast(ConsumerConfig{Name: "worker"}))
	require.NoError(t, err)
	start[job](t, a)
	eventually(t, 10*time.Second, "a heartbeats", func() bool {
		return tg.client.ZScore(ctx, q.keys("g").hb, "worker").Err() == nil
	})
	twin, err := q.NewConsumer("g", h, fast(ConsumerConfig{Name: "worker"}))
	require.NoError(t, err)
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = twin.Run(rctx)
	require.ErrorIs(t, err, ErrNameInUse)
	assert.Contains(t, err.Error(), `"worker"`)

	// A consumer that crashed a moment ago: its heartbeat is fresh but
	// never advances. A restart under its name waits for it to go stale.
	// (Another group, so that a does not take the message.)
	require.NoError(t, q.CreateGroup(ctx, "g2", false))
	require.NoError(t, tg.client.ZAdd(ctx, q.keys("g2").hb, redis.Z{Score: float64(time.Now().UnixMilli()), Member: "crashed"}).Err())
	rec := newRecorder()
	again, err := q.NewConsumer("g2", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil }, fast(ConsumerConfig{Name: "crashed"}))
	require.NoError(t, err)
	start[job](t, again)
	_, err = q.Add(ctx, job{N: 1})
	require.NoError(t, err)
	eventually(t, 20*time.Second, "the restarted consumer runs", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, m := range rec.msgs {
			if m.Consumer == "crashed" {
				return true
			}
		}
		return false
	})
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An abandoned group pins the stream: consumers' periodic trim says which
// group, and keeps its entries.
func TestStaleGroupWarning(t *testing.T) {
	t.Parallel()
	tg := single(t)
	ctx := ctxT(t)
	var logs syncBuffer
	q := newQueue[job](t, tg, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	old := fmt.Sprintf("%d-0", time.Now().Add(-2*time.Hour).UnixMilli())
	require.NoError(t, tg.client.XAdd(ctx, &redis.XAddArgs{Stream: q.StreamKey(), ID: old, Values: []string{"d", `{"n":1}`}}).Err())
	require.NoError(t, q.CreateGroup(ctx, "abandoned", false))
	rec := newRecorder()
	c, err := q.NewConsumer("live", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil },
		fast(ConsumerConfig{TrimInterval: 50 * time.Millisecond}))
	require.NoError(t, err)
	start[job](t, c)
	eventually(t, 10*time.Second, "warning about the abandoned group", func() bool {
		return strings.Contains(logs.String(), "group=abandoned") && strings.Contains(logs.String(), "entry="+old)
	})
	assert.Equal(t, 1, rec.total(), "the live group consumed the entry")
	n, err := tg.client.XLen(ctx, q.StreamKey()).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "kept for the abandoned group")
}

// A Subscriber skips what it cannot decode and survives a panicking
// handler, reporting both, and goes on with the next message.
func TestSubscriberBadInput(t *testing.T) {
	t.Parallel()
	tg := single(t)
	ctx := ctxT(t)
	q := newQueue[job](t, tg, Config{})
	var mu sync.Mutex
	var reported []error
	rec := newRecorder()
	s, err := q.NewSubscriber(func(_ context.Context, m Msg[job]) error {
		if m.Value.Note == "panic" {
			panic("subscriber bug")
		}
		rec.add(m)
		return nil
	}, SubscriberConfig{Block: 50 * time.Millisecond, OnError: func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}})
	require.NoError(t, err)
	start[job](t, s)
	// The subscriber starts at "$": wait until it reads, with probe messages.
	eventually(t, 10*time.Second, "subscriber reading", func() bool {
		_, err := q.Add(ctx, job{N: -1})
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond)
		return rec.total() > 0
	})
	require.NoError(t, tg.client.XAdd(ctx, &redis.XAddArgs{Stream: q.StreamKey(), Values: []string{"d", "{not json"}}).Err())
	_, err = q.Add(ctx, job{N: 1, Note: "panic"})
	require.NoError(t, err)
	_, err = q.Add(ctx, job{N: 2})
	require.NoError(t, err)
	eventually(t, 10*time.Second, "the message after the bad ones", func() bool { return len(rec.attempts(2)) == 1 })
	mu.Lock()
	defer mu.Unlock()
	var decode, panicked bool
	for _, err := range reported {
		decode = decode || errors.Is(err, ErrDecode)
		var pe *PanicError
		panicked = panicked || (errors.As(err, &pe) && len(pe.Stack) > 0)
	}
	assert.True(t, decode, "decode error reported: %v", reported)
	assert.True(t, panicked, "panic reported: %v", reported)
}
