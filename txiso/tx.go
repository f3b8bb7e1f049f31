package txiso

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
)

type ctxKey struct{}

const (
	stateActive int32 = iota + 1
	stateDone
)

// Tx is the transaction Run hands to fn: a thin wrapper of *sql.Tx that
// records the first failed statement of the attempt, so that an error fn
// swallows still decides whether the attempt is retried (see Run). Its
// methods are safe for concurrent use as far as *sql.Tx's are; it is valid
// only until fn returns.
type Tx struct {
	tx         *sql.Tx
	db         Beginner
	level      Level
	readOnly   bool
	deferrable bool
	attempt    int
	state      atomic.Int32

	mu    sync.Mutex
	cause error // first error with a SQLSTATE, nil after a savepoint undid it
	sp    int   // savepoints created
}

// FromContext returns the transaction Run is running on ctx's goroutine
// chain (the ctx passed to fn, or one derived from it), for repository code
// that takes a ctx. The second result is false outside Run.
func FromContext(ctx context.Context) (*Tx, bool) {
	t, ok := ctx.Value(ctxKey{}).(*Tx)
	if !ok || !t.active() {
		return nil, false
	}
	return t, true
}

func (t *Tx) active() bool { return t.state.Load() == stateActive }

// compatible reports whether a nested Run with config c can join t.
func (t *Tx) compatible(c *config) error {
	if levelRank(c.level) > levelRank(t.level) {
		return fmt.Errorf("%w: it asks for %s, the outer transaction runs at %s", ErrNested, c.level, t.level)
	}
	if !c.readOnly && t.readOnly {
		return fmt.Errorf("%w: it asks for read-write, the outer transaction is read-only", ErrNested)
	}
	if c.deferrable && !t.deferrable {
		return fmt.Errorf("%w: it asks for Deferrable, the outer transaction is not", ErrNested)
	}
	return nil
}

func levelRank(l Level) int {
	switch l {
	case RepeatableRead:
		return 2
	case Serializable:
		return 3
	}
	return 1 // read committed and its alias
}

// Raw returns the underlying *sql.Tx, for APIs that need one. Statements run
// on it are not recorded (a swallowed failure then ends as ErrAborted rather
// than being retried), and fn must not Commit or Rollback it.
func (t *Tx) Raw() *sql.Tx { return t.tx }

// Level returns the isolation level the transaction was begun with.
func (t *Tx) Level() Level { return t.level }

// Attempt returns the 1-based number of the current attempt.
func (t *Tx) Attempt() int { return t.attempt }

func (t *Tx) record(err error) {
	if err == nil || SQLState(err) == "" {
		return
	}
	t.mu.Lock()
	if t.cause == nil {
		t.cause = err
	}
	t.mu.Unlock()
}

func (t *Tx) firstCause() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cause
}

// Exec runs a statement that returns no rows (sql.Tx.ExecContext).
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	r, err := t.tx.ExecContext(ctx, query, args...)
	t.record(err)
	return r, err
}

// Query runs a statement that returns rows (sql.Tx.QueryContext). Errors
// from iterating are recorded too when read through Rows.Err or Rows.Close.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	r, err := t.tx.QueryContext(ctx, query, args...)
	t.record(err)
	if err != nil {
		return nil, err
	}
	return &Rows{Rows: r, tx: t}, nil
}

// QueryRow runs a statement expected to return at most one row
// (sql.Tx.QueryRowContext); its error is recorded when Scan or Err reads it.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *Row {
	return &Row{row: t.tx.QueryRowContext(ctx, query, args...), tx: t}
}

// Prepare creates a prepared statement bound to this transaction; it is
// closed with the transaction.
func (t *Tx) Prepare(ctx context.Context, query string) (*Stmt, error) {
	s, err := t.tx.PrepareContext(ctx, query)
	t.record(err)
	if err != nil {
		return nil, err
	}
	return &Stmt{stmt: s, tx: t}, nil
}

