package cronx

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"time"
)

// Config configures a Scheduler (New). The zero Config is ready to use;
// every zero field means the default documented on it.
type Config struct {
	// Location is the zone in which specs without a CRON_TZ= prefix are
	// evaluated. Nil means time.Local, as in robfig/cron, so that code
	// ported from robfig keeps its wall-clock times. Replicas that claim
	// ticks through a Coordinator must agree on the zone: set it
	// explicitly (time.UTC or a zone from time.LoadLocation) rather than
	// depending on each host's TZ.
	Location *time.Location
	// Logger receives run events (start at Debug; success and skips at
	// Info, a tick claimed by another replica at Debug; coordinator errors
	// at Warn; failures at Error, with the stack of a panic) and
	// robfig/cron's own messages (at Debug). Nil means slog.Default();
	// slog.New(slog.DiscardHandler) silences cronx.
	Logger *slog.Logger
	// Hooks receive run events, for metrics (see Hooks).
	Hooks Hooks
	// Middleware wraps every run of every job, outermost first.
	// Scheduler-wide middleware wraps the whole run, including the pause,
	// overlap and distributed-claim checks: it sees skipped ticks as a
	// *SkipError. Per-job middleware (the Use option) runs only for
	// executed runs. A nil entry makes New fail.
	Middleware []Middleware
	// Replica is this scheduler's replica ID, reported in RunInfo and
	// stored in distributed claims. Empty means "hostname:pid".
	Replica string
	// Coordinator is used by jobs with the OncePerTick option
	// (cronx/redislock provides one). The scheduler does not own it.
	Coordinator Coordinator
	// ClaimTimeout bounds each Coordinator.Claim, so that an unreachable
	// coordinator makes a tick a SkipCoordinatorError before the next tick
	// arrives (never a SkipOverlap). The claim's deadline is the smaller of
	// ClaimTimeout and half the time from the tick to the job's next one.
	// Zero means 2s; it must not be negative.
	ClaimTimeout time.Duration
	// Defaults are job options applied to every job before its own.
	Defaults []Option
	// MaxConcurrent limits the runs in progress on this scheduler, all
	// jobs together (RunNow included); a tick that finds the limit reached
	// is skipped as SkipConcurrencyLimit, before any distributed claim, so
	// another replica may run it. Zero means no limit; it must not be
	// negative.
	MaxConcurrent int
	// Parser parses the specs given to Add and Replace. Nil means the
	// default (5 or 6 fields and descriptors, see Parse); use NewParser
	// to port a robfig cron.WithParser(cron.NewParser(...)) setting.
	Parser *Parser
}

// config is a validated Config with its defaults filled in.
type config struct {
	loc          *time.Location
	logger       *slog.Logger
	hooks        Hooks
	mws          []Middleware
	replica      string
	coord        Coordinator
	claimTimeout time.Duration
	defaults     []Option
	parser       *Parser
	maxRuns      int
}

// defaultClaimTimeout is Config.ClaimTimeout's default.
const defaultClaimTimeout = 2 * time.Second

