package streamq

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Add appends v to the stream (one XADD) and returns its stream ID. When Add
// returns nil the message is stored on the Redis master and will be
// delivered at least once to every consumer group of the queue, as long as
// Redis keeps it: what an acknowledged Add survives (a restart, a crash, a
// failover) depends on the server's persistence and replicas and on
// Config.WaitReplicas and WaitAOF, as the package documentation's
// Durability section says. On error nothing was stored unless the error is
// a network failure after the command was sent (the usual at-least-once
// caveat: retrying may duplicate), or wraps ErrNotDurable (stored, the
// returned ID is valid, the wait for replicas or fsync fell short).
// opts set headers, a deadline or a timeout for this message.
func (q *Queue[T]) Add(ctx context.Context, v T, opts ...Option) (string, error) {
	if lq, rest, err := q.route(opts); err != nil {
		return "", err
	} else if lq != q {
		return lq.Add(ctx, v, rest...)
	}
	meta, err := metaOf(opts)
	if err != nil {
		return "", err
	}
	payload, err := q.encode(v, meta)
	if err != nil {
		return "", err
	}
	if key := aggOf(opts); key != "" {
		if q.agg.MaxSize == 0 {
			return "", fmt.Errorf("%w: Aggregate(%q) on queue %s, whose Config.Aggregation is not set", ErrInvalid, key, q.name)
		}
		return q.addAggregate(ctx, key, meta, payload)
	}
	args := &redis.XAddArgs{Stream: q.stream, Values: fields(payload, meta)}
	if q.waitReplicas == 0 && !q.waitAOF {
		id, err := q.client.XAdd(ctx, args).Result()
		if err != nil {
			q.reloadOnError(err)
			return "", fmt.Errorf("streamq: xadd %s: %w", q.stream, err)
		}
		return id, nil
	}
	var cmd *redis.StringCmd
	werr := q.durable(ctx, func(p redis.Pipeliner) { cmd = p.XAdd(ctx, args) })
	if cmd == nil {
		return "", werr
	}
	id, err := cmd.Result()
	if err != nil {
		q.reloadOnError(err)
		return "", fmt.Errorf("streamq: xadd %s: %w", q.stream, err)
	}
	return id, werr
}

// AddBatch appends all values in one pipelined round trip and returns their
// stream IDs in order. Every value is encoded first: if one fails to encode
// or is too large, nothing is written. If Redis rejects some commands, the
// returned slice has "" for those and the error (an errors.Join of
// *BatchError) says which indexes failed; the others were stored. With
// Config.WaitReplicas or WaitAOF one wait covers the whole batch; falling
// short adds an error wrapping ErrNotDurable. opts apply to every message.
func (q *Queue[T]) AddBatch(ctx context.Context, vs []T, opts ...Option) ([]string, error) {
	if lq, rest, err := q.route(opts); err != nil {
		return nil, err
	} else if lq != q {
		return lq.AddBatch(ctx, vs, rest...)
	}
	if aggOf(opts) != "" {
		ids := make([]string, len(vs))
		for i, v := range vs {
			id, err := q.Add(ctx, v, opts...)
			if err != nil {
				return ids, &BatchError{Index: i, Err: err}
			}
			ids[i] = id
		}
		return ids, nil
	}
	meta, err := metaOf(opts)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, nil
	}
	payloads := make([]string, len(vs))
	for i, v := range vs {
		p, err := q.encode(v, meta)
		if err != nil {
			return nil, fmt.Errorf("streamq: AddBatch value %d: %w", i, err)
		}
		payloads[i] = p
	}
	cmds := make([]*redis.StringCmd, len(vs))
	queue := func(pipe redis.Pipeliner) {
		for i, p := range payloads {
			cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: q.stream, Values: fields(p, meta)})
		}
	}
	var werr error
	if q.waitReplicas == 0 && !q.waitAOF {
		pipe := q.client.Pipeline()
		queue(pipe)
		_ = execPipe(ctx, pipe) // per-command errors are read below
	} else if werr = q.durable(ctx, queue); cmds[0] == nil {
		return make([]string, len(vs)), werr
	}
	ids := make([]string, len(vs))
	var errs []error
	for i, c := range cmds {
		id, err := c.Result()
		if err != nil {
			q.reloadOnError(err)
			errs = append(errs, &BatchError{Index: i, Err: fmt.Errorf("xadd %s: %w", q.stream, err)})
			continue
		}
		ids[i] = id
	}
	return ids, errors.Join(append(errs, werr)...)
}

// BatchError reports the failure of one element of a batch operation.
type BatchError struct {
	Index int   // position in the input slice
	Err   error // what went wrong
}

// Error implements error.
func (e *BatchError) Error() string { return fmt.Sprintf("streamq: batch item %d: %v", e.Index, e.Err) }

// Unwrap returns the underlying error.
func (e *BatchError) Unwrap() error { return e.Err }

