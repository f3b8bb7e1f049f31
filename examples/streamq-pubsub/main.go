// Command streamq-pubsub shows fan-out with streamq: one stream of order
// events, two consumer groups ("billing" with two consumers sharing the
// work, "email" with one) that each receive every event, and a group-less
// Subscriber ("audit") that sees every event added while it runs. At the
// end it prints who got what and shuts everything down gracefully.
//
//	go run ./examples/tour streamq-pubsub     # starts redis-server for it
//	PLUMB_REDIS_URL=redis://localhost:6379/0 go run ./examples/streamq-pubsub
//
// Without PLUMB_REDIS_URL it starts a redis-server of its own (it must be
// installed) and stops it at the end. It runs for a few seconds; Ctrl-C
// (SIGINT) or SIGTERM shuts it down cleanly at any time.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/goplumb/plumb/internal/services"
	"github.com/goplumb/plumb/streamq"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if cerr := services.CloseAll(); cerr != nil {
		fmt.Fprintln(os.Stderr, "streamq-pubsub: stopping redis-server:", cerr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "streamq-pubsub:", err)
		os.Exit(1)
	}
}

func redisOptions(ctx context.Context) (*redis.Options, error) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u, started, err := services.RedisURL(sctx)
	if err != nil {
		return nil, err
	}
	if started {
		fmt.Println("started redis-server at", u)
	}
	return redis.ParseURL(u)
}

// OrderPlaced is the event published on the stream.
type OrderPlaced struct {
	Order int     `json:"order"`
	Total float64 `json:"total"`
}

// tally records which reader saw which order.
type tally struct {
	mu   sync.Mutex
	seen map[string]map[int]int // reader -> order -> times
}

func (t *tally) add(reader string, order int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen[reader] == nil {
		t.seen[reader] = map[int]int{}
	}
	t.seen[reader][order]++
}

func (t *tally) count(reader string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen[reader])
}

const events = 30

func run(ctx context.Context) error {
	opts, err := redisOptions(ctx)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	prefix := fmt.Sprintf("example-%d-%d:", os.Getpid(), time.Now().UnixNano())
	defer cleanup(rdb, prefix)

	q, err := streamq.New[OrderPlaced](rdb, "orders", streamq.Config{KeyPrefix: prefix})
	if err != nil {
		return err
	}
	// Groups exist before the first event, so each one gets all of them.
	for _, g := range []string{"billing", "email"} {
		if err := q.CreateGroup(ctx, g, false); err != nil {
			return err
		}
	}

	t := &tally{seen: map[string]map[int]int{}}
	rctx, stopReaders := context.WithCancel(ctx)
	var wg sync.WaitGroup
	runIt := func(r interface{ Run(context.Context) error }) {
		wg.Add(1)
		go func() { // ends when rctx is cancelled and r shut down
			defer wg.Done()
			if err := r.Run(rctx); err != nil {
				fmt.Fprintln(os.Stderr, "reader:", err)
			}
		}()
	}
	for _, c := range []struct{ group, name string }{{"billing", "billing-1"}, {"billing", "billing-2"}, {"email", "email-1"}} {
		cons, err := q.NewConsumer(c.group, func(_ context.Context, m streamq.Msg[OrderPlaced]) error {
			if m.Value.Order == 0 {
				return nil // warm-up event (see below)
			}
			t.add(m.Group, m.Value.Order)
			t.add(m.Consumer, m.Value.Order)
			time.Sleep(5 * time.Millisecond) // the work
			return nil
		}, streamq.ConsumerConfig{Name: c.name, BatchSize: 5, Block: 200 * time.Millisecond})
		if err != nil {
			stopReaders()
			return err
		}
		runIt(cons)
	}
	ready := make(chan struct{})
	var readyOnce sync.Once
	sub, err := q.NewSubscriber(func(_ context.Context, m streamq.Msg[OrderPlaced]) error {
		if m.Value.Order == 0 { // the warm-up event below
			readyOnce.Do(func() { close(ready) })
			return nil
		}
		t.add("audit", m.Value.Order)
		return nil
	}, streamq.SubscriberConfig{Block: 200 * time.Millisecond})
	if err != nil {
		stopReaders()
		return err
	}
	runIt(sub)

	// A Subscriber reads from "$" (events added after it started): publish
	// a warm-up event until it has seen one, then the real ones.
	for ready := ready; ready != nil; {
		if _, err := q.Add(ctx, OrderPlaced{}); err != nil {
			stopReaders()
			return err
		}
		select {
		case <-ready:
			ready = nil
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			stopReaders()
			wg.Wait()
			return nil
		}
	}
	fmt.Printf("== publishing %d OrderPlaced events\n", events)
	for i := 1; i <= events; i++ {
		if _, err := q.Add(ctx, OrderPlaced{Order: i, Total: float64(i) * 9.99}); err != nil {
			stopReaders()
			return err
		}
	}

	deadline := time.Now().Add(15 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) &&
		(t.count("billing") < events || t.count("email") < events || t.count("audit") < events) {
		time.Sleep(20 * time.Millisecond)
	}
	stopReaders()
	wg.Wait()
	if ctx.Err() != nil {
		fmt.Println("interrupted: readers shut down")
	}

	fmt.Println("\n== who received what")
	t.mu.Lock()
	readers := make([]string, 0, len(t.seen))
	for r := range t.seen {
		readers = append(readers, r)
	}
	sort.Strings(readers)
	for _, r := range readers {
		kind := "consumer"
		switch r {
		case "billing", "email":
			kind = "group"
		case "audit":
			kind = "subscriber"
		}
		fmt.Printf("%-10s %-10s %2d of %d events\n", kind, r, len(t.seen[r]), events)
	}
	t.mu.Unlock()
	fmt.Println("each group got every event; billing's two consumers split theirs; the subscriber saw every event too")

	st, err := q.Stats(context.Background())
	if err != nil {
		return err
	}
	for _, g := range st.Groups {
		fmt.Printf("group %-8s lag %d, pending %d\n", g.Name, g.Lag, g.Pending)
	}
	if t.count("billing") < events || t.count("email") < events || t.count("audit") < events {
		if ctx.Err() == nil {
			return fmt.Errorf("not every reader got every event within 15s")
		}
	}
	return nil
}

// cleanup deletes the example's keys.
func cleanup(rdb *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		_ = rdb.Del(ctx, keys...).Err()
	}
}
