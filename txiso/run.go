package txiso

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/goplumb/plumb/txiso/internal/link"
)

// Beginner starts transactions: *sql.DB, *sql.Conn, or anything with the
// same BeginTx. txiso never closes it; the caller owns it.
type Beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// Run runs fn in a transaction on db at the chosen isolation level
// (default ServerDefault: the session's default_transaction_isolation,
// never weaker than what the server was configured to give) and commits it
// if fn returns nil.
//
// Every attempt begins with db.BeginTx and sql.TxOptions (never session
// state). When an attempt fails with an error the classifier retries
// (default: SQLSTATE 40001 serialization failure and 40P01 deadlock, at
// BEGIN, in a statement, or at COMMIT), Run rolls the attempt back, waits
// the backoff (ctx-aware) and runs the whole transaction again from a fresh
// BeginTx, so fn must not have effects outside the transaction that cannot
// be repeated. A statement error that fn swallowed is still found: when
// COMMIT fails after a statement run through tx failed (and no ROLLBACK TO
// SAVEPOINT undid it), the server cannot have committed, and that
// statement's error is classified instead, by its SQLSTATE (never by a
// driver's error text, which differs between driver versions). If fn used
// Raw or the DBTX methods, whose later errors Tx cannot see, Run checks the
// transaction with one statement before COMMIT and reports ErrAborted if
// it is failed.
//
// Errors: a non-retryable error from fn on the first attempt is returned
// unchanged; COMMIT errors are wrapped ("txiso: commit: ..."); a broken
// connection during COMMIT (or ctx ending while COMMIT is in flight)
// matches ErrCommitUnknown, is not retried, and is never a *RetryError,
// whatever attempt it ends; when Run gives up on a retryable error, when
// ctx ends, or when a retry fails with a non-retryable error, it returns a
// *RetryError that unwraps to the attempt's error. Bad input (nil ctx,
// db or fn, invalid options) matches ErrInvalid and is reported before
// any BEGIN.
//
// If fn panics, Run rolls back and re-panics with the same value (it does
// not turn the panic into an error); the connection goes back to the pool. If ctx already carries a transaction
// that Run started on the same db (fn calls code that calls Run again), the
// nested Run joins it: fn runs inside the outer transaction, and the outer
// Run owns commit and retries. A Run on a *sql.Conn that is already running
// one without that ctx (a fresh context, another goroutine) fails with
// ErrInTransaction before anything is sent (a transaction begun on the Conn
// outside txiso is not detected). fn must not end the transaction itself:
// transaction-control statements sent through tx fail with ErrTxControl
// (see Tx). Run is safe for concurrent use; fn's *Tx must not be used after
// fn returns.
func Run(ctx context.Context, db Beginner, fn func(ctx context.Context, tx *Tx) error, opts ...Option) error {
	if fn == nil {
		return fmt.Errorf("%w: nil fn", ErrInvalid)
	}
	return run(ctx, db, fn, opts)
}

// Value is Run for a transaction that computes a result: it returns what
// the successful attempt's fn returned (the zero T on error). Everything
// Run documents applies.
func Value[T any](ctx context.Context, db Beginner, fn func(ctx context.Context, tx *Tx) (T, error), opts ...Option) (T, error) {
	var zero T
	if fn == nil {
		return zero, fmt.Errorf("%w: nil fn", ErrInvalid)
	}
	var v T
	err := run(ctx, db, func(ctx context.Context, tx *Tx) error {
		r, err := fn(ctx, tx)
		if err != nil {
			return err
		}
		v = r
		return nil
	}, opts)
	if err != nil {
		return zero, err
	}
	return v, nil
}

