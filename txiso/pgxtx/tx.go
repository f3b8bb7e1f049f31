package pgxtx

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/goplumb/plumb/txiso"
	"github.com/goplumb/plumb/txiso/internal/link"
	"github.com/goplumb/plumb/txiso/internal/sqlscan"
)

// Tx is the transaction Run hands to fn: a pgx.Tx that records the first
// failed statement of the attempt (so an error fn swallows still decides
// the retry) and refuses transaction-control statements (BEGIN, COMMIT,
// ROLLBACK, END, ABORT, START TRANSACTION, PREPARE TRANSACTION, in any
// spelling, as a statement of several, or queued in a Batch) with
// txiso.ErrTxControl; the attempt then fails even if fn ignores that
// error. Its Exec, Query, QueryRow, CopyFrom and SendBatch have pgx's
// signatures (sqlc's pgx/v5 DBTX); failures read later through the
// returned Rows, Row or BatchResults are recorded too. Like a pgx.Tx it is
// not safe for concurrent use, and it is valid only until fn returns.
type Tx struct {
	tx         pgx.Tx
	db         Beginner
	level      txiso.Level
	readOnly   bool
	deferrable bool
	attempt    int
	done       atomic.Bool

	mu      sync.Mutex
	cause   error // first error with a SQLSTATE, nil after a rollback to a savepoint undid it
	refused error // first transaction-control statement refused
	sp      int
	shown   txiso.Level
}

func newTx(ptx pgx.Tx, db Beginner, set link.Settings, n int) *Tx {
	return &Tx{tx: ptx, db: db, level: txiso.Level(set.Level), readOnly: set.ReadOnly, deferrable: set.Deferrable, attempt: n}
}

func (t *Tx) active() bool { return !t.done.Load() }
func (t *Tx) end()         { t.done.Store(true) }

// Raw returns the underlying pgx.Tx, for APIs that need one. Statements run
// on it are neither checked nor recorded, but a failure there is still
// seen before COMMIT (the connection's status says the transaction
// failed: txiso.ErrAborted). fn must not Commit or Rollback it.
func (t *Tx) Raw() pgx.Tx { return t.tx }

// Conn returns the connection the transaction runs on.
func (t *Tx) Conn() *pgx.Conn { return t.tx.Conn() }

// Level returns the isolation level Run was asked for (txiso.ServerDefault
// when none was given, and when Run joined a caller's pgx.Tx).
func (t *Tx) Level() txiso.Level { return t.level }

// Attempt returns the 1-based number of the current attempt.
func (t *Tx) Attempt() int { return t.attempt }

