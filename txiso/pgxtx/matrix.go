package pgxtx

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/goplumb/plumb/txiso"
)

// Matrix is txiso.Matrix on a pgxpool.Pool: it needs 4 of the pool's
// connections at once and uses up to 16, fewer when the pool's MaxConns or
// the server's limits are lower (a pool with MaxConns below 4 fails with
// txiso.ErrInvalid before anything runs). Other users of the pool may keep
// running; Matrix waits a bounded time for each connection beyond the
// first four, then runs with what it has. The pool stays open: the caller
// owns it. Errors and results are txiso.Matrix's.
func Matrix(ctx context.Context, pool *pgxpool.Pool) (*txiso.MatrixResult, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: nil pool", txiso.ErrInvalid)
	}
	maxConns := pool.Config().MaxConns
	if maxConns < 4 {
		return nil, fmt.Errorf("%w: Matrix needs 4 connections at once (3 sessions and a monitor), "+
			"the pool's MaxConns is %d: raise it (pool_max_conns=16 in the DSN runs 4 cases at a time)", txiso.ErrInvalid, maxConns)
	}
	// The sessions run through pgx's own database/sql driver over this
	// pool (the connections are the pool's; closing db does not close it).
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	db.SetMaxOpenConns(int(maxConns))
	return txiso.Matrix(ctx, db)
}
