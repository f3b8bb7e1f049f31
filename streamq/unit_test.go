package streamq

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client that is never dialled: New and the constructors do no I/O.
func offline() redis.UniversalClient {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
}

func TestNewValidation(t *testing.T) {
	c := offline()
	defer c.Close()
	cases := []struct {
		name   string
		client redis.UniversalClient
		queue  string
		cfg    Config
		want   error
		msg    string
	}{
		{"nil client", nil, "q", Config{}, ErrInvalid, ""},
		{"empty name", c, "", Config{}, ErrInvalid, "empty queue name"},
		{"brace", c, "a{b}", Config{}, ErrInvalid, `contains '{'`},
		{"space", c, "a b", Config{}, ErrInvalid, "contains ' '"},
		{"control", c, "a\x00", Config{}, ErrInvalid, "contains"},
		{"too long", c, strings.Repeat("x", 201), Config{}, ErrInvalid, "at most 200"},
		{"prefix brace", c, "q", Config{KeyPrefix: "{x}:"}, ErrInvalid, "KeyPrefix"},
		{"negative payload", c, "q", Config{MaxPayloadBytes: -1}, ErrInvalid, "MaxPayloadBytes"},
		{"huge payload", c, "q", Config{MaxPayloadBytes: 1 << 30}, ErrInvalid, "MaxPayloadBytes"},
		{"negative maxlen", c, "q", Config{MaxLen: -1}, ErrInvalid, "MaxLen"},
		{"negative dead maxlen", c, "q", Config{DeadLetterMaxLen: -5}, ErrInvalid, "DeadLetterMaxLen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := New[job](tc.client, tc.queue, tc.cfg)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, q)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	q, err := New[job](c, "orders", Config{})
	require.NoError(t, err)
	assert.Equal(t, "streamq:{orders}", q.StreamKey())
	assert.Equal(t, "orders", q.Name())
	assert.Equal(t, groupKeys{
		retry: "streamq:{orders}:g:billing:retry", rs: "streamq:{orders}:g:billing:rs",
		dead: "streamq:{orders}:g:billing:dead", hb: "streamq:{orders}:g:billing:hb",
		pause: "streamq:{orders}:g:billing:paused", ctr: "streamq:{orders}:g:billing:n",
	}, q.keys("billing"), "every key shares the {orders} hash tag")
}

func TestConsumerConfigValidation(t *testing.T) {
	c := offline()
	defer c.Close()
	q, err := New[job](c, "q", Config{})
	require.NoError(t, err)
	h := func(context.Context, Msg[job]) error { return nil }
	cases := []struct {
		name string
		cfg  ConsumerConfig
		msg  string
	}{
		{"negative concurrency", ConsumerConfig{Concurrency: -1}, "Concurrency"},
		{"huge batch", ConsumerConfig{BatchSize: 10001}, "BatchSize"},
		{"negative batch", ConsumerConfig{BatchSize: -3}, "BatchSize"},
		{"prefetch below batch", ConsumerConfig{BatchSize: 50, Prefetch: 10}, "Prefetch"},
		{"negative prefetch", ConsumerConfig{Prefetch: -1}, "Prefetch"},
		{"negative block", ConsumerConfig{Block: -time.Second}, "Block"},
		{"block too long", ConsumerConfig{Block: time.Minute}, "Block"},
		{"block too short", ConsumerConfig{Block: time.Microsecond}, "Block"},
		{"negative visibility", ConsumerConfig{VisibilityTimeout: -1}, "VisibilityTimeout"},
		{"tiny dead after", ConsumerConfig{DeadAfter: time.Millisecond}, "DeadAfter"},
		{"negative max deliveries", ConsumerConfig{MaxDeliveries: -1}, "MaxDeliveries"},
		{"negative shutdown", ConsumerConfig{ShutdownTimeout: -1}, "ShutdownTimeout"},
		{"negative handler timeout", ConsumerConfig{HandlerTimeout: -1}, "HandlerTimeout"},
		{"negative ack interval", ConsumerConfig{AckInterval: -1}, "AckInterval"},
		{"negative trim interval", ConsumerConfig{TrimInterval: -1}, "TrimInterval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := q.NewConsumer("g", h, tc.cfg)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), "ConsumerConfig."+tc.msg)
		})
	}
	_, err = q.NewConsumer("g", nil, ConsumerConfig{})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = q.NewBatchConsumer("g", nil, ConsumerConfig{})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = q.NewConsumer("", h, ConsumerConfig{})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = q.NewConsumer("g", h, ConsumerConfig{Name: "bad name"})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = q.NewSubscriber(nil, SubscriberConfig{})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = q.NewSubscriber(h, SubscriberConfig{BatchSize: -1})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = q.NewSubscriber(h, SubscriberConfig{Block: -1})
	assert.ErrorIs(t, err, ErrInvalid)

	c1, err := q.NewConsumer("g", h, ConsumerConfig{})
	require.NoError(t, err)
	c2, err := q.NewConsumer("g", h, ConsumerConfig{})
	require.NoError(t, err)
	assert.NotEqual(t, c1.Name(), c2.Name(), "default names are unique")
	assert.Equal(t, "g", c1.Group())
	s, err := resolveConsumer(ConsumerConfig{})
	require.NoError(t, err)
	assert.Equal(t, 10, s.concurrency)
	assert.Equal(t, 100, s.batch)
	assert.Equal(t, 200, s.prefetch)
	assert.Equal(t, time.Second, s.block)
	assert.Equal(t, 30*time.Second, s.visibility)
	assert.Equal(t, 5*time.Second, s.deadAfter)
	assert.Equal(t, time.Second, s.heartbeat)
	assert.Equal(t, 5, s.maxDeliveries)
}

// Bad input to producer and admin calls fails before any I/O (the client
// points at a closed port, so any I/O would fail differently).
func TestProducerValidation(t *testing.T) {
	c := offline()
	defer c.Close()
	ctx := context.Background()
	q, err := New[job](c, "q", Config{MaxPayloadBytes: 20})
	require.NoError(t, err)
	_, err = q.Add(ctx, job{Note: strings.Repeat("x", 30)})
	assert.ErrorIs(t, err, ErrPayloadTooLarge)
	assert.Contains(t, err.Error(), "limit 20")
	ids, err := q.AddBatch(ctx, []job{{N: 1}, {Note: strings.Repeat("x", 30)}})
	assert.ErrorIs(t, err, ErrPayloadTooLarge)
	assert.Contains(t, err.Error(), "value 1")
	assert.Nil(t, ids, "nothing written when one value is bad")
	assert.ErrorIs(t, q.ProcessIn(ctx, job{}, -time.Second), ErrInvalid)
	assert.ErrorIs(t, q.ProcessAt(ctx, job{}, time.Time{}), ErrInvalid)
	_, _, err = q.AddUnique(ctx, "", time.Minute, job{})
	assert.ErrorIs(t, err, ErrInvalid)
	_, _, err = q.AddUnique(ctx, "k", 0, job{})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = q.DeadLetters(ctx, "g", "", 0)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = q.DeadLetters(ctx, "g", "nope", 10)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = q.RequeueDeadLetters(ctx, "g", "x")
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = q.DeleteDeadLetters(ctx, "", "1-1")
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorIs(t, q.CreateGroup(ctx, "a}", false), ErrInvalid)

	qc, err := New[chan int](c, "q", Config{})
	require.NoError(t, err)
	_, err = qc.Add(ctx, make(chan int))
	assert.ErrorIs(t, err, ErrEncode)
}

func TestChainOrder(t *testing.T) {
	var trace []string
	mw := func(name string) Middleware[job] {
		return func(next Handler[job]) Handler[job] {
			return func(ctx context.Context, m Msg[job]) error {
				trace = append(trace, name+">")
				err := next(ctx, m)
				trace = append(trace, "<"+name)
				return err
			}
		}
	}
	h := Chain(mw("a"), nil, mw("b"))(func(context.Context, Msg[job]) error {
		trace = append(trace, "h")
		return errors.New("x")
	})
	assert.EqualError(t, h(context.Background(), Msg[job]{}), "x")
	assert.Equal(t, []string{"a>", "b>", "h", "<b", "<a"}, trace)
}

func TestEnvelope(t *testing.T) {
	env := encodeEnvelope(3, "1700000000000-5", "", `{"n":1}|with|bars`)
	n, id, md, p, err := decodeEnvelope(env)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, "1700000000000-5", id)
	assert.Empty(t, md)
	assert.Equal(t, `{"n":1}|with|bars`, p)
	env = encodeEnvelope(2, "1-1", "3:k|y1:v", `{"n":1}`)
	n, id, md, p, err = decodeEnvelope(env)
	require.NoError(t, err)
	assert.Equal(t, []any{2, "1-1", "3:k|y1:v", `{"n":1}`}, []any{n, id, md, p})
	for _, bad := range []string{"", "x", "1", "1|", "-1|1-1|p", "a|1-1|p", "1|abc|p", "1|1-1", "1h|1-1|p", "1h9|1-1|p", "1hx|1-1|p"} {
		_, _, _, _, err := decodeEnvelope(bad)
		assert.ErrorIs(t, err, ErrDecode, "input %q", bad)
	}
	assert.Equal(t, 17, len(delayedMember(42, "", "")), "tick script strips 17 bytes")
	assert.Equal(t, "000000000000002a#00000003abcpayload", delayedMember(42, "abc", "payload"), "tick script's layout with metadata")
}

