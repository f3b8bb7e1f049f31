package compare

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/testenv"
	"github.com/goplumb/plumb/streamq"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Benchmarks compare streamq with its anchors in the same run: raw go-redis
// on the same stream layout (the floor: what any Streams library costs at
// least) and asynq v0.26. watermill-redisstream is not a permitted
// dependency and is left out.
//
// Every scenario marshals (producers) or unmarshals (consumers) the same
// ~100-byte JSON payload per message.

type benchPayload struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Note  string `json:"note"`
}

func newBenchPayload(i int) benchPayload {
	return benchPayload{ID: i, Name: "Ada Lovelace", Email: "ada@example.com", Note: "analytical engine, note G"}
}

func benchJSON(i int) string {
	b, _ := json.Marshal(newBenchPayload(i))
	return string(b)
}

// commandCalls sums the calls of every command in INFO commandstats (Lua
// scripts' inner commands included), except INFO itself.
func commandCalls(tb testing.TB, c redis.UniversalClient) int64 {
	tb.Helper()
	s, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		tb.Fatalf("info commandstats: %v", err)
	}
	var total int64
	for line := range strings.SplitSeq(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		if err == nil {
			total += n
		}
	}
	return total
}

// consumeHarness runs one consume benchmark: a backlog is kept in the
// stream (refilled, outside the timer and with the handlers held at a gate,
// when it runs low), each b.Loop iteration waits for one handled message.
type consumeHarness struct {
	gate    sync.RWMutex
	ch      chan struct{}
	handled atomic.Int64
}

func newConsumeHarness() *consumeHarness {
	return &consumeHarness{ch: make(chan struct{}, 1<<16)}
}

// done is called by every variant's handler, after decoding the payload.
func (h *consumeHarness) done() {
	h.gate.RLock()
	//lint:ignore SA2001 an empty critical section on purpose: a gate, held shut while refilling
	h.gate.RUnlock()
	h.handled.Add(1)
	h.ch <- struct{}{}
}

// run prefills, starts the consumer, measures, and reports msg/s and Redis
// commands per consumed message.
func (h *consumeHarness) run(b *testing.B, rdb redis.UniversalClient, chunk int, add func(n int), startConsumer func() (stop func())) {
	add(chunk)
	added := int64(chunk)
	stop := startConsumer()
	var calls int64
	segment := commandCalls(b, rdb)
	consumed := int64(0)
	t0 := time.Now()
	paused := time.Duration(0)
	for b.Loop() {
		if added-consumed < int64(chunk)/4 {
			b.StopTimer()
			p0 := time.Now()
			h.gate.Lock()
			calls += commandCalls(b, rdb) - segment
			add(chunk)
			added += int64(chunk)
			segment = commandCalls(b, rdb)
			h.gate.Unlock()
			paused += time.Since(p0)
			b.StartTimer()
		}
		<-h.ch
		consumed++
	}
	elapsed := time.Since(t0) - paused
	calls += commandCalls(b, rdb) - segment
	stop()
	b.ReportMetric(float64(consumed)/elapsed.Seconds(), "msg/s")
	b.ReportMetric(float64(calls)/float64(max(h.handled.Load(), 1)), "cmds/msg")
}

// xaddBacklog appends n payloads with pipelined XADD (the refill of the
// raw and plumb variants; same entry format as Queue.Add).
func xaddBacklog(b *testing.B, rdb redis.UniversalClient, stream string, n int) {
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		pipe := rdb.Pipeline()
		for j := i; j < min(i+1000, n); j++ {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"d", benchJSON(j)}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatalf("refill: %v", err)
		}
	}
}

