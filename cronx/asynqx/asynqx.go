// Package asynqx runs cronx jobs durably on asynq: on each tick every
// replica enqueues the tick as an asynq task with a per-tick TaskID, so
// asynq accepts exactly one enqueue per tick, and asynq workers run the job
// at least once, with asynq's retries.
//
//	// on every replica (the scheduler side)
//	enqueue, err := asynqx.Enqueue(asynqClient, "invoice-run", asynqx.Options{MaxRetry: 5})
//	err = s.Add("invoice-run", "*/5 * * * *", enqueue)
//
//	// on the workers
//	mux.Handle(asynqx.TaskType("invoice-run"), asynqx.Handler(runInvoices))
//
// runInvoices is an ordinary cronx.Func: Handler restores its RunInfo (job
// name, tick, attempt from asynq's retry count, the enqueuing replica), so
// the same function can run in-process or on workers. It must be
// idempotent per tick: at-least-once means a worker crash can repeat it.
//
// Why a per-tick TaskID and not asynq's Unique option: Unique's lock is
// deleted when the task succeeds, so a fast task lets a replica whose clock
// is behind enqueue the same tick again (hibiken/asynq#395), and asynq's
// own Scheduler takes static options, so it cannot set a TaskID per tick.
// Here the TaskID is "<job>:<unix tick>" and Options.Retention keeps it
// reserved after completion; it must exceed the clock skew between
// replicas. A conflicting enqueue is reported by cronx as a skip
// (SkipClaimedElsewhere), not a failure.
package asynqx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/hibiken/asynq"
)

// Task headers set by Enqueue and read by Handler.
const (
	HeaderTick    = "cronx-tick"    // the tick, Unix nanoseconds
	HeaderReplica = "cronx-replica" // the enqueuing replica
	HeaderTrigger = "cronx-trigger" // "schedule" or "manual"
)

// Enqueuer is what Enqueue needs of an asynq client; *asynq.Client has it.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Options configure Enqueue. Zero fields mean the documented defaults.
type Options struct {
	// Queue is the asynq queue. Default "default".
	Queue string
	// Retention keeps a completed tick's TaskID reserved, so that a late
	// replica cannot enqueue the tick again. Default 10 minutes; it must
	// exceed the clock skew between replicas.
	Retention time.Duration
	// MaxRetry is asynq's retry count for a failing run. Zero means asynq's
	// default (25); use -1 for no retries.
	MaxRetry int
	// Timeout bounds each run on the worker. Zero means asynq's default.
	Timeout time.Duration
	// Payload is the task payload, the same for every tick.
	Payload []byte
}

// TaskType returns the asynq task type of job: "cronx:<job>".
func TaskType(job string) string { return "cronx:" + job }

// TaskID returns the TaskID of a scheduled tick: "<job>:<unix seconds>".
func TaskID(job string, tick time.Time) string {
	return job + ":" + strconv.FormatInt(tick.Unix(), 10)
}

