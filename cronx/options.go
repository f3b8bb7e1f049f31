package cronx

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"
)

// Option configures a Scheduler (New). Options are validated by New.
type Option func(*config) error

type config struct {
	loc      *time.Location
	logger   *slog.Logger
	hooks    Hooks
	mws      []Middleware
	replica  string
	coord    Coordinator
	defaults []JobOption
}

// WithLocation sets the zone in which specs without a CRON_TZ= prefix are
// evaluated. The default is UTC (not time.Local: a server's local zone is
// an accident of deployment).
func WithLocation(loc *time.Location) Option {
	return func(c *config) error {
		if loc == nil {
			return fmt.Errorf("%w: WithLocation(nil); pass time.UTC or a zone from time.LoadLocation", ErrInvalidArgument)
		}
		c.loc = loc
		return nil
	}
}

// WithLogger sets the logger for run events (start at Debug, success and
// skips at Info, failures at Error) and for robfig/cron's own messages (at
// Debug). The default discards everything: cronx prints nothing by itself.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: WithLogger(nil); omit the option to discard logs", ErrInvalidArgument)
		}
		c.logger = l
		return nil
	}
}

// WithHooks sets the metrics hooks (see Hooks).
func WithHooks(h Hooks) Option {
	return func(c *config) error { c.hooks = h; return nil }
}

// WithMiddleware adds middleware around every run of every job, outermost
// first. Scheduler-wide middleware wraps the whole run, including the
// pause, overlap and distributed-claim checks: it sees skipped ticks as a
// *SkipError. Per-job middleware (the Use job option) runs only for
// executed runs.
func WithMiddleware(mws ...Middleware) Option {
	return func(c *config) error {
		for i, m := range mws {
			if m == nil {
				return fmt.Errorf("%w: WithMiddleware: middleware %d is nil", ErrInvalidArgument, i)
			}
		}
		c.mws = append(c.mws, mws...)
		return nil
	}
}

// WithReplica sets this scheduler's replica ID, reported in RunInfo and
// stored in distributed claims. The default is "hostname:pid".
func WithReplica(id string) Option {
	return func(c *config) error {
		if err := validName("replica ID", id); err != nil {
			return err
		}
		c.replica = id
		return nil
	}
}

// WithCoordinator sets the Coordinator used by jobs with the OncePerTick
// option (cronx/redislock provides one). The scheduler does not own it.
func WithCoordinator(co Coordinator) Option {
	return func(c *config) error {
		if co == nil {
			return fmt.Errorf("%w: WithCoordinator(nil)", ErrInvalidArgument)
		}
		c.coord = co
		return nil
	}
}

// WithDefaults sets job options applied to every job before its own.
func WithDefaults(opts ...JobOption) Option {
	return func(c *config) error {
		for i, o := range opts {
			if o == nil {
				return fmt.Errorf("%w: WithDefaults: option %d is nil", ErrInvalidArgument, i)
			}
		}
		c.defaults = append(c.defaults, opts...)
		return nil
	}
}

func defaultReplica() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "host"
	}
	return h + ":" + strconv.Itoa(os.Getpid())
}

// JobOption configures one job (Add, Replace). Job options are validated
// when the job is added.
type JobOption func(*jobConfig) error

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
}

// Timeout bounds each attempt of a run: its context ends after d with cause
// ErrTimeout, and the attempt's error wraps ErrTimeout. The run is waited
// for, not abandoned: a Func must watch its context.
func Timeout(d time.Duration) JobOption {
	return func(c *jobConfig) error {
		if d <= 0 {
			return fmt.Errorf("%w: Timeout(%v): the timeout must be positive", ErrInvalidArgument, d)
		}
		c.timeout = d
		return nil
	}
}

// Retry retries failed runs with capped exponential backoff. A retry never
// starts after the job's next tick. Each attempt gets its own Timeout and
// RunInfo.Attempt.
func Retry(p RetryPolicy) JobOption {
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
func AllowOverlap() JobOption {
	return func(c *jobConfig) error { c.allow, c.delayMax = true, 0; return nil }
}

// DelayIfRunning makes a tick that arrives while the previous run is still
// running wait for it, with at most maxQueue ticks waiting; further ticks
// are skipped (SkipOverlap). robfig/cron's DelayIfStillRunning has no bound.
func DelayIfRunning(maxQueue int) JobOption {
	return func(c *jobConfig) error {
		if maxQueue < 1 {
			return fmt.Errorf("%w: DelayIfRunning(%d): the queue bound must be at least 1", ErrInvalidArgument, maxQueue)
		}
		c.allow, c.delayMax = false, maxQueue
		return nil
	}
}

// Jitter delays each run by a random duration in [0, max), after the
// distributed claim, to spread load.
func Jitter(max time.Duration) JobOption {
	return func(c *jobConfig) error {
		if max <= 0 {
			return fmt.Errorf("%w: Jitter(%v): max must be positive", ErrInvalidArgument, max)
		}
		c.jitter = randomJitter(max)
		return nil
	}
}

// StableJitter delays each run by a duration in [0, max) fixed by the job's
// name: the same on every replica and every tick (like Jenkins' "H").
func StableJitter(max time.Duration) JobOption {
	return func(c *jobConfig) error {
		if max <= 0 {
			return fmt.Errorf("%w: StableJitter(%v): max must be positive", ErrInvalidArgument, max)
		}
		c.jitter = stableJitter(max)
		return nil
	}
}

// Use adds middleware around the job's executed runs, outermost first. It
// runs inside logging and hooks and outside retry and timeout.
func Use(mws ...Middleware) JobOption {
	return func(c *jobConfig) error {
		for i, m := range mws {
			if m == nil {
				return fmt.Errorf("%w: Use: middleware %d is nil", ErrInvalidArgument, i)
			}
		}
		c.mws = append(c.mws, mws...)
		return nil
	}
}

// OncePerTick claims every scheduled tick through the scheduler's
// Coordinator (WithCoordinator) so that one replica runs it. RunNow is not
// claimed.
func OncePerTick() JobOption {
	return func(c *jobConfig) error { c.once = true; return nil }
}

// NoClusterOverlap implies OncePerTick and also forbids a tick from
// starting on any replica while the previous run is still running on
// another (SkipClusterBusy), with a running lease the coordinator renews.
func NoClusterOverlap() JobOption {
	return func(c *jobConfig) error { c.once, c.noOverlap = true, true; return nil }
}

// StartPaused adds the job paused; Resume starts its ticks.
func StartPaused() JobOption {
	return func(c *jobConfig) error { c.startPause = true; return nil }
}
