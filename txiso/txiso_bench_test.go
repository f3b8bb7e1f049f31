package txiso_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goplumb/plumb/txiso"
)

// BenchmarkUpdate measures what Run adds to an uncontended one-row update
// at read committed: hand-written is BeginTx (with the same TxOptions),
// ExecContext, Commit. Goal: plumb within 1.05× of hand-written. On a
// loaded machine the round trips' noise dwarfs the difference; allocs/op
// and B/op show what Run adds (a Tx, a context value, the options).
func BenchmarkUpdate(b *testing.B) {
	db, _ := pgDB(b, "postgres")
	exec(b, db, "create table t (id int primary key, v bigint not null)")
	exec(b, db, "insert into t values (1, 0)")
	ctx := context.Background()
	const q = "update t set v = v + 1 where id = 1"
	b.Run("plumb", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			err := txiso.Run(ctx, db, func(ctx context.Context, tx *txiso.Tx) error {
				_, err := tx.Exec(ctx, q)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hand-written", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, q); err != nil {
				_ = tx.Rollback()
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkContended measures committed transfers per second under the
// contention workload of TestContendedTransfers at Serializable: 16 worker
// goroutines move money between 10 accounts; one op is one transfer, fed
// to the workers by the b.Loop goroutine, so ns/op is wall time per
// transfer at 16-way concurrency. plumb is Run (capped full-jitter
// exponential backoff); naive-retry is the hand-rolled loop with a fixed
// 10 ms sleep. Both check COMMIT, so every reported commit is real;
// commits/s is the number to compare (goal ≥ 1.5×).
func BenchmarkContended(b *testing.B) {
	for _, v := range []struct {
		name string
		s    strategy
	}{{"plumb", viaRun}, {"naive-retry", naiveRetry}} {
		b.Run(v.name, func(b *testing.B) { contended(b, v.s) })
	}
}

// contended runs the BenchmarkContended workload through s.
func contended(b *testing.B, s strategy) {
	db, _ := pgDB(b, "postgres")
	setupBank(b, db)
	ctx := context.Background()
	var committed, failed, retries atomic.Int64
	jobs := make(chan transfer)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() { // ends when jobs is closed
			defer wg.Done()
			for tr := range jobs {
				if err := s(ctx, db, tr, &retries); err != nil {
					failed.Add(1)
				} else {
					committed.Add(1)
				}
			}
		}()
	}
	r := rand.New(rand.NewPCG(1, 2))
	var id int64
	start := time.Now()
	for b.Loop() {
		id++
		jobs <- newTransfer(id, r)
	}
	close(jobs)
	wg.Wait() // the drain counts: commits/s is from the first transfer to the last commit
	elapsed := time.Since(start)
	n := committed.Load() + failed.Load()
	b.ReportMetric(float64(committed.Load())/elapsed.Seconds(), "commits/s")
	b.ReportMetric(float64(retries.Load())/float64(n), "retries/transfer")
	b.ReportMetric(float64(failed.Load())/float64(n), "failed/transfer")
}

// naiveRetry is the hand-rolled loop of the benchmark's anchor: fixed 10 ms
// sleep, no jitter, but it does check COMMIT.
func naiveRetry(ctx context.Context, db *sql.DB, tr transfer, retries *atomic.Int64) error {
	var err error
	for range 50 {
		var tx *sql.Tx
		tx, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		if err != nil {
			return err
		}
		if err = tr.apply(ctx, sqlTx{tx}); err == nil {
			if err = tx.Commit(); err == nil {
				return nil
			}
		} else {
			_ = tx.Rollback()
		}
		if !txiso.IsRetryable(err) {
			return err
		}
		retries.Add(1)
		time.Sleep(10 * time.Millisecond)
	}
	return err
}
