package streamq

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Msg is one delivery of a message to a handler.
type Msg[T any] struct {
	// ID is the stream entry ID this delivery was read from. For a retry it
	// is the entry in the group's retry stream.
	ID string
	// OriginalID is the ID the message got from Add; equal to ID on the
	// first delivery.
	OriginalID string
	// Value is the decoded payload.
	Value T
	// Queue, Group and Consumer name where the message is being handled.
	// Group and Consumer are empty for a group-less Subscriber.
	Queue, Group, Consumer string
	// Attempt counts deliveries of this message to the group, starting at 1.
	// It comes from Redis's own delivery counter (plus earlier retries), so
	// deliveries to consumers that crashed count too.
	Attempt int
	// Enqueued is when the message was first added (from OriginalID).
	Enqueued time.Time
	// Headers are the message's headers (the Header and Headers options),
	// nil when it has none. Handlers must not modify the map.
	Headers map[string]string

	deadline time.Time     // Deadline option
	timeout  time.Duration // Timeout option
	ext      *extender
}

// Info returns the message's metadata without the value, as given to hooks.
func (m Msg[T]) Info() MsgInfo {
	return MsgInfo{ID: m.ID, OriginalID: m.OriginalID, Queue: m.Queue, Group: m.Group, Consumer: m.Consumer, Attempt: m.Attempt, Enqueued: m.Enqueued, Headers: m.Headers}
}

// Extend resets the message's visibility timeout: other consumers will not
// reclaim it for another ConsumerConfig.VisibilityTimeout. Long handlers call
// it periodically. It returns ErrNotOwner when the message was already
// reclaimed by another consumer (the handler should then stop: its result
// will be duplicated), and ErrNoGroup for a Subscriber's message.
func (m Msg[T]) Extend(ctx context.Context) error {
	if m.ext == nil {
		return ErrNoGroup
	}
	n, err := extendScript.Run(ctx, m.ext.client, []string{m.ext.stream}, m.ext.group, m.ID, m.ext.consumer).Int()
	if err != nil {
		return fmt.Errorf("streamq: extend %s %s: %w", m.ext.stream, m.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotOwner, m.ID)
	}
	return nil
}

// MsgInfo is the value-free metadata of a delivery, passed to Hooks. Its
// fields mean what the fields of the same name in Msg mean.
type MsgInfo struct {
	ID, OriginalID         string
	Queue, Group, Consumer string
	Attempt                int
	Enqueued               time.Time
	Headers                map[string]string
}

// Handler processes one message. Returning nil acknowledges it; an error
// schedules a retry with backoff, or moves it to the dead-letter stream
// after ConsumerConfig.MaxDeliveries (at once for errors wrapping
// ErrSkipRetry). A panic is recovered and counts as an error, a
// *PanicError. ctx is cancelled when the consumer's shutdown deadline passes or
// ConsumerConfig.HandlerTimeout expires. Handlers run concurrently.
type Handler[T any] func(ctx context.Context, m Msg[T]) error

// BatchHandler processes all messages of one read at once (up to
// ConsumerConfig.BatchSize per stream). nil acknowledges them all; an error
// fails each of them: each is dead-lettered on its own attempt count, and
// the others are retried together, after Backoff of the lowest attempt
// among them, so they come back as one batch. Messages that cannot be decoded are dead-lettered before the call
// and are not in the slice.
type BatchHandler[T any] func(ctx context.Context, ms []Msg[T]) error

// Middleware wraps a Handler, for logging, metrics, tracing or policy.
type Middleware[T any] func(Handler[T]) Handler[T]

// Chain returns a Middleware applying mws in the order given: the first is
// the outermost, so it runs first on the way in and last on the way out.
func Chain[T any](mws ...Middleware[T]) Middleware[T] {
	return func(h Handler[T]) Handler[T] {
		for i := len(mws) - 1; i >= 0; i-- {
			if mws[i] != nil {
				h = mws[i](h)
			}
		}
		return h
	}
}

// Hooks are optional callbacks for metrics and tracing; nil fields are
// skipped. They are called synchronously from the consumer's goroutines and
// must be fast and safe for concurrent use.
type Hooks struct {
	// OnAck is called after a handler returned nil (the ack itself is
	// batched and flushed shortly after).
	OnAck func(MsgInfo)
	// OnRetry is called when a failed delivery was scheduled to run again
	// after delay.
	OnRetry func(info MsgInfo, err error, delay time.Duration)
	// OnDead is called when a message was moved to the dead-letter stream.
	OnDead func(info MsgInfo, err error)
	// OnReclaim is called when this consumer took over n messages of
	// consumer from (a dead consumer, or "" for the visibility timeout),
	// before their handlers run; once per batch taken.
	OnReclaim func(from string, n int)
	// OnDrop is called when Trim's MaxLen cap removed n messages not yet
	// acknowledged by every group.
	OnDrop func(n int64)
	// OnStranded is called when this consumer found n messages pending
	// under its own name that it never received (the reply of a read was
	// lost to a connection failure) and delivered them again. Also counted
	// in GroupStats.Stranded.
	OnStranded func(n int)
	// OnDuplicate is called when acknowledgements found n messages no
	// longer pending: another consumer had taken them over (after a
	// visibility timeout, or this consumer looked dead) and they ran at
	// least twice. Also counted in GroupStats.Duplicates.
	OnDuplicate func(n int)
	// OnError is called with background errors (Redis unavailable, a
	// failed ack flush); the consumer keeps running and retries.
	OnError func(err error)
}

// extender carries what Msg.Extend needs.
type extender struct {
	client   redis.Scripter
	stream   string
	group    string
	consumer string
}
