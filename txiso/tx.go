package txiso

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/goplumb/plumb/txiso/internal/sqlscan"
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
//
// Transaction-control statements (BEGIN, START TRANSACTION, COMMIT, END,
// ABORT, ROLLBACK, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED, in any
// case, after comments, or as one statement of several in the string) are
// refused with an error matching ErrTxControl before anything is sent, and
// the attempt then fails with that error even if fn ignores it: Run owns
// the transaction's end. Return an error from fn to roll back, nil to
// commit, or use Savepoint to undo part of it. ROLLBACK TO SAVEPOINT,
// SAVEPOINT and RELEASE are allowed.
//
// Besides its own API (Exec, Query, QueryRow, Prepare, which record every
// failure), Tx has ExecContext, QueryContext, QueryRowContext and
// PrepareContext, so it satisfies the DBTX interface sqlc generates for
// database/sql (and bun's or any query builder's equivalent).
type Tx struct {
	tx         *sql.Tx
	db         Beginner
	level      Level
	readOnly   bool
	deferrable bool
	attempt    int
	state      atomic.Int32
	// untracked is set once a statement ran whose later errors Tx cannot
	// see (Raw, or a *sql.Rows, *sql.Row or *sql.Stmt handed out by the
	// DBTX methods), or a ROLLBACK TO SAVEPOINT went through a path that
	// does not report its success (Query, QueryRow, Prepare); then Run
	// checks the transaction before COMMIT, which also tells whether a
	// recorded failure was undone.
	untracked atomic.Bool

	mu      sync.Mutex
	cause   error // first error with a SQLSTATE, nil after a rollback to a savepoint undid it
	refused error // first transaction-control statement refused
	sp      int   // savepoints created
	shown   Level // the effective level, read once for a ServerDefault transaction
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
func (t *Tx) compatible(ctx context.Context, c *config) error {
	if c.level != ServerDefault {
		outer, err := t.effectiveLevel(ctx)
		if err != nil {
			return err
		}
		if levelRank(c.level) > levelRank(outer) {
			return fmt.Errorf("%w: it asks for %s, the outer transaction runs at %s", ErrNested, c.level, outer)
		}
	}
	if !c.readOnly && t.readOnly {
		return fmt.Errorf("%w: it asks for read-write, the outer transaction is read-only", ErrNested)
	}
	if c.deferrable && !t.deferrable {
		return fmt.Errorf("%w: it asks for Deferrable, the outer transaction is not", ErrNested)
	}
	return nil
}

// effectiveLevel returns t's level, reading it from the server once if t
// was begun at ServerDefault.
func (t *Tx) effectiveLevel(ctx context.Context) (Level, error) {
	if t.level != ServerDefault {
		return t.level, nil
	}
	t.mu.Lock()
	shown := t.shown
	t.mu.Unlock()
	if shown != ServerDefault {
		return shown, nil
	}
	var name string
	if err := t.QueryRow(ctx, "SHOW transaction_isolation").Scan(&name); err != nil {
		return 0, fmt.Errorf("txiso: nested Run: reading the outer transaction's level: %w", err)
	}
	l, ok := levelByName[name]
	if !ok {
		return 0, fmt.Errorf("txiso: nested Run: unknown isolation level %q", name)
	}
	t.mu.Lock()
	t.shown = l
	t.mu.Unlock()
	return l, nil
}

var levelByName = map[string]Level{
	"read uncommitted": ReadUncommitted,
	"read committed":   ReadCommitted,
	"repeatable read":  RepeatableRead,
	"serializable":     Serializable,
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
// on it are neither checked nor recorded: once Raw was called, Run checks
// the transaction with one extra statement before COMMIT, and a failure fn
// swallowed there ends as ErrAborted (not retried unless a statement run
// through Tx recorded a retryable SQLSTATE; otherwise its SQLSTATE is
// unknown). A ROLLBACK TO SAVEPOINT run on it is seen by that check.
// fn must not Commit or Rollback it.
func (t *Tx) Raw() *sql.Tx {
	t.untracked.Store(true)
	return t.tx
}

// Level returns the isolation level the transaction was begun with
// (ServerDefault when Run was given none).
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

// clearCause forgets the recorded failure: the transaction was found usable
// (a ROLLBACK TO SAVEPOINT that Tx did not see undid it).
func (t *Tx) clearCause() {
	t.mu.Lock()
	t.cause = nil
	t.mu.Unlock()
}

// unsure marks a ROLLBACK TO SAVEPOINT whose success this path does not
// report: Run then checks the transaction before COMMIT.
func (t *Tx) unsure(rollbackTo bool) {
	if rollbackTo {
		t.untracked.Store(true)
	}
}

func (t *Tx) firstRefused() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refused
}

// check refuses a transaction-control statement (see Tx) and reports
// whether q rolls back to a savepoint.
func (t *Tx) check(q string) (rollbackTo bool, err error) {
	kind, what := sqlscan.Classify(q)
	switch kind {
	case sqlscan.Control:
		err := fmt.Errorf("%w: %s inside Run: return an error from fn to roll back, or nil to commit "+
			"(Tx.Savepoint undoes part of the transaction); nothing was sent", ErrTxControl, what)
		t.mu.Lock()
		if t.refused == nil {
			t.refused = err
		}
		t.mu.Unlock()
		return false, err
	case sqlscan.RollbackTo:
		return true, nil
	}
	return false, nil
}

// done records the outcome of a statement q ran (see check).
func (t *Tx) done(rollbackTo bool, err error) {
	if rollbackTo && err == nil {
		// A successful ROLLBACK TO SAVEPOINT undid every failure since the
		// savepoint, and one made before it would have made SAVEPOINT fail:
		// the transaction is usable again.
		t.mu.Lock()
		t.cause = nil
		t.mu.Unlock()
		return
	}
	t.record(err)
}

// Exec runs a statement that returns no rows (sql.Tx.ExecContext).
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	rb, err := t.check(query)
	if err != nil {
		return nil, err
	}
	r, err := t.tx.ExecContext(ctx, query, args...)
	t.done(rb, err)
	return r, err
}

