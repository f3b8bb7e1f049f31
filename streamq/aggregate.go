package streamq

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// AggregateConfig sets when the messages of one aggregation group (the
// Aggregate option) are handed on together as one entry, asynq's task
// aggregation: when the group reaches MaxSize messages, when no message
// joined it for GracePeriod, or MaxDelay after its first message, whichever
// comes first. Zero fields mean the defaults.
type AggregateConfig struct {
	// MaxSize is the most messages of one aggregate. Default 100, at most
	// 10000.
	MaxSize int
	// GracePeriod flushes a group no message joined for this long. Default 1s.
	GracePeriod time.Duration
	// MaxDelay flushes a group this long after its first message. Default
	// 10s, at least GracePeriod.
	MaxDelay time.Duration
}

// Aggregate puts the message in the aggregation group key (1-200 bytes):
// it waits, in a list under the queue's hash tag, until the group is
// flushed (see AggregateConfig; running consumers check every heartbeat,
// the Add that fills it flushes at once), and then the group's messages
// reach consumers together as one stream entry: an AggregateHandler gets
// them in one call, a BatchHandler in one call of their own, a Handler one
// by one in order. The aggregate is acknowledged, retried and
// dead-lettered as a whole. Add returns "" for a message that joined a
// group, or the aggregate's stream ID when it completed one.
func Aggregate(key string) Option {
	o := Option{kind: optAggregate, aggKey: key}
	if key == "" || len(key) > maxNameLen {
		o.err = fmt.Errorf("%w: Aggregate key must be 1-%d bytes, got %d", ErrInvalid, maxNameLen, len(key))
	}
	return o
}

// AggregateHandler processes one aggregate: the messages of aggregation
// group key, in the order they were added. A message that was added
// without Aggregate arrives alone, with key "". nil acknowledges them all;
// an error retries them all together, or dead-letters the aggregate.
type AggregateHandler[T any] func(ctx context.Context, key string, ms []Msg[T]) error

// NewAggregateConsumer returns a Consumer of group running h once per
// aggregate (see Aggregate). It does no I/O.
func (q *Queue[T]) NewAggregateConsumer(group string, h AggregateHandler[T], cfg ConsumerConfig) (*Consumer[T], error) {
	if h == nil {
		return nil, fmt.Errorf("%w: NewAggregateConsumer(%q) with a nil AggregateHandler", ErrInvalid, group)
	}
	c, err := q.newConsumer(group, nil, nil, cfg)
	if err != nil {
		return nil, err
	}
	c.ah = h
	for _, sub := range c.subs {
		sub.ah = h
	}
	return c, nil
}

// resolveAggregate applies AggregateConfig's defaults; the zero value
// stays off (MaxSize 0).
func resolveAggregate(a AggregateConfig) (AggregateConfig, error) {
	if a == (AggregateConfig{}) {
		return a, nil
	}
	switch {
	case a.MaxSize < 0 || a.MaxSize > 10000:
		return a, fmt.Errorf("%w: Aggregation.MaxSize %d must be between 0 (default 100) and 10000", ErrInvalid, a.MaxSize)
	case a.GracePeriod < 0:
		return a, fmt.Errorf("%w: Aggregation.GracePeriod %v is negative (0 means 1s)", ErrInvalid, a.GracePeriod)
	case a.MaxDelay < 0:
		return a, fmt.Errorf("%w: Aggregation.MaxDelay %v is negative (0 means 10s)", ErrInvalid, a.MaxDelay)
	}
	if a.MaxSize == 0 {
		a.MaxSize = 100
	}
	if a.GracePeriod == 0 {
		a.GracePeriod = time.Second
	}
	if a.MaxDelay == 0 {
		a.MaxDelay = max(10*time.Second, a.GracePeriod)
	}
	if a.MaxDelay < a.GracePeriod {
		return a, fmt.Errorf("%w: Aggregation.MaxDelay %v is shorter than GracePeriod %v", ErrInvalid, a.MaxDelay, a.GracePeriod)
	}
	return a, nil
}

// aggKeys are an aggregation group's list and the queue's two indexes.
func (q *Queue[T]) aggKeys(key string) []string {
	return []string{q.stream + ":agg:" + key, q.stream + ":aggfirst", q.stream + ":agglast", q.stream}
}