// Enqueue returns a cronx.Func for the job called job that enqueues the
// run's tick to asynq instead of running anything. Add it to a cronx
// Scheduler under the same name on every replica. A tick already enqueued
// by another replica (asynq.ErrTaskIDConflict) returns a *cronx.SkipError
// with SkipClaimedElsewhere. A manual run (RunNow) enqueues a task of its
// own, never conflicting. The caller owns c.
func Enqueue(c Enqueuer, job string, o Options) (cronx.Func, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: asynqx.Enqueue: nil asynq client", cronx.ErrInvalidArgument)
	}
	if job == "" {
		return nil, fmt.Errorf("%w: asynqx.Enqueue: empty job name", cronx.ErrInvalidArgument)
	}
	if o.Retention < 0 || o.Timeout < 0 || o.MaxRetry < -1 {
		return nil, fmt.Errorf("%w: asynqx.Enqueue: negative Retention (%v), Timeout (%v) or MaxRetry below -1 (%d); use 0 for the defaults", cronx.ErrInvalidArgument, o.Retention, o.Timeout, o.MaxRetry)
	}
	if o.Queue == "" {
		o.Queue = "default"
	}
	if o.Retention == 0 {
		o.Retention = 10 * time.Minute
	}
	base := []asynq.Option{asynq.Queue(o.Queue), asynq.Retention(o.Retention)}
	switch {
	case o.MaxRetry == -1:
		base = append(base, asynq.MaxRetry(0))
	case o.MaxRetry > 0:
		base = append(base, asynq.MaxRetry(o.MaxRetry))
	}
	if o.Timeout > 0 {
		base = append(base, asynq.Timeout(o.Timeout))
	}
	return func(ctx context.Context) error {
		ri, ok := cronx.InfoFrom(ctx)
		if !ok {
			return fmt.Errorf("%w: asynqx: the context carries no cronx.RunInfo; run this Func from a cronx.Scheduler", cronx.ErrInvalidArgument)
		}
		if ri.Job != job {
			return fmt.Errorf("%w: asynqx: Func made for job %q was added as %q; use the same name", cronx.ErrInvalidArgument, job, ri.Job)
		}
		id := TaskID(job, ri.Tick)
		if ri.Trigger != cronx.TriggerSchedule {
			id = job + ":manual:" + strconv.FormatInt(ri.Tick.UnixNano(), 10) + ":" + ri.Replica
		}
		task := asynq.NewTaskWithHeaders(TaskType(job), o.Payload, map[string]string{
			HeaderTick:    strconv.FormatInt(ri.Tick.UnixNano(), 10),
			HeaderReplica: ri.Replica,
			HeaderTrigger: ri.Trigger.String(),
		})
		_, err := c.EnqueueContext(ctx, task, append([]asynq.Option{asynq.TaskID(id)}, base...)...)
		switch {
		case errors.Is(err, asynq.ErrTaskIDConflict):
			return &cronx.SkipError{Reason: cronx.SkipClaimedElsewhere, Err: fmt.Errorf("asynqx: task %s already enqueued: %w", id, err)}
		case err != nil:
			return fmt.Errorf("asynqx: enqueue %s: %w", id, err)
		}
		return nil
	}, nil
}

// Handler returns an asynq handler that runs fn with the RunInfo of the
// enqueued tick: Job from the task type, Tick and Replica from the
// headers, Attempt = asynq's retry count + 1, Fence 0. Panics in fn become
// a *cronx.PanicError; an error marked cronx.Permanent is not retried
// (asynq.SkipRetry). A task that was not made by Enqueue is an error that
// asynq will not retry.
func Handler(fn cronx.Func) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if fn == nil {
			return fmt.Errorf("%w: asynqx.Handler: nil func: %w", cronx.ErrInvalidArgument, asynq.SkipRetry)
		}
		job, ok := strings.CutPrefix(t.Type(), "cronx:")
		if !ok || job == "" {
			return fmt.Errorf("asynqx: task type %q is not a cronx task (want %q): %w", t.Type(), TaskType("<job>"), asynq.SkipRetry)
		}
		h := t.Headers()
		ns, err := strconv.ParseInt(h[HeaderTick], 10, 64)
		if err != nil {
			return fmt.Errorf("asynqx: task %s has no valid %s header (%q): %w", t.Type(), HeaderTick, h[HeaderTick], asynq.SkipRetry)
		}
		trigger := cronx.TriggerSchedule
		if h[HeaderTrigger] == cronx.TriggerManual.String() {
			trigger = cronx.TriggerManual
		}
		retried, _ := asynq.GetRetryCount(ctx)
		ri := cronx.RunInfo{Job: job, Tick: time.Unix(0, ns), Trigger: trigger, Attempt: retried + 1, Replica: h[HeaderReplica]}
		err = cronx.Recover()(fn)(cronx.ContextWithInfo(ctx, ri))
		if err != nil && cronx.IsPermanent(err) {
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		return err
	})
}
