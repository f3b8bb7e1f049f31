package redislock_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/redislock"
	"github.com/redis/go-redis/v9"
)

// Every replica runs the same code; each tick runs on one of them.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"}) // or redis.NewClusterClient
	defer rdb.Close()
	coord, err := redislock.New(rdb, redislock.Config{SkewBudget: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	s, err := cronx.New(cronx.Config{Location: time.UTC, Coordinator: coord})
	if err != nil {
		log.Fatal(err)
	}
	err = s.Add("invoice-run", "*/5 * * * *", func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		// Pass ri.Fence to stores that must reject stale writers.
		log.Printf("tick %s on %s, fence %d", ri.Tick, ri.Replica, ri.Fence)
		return nil
	}, cronx.OncePerTick())
	if err != nil {
		log.Fatal(err)
	}
	// s.Start(); ... s.Shutdown(ctx)
}

// The keys of a job share the hash tag {job}, so one Lua script can touch
// them all on a Redis Cluster.
func ExampleCoordinator_Keys() {
	coord, _ := redislock.New(redis.NewClient(&redis.Options{}), redislock.Config{})
	tick, fence, lease := coord.Keys("invoice-run", time.Unix(1735722000, 0))
	fmt.Println(tick)
	fmt.Println(fence)
	fmt.Println(lease)
	// Output:
	// cronx:{invoice-run}:tick:1735722000
	// cronx:{invoice-run}:fence
	// cronx:{invoice-run}:lease
}

// A claim TTL shorter than twice the skew budget is refused.
func ExampleNew() {
	_, err := redislock.New(redis.NewClient(&redis.Options{}), redislock.Config{SkewBudget: time.Minute, ClaimTTL: time.Minute})
	fmt.Println(err)
	// Output:
	// cronx: invalid input: redislock: ClaimTTL 1m0s is shorter than 2 × SkewBudget (1m0s): a replica late by more than the TTL would find the claim gone and run the tick again; raise ClaimTTL to at least 2m0s
}
