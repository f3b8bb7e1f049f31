package pgxtx_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/txiso"
	"github.com/goplumb/plumb/txiso/pgxtx"
)

var fast = txiso.Backoff(txiso.JitterBackoff(time.Millisecond, 10*time.Millisecond))

// sqlc's DBTX for pgx/v5, as sqlc generates it.
type DBTX interface {
	Exec(context.Context, string, ...interface{}) (pgconn.CommandTag, error)
	Query(context.Context, string, ...interface{}) (pgx.Rows, error)
	QueryRow(context.Context, string, ...interface{}) pgx.Row
	CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

var _ DBTX = (*pgxtx.Tx)(nil)

// The Beginners pgx users have.
var (
	_ pgxtx.Beginner = (*pgxpool.Pool)(nil)
	_ pgxtx.Beginner = (*pgxpool.Conn)(nil)
	_ pgxtx.Beginner = (*pgx.Conn)(nil)
	_ pgxtx.Beginner = pgx.Tx(nil)
)

func show(ctx context.Context, tx *pgxtx.Tx) (string, error) {
	var l, ro, def string
	err := tx.QueryRow(ctx, "select current_setting('transaction_isolation'), current_setting('transaction_read_only'), current_setting('transaction_deferrable')").Scan(&l, &ro, &def)
	return l + "/" + ro + "/" + def, err
}

func TestLevelsReachServer(t *testing.T) {
	pool, _ := pgPool(t, 0)
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	for _, db := range []pgxtx.Beginner{pool, conn, conn.Conn()} {
		for _, tc := range []struct {
			opts []txiso.Option
			want string
		}{
			{nil, "read committed/off/off"},
			{[]txiso.Option{txiso.RepeatableRead}, "repeatable read/off/off"},
			{[]txiso.Option{txiso.Serializable, txiso.ReadOnly()}, "serializable/on/off"},
			{[]txiso.Option{txiso.Serializable, txiso.ReadOnly(), txiso.Deferrable()}, "serializable/on/on"},
		} {
			got, err := pgxtx.Value(ctx, db, show, append(tc.opts, txiso.VerifyLevel())...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "%T %v", db, tc.opts)
		}
	}
	_, err = pgxtx.Value(ctx, pool, show, txiso.Deferrable())
	assert.ErrorIs(t, err, txiso.ErrInvalid)
	var nilPool *pgxpool.Pool
	assert.ErrorIs(t, pgxtx.Run(ctx, nilPool, func(context.Context, *pgxtx.Tx) error { return nil }), txiso.ErrInvalid)
	assert.ErrorIs(t, pgxtx.Run(ctx, pool, nil), txiso.ErrInvalid)
}

func TestWriteSkewRetried(t *testing.T) {
	pool, _ := pgPool(t, 0)
	var wg, read sync.WaitGroup
	read.Add(2)
	var retries atomic.Int32
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
				var sum int
				if err := tx.QueryRow(ctx, "select sum(v) from t").Scan(&sum); err != nil {
					return err
				}
				if tx.Attempt() == 1 {
					read.Done()
					read.Wait()
				}
				_, err := tx.Exec(ctx, "update t set v = $1 where id = $2", sum, i+1)
				return err
			}, txiso.Serializable, fast, txiso.OnRetry(func(ri txiso.RetryInfo) {
				assert.Equal(t, "40001", ri.SQLState)
				retries.Add(1)
			}))
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	// At least one (the first attempts cannot both commit); more is legal.
	assert.GreaterOrEqual(t, retries.Load(), int32(1))
	a, b := value(t, pool, 1), value(t, pool, 2)
	assert.True(t, (a == 30 && b == 50) || (a == 40 && b == 30), "a serial result, got %d %d", a, b)
}