func TestDefaultBackoff(t *testing.T) {
	for attempt, base := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 13: time.Hour, 100: time.Hour} {
		d := DefaultBackoff(attempt, nil)
		assert.GreaterOrEqual(t, d, base, "attempt %d", attempt)
		assert.LessOrEqual(t, d, base+base/4, "attempt %d", attempt)
	}
}

// FuzzDecodeMessage feeds arbitrary stream entries (main stream and retry
// stream) through the consumer's decoding: it must never panic, and a
// delivery either decodes to a job or carries an ErrDecode error (which sends
// it to the dead-letter stream).
func FuzzDecodeMessage(f *testing.F) {
	f.Add(`{"n":1}`, false)
	f.Add(`2|1700000000000-0|{"n":2,"note":"x"}`, true)
	f.Add(`{not json`, false)
	f.Add(`9|nope|{}`, true)
	f.Add(``, true)
	f.Add(`1h10|1700000000000-0|5:trace1:x{"n":3}`, true)
	f.Add(`1h23|1-0|9::deadline13:1700000000000{"n":4}`, true)
	c := offline()
	defer c.Close()
	q, err := New[job](c, "q", Config{})
	if err != nil {
		f.Fatal(err)
	}
	cons, err := q.NewConsumer("g", func(context.Context, Msg[job]) error { return nil }, ConsumerConfig{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string, retry bool) {
		field := "d"
		if retry {
			field = "e"
		}
		d := cons.toDelivery("s", retry, redis.XMessage{ID: "1-1", Values: map[string]any{field: raw}}, 1)
		if d.err == nil && d.meta != "" {
			var md meta
			if md, d.err = decodeMeta(d.meta); d.err == nil {
				// What decodes re-encodes to metadata that decodes the same.
				md2, err := decodeMeta(md.encode())
				if err != nil || !reflect.DeepEqual(md2.headers, md.headers) || !md2.deadline.Equal(md.deadline) || md2.timeout != md.timeout {
					t.Fatalf("metadata %q -> %+v does not round-trip: %+v, %v", d.meta, md, md2, err)
				}
			}
		}
		if d.err != nil {
			if !errors.Is(d.err, ErrDecode) {
				t.Fatalf("envelope error %v does not wrap ErrDecode", d.err)
			}
			return
		}
		if d.prior < 0 || (retry && !validStreamID(d.origID)) {
			t.Fatalf("bad delivery %+v", d)
		}
		v, err := q.decode(d.payload)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("decode error %v does not wrap ErrDecode", err)
			}
			return
		}
		// What decodes re-encodes and decodes to the same value.
		p, err := q.encode(v, "")
		if err != nil {
			t.Fatalf("re-encode %+v: %v", v, err)
		}
		v2, err := q.decode(p)
		if err != nil || v2 != v {
			t.Fatalf("round trip %+v -> %q -> %+v, %v", v, p, v2, err)
		}
	})
}

