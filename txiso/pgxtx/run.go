package pgxtx

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/goplumb/plumb/txiso"
	"github.com/goplumb/plumb/txiso/internal/link"
)

// Beginner is what Run runs on: *pgxpool.Pool, *pgx.Conn and *pgxpool.Conn
// (which also have BeginTx, so Run begins a transaction with the level and
// modes it was given), or a pgx.Tx (Run then joins it through a savepoint;
// see the package doc). The caller owns it; pgxtx never closes it.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// txBeginner is a Beginner that can begin a transaction with options.
type txBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// Run runs fn in a transaction on db and commits it if fn returns nil; see
// the package doc and txiso.Run, whose behaviour it shares, for retries,
// errors, panics and nesting. Bad input (nil or typed-nil ctx, db or fn,
// invalid options) matches txiso.ErrInvalid before anything is sent. Run is
// safe for concurrent use on a *pgxpool.Pool; a *pgx.Conn, like pgx itself,
// takes one Run at a time (a second one while it is in a transaction fails
// with txiso.ErrInTransaction). fn's *Tx must not be used after fn returns.
func Run(ctx context.Context, db Beginner, fn func(ctx context.Context, tx *Tx) error, opts ...txiso.Option) error {
	if fn == nil {
		return fmt.Errorf("%w: nil fn", txiso.ErrInvalid)
	}
	return run(ctx, db, fn, opts)
}