// Query runs a statement that returns rows (sql.Tx.QueryContext). Errors
// from iterating are recorded too when read through Rows.Err or Rows.Close.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	rb, err := t.check(query)
	if err != nil {
		return nil, err
	}
	t.unsure(rb)
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
	rb, err := t.check(query)
	if err != nil {
		return &Row{err: err, tx: t}
	}
	t.unsure(rb)
	return &Row{row: t.tx.QueryRowContext(ctx, query, args...), tx: t}
}

// Prepare creates a prepared statement bound to this transaction; it is
// closed with the transaction.
func (t *Tx) Prepare(ctx context.Context, query string) (*Stmt, error) {
	rb, err := t.check(query)
	if err != nil {
		return nil, err
	}
	t.unsure(rb)
	s, err := t.tx.PrepareContext(ctx, query)
	t.record(err)
	if err != nil {
		return nil, err
	}
	return &Stmt{stmt: s, tx: t}, nil
}

// ExecContext is Exec under database/sql's name, for sqlc's DBTX: checked
// and recorded the same way.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.Exec(ctx, query, args...)
}

// QueryContext is sql.Tx.QueryContext, for sqlc's DBTX. The statement is
// checked and its error recorded; errors that surface later, in the
// *sql.Rows, are recorded only if fn returns them (sqlc's generated code
// does). If fn swallows one, Run's check before COMMIT still finds the
// transaction failed and returns ErrAborted.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if _, err := t.check(query); err != nil {
		return nil, err
	}
	t.untracked.Store(true)
	r, err := t.tx.QueryContext(ctx, query, args...)
	t.record(err)
	return r, err
}

// QueryRowContext is sql.Tx.QueryRowContext, for sqlc's DBTX; what
// QueryContext says about errors applies. A refused statement yields a
// *sql.Row whose Scan fails with context.Canceled (database/sql offers no
// other way to make one); Run returns the ErrTxControl error.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if _, err := t.check(query); err != nil {
		cctx, cancel := context.WithCancel(ctx)
		cancel() // database/sql checks ctx before anything is sent
		return t.tx.QueryRowContext(cctx, query, args...)
	}
	t.untracked.Store(true)
	r := t.tx.QueryRowContext(ctx, query, args...)
	t.record(r.Err())
	return r
}

// PrepareContext is sql.Tx.PrepareContext, for sqlc's DBTX; what
// QueryContext says about errors applies to the statement's executions.
func (t *Tx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if _, err := t.check(query); err != nil {
		return nil, err
	}
	t.untracked.Store(true)
	s, err := t.tx.PrepareContext(ctx, query)
	t.record(err)
	return s, err
}

// Rows is *sql.Rows whose Err and Close record a failure in the transaction.
type Rows struct {
	*sql.Rows
	tx *Tx
}

// Next is sql.Rows.Next. When it returns false on an error (a
// serialization failure can arrive mid-result), the error is recorded even
// if fn never calls Err or Close.
func (r *Rows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.tx.record(r.Rows.Err())
	return false
}

// NextResultSet is sql.Rows.NextResultSet, recording an error the same way.
func (r *Rows) NextResultSet() bool {
	if r.Rows.NextResultSet() {
		return true
	}
	r.tx.record(r.Rows.Err())
	return false
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
	err error // the statement was refused
	tx  *Tx
}

// Scan is sql.Row.Scan (sql.ErrNoRows when there is no row).
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.row.Scan(dest...)
	r.tx.record(err)
	return err
}

// Err is sql.Row.Err.
func (r *Row) Err() error {
	if r.err != nil {
		return r.err
	}
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
	if _, err := t.exec(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("txiso: savepoint: %w", err)
	}
	err := fn(ctx, t)
	if err == nil {
		if _, rerr := t.exec(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
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
	if _, rerr := t.exec(ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
		return fmt.Errorf("%w (and rollback to savepoint failed: %w)", err, rerr)
	}
	t.mu.Lock()
	t.cause = prev // the failure is undone: the transaction is usable again
	t.mu.Unlock()
	if _, rerr := t.exec(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
		return fmt.Errorf("%w (and release savepoint failed: %w)", err, rerr)
	}
	return err
}

func retryableCode(s string) bool { return s == "40001" || s == "40P01" }

// exec runs one of Savepoint's own statements, recorded but not checked.
func (t *Tx) exec(ctx context.Context, q string) (sql.Result, error) {
	r, err := t.tx.ExecContext(ctx, q)
	t.record(err)
	return r, err
}
