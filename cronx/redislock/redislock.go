package redislock

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/redis/go-redis/v9"
)

// Config configures a Coordinator (New). Zero fields mean the documented
// defaults; negative durations make New fail with cronx.ErrInvalid.
type Config struct {
	// Prefix starts every key. Default "cronx:". It must not contain '{'
	// or '}': the job name is the key's cluster hash tag.
	Prefix string
	// SkewBudget is the largest spread expected between the first and the
	// last replica trying the same tick: clock skew plus firing lateness
	// (GC, CPU starvation, a paused VM) plus a Redis round trip.
	// Default 1 minute.
	SkewBudget time.Duration
	// ClaimTTL is how long a tick's claim key lives. It is unrelated to how
	// long jobs run: it only has to outlive SkewBudget, or a late replica
	// finds the claim expired and runs the tick again. Default 10 minutes;
	// it must be at least 2 × SkewBudget.
	ClaimTTL time.Duration
	// LeaseTTL is the life of the running lease taken for jobs with
	// cronx.NoClusterOverlap. It is renewed every RenewEvery while the run
	// lives, so it bounds the takeover delay after a replica crashes, not
	// the job's duration. Default 30s.
	LeaseTTL time.Duration
	// RenewEvery is the renewal period of the running lease. Default
	// LeaseTTL/3; it must be below LeaseTTL.
	RenewEvery time.Duration
	// ClaimTimeout bounds one claim round trip. Default 3s.
	ClaimTimeout time.Duration
	// FailOpen runs ticks without a claim (fence 0) when Redis cannot be
	// reached, accepting duplicates. The default, fail-closed, skips them
	// (cronx reports SkipCoordinatorError).
	FailOpen bool
	// Logger receives fail-open and lease-loss warnings. Nil means
	// slog.Default(); slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
}

// Coordinator claims cron ticks in Redis. It implements cronx.Coordinator
// and is safe for concurrent use by any number of schedulers.
type Coordinator struct {
	rdb redis.UniversalClient
	o   Config
}