// aggMember is one message in an aggregation list: "<meta length>|<meta><payload>".
func aggMember(meta, payload string) string {
	return strconv.Itoa(len(meta)) + "|" + meta + payload
}

// addAggregate appends a message to its aggregation group and flushes
// the group when it is full.
func (q *Queue[T]) addAggregate(ctx context.Context, key, meta, payload string) (string, error) {
	res, err := aggAddScript.Run(ctx, q.client, q.aggKeys(key), key, q.now().UnixMilli(), aggMember(meta, payload), q.agg.MaxSize).Result()
	if err == redis.Nil {
		return "", nil // joined the group
	}
	if err != nil {
		q.reloadOnError(err)
		return "", fmt.Errorf("streamq: aggregate into %s: %w", key, err)
	}
	id, _ := res.(string)
	return id, nil
}

// flushAggregates flushes the groups due by GracePeriod or MaxDelay (a
// running consumer's tick). It returns how many it flushed.
func (q *Queue[T]) flushAggregates(ctx context.Context) (int, error) {
	now := q.now()
	pipe := q.client.Pipeline()
	byFirst := pipe.ZRangeByScore(ctx, q.stream+":aggfirst", &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.Add(-q.agg.MaxDelay).UnixMilli(), 10), Count: 100})
	byLast := pipe.ZRangeByScore(ctx, q.stream+":agglast", &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.Add(-q.agg.GracePeriod).UnixMilli(), 10), Count: 100})
	if err := execPipe(ctx, pipe); err != nil && err != redis.Nil {
		return 0, fmt.Errorf("streamq: due aggregates of %s: %w", q.stream, err)
	}
	due := map[string]bool{}
	for _, k := range append(byFirst.Val(), byLast.Val()...) {
		due[k] = true
	}
	n := 0
	for k := range due {
		if err := aggFlushScript.Run(ctx, q.client, q.aggKeys(k), k).Err(); err != nil && err != redis.Nil {
			return n, fmt.Errorf("streamq: flush aggregate %s: %w", k, err)
		}
		n++
	}
	return n, nil
}

// unpackAggregate splits an aggregate's payload into its members' metadata
// and payloads. It never panics on any input.
func unpackAggregate(s string) (metas, payloads []string, err error) {
	for s != "" {
		i := strings.IndexByte(s, ':')
		if i <= 0 || i > 10 {
			return nil, nil, fmt.Errorf("%w: malformed aggregate", ErrDecode)
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > len(s)-i-1 {
			return nil, nil, fmt.Errorf("%w: malformed aggregate", ErrDecode)
		}
		m := s[i+1 : i+1+n]
		s = s[i+1+n:]
		ml, rest, ok := strings.Cut(m, "|")
		l, err := strconv.Atoi(ml)
		if !ok || err != nil || l < 0 || l > len(rest) {
			return nil, nil, fmt.Errorf("%w: malformed aggregate member", ErrDecode)
		}
		metas = append(metas, rest[:l])
		payloads = append(payloads, rest[l:])
	}
	return metas, payloads, nil
}

// aggAddScript appends a member to an aggregation list, indexes the group
// by first and last add, and flushes it into the stream when full. Returns
// the aggregate's ID, or false.
//
// KEYS: list, first zset, last zset, stream
// ARGV: group key, now ms, member, max size
var aggAddScript = redis.NewScript(`
local n = redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
if n < tonumber(ARGV[4]) then return false end
` + aggFlushBody)

// aggFlushScript flushes an aggregation group into the stream.
//
// KEYS: list, first zset, last zset, stream
// ARGV: group key
var aggFlushScript = redis.NewScript(aggFlushBody)

// aggFlushBody packs the list as "<len>:<member>..." into one entry whose
// metadata names the group (":agg"), deletes it and unindexes the group.
const aggFlushBody = `
local ms = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if #ms == 0 then return false end
local parts = {}
for i, m in ipairs(ms) do parts[i] = #m .. ':' .. m end
return redis.call('XADD', KEYS[4], '*', 'd', table.concat(parts), 'h', '4::agg' .. #ARGV[1] .. ':' .. ARGV[1])
`
