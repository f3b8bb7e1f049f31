package txiso_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/txiso"
)

var noWait = txiso.Backoff(func(int) time.Duration { return 0 })

func update(ctx context.Context, tx *txiso.Tx) error {
	_, err := tx.Exec(ctx, "update t")
	return err
}

func TestFakeRetriesStatementFailures(t *testing.T) {
	for _, code := range []string{"40001", "40P01"} {
		t.Run(code, func(t *testing.T) {
			s := &script{exec: func(n int, q string) error { return failFirst(2, &pgErr{code})(n) }}
			db := fakeDB(t, s)
			var infos []txiso.RetryInfo
			err := txiso.Run(context.Background(), db, update, txiso.Serializable, noWait,
				txiso.OnRetry(func(i txiso.RetryInfo) { s.add("retry"); infos = append(infos, i) }))
			require.NoError(t, err)
			// Rolled back before the hook (and the sleep), fresh BEGIN each time.
			assert.Equal(t, "begin(Serializable,ro=false); exec(update t); rollback; retry; "+
				"begin(Serializable,ro=false); exec(update t); rollback; retry; "+
				"begin(Serializable,ro=false); exec(update t); commit", s.Log())
			require.Len(t, infos, 2)
			assert.Equal(t, 1, infos[0].Attempt)
			assert.Equal(t, 2, infos[1].Attempt)
			assert.Equal(t, code, infos[0].SQLState)
		})
	}
}

func TestFakeCommitSerializationFailureRetried(t *testing.T) {
	s := &script{commit: failFirst(1, &pgErr{"40001"})}
	db := fakeDB(t, s)
	require.NoError(t, txiso.Run(context.Background(), db, update, txiso.Serializable, noWait))
	assert.Equal(t, 2, s.Begins())
}

func TestFakeCommitNetworkErrorIsUnknown(t *testing.T) {
	for name, cerr := range map[string]error{
		"eof":          errNetwork,
		"57P01":        &pgErr{"57P01"},
		"08006":        &pgErr{"08006"},
		"unrecognised": errors.New("fake: something odd"),
		"joined":       fmt.Errorf("x: %w", errors.Join(errNetwork)),
	} {
		t.Run(name, func(t *testing.T) {
			s := &script{commit: failFirst(1, cerr)}
			db := fakeDB(t, s)
			err := txiso.Run(context.Background(), db, update, noWait)
			require.ErrorIs(t, err, txiso.ErrCommitUnknown)
			require.ErrorIs(t, err, cerr)
			var re *txiso.RetryError
			assert.False(t, errors.As(err, &re), "not a retry error: %v", err)
			assert.Equal(t, 1, s.Begins(), "not retried by default")
		})
	}
	// Opt in for idempotent transactions.
	s := &script{commit: failFirst(1, errNetwork)}
	db := fakeDB(t, s)
	err := txiso.Run(context.Background(), db, update, noWait, txiso.Classify(func(err error) txiso.Decision {
		if errors.Is(err, txiso.ErrCommitUnknown) {
			return txiso.Retry
		}
		return txiso.DefaultClassify(err)
	}))
	require.NoError(t, err)
	assert.Equal(t, 2, s.Begins())
}

// lib/pq's and pgx's "COMMIT of a failed transaction" sentinels.
// sentinels are what the drivers' Commit returns for a transaction the
// server rolled back: lib/pq v1.10.9 and v1.12.3 spell ErrInFailedTransaction
// differently, pgx has ErrTxCommitRollback, and any other text must work
// too: Run decides by the recorded failure, never by the text.
var sentinels = []error{
	errors.New("pq: Could not complete operation in a failed transaction"),
	errors.New("pq: could not complete operation in a failed transaction"),
	errors.New("commit unexpectedly resulted in rollback"),
	errors.New("some future driver's wording"),
}

func TestFakeSwallowedStatementErrorIsClassified(t *testing.T) {
	for _, sentinel := range sentinels {
		t.Run(sentinel.Error(), func(t *testing.T) {
			s := &script{
				exec:   func(n int, q string) error { return failFirst(1, &pgErr{"40001"})(n) },
				commit: failFirst(1, sentinel),
			}
			db := fakeDB(t, s)
			var info txiso.RetryInfo
			err := txiso.Run(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) error {
				_ = update(ctx, tx) // the bug: error swallowed
				return nil
			}, noWait, txiso.OnRetry(func(i txiso.RetryInfo) { info = i }))
			require.NoError(t, err)
			assert.Equal(t, 2, s.Begins())
			assert.Equal(t, "40001", info.SQLState)
			require.ErrorIs(t, info.Err, sentinel)
		})
	}
}