var (
	// claimScript: KEYS tick, fence, lease, last; ARGV replica, claimTTLms,
	// leaseTTLms ("0": no running lease), tick (unix ns), claimTTLms for
	// :last. One round trip, one slot.
	claimScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(cur, 1, 5) == 'busy:' then return {0, 'busy', string.sub(cur, 6)} end
  return {0, 'claimed', cur}
end
if ARGV[3] ~= '0' then
  local holder = redis.call('GET', KEYS[3])
  if holder then
    redis.call('SET', KEYS[1], 'busy:' .. holder, 'PX', ARGV[2])
    return {0, 'busy', holder}
  end
end
local f = redis.call('INCR', KEYS[2])
local v = ARGV[1] .. '|' .. f
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
if ARGV[3] ~= '0' then redis.call('SET', KEYS[3], v, 'PX', ARGV[3]) end
redis.call('HSET', KEYS[4], 'tick', ARGV[4], 'replica', ARGV[1], 'fence', f)
return {f, 'ok', v}
`)
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
)

// New returns a Coordinator on rdb, which may be a *redis.Client, a
// *redis.ClusterClient or a failover client. The caller owns rdb and
// closes it after the schedulers using the Coordinator are shut down.
func New(rdb redis.UniversalClient, o Config) (*Coordinator, error) {
	if rdb == nil {
		return nil, fmt.Errorf("%w: redislock.New: nil Redis client", cronx.ErrInvalid)
	}
	if o.Prefix == "" {
		o.Prefix = "cronx:"
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("%w: redislock: Prefix %q contains a brace; the job name is the cluster hash tag, so use a prefix without '{' or '}'", cronx.ErrInvalid, o.Prefix)
	}
	for name, d := range map[string]time.Duration{"SkewBudget": o.SkewBudget, "ClaimTTL": o.ClaimTTL, "LeaseTTL": o.LeaseTTL, "RenewEvery": o.RenewEvery, "ClaimTimeout": o.ClaimTimeout} {
		if d < 0 {
			return nil, fmt.Errorf("%w: redislock: %s is negative (%v); use 0 for the default", cronx.ErrInvalid, name, d)
		}
	}
	if o.SkewBudget == 0 {
		o.SkewBudget = time.Minute
	}
	if o.ClaimTTL == 0 {
		o.ClaimTTL = 10 * time.Minute
	}
	if o.ClaimTTL < 2*o.SkewBudget {
		return nil, fmt.Errorf("%w: redislock: ClaimTTL %v is shorter than 2 × SkewBudget (%v): a replica late by more than the TTL would find the claim gone and run the tick again; raise ClaimTTL to at least %v", cronx.ErrInvalid, o.ClaimTTL, o.SkewBudget, 2*o.SkewBudget)
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.RenewEvery == 0 {
		o.RenewEvery = o.LeaseTTL / 3
	}
	if o.RenewEvery >= o.LeaseTTL {
		return nil, fmt.Errorf("%w: redislock: RenewEvery %v must be below LeaseTTL %v (LeaseTTL/3 is a good value)", cronx.ErrInvalid, o.RenewEvery, o.LeaseTTL)
	}
	if o.ClaimTimeout == 0 {
		o.ClaimTimeout = 3 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Coordinator{rdb: rdb, o: o}, nil
}

// Keys returns the keys used for job: the claim key of tick, the fencing
// counter and the running lease. They share the hash tag {job}.
func (c *Coordinator) Keys(job string, tick time.Time) (tickKey, fenceKey, leaseKey string) {
	base := c.o.Prefix + "{" + job + "}:"
	return base + "tick:" + strconv.FormatInt(tick.Unix(), 10), base + "fence", base + "lease"
}

// Claim claims (job, tick) for replica in one round trip. It returns an
// error wrapping cronx.ErrClaimedElsewhere when the tick is claimed, and
// cronx.ErrClusterBusy (with o.NoClusterOverlap) when a previous run still
// holds the running lease; that tick is then consumed for every replica.
// The claim key is never deleted: it expires after ClaimTTL. On a Redis
// error it returns the error (fail-closed) or, with FailOpen, a lease with
// fence 0.
func (c *Coordinator) Claim(ctx context.Context, job string, tick time.Time, replica string, o cronx.ClaimOptions) (cronx.Lease, error) {
	if job == "" || replica == "" || tick.IsZero() {
		return nil, fmt.Errorf("%w: redislock.Claim: job %q, replica %q and tick %v must all be set", cronx.ErrInvalid, job, replica, tick)
	}
	tickKey, fenceKey, leaseKey := c.Keys(job, tick)
	lastKey := c.o.Prefix + "{" + job + "}:last"
	leaseMS := "0"
	if o.NoClusterOverlap {
		leaseMS = strconv.FormatInt(c.o.LeaseTTL.Milliseconds(), 10)
	}
	cctx, cancel := context.WithTimeout(ctx, c.o.ClaimTimeout)
	defer cancel()
	res, err := claimScript.Run(cctx, c.rdb, []string{tickKey, fenceKey, leaseKey, lastKey}, replica, c.o.ClaimTTL.Milliseconds(), leaseMS, tick.UnixNano()).Slice()
	if err != nil {
		err = fmt.Errorf("redislock: claim %s: %w", tickKey, err)
		if c.o.FailOpen {
			c.o.Logger.Warn("redislock: Redis unavailable, running the tick without a claim (FailOpen)", "job", job, "tick", tick, "err", err)
			return &lease{}, nil
		}
		return nil, err
	}
	if len(res) != 3 {
		return nil, fmt.Errorf("redislock: claim %s: unexpected reply %v", tickKey, res)
	}
	fence, _ := res[0].(int64)
	status, _ := res[1].(string)
	holder, _ := res[2].(string)
	switch status {
	case "ok":
	case "claimed":
		return nil, fmt.Errorf("%w: %s held by %s", cronx.ErrClaimedElsewhere, tickKey, holder)
	case "busy":
		return nil, fmt.Errorf("%w: %s still runs a previous tick (lease %s)", cronx.ErrClusterBusy, job, holder)
	default:
		return nil, fmt.Errorf("redislock: claim %s: unexpected status %q", tickKey, status)
	}
	l := &lease{fence: uint64(fence)}
	if o.NoClusterOverlap {
		l.c, l.key, l.val = c, leaseKey, holder
		l.lost = make(chan struct{})
		l.stop = make(chan struct{})
		l.done = make(chan struct{})
		go l.renew() // ends at Release or when the lease is lost
	}
	return l, nil
}

// LastClaim is the most recent won claim of a job, cluster-wide.
type LastClaim struct {
	Tick    time.Time
	Replica string
	Fence   uint64
}

// Last returns the most recent claim of job by any replica, written by the
// claim itself (no extra round trip per tick). It says which replica took
// the tick, not how the run ended. A job never claimed is cronx.ErrNotFound.
func (c *Coordinator) Last(ctx context.Context, job string) (LastClaim, error) {
	if job == "" {
		return LastClaim{}, fmt.Errorf("%w: redislock.Last: empty job name", cronx.ErrInvalid)
	}
	key := c.o.Prefix + "{" + job + "}:last"
	m, err := c.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return LastClaim{}, fmt.Errorf("redislock: read %s: %w", key, err)
	}
	if len(m) == 0 {
		return LastClaim{}, fmt.Errorf("%w: no claim recorded for job %q", cronx.ErrNotFound, job)
	}
	ns, err1 := strconv.ParseInt(m["tick"], 10, 64)
	fence, err2 := strconv.ParseUint(m["fence"], 10, 64)
	if err1 != nil || err2 != nil {
		return LastClaim{}, fmt.Errorf("redislock: %s holds an unexpected value %v", key, m)
	}
	return LastClaim{Tick: time.Unix(0, ns), Replica: m["replica"], Fence: fence}, nil
}

// lease is a won claim; with a running lease it renews it.
type lease struct {
	fence uint64
	c     *Coordinator
	key   string
	val   string
	lost  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// Fence returns the fencing token (0 for a fail-open lease).
func (l *lease) Fence() uint64 { return l.fence }

// Lost is closed when the running lease is lost; nil without one.
func (l *lease) Lost() <-chan struct{} {
	if l.lost == nil {
		return nil
	}
	return l.lost
}

func (l *lease) renew() {
	defer close(l.done)
	t := time.NewTicker(l.c.o.RenewEvery)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.c.o.RenewEvery)
		n, err := renewScript.Run(ctx, l.c.rdb, []string{l.key}, l.val, l.c.o.LeaseTTL.Milliseconds()).Int64()
		cancel()
		switch {
		case err == nil && n == 1:
			lastOK = time.Now()
			continue
		case err == nil: // the lease expired or was taken over
			l.c.o.Logger.Warn("redislock: running lease lost", "lease", l.key, "holder", l.val)
		case time.Since(lastOK) < l.c.o.LeaseTTL:
			continue // transient: the lease may still be alive
		default:
			l.c.o.Logger.Warn("redislock: running lease not renewed within its TTL", "lease", l.key, "err", err)
		}
		close(l.lost)
		return
	}
}

// Release stops renewing and deletes the running lease if this run still
// holds it. The tick claim stays until it expires.
func (l *lease) Release(ctx context.Context, _ error) error {
	if l.c == nil {
		return nil
	}
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		err = releaseScript.Run(ctx, l.c.rdb, []string{l.key}, l.val).Err()
		if err != nil {
			err = fmt.Errorf("redislock: release %s: %w", l.key, err)
		}
	})
	return err
}

var _ cronx.Coordinator = (*Coordinator)(nil)
