package txiso_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/goplumb/plumb/txiso"
)

// A money transfer at Serializable: retried from a fresh BEGIN on 40001 and
// 40P01, including a 40001 that only COMMIT reports.
func ExampleRun() {
	var db *sql.DB // sql.Open("postgres", dsn) or sql.Open("pgx", dsn)
	ctx := context.Background()

	err := txiso.Run(ctx, db, func(ctx context.Context, tx *txiso.Tx) error {
		var balance int64
		if err := tx.QueryRow(ctx, "select balance from accounts where id = $1", 1).Scan(&balance); err != nil {
			return err
		}
		if balance < 100 {
			return errors.New("insufficient funds") // not retried: returned as is
		}
		if _, err := tx.Exec(ctx, "update accounts set balance = balance - 100 where id = $1", 1); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "update accounts set balance = balance + 100 where id = $1", 2)
		return err
	}, txiso.Serializable, txiso.MaxAttempts(20), txiso.OnRetry(func(r txiso.RetryInfo) {
		log.Printf("transfer: attempt %d failed with %s, retrying in %v", r.Attempt, r.SQLState, r.Delay)
	}))

	var re *txiso.RetryError
	switch {
	case errors.As(err, &re):
		log.Printf("gave up after %d attempts (SQLSTATE %s)", re.Attempts, txiso.SQLState(err))
	case errors.Is(err, txiso.ErrCommitUnknown):
		log.Print("the connection broke during COMMIT: check whether the transfer happened")
	case err != nil:
		log.Print(err)
	}
}

// A consistent read-only report: Serializable, ReadOnly and Deferrable
// together wait for a safe snapshot once and then can never fail with 40001.
func ExampleValue() {
	var db *sql.DB
	ctx := context.Background()

	total, err := txiso.Value(ctx, db, func(ctx context.Context, tx *txiso.Tx) (int64, error) {
		var sum int64
		err := tx.QueryRow(ctx, "select sum(balance) from accounts").Scan(&sum)
		return sum, err
	}, txiso.Serializable, txiso.ReadOnly(), txiso.Deferrable())
	if err != nil {
		log.Print(err)
		return
	}
	fmt.Println("total:", total)
}

// Bad options are reported before anything is sent to the server.
func ExampleRun_invalidOptions() {
	// lib/pq does not connect before the first use, so no server is needed.
	db, err := sql.Open("postgres", "postgres://127.0.0.1:1/nowhere")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	noop := func(context.Context, *txiso.Tx) error { return nil }
	ctx := context.Background()

	err = txiso.Run(ctx, db, noop, txiso.Deferrable())
	fmt.Println(err)
	err = txiso.Run(ctx, db, noop, txiso.MaxAttempts(0))
	fmt.Println(err)
	err = txiso.Run(ctx, db, noop, txiso.Isolation(sql.LevelSnapshot))
	fmt.Println(errors.Is(err, txiso.ErrInvalid))
	// Output:
	// txiso: invalid input: Deferrable needs Serializable and ReadOnly (got default, read-only false); PostgreSQL would silently ignore it
	// txiso: invalid input: MaxAttempts(0): want at least 1 (1 means no retry)
	// true
}

// pgError stands for a driver error: *pq.Error and *pgconn.PgError both
// have a SQLState method.
type pgError struct{ code, msg string }

func (e *pgError) Error() string    { return e.msg }
func (e *pgError) SQLState() string { return e.code }

// SQLState and IsRetryable find the code through any %w wrapping, without
// importing a driver.
func ExampleSQLState() {
	err := fmt.Errorf("move stock: %w", &pgError{"40001", "could not serialize access"})
	fmt.Println(txiso.SQLState(err), txiso.IsRetryable(err))

	err = fmt.Errorf("insert: %w", &pgError{"23505", "duplicate key value"})
	fmt.Println(txiso.SQLState(err), txiso.IsRetryable(err))
	// Output:
	// 40001 true
	// 23505 false
}

// A unique violation can mean "a concurrent insert won": retrying it, in
// addition to 40001 and 40P01, is opt-in.
func ExampleRetryCodes() {
	var db *sql.DB
	ctx := context.Background()
	err := txiso.Run(ctx, db, func(ctx context.Context, tx *txiso.Tx) error {
		_, err := tx.Exec(ctx, "insert into users (email) select $1 where not exists (select 1 from users where email = $1)", "a@example.com")
		return err
	}, txiso.RepeatableRead, txiso.RetryCodes("23505"))
	if err != nil {
		log.Print(err)
	}
}

