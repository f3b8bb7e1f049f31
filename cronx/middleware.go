package cronx

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"runtime/debug"
	"time"
)

// Middleware wraps a Func. It may run code before and after next, change
// the context, or not call next at all (then it should return a *SkipError
// so the run is reported as skipped, not failed).
type Middleware func(next Func) Func

// Chain composes middleware so that they run in the order given:
// Chain(a, b)(f) is a(b(f)), a being the outermost. Nil entries are ignored.
func Chain(mws ...Middleware) Middleware {
	return func(next Func) Func {
		for i := len(mws) - 1; i >= 0; i-- {
			if mws[i] != nil {
				next = mws[i](next)
			}
		}
		return next
	}
}

// Recover returns middleware that turns a panic in next into a *PanicError
// carrying the panic value and the stack. The scheduler always applies it
// around every job and around the whole middleware chain; it is exported
// for running a Func elsewhere (cronx/asynqx does).
func Recover() Middleware {
	return func(next Func) Func {
		return func(ctx context.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = &PanicError{Value: r, Stack: debug.Stack()}
				}
			}()
			return next(ctx)
		}
	}
}

// Hooks receive run events, for metrics. Every field may be nil. Hooks are
// called synchronously on the run's goroutine: keep them fast. OnStart and
// then exactly one of OnSuccess or OnFailure are called for each executed
// run; a tick that is not executed calls only OnSkip. A run whose Func
// itself returns a *SkipError (cronx/asynqx's enqueue does when another
// replica enqueued the tick) calls OnStart and then OnSkip.
type Hooks struct {
	OnStart   func(ctx context.Context, ri RunInfo)
	OnSuccess func(ctx context.Context, ri RunInfo, took time.Duration)
	OnFailure func(ctx context.Context, ri RunInfo, err error, took time.Duration)
	OnSkip    func(ctx context.Context, ri RunInfo, why SkipReason, err error)
}

// RetryPolicy configures the Retry job option. Backoff before attempt n+1
// is Initial*Multiplier^(n-1), capped at Max.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, including the first. Must be >= 1.
	MaxAttempts int
	// Initial is the first backoff. Zero means 1s.
	Initial time.Duration
	// Max caps each backoff. Zero means 1 minute. Must be >= Initial.
	Max time.Duration
	// Multiplier grows the backoff. Zero means 2. Must be >= 1.
	Multiplier float64
	// RetryIf decides whether an error is worth retrying. Nil means: any
	// error except those marked Permanent, context cancellations and lost
	// leases.
	RetryIf func(error) bool
}

func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	if p.MaxAttempts < 1 {
		return p, fmt.Errorf("%w: RetryPolicy.MaxAttempts is %d; it counts the first attempt too, so use at least 1", ErrInvalid, p.MaxAttempts)
	}
	if p.Initial < 0 || p.Max < 0 {
		return p, fmt.Errorf("%w: RetryPolicy durations must not be negative (Initial %v, Max %v)", ErrInvalid, p.Initial, p.Max)
	}
	if p.Initial == 0 {
		p.Initial = time.Second
	}
	if p.Max == 0 {
		p.Max = time.Minute
	}
	if p.Max < p.Initial {
		return p, fmt.Errorf("%w: RetryPolicy.Max (%v) is below Initial (%v)", ErrInvalid, p.Max, p.Initial)
	}
	if p.Multiplier == 0 {
		p.Multiplier = 2
	}
	if p.Multiplier < 1 {
		return p, fmt.Errorf("%w: RetryPolicy.Multiplier is %v; use 1 for a constant backoff or more to grow it", ErrInvalid, p.Multiplier)
	}
	if p.RetryIf == nil {
		p.RetryIf = retryable
	}
	return p, nil
}

func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := float64(p.Initial)
	for i := 1; i < attempt; i++ {
		d *= p.Multiplier
		if d >= float64(p.Max) {
			return p.Max
		}
	}
	return time.Duration(d)
}

