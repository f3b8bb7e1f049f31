package cronx

import (
	"context"
	"time"
)

// Func is a job: it gets a context carrying the run's [RunInfo] and returns
// an error when the run failed. The context is cancelled on timeout
// (cause [ErrTimeout]), at Shutdown's deadline (cause [ErrShuttingDown]) and
// when a distributed lease is lost (cause [ErrLeaseLost]); read the cause
// with context.Cause.
type Func func(ctx context.Context) error

// Trigger says what started a run.
type Trigger uint8

const (
	// TriggerSchedule is a run started by the schedule at its tick.
	TriggerSchedule Trigger = iota
	// TriggerManual is a run started by [Scheduler.RunNow].
	TriggerManual
)

// String returns "schedule" or "manual".
func (t Trigger) String() string {
	switch t {
	case TriggerSchedule:
		return "schedule"
	case TriggerManual:
		return "manual"
	default:
		return "unknown"
	}
}

// RunInfo identifies one run of a job. A scheduled run is identified by
// (Job, Tick): Tick is the activation computed from the schedule (the latest
// activation at or before the moment the engine woke up), never time.Now, so
// every replica computes the same Tick for the same activation.
type RunInfo struct {
	Job     string    // the job's name
	Tick    time.Time // scheduled activation (for TriggerManual: when RunNow was called)
	Trigger Trigger   // what started the run
	Attempt int       // 1-based; incremented by the Retry option
	Replica string    // the scheduler's replica ID (Config.Replica)
	Fence   uint64    // fencing token from the Coordinator; 0 unless OncePerTick
}

type infoKey struct{}

// InfoFrom returns the RunInfo carried by ctx. Every context cronx passes to
// a Func carries one.
func InfoFrom(ctx context.Context) (RunInfo, bool) {
	ri, ok := ctx.Value(infoKey{}).(RunInfo)
	return ri, ok
}

// ContextWithInfo returns a copy of ctx carrying ri. Adapters that run a
// [Func] elsewhere (cronx/asynqx runs it on an asynq worker) use it to
// restore the run info; tests use it to call a Func directly.
func ContextWithInfo(ctx context.Context, ri RunInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, ri)
}
