package pgxtx_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goplumb/plumb/txiso"
	"github.com/goplumb/plumb/txiso/pgxtx"
)

// BenchmarkUpdate measures pgxtx.Run against pgx.BeginTxFunc, its anchor,
// on an uncontended one-row update at read committed on a pgxpool. Each op
// runs one transaction through each (in alternating order), timed
// separately, so both see the same server state; begintxfunc-per-plumb is
// the anchor's time over plumb's (goal ≥ 0.95: plumb at most ~5% slower).
func BenchmarkUpdate(b *testing.B) {
	pool, _ := pgPool(b, 0)
	ctx := context.Background()
	const q = "update t set v = v + 1 where id = 1"
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	variants := []func() error{
		func() error {
			return pgxtx.Run(ctx, pool, func(ctx context.Context, tx *pgxtx.Tx) error {
				_, err := tx.Exec(ctx, q)
				return err
			}, txiso.ReadCommitted)
		},
		func() error {
			return pgx.BeginTxFunc(ctx, pool, opts, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, q)
				return err
			})
		},
	}
	// Warm up the connection and the server before measuring either.
	for start := time.Now(); time.Since(start) < time.Second; {
		exec(b, pool, q)
	}
	var took [2]time.Duration
	for i := 0; b.Loop(); i++ {
		for k := range 2 {
			v := (i + k) % 2
			t0 := time.Now()
			if err := variants[v](); err != nil {
				b.Fatal(err)
			}
			took[v] += time.Since(t0)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(took[0].Nanoseconds())/n, "plumb-ns/tx")
	b.ReportMetric(float64(took[1].Nanoseconds())/n, "begintxfunc-ns/tx")
	b.ReportMetric(float64(took[1])/float64(took[0]), "begintxfunc-per-plumb")
}

// BenchmarkContendedVsNaive is txiso's contended-transfer benchmark on
// pgx's native API: 16 workers, Serializable, pgxtx.Run against a
// hand-rolled pgx.BeginTxFunc loop with a fixed 10 ms sleep, in
// interleaved windows of one second each (see txiso's
// BenchmarkContendedVsNaive); plumb-per-naive is the ratio of committed
// transfers per second (goal ≥ 1.5×). Use a small -benchtime, e.g. 3x.
func BenchmarkContendedVsNaive(b *testing.B) {
	pool, _ := pgPool(b, 20)
	setupBank(b, pool)
	var nextID atomic.Int64
	variants := []func(context.Context, transfer) error{
		func(ctx context.Context, tr transfer) error { return viaRun(ctx, pool, tr) },
		func(ctx context.Context, tr transfer) error { return naiveRetry(ctx, pool, tr) },
	}
	const window = time.Second
	var commits [2]int64
	windows := 0
	for i := 0; b.Loop(); i++ {
		for k := range 2 {
			v := (i + k) % 2
			var committed atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for w := range 16 {
				wg.Add(1)
				go func() { // ends at its first transfer finished after the window
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
					for time.Since(start) < window {
						tr := newTransfer(nextID.Add(1), r)
						tr.ordered = true
						if err := variants[v](context.Background(), tr); err == nil && time.Since(start) < window {
							committed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			commits[v] += committed.Load()
		}
		windows++
	}
	secs := window.Seconds() * float64(windows)
	b.ReportMetric(float64(commits[0])/secs, "plumb-commits/s")
	b.ReportMetric(float64(commits[1])/secs, "naive-commits/s")
	if commits[1] > 0 {
		b.ReportMetric(float64(commits[0])/float64(commits[1]), "plumb-per-naive")
	}
}
