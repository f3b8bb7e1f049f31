package redislock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// History is how many run records are kept per job (see History).
	// Default 100; it must not be negative.
	History int
	// Logger receives fail-open, lease-loss and persistence warnings
	// (appendonly no is reported once, at the first claim). Nil means
	// slog.Default(); slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
}

// ErrDataLoss is wrapped by the error of a claim refused because Redis
// lost the job's state (it restarted without persistence, or the keys were
// deleted) less than SkewBudget before the tick: a replica may already
// have run that tick before the loss, so the claim fails closed and cronx
// reports the tick as SkipCoordinatorError.
var ErrDataLoss = errors.New("redislock: Redis lost the job's claims recently; failing closed")

// Coordinator claims cron ticks in Redis. It implements cronx.Coordinator
// and is safe for concurrent use by any number of schedulers.
type Coordinator struct {
	rdb     redis.UniversalClient
	o       Config
	checked atomic.Bool // the persistence check ran

	// claim arguments that do not change, formatted once
	claimMS, leaseMS, guardMS, historyN string
	keys                                sync.Map // job -> *jobKeys
}

// jobKeys are the keys of one job but its per-tick claim keys.
type jobKeys struct {
	base, state, lease, runs string
}

func (c *Coordinator) jobKeys(job string) *jobKeys {
	if k, ok := c.keys.Load(job); ok {
		return k.(*jobKeys)
	}
	base := c.base(job)
	k, _ := c.keys.LoadOrStore(job, &jobKeys{base: base, state: base + "fence", lease: base + "lease", runs: base + "runs"})
	return k.(*jobKeys)
}

// The claim scripts. KEYS: 1 the tick's claim, 2 the job's state, and
// for claimOverlapScript 3 the running lease, 4 the history. ARGV: 1
// replica, 2 claim TTL ms, 3 tick (unix ns), 4 fence floor (the tick in
// unix µs), 5 next tick (unix ns, "0": none), 6 guard (SkewBudget ms), 7
// check persistence ("1"/"0"), 8 lease TTL ms and 9 history length (used
// by claimOverlapScript), 10 this claim's token (base 36, unique per Claim
// call). One round trip, one slot.
//
// A claim's value is "replica|fence|token". go-redis sends a command again
// when its reply was lost (a reset connection: MaxRetries), so a script may
// run twice: finding its own token, the second run returns the first run's
// claim instead of reporting the tick as claimed by another replica (which
// would have left the tick run by nobody, and with NoClusterOverlap its
// lease unrenewed).
//
// state is "fence|guard|tick|next|replica": the last won claim and the
// guard (unix ms). Its absence means a first claim or, on a server without
// an append-only file, that Redis lost the job's keys: the script then
// creates it with guard = the server's start + SkewBudget (from INFO
// uptime and TIME), and refuses every tick at or before the guard, since
// a replica may have won it before the loss.
const claimPrologue = `
local mine = redis.call('GET', KEYS[1])
if mine then
  local f = string.match(mine, '^.*|(%d+)|' .. ARGV[10] .. '$')
  if f then return {f, 'ok', mine, ''} end -- this claim, run again after its reply was lost
end
local aof = ''
if ARGV[7] == '1' then aof = string.match(redis.call('INFO', 'persistence'), 'aof_enabled:(%d)') or '?' end
local state = redis.call('GET', KEYS[2])
local prev, gs = 0, nil
local ptick, pnext, prep = '0', '0', ''
if state then
  local p, g = string.match(state, '^(%d+)|(%d+)|')
  prev, gs = tonumber(p) or 0, g or '0'
  local pt, pn, pr = string.match(state, '^%d+|%d+|(%d+)|(%d+)|(.*)$')
  if pt then ptick, pnext, prep = pt, pn, pr end
elseif string.match(redis.call('INFO', 'persistence'), 'aof_enabled:(%d)') == '1' then
  gs = '0' -- an append-only file keeps the state across restarts: a missing state is a new job
  redis.call('SET', KEYS[2], '0|0|0|0|')
else
  local up = tonumber(string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)'))
  local t = redis.call('TIME')
  gs = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - up * 1000 + tonumber(ARGV[6]))
  redis.call('SET', KEYS[2], '0|' .. gs .. '|0|0|')
end
local floor = tonumber(ARGV[4])
if floor <= tonumber(gs) * 1000 then return {'0', 'reset', gs, aof} end
local fs = ARGV[4]
if prev >= floor then fs = string.format('%.0f', prev + 1) end
local v = ARGV[1] .. '|' .. fs .. '|' .. ARGV[10]
`

