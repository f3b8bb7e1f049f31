package cronx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrInvalid is matched by every error about bad input: bad names, nil
	// funcs, negative durations, invalid Config fields and options, and
	// (through ErrInvalidSpec) bad specs. The error's text names the field
	// and the fix.
	ErrInvalid = errors.New("cronx: invalid input")
	// ErrInvalidSpec wraps every spec parse error, including specs that can
	// never fire and bad CRON_TZ= prefixes. It also matches ErrInvalid.
	ErrInvalidSpec error = &narrowError{msg: "cronx: invalid spec", parent: ErrInvalid}
	// ErrDuplicateName is returned by Add when a job with the name exists.
	// Use Replace to change it.
	ErrDuplicateName = errors.New("cronx: duplicate job name")
	// ErrNotFound is returned for operations on a name that is not registered.
	ErrNotFound = errors.New("cronx: job not found")
	// ErrClosed is returned by operations after Shutdown was called.
	ErrClosed = errors.New("cronx: scheduler stopped")
	// ErrShutdownTimeout is matched by the *ShutdownError that Shutdown returns
	// when its context ends before every run finished.
	ErrShutdownTimeout = errors.New("cronx: shutdown deadline reached with runs still in progress")
	// ErrTimeout is the cause of a run context cancelled by the Timeout
	// option, and is wrapped in the error of an attempt that timed out.
	ErrTimeout = errors.New("cronx: run timed out")
	// ErrLeaseLost is the cause of a run context cancelled because the
	// coordinator's lease could not be renewed (see Lease.Lost).
	ErrLeaseLost = errors.New("cronx: distributed lease lost")
	// ErrClaimedElsewhere is returned by a Coordinator when another replica
	// already claimed the tick. The scheduler reports it as a skip.
	ErrClaimedElsewhere = errors.New("cronx: tick claimed by another replica")
	// ErrClusterBusy is returned by a Coordinator when a previous run of the
	// job still holds the cluster-wide lease (NoClusterOverlap).
	ErrClusterBusy = errors.New("cronx: previous run still active in the cluster")
	// ErrShuttingDown is the cause of run contexts cancelled at Shutdown's deadline.
	ErrShuttingDown = errors.New("cronx: scheduler shutting down")
)

// narrowError is a sentinel that also matches a broader one.
type narrowError struct {
	msg    string
	parent error
}

func (e *narrowError) Error() string { return e.msg }
func (e *narrowError) Unwrap() error { return e.parent }

// PanicError is the error of a run whose function panicked. cronx always
// recovers panics (robfig/cron v3 does not by default and a panicking job
// kills the process); the failure is logged at Error with the stack.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack (runtime/debug.Stack)
}

// Error returns "cronx: panic: " and the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("cronx: panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error, so errors.Is sees
// it, and nil otherwise.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// SkipReason says why a tick did not run.
type SkipReason string

// Skip reasons reported to Hooks.OnSkip and in *SkipError.
const (
	SkipOverlap          SkipReason = "overlap"           // previous local run still active (Overlap policy)
	SkipPaused           SkipReason = "paused"            // job paused
	SkipClaimedElsewhere SkipReason = "claimed-elsewhere" // another replica claimed the tick
	SkipClusterBusy      SkipReason = "cluster-busy"      // previous run still holds the cluster lease
	SkipCoordinatorError SkipReason = "coordinator-error" // coordinator failed; fail-closed
	SkipShuttingDown     SkipReason = "shutting-down"     // Shutdown was called
	SkipStaleTick        SkipReason = "stale-tick"        // tick already dispatched locally (late wake, replace)
	SkipConcurrencyLimit SkipReason = "concurrency-limit" // Config.MaxConcurrent runs already in progress here
)

// SkipError is returned by RunNow (and passed to Hooks.OnSkip) when a run was
// skipped rather than executed. It is not a failure.
type SkipError struct {
	Reason SkipReason
	Err    error // underlying cause, e.g. the coordinator's error; may be nil
}

// Error reports the reason and the cause.
func (e *SkipError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("cronx: run skipped (%s): %v", e.Reason, e.Err)
	}
	return fmt.Sprintf("cronx: run skipped (%s)", e.Reason)
}

// Unwrap returns the cause (may be nil).
func (e *SkipError) Unwrap() error { return e.Err }

// ShutdownError is returned by Shutdown when its context ended before all runs
// finished. Their contexts were cancelled with cause ErrShuttingDown.
type ShutdownError struct {
	Running []RunInfo // runs in progress at the deadline
}

// Error lists the runs cut off, as job@tick.
func (e *ShutdownError) Error() string {
	names := make([]string, 0, len(e.Running))
	for _, r := range e.Running {
		names = append(names, fmt.Sprintf("%s@%s", r.Job, r.Tick.Format(time.RFC3339)))
	}
	return fmt.Sprintf("%v: %d running: %s", ErrShutdownTimeout, len(e.Running), strings.Join(names, ", "))
}

// Is reports ErrShutdownTimeout.
func (e *ShutdownError) Is(target error) bool { return target == ErrShutdownTimeout }

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying: the Retry option stops at it.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

func retryable(err error) bool {
	return !IsPermanent(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrLeaseLost)
}