// Savepoint undoes a failed part of the transaction and lets it continue;
// a 40001 or 40P01 inside it still restarts the whole transaction.
func ExampleTx_Savepoint() {
	var db *sql.DB
	ctx := context.Background()
	err := txiso.Run(ctx, db, func(ctx context.Context, tx *txiso.Tx) error {
		if _, err := tx.Exec(ctx, "insert into orders (id) values ($1)", 42); err != nil {
			return err
		}
		err := tx.Savepoint(ctx, func(ctx context.Context, tx *txiso.Tx) error {
			_, err := tx.Exec(ctx, "insert into audit (order_id) values ($1)", 42)
			return err
		})
		if err != nil && !txiso.IsRetryable(err) {
			log.Printf("audit skipped: %v", err) // the order is still committed
			return nil
		}
		return err
	}, txiso.Serializable)
	if err != nil {
		log.Print(err)
	}
}

// Repository code that calls Run joins the caller's transaction when it
// gets the ctx that Run passed to fn.
func ExampleFromContext() {
	var db *sql.DB
	ctx := context.Background()
	debit := func(ctx context.Context, id int) error {
		// Joins the outer transaction: no BEGIN, no retry loop of its own.
		return txiso.Run(ctx, db, func(ctx context.Context, tx *txiso.Tx) error {
			_, err := tx.Exec(ctx, "update accounts set balance = balance - 1 where id = $1", id)
			return err
		})
	}
	err := txiso.Run(ctx, db, func(ctx context.Context, tx *txiso.Tx) error {
		if _, ok := txiso.FromContext(ctx); !ok {
			return errors.New("unreachable: fn's ctx carries the transaction")
		}
		return debit(ctx, 1)
	}, txiso.Serializable)
	if err != nil {
		log.Print(err)
	}
}

// The live anomaly matrix of the connected server.
func ExampleMatrix() {
	var db *sql.DB
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := txiso.Matrix(ctx, db)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Server)
	fmt.Print(m) // one row per Hermitage case, one column per level
	if bad := m.Mismatches(); len(bad) > 0 {
		log.Printf("%d cells differ from Hermitage (github.com/ept/hermitage)", len(bad))
	}
}

// The default backoff: a random delay below min(cap, base·2^(attempt-1)).
func ExampleJitterBackoff() {
	backoff := txiso.JitterBackoff(5*time.Millisecond, time.Second)
	for attempt := 1; attempt <= 10; attempt *= 3 {
		bound := min(time.Second, 5*time.Millisecond<<(attempt-1))
		d := backoff(attempt)
		fmt.Printf("after attempt %d: below %v: %t\n", attempt, bound, d >= 0 && d < bound)
	}
	// Output:
	// after attempt 1: below 5ms: true
	// after attempt 3: below 20ms: true
	// after attempt 9: below 1s: true
}

// Levels print as PostgreSQL spells them; the zero Level is the server's
// default, and database/sql levels convert directly.
func ExampleLevel() {
	for _, l := range []txiso.Level{txiso.ServerDefault, txiso.ReadCommitted, txiso.RepeatableRead, txiso.Serializable} {
		fmt.Println(l)
	}
	fmt.Println(txiso.Level(sql.LevelSerializable) == txiso.Serializable)
	// Output:
	// default
	// read committed
	// repeatable read
	// serializable
	// true
}

// The error Run returns when it gives up: it unwraps to the driver's error
// (so SQLState and errors.As work) and to the context's error.
func ExampleRetryError() {
	var err error = &txiso.RetryError{
		Attempts: 3,
		Err:      &pgError{"40001", "could not serialize access due to concurrent update"},
		Ctx:      context.DeadlineExceeded,
	}
	fmt.Println(err)
	fmt.Println(txiso.SQLState(err), errors.Is(err, context.DeadlineExceeded))
	// Output:
	// txiso: context deadline exceeded after 3 attempt(s); last error: could not serialize access due to concurrent update
	// 40001 true
}

// DefaultClassify retries serialization failures and deadlocks only; a
// COMMIT whose outcome is unknown is never retried by default.
func ExampleDefaultClassify() {
	for _, err := range []error{
		&pgError{"40001", "serialization failure"},
		&pgError{"40P01", "deadlock detected"},
		&pgError{"23505", "duplicate key"},
		fmt.Errorf("%w: connection reset", txiso.ErrCommitUnknown),
	} {
		fmt.Println(txiso.DefaultClassify(err) == txiso.Retry, err)
	}
	// Output:
	// true serialization failure
	// true deadlock detected
	// false duplicate key
	// false txiso: commit outcome unknown: connection reset
}

// A MatrixResult prints as a table, one row per case and one column per
// level; a cell that differed from Hermitage's expectation is marked "!".
func ExampleMatrixResult_String() {
	m := &txiso.MatrixResult{Cells: []txiso.MatrixCell{
		{Case: "G2-item", Level: txiso.ReadCommitted, Outcome: txiso.Anomaly, Expected: true},
		{Case: "G2-item", Level: txiso.RepeatableRead, Outcome: txiso.Anomaly, Expected: true},
		{Case: "G2-item", Level: txiso.Serializable, Outcome: txiso.Failed40001, Expected: true},
	}}
	fmt.Print(m)
	// Output:
	// case                       read uncommitted  read committed    repeatable read   serializable
	// G2-item                    n/a               ANOMALY           ANOMALY           40001
}
