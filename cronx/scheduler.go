package cronx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
)

// shutdownGrace is how long Shutdown waits, after its deadline cancelled the
// runs' contexts, for them to return (and release their leases).
const shutdownGrace = time.Second

// Scheduler runs named jobs on cron schedules with robfig/cron v3 as the
// engine. Its methods are safe for concurrent use. Start it with Start and
// end it with Shutdown, after which it cannot be restarted.
type Scheduler struct {
	cfg  config
	cron *cron.Cron

	base    context.Context // parent of every run's context
	cancel  context.CancelCauseFunc
	closing chan struct{} // closed when Shutdown starts

	mu      sync.Mutex
	jobs    map[string]*job
	started bool
	closed  bool
	runs    sync.WaitGroup
	running map[*RunInfo]struct{}
	limit   chan struct{}  // Config.MaxConcurrent slots; nil: no limit
	bg      sync.WaitGroup // catch-up goroutines
}

type job struct {
	name  string
	spec  string
	sched Schedule
	id    cron.EntryID
	full  Func // the whole chain, Recover outermost
	st    *jobState

	startPaused bool
	tags        []string
	catchUp     *CatchUpPolicy
	allow       bool         // AllowOverlap
	delayMax    int          // DelayIfRunning bound
	gate        *overlapGate // set under s.mu before the job is scheduled
}

// jobState is shared by a job and the job that replaces it.
type jobState struct {
	paused atomic.Bool

	mu         sync.Mutex
	lastTick   time.Time    // watermark: a tick at or before it is not run again
	gate       *overlapGate // the current job's gate; kept by Replace when compatible
	gateMax    int
	lastStart  time.Time
	lastEnd    time.Time
	lastErr    error
	lastFence  uint64
	running    int
	runs       uint64
	failures   uint64
	skips      uint64
	lastSkip   SkipReason
	lastSkipAt time.Time
}

// New returns a stopped Scheduler configured by cfg (the zero Config is
// ready to use). An invalid field is an error wrapping ErrInvalid that
// names it.
func New(cfg Config) (*Scheduler, error) {
	c, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return newScheduler(c), nil
}

func newScheduler(cfg config) *Scheduler {
	s := &Scheduler{cfg: cfg, jobs: map[string]*job{}, running: map[*RunInfo]struct{}{}, closing: make(chan struct{})}
	s.base, s.cancel = context.WithCancelCause(context.Background())
	s.cron = cron.New(cron.WithLocation(cfg.loc), cron.WithLogger(robfigLogger{cfg.logger}))
	if cfg.maxRuns > 0 {
		s.limit = make(chan struct{}, cfg.maxRuns)
	}
	return s
}

// limitMW skips a run when Config.MaxConcurrent runs are in progress.
func (s *Scheduler) limitMW(next Func) Func {
	return func(ctx context.Context) error {
		select {
		case s.limit <- struct{}{}:
		default:
			return &SkipError{Reason: SkipConcurrencyLimit, Err: fmt.Errorf("cronx: %d runs in progress (Config.MaxConcurrent)", cap(s.limit))}
		}
		defer func() { <-s.limit }()
		return next(ctx)
	}
}

// robfigLogger maps robfig/cron's chatty Info to Debug.
type robfigLogger struct{ l *slog.Logger }

func (r robfigLogger) Info(msg string, kv ...any) {
	r.l.Debug("cronx: robfig/cron: "+msg, kv...)
}

func (r robfigLogger) Error(err error, msg string, kv ...any) {
	r.l.Error("cronx: robfig/cron: "+msg, append(kv, "err", err)...)
}

func validName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	case len(name) > 200:
		return fmt.Errorf("%w: %s %.20q... is %d bytes; use at most 200", ErrInvalid, what, name, len(name))
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %s %q is not valid UTF-8", ErrInvalid, what, name)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("%w: %s %q contains whitespace or control characters (it is used in Redis keys and task IDs); use e.g. dashes", ErrInvalid, what, name)
	}
	return nil
}

