package streamq

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
	"github.com/redis/go-redis/v9"
)

// Benchmarks compare streamq with raw go-redis on the same stream layout in
// the same run (the floor: what any Streams library costs at least). The
// comparison with asynq lives in the module internal/compare, so asynq and
// its dependencies never enter streamq's module graph.
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
// raw and plumb variants; same entry format as Queue.Add, with the
// encoded metadata meta when not empty).
func xaddBacklog(b *testing.B, rdb redis.UniversalClient, stream string, n int, meta string) {
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		pipe := rdb.Pipeline()
		for j := i; j < min(i+1000, n); j++ {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: fields(benchJSON(j), meta)})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatalf("refill: %v", err)
		}
	}
}

// consumeVariant is one contestant of BenchmarkConsume.
type consumeVariant struct {
	name  string
	fill  func(n int) // append n messages to its stream
	start func(h *consumeHarness) (stop func())
	dur   time.Duration // consuming, first to last message of each segment
	msgs  int64         // messages timed
	calls int64         // Redis commands during the segments
}

// BenchmarkConsume: one op is one round in which each variant in turn
// (rotating who goes first) consumes a backlog of 20,000 messages with a
// no-op handler after JSON decoding: raw go-redis (the anchor), plumb, and
// plumb with two headers per message. Interleaving the variants round by
// round keeps a loaded machine's noise out of the ratios. Timing runs from
// each segment's first handled message to its last, so consumer start-up
// is not counted; commands per message count everything. Consumers run
// with every background task on (heartbeats, reconciliation, pause checks,
// reclaim, trim). Reported: x-raw (plumb msg/s over raw's), x-plain
// (plumb with headers over plumb), cmds/msg of plumb.
// Goal: x-raw >= 1.0, cmds/msg <= 0.03, x-plain >= 0.9.
func BenchmarkConsume(b *testing.B) {
	const chunk = 20000
	env := testenv.Redis(b)
	ctx := context.Background()
	rawStream := env.Prefix + "raw"
	if err := env.Client.XGroupCreateMkStream(ctx, rawStream, "g", "0").Err(); err != nil {
		b.Fatal(err)
	}
	plumbVariant := func(name, meta string) *consumeVariant {
		q, err := New[benchPayload](env.Client, name, Config{KeyPrefix: env.Prefix, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		if err := q.CreateGroup(ctx, "g", false); err != nil {
			b.Fatal(err)
		}
		return &consumeVariant{
			name: name,
			fill: func(n int) { xaddBacklog(b, env.Client, q.StreamKey(), n, meta) },
			start: func(h *consumeHarness) func() {
				c, err := q.NewConsumer("g", func(_ context.Context, m Msg[benchPayload]) error {
					h.done()
					return nil
				}, ConsumerConfig{})
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
		}
	}
	meta, err := metaOf([]Option{Header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), Header("tenant", "acme")})
	if err != nil {
		b.Fatal(err)
	}
	vs := []*consumeVariant{
		{
			name: "raw",
			fill: func(n int) { xaddBacklog(b, env.Client, rawStream, n, "") },
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
		plumbVariant("plumb", ""),
		plumbVariant("headers", meta),
	}
	round := 0
	for b.Loop() {
		for k := range vs {
			v := vs[(round+k)%len(vs)]
			v.fill(chunk)
			h := newConsumeHarness()
			c0 := commandCalls(b, env.Client)
			stop := v.start(h)
			<-h.ch
			t0 := time.Now()
			for range chunk - 1 {
				<-h.ch
			}
			v.dur += time.Since(t0)
			v.msgs += chunk - 1
			stop()
			v.calls += commandCalls(b, env.Client) - c0
		}
		round++
	}
	rate := func(v *consumeVariant) float64 { return float64(v.msgs) / v.dur.Seconds() }
	b.ReportMetric(rate(vs[0]), "raw-msg/s")
	b.ReportMetric(rate(vs[1]), "plumb-msg/s")
	b.ReportMetric(rate(vs[1])/rate(vs[0]), "x-raw")
	b.ReportMetric(rate(vs[2])/rate(vs[1]), "x-plain")
	b.ReportMetric(float64(vs[1].calls)/float64(int64(round)*chunk), "cmds/msg")
	b.ReportMetric(float64(vs[0].calls)/float64(int64(round)*chunk), "raw-cmds/msg")
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
		q, err := New[benchPayload](env.Client, "bench", Config{KeyPrefix: env.Prefix})
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
}

// BenchmarkAddBatch: one op is a batch of 100 messages in one pipelined
// round trip. Goal: plumb >= 0.6x raw-go-redis.
func BenchmarkAddBatch(b *testing.B) {
	const size = 100
	vs := make([]benchPayload, size)
	for i := range vs {
		vs[i] = newBenchPayload(i)
	}
	b.Run("plumb", func(b *testing.B) {
		env := testenv.Redis(b)
		q, err := New[benchPayload](env.Client, "bench", Config{KeyPrefix: env.Prefix})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		for b.Loop() {
			if _, err := q.AddBatch(ctx, vs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msg/s")
	})
	b.Run("raw-go-redis", func(b *testing.B) {
		env := testenv.Redis(b)
		ctx := context.Background()
		stream := env.Prefix + "bench"
		for b.Loop() {
			pipe := env.Client.Pipeline()
			for _, v := range vs {
				p, err := json.Marshal(v)
				if err != nil {
					b.Fatal(err)
				}
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"d", string(p)}})
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msg/s")
	})
}

// BenchmarkIdleLatency: one op is one message added to an idle queue and
// picked up by a waiting consumer; p50-us is the send-to-handler latency
// (reported, not asserted).
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
		q, err := New[benchPayload](env.Client, "bench", Config{KeyPrefix: env.Prefix})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := q.CreateGroup(ctx, "g", false); err != nil {
			b.Fatal(err)
		}
		got := make(chan time.Time, 1)
		c, err := q.NewConsumer("g", func(context.Context, Msg[benchPayload]) error { got <- time.Now(); return nil }, ConsumerConfig{})
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
}
