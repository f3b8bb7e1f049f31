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

	// ErrAborted is matched when COMMIT reported that the server rolled the
	// transaction back because a statement had failed earlier, and fn did not
	// return that statement's error (it swallowed it, or ran it on Tx.Raw so
	// txiso could not see it). Nothing was committed. Not retried by default:
	// the cause is unknown.
	ErrAborted = errors.New("txiso: transaction was aborted by an earlier statement whose error fn did not return")

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
// attempt was rolled back: nothing was committed.
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

// failedTxSentinels are the texts of the driver errors that report "COMMIT
// of a transaction already in the failed state; the server rolled it back":
// lib/pq's ErrInFailedTransaction and pgx's ErrTxCommitRollback (verified on
// PostgreSQL 15 with lib/pq v1.12.3 and pgx v5). Comparing texts keeps the
// package free of driver imports; neither error carries a SQLSTATE.
var failedTxSentinels = []string{
	"pq: could not complete operation in a failed transaction",
	"commit unexpectedly resulted in rollback",
}

func isFailedTxSentinel(err error) bool {
	found := false
	walk(err, func(e error) bool {
		for _, s := range failedTxSentinels {
			if e.Error() == s {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// walk visits err's tree depth-first until visit returns false.
func walk(err error, visit func(error) bool) bool {
	if err == nil {
		return true
	}
	if !visit(err) {
		return false
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return walk(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if !walk(e, visit) {
				return false
			}
		}
	}
	return true
}

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
