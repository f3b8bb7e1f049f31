package txiso_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/txiso"
)

// optionDropper is a wrapper of the kind VerifyLevel exists for: it begins
// every transaction with the session defaults, whatever was asked.
type optionDropper struct{ db *sql.DB }

func (d optionDropper) BeginTx(ctx context.Context, _ *sql.TxOptions) (*sql.Tx, error) {
	return d.db.BeginTx(ctx, nil)
}

func TestPGVerifyLevelCatchesDroppedOptions(t *testing.T) {
	forDrivers(t, func(t *testing.T, db *sql.DB) {
		showLevel := func(ctx context.Context, tx *txiso.Tx) (string, error) {
			var l string
			err := tx.QueryRow(ctx, "SHOW transaction_isolation").Scan(&l)
			return l, err
		}
		// Without VerifyLevel the wrapper's silent downgrade goes unnoticed.
		got, err := txiso.Value(context.Background(), optionDropper{db}, showLevel, txiso.Serializable)
		require.NoError(t, err)
		assert.Equal(t, "read committed", got)

		calls := 0
		_, err = txiso.Value(context.Background(), optionDropper{db}, func(ctx context.Context, tx *txiso.Tx) (string, error) {
			calls++
			return showLevel(ctx, tx)
		}, txiso.Serializable, txiso.VerifyLevel())
		require.ErrorIs(t, err, txiso.ErrLevelMismatch)
		assert.Contains(t, err.Error(), "serializable")
		assert.Zero(t, calls, "fn does not run in the wrong transaction")

		_, err = txiso.Value(context.Background(), optionDropper{db}, showLevel, txiso.ReadOnly(), txiso.VerifyLevel())
		require.ErrorIs(t, err, txiso.ErrLevelMismatch, "read-only dropped")

		got, err = txiso.Value(context.Background(), db, showLevel, txiso.RepeatableRead, txiso.ReadOnly(), txiso.VerifyLevel())
		require.NoError(t, err, "the real thing passes")
		assert.Equal(t, "repeatable read", got)
	})
}

// Failures read through Query/Rows and Prepare/Stmt are recorded too: a
// swallowed one is reported by its own SQLSTATE, not as ErrAborted.
func TestPGSwallowedQueryAndStmtErrorsRecorded(t *testing.T) {
	forDrivers(t, func(t *testing.T, db *sql.DB) {
		for name, fn := range map[string]func(ctx context.Context, tx *txiso.Tx) error{
			"query": func(ctx context.Context, tx *txiso.Tx) error {
				rows, err := tx.Query(ctx, "select 1/(v-10) from t where id = 1")
				if err != nil {
					return nil // swallowed
				}
				for rows.Next() {
				}
				_ = rows.Close() // error swallowed
				return nil
			},
			"stmt": func(ctx context.Context, tx *txiso.Tx) error {
				stmt, err := tx.Prepare(ctx, "update t set v = v / $1 where id = 1")
				if err != nil {
					return err
				}
				defer stmt.Close()
				_, _ = stmt.Exec(ctx, 0) // swallowed
				return nil
			},
		} {
			t.Run(name, func(t *testing.T) {
				err := txiso.Run(context.Background(), db, fn)
				require.Error(t, err)
				assert.Equal(t, "22012", txiso.SQLState(err), "division_by_zero, got %v", err)
				assert.NotErrorIs(t, err, txiso.ErrAborted)
				assert.Equal(t, 10, value(t, db, 1), "nothing committed")
			})
		}
	})
}

// A Deferrable transaction (SET TRANSACTION DEFERRABLE sent as its first
// statement) keeps one snapshot while a serializable writer commits, and
// succeeds without a retry. (Its blocking on a safe snapshot is shown by the
// matrix's X-deferrable case.)
func TestPGDeferrableOneSnapshot(t *testing.T) {
	forDrivers(t, func(t *testing.T, db *sql.DB) {
		retries := 0
		sum, err := txiso.Value(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) (int, error) {
			var s int
			if err := tx.QueryRow(ctx, "select sum(v) from t").Scan(&s); err != nil {
				return 0, err
			}
			// A concurrent serializable writer commits after our snapshot.
			werr := txiso.Run(context.Background(), db, func(ctx context.Context, w *txiso.Tx) error {
				_, err := w.Exec(ctx, "update t set v = v + 1 where id = 2")
				return err
			}, txiso.Serializable)
			if werr != nil {
				return 0, werr
			}
			if err := tx.QueryRow(ctx, "select sum(v) from t").Scan(&s); err != nil {
				return 0, err
			}
			return s, nil
		}, txiso.Serializable, txiso.ReadOnly(), txiso.Deferrable(),
			txiso.OnRetry(func(txiso.RetryInfo) { retries++ }))
		require.NoError(t, err)
		assert.Equal(t, 30, sum, "one snapshot for the whole transaction")
		assert.Zero(t, retries)
		assert.Equal(t, 21, value(t, db, 2))
	})
}
