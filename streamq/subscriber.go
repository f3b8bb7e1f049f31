package streamq

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// SubscriberConfig holds the optional settings of a Subscriber. The zero
// value is valid.
type SubscriberConfig struct {
	// BatchSize is the COUNT of each XREAD. Default 100, at most 10000.
	BatchSize int
	// Block is how long an idle XREAD waits. Default 1s, 1ms-30s; it bounds
	// how long a cancelled Run waits for the read in flight.
	Block time.Duration
	// OnError receives handler errors and decode errors (the message is
	// skipped) and background Redis errors, which are also logged to
	// Config.Logger.
	OnError func(err error)
}

// Subscriber reads every message added to the queue after Run starts,
// without a consumer group (broadcast, like XREAD from "$"): each running
// Subscriber gets every message, in order, one at a time. Its position is
// kept in memory only, nothing is acknowledged and failed messages are not
// retried: use a consumer group (one group per subscriber service) when
// delivery must survive restarts.
type Subscriber[T any] struct {
	q       *Queue[T]
	h       Handler[T]
	batch   int
	block   time.Duration
	onError func(error)
	running atomic.Bool
}

// NewSubscriber returns a group-less Subscriber running h for each message.
func (q *Queue[T]) NewSubscriber(h Handler[T], cfg SubscriberConfig) (*Subscriber[T], error) {
	if h == nil {
		return nil, fmt.Errorf("%w: NewSubscriber with a nil Handler", ErrInvalid)
	}
	s := &Subscriber[T]{q: q, h: h, batch: cfg.BatchSize, block: cfg.Block, onError: cfg.OnError}
	switch {
	case s.batch < 0 || s.batch > 10000:
		return nil, fmt.Errorf("%w: SubscriberConfig.BatchSize = %d: must be between 0 (default 100) and 10000", ErrInvalid, s.batch)
	case s.batch == 0:
		s.batch = 100
	}
	switch {
	case s.block < 0 || (s.block > 0 && s.block < time.Millisecond) || s.block > 30*time.Second:
		return nil, fmt.Errorf("%w: SubscriberConfig.Block = %v: must be 0 (default 1s) or between 1ms and 30s", ErrInvalid, s.block)
	case s.block == 0:
		s.block = time.Second
	}
	return s, nil
}

func (s *Subscriber[T]) report(err error) {
	s.q.log.Warn("streamq subscriber", "queue", s.q.name, "err", err)
	if s.onError != nil {
		s.onError(err)
	}
}

// Run delivers messages added after it started until ctx is cancelled,
// then returns nil (after the handler call in progress returns). Redis
// errors are reported and retried with backoff; a client closed under it
// ends Run with an error wrapping redis.ErrClosed. ErrAlreadyRunning if
// called concurrently.
func (s *Subscriber[T]) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer s.running.Store(false)
	// Resolve "$" to a concrete ID once, so nothing added between two reads
	// is missed (re-reading from "$" would skip it).
	last := ""
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		if last == "" {
			msgs, err := s.q.client.XRevRangeN(ctx, s.q.stream, "+", "-", 1).Result()
			if errors.Is(err, redis.ErrClosed) {
				return s.closedErr(err)
			}
			if err != nil {
				s.report(fmt.Errorf("streamq: xrevrange %s: %w", s.q.stream, err))
				sleep(ctx, backoff)
				backoff = min(2*backoff, 2*time.Second)
				continue
			}
			last = "0-0"
			if len(msgs) == 1 {
				last = msgs[0].ID
			}
		}
		res, err := s.q.client.XRead(ctx, &redis.XReadArgs{Streams: []string{s.q.stream, last}, Count: int64(s.batch), Block: s.block}).Result()
		switch {
		case err == nil:
			backoff = 50 * time.Millisecond
		case errors.Is(err, redis.Nil) || ctx.Err() != nil:
			continue
		case errors.Is(err, redis.ErrClosed):
			return s.closedErr(err)
		default:
			s.report(fmt.Errorf("streamq: xread %s: %w", s.q.stream, err))
			sleep(ctx, backoff)
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		for _, st := range res {
			for _, m := range st.Messages {
				last = m.ID
				if ctx.Err() != nil {
					return nil
				}
				s.handle(ctx, m)
			}
		}
	}
	return nil
}

func (s *Subscriber[T]) closedErr(err error) error {
	return fmt.Errorf("streamq: subscriber of %s stopped: the redis client was closed while Run was running (close it only after Run returned): %w", s.q.name, err)
}

func (s *Subscriber[T]) handle(ctx context.Context, m redis.XMessage) {
	p, ok := m.Values[payloadField].(string)
	var v T
	var md meta
	var err error
	if h, ok := m.Values[metaField].(string); ok {
		md, err = decodeMeta(h)
	}
	switch {
	case err != nil:
	case !ok:
		err = errNoPayload(m.ID)
	case !md.deadline.IsZero() && s.q.now().After(md.deadline):
		err = fmt.Errorf("%w: message %s had to be handled by %s", ErrDeadline, m.ID, md.deadline.UTC().Format(time.RFC3339Nano))
	case len(p) > s.q.maxPayload:
		err = fmt.Errorf("%w: entry %s is %d bytes, limit %d (Config.MaxPayloadBytes)", ErrPayloadTooLarge, m.ID, len(p), s.q.maxPayload)
	default:
		v, err = s.q.decode(p)
	}
	if err != nil {
		s.report(fmt.Errorf("streamq: subscriber skipped %s: %w", m.ID, err))
		return
	}
	msg := Msg[T]{ID: m.ID, OriginalID: m.ID, Value: v, Queue: s.q.name, Attempt: 1, Enqueued: idTime(m.ID),
		Headers: md.headers, deadline: md.deadline, timeout: md.timeout}
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = &PanicError{Value: r, Stack: debug.Stack()}
			}
		}()
		if msg.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, msg.timeout)
			defer cancel()
		}
		if !msg.deadline.IsZero() {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, msg.deadline)
			defer cancel()
		}
		return s.h(ctx, msg)
	}()
	if err != nil {
		s.report(fmt.Errorf("streamq: subscriber handler on %s: %w", m.ID, err))
	}
}