// BenchmarkConsume: one op is one message consumed and acknowledged by a
// no-op handler (after JSON decoding), with a backlog in the stream.
// Goal: plumb >= 1.0x raw-go-redis, >= 10x asynq; <= 0.03 cmds/msg.
func BenchmarkConsume(b *testing.B) {
	b.Run("plumb", func(b *testing.B) {
		env := testenv.Redis(b)
		q, err := streamq.New[benchPayload](env.Client, "bench", streamq.Config{KeyPrefix: env.Prefix})
		if err != nil {
			b.Fatal(err)
		}
		if err := q.CreateGroup(context.Background(), "g", false); err != nil {
			b.Fatal(err)
		}
		h := newConsumeHarness()
		c, err := q.NewConsumer("g", func(_ context.Context, m streamq.Msg[benchPayload]) error {
			h.done()
			return nil
		}, streamq.ConsumerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		h.run(b, env.Client, 20000, func(n int) { xaddBacklog(b, env.Client, q.StreamKey(), n) }, func() func() {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			return func() {
				cancel()
				if err := <-done; err != nil {
					b.Errorf("Run: %v", err)
				}
			}
		})
	})
	b.Run("raw-go-redis", func(b *testing.B) {
		env := testenv.Redis(b)
		ctx := context.Background()
		stream := env.Prefix + "bench"
		if err := env.Client.XGroupCreateMkStream(ctx, stream, "g", "0").Err(); err != nil {
			b.Fatal(err)
		}
		h := newConsumeHarness()
		h.run(b, env.Client, 20000, func(n int) { xaddBacklog(b, env.Client, stream, n) }, func() func() {
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { // ends when rctx is cancelled
				defer close(done)
				rawConsumer(rctx, env.Client, stream, h)
			}()
			return func() { cancel(); <-done }
		})
	})
	b.Run("asynq", func(b *testing.B) {
		env := testenv.Redis(b)
		opt := asynq.RedisClientOpt{Addr: env.Addr, DB: env.DB}
		client := asynq.NewClient(opt)
		defer client.Close()
		h := newConsumeHarness()
		srv := asynq.NewServer(opt, asynq.Config{Concurrency: 10, LogLevel: asynq.FatalLevel})
		mux := asynq.NewServeMux()
		mux.HandleFunc("bench", func(_ context.Context, t *asynq.Task) error {
			var v benchPayload
			if err := json.Unmarshal(t.Payload(), &v); err != nil {
				return err
			}
			h.done()
			return nil
		})
		h.run(b, env.Client, 4000, func(n int) {
			for i := range n {
				if _, err := client.Enqueue(asynq.NewTask("bench", []byte(benchJSON(i)))); err != nil {
					b.Fatalf("enqueue: %v", err)
				}
			}
		}, func() func() {
			if err := srv.Start(mux); err != nil {
				b.Fatal(err)
			}
			return srv.Shutdown
		})
	})
}

// rawConsumer is the hand-written floor: XREADGROUP COUNT 100, decode and
// handle each message, acks pipelined with the next read.
func rawConsumer(ctx context.Context, rdb redis.UniversalClient, stream string, h *consumeHarness) {
	var acks []string
	for ctx.Err() == nil {
		pipe := rdb.Pipeline()
		if len(acks) > 0 {
			pipe.XAck(ctx, stream, "g", acks...)
		}
		block := 100 * time.Millisecond
		if len(acks) > 0 {
			block = -1 // busy: never block a pipelined read
		}
		read := pipe.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "raw", Streams: []string{stream, ">"}, Count: 100, Block: block})
		_, _ = pipe.Exec(ctx)
		acks = acks[:0]
		res, err := read.Result()
		if err != nil {
			continue
		}
		for _, st := range res {
			for _, m := range st.Messages {
				var v benchPayload
				s, _ := m.Values["d"].(string)
				if json.Unmarshal([]byte(s), &v) == nil {
					h.done()
				}
				acks = append(acks, m.ID)
			}
		}
	}
}