// isNilBeginner reports a nil db, including a typed nil (a nil *sql.DB, or
// a nil pointer of a custom Beginner, whose BeginTx would panic).
func isNilBeginner(db Beginner) bool {
	if db == nil {
		return true
	}
	v := reflect.ValueOf(db)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// busyConns holds the *sql.Conns a Run is using (item: one transaction per
// connection). database/sql lets a second BeginTx reach a connection that is
// in a transaction: pgx then sends a second BEGIN, which PostgreSQL only
// warns about, and the inner COMMIT commits the outer transaction's writes.
// A *sql.DB needs no entry: each Run gets a connection of its own.
var busyConns sync.Map // *sql.Conn -> struct{}

func sameBeginner(a, b Beginner) (same bool) {
	defer func() {
		if recover() != nil { // non-comparable dynamic type
			same = false
		}
	}()
	return a == b
}

func run(ctx context.Context, db Beginner, fn func(ctx context.Context, tx *Tx) error, opts []Option) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context (use context.Background())", ErrInvalid)
	}
	if isNilBeginner(db) {
		return fmt.Errorf("%w: nil db (pass a *sql.DB or *sql.Conn)", ErrInvalid)
	}
	c, err := newConfig(opts)
	if err != nil {
		return err
	}
	if outer, ok := ctx.Value(ctxKey{}).(*Tx); ok && outer.active() && sameBeginner(outer.db, db) {
		if err := outer.compatible(ctx, c); err != nil {
			return err
		}
		return fn(ctx, outer)
	}
	if conn, ok := db.(*sql.Conn); ok {
		if _, busy := busyConns.LoadOrStore(conn, struct{}{}); busy {
			return fmt.Errorf("%w: this *sql.Conn is running a Run that fn's ctx does not carry; "+
				"pass the ctx Run gave fn to join it, or use another connection", ErrInTransaction)
		}
		defer busyConns.Delete(conn)
	}
	return c.loop(ctx, func(ctx context.Context, n int) error { return c.attempt(ctx, db, fn, n) })
}

func init() {
	link.Prepare = func(opts any) (link.Settings, link.Loop, error) {
		o, ok := opts.([]Option)
		if !ok {
			return link.Settings{}, nil, fmt.Errorf("%w: options of type %T", ErrInvalid, opts)
		}
		c, err := newConfig(o)
		if err != nil {
			return link.Settings{}, nil, err
		}
		s := link.Settings{Level: int(c.level), ReadOnly: c.readOnly, Deferrable: c.deferrable, Verify: c.verify}
		return s, c.loop, nil
	}
}

// loop runs attempt until it succeeds or the retry policy stops it (see Run).
func (c *config) loop(ctx context.Context, attemptFn func(ctx context.Context, n int) error) error {
	for attempt := 1; ; attempt++ {
		err := attemptFn(ctx, attempt)
		if err == nil {
			return nil
		}
		decision := c.classify(err)
		if errors.Is(err, ErrCommitUnknown) && (ctx.Err() != nil || decision != Retry || attempt >= c.maxAttempts) {
			// Never a *RetryError, which says that nothing was committed:
			// this attempt may have been.
			if attempt == 1 {
				return err
			}
			return fmt.Errorf("txiso: attempt %d: %w", attempt, err)
		}
		if ctx.Err() != nil {
			return &RetryError{Attempts: attempt, Err: err, Ctx: ctx.Err()}
		}
		if decision != Retry {
			if attempt == 1 {
				return err
			}
			return &RetryError{Attempts: attempt, Err: err}
		}
		if attempt >= c.maxAttempts {
			return &RetryError{Attempts: attempt, Err: err}
		}
		delay := c.backoff(attempt)
		info := RetryInfo{Attempt: attempt, SQLState: SQLState(err), Err: err, Delay: delay}
		for _, h := range c.onRetry {
			h(info)
		}
		if serr := c.wait(ctx, delay); serr != nil {
			return &RetryError{Attempts: attempt, Err: err, Ctx: serr}
		}
	}
}