// claimEpilogue records the won claim in the state. The fence always
// grows; tick, next and replica change only for a tick at least as late as
// the recorded one (ticks are unix ns in decimal: a longer string is later),
// so a catch-up or late replica claiming an older tick never moves Last
// (and CatchUp's starting point) back.
const claimEpilogue = `
local later = #ARGV[3] > #ptick or (#ARGV[3] == #ptick and ARGV[3] >= ptick)
if later then
  redis.call('SET', KEYS[2], fs .. '|' .. gs .. '|' .. ARGV[3] .. '|' .. ARGV[5] .. '|' .. ARGV[1])
else
  redis.call('SET', KEYS[2], fs .. '|' .. gs .. '|' .. ptick .. '|' .. pnext .. '|' .. prep)
end
return {fs, 'ok', v, aof}
`

var (
	// claimScript claims a tick without a running lease.
	claimScript = redis.NewScript(claimPrologue + `
if not redis.call('SET', KEYS[1], v, 'NX', 'PX', ARGV[2]) then
  local cur = redis.call('GET', KEYS[1]) or ''
  if string.sub(cur, 1, 5) == 'busy:' then return {'0', 'busy', string.sub(cur, 6), aof} end
  return {'0', 'claimed', cur, aof}
end` + claimEpilogue)
	// claimOverlapScript claims a tick and the running lease
	// (cronx.NoClusterOverlap); a held lease consumes the tick as busy.
	claimOverlapScript = redis.NewScript(claimPrologue + `
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(cur, 1, 5) == 'busy:' then return {'0', 'busy', string.sub(cur, 6), aof} end
  return {'0', 'claimed', cur, aof}
end
local holder = redis.call('GET', KEYS[3])
if holder then
  redis.call('SET', KEYS[1], 'busy:' .. holder, 'PX', ARGV[2])
  redis.call('ZADD', KEYS[4], ARGV[4], '{"tick":' .. ARGV[3] .. ',"replica":' .. cjson.encode(ARGV[1]) ..
    ',"outcome":"skipped","skip":"cluster-busy","error":' .. cjson.encode('previous run still holds the lease: ' .. holder) .. '}')
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[9]) + 1))
  return {'0', 'busy', holder, aof}
end
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
redis.call('SET', KEYS[3], v, 'PX', ARGV[8])` + claimEpilogue)
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)
	// releaseScript: KEYS lease, runs; ARGV lease value ("": no lease),
	// score, record, record if the lease was lost, history length. It
	// returns 1 if the lease was still held (or there was none), else 0.
	// Run again after its reply was lost, it finds the lease gone but its
	// own record in the history, and answers as the first run did.
	releaseScript = redis.NewScript(`
local held = 1
if ARGV[1] ~= '' then
  if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1])
  elseif not redis.call('ZSCORE', KEYS[2], ARGV[3]) then held = 0 end
end
local rec = ARGV[3]
if held == 0 then rec = ARGV[4] end
redis.call('ZADD', KEYS[2], ARGV[2], rec)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1))
return held
`)
)

// New returns a Coordinator on rdb, which may be a *redis.Client, a
// *redis.ClusterClient or a failover client. The caller owns rdb and
// closes it after the schedulers using the Coordinator are shut down. New
// does no I/O: the first claim checks Redis's persistence and logs a
// warning when appendonly is off (see the package doc on restarts).
func New(rdb redis.UniversalClient, o Config) (*Coordinator, error) {
	if rdb == nil {
		return nil, fmt.Errorf("%w: redislock.New: nil Redis client", cronx.ErrInvalid)
	}
	if o.Prefix == "" {
		o.Prefix = "cronx:"
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("%w: redislock: Config.Prefix %q contains a brace; the job name is the cluster hash tag, so use a prefix without '{' or '}'", cronx.ErrInvalid, o.Prefix)
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"SkewBudget", o.SkewBudget}, {"ClaimTTL", o.ClaimTTL}, {"LeaseTTL", o.LeaseTTL}, {"RenewEvery", o.RenewEvery}, {"ClaimTimeout", o.ClaimTimeout}} {
		if f.d < 0 {
			return nil, fmt.Errorf("%w: redislock: Config.%s is negative (%v); use 0 for the default", cronx.ErrInvalid, f.name, f.d)
		}
	}
	if o.History < 0 {
		return nil, fmt.Errorf("%w: redislock: Config.History is %d; use 0 for the default (100) or a positive count", cronx.ErrInvalid, o.History)
	}
	if o.History == 0 {
		o.History = 100
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
	return &Coordinator{rdb: rdb, o: o,
		claimMS:  strconv.FormatInt(o.ClaimTTL.Milliseconds(), 10),
		leaseMS:  strconv.FormatInt(o.LeaseTTL.Milliseconds(), 10),
		guardMS:  strconv.FormatInt(o.SkewBudget.Milliseconds(), 10),
		historyN: strconv.Itoa(o.History),
	}, nil
}

