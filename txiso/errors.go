package txiso

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

var (
	// ErrInvalid is matched by every error txiso returns for bad input (a
	// nil or typed-nil db, a nil fn, an isolation level PostgreSQL lacks,
	// Deferrable without Serializable+ReadOnly, MaxAttempts <= 0, a pool
	// too small for Matrix, ...). The message names the input and the fix.
	// Nothing was sent to the server.
	ErrInvalid = errors.New("txiso: invalid input")

	// ErrCommitUnknown is matched when COMMIT failed in a way that leaves the
	// outcome unknown (the connection broke, or ctx ended and the driver
	// cancelled, while COMMIT was in flight): the transaction may or may not
	// have committed. In the ctx case the error also matches ctx.Err(). Run does not retry it by
	// default, since running a non-idempotent transaction twice is worse
	// than reporting; check the data, or make fn idempotent and retry it
	// through Classify.
	ErrCommitUnknown = errors.New("txiso: commit outcome unknown")

	// ErrAborted is matched when the transaction was found failed before
	// COMMIT (PostgreSQL answered 25P02) because a statement had failed
	// earlier whose error txiso could not see: it ran on Tx.Raw, or its
	// error surfaced in a *sql.Rows, *sql.Row or *sql.Stmt of the DBTX
	// methods, and fn did not return it. Nothing was committed (COMMIT was
	// not sent). Not retried by default: the cause's SQLSTATE is unknown.
	// (A failure of a statement run through Tx's own methods is classified
	// by its SQLSTATE instead.)
	ErrAborted = errors.New("txiso: transaction was aborted by an earlier statement whose error fn did not return")

	// ErrTxControl is matched when fn sent a transaction-control statement
	// (BEGIN, COMMIT, ROLLBACK, END, ABORT, START TRANSACTION, PREPARE
	// TRANSACTION, ...) through Tx. It was not sent, and the attempt fails
	// with this error even if fn ignored it: Run owns the transaction's end
	// (a ROLLBACK would otherwise let Run report success for a transaction
	// that committed nothing). Return an error from fn to roll back.
	ErrTxControl = errors.New("txiso: transaction-control statement refused")

	// ErrInTransaction is matched when Run is called on a *sql.Conn that is
	// already running a Run of its own, but not through the ctx that Run
	// gave fn (a fresh context, or another goroutine). Nothing was sent: a
	// second BEGIN on one connection would make the inner COMMIT commit the
	// outer transaction's writes, even if the outer Run then fails. Pass
	// fn's ctx to join the running transaction, or use another connection.
	ErrInTransaction = errors.New("txiso: the connection is already in a transaction")

	// ErrLevelMismatch is matched when VerifyLevel found the server running
	// the transaction at another level or read-only mode than requested.
	ErrLevelMismatch = errors.New("txiso: transaction runs at another level than requested")

	// ErrNested is matched when a nested Run (fn's ctx already carries a
	// txiso transaction on the same db) asks for more than the outer
	// transaction gives: a stricter level, read-write inside read-only, or
	// Deferrable.
	ErrNested = errors.New("txiso: nested Run incompatible with the outer transaction")
)

// RetryError is returned when Run gives up on an error it would otherwise
// retry: MaxAttempts were used, or ctx ended (during an attempt or during
// the backoff). It is also returned when an attempt after the first fails
// with an error that is not retried, so Attempts says how many ran. It
// unwraps to the last attempt's error (so SQLState and errors.As on
// *pq.Error / *pgconn.PgError keep working) and, when the context ended it,
// to ctx.Err() (so errors.Is(err, context.DeadlineExceeded) holds). Every
// attempt was rolled back: nothing was committed. (An attempt whose COMMIT
// outcome is unknown ends Run with an error matching ErrCommitUnknown,
// never a *RetryError; only a Classify that retries ErrCommitUnknown can
// leave an earlier attempt's outcome unknown behind a later RetryError.)
type RetryError struct {
	Attempts int   // attempts made
	Err      error // the last attempt's error
	Ctx      error // ctx.Err() if the context ended the retries, else nil
}

// Error says why Run gave up, after how many attempts, and the last error.
func (e *RetryError) Error() string {
	if e.Ctx != nil {
		return fmt.Sprintf("txiso: %v after %d attempt(s); last error: %v", e.Ctx, e.Attempts, e.Err)
	}
	return fmt.Sprintf("txiso: gave up after %d attempt(s): %v", e.Attempts, e.Err)
}

// Unwrap returns the last attempt's error and, if set, the context's error.
func (e *RetryError) Unwrap() []error {
	if e.Ctx != nil {
		return []error{e.Err, e.Ctx}
	}
	return []error{e.Err}
}

// SQLState returns the SQLSTATE code of the first error in err's tree that
// has a SQLState() string method (lib/pq's *pq.Error since v1.10.6, pgx's
// *pgconn.PgError), or "" if none has. It looks through %w wrapping and
// errors.Join; no driver is imported.
func SQLState(err error) string {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return s.SQLState()
	}
	return ""
}

// IsRetryable reports whether DefaultClassify would retry err.
func IsRetryable(err error) bool { return DefaultClassify(err) == Retry }

// DefaultClassify retries serialization failures (40001) and deadlocks
// (40P01) and nothing else: not ErrCommitUnknown, not 25P02 (a symptom whose
// cause Run classifies instead), not context errors.
func DefaultClassify(err error) Decision {
	if err == nil || errors.Is(err, ErrCommitUnknown) {
		return Fail
	}
	switch SQLState(err) {
	case "40001", "40P01":
		return Retry
	}
	return Fail
}

// causedError is an attempt error whose SQLSTATE-bearing cause was recorded
// by Tx: fn returned an error that lost the chain, or nil.
type causedError struct {
	err   error // what fn or COMMIT returned
	cause error // the first failed statement of the attempt
}

func (e *causedError) Error() string {
	return fmt.Sprintf("%v (transaction aborted by an earlier statement: %v)", e.err, e.cause)
}

func (e *causedError) Unwrap() []error { return []error{e.cause, e.err} }

// isConnError reports whether err says the connection broke (so a COMMIT in
// flight has an unknown outcome).
func isConnError(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return true
	}
	s := SQLState(err)
	// Class 08: connection exception; 57P01-57P03: the server is shutting
	// down or terminated the backend while COMMIT was in flight.
	return len(s) == 5 && (s[:2] == "08" || s == "57P01" || s == "57P02" || s == "57P03")
}