// A 40001 fn swallowed is still retried; a failure on Raw is seen through
// the connection's status, and COMMIT is not sent.
func TestSwallowedErrorRetried(t *testing.T) {
	pool, _ := pgPool(t, 0)
	var infos []txiso.RetryInfo
	err := pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		var v int
		if err := tx.QueryRow(ctx, "select v from t where id = 1").Scan(&v); err != nil {
			return err
		}
		if tx.Attempt() == 1 {
			exec(t, pool, "update t set v = v + 1 where id = 1")
		}
		_, _ = tx.Exec(ctx, "update t set v = $1 where id = 1", v+100) // error ignored: the bug
		return nil
	}, txiso.RepeatableRead, fast, txiso.OnRetry(func(i txiso.RetryInfo) { infos = append(infos, i) }))
	require.NoError(t, err)
	require.Len(t, infos, 1, "attempt 2 has no concurrent writer")
	assert.Equal(t, "40001", infos[0].SQLState)
	assert.Equal(t, 111, value(t, pool, 1))

	err = pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		_, _ = tx.Raw().Exec(ctx, "update t set v = 1/0")
		return nil
	})
	require.ErrorIs(t, err, txiso.ErrAborted)

	// Through Query rows and a batch too.
	err = pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		rows, _ := tx.Query(ctx, "select 1/(v-111) from t where id = 1")
		rows.Close() // error swallowed
		return nil
	})
	assert.Equal(t, "22012", txiso.SQLState(err), "got %v", err)
	err = pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		b := &pgx.Batch{}
		b.Queue("update t set v = 0 where id = 2")
		b.Queue("select 1/0")
		_ = tx.SendBatch(ctx, b).Close() // error swallowed
		return nil
	})
	assert.Equal(t, "22012", txiso.SQLState(err), "got %v", err)
	assert.Equal(t, 20, value(t, pool, 2))
}

func TestDeadlockRetried(t *testing.T) {
	pool, _ := pgPool(t, 0)
	var locked, wg sync.WaitGroup
	locked.Add(2)
	var codes sync.Map
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, second := 1+i, 2-i
			errs[i] = pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
				if _, err := tx.Exec(ctx, "update t set v = v + 1 where id = $1", first); err != nil {
					return err
				}
				if tx.Attempt() == 1 {
					locked.Done()
					locked.Wait()
				}
				_, err := tx.Exec(ctx, "update t set v = v + 1 where id = $1", second)
				return err
			}, fast, txiso.OnRetry(func(ri txiso.RetryInfo) { codes.Store(ri.SQLState, true) }))
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	_, ok := codes.Load("40P01")
	assert.True(t, ok)
	assert.Equal(t, 12, value(t, pool, 1))
	assert.Equal(t, 22, value(t, pool, 2))
}

func TestRetryErrorUnwrapsToPgError(t *testing.T) {
	pool, _ := pgPool(t, 0)
	err := pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		var v int
		if err := tx.QueryRow(ctx, "select v from t where id = 1").Scan(&v); err != nil {
			return err
		}
		exec(t, pool, "update t set v = v + 1 where id = 1")
		_, err := tx.Exec(ctx, "update t set v = 0 where id = 1")
		return err
	}, txiso.RepeatableRead, txiso.MaxAttempts(2), fast)
	var re *txiso.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 2, re.Attempts)
	var pge *pgconn.PgError
	assert.ErrorAs(t, err, &pge)
	assert.Equal(t, 12, value(t, pool, 1))
}

func TestCommitConnectionLostIsNotSuccess(t *testing.T) {
	pool, _ := pgPool(t, 0)
	attempts := 0
	err := pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		attempts++
		var pid int
		if err := tx.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "update t set v = 99 where id = 1"); err != nil {
			return err
		}
		exec(t, pool, "select pg_terminate_backend($1)", pid)
		waitBackendGone(t, pool, pid)
		return nil
	}, fast)
	require.Error(t, err)
	assert.True(t, errors.Is(err, txiso.ErrCommitUnknown) || pgconn.SafeToRetry(err), "unknown or not sent: %v", err)
	assert.Equal(t, 1, attempts, "not retried by default")
	assert.Equal(t, 10, value(t, pool, 1))
}

func waitBackendGone(t testing.TB, pool *pgxpool.Pool, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		require.NoError(t, pool.QueryRow(context.Background(), "select count(*) from pg_stat_activity where pid = $1", pid).Scan(&n))
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend %d still there", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPanicRollsBackAndRepanics(t *testing.T) {
	pool, _ := pgPool(t, 0)
	func() {
		defer func() { assert.Equal(t, "boom", recover()) }()
		_ = pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
			if _, err := tx.Exec(ctx, "update t set v = 0"); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	requireNoneAcquired(t, pool)
	assert.Equal(t, 10, value(t, pool, 1), "rolled back")
}

func TestContextCancelled(t *testing.T) {
	pool, _ := pgPool(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	err := pgxtx.Run(ctx, pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		_, err := tx.Exec(ctx, "update t set v = 0")
		cancel()
		return err
	})
	require.ErrorIs(t, err, context.Canceled)
	requireNoneAcquired(t, pool)
	assert.Equal(t, 10, value(t, pool, 1))
}

func TestSavepoint(t *testing.T) {
	pool, _ := pgPool(t, 0)
	err := pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		if _, err := tx.Exec(ctx, "update t set v = 11 where id = 1"); err != nil {
			return err
		}
		serr := tx.Savepoint(ctx, func(ctx context.Context, tx *pgxtx.Tx) error {
			_, err := tx.Exec(ctx, "insert into t values (1, 0)")
			return err
		})
		assert.Equal(t, "23505", txiso.SQLState(serr))
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 11, value(t, pool, 1))

	var codes []string
	err = pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		var v int
		if err := tx.QueryRow(ctx, "select v from t where id = 2").Scan(&v); err != nil {
			return err
		}
		if tx.Attempt() == 1 {
			exec(t, pool, "update t set v = v + 1 where id = 2")
		}
		_ = tx.Savepoint(ctx, func(ctx context.Context, tx *pgxtx.Tx) error {
			_, err := tx.Exec(ctx, "update t set v = $1 where id = 2", v*2)
			return err
		})
		return nil
	}, txiso.Serializable, fast, txiso.OnRetry(func(i txiso.RetryInfo) { codes = append(codes, i.SQLState) }))
	require.NoError(t, err)
	assert.Equal(t, []string{"40001"}, codes)
	assert.Equal(t, 42, value(t, pool, 2))
}