// A failure txiso could not record (a statement on Raw) is found by the
// check before COMMIT: PostgreSQL answers 25P02 in a failed transaction.
func TestFakeSwallowedUnrecordedErrorIsAborted(t *testing.T) {
	s := &script{exec: func(n int, q string) error {
		if q == "SELECT 1" {
			return &pgErr{"25P02"}
		}
		return &pgErr{"40001"}
	}}
	db := fakeDB(t, s)
	err := txiso.Run(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) error {
		_, _ = tx.Raw().ExecContext(ctx, "update t") // not recorded
		return nil
	}, noWait)
	require.ErrorIs(t, err, txiso.ErrAborted)
	assert.Equal(t, 1, s.Begins())
	assert.Equal(t, "begin(Default,ro=false); exec(update t); exec(SELECT 1); rollback", s.Log(), "COMMIT not sent")

	// Without Raw nothing extra is sent.
	s2 := &script{}
	require.NoError(t, txiso.Run(context.Background(), fakeDB(t, s2), update))
	assert.Equal(t, "begin(Default,ro=false); exec(update t); commit", s2.Log())
}

func TestFakeChainLostByFnStillClassified(t *testing.T) {
	s := &script{exec: func(n int, q string) error { return failFirst(1, &pgErr{"40P01"})(n) }}
	db := fakeDB(t, s)
	err := txiso.Run(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) error {
		if err := update(ctx, tx); err != nil {
			return fmt.Errorf("transfer: %v", err) // %v: the SQLSTATE is lost
		}
		return nil
	}, noWait)
	require.NoError(t, err)
	assert.Equal(t, 2, s.Begins())
}

func TestFakeGivesUpWithRetryError(t *testing.T) {
	s := &script{exec: func(int, string) error { return &pgErr{"40001"} }}
	db := fakeDB(t, s)
	err := txiso.Run(context.Background(), db, update, txiso.MaxAttempts(3), noWait)
	var re *txiso.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 3, re.Attempts)
	assert.Nil(t, re.Ctx)
	var pe *pgErr
	require.ErrorAs(t, err, &pe, "unwraps to the driver error")
	assert.Equal(t, "40001", txiso.SQLState(err))
	assert.Equal(t, 3, s.Begins())
	assert.True(t, txiso.IsRetryable(err))
}

func TestFakeContextEndsBackoff(t *testing.T) {
	s := &script{exec: func(int, string) error { return &pgErr{"40001"} }}
	db := fakeDB(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	err := txiso.Run(ctx, db, update,
		txiso.Backoff(func(int) time.Duration { return time.Hour }),
		txiso.OnRetry(func(txiso.RetryInfo) { cancel() }))
	var re *txiso.RetryError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, context.Canceled)
	var pe *pgErr
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 1, re.Attempts)
	assert.Less(t, time.Since(start), time.Minute, "the hour-long backoff was cut short")
	assert.Equal(t, 1, s.Begins())
}

// A context that ends while COMMIT is in flight (pgx's stdlib driver
// cancels the COMMIT and returns the context error) leaves the outcome
// unknown; one that ended before Commit was called means database/sql never
// sent COMMIT.
func TestFakeContextEndsDuringCommit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &script{commit: func(int) error { cancel(); return context.Canceled }}
	db := fakeDB(t, s)
	err := txiso.Run(ctx, db, update, txiso.Serializable, noWait)
	require.ErrorIs(t, err, txiso.ErrCommitUnknown, "got %v", err)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, s.Begins(), "not retried")

	ctx2, cancel2 := context.WithCancel(context.Background())
	s2 := &script{}
	db2 := fakeDB(t, s2)
	err = txiso.Run(ctx2, db2, func(ctx context.Context, tx *txiso.Tx) error {
		cancel2()
		return update(ctx, tx)
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, txiso.ErrCommitUnknown)
	assert.NotContains(t, s2.Log(), "commit", "database/sql never sent COMMIT")
}

