package txiso

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Beginner starts transactions: *sql.DB, *sql.Conn, or anything with the
// same BeginTx. txiso never closes it; the caller owns it.
type Beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// Run runs fn in a transaction on db at the chosen isolation level
// (default ReadCommitted) and commits it if fn returns nil.
//
// Every attempt begins with db.BeginTx and sql.TxOptions (never session
// state). When an attempt fails with an error the classifier retries
// (default: SQLSTATE 40001 serialization failure and 40P01 deadlock, at
// BEGIN, in a statement, or at COMMIT), Run rolls the attempt back, waits
// the backoff (ctx-aware) and runs the whole transaction again from a fresh
// BeginTx, so fn must not have effects outside the transaction that cannot
// be repeated. A statement error that fn swallowed is still found: when
// COMMIT reports that the server rolled back, the error of the first failed
// statement run through tx is classified instead.
//
// Errors: a non-retryable error from fn on the first attempt is returned
// unchanged; COMMIT errors are wrapped ("txiso: commit: ..."); a broken
// connection during COMMIT matches ErrCommitUnknown and is not retried; when
// Run gives up on a retryable error, when ctx ends, or when a retry fails
// with a non-retryable error, it returns a *RetryError that unwraps to the
// attempt's error. Bad input (nil ctx,
// db or fn, invalid options) matches ErrInvalid and is reported before
// any BEGIN.
//
// If fn panics, Run rolls back and re-panics with the same value (it does
// not turn the panic into an error); the connection goes back to the pool. If ctx already carries a transaction
// that Run started on the same db (fn calls code that calls Run again), the
// nested Run joins it: fn runs inside the outer transaction, and the outer
// Run owns commit and retries. Run is safe for concurrent use; fn's *Tx
// must not be used after fn returns.
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

func isNilBeginner(db Beginner) bool {
	switch d := db.(type) {
	case nil:
		return true
	case *sql.DB:
		return d == nil
	case *sql.Conn:
		return d == nil
	}
	return false
}

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
		if err := outer.compatible(c); err != nil {
			return err
		}
		return fn(ctx, outer)
	}
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, db, fn, attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return &RetryError{Attempts: attempt, Err: err, Ctx: ctx.Err()}
		}
		if c.classify(err) != Retry {
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
	if isFailedTxSentinel(cerr) {
		if cause != nil {
			return &causedError{err: fmt.Errorf("txiso: commit: %w", cerr), cause: cause}
		}
		return fmt.Errorf("%w: %w", ErrAborted, cerr)
	}
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
	if level != c.level.String() || ro != wantRO {
		return fmt.Errorf("%w: asked for %s (read-only %s), server runs %s (read-only %s)",
			ErrLevelMismatch, c.level, wantRO, level, ro)
	}
	return nil
}
