// Package asynqx runs cronx jobs durably on asynq: on each tick every
// replica enqueues the tick as an asynq task with a per-tick TaskID, so
// asynq accepts exactly one enqueue per tick, and asynq workers run the job
// at least once, with asynq's retries.
//
//	// on every replica (the scheduler side)
//	enqueue, err := asynqx.Enqueue(asynqClient, "invoice-run", asynqx.Config{MaxRetry: 5})
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
// Here the TaskID is "<job>:<unix tick>" and Config.Retention keeps it
// reserved after completion; it must exceed the clock skew between
// replicas. A conflicting enqueue is reported by cronx as a skip
// (SkipClaimedElsewhere), not a failure.
//
// The task payload is an envelope: one header line
//
//	cronx/1 <tick, Unix ns> <trigger> <replica>\n
//
// followed by Config.Payload, which the job reads with [PayloadFrom]. The
// run's data travels in the payload rather than in asynq's task headers so
// that asynqx works with asynq v0.25.0 and later (headers appeared in
// v0.26.0).
package asynqx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/hibiken/asynq"
)

// envelopeMagic starts the header line of every payload (see the package
// doc).
const envelopeMagic = "cronx/1 "

// Enqueuer is what Enqueue needs of an asynq client; *asynq.Client has it.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Config configures Enqueue. Zero fields mean the documented defaults.
type Config struct {
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
	// Payload is carried with every task of the job, the same for every
	// tick; the job reads it with PayloadFrom.
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
func Enqueue(c Enqueuer, job string, o Config) (cronx.Func, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: asynqx.Enqueue: nil asynq client", cronx.ErrInvalid)
	}
	if job == "" {
		return nil, fmt.Errorf("%w: asynqx.Enqueue: empty job name", cronx.ErrInvalid)
	}
	if o.Retention < 0 || o.Timeout < 0 || o.MaxRetry < -1 {
		return nil, fmt.Errorf("%w: asynqx.Enqueue: negative Retention (%v), Timeout (%v) or MaxRetry below -1 (%d); use 0 for the defaults", cronx.ErrInvalid, o.Retention, o.Timeout, o.MaxRetry)
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
			return fmt.Errorf("%w: asynqx: the context carries no cronx.RunInfo; run this Func from a cronx.Scheduler", cronx.ErrInvalid)
		}
		if ri.Job != job {
			return fmt.Errorf("%w: asynqx: Func made for job %q was added as %q; use the same name", cronx.ErrInvalid, job, ri.Job)
		}
		id := TaskID(job, ri.Tick)
		if ri.Trigger != cronx.TriggerSchedule {
			id = job + ":manual:" + strconv.FormatInt(ri.Tick.UnixNano(), 10) + ":" + ri.Replica
		}
		task := asynq.NewTask(TaskType(job), encode(ri, o.Payload))
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
// enqueued tick: Job from the task type, Tick, Trigger and Replica from the
// payload's envelope, Attempt = asynq's retry count + 1, Fence 0. Panics in fn become
// a *cronx.PanicError; an error marked cronx.Permanent is not retried
// (asynq.SkipRetry). A task that was not made by Enqueue is an error that
// asynq will not retry.
func Handler(fn cronx.Func) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if fn == nil {
			return fmt.Errorf("%w: asynqx.Handler: nil func: %w", cronx.ErrInvalid, asynq.SkipRetry)
		}
		job, ok := strings.CutPrefix(t.Type(), "cronx:")
		if !ok || job == "" {
			return fmt.Errorf("asynqx: task type %q is not a cronx task (want %q): %w", t.Type(), TaskType("<job>"), asynq.SkipRetry)
		}
		ri, payload, err := decode(t.Payload())
		if err != nil {
			return fmt.Errorf("asynqx: task %s: %w: %w", t.Type(), err, asynq.SkipRetry)
		}
		retried, _ := asynq.GetRetryCount(ctx)
		ri.Job, ri.Attempt = job, retried+1
		ctx = context.WithValue(cronx.ContextWithInfo(ctx, ri), payloadKey{}, payload)
		err = cronx.Recover()(fn)(ctx)
		if err != nil && cronx.IsPermanent(err) {
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		return err
	})
}

type payloadKey struct{}

// PayloadFrom returns the Config.Payload of the task whose run ctx belongs
// to (inside a Func run by Handler), or nil.
func PayloadFrom(ctx context.Context) []byte {
	p, _ := ctx.Value(payloadKey{}).([]byte)
	return p
}

// encode returns the envelope of ri followed by payload.
func encode(ri cronx.RunInfo, payload []byte) []byte {
	b := make([]byte, 0, len(envelopeMagic)+len(ri.Replica)+40+len(payload))
	b = append(b, envelopeMagic...)
	b = strconv.AppendInt(b, ri.Tick.UnixNano(), 10)
	b = append(b, ' ')
	b = append(b, ri.Trigger.String()...)
	b = append(b, ' ')
	b = append(b, strings.ReplaceAll(ri.Replica, "\n", " ")...)
	b = append(b, '\n')
	return append(b, payload...)
}

// decode parses an envelope made by encode.
func decode(b []byte) (cronx.RunInfo, []byte, error) {
	var ri cronx.RunInfo
	rest, ok := bytes.CutPrefix(b, []byte(envelopeMagic))
	line, payload, found := bytes.Cut(rest, []byte{'\n'})
	fields := strings.SplitN(string(line), " ", 3) // the replica may hold spaces, never a newline
	if !ok || !found || len(fields) != 3 {
		return ri, nil, fmt.Errorf("payload has no %q envelope (was it enqueued by asynqx.Enqueue?)", strings.TrimSpace(envelopeMagic))
	}
	ns, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return ri, nil, fmt.Errorf("bad tick %q in the payload's envelope", fields[0])
	}
	switch fields[1] {
	case cronx.TriggerSchedule.String():
		ri.Trigger = cronx.TriggerSchedule
	case cronx.TriggerManual.String():
		ri.Trigger = cronx.TriggerManual
	default:
		return ri, nil, fmt.Errorf("bad trigger %q in the payload's envelope", fields[1])
	}
	ri.Tick, ri.Replica = time.Unix(0, ns), fields[2]
	if len(payload) == 0 {
		payload = nil
	}
	return ri, payload, nil
}
