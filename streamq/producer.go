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
// returns nil the message is stored and will be delivered at least once to
// every consumer group of the queue. On error nothing was stored unless the
// error is a network failure after the command was sent (the usual
// at-least-once caveat: retrying may duplicate).
func (q *Queue[T]) Add(ctx context.Context, v T) (string, error) {
	payload, err := q.encode(v)
	if err != nil {
		return "", err
	}
	id, err := q.client.XAdd(ctx, &redis.XAddArgs{Stream: q.stream, Values: []string{"d", payload}}).Result()
	if err != nil {
		return "", fmt.Errorf("streamq: xadd %s: %w", q.stream, err)
	}
	return id, nil
}

// AddBatch appends all values in one pipelined round trip and returns their
// stream IDs in order. Every value is encoded first: if one fails to encode
// or is too large, nothing is written. If Redis rejects some commands, the
// returned slice has "" for those and the error (an errors.Join of
// *BatchError) says which indexes failed; the others were stored.
func (q *Queue[T]) AddBatch(ctx context.Context, vs []T) ([]string, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	payloads := make([]string, len(vs))
	for i, v := range vs {
		p, err := q.encode(v)
		if err != nil {
			return nil, fmt.Errorf("streamq: AddBatch value %d: %w", i, err)
		}
		payloads[i] = p
	}
	pipe := q.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(vs))
	for i, p := range payloads {
		cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: q.stream, Values: []string{"d", p}})
	}
	_, _ = pipe.Exec(ctx) // per-command errors are read below
	ids := make([]string, len(vs))
	var errs []error
	for i, c := range cmds {
		id, err := c.Result()
		if err != nil {
			errs = append(errs, &BatchError{Index: i, Err: fmt.Errorf("xadd %s: %w", q.stream, err)})
			continue
		}
		ids[i] = id
	}
	return ids, errors.Join(errs...)
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
// possible". Messages still waiting are counted in Stats.Delayed.
func (q *Queue[T]) ProcessAt(ctx context.Context, v T, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("%w: ProcessAt with the zero time", ErrInvalid)
	}
	payload, err := q.encode(v)
	if err != nil {
		return err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	member := delayedMember(binary.LittleEndian.Uint64(b[:]), payload)
	if err := q.client.ZAdd(ctx, q.delayed, redis.Z{Score: float64(ceilMilli(at)), Member: member}).Err(); err != nil {
		return fmt.Errorf("streamq: zadd %s: %w", q.delayed, err)
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
func (q *Queue[T]) ProcessIn(ctx context.Context, v T, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w: ProcessIn with negative delay %v", ErrInvalid, d)
	}
	return q.ProcessAt(ctx, v, q.now().Add(d))
}

// AddUnique appends v unless a message with the same key was added within
// ttl (producer-side deduplication: SET NX PX + XADD in one script). It
// returns the stream ID and true when added, or the earlier message's ID and
// false. key is any non-empty string up to 200 bytes; ttl must be positive.
// Deduplication covers the producer side only; delivery stays at least once,
// so handlers should still be idempotent.
func (q *Queue[T]) AddUnique(ctx context.Context, key string, ttl time.Duration, v T) (string, bool, error) {
	if key == "" || len(key) > maxNameLen {
		return "", false, fmt.Errorf("%w: dedup key must be 1-%d bytes, got %d", ErrInvalid, maxNameLen, len(key))
	}
	if ttl < time.Millisecond {
		return "", false, fmt.Errorf("%w: dedup ttl %v must be at least 1ms", ErrInvalid, ttl)
	}
	payload, err := q.encode(v)
	if err != nil {
		return "", false, err
	}
	res, err := addUniqueScript.Run(ctx, q.client, []string{q.stream, q.stream + ":dedup:" + key},
		strconv.FormatInt(ttl.Milliseconds(), 10), payload).Slice()
	if err != nil {
		return "", false, fmt.Errorf("streamq: add unique %s: %w", q.stream, err)
	}
	if len(res) != 2 {
		return "", false, fmt.Errorf("streamq: add unique %s: unexpected reply %v", q.stream, res)
	}
	added, _ := res[0].(int64)
	id, _ := res[1].(string)
	return id, added == 1, nil
}