func TestFakeNonRetryableReturnedUnchanged(t *testing.T) {
	s := &script{}
	db := fakeDB(t, s)
	errBusiness := errors.New("insufficient funds")
	err := txiso.Run(context.Background(), db, func(context.Context, *txiso.Tx) error { return errBusiness })
	assert.Same(t, errBusiness, err)
	assert.Equal(t, "begin(Default,ro=false); rollback", s.Log())

	s2 := &script{exec: func(n int, q string) error { return failFirst(1, &pgErr{"23505"})(n) }}
	db2 := fakeDB(t, s2)
	err = txiso.Run(context.Background(), db2, update)
	assert.Equal(t, "23505", txiso.SQLState(err))
	assert.Equal(t, 1, s2.Begins(), "unique violation not retried by default")
	s3 := &script{exec: func(n int, q string) error { return failFirst(1, &pgErr{"23505"})(n) }}
	db3 := fakeDB(t, s3)
	require.NoError(t, txiso.Run(context.Background(), db3, update, txiso.RetryCodes("23505"), noWait))
	assert.Equal(t, 2, s3.Begins(), "opted in")
}

func TestFakeOptionsReachBeginTx(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []txiso.Option
		want string
	}{
		{"default", nil, "begin(Default,ro=false); exec(update t); commit"},
		{"read uncommitted", []txiso.Option{txiso.ReadUncommitted}, "begin(Read Uncommitted,ro=false); exec(update t); commit"},
		{"repeatable read", []txiso.Option{txiso.RepeatableRead}, "begin(Repeatable Read,ro=false); exec(update t); commit"},
		{"sql level", []txiso.Option{txiso.Isolation(sql.LevelSerializable), txiso.ReadOnly()}, "begin(Serializable,ro=true); exec(update t); commit"},
		{"sql default", []txiso.Option{txiso.Isolation(sql.LevelDefault)}, "begin(Default,ro=false); exec(update t); commit"},
		{"deferrable", []txiso.Option{txiso.Serializable, txiso.ReadOnly(), txiso.Deferrable()},
			"begin(Serializable,ro=true); exec(SET TRANSACTION DEFERRABLE); exec(update t); commit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{}
			db := fakeDB(t, s)
			require.NoError(t, txiso.Run(context.Background(), db, update, tc.opts...))
			assert.Equal(t, tc.want, s.Log())
		})
	}
}

