package streamq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/goplumb/plumb/streamq"
	"github.com/redis/go-redis/v9"
)

type Order struct {
	ID    int    `json:"id"`
	Email string `json:"email"`
}

// A work queue: the producer adds orders, a consumer group processes them
// with retries and a dead-letter stream, and shuts down cleanly on Ctrl-C.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"}) // or redis.NewClusterClient
	defer rdb.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	q, err := streamq.New[Order](rdb, "orders", streamq.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := q.Add(ctx, Order{ID: 1, Email: "a@example.com"}); err != nil {
		log.Fatal(err)
	}

	c, err := q.NewConsumer("billing", func(ctx context.Context, m streamq.Msg[Order]) error {
		log.Printf("charging order %d (attempt %d)", m.Value.ID, m.Attempt)
		return nil // nil acknowledges; an error retries with backoff
	}, streamq.ConsumerConfig{MaxDeliveries: 5})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil { // until Ctrl-C, then a graceful shutdown
		log.Fatal(err)
	}
}

// Fan-out: every group gets every message; a Subscriber, without a group,
// sees every message added while it runs.
func Example_fanOut() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	q, err := streamq.New[Order](rdb, "orders", streamq.Config{})
	if err != nil {
		log.Fatal(err)
	}
	// Create the groups before the first Add, so they see it.
	for _, g := range []string{"billing", "email"} {
		if err := q.CreateGroup(ctx, g, false); err != nil {
			log.Fatal(err)
		}
	}
	for _, g := range []string{"billing", "email"} {
		c, err := q.NewConsumer(g, func(_ context.Context, m streamq.Msg[Order]) error {
			log.Printf("%s got order %d", m.Group, m.Value.ID)
			return nil
		}, streamq.ConsumerConfig{})
		if err != nil {
			log.Fatal(err)
		}
		go c.Run(ctx) //nolint:errcheck // returns nil when ctx ends
	}
	s, err := q.NewSubscriber(func(_ context.Context, m streamq.Msg[Order]) error {
		log.Printf("audit log: order %d", m.Value.ID)
		return nil
	}, streamq.SubscriberConfig{})
	if err != nil {
		log.Fatal(err)
	}
	go s.Run(ctx) //nolint:errcheck // returns nil when ctx ends
	if _, err := q.Add(ctx, Order{ID: 7}); err != nil {
		log.Fatal(err)
	}
	<-ctx.Done()
}

// A batch handler gets all messages of one read at once, e.g. for one
// multi-row INSERT.
func ExampleQueue_NewBatchConsumer() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	q, err := streamq.New[Order](rdb, "orders", streamq.Config{})
	if err != nil {
		log.Fatal(err)
	}
	c, err := q.NewBatchConsumer("warehouse", func(ctx context.Context, ms []streamq.Msg[Order]) error {
		log.Printf("inserting %d orders in one statement", len(ms))
		return nil // an error retries the whole batch together
	}, streamq.ConsumerConfig{BatchSize: 500})
	if err != nil {
		log.Fatal(err)
	}
	_ = c.Run(context.Background())
}

// Dead letters can be listed, fixed at the source and requeued, or deleted.
func ExampleQueue_DeadLetters() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	ctx := context.Background()
	q, err := streamq.New[Order](rdb, "orders", streamq.Config{})
	if err != nil {
		log.Fatal(err)
	}
	dls, err := q.DeadLetters(ctx, "billing", "", 100)
	if err != nil {
		log.Fatal(err)
	}
	for _, dl := range dls {
		fmt.Printf("%s: order %d failed %d times: %s\n", dl.OriginalID, dl.Value.ID, dl.Attempts, dl.Err)
		if dl.DecodeErr != nil {
			_, _ = q.DeleteDeadLetters(ctx, "billing", dl.ID)
			continue
		}
		_, _ = q.RequeueDeadLetters(ctx, "billing", dl.ID)
	}
}

// A long handler extends its visibility timeout so that no other consumer
// takes the message over while it still works on it.
func ExampleMsg_Extend() {
	handler := func(ctx context.Context, m streamq.Msg[Order]) error {
		for step := range 10 {
			_ = step // ... one slow step of the work ...
			if err := m.Extend(ctx); errors.Is(err, streamq.ErrNotOwner) {
				return err // another consumer has it now: stop
			}
		}
		return nil
	}
	_ = handler
}