// Keys returns the keys used for job: the claim key of tick, the fencing
// state and the running lease. They share the hash tag {job} with the
// job's history (Prefix{job}:runs).
func (c *Coordinator) Keys(job string, tick time.Time) (tickKey, fenceKey, leaseKey string) {
	base := c.base(job)
	return base + "tick:" + strconv.FormatInt(tick.Unix(), 10), base + "fence", base + "lease"
}

func (c *Coordinator) base(job string) string { return c.o.Prefix + "{" + job + "}:" }

// Claim claims (job, tick) for replica in one round trip. It returns an
// error wrapping cronx.ErrClaimedElsewhere when the tick is claimed, and
// cronx.ErrClusterBusy (with o.NoClusterOverlap) when a previous run still
// holds the running lease; that tick is then consumed for every replica
// (and recorded in the history as skipped). The claim key is never
// deleted: it expires after ClaimTTL. A claim refused after Redis lost its
// data wraps ErrDataLoss. On a Redis error it returns the error
// (fail-closed) or, with FailOpen, a lease with fence 0.
func (c *Coordinator) Claim(ctx context.Context, job string, tick time.Time, replica string, o cronx.ClaimOptions) (cronx.Lease, error) {
	if job == "" || replica == "" || tick.Unix() <= 0 {
		return nil, fmt.Errorf("%w: redislock.Claim: job %q, replica %q and tick %v must all be set, the tick after 1970", cronx.ErrInvalid, job, replica, tick)
	}
	k := c.jobKeys(job)
	tickKey := k.base + "tick:" + strconv.FormatInt(tick.Unix(), 10)
	var next int64
	if !o.Next.IsZero() {
		next = o.Next.UnixNano()
	}
	check := "0"
	if !c.checked.Load() {
		check = "1"
	}
	// cronx gives each claim a deadline of its own (Config.ClaimTimeout,
	// 2s by default): add ours only when it is sooner.
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > c.o.ClaimTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.ClaimTimeout)
		defer cancel()
	}
	var res []any
	var err error
	token := strconv.FormatUint(rand.Uint64(), 36) // alphanumeric: used in a Lua pattern
	sent := time.Now()                             // the lease's TTL runs from no earlier than this
	if o.NoClusterOverlap {
		res, err = claimOverlapScript.Run(ctx, c.rdb, []string{tickKey, k.state, k.lease, k.runs},
			replica, c.claimMS, tick.UnixNano(), tick.UnixMicro(), next, c.guardMS, check, c.leaseMS, c.historyN, token).Slice()
	} else {
		res, err = claimScript.Run(ctx, c.rdb, []string{tickKey, k.state},
			replica, c.claimMS, tick.UnixNano(), tick.UnixMicro(), next, c.guardMS, check, c.leaseMS, c.historyN, token).Slice()
	}
	if err != nil {
		err = fmt.Errorf("redislock: claim %s: %w", tickKey, err)
		if c.o.FailOpen {
			c.o.Logger.Warn("redislock: Redis unavailable, running the tick without a claim (FailOpen)", "job", job, "tick", tick, "err", err)
			return &lease{}, nil
		}
		return nil, err
	}
	if len(res) != 4 {
		return nil, fmt.Errorf("redislock: claim %s: unexpected reply %v", tickKey, res)
	}
	fenceStr, _ := res[0].(string)
	status, _ := res[1].(string)
	holder, _ := res[2].(string)
	if aof, _ := res[3].(string); aof != "" && c.checked.CompareAndSwap(false, true) && aof != "1" {
		c.o.Logger.Warn("redislock: Redis runs with appendonly no: a restart loses every claim, so claims fail closed for SkewBudget after it (ErrDataLoss); enable appendonly with appendfsync always to keep them",
			"skew_budget", c.o.SkewBudget)
	}
	switch status {
	case "ok":
	case "claimed":
		return nil, fmt.Errorf("%w: %s held by %s", cronx.ErrClaimedElsewhere, tickKey, claimant(holder))
	case "busy":
		return nil, fmt.Errorf("%w: %s still runs a previous tick (lease %s)", cronx.ErrClusterBusy, job, claimant(holder))
	case "reset":
		ms, _ := strconv.ParseInt(holder, 10, 64)
		return nil, fmt.Errorf("%w: job %q had no state on a Redis server started less than SkewBudget (%v) before tick %s; claims resume for ticks after %s",
			ErrDataLoss, job, c.o.SkewBudget, tick.Format(time.RFC3339), time.UnixMilli(ms).Format(time.RFC3339))
	default:
		return nil, fmt.Errorf("redislock: claim %s: unexpected status %q", tickKey, status)
	}
	fence, err := strconv.ParseUint(fenceStr, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("redislock: claim %s: bad fence %q", tickKey, fenceStr)
	}
	// key is set without a running lease too: the release script's keys
	// must all be in the job's slot.
	l := &lease{c: c, fence: fence, tick: tick, replica: replica, start: time.Now(), sent: sent, runsKey: k.runs, key: k.lease}
	if o.NoClusterOverlap {
		l.val = holder
		l.lost = make(chan struct{})
		l.stop = make(chan struct{})
		l.done = make(chan struct{})
		go l.renew() // ends at Release or when the lease is lost
	}
	return l, nil
}