// Value is Run for a transaction that computes a result: it returns what
// the successful attempt's fn returned (the zero T on error).
func Value[T any](ctx context.Context, db Beginner, fn func(ctx context.Context, tx *Tx) (T, error), opts ...txiso.Option) (T, error) {
	var zero T
	if fn == nil {
		return zero, fmt.Errorf("%w: nil fn", txiso.ErrInvalid)
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

type ctxKey struct{}

// FromContext returns the transaction Run is running on ctx (the ctx passed
// to fn, or one derived from it). The second result is false outside Run.
func FromContext(ctx context.Context) (*Tx, bool) {
	t, ok := ctx.Value(ctxKey{}).(*Tx)
	if !ok || !t.active() {
		return nil, false
	}
	return t, true
}

func isNil(db Beginner) bool {
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

func same(a, b any) (eq bool) {
	defer func() {
		if recover() != nil { // non-comparable dynamic type
			eq = false
		}
	}()
	return a == b
}

// busyTxs holds the pgx.Tx values a Run is joined to, so that a second Run
// on the same pgx.Tx through another ctx is refused as on a *pgx.Conn.
var busyTxs sync.Map

type connHolder interface{ Conn() *pgx.Conn }

func run(ctx context.Context, db Beginner, fn func(ctx context.Context, tx *Tx) error, opts []txiso.Option) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context (use context.Background())", txiso.ErrInvalid)
	}
	if isNil(db) {
		return fmt.Errorf("%w: nil db (pass a *pgxpool.Pool, *pgx.Conn, *pgxpool.Conn or pgx.Tx)", txiso.ErrInvalid)
	}
	set, loop, err := link.Prepare(opts)
	if err != nil {
		return err
	}
	if outer, ok := ctx.Value(ctxKey{}).(*Tx); ok && outer.active() && (same(outer.db, db) || same(outer.tx, db)) {
		if err := outer.compatible(ctx, set); err != nil {
			return err
		}
		return fn(ctx, outer)
	}
	switch b := db.(type) {
	case txBeginner:
		if c, ok := db.(interface{ PgConn() *pgconn.PgConn }); ok {
			if st := c.PgConn().TxStatus(); st != 'I' {
				return inTransaction(st)
			}
		} else if c, ok := db.(connHolder); ok {
			if st := c.Conn().PgConn().TxStatus(); st != 'I' {
				return inTransaction(st)
			}
		}
		return loop(ctx, func(ctx context.Context, n int) error { return attempt(ctx, b, db, set, fn, n) })
	case pgx.Tx:
		if _, busy := busyTxs.LoadOrStore(b, struct{}{}); busy {
			return fmt.Errorf("%w: a Run is already joined to this pgx.Tx through another ctx; "+
				"pass the ctx Run gave fn to join it", txiso.ErrInTransaction)
		}
		defer busyTxs.Delete(b)
		return join(ctx, b, set, fn)
	}
	return attemptNoOptions(ctx, db, set, fn, loop)
}

func inTransaction(status byte) error {
	return fmt.Errorf("%w: the *pgx.Conn's transaction status is %q (a transaction begun by another Run "+
		"through a fresh ctx, or outside pgxtx); pass the ctx Run gave fn to join a Run, or use another "+
		"connection (a *pgxpool.Pool gives one per Run)", txiso.ErrInTransaction, status)
}

// attemptNoOptions serves a Beginner with Begin only that is not a pgx.Tx:
// without BeginTx the options cannot reach BEGIN, so any is refused.
func attemptNoOptions(ctx context.Context, db Beginner, set link.Settings, fn func(context.Context, *Tx) error, loop link.Loop) error {
	if set.Level != int(txiso.ServerDefault) || set.ReadOnly || set.Deferrable {
		return fmt.Errorf("%w: %T has no BeginTx, so the level and access mode cannot be set; "+
			"pass a *pgxpool.Pool or *pgx.Conn", txiso.ErrInvalid, db)
	}
	return loop(ctx, func(ctx context.Context, n int) error { return attempt(ctx, beginOnly{db}, db, set, fn, n) })
}

type beginOnly struct{ db Beginner }

func (b beginOnly) BeginTx(ctx context.Context, _ pgx.TxOptions) (pgx.Tx, error) {
	return b.db.Begin(ctx)
}

func txOptions(set link.Settings) pgx.TxOptions {
	var o pgx.TxOptions
	switch txiso.Level(set.Level) {
	case txiso.ReadUncommitted:
		o.IsoLevel = pgx.ReadUncommitted
	case txiso.ReadCommitted:
		o.IsoLevel = pgx.ReadCommitted
	case txiso.RepeatableRead:
		o.IsoLevel = pgx.RepeatableRead
	case txiso.Serializable:
		o.IsoLevel = pgx.Serializable
	}
	if set.ReadOnly {
		o.AccessMode = pgx.ReadOnly
	}
	if set.Deferrable {
		o.DeferrableMode = pgx.Deferrable
	}
	return o
}

// attempt runs one transaction; it is always finished when attempt
// returns, including when fn panics.
func attempt(ctx context.Context, b txBeginner, db Beginner, set link.Settings, fn func(context.Context, *Tx) error, n int) error {
	ptx, err := b.BeginTx(ctx, txOptions(set))
	if err != nil {
		return fmt.Errorf("txiso: begin: %w", err)
	}
	t := newTx(ptx, db, set, n)
	finished := false
	defer func() {
		t.end()
		if !finished {
			// fn panicked (or runtime.Goexit): roll back so the connection
			// is released, then let the panic continue unchanged.
			_ = ptx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if set.Verify {
		if err := t.verify(ctx, set); err != nil {
			finished = true
			_ = ptx.Rollback(context.WithoutCancel(ctx))
			return err
		}
	}
	ferr := fn(context.WithValue(ctx, ctxKey{}, t), t)
	finished = true
	t.end()
	rollback := func() { _ = ptx.Rollback(context.WithoutCancel(ctx)) }
	if ferr != nil {
		rollback()
		if s := txiso.SQLState(ferr); s == "" || s == "25P02" {
			if cause := t.firstCause(); cause != nil {
				return &causedError{err: ferr, cause: cause}
			}
		}
		return ferr
	}
	if rerr := t.firstRefused(); rerr != nil {
		rollback()
		return rerr
	}
	// The connection knows whether the transaction is failed: no round trip.
	switch ptx.Conn().PgConn().TxStatus() {
	case 'E':
		rollback()
		if cause := t.firstCause(); cause != nil {
			return &causedError{err: errors.New("txiso: transaction failed before COMMIT (COMMIT not sent)"), cause: cause}
		}
		return fmt.Errorf("%w (the connection reports the transaction failed; COMMIT not sent)", txiso.ErrAborted)
	case 'I':
		rollback()
		return fmt.Errorf("%w: the transaction was ended inside fn, through Raw: Run cannot say what happened "+
			"to it; return an error from fn to roll back", txiso.ErrTxControl)
	}
	doneBefore := ctx.Err() != nil
	cerr := ptx.Commit(ctx)
	if cerr == nil {
		return nil
	}
	return commitError(ctx, cerr, t.firstCause(), doneBefore)
}

// commitError classifies a failed COMMIT.
func commitError(ctx context.Context, cerr, cause error, doneBefore bool) error {
	switch {
	case errors.Is(cerr, pgx.ErrTxCommitRollback):
		// The server answered ROLLBACK: nothing was committed.
		if cause != nil {
			return &causedError{err: fmt.Errorf("txiso: commit: %w", cerr), cause: cause}
		}
		return fmt.Errorf("%w: %w", txiso.ErrAborted, cerr)
	case pgconn.SafeToRetry(cerr) || (doneBefore && errors.Is(cerr, ctx.Err())):
		// pgx reports that nothing was sent (or ctx had ended before
		// Commit was called, and pgx checks it first): COMMIT never reached
		// the server, and the transaction is rolled back.
		return fmt.Errorf("txiso: commit not sent: %w", cerr)
	case txiso.SQLState(cerr) != "" && !isConnState(txiso.SQLState(cerr)):
		// 40001 from SSI at commit, deferred constraint violations, ...:
		// the server rolled back.
		return fmt.Errorf("txiso: commit: %w", cerr)
	case ctx.Err() != nil && errors.Is(cerr, ctx.Err()):
		return fmt.Errorf("%w: context ended during COMMIT: %w", txiso.ErrCommitUnknown, cerr)
	}
	return fmt.Errorf("%w: %w", txiso.ErrCommitUnknown, cerr)
}

func isConnState(s string) bool {
	return len(s) == 5 && (s[:2] == "08" || s == "57P01" || s == "57P02" || s == "57P03")
}

// join runs fn inside the caller's transaction ptx, in a savepoint, once.
func join(ctx context.Context, ptx pgx.Tx, set link.Settings, fn func(context.Context, *Tx) error) error {
	t := newTx(ptx, ptx, link.Settings{}, 1) // the caller's level, read on demand
	// A read-only request is met by a read-write transaction as txiso's
	// nesting does; Deferrable cannot be known, so it is refused.
	if err := t.compatible(ctx, set); err != nil {
		t.end()
		return err
	}
	t.mu.Lock()
	t.cause, t.refused = nil, nil
	t.mu.Unlock()
	err := t.Savepoint(ctx, func(ctx context.Context, tx *Tx) error {
		if err := fn(context.WithValue(ctx, ctxKey{}, tx), tx); err != nil {
			return err
		}
		if err := tx.firstRefused(); err != nil {
			return err
		}
		if tx.tx.Conn().PgConn().TxStatus() == 'E' {
			// fn swallowed a failure: undo the savepoint (or, for 40001 and
			// 40P01, leave it to the transaction's owner) and say so.
			if cause := tx.firstCause(); cause != nil {
				return &causedError{err: errors.New("txiso: joined Run: a statement failed"), cause: cause}
			}
			return fmt.Errorf("%w (a statement fn ran failed)", txiso.ErrAborted)
		}
		return nil
	})
	t.end()
	return err
}

// causedError is an attempt error whose SQLSTATE-bearing cause Tx recorded.
type causedError struct {
	err   error
	cause error
}

func (e *causedError) Error() string {
	return fmt.Sprintf("%v (transaction aborted by an earlier statement: %v)", e.err, e.cause)
}

func (e *causedError) Unwrap() []error { return []error{e.cause, e.err} }