// Due times round up to the millisecond, so nothing runs early.
func TestCeilMilli(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_123)
	cases := []struct {
		name string
		t    time.Time
		want int64
	}{
		{"whole millisecond", base, 1_700_000_000_123},
		{"one nanosecond past", base.Add(time.Nanosecond), 1_700_000_000_124},
		{"almost the next", base.Add(999_999 * time.Nanosecond), 1_700_000_000_124},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ceilMilli(tc.t)
			assert.Equal(t, tc.want, got)
			assert.False(t, time.UnixMilli(got).Before(tc.t), "rounded %v to %d, before it", tc.t, got)
		})
	}
}

// XAUTOCLAIM's reply is parsed by hand (go-redis v9.7 drops its third
// element): Redis 7's three elements, Redis 6.2's two with nil entries for
// deleted messages, and malformed replies as errors, never panics.
func TestParseXAutoClaim(t *testing.T) {
	entry := func(id string, kv ...any) any { return []any{id, kv} }
	msgs, next, deleted, err := parseXAutoClaim([]any{"5-0", []any{entry("1-0", "d", "x"), entry("2-0", "d", "y", "h", "z")}, []any{"3-0", "4-0"}})
	require.NoError(t, err)
	assert.Equal(t, "5-0", next)
	assert.Equal(t, []string{"3-0", "4-0"}, deleted)
	require.Len(t, msgs, 2)
	assert.Equal(t, redis.XMessage{ID: "2-0", Values: map[string]any{"d": "y", "h": "z"}}, msgs[1])

	msgs, next, deleted, err = parseXAutoClaim([]any{"0-0", []any{nil, entry("7-1", "d", "v")}})
	require.NoError(t, err)
	assert.Equal(t, "0-0", next)
	assert.Empty(t, deleted)
	assert.Equal(t, []redis.XMessage{{ID: "7-1", Values: map[string]any{"d": "v"}}}, msgs)

	for _, bad := range []any{nil, "x", []any{"0-0"}, []any{1, []any{}}, []any{"0-0", "no"}, []any{"0-0", []any{[]any{"1-0"}}},
		[]any{"0-0", []any{[]any{"1-0", []any{"odd"}}}}, []any{"0-0", []any{}, "no"}} {
		_, _, _, err := parseXAutoClaim(bad)
		assert.Error(t, err, "%v", bad)
	}
}