// sleep waits d or until ctx ends, without busy-waiting.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// retryMW retries next per p. stopAt, when not nil, returns the instant
// after which no new attempt starts (the job's next tick): a retry never
// runs into the next activation.
func retryMW(p RetryPolicy, stopAt func(RunInfo) time.Time) Middleware {
	return func(next Func) Func {
		return func(ctx context.Context) error {
			ri, _ := InfoFrom(ctx)
			var limit time.Time
			if stopAt != nil {
				limit = stopAt(ri)
			}
			var err error
			for attempt := 1; ; attempt++ {
				ri.Attempt = attempt
				err = next(ContextWithInfo(ctx, ri))
				if err == nil || attempt >= p.MaxAttempts || !p.RetryIf(err) {
					return err
				}
				wait := p.backoff(attempt)
				if !limit.IsZero() && !time.Now().Add(wait).Before(limit) {
					return fmt.Errorf("cronx: not retrying after attempt %d: the next attempt would start after the next tick %s: %w", attempt, limit.Format(time.RFC3339), err)
				}
				if serr := sleep(ctx, wait); serr != nil {
					return fmt.Errorf("cronx: retry of attempt %d abandoned (%v): %w", attempt, serr, err)
				}
			}
		}
	}
}

// timeoutMW gives each call of next a context that ends after d with cause
// ErrTimeout, and waits for next to return (it never abandons a goroutine).
func timeoutMW(d time.Duration) Middleware {
	return func(next Func) Func {
		return func(ctx context.Context) error {
			tctx, cancel := context.WithTimeoutCause(ctx, d, ErrTimeout)
			defer cancel()
			err := next(tctx)
			if err != nil && errors.Is(context.Cause(tctx), ErrTimeout) && !errors.Is(err, ErrTimeout) {
				return fmt.Errorf("%w after %v: %w", ErrTimeout, d, err)
			}
			return err
		}
	}
}

// jitterMW delays next by a duration from pick, or until ctx ends.
func jitterMW(pick func(RunInfo) time.Duration) Middleware {
	return func(next Func) Func {
		return func(ctx context.Context) error {
			ri, _ := InfoFrom(ctx)
			if err := sleep(ctx, pick(ri)); err != nil {
				return &SkipError{Reason: SkipShuttingDown, Err: err}
			}
			return next(ctx)
		}
	}
}

func randomJitter(max time.Duration) func(RunInfo) time.Duration {
	return func(RunInfo) time.Duration { return rand.N(max) }
}

// stableJitter is the same for a name on every replica and every tick
// (FNV-1a of the name modulo max), like Jenkins' "H" in cron specs.
func stableJitter(max time.Duration) func(RunInfo) time.Duration {
	return func(ri RunInfo) time.Duration {
		h := fnv.New64a()
		h.Write([]byte(ri.Job))
		return time.Duration(h.Sum64() % uint64(max))
	}
}

// overlapGate limits concurrent runs of one job on this scheduler: one at a
// time; up to maxWait further ticks wait their turn (0: skip at once).
type overlapGate struct {
	slot    chan struct{} // capacity 1
	waiting chan struct{} // capacity maxWait, nil when maxWait == 0
	closing <-chan struct{}
}

// newOverlapGate returns a gate; waiting ticks give up (SkipShuttingDown)
// when closing is closed (nil: never).
func newOverlapGate(maxWait int, closing <-chan struct{}) *overlapGate {
	g := &overlapGate{slot: make(chan struct{}, 1), closing: closing}
	if maxWait > 0 {
		g.waiting = make(chan struct{}, maxWait)
	}
	return g
}

func (g *overlapGate) mw(next Func) Func {
	return func(ctx context.Context) error { return g.run(ctx, next) }
}

// run calls next when the job's slot is free, waits in the bounded queue,
// or returns a *SkipError.
func (g *overlapGate) run(ctx context.Context, next Func) error {
	select {
	case g.slot <- struct{}{}:
	default:
		if g.waiting == nil {
			return &SkipError{Reason: SkipOverlap}
		}
		select {
		case g.waiting <- struct{}{}:
		default:
			return &SkipError{Reason: SkipOverlap, Err: fmt.Errorf("cronx: delay queue full (%d waiting)", cap(g.waiting))}
		}
		select {
		case g.slot <- struct{}{}:
			<-g.waiting
		case <-ctx.Done():
			<-g.waiting
			return &SkipError{Reason: SkipShuttingDown, Err: context.Cause(ctx)}
		case <-g.closing:
			<-g.waiting
			return &SkipError{Reason: SkipShuttingDown, Err: errors.New("cronx: delayed tick dropped by Shutdown")}
		}
	}
	defer func() { <-g.slot }() // released even if next panics (robfig/cron#366)
	return next(ctx)
}