// Add adds a job that runs fn on spec (see Parse; specs without CRON_TZ=
// use the scheduler's location). Names are unique: an existing name is
// ErrDuplicateName (use Replace). The job starts ticking when the scheduler
// is started (at once if it already is).
func (s *Scheduler) Add(name, spec string, fn Func, opts ...Option) error {
	sched, err := s.parse(name, spec)
	if err != nil {
		return err
	}
	return s.add(name, spec, sched, fn, opts)
}

// AddSchedule adds a job like Add, with any Schedule instead of a spec:
// a robfig cron.Schedule (cron.ConstantDelaySchedule, a *cron.SpecSchedule
// from a parser of your own, or a type of yours) works as is. Next must be
// a pure function of its argument: the tick of a run is the latest
// activation at or before the moment the engine woke up, computed from
// Next, and replicas compute the same ticks only if their schedules agree.
// The job's Entry.Spec is "" for such jobs.
func (s *Scheduler) AddSchedule(name string, sched Schedule, fn Func, opts ...Option) error {
	if sched == nil {
		return fmt.Errorf("%w: job %q: nil Schedule", ErrInvalid, name)
	}
	return s.add(name, "", sched, fn, opts)
}

// AddOnce adds a job that runs once, at at (a one-time job). A time in
// the past never fires. After its run the job stays registered, with a
// zero Entry.Next, until removed; with OncePerTick it runs on one replica.
func (s *Scheduler) AddOnce(name string, at time.Time, fn Func, opts ...Option) error {
	if at.IsZero() {
		return fmt.Errorf("%w: job %q: AddOnce at the zero time", ErrInvalid, name)
	}
	return s.add(name, "@once "+at.Format(time.RFC3339Nano), onceSchedule{at}, fn, opts)
}

// RemoveTag removes every job tagged tag (see Tags) and returns how many.
func (s *Scheduler) RemoveTag(tag string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	n := 0
	for name, j := range s.jobs {
		if slices.Contains(j.tags, tag) {
			s.cron.Remove(j.id)
			delete(s.jobs, name)
			n++
		}
	}
	return n, nil
}

// PauseTag pauses every job tagged tag and returns how many.
func (s *Scheduler) PauseTag(tag string) (int, error) { return s.setPausedTag(tag, true) }

// ResumeTag resumes every job tagged tag and returns how many.
func (s *Scheduler) ResumeTag(tag string) (int, error) { return s.setPausedTag(tag, false) }

func (s *Scheduler) setPausedTag(tag string, paused bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	n := 0
	for _, j := range s.jobs {
		if slices.Contains(j.tags, tag) {
			j.st.paused.Store(paused)
			n++
		}
	}
	return n, nil
}

// AddJob adds a robfig cron.Job (anything with Run()) under name, like Add
// with FromJob(j): code written for robfig's (*cron.Cron).AddJob ports
// unchanged, and gets a name, panic recovery and the rest.
func (s *Scheduler) AddJob(name, spec string, j cron.Job, opts ...Option) error {
	if j == nil {
		return fmt.Errorf("%w: job %q: nil cron.Job", ErrInvalid, name)
	}
	return s.Add(name, spec, FromJob(j), opts...)
}

// FromJob adapts a robfig cron.Job to a Func that calls j.Run() and
// returns nil; a panic in Run becomes a *PanicError as for any Func. The
// job cannot see the context: it is not cancelled by Timeout or Shutdown.
func FromJob(j cron.Job) Func {
	return func(context.Context) error {
		j.Run()
		return nil
	}
}

func (s *Scheduler) parse(name, spec string) (Schedule, error) {
	sched, err := s.cfg.parser.Parse(spec, s.cfg.loc)
	if err != nil {
		return nil, fmt.Errorf("job %q: %w", name, err)
	}
	return sched, nil
}

