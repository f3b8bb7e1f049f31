package txiso_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/txiso"
)

// A Run on a *sql.Conn that is already running one, through a fresh
// context, is refused before anything is sent. Without the refusal the
// pgx driver sends a second BEGIN (PostgreSQL only warns), the inner COMMIT
// commits the outer transaction's writes, and the outer Run then fails with
// its writes committed.
func TestPGSecondTransactionOnConnRefused(t *testing.T) {
	forDrivers(t, func(t *testing.T, db *sql.DB) {
		conn, err := db.Conn(context.Background())
		require.NoError(t, err)
		defer conn.Close()
		var innerErr error
		errOuter := errors.New("outer fails after the inner Run")
		err = txiso.Run(context.Background(), conn, func(ctx context.Context, tx *txiso.Tx) error {
			if _, err := tx.Exec(ctx, "update t set v = 99 where id = 1"); err != nil {
				return err
			}
			innerErr = txiso.Run(context.Background(), conn, func(ctx context.Context, inner *txiso.Tx) error {
				_, err := inner.Exec(ctx, "update t set v = 98 where id = 2")
				return err
			})
			return errOuter
		}, txiso.Serializable)
		require.ErrorIs(t, err, errOuter)
		require.ErrorIs(t, innerErr, txiso.ErrInTransaction)
		assert.Equal(t, 10, value(t, db, 1), "the outer transaction's write was not committed")
		assert.Equal(t, 20, value(t, db, 2))

		// Joining through fn's ctx still works, and the Conn is free again after Run.
		err = txiso.Run(context.Background(), conn, func(ctx context.Context, tx *txiso.Tx) error {
			return txiso.Run(ctx, conn, func(ctx context.Context, inner *txiso.Tx) error {
				assert.Same(t, tx, inner)
				_, err := inner.Exec(ctx, "update t set v = 11 where id = 1")
				return err
			})
		})
		require.NoError(t, err)
		assert.Equal(t, 11, value(t, db, 1))
	})
}

// Transaction-control statements sent through Tx are refused, in every
// spelling and through every method, and the attempt fails even when fn
// ignores the error; nothing is committed. Before, tx.Exec(ctx, "ROLLBACK")
// on pgx made Run report success for a transaction that committed nothing.
func TestPGTxControlRefused(t *testing.T) {
	forDrivers(t, func(t *testing.T, db *sql.DB) {
		send := map[string]func(ctx context.Context, tx *txiso.Tx, q string) error{
			"Exec": func(ctx context.Context, tx *txiso.Tx, q string) error { _, err := tx.Exec(ctx, q); return err },
			"Query": func(ctx context.Context, tx *txiso.Tx, q string) error {
				_, err := tx.Query(ctx, q)
				return err
			},
			"QueryRow": func(ctx context.Context, tx *txiso.Tx, q string) error { return tx.QueryRow(ctx, q).Scan() },
			"Prepare": func(ctx context.Context, tx *txiso.Tx, q string) error {
				_, err := tx.Prepare(ctx, q)
				return err
			},
			"ExecContext": func(ctx context.Context, tx *txiso.Tx, q string) error { _, err := tx.ExecContext(ctx, q); return err },
			"QueryContext": func(ctx context.Context, tx *txiso.Tx, q string) error {
				_, err := tx.QueryContext(ctx, q)
				return err
			},
			"QueryRowContext": func(ctx context.Context, tx *txiso.Tx, q string) error {
				return tx.QueryRowContext(ctx, q).Scan()
			},
		}
		for _, q := range []string{"ROLLBACK", "commit", "  End ", "abort", "begin", "START TRANSACTION",
			"/* done */ COMMIT", "-- done\nrollback work", "select 1; commit", "PREPARE TRANSACTION 'x'"} {
			for name, f := range send {
				var got error
				err := txiso.Run(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) error {
					if _, err := tx.Exec(ctx, "update t set v = 0 where id = 1"); err != nil {
						return err
					}
					got = f(ctx, tx, q)
					if name != "QueryRowContext" {
						assert.ErrorIs(t, got, txiso.ErrTxControl, "%s(%q)", name, q)
					}
					return nil // the bug: error ignored
				})
				require.ErrorIs(t, err, txiso.ErrTxControl, "%s(%q): Run must fail", name, q)
				assert.Contains(t, err.Error(), "return an error from fn")
				assert.Equal(t, 10, value(t, db, 1), "%s(%q): nothing committed", name, q)
			}
		}

		// ROLLBACK TO SAVEPOINT is allowed and undoes the failure before it.
		err := txiso.Run(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) error {
			if _, err := tx.Exec(ctx, "update t set v = 12 where id = 1"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "savepoint a"); err != nil {
				return err
			}
			_, _ = tx.Exec(ctx, "insert into t values (1, 0)") // 23505, handled by the rollback below
			_, err := tx.Exec(ctx, "rollback to savepoint a")
			return err
		})
		require.NoError(t, err)
		assert.Equal(t, 12, value(t, db, 1))
	})
}