func TestFakeBadInputBeforeBegin(t *testing.T) {
	s := &script{}
	db := fakeDB(t, s)
	ok := func(context.Context, *txiso.Tx) error { return nil }
	var nilDB *sql.DB
	var nilConn *sql.Conn
	var nilCtx context.Context
	for _, tc := range []struct {
		name string
		run  func() error
		msg  string
	}{
		{"nil db", func() error { return txiso.Run(context.Background(), nil, ok) }, "nil db"},
		{"typed nil *sql.DB", func() error { return txiso.Run(context.Background(), nilDB, ok) }, "nil db"},
		{"typed nil *sql.Conn", func() error { return txiso.Run(context.Background(), nilConn, ok) }, "nil db"},
		{"nil fn", func() error { return txiso.Run(context.Background(), db, nil) }, "nil fn"},
		{"nil Value fn", func() error {
			_, err := txiso.Value[int](context.Background(), db, nil)
			return err
		}, "nil fn"},
		{"nil ctx", func() error { return txiso.Run(nilCtx, db, ok) }, "nil context"},
		{"snapshot", func() error { return txiso.Run(context.Background(), db, ok, txiso.Isolation(sql.LevelSnapshot)) }, "isolation level 5"},
		{"linearizable", func() error {
			return txiso.Run(context.Background(), db, ok, txiso.Isolation(sql.LevelLinearizable))
		}, "isolation level 7"},
		{"level 99", func() error { return txiso.Run(context.Background(), db, ok, txiso.Level(99)) }, "isolation level 99"},
		{"deferrable alone", func() error { return txiso.Run(context.Background(), db, ok, txiso.Deferrable()) }, "Deferrable needs"},
		{"deferrable read-write", func() error {
			return txiso.Run(context.Background(), db, ok, txiso.Serializable, txiso.Deferrable())
		}, "Deferrable needs"},
		{"deferrable repeatable read", func() error {
			return txiso.Run(context.Background(), db, ok, txiso.RepeatableRead, txiso.ReadOnly(), txiso.Deferrable())
		}, "Deferrable needs"},
		{"max attempts 0", func() error { return txiso.Run(context.Background(), db, ok, txiso.MaxAttempts(0)) }, "MaxAttempts(0)"},
		{"max attempts -1", func() error { return txiso.Run(context.Background(), db, ok, txiso.MaxAttempts(-1)) }, "MaxAttempts(-1)"},
		{"nil backoff", func() error { return txiso.Run(context.Background(), db, ok, txiso.Backoff(nil)) }, "Backoff(nil)"},
		{"nil classify", func() error { return txiso.Run(context.Background(), db, ok, txiso.Classify(nil)) }, "Classify(nil)"},
		{"nil option", func() error { return txiso.Run(context.Background(), db, ok, nil) }, "nil Option"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			require.ErrorIs(t, err, txiso.ErrInvalid)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	assert.Equal(t, 0, s.Begins(), "no BEGIN for bad input")
}

func TestFakePanicRollsBackAndRepanics(t *testing.T) {
	s := &script{}
	db := fakeDB(t, s)
	type boom struct{ n int }
	defer func() {
		r := recover()
		assert.Equal(t, boom{42}, r, "the original panic value")
		assert.Equal(t, "begin(Default,ro=false); exec(update t); rollback", s.Log())
		assert.Equal(t, 0, db.Stats().InUse)
	}()
	_ = txiso.Run(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) error {
		_ = update(ctx, tx)
		panic(boom{42})
	})
	t.Fatal("Run returned instead of panicking")
}

func TestFakeValue(t *testing.T) {
	s := &script{commit: failFirst(1, &pgErr{"40001"})}
	db := fakeDB(t, s)
	v, err := txiso.Value(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) (int, error) {
		return tx.Attempt() * 10, nil
	}, noWait)
	require.NoError(t, err)
	assert.Equal(t, 20, v, "the committed attempt's value")

	s2 := &script{exec: func(int, string) error { return &pgErr{"40001"} }}
	db2 := fakeDB(t, s2)
	v, err = txiso.Value(context.Background(), db2, func(ctx context.Context, tx *txiso.Tx) (int, error) {
		return 7, update(ctx, tx)
	}, noWait, txiso.MaxAttempts(2))
	require.Error(t, err)
	assert.Equal(t, 0, v, "zero on error")
}

func TestJitterBackoff(t *testing.T) {
	b := txiso.JitterBackoff(10*time.Millisecond, 100*time.Millisecond)
	for attempt, limit := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 80, 5: 100, 30: 100, 1000: 100} {
		limit *= time.Millisecond
		seen := map[time.Duration]bool{}
		var maxSeen time.Duration
		for range 2000 {
			d := b(attempt)
			if d < 0 || d >= limit {
				t.Fatalf("attempt %d: %v outside [0, %v)", attempt, d, limit)
			}
			seen[d] = true
			maxSeen = max(maxSeen, d)
		}
		assert.Greater(t, len(seen), 100, "attempt %d: jittered", attempt)
		assert.Greater(t, maxSeen, limit*9/10, "attempt %d: the cap grows to %v", attempt, limit)
	}
	assert.Equal(t, time.Duration(0), txiso.JitterBackoff(0, time.Second)(3))
}

func TestSQLState(t *testing.T) {
	err := fmt.Errorf("a: %w", errors.Join(errors.New("x"), fmt.Errorf("b: %w", &pgErr{"40P01"})))
	assert.Equal(t, "40P01", txiso.SQLState(err))
	assert.Equal(t, "", txiso.SQLState(errors.New("plain")))
	assert.Equal(t, "", txiso.SQLState(nil))
	assert.False(t, txiso.IsRetryable(&pgErr{"25P02"}), "25P02 is a symptom")
	assert.True(t, txiso.IsRetryable(&pgErr{"40P01"}))
	assert.False(t, txiso.IsRetryable(fmt.Errorf("%w: %w", txiso.ErrCommitUnknown, &pgErr{"40001"})))
}

func TestLevelString(t *testing.T) {
	assert.Equal(t, "serializable", txiso.Serializable.String())
	assert.Equal(t, "read uncommitted", txiso.ReadUncommitted.String())
	assert.Equal(t, "Level(5)", txiso.Level(sql.LevelSnapshot).String())
}

