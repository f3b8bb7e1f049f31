package pgxtx_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/txiso"
	"github.com/goplumb/plumb/txiso/pgxtx"
)

// The contention workload of txiso's TestContendedTransfers on pgx's
// native API: goroutines move money between 10 accounts at Serializable;
// each transfer reads both balances and the source's ledger (a predicate
// read, so SSI fails some transactions only at COMMIT) and appends to the
// ledger. The audit compares the ledger with what Run reported.

const (
	accounts       = 10
	initialBalance = 1_000_000
)

func setupBank(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	exec(t, pool, "create table accounts (id int primary key, balance bigint not null)")
	exec(t, pool, "create table ledger (id bigint primary key, src int not null, dst int not null, amount int not null)")
	exec(t, pool, "create index on ledger (src)")
	exec(t, pool, "insert into accounts select g, $1 from generate_series(1, $2) g", initialBalance, accounts)
}

type transfer struct {
	id       int64
	src, dst int
	amount   int
	ordered  bool // update the accounts in id order: no deadlocks (benchmarks)
}

func newTransfer(id int64, r *rand.Rand) transfer {
	src := 1 + r.IntN(accounts)
	dst := 1 + r.IntN(accounts-1)
	if dst >= src {
		dst++
	}
	return transfer{id: id, src: src, dst: dst, amount: 1 + r.IntN(100)}
}

func (tr transfer) apply(ctx context.Context, q DBTX) error {
	var bal, sent int64
	if err := q.QueryRow(ctx, "select balance from accounts where id = $1", tr.src).Scan(&bal); err != nil {
		return err
	}
	if err := q.QueryRow(ctx, "select coalesce(sum(amount), 0) from ledger where src = $1", tr.src).Scan(&sent); err != nil {
		return err
	}
	const upd = "update accounts set balance = balance + $1 where id = $2"
	first, second := []any{-tr.amount, tr.src}, []any{tr.amount, tr.dst}
	if tr.ordered && tr.dst < tr.src {
		first, second = second, first
	}
	if _, err := q.Exec(ctx, upd, first...); err != nil {
		return err
	}
	if _, err := q.Exec(ctx, upd, second...); err != nil {
		return err
	}
	_, err := q.Exec(ctx, "insert into ledger (id, src, dst, amount) values ($1, $2, $3, $4)", tr.id, tr.src, tr.dst, tr.amount)
	return err
}

func viaRun(ctx context.Context, pool *pgxpool.Pool, tr transfer) error {
	return pgxtx.Run(ctx, pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		return tr.apply(ctx, tx)
	}, txiso.Serializable, txiso.MaxAttempts(50))
}

// TestContendedTransfers: 16 goroutines × 100 transfers through pgxtx.Run;
// every transfer reported committed is in the ledger exactly once, none
// reported failed is, and the balances agree with the ledger.
func TestContendedTransfers(t *testing.T) {
	if testing.Short() {
		t.Skip("contention soak")
	}
	pool, _ := pgPool(t, 20)
	setupBank(t, pool)
	const workers, perWorker = 16, 100
	var mu sync.Mutex
	var committed, failed []int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range perWorker {
				tr := newTransfer(int64(w*perWorker+i), r)
				err := viaRun(context.Background(), pool, tr)
				mu.Lock()
				if err == nil {
					committed = append(committed, tr.id)
				} else {
					failed = append(failed, tr.id)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	inLedger := map[int64]int{}
	rows, err := pool.Query(context.Background(), "select id from ledger")
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		inLedger[id]++
	}
	require.NoError(t, rows.Err())
	lost, dup, phantom := 0, 0, 0
	for _, id := range committed {
		switch inLedger[id] {
		case 0:
			lost++
		case 1:
		default:
			dup++
		}
	}
	for _, id := range failed {
		if inLedger[id] > 0 {
			phantom++
		}
	}
	var total int64
	var mismatched int
	require.NoError(t, pool.QueryRow(context.Background(), "select sum(balance) from accounts").Scan(&total))
	require.NoError(t, pool.QueryRow(context.Background(), `select count(*) from accounts a where a.balance <> $1
		- coalesce((select sum(amount) from ledger where src = a.id), 0)
		+ coalesce((select sum(amount) from ledger where dst = a.id), 0)`, initialBalance).Scan(&mismatched))
	t.Logf("committed %d, failed %d", len(committed), len(failed))
	assert.Equal(t, workers*perWorker, len(committed)+len(failed))
	assert.Zero(t, lost, "reported committed but not in the ledger")
	assert.Zero(t, phantom, "reported failed but in the ledger")
	assert.Zero(t, dup)
	assert.EqualValues(t, accounts*initialBalance, total)
	assert.Zero(t, mismatched, "balances agree with the ledger")
}

// naiveRetry is the benchmarks' anchor: a hand-rolled pgx loop with a fixed
// 10 ms sleep, no jitter, that does check COMMIT.
func naiveRetry(ctx context.Context, pool *pgxpool.Pool, tr transfer) error {
	var err error
	for range 50 {
		err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(tx pgx.Tx) error {
			return tr.apply(ctx, tx)
		})
		if err == nil || !txiso.IsRetryable(err) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}
