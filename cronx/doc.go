// Package cronx runs named jobs on cron schedules, with robfig/cron v3 as
// the engine, and adds what production jobs need: a context and an error,
// middleware, safe parsing, a DST policy, graceful shutdown and (with
// cronx/redislock or cronx/asynqx) one run per tick across replicas.
//
//	s, err := cronx.New(cronx.Config{Location: shanghai, Logger: logger})
//	err = s.Add("nightly-report", "30 2 * * *", func(ctx context.Context) error {
//		ri, _ := cronx.InfoFrom(ctx) // ri.Job, ri.Tick, ri.Trigger, ri.Attempt, ri.Fence
//		return buildReport(ctx, ri.Tick)
//	}, cronx.Timeout(10*time.Minute), cronx.Retry(cronx.RetryPolicy{MaxAttempts: 3}))
//	err = s.Start()
//	...
//	err = s.Shutdown(ctxWithDeadline) // *ShutdownError lists runs cut off
//
// Jobs are [Func]s (func(ctx) error) with unique names: Add, Replace,
// Remove, Pause, Resume and RunNow take the name; [Scheduler.Entries]
// reports each job's last run, last skip and [Entry.NextRuns]. Every run's context
// carries a [RunInfo]: the job name, the Tick (the scheduled activation,
// computed from the schedule, so replicas agree on it), the Trigger, the
// Attempt and the fencing token.
//
// Specs (see [Parse]) have 5 fields or 6 with seconds first, descriptors
// (@hourly, "@every 90s" aligned to the clock), and an optional
// "CRON_TZ=Zone " prefix; the parser never panics and rejects specs that
// can never fire. [NewParser] takes robfig's field options, [Scheduler.AddSchedule]
// any robfig cron.Schedule, [Scheduler.AddJob] a robfig cron.Job. Specs
// are evaluated in Config.Location, time.Local by default as in robfig
// (set it on replicas, which must agree on ticks). DST follows Vixie cron:
// a wall time skipped by a gap runs once right after the gap; in a fold, a
// fixed-hour job runs once, at the first reading, and a job whose hour
// field is a wildcard or step keeps its real-time cadence.
//
// Every run goes through, outermost first: panic recovery; scheduler-wide
// middleware ([Config].Middleware); the pause check; the local overlap policy
// (skip by default, [AllowOverlap], [DelayIfRunning] with a bound); the
// distributed claim ([OncePerTick], [NoClusterOverlap]); [Jitter] or
// [StableJitter]; logging (log/slog) and [Hooks]; per-job middleware
// ([Use]); [Retry]; [Timeout]; and panic recovery again, so a panic becomes
// a *[PanicError] that retry and hooks see. Middleware is
// func(Func) Func, composed with [Chain].
//
// A tick that does not run is a skip, reported to Hooks.OnSkip with a
// [SkipReason], not a failure. Across replicas, a [Coordinator] claims each
// (job, tick) once: cronx/redislock gives at most one run per tick and a
// run of every tick while any replica is alive; cronx/asynqx enqueues each
// tick once to asynq for at-least-once execution with retries.
//
// The engine's timers run on the monotonic clock: a suspended host fires
// late, and missed ticks are not caught up. Tests of code using cronx can
// run a Scheduler inside testing/synctest, where the engine's time is fake.
package cronx