// Middleware wraps handlers; Chain runs them in the order given.
func ExampleChain() {
	logging := func(next streamq.Handler[Order]) streamq.Handler[Order] {
		return func(ctx context.Context, m streamq.Msg[Order]) error {
			fmt.Println("start", m.ID)
			err := next(ctx, m)
			fmt.Println("done", m.ID, err)
			return err
		}
	}
	validate := func(next streamq.Handler[Order]) streamq.Handler[Order] {
		return func(ctx context.Context, m streamq.Msg[Order]) error {
			if m.Value.Email == "" {
				// No retry can fix this: straight to the dead-letter stream.
				return fmt.Errorf("order %d has no email: %w", m.Value.ID, streamq.ErrSkipRetry)
			}
			return next(ctx, m)
		}
	}
	h := streamq.Chain(logging, validate)(func(context.Context, streamq.Msg[Order]) error {
		fmt.Println("handled")
		return nil
	})
	_ = h(context.Background(), streamq.Msg[Order]{ID: "1-0", Value: Order{ID: 1, Email: "a@example.com"}})
	_ = h(context.Background(), streamq.Msg[Order]{ID: "2-0", Value: Order{ID: 2}})
	// Output:
	// start 1-0
	// handled
	// done 1-0 <nil>
	// start 2-0
	// done 2-0 order 2 has no email: streamq: skip retry
}

// Names are checked before any I/O, with the fix in the message. All keys
// of a queue share its {name} hash tag, so it works on Redis Cluster.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	_, err := streamq.New[Order](rdb, "new orders", streamq.Config{})
	fmt.Println(err)
	fmt.Println(errors.Is(err, streamq.ErrInvalid))

	q, _ := streamq.New[Order](rdb, "orders", streamq.Config{KeyPrefix: "shop:"})
	fmt.Println(q.StreamKey())
	// Output:
	// streamq: invalid input: queue name "new orders" contains ' '; use printable characters without spaces or braces
	// true
	// shop:{orders}
}

// Retries wait 1s, 2s, 4s, ... up to an hour, plus up to 25% jitter.
func ExampleDefaultBackoff() {
	base := time.Second
	for attempt := 1; attempt <= 4; attempt++ {
		d := streamq.DefaultBackoff(attempt, nil)
		fmt.Printf("retry %d after %v to %v: %v\n", attempt, base, base+base/4, d >= base && d <= base+base/4)
		base *= 2
	}
	// Output:
	// retry 1 after 1s to 1.25s: true
	// retry 2 after 2s to 2.5s: true
	// retry 3 after 4s to 5s: true
	// retry 4 after 8s to 10s: true
}

// traceKey carries a W3C trace context (traceparent) in a context.Context,
// standing in for a tracing library's span context.
type traceKey struct{}

// traced is the producer side: the traceparent of the caller's context
// becomes a header of the message (pass it to Add, AddBatch, ProcessIn...).
func traced(ctx context.Context) streamq.Option {
	tp, _ := ctx.Value(traceKey{}).(string)
	if tp == "" {
		return streamq.Option{} // the zero Option does nothing
	}
	return streamq.Header("traceparent", tp)
}

// withTrace is the consumer side: handler middleware that puts the
// message's traceparent into the handler's context, as a child span of the
// producer's (same trace ID, the parent span ID the producer sent).
func withTrace[T any](next streamq.Handler[T]) streamq.Handler[T] {
	return func(ctx context.Context, m streamq.Msg[T]) error {
		if tp := m.Headers["traceparent"]; tp != "" {
			ctx = context.WithValue(ctx, traceKey{}, tp)
		}
		return next(ctx, m)
	}
}

// Headers carry a W3C traceparent (https://www.w3.org/TR/trace-context/)
// from producer to handler through middleware on both sides, with no
// tracing dependency in streamq. Headers survive retries, dead letters and
// requeues. (The delivery is simulated here; with Redis, q.Add(ctx, order,
// traced(ctx)) and a consumer built with withTrace do the same.)
func ExampleHeader() {
	ctx := context.WithValue(context.Background(), traceKey{}, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	opt := traced(ctx) // q.Add(ctx, order, opt)
	_ = opt

	h := streamq.Chain(withTrace[Order])(func(ctx context.Context, m streamq.Msg[Order]) error {
		fmt.Println("handling order", m.Value.ID, "in trace", ctx.Value(traceKey{}))
		return nil
	})
	delivered := streamq.Msg[Order]{ID: "1-0", Value: Order{ID: 7}, Headers: map[string]string{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}}
	_ = h(context.Background(), delivered)
	// Output:
	// handling order 7 in trace 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}