func (s *Scheduler) add(name, spec string, sched Schedule, fn Func, opts []Option) error {
	j, err := s.build(name, spec, sched, fn, opts)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, ok := s.jobs[name]; ok {
		return fmt.Errorf("%w: %q (use Replace to change it)", ErrDuplicateName, name)
	}
	j.st = &jobState{}
	j.st.paused.Store(j.startPaused)
	s.setGate(j)
	s.schedule(j)
	return nil
}

// Replace replaces the job called name with a new spec, function and
// options, keeping its statistics, pause state and tick watermark: a tick
// the old job already started is not run again by the new one. A run of
// the old job in progress continues. A missing name is ErrNotFound.
func (s *Scheduler) Replace(name, spec string, fn Func, opts ...Option) error {
	sched, err := s.parse(name, spec)
	if err != nil {
		return err
	}
	j, err := s.build(name, spec, sched, fn, opts)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	old, ok := s.jobs[name]
	if !ok {
		return fmt.Errorf("%w: %q (use Add)", ErrNotFound, name)
	}
	j.st = old.st
	s.setGate(j)  // the old run, if any, keeps counting against the overlap policy
	s.schedule(j) // add the new entry first, then remove the old one
	s.cron.Remove(old.id)
	return nil
}

// setGate gives j the overlap gate of the job it replaces when both use the
// same policy, else a new one; s.mu is held.
func (s *Scheduler) setGate(j *job) {
	if j.allow {
		return
	}
	j.st.mu.Lock()
	defer j.st.mu.Unlock()
	if j.st.gate == nil || j.st.gateMax != j.delayMax {
		j.st.gate, j.st.gateMax = newOverlapGate(j.delayMax, s.closing), j.delayMax
	}
	j.gate = j.st.gate
}

// schedule registers j with robfig; s.mu is held.
func (s *Scheduler) schedule(j *job) {
	j.id = s.cron.Schedule(j.sched, cron.FuncJob(func() { s.fire(j) }))
	s.jobs[j.name] = j
	if s.started && j.catchUp != nil {
		s.startCatchUp(j)
	}
}

// startCatchUp finds j's missed ticks (one Coordinator call, bounded by
// Config.ClaimTimeout) before j's first live tick can be claimed, and runs
// them on a goroutine that Shutdown waits for; s.mu is held.
func (s *Scheduler) startCatchUp(j *job) {
	ticks := s.missedTicks(j, time.Now())
	if len(ticks) == 0 {
		return
	}
	s.bg.Add(1)
	go func() { // ends when the missed ticks have run
		defer s.bg.Done()
		for _, tk := range ticks {
			if s.base.Err() != nil {
				return
			}
			ctx := context.WithValue(s.base, catchUpKey{}, true)
			_ = s.execute(ctx, j, RunInfo{Job: j.name, Tick: tk, Trigger: TriggerSchedule, Attempt: 1, Replica: s.cfg.replica})
		}
	}()
}

// catchUpKey marks the context of a catch-up run: the tick watermark
// neither stops nor moves for it.
type catchUpKey struct{}

// missedTicks returns the ticks of j missed before now (see CatchUp).
func (s *Scheduler) missedTicks(j *job, now time.Time) []time.Time {
	p := j.catchUp
	ctx, cancel := context.WithTimeout(s.base, s.cfg.claimTimeout)
	last, ok, err := s.cfg.coord.(LastTicker).LastTick(ctx, j.name)
	cancel()
	if err != nil {
		s.cfg.logger.Warn("cronx: catch-up skipped: the coordinator could not say the last tick", "job", j.name, "err", err)
		return nil
	}
	if !ok {
		return nil // never claimed: nothing was missed
	}
	from := now.Add(-p.MaxAge)
	if last.After(from) {
		from = last
	}
	var ticks []time.Time
	for t := j.sched.Next(from); !t.IsZero() && !t.After(now); t = j.sched.Next(t) {
		ticks = append(ticks, t)
		if !p.Each && len(ticks) > 1 {
			ticks = ticks[1:]
		}
		if p.Each && len(ticks) == p.Max {
			break
		}
		if len(ticks) > 100000 { // a schedule that does not advance
			break
		}
	}
	if len(ticks) > 0 {
		s.cfg.logger.Info("cronx: catching up missed ticks", "job", j.name, "last", last, "ticks", len(ticks))
	}
	return ticks
}