// claimant is a claim value without its token: "replica|fence".
func claimant(v string) string {
	if strings.Count(v, "|") < 2 {
		return v // a claim written before tokens
	}
	return v[:strings.LastIndexByte(v, '|')]
}

// LastClaim is the most recent won claim of a job, cluster-wide.
type LastClaim struct {
	Tick    time.Time
	Replica string
	Fence   uint64
	// Next is the job's activation after Tick, as computed by the claiming
	// scheduler (zero if it has none).
	Next time.Time
}

// Last returns the most recent claim of job by any replica, written by the
// claim itself (no extra round trip per tick). It says which replica took
// the tick, not how the run ended (see History). A job never claimed is
// cronx.ErrNotFound.
func (c *Coordinator) Last(ctx context.Context, job string) (LastClaim, error) {
	if job == "" {
		return LastClaim{}, fmt.Errorf("%w: redislock.Last: empty job name", cronx.ErrInvalid)
	}
	_, key, _ := c.Keys(job, time.Time{})
	v, err := c.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return LastClaim{}, fmt.Errorf("%w: no claim recorded for job %q", cronx.ErrNotFound, job)
	}
	if err != nil {
		return LastClaim{}, fmt.Errorf("redislock: read %s: %w", key, err)
	}
	lc, err := parseState(key, v)
	if err == nil && lc.Fence == 0 {
		return LastClaim{}, fmt.Errorf("%w: no claim recorded for job %q", cronx.ErrNotFound, job)
	}
	return lc, err
}