func (c *config) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attempt runs one transaction. The transaction is always finished (committed
// or rolled back) when it returns, including when fn panics.
func (c *config) attempt(ctx context.Context, db Beginner, fn func(context.Context, *Tx) error, n int) (err error) {
	stx, err := db.BeginTx(ctx, c.txOptions())
	if err != nil {
		return fmt.Errorf("txiso: begin: %w", err)
	}
	t := &Tx{tx: stx, db: db, level: c.level, readOnly: c.readOnly, deferrable: c.deferrable, attempt: n}
	t.state.Store(stateActive)
	finished := false
	defer func() {
		t.state.Store(stateDone)
		if !finished {
			// fn panicked (or runtime.Goexit): roll back so the connection
			// returns to the pool, then let the panic continue unchanged.
			_ = stx.Rollback()
		}
	}()
	if c.deferrable {
		// database/sql has no DEFERRABLE field; it must be the first statement.
		if _, err := stx.ExecContext(ctx, "SET TRANSACTION DEFERRABLE"); err != nil {
			finished = true
			_ = stx.Rollback()
			return fmt.Errorf("txiso: set transaction deferrable: %w", err)
		}
	}
	if c.verify {
		if err := verifyLevel(ctx, stx, c); err != nil {
			finished = true
			_ = stx.Rollback()
			return err
		}
	}
	ferr := fn(context.WithValue(ctx, ctxKey{}, t), t)
	finished = true
	t.state.Store(stateDone)
	if ferr != nil {
		_ = stx.Rollback()
		if SQLState(ferr) == "" || SQLState(ferr) == "25P02" {
			if cause := t.firstCause(); cause != nil {
				return &causedError{err: ferr, cause: cause}
			}
		}
		return ferr
	}
	if rerr := t.firstRefused(); rerr != nil {
		_ = stx.Rollback()
		return rerr
	}
	if t.untracked.Load() {
		// Statements ran whose errors Tx could not see (Raw, DBTX methods),
		// or a ROLLBACK TO SAVEPOINT whose success it did not see. One
		// round trip tells whether the transaction is failed, without
		// comparing driver error texts: PostgreSQL answers 25P02. A usable
		// transaction has no failure pending, so a recorded one was undone
		// and must not classify the COMMIT below.
		if _, perr := stx.ExecContext(ctx, "SELECT 1"); perr != nil {
			_ = stx.Rollback()
			if SQLState(perr) == "25P02" {
				aborted := fmt.Errorf("%w: %w", ErrAborted, perr)
				if cause := t.firstCause(); cause != nil {
					return &causedError{err: aborted, cause: cause}
				}
				return aborted
			}
			return fmt.Errorf("txiso: checking the transaction before COMMIT (COMMIT not sent): %w", perr)
		}
		t.clearCause()
	}
	doneBefore := ctx.Err() != nil
	cerr := stx.Commit()
	if cerr == nil {
		return nil
	}
	return commitError(ctx, cerr, t.firstCause(), doneBefore)
}

// commitError classifies a failed COMMIT (see Run). doneBefore says whether
// ctx had ended before Commit was called.
func commitError(ctx context.Context, cerr, cause error, doneBefore bool) error {
	if cause != nil {
		// A statement of this transaction failed and no ROLLBACK TO
		// SAVEPOINT undid it: PostgreSQL cannot have committed it, whatever
		// COMMIT returned (lib/pq's ErrInFailedTransaction, pgx's
		// ErrTxCommitRollback, a broken connection). Classify the cause.
		return &causedError{err: fmt.Errorf("txiso: commit: %w", cerr), cause: cause}
	}
	if ctx.Err() != nil && (errors.Is(cerr, sql.ErrTxDone) || (doneBefore && errors.Is(cerr, ctx.Err()))) {
		// database/sql checks the BeginTx ctx before sending COMMIT and then
		// rolls back (golang/go#43507): nothing was committed.
		return fmt.Errorf("txiso: commit: %w", ctx.Err())
	}
	if ctx.Err() != nil && errors.Is(cerr, ctx.Err()) {
		// ctx ended while COMMIT was in flight: pgx's stdlib driver commits
		// with the BeginTx ctx and cancels the statement, so the server may
		// or may not have committed.
		return fmt.Errorf("%w: context ended during COMMIT: %w", ErrCommitUnknown, cerr)
	}
	if isConnError(cerr) {
		return fmt.Errorf("%w: %w", ErrCommitUnknown, cerr)
	}
	if SQLState(cerr) != "" {
		// 40001 from SSI at commit, deferred constraint violations, ...:
		// the server rolled back.
		return fmt.Errorf("txiso: commit: %w", cerr)
	}
	// No SQLSTATE, no recorded failure, not a connection error: nothing
	// says what the server did, so the outcome is reported unknown.
	return fmt.Errorf("%w: %w", ErrCommitUnknown, cerr)
}

func verifyLevel(ctx context.Context, stx *sql.Tx, c *config) error {
	var level, ro string
	if err := stx.QueryRowContext(ctx, "SHOW transaction_isolation").Scan(&level); err != nil {
		return fmt.Errorf("txiso: verify level: %w", err)
	}
	if err := stx.QueryRowContext(ctx, "SHOW transaction_read_only").Scan(&ro); err != nil {
		return fmt.Errorf("txiso: verify level: %w", err)
	}
	wantRO := "off"
	if c.readOnly {
		wantRO = "on"
	}
	if (c.level != ServerDefault && level != c.level.String()) || ro != wantRO {
		return fmt.Errorf("%w: asked for %s (read-only %s), server runs %s (read-only %s)",
			ErrLevelMismatch, c.level, wantRO, level, ro)
	}
	return nil
}