func (s *Scheduler) build(name, spec string, sched Schedule, fn Func, opts []Option) (*job, error) {
	if err := validName("job name", name); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, fmt.Errorf("%w: job %q: nil func", ErrInvalid, name)
	}
	var c jobConfig
	for i, o := range append(slices.Clone(s.cfg.defaults), opts...) {
		if o == nil {
			return nil, fmt.Errorf("%w: job %q: option %d is nil", ErrInvalid, name, i)
		}
		if err := o(&c); err != nil {
			return nil, fmt.Errorf("job %q: %w", name, err)
		}
	}
	if c.once && s.cfg.coord == nil {
		return nil, fmt.Errorf("%w: job %q uses OncePerTick but the scheduler has no Coordinator; set Config.Coordinator (e.g. to a cronx/redislock Coordinator)", ErrInvalid, name)
	}
	if c.catchUp != nil {
		if _, ok := s.cfg.coord.(LastTicker); !ok || !c.once {
			return nil, fmt.Errorf("%w: job %q uses CatchUp, which needs OncePerTick and a Coordinator that implements cronx.LastTicker (cronx/redislock does)", ErrInvalid, name)
		}
	}
	if !c.start.IsZero() && !c.end.IsZero() && c.end.Before(c.start) {
		return nil, fmt.Errorf("%w: job %q: StopAt %v is before StartAt %v", ErrInvalid, name, c.end, c.start)
	}
	if !c.start.IsZero() || !c.end.IsZero() {
		sched = windowSchedule{inner: sched, start: c.start, end: c.end}
	}
	j := &job{name: name, spec: spec, sched: sched, startPaused: c.startPause, allow: c.allow, delayMax: c.delayMax, tags: c.tags, catchUp: c.catchUp}
	mws := []Middleware{Recover()}
	mws = append(mws, s.cfg.mws...)
	mws = append(mws, s.precheck(j))
	if !c.allow {
		mws = append(mws, func(next Func) Func {
			return func(ctx context.Context) error { return j.gate.run(ctx, next) }
		})
	}
	if s.limit != nil {
		mws = append(mws, s.limitMW)
	}
	if c.once {
		mws = append(mws, claimMW(s.cfg.coord, c.noOverlap, s.cfg.claimTimeout, sched.Next))
	}
	if c.jitter != nil {
		mws = append(mws, jitterMW(c.jitter))
	}
	mws = append(mws, s.observe(j))
	mws = append(mws, c.mws...)
	if c.retry != nil {
		mws = append(mws, retryMW(*c.retry, func(ri RunInfo) time.Time {
			if ri.Trigger != TriggerSchedule {
				return time.Time{}
			}
			return sched.Next(ri.Tick)
		}))
	}
	if c.timeout > 0 {
		mws = append(mws, timeoutMW(c.timeout))
	}
	mws = append(mws, Recover())
	j.full = Chain(mws...)(fn)
	return j, nil
}

// precheck skips paused jobs and ticks at or before the watermark.
func (s *Scheduler) precheck(j *job) Middleware {
	return func(next Func) Func {
		return func(ctx context.Context) error {
			ri, _ := InfoFrom(ctx)
			if ri.Trigger != TriggerSchedule {
				return next(ctx)
			}
			if j.st.paused.Load() {
				return &SkipError{Reason: SkipPaused}
			}
			if ctx.Value(catchUpKey{}) != nil {
				return next(ctx)
			}
			j.st.mu.Lock()
			if !ri.Tick.After(j.st.lastTick) {
				last := j.st.lastTick
				j.st.mu.Unlock()
				return &SkipError{Reason: SkipStaleTick, Err: fmt.Errorf("cronx: tick %s already dispatched (last %s)", ri.Tick.Format(time.RFC3339), last.Format(time.RFC3339))}
			}
			j.st.lastTick = ri.Tick
			j.st.mu.Unlock()
			return next(ctx)
		}
	}
}

