package pgxtx_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goplumb/plumb/txiso"
	"github.com/goplumb/plumb/txiso/pgxtx"
)

// A money transfer at Serializable on a pgxpool.Pool, retried on 40001 and
// 40P01 from a fresh BEGIN.
func ExampleRun() {
	var pool *pgxpool.Pool // pgxpool.New(ctx, dsn)
	ctx := context.Background()
	err := pgxtx.Run(ctx, pool, func(ctx context.Context, tx *pgxtx.Tx) error {
		if _, err := tx.Exec(ctx, "update accounts set balance = balance - 100 where id = $1", 1); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "update accounts set balance = balance + 100 where id = $1", 2)
		return err
	}, txiso.Serializable, txiso.MaxAttempts(20))
	if errors.Is(err, txiso.ErrCommitUnknown) {
		log.Print("the connection broke during COMMIT: check whether the transfer happened")
	} else if err != nil {
		log.Print(err)
	}
}

// Code that receives a caller's pgx.Tx runs its part in a savepoint of it:
// an error undoes only that part, and the caller commits.
func ExampleRun_insideCallersTx() {
	var pool *pgxpool.Pool
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback(ctx)
	err = pgxtx.Run(ctx, tx, func(ctx context.Context, sp *pgxtx.Tx) error {
		_, err := sp.Exec(ctx, "insert into audit (note) values ($1)", "optional")
		return err
	})
	if err != nil {
		log.Printf("audit skipped: %v", err) // the caller's transaction goes on
	}
	if err := tx.Commit(ctx); err != nil {
		log.Print(err)
	}
}

// sqlc's generated pgx/v5 code takes a DBTX; *pgxtx.Tx is one.
func ExampleTx_sqlc() {
	var pool *pgxpool.Pool
	ctx := context.Background()
	type DBTX interface {
		QueryRow(context.Context, string, ...interface{}) pgx.Row
	}
	getBalance := func(ctx context.Context, db DBTX, id int64) (int64, error) { // as sqlc generates it
		var b int64
		err := db.QueryRow(ctx, "select balance from accounts where id = $1", id).Scan(&b)
		return b, err
	}
	total, err := pgxtx.Value(ctx, pool, func(ctx context.Context, tx *pgxtx.Tx) (int64, error) {
		a, err := getBalance(ctx, tx, 1)
		if err != nil {
			return 0, err
		}
		b, err := getBalance(ctx, tx, 2)
		return a + b, err
	}, txiso.RepeatableRead, txiso.ReadOnly())
	if err != nil {
		log.Print(err)
	}
	fmt.Println(total)
}

// Bad input is reported before anything is sent.
func ExampleRun_badInput() {
	var pool *pgxpool.Pool // not set up: nil
	err := pgxtx.Run(context.Background(), pool, func(context.Context, *pgxtx.Tx) error { return nil })
	fmt.Println(errors.Is(err, txiso.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// txiso: invalid input: nil db (pass a *pgxpool.Pool, *pgx.Conn, *pgxpool.Conn or pgx.Tx)
}
