package cronx

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// LastTicker is implemented by Coordinators that remember the last tick
// claimed for each job (cronx/redislock does). The CatchUp option needs it
// to find the ticks missed while every replica was down. ok is false when
// the job was never claimed.
type LastTicker interface {
	LastTick(ctx context.Context, job string) (tick time.Time, ok bool, err error)
}

// ClaimOptions are passed to Coordinator.Claim.
type ClaimOptions struct {
	// NoClusterOverlap asks for a running lease, renewed while the run
	// lives, that stops other replicas from starting the next tick of the
	// job before this run ends (they skip it as ErrClusterBusy).
	NoClusterOverlap bool
	// Next is the job's activation after the claimed tick (zero if none),
	// for coordinators that show when a job runs next (redislock's Jobs).
	Next time.Time
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
	// Release ends the run: it releases the running lease, if any, and
	// may record runErr, the run's result. It must keep the tick claim.
	// An error wrapping ErrLeaseLost says the run lost its lease (another
	// replica may have run a later tick meanwhile): the scheduler then
	// reports the run as failed, even when runErr is nil. Other errors are
	// reported as failures of a run that otherwise succeeded.
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
func claimMW(c Coordinator, noOverlap bool, timeout time.Duration, nextAfter func(time.Time) time.Time) Middleware {
	return func(next Func) Func {
		return func(ctx context.Context) error {
			ri, _ := InfoFrom(ctx)
			if ri.Trigger != TriggerSchedule {
				return next(ctx) // RunNow is an explicit local request
			}
			o := ClaimOptions{NoClusterOverlap: noOverlap, Next: nextAfter(ri.Tick)}
			d := claimDeadline(timeout, ri.Tick, o.Next)
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
			// The run ends in observe (inside this middleware), which reports
			// it to hooks and Entries: the lease is released there, through
			// fin, so that a lease found lost at release is reported as the
			// failure it is. The call below covers runs observe never saw.
			fin := &finisher{release: func(runErr error) error {
				close(done)
				cancel(nil)
				// Release with a context that survives the run's cancellation.
				relCtx, relCancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer relCancel()
				rerr := lease.Release(relCtx, runErr)
				lostCause := errors.Is(context.Cause(rctx), ErrLeaseLost)
				switch {
				case errors.Is(rerr, ErrLeaseLost) && !errors.Is(runErr, ErrLeaseLost):
					return errors.Join(rerr, runErr)
				case rerr != nil && runErr == nil:
					return errors.Join(errors.New("cronx: run succeeded but releasing its lease failed"), rerr)
				case runErr != nil && lostCause && !errors.Is(runErr, ErrLeaseLost):
					return errors.Join(ErrLeaseLost, runErr)
				}
				return runErr
			}}
			return fin.finish(next(context.WithValue(rctx, finisherKey{}, fin)))
		}
	}
}

type finisherKey struct{}

// finisher ends a claimed run once: the first call of finish releases the
// lease and returns the run's final error; later calls return the same.
type finisher struct {
	release func(runErr error) error
	once    sync.Once
	err     error
}

func (f *finisher) finish(runErr error) error {
	f.once.Do(func() { f.err = f.release(runErr) })
	return f.err
}

// finishRun releases ctx's claim, if any, and returns the run's final error.
func finishRun(ctx context.Context, runErr error) error {
	if f, ok := ctx.Value(finisherKey{}).(*finisher); ok {
		return f.finish(runErr)
	}
	return runErr
}