type observedKey struct{}

// observe logs executed runs, calls the hooks and keeps the statistics.
func (s *Scheduler) observe(j *job) Middleware {
	return func(next Func) Func {
		return func(ctx context.Context) error {
			if p, ok := ctx.Value(observedKey{}).(*bool); ok {
				*p = true
			}
			ri, _ := InfoFrom(ctx)
			start := time.Now()
			st := j.st
			st.mu.Lock()
			st.running++
			st.lastStart, st.lastFence = start, ri.Fence
			st.mu.Unlock()
			if h := s.cfg.hooks.OnStart; h != nil {
				h(ctx, ri)
			}
			s.logRun(ctx, slog.LevelDebug, "cronx: run started", ri, "fence", ri.Fence)
			err := finishRun(ctx, next(ctx))
			took := time.Since(start)
			var skip *SkipError
			st.mu.Lock()
			st.running--
			st.lastEnd = time.Now()
			switch {
			case errors.As(err, &skip):
			case err != nil:
				st.runs++
				st.failures++
				st.lastErr = err
			default:
				st.runs++
				st.lastErr = nil
			}
			st.mu.Unlock()
			switch {
			case skip != nil:
				// reported by the dispatcher
			case err != nil:
				s.logRun(ctx, slog.LevelError, "cronx: run failed", ri, withStack([]any{"took", took, "err", err}, err)...)
				if h := s.cfg.hooks.OnFailure; h != nil {
					h(ctx, ri, err, took)
				}
			default:
				s.logRun(ctx, slog.LevelInfo, "cronx: run succeeded", ri, "took", took)
				if h := s.cfg.hooks.OnSuccess; h != nil {
					h(ctx, ri, took)
				}
			}
			return err
		}
	}
}

// logRun logs a run event; the attributes are only built when enabled.
func (s *Scheduler) logRun(ctx context.Context, level slog.Level, msg string, ri RunInfo, extra ...any) {
	if !s.cfg.logger.Enabled(ctx, level) {
		return
	}
	attrs := append([]any{"job", ri.Job, "tick", ri.Tick, "trigger", ri.Trigger.String(), "replica", ri.Replica}, extra...)
	s.cfg.logger.Log(ctx, level, msg, attrs...)
}

// withStack appends the stack of a panic in err to log attributes.
func withStack(attrs []any, err error) []any {
	var pe *PanicError
	if errors.As(err, &pe) {
		attrs = append(attrs, "stack", string(pe.Stack))
	}
	return attrs
}

// fire is robfig's job for j: it computes the tick and runs j.
func (s *Scheduler) fire(j *job) {
	now := time.Now()
	tick := prevActivation(j.sched, now)
	if tick.IsZero() { // cannot happen for a schedule that fired; be safe
		tick = now.Truncate(time.Second)
	}
	ri := RunInfo{Job: j.name, Tick: tick, Trigger: TriggerSchedule, Attempt: 1, Replica: s.cfg.replica}
	_ = s.execute(s.base, j, ri)
}

