// Command streamq-queue runs a small work queue on Redis Streams with
// streamq: two workers of one consumer group share 20 "send email" jobs, a
// delayed job, a job that fails twice and then succeeds (retried with
// backoff), a job that always fails (dead-lettered after 3 deliveries) and
// a payload that cannot be decoded (dead-lettered at once, the workers keep
// going). At the end it shuts the workers down gracefully, prints the queue
// statistics and the dead letters, requeues one of them, and cleans up.
//
//	go run ./examples/tour streamq-queue     # starts redis-server for it
//	PLUMB_REDIS_URL=redis://localhost:6379/0 go run ./examples/streamq-queue
//
// Without PLUMB_REDIS_URL it starts a redis-server of its own (it must be
// installed) and stops it at the end. It runs for a few seconds; Ctrl-C
// (SIGINT) or SIGTERM shuts it down cleanly at any time.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
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
		fmt.Fprintln(os.Stderr, "streamq-queue: stopping redis-server:", cerr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "streamq-queue:", err)
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

// Email is the job payload.
type Email struct {
	N  int    `json:"n"`
	To string `json:"to"`
}

func run(ctx context.Context) error {
	opts, err := redisOptions(ctx)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	// A prefix of our own, so reruns and other programs on the same Redis
	// never mix; the keys are deleted at the end.
	prefix := fmt.Sprintf("example-%d-%d:", os.Getpid(), time.Now().UnixNano())
	defer cleanup(rdb, prefix)

	q, err := streamq.New[Email](rdb, "emails", streamq.Config{KeyPrefix: prefix})
	if err != nil {
		return err
	}
	// Create the group before adding, so the group sees every job.
	if err := q.CreateGroup(ctx, "mailer", false); err != nil {
		return err
	}

	fmt.Println("== producing")
	jobs := make([]Email, 20)
	for i := range jobs {
		jobs[i] = Email{N: i + 1, To: fmt.Sprintf("user%d@example.com", i+1)}
	}
	jobs[12].To = "" // job 13 always fails: no address
	if _, err := q.AddBatch(ctx, jobs); err != nil {
		return err
	}
	fmt.Println("added 20 jobs in one pipelined round trip")
	if err := q.ProcessIn(ctx, Email{N: 21, To: "later@example.com"}, time.Second); err != nil {
		return err
	}
	fmt.Println("scheduled job 21 to run in 1s")
	// A payload no Email decodes from, as a buggy producer might write.
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.StreamKey(), Values: []string{"d", "{not json"}}).Err(); err != nil {
		return err
	}
	fmt.Println("added one undecodable payload")

	var (
		mu    sync.Mutex
		sent  = map[int]string{} // job -> worker that sent it
		flaky atomic.Int32       // job 7's attempts
		dead  atomic.Int32
	)
	handler := func(_ context.Context, m streamq.Msg[Email]) error {
		if m.Value.To == "" {
			return fmt.Errorf("job %d has no recipient", m.Value.N)
		}
		if m.Value.N == 7 && flaky.Add(1) < 3 {
			return errors.New("smtp: 421 try again later")
		}
		time.Sleep(20 * time.Millisecond) // the "work"
		mu.Lock()
		sent[m.Value.N] = m.Consumer
		mu.Unlock()
		return nil
	}
	hooks := streamq.Hooks{
		OnRetry: func(info streamq.MsgInfo, err error, delay time.Duration) {
			fmt.Print(wrap("  retry  "+info.OriginalID, fmt.Sprintf("attempt %d failed (%v); again in %v", info.Attempt, err, delay.Round(time.Millisecond))))
		},
		OnDead: func(info streamq.MsgInfo, err error) {
			dead.Add(1)
			fmt.Print(wrap("  dead   "+info.OriginalID, fmt.Sprintf("after %d attempt(s): %v", info.Attempt, err)))
		},
	}
	cfg := streamq.ConsumerConfig{
		Concurrency:   4,
		BatchSize:     5, // small batches for slow jobs, so both workers get work
		MaxDeliveries: 3,
		Backoff:       func(attempt int, _ error) time.Duration { return time.Duration(attempt) * 200 * time.Millisecond },
		Block:         200 * time.Millisecond,
		Hooks:         hooks,
	}

	fmt.Println("\n== consuming with two workers of group \"mailer\"")
	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, name := range []string{"worker-1", "worker-2"} {
		cfg.Name = name
		c, err := q.NewConsumer("mailer", handler, cfg)
		if err != nil {
			stopWorkers()
			return err
		}
		wg.Add(1)
		go func() { // ends when wctx is cancelled and the worker shut down
			defer wg.Done()
			if err := c.Run(wctx); err != nil {
				fmt.Fprintln(os.Stderr, "worker:", err)
			}
		}()
	}

	// 20 jobs + the delayed one, minus job 13, are sent; job 13 and the
	// bad payload are dead letters.
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			fmt.Println("\ninterrupted: shutting down")
			done = true
		case <-deadline:
			fmt.Println("\nnot everything finished in 20s: shutting down")
			done = true
		case <-tick.C:
			mu.Lock()
			n := len(sent)
			mu.Unlock()
			done = n == 20 && dead.Load() == 2
		}
	}
	tick.Stop()
	t0 := time.Now()
	stopWorkers()
	wg.Wait()
	fmt.Printf("workers stopped in %v: in-flight jobs finished, acks flushed, group left\n", time.Since(t0).Round(time.Millisecond))

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mu.Lock()
	per := map[string]int{}
	for _, w := range sent {
		per[w]++
	}
	fmt.Printf("\n== sent %d emails (worker-1: %d, worker-2: %d); job 7 took %d attempts\n", len(sent), per["worker-1"], per["worker-2"], flaky.Load())
	mu.Unlock()

	st, err := q.Stats(sctx)
	if err != nil {
		return err
	}
	fmt.Printf("stream length %d, delayed %d\n", st.Length, st.Delayed)
	for _, g := range st.Groups {
		fmt.Printf("group %s: lag %d, pending %d, retries scheduled %d, dead letters %d, consumers %d\n",
			g.Name, g.Lag, g.Pending, g.RetryScheduled, g.DeadLetters, len(g.Consumers))
	}
	if tr, err := q.Trim(sctx); err == nil {
		fmt.Printf("trimmed %d entries every group had acknowledged\n", tr.Trimmed)
	}

	fmt.Println("\n== dead letters")
	dls, err := q.DeadLetters(sctx, "mailer", "", 100)
	if err != nil {
		return err
	}
	for _, dl := range dls {
		if dl.DecodeErr != nil {
			fmt.Print(wrap(dl.OriginalID, fmt.Sprintf("payload %q: %s -> deleted", dl.Payload, dl.Err)))
			if _, err := q.DeleteDeadLetters(sctx, "mailer", dl.ID); err != nil {
				return err
			}
			continue
		}
		fmt.Print(wrap(dl.OriginalID, fmt.Sprintf("job %d, %d attempts, last error %q -> requeued", dl.Value.N, dl.Attempts, dl.Err)))
		if _, err := q.RequeueDeadLetters(sctx, "mailer", dl.ID); err != nil {
			return err
		}
	}
	st, err = q.Stats(sctx)
	if err != nil {
		return err
	}
	if len(st.Groups) == 1 {
		fmt.Print(wrap("dead letters left:", fmt.Sprintf("%d (a requeued job runs again, with fresh attempts, on the group's next worker)", st.Groups[0].DeadLetters)))
	}
	return nil
}

// wrap returns prefix and text as lines of at most 100 columns (a word
// longer than that stands alone), continuation lines indented by four
// spaces, each ending in a newline. One string, so that lines printed by
// concurrent handlers never interleave.
func wrap(prefix string, text any) string {
	var b strings.Builder
	line := prefix
	for _, w := range strings.Fields(fmt.Sprint(text)) {
		switch {
		case strings.TrimSpace(line) == "": // only indentation so far
			line += w
		case len(line)+1+len(w) > 100:
			b.WriteString(line + "\n")
			line = "    " + w
		default:
			if !strings.HasSuffix(line, " ") {
				line += " "
			}
			line += w
		}
	}
	b.WriteString(line + "\n")
	return b.String()
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