func (c Config) validate() (config, error) {
	cfg := config{loc: c.Location, logger: c.Logger, hooks: c.Hooks, replica: c.Replica, coord: c.Coordinator, claimTimeout: c.ClaimTimeout}
	if cfg.loc == nil {
		cfg.loc = time.Local
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	for i, m := range c.Middleware {
		if m == nil {
			return cfg, fmt.Errorf("%w: Config.Middleware[%d] is nil; remove it", ErrInvalid, i)
		}
	}
	cfg.mws = slices.Clone(c.Middleware)
	if cfg.replica == "" {
		cfg.replica = defaultReplica()
	} else if err := validName("Config.Replica", cfg.replica); err != nil {
		return cfg, err
	}
	switch {
	case c.ClaimTimeout < 0:
		return cfg, fmt.Errorf("%w: Config.ClaimTimeout is %v; use 0 for the default (%v) or a positive duration", ErrInvalid, c.ClaimTimeout, defaultClaimTimeout)
	case c.ClaimTimeout == 0:
		cfg.claimTimeout = defaultClaimTimeout
	}
	for i, o := range c.Defaults {
		if o == nil {
			return cfg, fmt.Errorf("%w: Config.Defaults[%d] is nil; remove it", ErrInvalid, i)
		}
	}
	cfg.defaults = slices.Clone(c.Defaults)
	if c.MaxConcurrent < 0 {
		return cfg, fmt.Errorf("%w: Config.MaxConcurrent is %d; use 0 for no limit or a positive count", ErrInvalid, c.MaxConcurrent)
	}
	cfg.maxRuns = c.MaxConcurrent
	cfg.parser = c.Parser
	if cfg.parser == nil {
		cfg.parser = defaultParser
	}
	return cfg, nil
}

func defaultReplica() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "host"
	}
	return h + ":" + strconv.Itoa(os.Getpid())
}

// Option configures one job (Add, Replace, Config.Defaults). Options are
// validated when the job is added: an invalid one makes Add fail with an
// error wrapping ErrInvalid.
type Option func(*jobConfig) error

type jobConfig struct {
	timeout    time.Duration
	retry      *RetryPolicy
	allow      bool // AllowOverlap
	delayMax   int  // DelayIfRunning
	jitter     func(RunInfo) time.Duration
	mws        []Middleware
	once       bool
	noOverlap  bool // NoClusterOverlap
	startPause bool
	tags       []string
	start, end time.Time // StartAt, StopAt
	catchUp    *CatchUpPolicy
}

// Timeout bounds each attempt of a run: its context ends after d with cause
// ErrTimeout, and the attempt's error wraps ErrTimeout. The run is waited
// for, not abandoned: a Func must watch its context.
func Timeout(d time.Duration) Option {
	return func(c *jobConfig) error {
		if d <= 0 {
			return fmt.Errorf("%w: Timeout(%v): the timeout must be positive", ErrInvalid, d)
		}
		c.timeout = d
		return nil
	}
}

// Retry retries failed runs with capped exponential backoff. A retry never
// starts after the job's next tick. Each attempt gets its own Timeout and
// RunInfo.Attempt.
func Retry(p RetryPolicy) Option {
	return func(c *jobConfig) error {
		p, err := p.withDefaults()
		if err != nil {
			return err
		}
		c.retry = &p
		return nil
	}
}

// AllowOverlap lets ticks of the job run while a previous run on this
// scheduler is still running. The default is to skip such ticks
// (SkipOverlap).
func AllowOverlap() Option {
	return func(c *jobConfig) error { c.allow, c.delayMax = true, 0; return nil }
}

// DelayIfRunning makes a tick that arrives while the previous run is still
// running wait for it, with at most maxQueue ticks waiting; further ticks
// are skipped (SkipOverlap). robfig/cron's DelayIfStillRunning has no bound.
func DelayIfRunning(maxQueue int) Option {
	return func(c *jobConfig) error {
		if maxQueue < 1 {
			return fmt.Errorf("%w: DelayIfRunning(%d): the queue bound must be at least 1", ErrInvalid, maxQueue)
		}
		c.allow, c.delayMax = false, maxQueue
		return nil
	}
}

// Jitter delays each run by a random duration in [0, max), after the
// distributed claim, to spread load.
func Jitter(max time.Duration) Option {
	return func(c *jobConfig) error {
		if max <= 0 {
			return fmt.Errorf("%w: Jitter(%v): max must be positive", ErrInvalid, max)
		}
		c.jitter = randomJitter(max)
		return nil
	}
}

// StableJitter delays each run by a duration in [0, max) fixed by the job's
// name: the same on every replica and every tick (like Jenkins' "H").
func StableJitter(max time.Duration) Option {
	return func(c *jobConfig) error {
		if max <= 0 {
			return fmt.Errorf("%w: StableJitter(%v): max must be positive", ErrInvalid, max)
		}
		c.jitter = stableJitter(max)
		return nil
	}
}