// execute runs j's chain for ri and reports skips and errors the chain did
// not report itself.
func (s *Scheduler) execute(ctx context.Context, j *job, ri RunInfo) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		err := &SkipError{Reason: SkipShuttingDown}
		s.reportSkip(ctx, j, ri, err)
		return err
	}
	s.runs.Add(1)
	rec := &ri
	s.running[rec] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, rec)
		s.mu.Unlock()
		s.runs.Done()
	}()
	observed := false
	ctx = context.WithValue(ContextWithInfo(ctx, ri), observedKey{}, &observed)
	err := j.full(ctx)
	var skip *SkipError
	switch {
	case errors.As(err, &skip):
		s.reportSkip(ctx, j, ri, skip)
	case err != nil && !observed: // failed in scheduler-wide middleware
		s.cfg.logger.Error("cronx: run failed before it started", withStack([]any{"job", ri.Job, "tick", ri.Tick, "err", err}, err)...)
		if h := s.cfg.hooks.OnFailure; h != nil {
			h(ctx, ri, err, 0)
		}
	}
	return err
}

func (s *Scheduler) reportSkip(ctx context.Context, j *job, ri RunInfo, skip *SkipError) {
	j.st.mu.Lock()
	j.st.skips++
	j.st.lastSkip, j.st.lastSkipAt = skip.Reason, ri.Tick
	j.st.mu.Unlock()
	level := slog.LevelInfo
	switch skip.Reason {
	case SkipCoordinatorError:
		level = slog.LevelWarn
	case SkipClaimedElsewhere: // the normal outcome on all replicas but one
		level = slog.LevelDebug
	}
	if skip.Err != nil {
		s.logRun(ctx, level, "cronx: run skipped", ri, "reason", string(skip.Reason), "err", skip.Err)
	} else {
		s.logRun(ctx, level, "cronx: run skipped", ri, "reason", string(skip.Reason))
	}
	if h := s.cfg.hooks.OnSkip; h != nil {
		h(ctx, ri, skip.Reason, skip.Err)
	}
}

