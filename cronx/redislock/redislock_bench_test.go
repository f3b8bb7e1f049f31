package redislock_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/redislock"
	"github.com/goplumb/plumb/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// counter is a go-redis hook counting round trips (commands and pipelines).
type counter struct{ n atomic.Int64 }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// BenchmarkClaim is what one replica does with Redis per tick: plumb claims
// the tick (and, with NoClusterOverlap, releases the running lease at the
// end); the anchor is the bare SET NX PX a lock-by-name would do (without
// its DEL at the end, which plumb does not need). roundtrips/tick counts
// the client's round trips with a go-redis hook.
func BenchmarkClaim(b *testing.B) {
	env := testenv.Redis(b)
	ctx := context.Background()
	base := time.Unix(1_700_000_000, 0)
	// Each invocation (go test -count) claims under job names of its own.
	var inv atomic.Int64
	name := func(s string) string { return fmt.Sprintf("%s-%d", s, inv.Load()) }
	b.Run("plumb", func(b *testing.B) {
		inv.Add(1)
		c := env.NewClient(b)
		var cnt counter
		c.AddHook(&cnt)
		coord, err := redislock.New(c, redislock.Config{Prefix: env.Prefix + "p:", ClaimTTL: time.Minute, SkewBudget: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Ping(ctx).Err(); err != nil { // connect outside the count
			b.Fatal(err)
		}
		if _, err := coord.Claim(ctx, name("warm"), base, "r", cronx.ClaimOptions{}); err != nil { // loads the script
			b.Fatal(err)
		}
		cnt.n.Store(0)
		i := 0
		for b.Loop() {
			i++
			l, err := coord.Claim(ctx, name("job"), base.Add(time.Duration(i)*time.Second), "r", cronx.ClaimOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Release(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cnt.n.Load())/float64(i), "roundtrips/tick")
	})
	b.Run("plumb-nooverlap", func(b *testing.B) {
		inv.Add(1)
		c := env.NewClient(b)
		var cnt counter
		c.AddHook(&cnt)
		coord, err := redislock.New(c, redislock.Config{Prefix: env.Prefix + "q:", ClaimTTL: time.Minute, SkewBudget: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		warm, err := coord.Claim(ctx, name("warm"), base, "r", cronx.ClaimOptions{NoClusterOverlap: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := warm.Release(ctx, nil); err != nil {
			b.Fatal(err)
		}
		cnt.n.Store(0)
		i := 0
		for b.Loop() {
			i++
			l, err := coord.Claim(ctx, name("job"), base.Add(time.Duration(i)*time.Second), "r", cronx.ClaimOptions{NoClusterOverlap: true})
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Release(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cnt.n.Load())/float64(i), "roundtrips/tick")
	})
	b.Run("raw-go-redis", func(b *testing.B) {
		inv.Add(1)
		c := env.NewClient(b)
		var cnt counter
		c.AddHook(&cnt)
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		cnt.n.Store(0)
		i := 0
		for b.Loop() {
			i++
			if err := c.SetNX(ctx, env.Prefix+name("raw")+":"+strconv.Itoa(i), "r", time.Minute).Err(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cnt.n.Load())/float64(i), "roundtrips/tick")
	})
}