// Use adds middleware around the job's executed runs, outermost first. It
// runs inside logging and hooks and outside retry and timeout.
func Use(mws ...Middleware) Option {
	return func(c *jobConfig) error {
		for i, m := range mws {
			if m == nil {
				return fmt.Errorf("%w: Use: middleware %d is nil", ErrInvalid, i)
			}
		}
		c.mws = append(c.mws, mws...)
		return nil
	}
}

// OncePerTick claims every scheduled tick through the scheduler's
// Config.Coordinator so that one replica runs it. RunNow is not
// claimed.
func OncePerTick() Option {
	return func(c *jobConfig) error { c.once = true; return nil }
}

// NoClusterOverlap implies OncePerTick and also forbids a tick from
// starting on any replica while the previous run is still running on
// another (SkipClusterBusy), with a running lease the coordinator renews.
func NoClusterOverlap() Option {
	return func(c *jobConfig) error { c.once, c.noOverlap = true, true; return nil }
}

// StartPaused adds the job paused; Resume starts its ticks.
func StartPaused() Option {
	return func(c *jobConfig) error { c.startPause = true; return nil }
}

// Tags labels the job; RemoveTag, PauseTag and ResumeTag act on every job
// with a tag, and Entry.Tags lists them. Tags follow the rules of job
// names (non-empty, no whitespace).
func Tags(tags ...string) Option {
	return func(c *jobConfig) error {
		for _, t := range tags {
			if err := validName("tag", t); err != nil {
				return err
			}
			if !slices.Contains(c.tags, t) {
				c.tags = append(c.tags, t)
			}
		}
		return nil
	}
}

// StartAt makes the job's first activation the first one at or after t:
// earlier activations of its schedule are not ticks.
func StartAt(t time.Time) Option {
	return func(c *jobConfig) error {
		if t.IsZero() {
			return fmt.Errorf("%w: StartAt(zero time); omit the option to start at once", ErrInvalid)
		}
		c.start = t
		return nil
	}
}

// StopAt ends the job's schedule: activations after t are not ticks. The
// job stays registered (Entry.Next is zero) until removed.
func StopAt(t time.Time) Option {
	return func(c *jobConfig) error {
		if t.IsZero() {
			return fmt.Errorf("%w: StopAt(zero time); omit the option to run forever", ErrInvalid)
		}
		c.end = t
		return nil
	}
}

// CatchUpPolicy configures the CatchUp option.
type CatchUpPolicy struct {
	// MaxAge is how far back missed ticks are run; older ones are
	// dropped. It must be positive.
	MaxAge time.Duration
	// Each runs every missed tick, oldest first; false runs only the
	// latest one.
	Each bool
	// Max bounds the ticks run with Each. Zero means 100.
	Max int
}

// CatchUp runs, when the scheduler starts (or the job is added to a
// started scheduler), the ticks of the job that no replica claimed while
// all were down: activations after the last tick the Coordinator recorded
// and at most p.MaxAge old. Each is claimed like any tick, so it runs once
// across replicas; its RunInfo has Trigger TriggerSchedule and the missed
// Tick. A job that was never claimed catches nothing up. CatchUp needs
// OncePerTick (or NoClusterOverlap) and a Coordinator that implements
// LastTicker (cronx/redislock does); otherwise Add fails with ErrInvalid.
func CatchUp(p CatchUpPolicy) Option {
	return func(c *jobConfig) error {
		if p.MaxAge <= 0 || p.Max < 0 {
			return fmt.Errorf("%w: CatchUp: MaxAge %v must be positive and Max %d not negative", ErrInvalid, p.MaxAge, p.Max)
		}
		if p.Max == 0 {
			p.Max = 100
		}
		c.catchUp = &p
		return nil
	}
}
