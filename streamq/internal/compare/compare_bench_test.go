package compare

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
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

// consumeHarness counts one consumer's handled messages (ch gets one value
// per message).
type consumeHarness struct {
	ch      chan struct{}
	handled atomic.Int64
}

func newConsumeHarness() *consumeHarness {
	return &consumeHarness{ch: make(chan struct{}, 1<<16)}
}

// done is called by every variant's handler, after decoding the payload.
func (h *consumeHarness) done() {
	h.handled.Add(1)
	h.ch <- struct{}{}
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

// consumeVariant is one contestant of BenchmarkConsume.
type consumeVariant struct {
	chunk int
	fill  func(n int)
	start func(h *consumeHarness) (stop func())
	dur   time.Duration
	msgs  int64
	calls int64
}

// BenchmarkConsume: one op is one round in which each variant in turn
// (rotating who goes first) consumes a backlog with a no-op handler after
// JSON decoding: raw go-redis (XREADGROUP COUNT 100 plus pipelined XACK),
// plumb (20,000 messages each) and asynq (concurrency 10; 4,000, it is
// slower). Timing runs from each segment's first handled message to its
// last. Reported: msg/s of each, x-raw (plumb over raw), x-asynq (plumb
// over asynq) and commands per message.
// Goal: x-raw >= 1.0, x-asynq >= 10, plumb <= 0.03 cmds/msg.
func BenchmarkConsume(b *testing.B) {
	env := testenv.Redis(b)
	ctx := context.Background()
	rawStream := env.Prefix + "raw"
	if err := env.Client.XGroupCreateMkStream(ctx, rawStream, "g", "0").Err(); err != nil {
		b.Fatal(err)
	}
	q, err := streamq.New[benchPayload](env.Client, "bench", streamq.Config{KeyPrefix: env.Prefix, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := q.CreateGroup(ctx, "g", false); err != nil {
		b.Fatal(err)
	}
	opt := asynq.RedisClientOpt{Addr: env.Addr, DB: env.DB}
	client := asynq.NewClient(opt)
	defer client.Close()
	vs := []*consumeVariant{
		{ // raw
			chunk: 20000,
			fill:  func(n int) { xaddBacklog(b, env.Client, rawStream, n) },
			start: func(h *consumeHarness) func() {
				rctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { // ends when rctx is cancelled
					defer close(done)
					rawConsumer(rctx, env.Client, rawStream, h)
				}()
				return func() { cancel(); <-done }
			},
		},
		{ // plumb
			chunk: 20000,
			fill:  func(n int) { xaddBacklog(b, env.Client, q.StreamKey(), n) },
			start: func(h *consumeHarness) func() {
				c, err := q.NewConsumer("g", func(_ context.Context, m streamq.Msg[benchPayload]) error {
					h.done()
					return nil
				}, streamq.ConsumerConfig{})
				if err != nil {
					b.Fatal(err)
				}
				rctx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- c.Run(rctx) }()
				return func() {
					cancel()
					if err := <-done; err != nil {
						b.Errorf("Run: %v", err)
					}
				}
			},
		},
		{ // asynq
			chunk: 4000,
			fill: func(n int) {
				for i := range n {
					if _, err := client.Enqueue(asynq.NewTask("bench", []byte(benchJSON(i)))); err != nil {
						b.Fatalf("enqueue: %v", err)
					}
				}
			},
			start: func(h *consumeHarness) func() {
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
				if err := srv.Start(mux); err != nil {
					b.Fatal(err)
				}
				return srv.Shutdown
			},
		},
	}
	round := 0
	for b.Loop() {
		for k := range vs {
			v := vs[(round+k)%len(vs)]
			v.fill(v.chunk)
			h := newConsumeHarness()
			c0 := commandCalls(b, env.Client)
			stop := v.start(h)
			<-h.ch
			t0 := time.Now()
			for range v.chunk - 1 {
				<-h.ch
			}
			v.dur += time.Since(t0)
			v.msgs += int64(v.chunk - 1)
			stop()
			v.calls += commandCalls(b, env.Client) - c0
		}
		round++
	}
	rate := func(v *consumeVariant) float64 { return float64(v.msgs) / v.dur.Seconds() }
	cmds := func(v *consumeVariant) float64 { return float64(v.calls) / float64(int64(round)*int64(v.chunk)) }
	b.ReportMetric(rate(vs[0]), "raw-msg/s")
	b.ReportMetric(rate(vs[1]), "plumb-msg/s")
	b.ReportMetric(rate(vs[2]), "asynq-msg/s")
	b.ReportMetric(rate(vs[1])/rate(vs[0]), "x-raw")
	b.ReportMetric(rate(vs[1])/rate(vs[2]), "x-asynq")
	b.ReportMetric(cmds(vs[1]), "plumb-cmds/msg")
	b.ReportMetric(cmds(vs[0]), "raw-cmds/msg")
	b.ReportMetric(cmds(vs[2]), "asynq-cmds/msg")
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