// Run without a level runs at the database's default, never weaker:
// here the database defaults to serializable.
func TestPGDefaultLevelIsServerDefault(t *testing.T) {
	forDrivers(t, func(t *testing.T, admin *sql.DB) {
		var dbname string
		require.NoError(t, admin.QueryRow("select current_database()").Scan(&dbname))
		exec(t, admin, `alter database "`+dbname+`" set default_transaction_isolation = 'serializable'`)
		// New connections get the new default.
		admin.SetMaxIdleConns(0)
		show := func(ctx context.Context, tx *txiso.Tx) (string, error) {
			var l string
			err := tx.QueryRow(ctx, "SHOW transaction_isolation").Scan(&l)
			return l, err
		}
		got, err := txiso.Value(context.Background(), admin, show, txiso.VerifyLevel())
		require.NoError(t, err)
		assert.Equal(t, "serializable", got, "Run without a level used to run read committed")
		got, err = txiso.Value(context.Background(), admin, show, txiso.ReadCommitted)
		require.NoError(t, err)
		assert.Equal(t, "read committed", got, "an explicit level still wins")

		// A nested Run asking for serializable joins a default-level outer
		// transaction that is serializable, and is refused by one that is not.
		err = txiso.Run(context.Background(), admin, func(ctx context.Context, tx *txiso.Tx) error {
			assert.Equal(t, txiso.ServerDefault, tx.Level())
			return txiso.Run(ctx, admin, func(context.Context, *txiso.Tx) error { return nil }, txiso.Serializable)
		})
		require.NoError(t, err)
		exec(t, admin, `alter database "`+dbname+`" reset default_transaction_isolation`)
		err = txiso.Run(context.Background(), admin, func(ctx context.Context, tx *txiso.Tx) error {
			return txiso.Run(ctx, admin, func(context.Context, *txiso.Tx) error { return nil }, txiso.Serializable)
		})
		require.ErrorIs(t, err, txiso.ErrNested)
		assert.True(t, strings.Contains(err.Error(), "read committed"), "names the outer level: %v", err)
	})
}

type ptrBeginner struct{ db *sql.DB }

func (p *ptrBeginner) BeginTx(ctx context.Context, o *sql.TxOptions) (*sql.Tx, error) {
	return p.db.BeginTx(ctx, o)
}

// A typed-nil Beginner is bad input, not a panic.
func TestTypedNilBeginner(t *testing.T) {
	var p *ptrBeginner
	var db *sql.DB
	var conn *sql.Conn
	for name, b := range map[string]txiso.Beginner{"custom": p, "db": db, "conn": conn} {
		err := txiso.Run(context.Background(), b, func(context.Context, *txiso.Tx) error { return nil })
		assert.ErrorIs(t, err, txiso.ErrInvalid, name)
		_, err = txiso.Value(context.Background(), b, func(context.Context, *txiso.Tx) (int, error) { return 0, nil })
		assert.ErrorIs(t, err, txiso.ErrInvalid, name)
	}
}
