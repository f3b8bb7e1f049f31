package asynqx_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/asynqx"
	"github.com/hibiken/asynq"
)

// Every replica runs the same scheduler code; asynq accepts one enqueue per
// tick, and the workers run the job with its RunInfo.
func Example() {
	redisOpt := asynq.RedisClientOpt{Addr: "localhost:6379"}
	client := asynq.NewClient(redisOpt)
	defer client.Close()

	// Scheduler side, on every replica.
	s, err := cronx.New(cronx.Config{Location: time.UTC})
	if err != nil {
		log.Fatal(err)
	}
	enqueue, err := asynqx.Enqueue(client, "invoice-run", asynqx.Config{MaxRetry: 5, Retention: 10 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Add("invoice-run", "*/5 * * * *", enqueue); err != nil {
		log.Fatal(err)
	}

	// Worker side.
	mux := asynq.NewServeMux()
	mux.Handle(asynqx.TaskType("invoice-run"), asynqx.Handler(func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		log.Printf("invoices for tick %s, attempt %d", ri.Tick, ri.Attempt)
		return nil
	}))
	_ = mux // srv := asynq.NewServer(redisOpt, asynq.Config{}); srv.Run(mux)
}

// Task IDs are per tick, so every replica computes the same one.
func ExampleTaskID() {
	tick := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	fmt.Println(asynqx.TaskType("invoice-run"))
	fmt.Println(asynqx.TaskID("invoice-run", tick))
	// Output:
	// cronx:invoice-run
	// invoice-run:1735722000
}