// BenchmarkAdd: one op is one message appended in its own round trip.
func BenchmarkAdd(b *testing.B) {
	b.Run("plumb", func(b *testing.B) {
		env := testenv.Redis(b)
		q, err := streamq.New[benchPayload](env.Client, "bench", streamq.Config{KeyPrefix: env.Prefix})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		i := 0
		for b.Loop() {
			if _, err := q.Add(ctx, newBenchPayload(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("raw-go-redis", func(b *testing.B) {
		env := testenv.Redis(b)
		ctx := context.Background()
		stream := env.Prefix + "bench"
		i := 0
		for b.Loop() {
			p, err := json.Marshal(newBenchPayload(i))
			if err != nil {
				b.Fatal(err)
			}
			if err := env.Client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"d", string(p)}}).Err(); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("asynq", func(b *testing.B) {
		env := testenv.Redis(b)
		client := asynq.NewClient(asynq.RedisClientOpt{Addr: env.Addr, DB: env.DB})
		defer client.Close()
		i := 0
		for b.Loop() {
			p, err := json.Marshal(newBenchPayload(i))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := client.Enqueue(asynq.NewTask("bench", p)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkIdleLatency: one op is one message added to an idle queue and
// picked up by a waiting consumer; p50-us is the send-to-handler latency
// (reported, not asserted). asynq polls an empty queue about once a second
// (TaskCheckInterval), so its op is ~1000x slower; it runs few iterations.
func BenchmarkIdleLatency(b *testing.B) {
	measure := func(b *testing.B, send func(i int) error, got <-chan time.Time) {
		var lat []time.Duration
		i := 0
		for b.Loop() {
			t0 := time.Now()
			if err := send(i); err != nil {
				b.Fatal(err)
			}
			select {
			case t := <-got:
				lat = append(lat, t.Sub(t0))
			case <-time.After(30 * time.Second):
				b.Fatal("message not handled within 30s")
			}
			i++
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
	}
	b.Run("plumb", func(b *testing.B) {
		env := testenv.Redis(b)
		q, err := streamq.New[benchPayload](env.Client, "bench", streamq.Config{KeyPrefix: env.Prefix})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := q.CreateGroup(ctx, "g", false); err != nil {
			b.Fatal(err)
		}
		got := make(chan time.Time, 1)
		c, err := q.NewConsumer("g", func(context.Context, streamq.Msg[benchPayload]) error { got <- time.Now(); return nil }, streamq.ConsumerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		measure(b, func(i int) error { _, err := q.Add(ctx, newBenchPayload(i)); return err }, got)
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	b.Run("raw-go-redis", func(b *testing.B) {
		env := testenv.Redis(b)
		ctx, cancel := context.WithCancel(context.Background())
		stream := env.Prefix + "bench"
		if err := env.Client.XGroupCreateMkStream(ctx, stream, "g", "0").Err(); err != nil {
			b.Fatal(err)
		}
		got := make(chan time.Time, 1)
		done := make(chan struct{})
		go func() { // ends when ctx is cancelled
			defer close(done)
			for ctx.Err() == nil {
				res, err := env.Client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "raw", Streams: []string{stream, ">"}, Count: 100, Block: time.Second}).Result()
				if err != nil {
					continue
				}
				for _, m := range res[0].Messages {
					var v benchPayload
					s, _ := m.Values["d"].(string)
					_ = json.Unmarshal([]byte(s), &v)
					got <- time.Now()
					env.Client.XAck(ctx, stream, "g", m.ID)
				}
			}
		}()
		measure(b, func(i int) error {
			p, _ := json.Marshal(newBenchPayload(i))
			return env.Client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"d", string(p)}}).Err()
		}, got)
		cancel()
		<-done
	})
	b.Run("asynq", func(b *testing.B) {
		env := testenv.Redis(b)
		opt := asynq.RedisClientOpt{Addr: env.Addr, DB: env.DB}
		client := asynq.NewClient(opt)
		defer client.Close()
		got := make(chan time.Time, 1)
		srv := asynq.NewServer(opt, asynq.Config{Concurrency: 10, LogLevel: asynq.FatalLevel})
		mux := asynq.NewServeMux()
		mux.HandleFunc("bench", func(context.Context, *asynq.Task) error { got <- time.Now(); return nil })
		if err := srv.Start(mux); err != nil {
			b.Fatal(err)
		}
		defer srv.Shutdown()
		measure(b, func(i int) error {
			p, _ := json.Marshal(newBenchPayload(i))
			_, err := client.Enqueue(asynq.NewTask("bench", p))
			return err
		}, got)
	})
}