func TestNestedRunJoins(t *testing.T) {
	pool, _ := pgPool(t, 0)
	var outerXID, innerXID int64
	err := pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		if err := tx.QueryRow(ctx, "select txid_current()").Scan(&outerXID); err != nil {
			return err
		}
		return pgxtx.Run(ctx, pool, func(ctx context.Context, inner *pgxtx.Tx) error {
			assert.Same(t, tx, inner)
			got, ok := pgxtx.FromContext(ctx)
			assert.True(t, ok)
			assert.Same(t, tx, got)
			return inner.QueryRow(ctx, "select txid_current()").Scan(&innerXID)
		}, txiso.RepeatableRead)
	}, txiso.Serializable)
	require.NoError(t, err)
	assert.Equal(t, outerXID, innerXID)

	err = pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		return pgxtx.Run(ctx, pool, func(context.Context, *pgxtx.Tx) error { return nil }, txiso.Serializable)
	})
	require.ErrorIs(t, err, txiso.ErrNested)
}

// A second transaction on a *pgx.Conn that is in one is refused before
// anything is sent, whether a Run or the caller began the first.
func TestSecondTransactionOnConnRefused(t *testing.T) {
	pool, _ := pgPool(t, 0)
	ctx := context.Background()
	pc, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer pc.Release()
	for _, db := range []pgxtx.Beginner{pc, pc.Conn()} {
		var innerErr error
		errOuter := errors.New("outer fails")
		err = pgxtx.Run(ctx, db, func(ctx context.Context, tx *pgxtx.Tx) error {
			if _, err := tx.Exec(ctx, "update t set v = 99 where id = 1"); err != nil {
				return err
			}
			innerErr = pgxtx.Run(context.Background(), db, func(ctx context.Context, inner *pgxtx.Tx) error {
				_, err := inner.Exec(ctx, "update t set v = 98 where id = 2")
				return err
			})
			return errOuter
		})
		require.ErrorIs(t, err, errOuter)
		require.ErrorIs(t, innerErr, txiso.ErrInTransaction)
		assert.Equal(t, 10, value(t, pool, 1))
		assert.Equal(t, 20, value(t, pool, 2))
	}
	_, err = pc.Exec(ctx, "begin")
	require.NoError(t, err)
	err = pgxtx.Run(ctx, pc.Conn(), func(context.Context, *pgxtx.Tx) error { return nil })
	require.ErrorIs(t, err, txiso.ErrInTransaction, "a transaction begun outside pgxtx is seen too")
	_, err = pc.Exec(ctx, "rollback")
	require.NoError(t, err)
}

// Run on a caller's pgx.Tx runs fn in a savepoint of it: an error undoes
// only fn's work, nothing is committed until the caller commits.
func TestRunOnPgxTx(t *testing.T) {
	pool, _ := pgPool(t, 0)
	ctx := context.Background()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, "update t set v = 11 where id = 1")
	require.NoError(t, err)
	fail := errors.New("fn fails")
	err = pgxtx.Run(ctx, tx, func(ctx context.Context, inner *pgxtx.Tx) error {
		if _, err := inner.Exec(ctx, "update t set v = 0 where id = 2"); err != nil {
			return err
		}
		return fail
	})
	require.ErrorIs(t, err, fail)
	require.NoError(t, pgxtx.Run(ctx, tx, func(ctx context.Context, inner *pgxtx.Tx) error {
		_, err := inner.Exec(ctx, "update t set v = 21 where id = 2")
		return err
	}, txiso.Serializable), "the caller's transaction is serializable")
	assert.Equal(t, 10, value(t, pool, 1), "nothing committed before the caller commits")
	require.NoError(t, tx.Commit(ctx))
	assert.Equal(t, 11, value(t, pool, 1))
	assert.Equal(t, 21, value(t, pool, 2))

	tx2, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx2.Rollback(ctx)
	err = pgxtx.Run(ctx, tx2, func(context.Context, *pgxtx.Tx) error { return nil }, txiso.Serializable)
	require.ErrorIs(t, err, txiso.ErrNested, "a read committed transaction cannot give serializable")
}

