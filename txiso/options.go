package txiso

import (
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Level is a PostgreSQL transaction isolation level. Its values are the
// matching database/sql levels, so Level(sql.LevelSerializable) == Serializable.
// A Level is also an Option: txiso.Run(ctx, db, fn, txiso.Serializable).
type Level int

// The isolation levels PostgreSQL implements. ServerDefault, the zero
// Level, is what Run uses when no level is given.
const (
	// ServerDefault begins the transaction without naming a level, so it
	// runs at the session's default_transaction_isolation (PostgreSQL's
	// own default is read committed; a database or role configured with
	// "ALTER DATABASE ... SET default_transaction_isolation = 'serializable'"
	// gets serializable). Run without a level therefore never runs weaker
	// than what the server was configured to give. It costs nothing: the
	// level is not read back (Tx.Level reports ServerDefault), except once
	// when a nested Run asks for a level and must compare.
	ServerDefault Level = Level(sql.LevelDefault)
	// ReadUncommitted is accepted because PostgreSQL accepts it, but
	// PostgreSQL treats it as ReadCommitted: no dirty read is possible at any
	// level (the server still reports "read uncommitted"; see the G1a/G1b rows
	// of Matrix). Prefer ReadCommitted, which says what you get.
	ReadUncommitted Level = Level(sql.LevelReadUncommitted)
	// ReadCommitted: each statement sees the data committed before it began.
	// Permits lost updates, read skew, phantoms and write skew.
	ReadCommitted Level = Level(sql.LevelReadCommitted)
	// RepeatableRead is snapshot isolation: one snapshot per transaction,
	// first-updater-wins (40001 on a concurrent update). Permits write skew.
	RepeatableRead Level = Level(sql.LevelRepeatableRead)
	// Serializable is serializable snapshot isolation: no anomalies, at the
	// price of 40001 failures (often at COMMIT) that Run retries.
	Serializable Level = Level(sql.LevelSerializable)
)

// String returns the level as PostgreSQL spells it ("repeatable read").
func (l Level) String() string {
	switch l {
	case ServerDefault:
		return "default"
	case ReadUncommitted:
		return "read uncommitted"
	case ReadCommitted:
		return "read committed"
	case RepeatableRead:
		return "repeatable read"
	case Serializable:
		return "serializable"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

func (l Level) valid() bool {
	switch l {
	case ServerDefault, ReadUncommitted, ReadCommitted, RepeatableRead, Serializable:
		return true
	}
	return false
}

func (l Level) apply(c *config) { c.level = l }

// Option configures Run and Value. Options are applied in order; a later
// option overrides an earlier one. Invalid values are reported by Run, before
// any BEGIN, as errors matching ErrInvalid.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Isolation selects the level from a database/sql level; sql.LevelDefault
// is ServerDefault. sql.LevelSnapshot, LevelWriteCommitted and
// LevelLinearizable do not exist in PostgreSQL and make Run fail with
// ErrInvalid (lib/pq rejects them while pgx silently maps LevelSnapshot to
// repeatable read).
func Isolation(l sql.IsolationLevel) Option {
	return optionFunc(func(c *config) { c.level = Level(l) })
}

// ReadOnly begins the transaction READ ONLY: writes fail with 25006, and with
// lib/pq it is what lets a transaction run on a hot standby (lib/pq begins
// every other transaction READ WRITE, which a standby refuses with 0A000).
// A standby refuses Serializable even when read-only (0A000, not retried):
// use RepeatableRead there.
func ReadOnly() Option { return optionFunc(func(c *config) { c.readOnly = true }) }

// Deferrable makes a Serializable ReadOnly transaction DEFERRABLE: its first
// query may wait for a safe snapshot, after which it can never fail with
// 40001. Without Serializable and ReadOnly, Run fails with ErrInvalid
// (PostgreSQL would silently ignore it). database/sql has no field for it, so
// txiso sends SET TRANSACTION DEFERRABLE as the first statement.
func Deferrable() Option { return optionFunc(func(c *config) { c.deferrable = true }) }

// MaxAttempts bounds the total number of attempts (first try included).
// Default 10. n <= 0 makes Run fail with ErrInvalid: there is no
// "retry forever"; use a large n and a context deadline instead.
func MaxAttempts(n int) Option {
	return optionFunc(func(c *config) { c.maxAttempts = n; c.maxAttemptsSet = true })
}

// Backoff sets the delay before attempt+1 after attempt (1-based) failed
// with a retryable error. Default: JitterBackoff(5*time.Millisecond,
// time.Second). The wait ends early when ctx is done. f must be safe for
// concurrent use when Run is called from several goroutines.
func Backoff(f func(attempt int) time.Duration) Option {
	return optionFunc(func(c *config) { c.backoff = f; c.backoffSet = true })
}

// Classify replaces the retry decision. The error passed is the attempt's
// error: the error fn returned, the COMMIT error, or, when fn swallowed a
// failed statement, an error that also wraps that statement's error (so
// SQLState finds its code). Errors matching ErrCommitUnknown are passed too;
// return Retry for them only if the transaction is idempotent. Default:
// DefaultClassify.
func Classify(f func(error) Decision) Option {
	return optionFunc(func(c *config) { c.classify = f; c.classifySet = true })
}

// RetryCodes adds SQLSTATE codes to the default retryable set (40001, 40P01),
// for example "23505" when a unique violation means "a concurrent insert won,
// try again" (PostgreSQL docs §13.5). Ignored when Classify is set.
func RetryCodes(codes ...string) Option {
	return optionFunc(func(c *config) { c.extraCodes = append(c.extraCodes, codes...) })
}

// OnRetry registers a hook called after a failed attempt that will be
// retried, before the backoff sleep (the failed transaction is already rolled
// back). Hooks run on the goroutine calling Run, in registration order.
func OnRetry(f func(RetryInfo)) Option {
	return optionFunc(func(c *config) {
		if f != nil {
			c.onRetry = append(c.onRetry, f)
		}
	})
}

// VerifyLevel makes each attempt check, after BEGIN, with SHOW (which takes
// no snapshot), that the server runs the transaction at the requested level
// and read-only mode; a mismatch fails with ErrLevelMismatch. It costs two
// round trips per attempt: meant for tests and for setups with proxies or
// wrappers that might drop the BEGIN options.
func VerifyLevel() Option { return optionFunc(func(c *config) { c.verify = true }) }

// RetryInfo describes a failed attempt that Run is about to retry.
type RetryInfo struct {
	Attempt  int           // the attempt that failed, 1-based
	SQLState string        // its SQLSTATE ("40001", "40P01"), "" if none
	Err      error         // its error
	Delay    time.Duration // the backoff before the next attempt
}

// Decision is a classifier's verdict on a failed attempt.
type Decision int

const (
	// Fail returns the error to the caller.
	Fail Decision = iota
	// Retry rolls back and runs the whole transaction again from BEGIN.
	Retry
)

// JitterBackoff returns "full jitter" exponential backoff: before attempt
// n+1 it waits a uniformly random duration in [0, min(max, base·2^(n-1))).
// Randomness spreads competing retries apart, which is what lets contended
// serializable transactions make progress. It is safe for concurrent use.
func JitterBackoff(base, max time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		if base <= 0 || max <= 0 {
			return 0
		}
		d := base
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		if d > max {
			d = max
		}
		return rand.N(d)
	}
}

const (
	defaultMaxAttempts = 10
	defaultBase        = 5 * time.Millisecond
	defaultCap         = time.Second
)

type config struct {
	level          Level
	readOnly       bool
	deferrable     bool
	maxAttempts    int
	maxAttemptsSet bool
	backoff        func(int) time.Duration
	backoffSet     bool
	classify       func(error) Decision
	classifySet    bool
	extraCodes     []string
	onRetry        []func(RetryInfo)
	verify         bool
}

func newConfig(opts []Option) (*config, error) {
	c := &config{level: ServerDefault, maxAttempts: defaultMaxAttempts}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalid)
		}
		o.apply(c)
	}
	if !c.level.valid() {
		return nil, fmt.Errorf("%w: isolation level %d is not one PostgreSQL has "+
			"(use ReadCommitted, RepeatableRead or Serializable; sql.LevelSnapshot, "+
			"LevelWriteCommitted and LevelLinearizable do not exist there)", ErrInvalid, int(c.level))
	}
	if c.deferrable && (c.level != Serializable || !c.readOnly) {
		return nil, fmt.Errorf("%w: Deferrable needs Serializable and ReadOnly (got %s, read-only %t); "+
			"PostgreSQL would silently ignore it", ErrInvalid, c.level, c.readOnly)
	}
	if c.maxAttemptsSet && c.maxAttempts <= 0 {
		return nil, fmt.Errorf("%w: MaxAttempts(%d): want at least 1 (1 means no retry)", ErrInvalid, c.maxAttempts)
	}
	if c.backoffSet && c.backoff == nil {
		return nil, fmt.Errorf("%w: Backoff(nil): pass a function, or omit the option for the default", ErrInvalid)
	}
	if c.classifySet && c.classify == nil {
		return nil, fmt.Errorf("%w: Classify(nil): pass a function, or omit the option for the default", ErrInvalid)
	}
	if c.backoff == nil {
		c.backoff = JitterBackoff(defaultBase, defaultCap)
	}
	if c.classify == nil {
		if len(c.extraCodes) == 0 {
			c.classify = DefaultClassify
		} else {
			extra := append([]string(nil), c.extraCodes...)
			c.classify = func(err error) Decision {
				if d := DefaultClassify(err); d == Retry {
					return d
				}
				if errors.Is(err, ErrCommitUnknown) {
					return Fail
				}
				s := SQLState(err)
				for _, code := range extra {
					if s == code {
						return Retry
					}
				}
				return Fail
			}
		}
	}
	return c, nil
}

func (c *config) txOptions() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.IsolationLevel(c.level), ReadOnly: c.readOnly}
}
