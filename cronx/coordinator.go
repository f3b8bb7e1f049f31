package cronx

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Coordinator makes a tick run on one replica only (the OncePerTick job
// option). cronx/redislock implements it on Redis.
//
// Claim must be atomic across replicas and make exactly one attempt: losing
// is the normal outcome, reported by returning an error wrapping
// [ErrClaimedElsewhere] (or [ErrClusterBusy] with NoClusterOverlap). A claim
// must outlive the run: it may not be released when the run ends, or a
// replica whose clock is behind claims the same tick again after a short
// run. Any other error makes the scheduler skip the tick as
// SkipCoordinatorError (fail-closed); a coordinator that wants fail-open
// returns a Lease instead.
type Coordinator interface {
	Claim(ctx context.Context, job string, tick time.Time, replica string, o ClaimOptions) (Lease, error)
}

// ClaimOptions are passed to Coordinator.Claim.
type ClaimOptions struct {
	// NoClusterOverlap asks for a running lease, renewed while the run
	// lives, that stops other replicas from starting the next tick of the
	// job before this run ends (they skip it as ErrClusterBusy).
	NoClusterOverlap bool
}

// Lease is a won claim.
type Lease interface {
	// Fence returns the fencing token, strictly increasing per job across
	// the cluster. Stores that must reject stale writers compare it.
	Fence() uint64
	// Lost returns a channel closed when the running lease could not be
	// renewed; the scheduler then cancels the run's context with cause
	// ErrLeaseLost. Nil means the lease cannot be lost.
	Lost() <-chan struct{}
	// Release ends the run: it releases the running lease, if any. It
	// must keep the tick claim. runErr is the run's result.
	Release(ctx context.Context, runErr error) error
}

// claimDeadline returns how long the claim of tick may take: timeout, or
// half the time to the job's next tick when that is shorter, so that a
// claim stuck on an unreachable coordinator ends (as SkipCoordinatorError)
// before the next tick arrives and finds the job still busy (SkipOverlap).
func claimDeadline(timeout time.Duration, tick, next time.Time) time.Duration {
	if !next.IsZero() {
		if half := next.Sub(tick) / 2; half > 0 && half < timeout {
			return half
		}
	}
	return timeout
}

// claimMW claims each scheduled tick through c before calling next. Each
// claim gets claimDeadline(timeout, tick, nextAfter(tick)).
func claimMW(c Coordinator, o ClaimOptions, timeout time.Duration, nextAfter func(time.Time) time.Time) Middleware {
	return func(next Func) Func {
		return func(ctx context.Context) error {
			ri, _ := InfoFrom(ctx)
			if ri.Trigger != TriggerSchedule {
				return next(ctx) // RunNow is an explicit local request
			}
			d := claimDeadline(timeout, ri.Tick, nextAfter(ri.Tick))
			cctx, ccancel := context.WithTimeoutCause(ctx, d, fmt.Errorf("cronx: claim took longer than %v (Config.ClaimTimeout, at most half the job's interval)", d))
			lease, err := c.Claim(cctx, ri.Job, ri.Tick, ri.Replica, o)
			if err != nil && cctx.Err() != nil && ctx.Err() == nil {
				err = fmt.Errorf("%w: %w", context.Cause(cctx), err)
			}
			ccancel()
			switch {
			case errors.Is(err, ErrClaimedElsewhere):
				return &SkipError{Reason: SkipClaimedElsewhere, Err: err}
			case errors.Is(err, ErrClusterBusy):
				return &SkipError{Reason: SkipClusterBusy, Err: err}
			case err != nil:
				return &SkipError{Reason: SkipCoordinatorError, Err: err}
			case lease == nil:
				return &SkipError{Reason: SkipCoordinatorError, Err: errors.New("cronx: coordinator returned neither a lease nor an error")}
			}
			ri.Fence = lease.Fence()
			rctx, cancel := context.WithCancelCause(ContextWithInfo(ctx, ri))
			done := make(chan struct{})
			if lost := lease.Lost(); lost != nil {
				go func() { // ends when the run ends or the lease is lost
					select {
					case <-lost:
						cancel(ErrLeaseLost)
					case <-done:
					}
				}()
			}
			runErr := next(rctx)
			close(done)
			cancel(nil)
			// Release with a context that survives the run's cancellation.
			relCtx, relCancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer relCancel()
			if rerr := lease.Release(relCtx, runErr); rerr != nil && runErr == nil {
				return errors.Join(errors.New("cronx: run succeeded but releasing its lease failed"), rerr)
			}
			if runErr != nil && errors.Is(context.Cause(rctx), ErrLeaseLost) && !errors.Is(runErr, ErrLeaseLost) {
				return errors.Join(ErrLeaseLost, runErr)
			}
			return runErr
		}
	}
}