// LastTick returns the tick of the most recent won claim of job (ok false
// if none): it implements cronx.LastTicker, which the cronx.CatchUp option
// uses to find the ticks missed while every replica was down.
func (c *Coordinator) LastTick(ctx context.Context, job string) (time.Time, bool, error) {
	lc, err := c.Last(ctx, job)
	if errors.Is(err, cronx.ErrNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return lc.Tick, true, nil
}

// parseState parses "fence|guard|tick|next|replica"; fence 0 means no
// claim was won since the state was created.
func parseState(key, v string) (LastClaim, error) {
	parts := strings.SplitN(v, "|", 5)
	if len(parts) == 5 {
		fence, err1 := strconv.ParseUint(parts[0], 10, 64)
		tick, err2 := strconv.ParseInt(parts[2], 10, 64)
		next, err3 := strconv.ParseInt(parts[3], 10, 64)
		if err1 == nil && err2 == nil && err3 == nil {
			lc := LastClaim{Replica: parts[4], Fence: fence}
			if fence != 0 {
				lc.Tick = time.Unix(0, tick)
			}
			if next != 0 {
				lc.Next = time.Unix(0, next)
			}
			return lc, nil
		}
	}
	return LastClaim{}, fmt.Errorf("redislock: %s holds an unexpected value %q", key, v)
}

// lease is a won claim; with a running lease it renews it.
type lease struct {
	c       *Coordinator // nil for a fail-open lease
	fence   uint64
	tick    time.Time
	replica string
	start   time.Time // the claim's reply came
	sent    time.Time // the claim was sent: the lease expires no earlier than sent+LeaseTTL
	runsKey string

	key, val string // running lease key and value; val is "" without one
	lost     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
	err      error
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
	lastOK := l.sent // when the last successful renewal (or the claim) was sent
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.c.o.RenewEvery)
		sent := time.Now()
		n, err := renewScript.Run(ctx, l.c.rdb, []string{l.key}, l.val, l.c.o.LeaseTTL.Milliseconds()).Int64()
		cancel()
		switch {
		case err == nil && n == 1:
			lastOK = sent
			continue
		case err == nil: // the lease expired or was taken over
			l.c.o.Logger.Warn("redislock: running lease lost", "lease", l.key, "holder", l.val)
		case !mayExpireBeforeNextRenewal(time.Since(lastOK), l.c.o.RenewEvery, l.c.o.LeaseTTL):
			continue // transient: the lease outlives the next attempt
		default:
			l.c.o.Logger.Warn("redislock: running lease not renewed within its TTL", "lease", l.key, "err", err)
		}
		close(l.lost)
		return
	}
}

// mayExpireBeforeNextRenewal reports whether a lease last renewed (sent)
// sinceOK ago may expire before the next attempt, renewEvery from now: then
// the run must stop now, before another replica can take the lease.
func mayExpireBeforeNextRenewal(sinceOK, renewEvery, ttl time.Duration) bool {
	return sinceOK+renewEvery >= ttl
}

// Release stops renewing, deletes the running lease if this run still
// holds it, and records the run in the job's history, in one round trip.
// Without a running lease, a failure to reach Redis loses only the history
// record: it is logged, and Release returns nil.
// The tick claim stays until it expires. When the running lease was no
// longer this run's (it expired, for example while the process was
// frozen, and another replica may have run a later tick), Release returns
// an error wrapping cronx.ErrLeaseLost and records the run as lease-lost.
func (l *lease) Release(ctx context.Context, runErr error) error {
	if l.c == nil {
		return nil
	}
	l.once.Do(func() { l.err = l.release(ctx, runErr) })
	return l.err
}

func (l *lease) release(ctx context.Context, runErr error) error {
	lostEarly := false
	if l.stop != nil {
		close(l.stop)
		<-l.done
		select {
		case <-l.lost:
			lostEarly = true
		default:
		}
	}
	took := time.Since(l.start)
	rec := newRun(l, took, runErr)
	lostRec := rec
	lostRec.Outcome, lostRec.Error = OutcomeLeaseLost, "cronx: distributed lease lost"
	if runErr != nil {
		lostRec.Error += ": " + runErr.Error()
	}
	if lostEarly {
		rec = lostRec
	}
	held, err := releaseScript.Run(ctx, l.c.rdb, []string{l.key, l.runsKey}, l.val, l.tick.UnixMicro(), rec.encode(), lostRec.encode(), l.c.o.History).Int64()
	if err != nil {
		if l.val == "" && !lostEarly { // no running lease: only the history record is lost
			l.c.o.Logger.Warn("redislock: run not recorded in the history", "key", l.runsKey, "tick", l.tick, "err", err)
			return nil
		}
		return fmt.Errorf("redislock: release %s: %w", l.key, err)
	}
	if held == 0 || lostEarly {
		return fmt.Errorf("%w: the running lease %s was no longer held by %s at the end of the run (another replica may have run a later tick)", cronx.ErrLeaseLost, l.key, l.val)
	}
	return nil
}

var (
	_ cronx.Coordinator = (*Coordinator)(nil)
	_ cronx.LastTicker  = (*Coordinator)(nil)
)