func (s *Scheduler) lookup(name string) (*job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	j, ok := s.jobs[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return j, nil
}

// Remove removes the job: it gets no more ticks. A run in progress
// continues to its end.
func (s *Scheduler) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	j, ok := s.jobs[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	s.cron.Remove(j.id)
	delete(s.jobs, name)
	return nil
}

// Pause makes the job skip its ticks (SkipPaused) until Resume. A run in
// progress continues. RunNow still runs a paused job.
func (s *Scheduler) Pause(name string) error {
	j, err := s.lookup(name)
	if err != nil {
		return err
	}
	j.st.paused.Store(true)
	return nil
}

// Resume undoes Pause. Ticks missed while paused are not run.
func (s *Scheduler) Resume(name string) error {
	j, err := s.lookup(name)
	if err != nil {
		return err
	}
	j.st.paused.Store(false)
	return nil
}

// RunNow runs the job now, on this scheduler, through the same middleware
// (overlap policy, retry, timeout, hooks) with Trigger TriggerManual and
// Tick set to now, and returns its error: nil, the job's error, or a
// *SkipError (for example SkipOverlap while a scheduled run is running).
// It is not claimed through the Coordinator and runs even when paused. It
// waits for the run; ctx cancels it, as does Shutdown's deadline.
func (s *Scheduler) RunNow(ctx context.Context, name string) error {
	if ctx == nil {
		return fmt.Errorf("%w: RunNow: nil context", ErrInvalid)
	}
	j, err := s.lookup(name)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(s.base, func() { cancel(context.Cause(s.base)) })
	defer stop()
	ri := RunInfo{Job: name, Tick: time.Now(), Trigger: TriggerManual, Attempt: 1, Replica: s.cfg.replica}
	return s.execute(rctx, j, ri)
}

// Entry describes a job, as returned by Entries.
type Entry struct {
	Name       string
	Spec       string
	Next       time.Time  // next activation after now (also computed when paused)
	Prev       time.Time  // last tick this scheduler dispatched (zero if none)
	LastStart  time.Time  // start of the last run executed here
	LastEnd    time.Time  // end of the last run executed here
	LastErr    error      // error of the last completed run (nil: success)
	LastFence  uint64     // fencing token of the last run executed here
	Running    int        // runs in progress here
	Runs       uint64     // runs completed here
	Failures   uint64     // of which failed
	Skips      uint64     // ticks skipped here (any SkipReason)
	LastSkip   SkipReason // reason of the last skipped tick ("" if none)
	LastSkipAt time.Time  // that tick
	Tags       []string   // from the Tags option
	Paused     bool

	sched Schedule
}

// NextRuns returns the job's next n activations, starting with e.Next,
// computed from its schedule (fewer if the schedule ends; nil for n < 1).
// Pausing does not change them.
func (e Entry) NextRuns(n int) []time.Time {
	if n < 1 || e.sched == nil || e.Next.IsZero() {
		return nil
	}
	out := make([]time.Time, 0, n)
	for t := e.Next; !t.IsZero() && len(out) < n; t = e.sched.Next(t) {
		out = append(out, t)
	}
	return out
}

// Entries lists the jobs sorted by Next, then name.
func (s *Scheduler) Entries() []Entry {
	s.mu.Lock()
	jobs := make([]*job, 0, len(s.jobs))
	for _, j := range s.jobs {
		jobs = append(jobs, j)
	}
	s.mu.Unlock()
	now := time.Now()
	out := make([]Entry, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, j.entry(now))
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := a.Next.Compare(b.Next); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Entry returns the job called name, or ErrNotFound.
func (s *Scheduler) Entry(name string) (Entry, error) {
	j, err := s.lookup(name)
	if err != nil {
		return Entry{}, err
	}
	return j.entry(time.Now()), nil
}

func (j *job) entry(now time.Time) Entry {
	st := j.st
	st.mu.Lock()
	defer st.mu.Unlock()
	return Entry{
		Name: j.name, Spec: j.spec, Next: j.sched.Next(now), Prev: st.lastTick,
		LastStart: st.lastStart, LastEnd: st.lastEnd, LastErr: st.lastErr, LastFence: st.lastFence,
		Running: st.running, Runs: st.runs, Failures: st.failures, Skips: st.skips,
		LastSkip: st.lastSkip, LastSkipAt: st.lastSkipAt, Paused: st.paused.Load(), sched: j.sched, Tags: slices.Clone(j.tags),
	}
}

// Start starts ticking. It returns at once (after asking the Coordinator
// for the last tick of each job with CatchUp, each call bounded by
// Config.ClaimTimeout); the engine runs on a goroutine of its own until
// Shutdown. Starting a started scheduler does nothing;
// starting one that was shut down is ErrClosed.
func (s *Scheduler) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if !s.started {
		s.started = true
		s.cron.Start()
		for _, j := range s.jobs {
			if j.catchUp != nil {
				s.startCatchUp(j)
			}
		}
	}
	return nil
}

// Shutdown stops the scheduler for good: no new ticks start (late ones, and
// ticks queued by DelayIfRunning, are skipped as SkipShuttingDown), and it
// waits for runs in progress until ctx
// ends. At that deadline it cancels the runs' contexts with cause
// ErrShuttingDown, waits up to one more second for them to return (so that
// distributed leases are released), and returns a *ShutdownError (matching
// ErrShutdownTimeout) listing the runs that were still running at the
// deadline. It blocks on channels and never spins. A second call is
// ErrClosed.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("%w: Shutdown: nil context", ErrInvalid)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	s.cron.Stop()
	done := make(chan struct{})
	go func() { // ends when the last run ends
		s.bg.Wait()
		s.runs.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel(ErrShuttingDown)
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	running := make([]RunInfo, 0, len(s.running))
	for r := range s.running {
		running = append(running, *r)
	}
	s.mu.Unlock()
	s.cancel(ErrShuttingDown)
	t := time.NewTimer(shutdownGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	if len(running) == 0 {
		return nil
	}
	slices.SortFunc(running, func(a, b RunInfo) int {
		if c := strings.Compare(a.Job, b.Job); c != 0 {
			return c
		}
		return a.Tick.Compare(b.Tick)
	})
	return &ShutdownError{Running: running}
}
