package txiso_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/txiso"
)

// The sqlc-shaped Queries of example_sqlc_test.go on a real server: a
// 40001 that the caller of a generated :exec query swallows is still
// retried (ExecContext records it); a failure that surfaces in a *sql.Row
// the caller swallows is found before COMMIT (ErrAborted), never committed.
func TestPGSqlcShapedQueries(t *testing.T) {
	forDrivers(t, func(t *testing.T, db *sql.DB) {
		exec(t, db, "create table accounts (id bigint primary key, balance bigint not null)")
		exec(t, db, "insert into accounts values (1, 500), (2, 0)")
		balance := func(id int64) int64 {
			var b int64
			require.NoError(t, db.QueryRow("select balance from accounts where id = $1", id).Scan(&b))
			return b
		}
		var codes []string
		err := txiso.Run(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) error {
			q := NewQueries(tx)
			b, err := q.GetBalance(ctx, 1)
			if err != nil {
				return err
			}
			if tx.Attempt() == 1 {
				exec(t, db, "update accounts set balance = balance + 1 where id = 1") // concurrent writer
			}
			_ = q.AddBalance(ctx, AddBalanceParams{Amount: -b, ID: 1}) // 40001 swallowed: the bug
			return q.AddBalance(ctx, AddBalanceParams{Amount: b, ID: 2})
		}, txiso.RepeatableRead, fast, txiso.OnRetry(func(i txiso.RetryInfo) { codes = append(codes, i.SQLState) }))
		require.NoError(t, err)
		assert.Equal(t, []string{"40001"}, codes)
		assert.EqualValues(t, 0, balance(1))
		assert.EqualValues(t, 501, balance(2))

		err = txiso.Run(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) error {
			q := NewQueries(tx)
			_ = q.AddBalance(ctx, AddBalanceParams{Amount: 7, ID: 2})
			var x int64
			_ = tx.QueryRowContext(ctx, "select 1/(balance - 508) from accounts where id = 2").Scan(&x) // swallowed
			return nil
		})
		require.Error(t, err)
		assert.True(t, txiso.SQLState(err) == "22012" || errors.Is(err, txiso.ErrAborted), "22012 recorded, or ErrAborted: got %v", err)
		assert.EqualValues(t, 501, balance(2), "nothing committed")
	})
}