// Headers, deadline and timeout round-trip through the metadata encoding;
// malformed metadata is ErrDecode, never a panic.
func TestMetaEncoding(t *testing.T) {
	at := time.UnixMilli(1700000000123)
	enc, err := metaOf([]Option{Headers(map[string]string{"b": "2", "a": "x:y|z"}), Header("c", ""), Deadline(at), Timeout(1500 * time.Millisecond), {}})
	require.NoError(t, err)
	m, err := decodeMeta(enc)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "x:y|z", "b": "2", "c": ""}, m.headers)
	assert.True(t, m.deadline.Equal(at))
	assert.Equal(t, 1500*time.Millisecond, m.timeout)
	enc2, err := metaOf([]Option{Header("a", "1"), Header("a", "2")})
	require.NoError(t, err)
	m, err = decodeMeta(enc2)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "2"}, m.headers, "later options win")
	none, err := metaOf(nil)
	require.NoError(t, err)
	assert.Empty(t, none)
	for _, bad := range []string{"x", "1:", "1:a", "2:ab9:c", "-1:a1:b", "9::deadline1:x", "8::timeout1:0"} {
		_, err := decodeMeta(bad)
		assert.ErrorIs(t, err, ErrDecode, "input %q", bad)
	}
	for _, o := range []Option{Header("", "v"), Header(":x", "v"), Header(strings.Repeat("k", 201), "v"), Deadline(time.Time{}), Timeout(0), Timeout(-time.Second)} {
		_, err := metaOf([]Option{o})
		assert.ErrorIs(t, err, ErrInvalid)
	}
}