func (t *Tx) record(err error) {
	if err == nil || txiso.SQLState(err) == "" {
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

func (t *Tx) firstRefused() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refused
}

// check refuses a transaction-control statement and reports whether q
// rolls back to a savepoint.
func (t *Tx) check(q string) (rollbackTo bool, err error) {
	kind, what := sqlscan.Classify(q)
	switch kind {
	case sqlscan.Control:
		err := fmt.Errorf("%w: %s inside Run: return an error from fn to roll back, or nil to commit "+
			"(Tx.Savepoint undoes part of the transaction); nothing was sent", txiso.ErrTxControl, what)
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

// Exec runs a statement (pgx.Tx.Exec).
func (t *Tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	rb, err := t.check(sql)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := t.tx.Exec(ctx, sql, args...)
	if rb && err == nil {
		// ROLLBACK TO SAVEPOINT undid every failure since the savepoint
		// (one made before it would have made SAVEPOINT fail).
		t.mu.Lock()
		t.cause = nil
		t.mu.Unlock()
	}
	t.record(err)
	return tag, err
}

// Query runs a query (pgx.Tx.Query). A refused statement gives Rows whose
// Err is the refusal, as pgx does for its own errors.
func (t *Tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if _, err := t.check(sql); err != nil {
		return t.refusedRows(err), err
	}
	r, err := t.tx.Query(ctx, sql, args...)
	t.record(err)
	if err != nil {
		return r, err
	}
	return &rows{Rows: r, t: t}, nil
}

// QueryRow runs a query that returns at most one row (pgx.Tx.QueryRow);
// its error is recorded when Scan reads it.
func (t *Tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if _, err := t.check(sql); err != nil {
		return errRow{Row: t.tx.QueryRow(done(), "select 1"), err: err}
	}
	return row{Row: t.tx.QueryRow(ctx, sql, args...), t: t}
}

// CopyFrom is pgx.Tx.CopyFrom; its error is recorded.
func (t *Tx) CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error) {
	n, err := t.tx.CopyFrom(ctx, tableName, columnNames, rowSrc)
	t.record(err)
	return n, err
}

// SendBatch is pgx.Tx.SendBatch. Every queued query is checked first (a
// refused one fails the whole batch before anything is sent), and errors
// read from the results are recorded.
func (t *Tx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if b != nil {
		for _, q := range b.QueuedQueries {
			if _, err := t.check(q.SQL); err != nil {
				return errBatch{BatchResults: t.tx.SendBatch(done(), &pgx.Batch{}), err: err}
			}
		}
	}
	return &batch{BatchResults: t.tx.SendBatch(ctx, b), t: t}
}

// Savepoint runs fn inside a savepoint with a generated name: RELEASE when
// fn returns nil; ROLLBACK TO SAVEPOINT when it returns an error, which
// undoes fn's statements and lets the transaction continue, and that error
// is returned. A 40001 or 40P01 inside is not rolled back to the savepoint
// (in PostgreSQL the snapshot belongs to the transaction, so it would fail
// again): it is returned as is and the transaction stays failed, so Run
// retries the whole transaction, even if the caller swallows the error.
func (t *Tx) Savepoint(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	if fn == nil {
		return fmt.Errorf("%w: nil fn for Savepoint", txiso.ErrInvalid)
	}
	t.mu.Lock()
	t.sp++
	name := strconv.Quote("txiso_sp_" + strconv.Itoa(t.sp))
	prev := t.cause
	t.mu.Unlock()
	if err := t.exec(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("txiso: savepoint: %w", err)
	}
	err := fn(ctx, t)
	if err == nil {
		if rerr := t.exec(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
			return fmt.Errorf("txiso: release savepoint: %w", rerr)
		}
		return nil
	}
	newCause := t.firstCause()
	if newCause == prev {
		newCause = nil
	}
	if retryable(txiso.SQLState(err)) || (newCause != nil && retryable(txiso.SQLState(newCause))) {
		return err
	}
	if rerr := t.exec(ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
		return fmt.Errorf("%w (and rollback to savepoint failed: %w)", err, rerr)
	}
	t.mu.Lock()
	t.cause = prev
	t.mu.Unlock()
	if rerr := t.exec(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
		return fmt.Errorf("%w (and release savepoint failed: %w)", err, rerr)
	}
	return err
}

func retryable(s string) bool { return s == "40001" || s == "40P01" }

func (t *Tx) exec(ctx context.Context, q string) error {
	_, err := t.tx.Exec(ctx, q)
	t.record(err)
	return err
}

// compatible reports whether a nested Run with settings set can join t.
func (t *Tx) compatible(ctx context.Context, set link.Settings) error {
	want := txiso.Level(set.Level)
	if want != txiso.ServerDefault {
		outer, err := t.effectiveLevel(ctx)
		if err != nil {
			return err
		}
		if rank(want) > rank(outer) {
			return fmt.Errorf("%w: it asks for %s, the outer transaction runs at %s", txiso.ErrNested, want, outer)
		}
	}
	if !set.ReadOnly && t.readOnly {
		return fmt.Errorf("%w: it asks for read-write, the outer transaction is read-only", txiso.ErrNested)
	}
	if set.Deferrable && !t.deferrable {
		return fmt.Errorf("%w: it asks for Deferrable, the outer transaction is not", txiso.ErrNested)
	}
	return nil
}

func (t *Tx) effectiveLevel(ctx context.Context) (txiso.Level, error) {
	if t.level != txiso.ServerDefault {
		return t.level, nil
	}
	t.mu.Lock()
	shown := t.shown
	t.mu.Unlock()
	if shown != txiso.ServerDefault {
		return shown, nil
	}
	var name string
	if err := t.tx.QueryRow(ctx, "SHOW transaction_isolation").Scan(&name); err != nil {
		t.record(err)
		return 0, fmt.Errorf("txiso: nested Run: reading the outer transaction's level: %w", err)
	}
	l, ok := map[string]txiso.Level{"read uncommitted": txiso.ReadUncommitted, "read committed": txiso.ReadCommitted,
		"repeatable read": txiso.RepeatableRead, "serializable": txiso.Serializable}[name]
	if !ok {
		return 0, fmt.Errorf("txiso: nested Run: unknown isolation level %q", name)
	}
	t.mu.Lock()
	t.shown = l
	t.mu.Unlock()
	return l, nil
}

func rank(l txiso.Level) int {
	switch l {
	case txiso.RepeatableRead:
		return 2
	case txiso.Serializable:
		return 3
	}
	return 1
}

// verify checks the level and access mode the server runs (txiso.VerifyLevel).
func (t *Tx) verify(ctx context.Context, set link.Settings) error {
	var level, ro string
	if err := t.tx.QueryRow(ctx, "SHOW transaction_isolation").Scan(&level); err != nil {
		return fmt.Errorf("txiso: verify level: %w", err)
	}
	if err := t.tx.QueryRow(ctx, "SHOW transaction_read_only").Scan(&ro); err != nil {
		return fmt.Errorf("txiso: verify level: %w", err)
	}
	wantRO := "off"
	if set.ReadOnly {
		wantRO = "on"
	}
	l := txiso.Level(set.Level)
	if (l != txiso.ServerDefault && level != l.String()) || ro != wantRO {
		return fmt.Errorf("%w: asked for %s (read-only %s), server runs %s (read-only %s)",
			txiso.ErrLevelMismatch, l, wantRO, level, ro)
	}
	return nil
}

// rows records failures read through Next, Err and Close.
type rows struct {
	pgx.Rows
	t *Tx
}

func (r *rows) Next() bool {
	ok := r.Rows.Next()
	if !ok {
		r.t.record(r.Rows.Err())
	}
	return ok
}

func (r *rows) Err() error {
	err := r.Rows.Err()
	r.t.record(err)
	return err
}

func (r *rows) Close() {
	r.Rows.Close()
	r.t.record(r.Rows.Err())
}

// row records the failure Scan reads. It embeds pgx's Row, so methods a
// later pgx adds to the interface keep working.
type row struct {
	pgx.Row
	t *Tx
}

func (r row) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	r.t.record(err)
	return err
}

// done returns a context that has ended: pgx checks it before sending
// anything, which is how a refused statement gets pgx's own Rows, Row and
// BatchResults (so they implement whatever methods this pgx version's
// interfaces have) without reaching the server.
func done() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// refusedRows is the Rows of a refused statement: its Err is the refusal.
func (t *Tx) refusedRows(err error) pgx.Rows {
	r, _ := t.tx.Query(done(), "select 1")
	return errRows{Rows: r, err: err}
}

type errRows struct {
	pgx.Rows
	err error
}

func (e errRows) Err() error             { return e.err }
func (e errRows) Next() bool             { return false }
func (e errRows) Scan(...any) error      { return e.err }
func (e errRows) Values() ([]any, error) { return nil, e.err }

type errRow struct {
	pgx.Row
	err error
}

func (e errRow) Scan(...any) error {
	_ = e.Row.Scan() // releases pgx's row (it failed before sending)
	return e.err
}

type batch struct {
	pgx.BatchResults
	t *Tx
}

func (b *batch) Exec() (pgconn.CommandTag, error) {
	tag, err := b.BatchResults.Exec()
	b.t.record(err)
	return tag, err
}

func (b *batch) Query() (pgx.Rows, error) {
	r, err := b.BatchResults.Query()
	b.t.record(err)
	if err != nil {
		return r, err
	}
	return &rows{Rows: r, t: b.t}, nil
}

func (b *batch) QueryRow() pgx.Row { return row{Row: b.BatchResults.QueryRow(), t: b.t} }

func (b *batch) Close() error {
	err := b.BatchResults.Close()
	b.t.record(err)
	return err
}

// errBatch is the BatchResults of a refused batch (pgx's own, for an empty
// batch on an ended context, so nothing was sent).
type errBatch struct {
	pgx.BatchResults
	err error
}

func (e errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, e.err }
func (e errBatch) Query() (pgx.Rows, error) {
	r, _ := e.BatchResults.Query() // pgx's Rows for "no result": nothing was sent
	return errRows{Rows: r, err: e.err}, e.err
}
func (e errBatch) QueryRow() pgx.Row { return errRow{Row: e.BatchResults.QueryRow(), err: e.err} }
func (e errBatch) Close() error {
	_ = e.BatchResults.Close()
	return e.err
}