// ProcessAt schedules v to be appended to the stream at time at (delayed
// delivery). The message waits in a sorted set and is moved to the stream,
// atomically, by the first running consumer of any group that sees it due
// (within about a second of at). A time in the past means "as soon as
// possible". Messages still waiting are counted in Stats.Delayed. opts
// (headers, deadline, timeout) travel with the message.
func (q *Queue[T]) ProcessAt(ctx context.Context, v T, at time.Time, opts ...Option) error {
	if at.IsZero() {
		return fmt.Errorf("%w: ProcessAt with the zero time", ErrInvalid)
	}
	if lq, rest, err := q.route(opts); err != nil {
		return err
	} else if lq != q {
		return lq.ProcessAt(ctx, v, at, rest...)
	}
	if aggOf(opts) != "" {
		return fmt.Errorf("%w: Aggregate with ProcessAt or ProcessIn is not supported", ErrInvalid)
	}
	meta, err := metaOf(opts)
	if err != nil {
		return err
	}
	payload, err := q.encode(v, meta)
	if err != nil {
		return err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	member := delayedMember(binary.LittleEndian.Uint64(b[:]), meta, payload)
	z := redis.Z{Score: float64(ceilMilli(at)), Member: member}
	var err2 error
	if q.waitReplicas == 0 && !q.waitAOF {
		err2 = q.client.ZAdd(ctx, q.delayed, z).Err()
	} else {
		var cmd *redis.IntCmd
		werr := q.durable(ctx, func(p redis.Pipeliner) { cmd = p.ZAdd(ctx, q.delayed, z) })
		if cmd == nil {
			return werr
		}
		if err2 = cmd.Err(); err2 == nil {
			return werr
		}
	}
	if err2 != nil {
		q.reloadOnError(err2)
		return fmt.Errorf("streamq: zadd %s: %w", q.delayed, err2)
	}
	return nil
}

// ceilMilli is t in Unix milliseconds, rounded up: due times are stored in
// whole milliseconds and compared with a truncated now, so a message is
// never delivered before the time it was scheduled for.
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

// ProcessIn schedules v to be appended to the stream after d (see
// ProcessAt). d must not be negative.
func (q *Queue[T]) ProcessIn(ctx context.Context, v T, d time.Duration, opts ...Option) error {
	if d < 0 {
		return fmt.Errorf("%w: ProcessIn with negative delay %v", ErrInvalid, d)
	}
	return q.ProcessAt(ctx, v, q.now().Add(d), opts...)
}

// AddUnique appends v unless a message with the same key was added within
// ttl (producer-side deduplication: SET NX PX + XADD in one script). It
// returns the stream ID and true when added, or the earlier message's ID and
// false. key is any non-empty string up to 200 bytes; ttl must be positive.
// Deduplication covers the producer side only; delivery stays at least once,
// so handlers should still be idempotent.
func (q *Queue[T]) AddUnique(ctx context.Context, key string, ttl time.Duration, v T, opts ...Option) (string, bool, error) {
	if key == "" || len(key) > maxNameLen {
		return "", false, fmt.Errorf("%w: dedup key must be 1-%d bytes, got %d", ErrInvalid, maxNameLen, len(key))
	}
	if ttl < time.Millisecond {
		return "", false, fmt.Errorf("%w: dedup ttl %v must be at least 1ms", ErrInvalid, ttl)
	}
	if lq, rest, err := q.route(opts); err != nil {
		return "", false, err
	} else if lq != q {
		return lq.AddUnique(ctx, key, ttl, v, rest...)
	}
	if aggOf(opts) != "" {
		return "", false, fmt.Errorf("%w: Aggregate with AddUnique is not supported", ErrInvalid)
	}
	meta, err := metaOf(opts)
	if err != nil {
		return "", false, err
	}
	payload, err := q.encode(v, meta)
	if err != nil {
		return "", false, err
	}
	keys := []string{q.stream, q.stream + ":dedup:" + key}
	ttlArg := strconv.FormatInt(ttl.Milliseconds(), 10)
	var res []any
	var werr error
	if q.waitReplicas == 0 && !q.waitAOF {
		res, err = addUniqueScript.Run(ctx, q.client, keys, ttlArg, payload, meta).Slice()
	} else {
		var cmd *redis.Cmd
		werr = q.durable(ctx, func(p redis.Pipeliner) { cmd = addUniqueScript.Eval(ctx, p, keys, ttlArg, payload, meta) })
		if cmd == nil {
			return "", false, werr
		}
		res, err = cmd.Slice()
	}
	if err != nil {
		q.reloadOnError(err)
		return "", false, fmt.Errorf("streamq: add unique %s: %w", q.stream, err)
	}
	if len(res) != 2 {
		return "", false, fmt.Errorf("streamq: add unique %s: unexpected reply %v", q.stream, res)
	}
	added, _ := res[0].(int64)
	id, _ := res[1].(string)
	return id, added == 1, werr
}