// Rows is *sql.Rows whose Err and Close record a failure in the transaction.
type Rows struct {
	*sql.Rows
	tx *Tx
}

// Err is sql.Rows.Err.
func (r *Rows) Err() error {
	err := r.Rows.Err()
	r.tx.record(err)
	return err
}

// Close is sql.Rows.Close.
func (r *Rows) Close() error {
	err := r.Rows.Close()
	r.tx.record(err)
	r.tx.record(r.Rows.Err())
	return err
}

// Row is *sql.Row whose Scan and Err record a failure in the transaction.
type Row struct {
	row *sql.Row
	tx  *Tx
}

// Scan is sql.Row.Scan (sql.ErrNoRows when there is no row).
func (r *Row) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	r.tx.record(err)
	return err
}

// Err is sql.Row.Err.
func (r *Row) Err() error {
	err := r.row.Err()
	r.tx.record(err)
	return err
}

// Stmt is a prepared statement of a Tx whose failures are recorded.
type Stmt struct {
	stmt *sql.Stmt
	tx   *Tx
}

// Exec is sql.Stmt.ExecContext.
func (s *Stmt) Exec(ctx context.Context, args ...any) (sql.Result, error) {
	r, err := s.stmt.ExecContext(ctx, args...)
	s.tx.record(err)
	return r, err
}

// Query is sql.Stmt.QueryContext.
func (s *Stmt) Query(ctx context.Context, args ...any) (*Rows, error) {
	r, err := s.stmt.QueryContext(ctx, args...)
	s.tx.record(err)
	if err != nil {
		return nil, err
	}
	return &Rows{Rows: r, tx: s.tx}, nil
}

// QueryRow is sql.Stmt.QueryRowContext.
func (s *Stmt) QueryRow(ctx context.Context, args ...any) *Row {
	return &Row{row: s.stmt.QueryRowContext(ctx, args...), tx: s.tx}
}

// Close closes the statement (the transaction's end closes it too).
func (s *Stmt) Close() error { return s.stmt.Close() }

// Savepoint runs fn inside a savepoint with a generated name: RELEASE when
// fn returns nil; ROLLBACK TO SAVEPOINT when it returns an error, which
// undoes fn's statements and lets the transaction continue, and that error
// is returned.
//
// Exception: a serialization failure (40001) or deadlock (40P01) inside the
// savepoint is not rolled back to the savepoint, because in PostgreSQL the
// snapshot belongs to the transaction and the statement would fail again
// (Hermitage case X-savepoint-retry). The error is returned as is and the
// transaction stays failed, so Run retries the whole transaction, even if
// the caller swallows the error. Panics in fn propagate (Run rolls back).
func (t *Tx) Savepoint(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	if fn == nil {
		return fmt.Errorf("%w: nil fn for Savepoint", ErrInvalid)
	}
	t.mu.Lock()
	t.sp++
	name := strconv.Quote("txiso_sp_" + strconv.Itoa(t.sp)) // a quoted identifier
	prev := t.cause
	t.mu.Unlock()
	if _, err := t.Exec(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("txiso: savepoint: %w", err)
	}
	err := fn(ctx, t)
	if err == nil {
		if _, rerr := t.Exec(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
			return fmt.Errorf("txiso: release savepoint: %w", rerr)
		}
		return nil
	}
	newCause := t.firstCause()
	if newCause == prev {
		newCause = nil
	}
	if retryableCode(SQLState(err)) || (newCause != nil && retryableCode(SQLState(newCause))) {
		return err
	}
	if _, rerr := t.Exec(ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
		return fmt.Errorf("%w (and rollback to savepoint failed: %w)", err, rerr)
	}
	t.mu.Lock()
	t.cause = prev // the failure is undone: the transaction is usable again
	t.mu.Unlock()
	if _, rerr := t.Exec(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
		return fmt.Errorf("%w (and release savepoint failed: %w)", err, rerr)
	}
	return err
}

func retryableCode(s string) bool { return s == "40001" || s == "40P01" }