// An attempt whose COMMIT outcome is unknown never ends Run as a
// *RetryError, whose doc promises that nothing was committed: not after a
// retried attempt, not when ctx ended while COMMIT was in flight. (Both
// used to be RetryErrors, and the Example's errors.As check read them as
// "gave up, nothing committed".)
func TestFakeUnknownCommitIsNeverRetryError(t *testing.T) {
	s := &script{
		exec:   func(n int, _ string) error { return failFirst(1, &pgErr{"40001"})(n) },
		commit: func(int) error { return errNetwork },
	}
	db := fakeDB(t, s)
	err := txiso.Run(context.Background(), db, update, noWait)
	require.ErrorIs(t, err, txiso.ErrCommitUnknown)
	var re *txiso.RetryError
	assert.False(t, errors.As(err, &re), "not a RetryError after a retry: %v", err)
	assert.Contains(t, err.Error(), "attempt 2")
	assert.Equal(t, 2, s.Begins())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s2 := &script{commit: func(int) error { cancel(); return context.Canceled }}
	err = txiso.Run(ctx, fakeDB(t, s2), update, noWait)
	require.ErrorIs(t, err, txiso.ErrCommitUnknown)
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, errors.As(err, &re), "not a RetryError when ctx ended during COMMIT: %v", err)

	// A Classify that retries unknown outcomes (an idempotent transaction)
	// still gets the unknown error, not a RetryError, when attempts run out.
	s3 := &script{commit: func(int) error { return errNetwork }}
	err = txiso.Run(context.Background(), fakeDB(t, s3), update, noWait, txiso.MaxAttempts(2),
		txiso.Classify(func(err error) txiso.Decision {
			if errors.Is(err, txiso.ErrCommitUnknown) {
				return txiso.Retry
			}
			return txiso.DefaultClassify(err)
		}))
	require.ErrorIs(t, err, txiso.ErrCommitUnknown)
	assert.False(t, errors.As(err, &re), "not a RetryError when attempts ran out: %v", err)
	assert.Equal(t, 2, s3.Begins())
}

// A failure undone by a ROLLBACK TO SAVEPOINT that Tx did not see (run on
// Raw, or through Query, QueryRow or Prepare) must not classify a COMMIT
// that lost its connection: the transaction was usable and may have
// committed, so the outcome is unknown, and it is not retried. (The stale
// 40P01 used to make Run retry it: two COMMITs of one transfer.)
func TestFakeUndoneFailureDoesNotClassifyCommit(t *testing.T) {
	undo := map[string]func(ctx context.Context, tx *txiso.Tx) error{
		"raw": func(ctx context.Context, tx *txiso.Tx) error {
			_, err := tx.Raw().ExecContext(ctx, "ROLLBACK TO SAVEPOINT s")
			return err
		},
		"query": func(ctx context.Context, tx *txiso.Tx) error {
			rows, err := tx.Query(ctx, "ROLLBACK TO SAVEPOINT s")
			if err != nil {
				return err
			}
			return rows.Close()
		},
		"queryrow": func(ctx context.Context, tx *txiso.Tx) error {
			return tx.QueryRow(ctx, "ROLLBACK TO SAVEPOINT s").Err()
		},
	}
	for name, f := range undo {
		t.Run(name, func(t *testing.T) {
			s := &script{
				exec: func(n int, q string) error {
					if n == 1 && q == "update a deadlock" {
						return &pgErr{"40P01"}
					}
					return nil
				},
				commit: failFirst(1, errNetwork),
			}
			db := fakeDB(t, s)
			err := txiso.Run(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) error {
				if _, err := tx.Exec(ctx, "SAVEPOINT s"); err != nil {
					return err
				}
				_, _ = tx.Exec(ctx, "update a deadlock") // fails; undone below
				if err := f(ctx, tx); err != nil {
					return err
				}
				return update(ctx, tx)
			}, noWait)
			require.ErrorIs(t, err, txiso.ErrCommitUnknown, "log: %s", s.Log())
			assert.Equal(t, 1, s.Begins(), "an unknown outcome is not retried")
			assert.Contains(t, s.Log(), "exec(SELECT 1)", "Run checked the transaction before COMMIT")
		})
	}
}