func TestTxControlRefused(t *testing.T) {
	pool, _ := pgPool(t, 0)
	send := map[string]func(ctx context.Context, tx *pgxtx.Tx, q string) error{
		"Exec": func(ctx context.Context, tx *pgxtx.Tx, q string) error { _, err := tx.Exec(ctx, q); return err },
		"Query": func(ctx context.Context, tx *pgxtx.Tx, q string) error {
			rows, err := tx.Query(ctx, q)
			rows.Close()
			return err
		},
		"QueryRow": func(ctx context.Context, tx *pgxtx.Tx, q string) error { return tx.QueryRow(ctx, q).Scan() },
		"SendBatch": func(ctx context.Context, tx *pgxtx.Tx, q string) error {
			b := &pgx.Batch{}
			b.Queue("select 1")
			b.Queue(q)
			return tx.SendBatch(ctx, b).Close()
		},
	}
	for _, q := range []string{"ROLLBACK", "commit", "end", "abort", "begin", "start transaction", "/* x */ COMMIT", "select 1; rollback"} {
		for name, f := range send {
			err := pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
				if _, err := tx.Exec(ctx, "update t set v = 0 where id = 1"); err != nil {
					return err
				}
				assert.ErrorIs(t, f(ctx, tx, q), txiso.ErrTxControl, "%s(%q)", name, q)
				return nil // ignored
			})
			require.ErrorIs(t, err, txiso.ErrTxControl, "%s(%q)", name, q)
			assert.Equal(t, 10, value(t, pool, 1))
		}
	}
	// Ended through Raw: Run does not claim an outcome.
	err := pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		_, err := tx.Raw().Exec(ctx, "rollback")
		return err
	})
	require.ErrorIs(t, err, txiso.ErrTxControl)
}

func TestMatrixOverPool(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole matrix one case at a time")
	}
	pool, _ := pgPool(t, 4)
	m, err := pgxtx.Matrix(context.Background(), pool)
	require.NoError(t, err)
	assert.Len(t, m.Cells, 63)
	assert.Empty(t, m.Mismatches())
	if c, _ := m.Cell("G2-item", txiso.Serializable); c.Outcome != txiso.Failed40001 {
		t.Errorf("G2-item at serializable: %s", c.Outcome)
	}
	small, _ := pgPool(t, 3)
	_, err = pgxtx.Matrix(context.Background(), small)
	require.ErrorIs(t, err, txiso.ErrInvalid)
}

// What a refused statement hands back is pgx's own Rows, Row and
// BatchResults carrying the refusal: every method works, nothing panics,
// nothing reaches the server.
func TestRefusedResultsAreUsable(t *testing.T) {
	pool, _ := pgPool(t, 0)
	err := pgxtx.Run(context.Background(), pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		rows, err := tx.Query(ctx, "commit")
		assert.ErrorIs(t, err, txiso.ErrTxControl)
		assert.False(t, rows.Next())
		assert.ErrorIs(t, rows.Err(), txiso.ErrTxControl)
		_, err = pgx.CollectRows(rows, pgx.RowTo[int])
		assert.ErrorIs(t, err, txiso.ErrTxControl)
		rows.Close()
		b := &pgx.Batch{}
		b.Queue("rollback")
		br := tx.SendBatch(ctx, b)
		_, err = br.Exec()
		assert.ErrorIs(t, err, txiso.ErrTxControl)
		r, err := br.Query()
		assert.ErrorIs(t, err, txiso.ErrTxControl)
		r.Close()
		assert.ErrorIs(t, br.QueryRow().Scan(), txiso.ErrTxControl)
		assert.ErrorIs(t, br.Close(), txiso.ErrTxControl)
		var one int
		return tx.QueryRow(ctx, "select 1").Scan(&one) // the transaction is intact
	})
	require.ErrorIs(t, err, txiso.ErrTxControl, "the attempt fails")
}
