package txiso_test

import (
	"context"
	"database/sql"
	"log"

	"github.com/goplumb/plumb/txiso"
)

// What sqlc generates for database/sql (written by hand here: txiso does
// not depend on sqlc). *txiso.Tx satisfies DBTX.
type DBTX interface {
	ExecContext(context.Context, string, ...interface{}) (sql.Result, error)
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	QueryContext(context.Context, string, ...interface{}) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...interface{}) *sql.Row
}

var _ DBTX = (*txiso.Tx)(nil)

// Queries is sqlc's generated query set.
type Queries struct{ db DBTX }

// NewQueries is sqlc's New.
func NewQueries(db DBTX) *Queries { return &Queries{db: db} }

const getBalance = `-- name: GetBalance :one
select balance from accounts where id = $1`

// GetBalance is a generated :one query.
func (q *Queries) GetBalance(ctx context.Context, id int64) (int64, error) {
	row := q.db.QueryRowContext(ctx, getBalance, id)
	var balance int64
	err := row.Scan(&balance)
	return balance, err
}

const addBalance = `-- name: AddBalance :exec
update accounts set balance = balance + $1 where id = $2`

// AddBalanceParams are a generated query's parameters.
type AddBalanceParams struct {
	Amount int64
	ID     int64
}

// AddBalance is a generated :exec query.
func (q *Queries) AddBalance(ctx context.Context, arg AddBalanceParams) error {
	_, err := q.db.ExecContext(ctx, addBalance, arg.Amount, arg.ID)
	return err
}

// sqlc's generated queries run on *txiso.Tx as they run on *sql.Tx, with
// txiso's retries: pass tx where sqlc's New takes a DBTX.
func ExampleTx_sqlc() {
	var db *sql.DB // sql.Open("pgx", dsn) or sql.Open("postgres", dsn)
	ctx := context.Background()
	err := txiso.Run(ctx, db, func(ctx context.Context, tx *txiso.Tx) error {
		q := NewQueries(tx)
		balance, err := q.GetBalance(ctx, 1)
		if err != nil {
			return err
		}
		if balance < 100 {
			return nil
		}
		if err := q.AddBalance(ctx, AddBalanceParams{Amount: -100, ID: 1}); err != nil {
			return err
		}
		return q.AddBalance(ctx, AddBalanceParams{Amount: 100, ID: 2})
	}, txiso.Serializable)
	if err != nil {
		log.Print(err)
	}
}
