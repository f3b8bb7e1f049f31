package redislock_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/redislock"
	"github.com/goplumb/plumb/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) != "" { // a replica process started by startReplica
		os.Exit(replicaMain())
	}
	testenv.Main(m)
}

// tally records runs outside the system under test (never through Redis).
type tally struct {
	mu   sync.Mutex
	runs map[string]map[int64][]run // job -> tick unix -> runs
}

type run struct {
	replica string
	fence   uint64
	tick    time.Time
}

func newTally() *tally { return &tally{runs: map[string]map[int64][]run{}} }

func (ta *tally) add(ri cronx.RunInfo) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	m := ta.runs[ri.Job]
	if m == nil {
		m = map[int64][]run{}
		ta.runs[ri.Job] = m
	}
	m[ri.Tick.Unix()] = append(m[ri.Tick.Unix()], run{ri.Replica, ri.Fence, ri.Tick})
}

// job returns ticks (sorted) and their runs for one job.
func (ta *tally) job(name string) ([]int64, map[int64][]run) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	m := map[int64][]run{}
	var ticks []int64
	for k, v := range ta.runs[name] {
		m[k] = slices.Clone(v)
		ticks = append(ticks, k)
	}
	slices.Sort(ticks)
	return ticks, m
}

func (ta *tally) fn(d time.Duration) cronx.Func {
	return func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		ta.add(ri)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// skew delays a replica's whole run, claim included: the replica behaves as
// if its clock were d behind.
func skew(d time.Duration) cronx.Middleware {
	return func(next cronx.Func) cronx.Func {
		return func(ctx context.Context) error {
			time.Sleep(d)
			return next(ctx)
		}
	}
}

// naiveLock is the control: a lock on the job name, deleted when the run
// ends (gocron's Locker, redsync-style mutexes). A replica whose clock is
// behind by more than the run takes the lock again and runs the tick
// twice; late (non-nil) makes this replica wait for the tick's first run
// to end before it tries, so the control's duplicates are certain rather
// than a matter of timing.
func naiveLock(rdb redis.UniversalClient, key string, late func(tick time.Time) <-chan struct{}) cronx.Middleware {
	return func(next cronx.Func) cronx.Func {
		return func(ctx context.Context) error {
			ri, _ := cronx.InfoFrom(ctx)
			if late != nil {
				select {
				case <-late(ri.Tick):
				case <-time.After(30 * time.Second):
					return &cronx.SkipError{Reason: cronx.SkipClaimedElsewhere, Err: errors.New("control: no first run")}
				}
			}
			ok, err := rdb.SetNX(ctx, key, ri.Replica, 10*time.Second).Result()
			if err != nil {
				return err
			}
			if !ok {
				return &cronx.SkipError{Reason: cronx.SkipClaimedElsewhere}
			}
			defer rdb.Del(context.WithoutCancel(ctx), key)
			return next(ctx)
		}
	}
}

// firstRuns closes a channel per tick when the tick's first run ends.
type firstRuns struct {
	mu sync.Mutex
	m  map[int64]chan struct{}
}

func (f *firstRuns) ch(tick time.Time) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[int64]chan struct{}{}
	}
	c, ok := f.m[tick.Unix()]
	if !ok {
		c = make(chan struct{})
		f.m[tick.Unix()] = c
	}
	return c
}

func (f *firstRuns) done(tick time.Time) {
	c := f.ch(tick)
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

func shutdownAll(t *testing.T, ss ...*cronx.Scheduler) {
	t.Helper()
	for _, s := range ss {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		err := s.Shutdown(ctx)
		cancel()
		if err != nil && !errors.Is(err, cronx.ErrClosed) {
			t.Errorf("shutdown: %v", err)
		}
	}
}

var quietLogger = slog.New(slog.DiscardHandler)

// fiveReplicas runs 5 schedulers, each with its own client and a skew of
// i×20 ms, with a 5 ms job claimed per tick and the same job under the
// naive lock. Replica r0 (the earliest, which wins most ticks) is shut
// down once ten ticks ran, and the test ends when ten more ran after that.
// It waits for progress, never for a duration, and asserts only what the
// claims guarantee: at most one run per tick, distinct fences, none for r0
// after its shutdown.
func fiveReplicas(t *testing.T, clients []redis.UniversalClient, prefix string) {
	if testing.Short() {
		t.Skip("-short: 20+ ticks on 5 replicas")
	}
	const replicas = 5
	ta := newTally()
	var coord0 *redislock.Coordinator
	var ss []*cronx.Scheduler
	var first firstRuns
	for i := range replicas {
		coord, err := redislock.New(clients[i], redislock.Config{Prefix: prefix, SkewBudget: 5 * time.Second, ClaimTTL: time.Minute, Logger: quietLogger})
		require.NoError(t, err)
		if i == 0 {
			coord0 = coord
		}
		s, err := cronx.New(cronx.Config{Replica: fmt.Sprintf("r%d", i), Coordinator: coord, Location: time.UTC, Logger: quietLogger,
			Middleware: []cronx.Middleware{skew(time.Duration(i) * 20 * time.Millisecond)}})
		require.NoError(t, err)
		require.NoError(t, s.Add("once", "* * * * * *", ta.fn(5*time.Millisecond), cronx.OncePerTick()))
		var late func(time.Time) <-chan struct{}
		if i == replicas-1 {
			late = func(tk time.Time) <-chan struct{} { return first.ch(tk) }
		}
		naive := ta.fn(5 * time.Millisecond)
		require.NoError(t, s.Add("naive", "* * * * * *", func(ctx context.Context) error {
			err := naive(ctx)
			ri, _ := cronx.InfoFrom(ctx)
			first.done(ri.Tick)
			return err
		}, cronx.Use(naiveLock(clients[i], prefix+"naive-lock", late))))
		ss = append(ss, s)
	}
	defer shutdownAll(t, ss...)
	for _, s := range ss {
		require.NoError(t, s.Start())
	}
	ranAfter := func(after time.Time) int {
		ticks, _ := ta.job("once")
		n := 0
		for _, tk := range ticks {
			if time.Unix(tk, 0).After(after) {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return ranAfter(time.Time{}) >= 10 }, 2*time.Minute, 20*time.Millisecond, "ten ticks ran")
	shutdownAll(t, ss[0])
	stoppedAt := time.Now()
	require.Eventually(t, func() bool { return ranAfter(stoppedAt) >= 10 }, 2*time.Minute, 20*time.Millisecond, "ten ticks ran after r0 stopped")
	shutdownAll(t, ss[1:]...)

	ticks, runs := ta.job("once")
	winners := map[string]int{}
	fences := map[uint64]int64{}
	for _, tk := range ticks {
		rs := runs[tk]
		assert.Len(t, rs, 1, "tick %d ran %d times: %v", tk, len(rs), rs)
		for _, r := range rs {
			winners[r.replica]++
			if other, dup := fences[r.fence]; dup {
				t.Errorf("fence %d given to ticks %d and %d", r.fence, other, tk)
			}
			fences[r.fence] = tk
			if time.Unix(tk, 0).After(stoppedAt) {
				assert.NotEqual(t, "r0", r.replica, "r0 was shut down before tick %d", tk)
			}
		}
	}
	assert.Greater(t, len(winners), 1, "after r0 stopped another replica took the ticks: %v", winners)
	t.Logf("claim per tick: %d ticks, winners %v", len(ticks), winners)

	// The cluster-wide view names the last winner.
	last, err := coord0.Last(context.Background(), "once")
	require.NoError(t, err)
	lastTick := ticks[len(ticks)-1]
	assert.Equal(t, lastTick, last.Tick.Unix())
	assert.Equal(t, runs[lastTick][0].replica, last.Replica)
	assert.Equal(t, runs[lastTick][0].fence, last.Fence)
	assert.Equal(t, lastTick+1, last.Next.Unix(), "the claim records the next tick")
	_, err = coord0.Last(context.Background(), "never")
	assert.ErrorIs(t, err, cronx.ErrNotFound)
	hist, err := coord0.History(context.Background(), "once", 5)
	require.NoError(t, err)
	require.Len(t, hist, 5)
	assert.Equal(t, lastTick, hist[0].Tick.Unix(), "newest first")
	for _, r := range hist {
		assert.Equal(t, redislock.OutcomeOK, r.Outcome)
		assert.Equal(t, runs[r.Tick.Unix()][0].fence, r.Fence)
	}

	// The claim of a finished run is still there: it is never deleted.
	tickKey, _, _ := coord0.Keys("once", time.Unix(lastTick, 0))
	ttl, err := clients[1].PTTL(context.Background(), tickKey).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 30*time.Second, "claim key %s kept for ClaimTTL", tickKey)

	// Control: the naive lock must show duplicates, or this harness cannot
	// see the bug it is meant to catch.
	nTicks, nRuns := ta.job("naive")
	dups := 0
	for _, tk := range nTicks {
		if len(nRuns[tk]) > 1 {
			dups++
		}
	}
	t.Logf("control (lock by name, deleted at end): %d of %d ticks ran more than once", dups, len(nTicks))
	require.Positive(t, dups, "the lock-by-name control showed no duplicates: the test cannot detect the bug")
}

func TestOncePerTickFiveReplicas(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	var clients []redis.UniversalClient
	for range 5 {
		clients = append(clients, env.NewClient(t))
	}
	fiveReplicas(t, clients, env.Prefix)
}

func TestOncePerTickFiveReplicasCluster(t *testing.T) {
	t.Parallel()
	env := testenv.RedisCluster(t)
	var clients []redis.UniversalClient
	for range 5 {
		clients = append(clients, env.NewClient(t))
	}
	fiveReplicas(t, clients, env.Prefix)
}

// attempts wraps a Coordinator and records when each claim was tried and
// whether it was won.
type attempts struct {
	cronx.Coordinator
	mu  sync.Mutex
	log []attempt
}

type attempt struct {
	from, to time.Time
	won      bool
	fence    uint64
}

func (a *attempts) Claim(ctx context.Context, job string, tick time.Time, replica string, o cronx.ClaimOptions) (cronx.Lease, error) {
	from := time.Now()
	l, err := a.Coordinator.Claim(ctx, job, tick, replica, o)
	a.mu.Lock()
	at := attempt{from: from, to: time.Now(), won: err == nil}
	if l != nil {
		at.fence = l.Fence()
	}
	a.log = append(a.log, at)
	a.mu.Unlock()
	return l, err
}

// TestRedisDown: with Redis stopped no claim is won (fail-closed), every
// tick of the outage is a coordinator error (with the default go-redis
// client, whose retries take longer than a tick: never an overlap), runs
// resume after the restart, and fences keep increasing across it (AOF with
// appendfsync always keeps the counter).
func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv := testenv.NewRedisServer(t, "--appendonly", "yes", "--appendfsync", "always")
	ta := newTally()
	var mu sync.Mutex
	skips := map[cronx.SkipReason]int{}
	hooks := cronx.Hooks{OnSkip: func(_ context.Context, _ cronx.RunInfo, why cronx.SkipReason, _ error) {
		mu.Lock()
		skips[why]++
		mu.Unlock()
	}}
	skipped := func(why cronx.SkipReason) int { mu.Lock(); defer mu.Unlock(); return skips[why] }
	var ss []*cronx.Scheduler
	var coords []*attempts
	for i := range 3 {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr()}) // default retries and timeouts
		t.Cleanup(func() { c.Close() })
		coord, err := redislock.New(c, redislock.Config{SkewBudget: time.Second, Logger: quietLogger})
		require.NoError(t, err)
		a := &attempts{Coordinator: coord}
		coords = append(coords, a)
		s, err := cronx.New(cronx.Config{Replica: fmt.Sprintf("r%d", i), Coordinator: a, Hooks: hooks, Location: time.UTC, Logger: quietLogger,
			Middleware: []cronx.Middleware{skew(time.Duration(i) * 30 * time.Millisecond)}})
		require.NoError(t, err)
		require.NoError(t, s.Add("job", "* * * * * *", ta.fn(5*time.Millisecond), cronx.OncePerTick()))
		ss = append(ss, s)
	}
	defer shutdownAll(t, ss...)
	for _, s := range ss {
		require.NoError(t, s.Start())
	}
	count := func() int { tk, _ := ta.job("job"); return len(tk) }
	require.Eventually(t, func() bool { return count() >= 2 }, time.Minute, 20*time.Millisecond)

	stopping := time.Now()
	require.NoError(t, srv.Stop())
	stopped := time.Now()
	before := skipped(cronx.SkipCoordinatorError)
	require.Eventually(t, func() bool { return skipped(cronx.SkipCoordinatorError) >= before+6 }, time.Minute, 20*time.Millisecond,
		"fail-closed skips are reported while Redis is down")
	overlapsInOutage := skipped(cronx.SkipOverlap)

	// Fail-open is opt-in: the same outage gives a lease with fence 0.
	c := srv.Client(t)
	open, err := redislock.New(c, redislock.Config{FailOpen: true, ClaimTimeout: 500 * time.Millisecond, Logger: quietLogger})
	require.NoError(t, err)
	l, err := open.Claim(context.Background(), "job", time.Now().Truncate(time.Second), "probe", cronx.ClaimOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(0), l.Fence())
	closed, err := redislock.New(c, redislock.Config{ClaimTimeout: 500 * time.Millisecond, Logger: quietLogger})
	require.NoError(t, err)
	_, err = closed.Claim(context.Background(), "job", time.Now().Truncate(time.Second), "probe", cronx.ClaimOptions{})
	require.Error(t, err)
	assert.False(t, errors.Is(err, cronx.ErrClaimedElsewhere))

	restarting := time.Now()
	require.NoError(t, srv.Start())
	require.Eventually(t, func() bool {
		tk, _ := ta.job("job")
		return len(tk) > 0 && time.Unix(tk[len(tk)-1], 0).After(restarting.Add(time.Second))
	}, time.Minute, 20*time.Millisecond, "runs resume after Redis is back")
	shutdownAll(t, ss...)

	assert.Zero(t, overlapsInOutage, "an outage is reported as coordinator-error, never as overlap")
	// Redis guarantees no claim is won by an attempt made entirely while it
	// was down.
	for i, a := range coords {
		a.mu.Lock()
		for _, at := range a.log {
			if at.won && at.from.After(stopped) && at.to.Before(restarting) {
				t.Errorf("r%d won a claim tried from %s to %s while Redis was down (%s to %s)", i,
					at.from.Format("15:04:05.000"), at.to.Format("15:04:05.000"), stopped.Format("15:04:05.000"), restarting.Format("15:04:05.000"))
			}
		}
		a.mu.Unlock()
	}
	// Every claim won after the restart has a fence above every claim won
	// before the stop.
	var maxBefore, minAfter uint64 = 0, math.MaxUint64
	for _, a := range coords {
		a.mu.Lock()
		for _, at := range a.log {
			switch {
			case at.won && at.to.Before(stopping):
				maxBefore = max(maxBefore, at.fence)
			case at.won && at.from.After(restarting):
				minAfter = min(minAfter, at.fence)
			}
		}
		a.mu.Unlock()
	}
	require.NotEqual(t, uint64(math.MaxUint64), minAfter, "claims were won after the restart")
	assert.Greater(t, minAfter, maxBefore, "fences increase across the restart")
	ticks, runs := ta.job("job")
	for _, tk := range ticks {
		assert.Len(t, runs[tk], 1, "tick %d ran %d times", tk, len(runs[tk]))
	}
}

// TestNoClusterOverlap: a job that runs longer than its 1 s interval, on
// three replicas, with a 2 s running lease renewed every 300 ms. Two runs
// overlap only if the earlier one lost its lease (a starved renewal), and
// then that run is reported with cronx.ErrLeaseLost. Ticks during a run
// are skipped as cluster-busy.
func TestNoClusterOverlap(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: several multi-second runs")
	}
	t.Parallel()
	env := testenv.Redis(t)
	type span struct {
		replica    string
		start, end time.Time
		fence      uint64
		err        error
	}
	var mu sync.Mutex
	var spans []span
	var busy atomic.Int64
	sawBusy := make(chan struct{})
	var busyOnce sync.Once
	job := func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		start := time.Now()
		// Run until another replica found the job busy (so the skip is
		// certain, not a matter of timing), for at least 2.5 s.
		err := func() error {
			select {
			case <-sawBusy:
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(time.Minute):
				return errors.New("no replica saw the job busy")
			}
			select {
			case <-time.After(time.Until(start.Add(2500 * time.Millisecond))):
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}()
		mu.Lock()
		spans = append(spans, span{ri.Replica, start, time.Now(), ri.Fence, err})
		mu.Unlock()
		return err
	}
	failed := map[uint64]error{} // fence -> the run's reported error
	hooks := cronx.Hooks{
		OnSkip: func(_ context.Context, _ cronx.RunInfo, why cronx.SkipReason, _ error) {
			if why == cronx.SkipClusterBusy {
				busy.Add(1)
				busyOnce.Do(func() { close(sawBusy) })
			}
		},
		OnFailure: func(_ context.Context, ri cronx.RunInfo, err error, _ time.Duration) {
			mu.Lock()
			failed[ri.Fence] = err
			mu.Unlock()
		},
	}
	var ss []*cronx.Scheduler
	for i := range 3 {
		coord, err := redislock.New(env.NewClient(t), redislock.Config{Prefix: env.Prefix, SkewBudget: time.Second, LeaseTTL: 2 * time.Second, RenewEvery: 300 * time.Millisecond, Logger: quietLogger})
		require.NoError(t, err)
		s, err := cronx.New(cronx.Config{Replica: fmt.Sprintf("r%d", i), Coordinator: coord, Hooks: hooks, Location: time.UTC, Logger: quietLogger,
			Middleware: []cronx.Middleware{skew(time.Duration(i) * 30 * time.Millisecond)}})
		require.NoError(t, err)
		require.NoError(t, s.Add("long", "* * * * * *", job, cronx.NoClusterOverlap()))
		ss = append(ss, s)
	}
	defer shutdownAll(t, ss...)
	for _, s := range ss {
		require.NoError(t, s.Start())
	}
	runs := func() int { mu.Lock(); defer mu.Unlock(); return len(spans) }
	require.Eventually(t, func() bool { return runs() >= 3 }, 2*time.Minute, 20*time.Millisecond, "three runs ended")
	shutdownAll(t, ss...)
	assert.Positive(t, busy.Load(), "ticks during a run are skipped as cluster-busy")
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
	for i := 1; i < len(spans); i++ {
		prev, cur := spans[i-1], spans[i]
		assert.Greater(t, cur.fence, prev.fence, "fences strictly increase")
		if cur.start.Before(prev.end) {
			assert.ErrorIs(t, failed[prev.fence], cronx.ErrLeaseLost, "run on %s overlapped by %s without losing its lease", prev.replica, cur.replica)
		}
	}
	for _, err := range failed {
		assert.ErrorIs(t, err, cronx.ErrLeaseLost, "the only failures allowed are lost leases")
	}
}

// TestLeaseLost: deleting the running lease cancels the run with
// ErrLeaseLost.
func TestLeaseLost(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	coord, err := redislock.New(env.Client, redislock.Config{Prefix: env.Prefix, SkewBudget: time.Second, LeaseTTL: 900 * time.Millisecond, RenewEvery: 100 * time.Millisecond})
	require.NoError(t, err)
	s, err := cronx.New(cronx.Config{Replica: "r0", Coordinator: coord})
	require.NoError(t, err)
	started := make(chan cronx.RunInfo, 1)
	cause := make(chan error, 1)
	require.NoError(t, s.Add("victim", "* * * * * *", func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		select {
		case started <- ri:
		default:
			return nil
		}
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return ctx.Err()
	}, cronx.NoClusterOverlap()))
	require.NoError(t, s.Start())
	defer shutdownAll(t, s)
	var ri cronx.RunInfo
	select {
	case ri = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("job did not start")
	}
	_, _, leaseKey := coord.Keys("victim", ri.Tick)
	require.NoError(t, env.Client.Del(context.Background(), leaseKey).Err())
	select {
	case err := <-cause:
		assert.ErrorIs(t, err, cronx.ErrLeaseLost)
	case <-time.After(10 * time.Second):
		t.Fatal("run was not cancelled after its lease was deleted")
	}
}

func TestClaim(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	coord, err := redislock.New(env.Client, redislock.Config{Prefix: env.Prefix})
	require.NoError(t, err)
	ctx := context.Background()
	base := time.Now().Add(time.Hour).Truncate(time.Second) // after the fresh server's guard window
	var last uint64
	for i := range 20 {
		tick := base.Add(time.Duration(i) * time.Second)
		l, err := coord.Claim(ctx, "j", tick, "a", cronx.ClaimOptions{})
		require.NoError(t, err)
		assert.Greater(t, l.Fence(), last)
		last = l.Fence()
		assert.Nil(t, l.Lost())
		require.NoError(t, l.Release(ctx, nil))
		_, err = coord.Claim(ctx, "j", tick, "b", cronx.ClaimOptions{})
		assert.ErrorIs(t, err, cronx.ErrClaimedElsewhere, "released claims stay claimed")
	}
	// A held running lease makes the next tick busy for every replica.
	l, err := coord.Claim(ctx, "k", base, "a", cronx.ClaimOptions{NoClusterOverlap: true})
	require.NoError(t, err)
	_, err = coord.Claim(ctx, "k", base.Add(time.Second), "b", cronx.ClaimOptions{NoClusterOverlap: true})
	assert.ErrorIs(t, err, cronx.ErrClusterBusy)
	_, err = coord.Claim(ctx, "k", base.Add(time.Second), "c", cronx.ClaimOptions{NoClusterOverlap: true})
	assert.ErrorIs(t, err, cronx.ErrClusterBusy, "the busy tick is consumed")
	require.NoError(t, l.Release(ctx, nil))
	l2, err := coord.Claim(ctx, "k", base.Add(2*time.Second), "b", cronx.ClaimOptions{NoClusterOverlap: true})
	require.NoError(t, err, "released lease: the next tick runs")
	require.NoError(t, l2.Release(ctx, nil))

	_, err = coord.Claim(ctx, "", base, "a", cronx.ClaimOptions{})
	assert.ErrorIs(t, err, cronx.ErrInvalid)
	_, err = coord.Claim(ctx, "j", time.Time{}, "a", cronx.ClaimOptions{})
	assert.ErrorIs(t, err, cronx.ErrInvalid)
}

func TestNewValidation(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for name, o := range map[string]redislock.Config{
		"brace prefix":        {Prefix: "app{x}:"},
		"negative skew":       {SkewBudget: -time.Second},
		"negative ttl":        {ClaimTTL: -time.Second},
		"ttl below 2×skew":    {SkewBudget: time.Minute, ClaimTTL: 90 * time.Second},
		"renew not below ttl": {LeaseTTL: time.Second, RenewEvery: time.Second},
		"negative history":    {History: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := redislock.New(c, o)
			assert.ErrorIs(t, err, cronx.ErrInvalid)
		})
	}
	_, err := redislock.New(nil, redislock.Config{})
	assert.ErrorIs(t, err, cronx.ErrInvalid)
}

// TestHistoryAndJobs: each run's outcome is recorded by its release, a
// cluster-busy tick by its claim; History returns them newest first and
// bounded by Config.History; Jobs lists every job with its last claim,
// next tick, last run and last failure.
func TestHistoryAndJobs(t *testing.T) {
	t.Parallel()
	t.Run("single", func(t *testing.T) {
		t.Parallel()
		env := testenv.Redis(t)
		historyAndJobs(t, env.Client, env.Prefix)
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		env := testenv.RedisCluster(t)
		historyAndJobs(t, env.NewClient(t), env.Prefix)
	})
}

func historyAndJobs(t *testing.T, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	coord, err := redislock.New(rdb, redislock.Config{Prefix: prefix, History: 3, Logger: quietLogger})
	require.NoError(t, err)
	base := time.Now().Add(time.Hour).Truncate(time.Second) // after the fresh server's guard window
	claim := func(job string, i int, o cronx.ClaimOptions) cronx.Lease {
		t.Helper()
		o.Next = base.Add(time.Duration(i+1) * time.Minute)
		l, err := coord.Claim(ctx, job, base.Add(time.Duration(i)*time.Minute), "r"+strconv.Itoa(i), o)
		require.NoError(t, err)
		return l
	}
	results := []error{nil, errors.New("disk full"), &cronx.PanicError{Value: "boom"}, nil}
	var fences []uint64
	for i, res := range results {
		l := claim("report", i, cronx.ClaimOptions{})
		fences = append(fences, l.Fence())
		require.NoError(t, l.Release(ctx, res))
	}
	runs, err := coord.History(ctx, "report", 10)
	require.NoError(t, err)
	require.Len(t, runs, 3, "Config.History bounds the records")
	want := []redislock.Outcome{redislock.OutcomeOK, redislock.OutcomePanic, redislock.OutcomeError}
	for k, r := range runs {
		i := len(results) - 1 - k
		assert.Equal(t, want[k], r.Outcome, "run %d", i)
		assert.True(t, base.Add(time.Duration(i)*time.Minute).Equal(r.Tick), "run %d tick %v", i, r.Tick)
		assert.Equal(t, "r"+strconv.Itoa(i), r.Replica)
		assert.Equal(t, fences[i], r.Fence)
		assert.False(t, r.Start.IsZero())
	}
	assert.Equal(t, "boom", runs[1].Error)
	assert.Equal(t, "disk full", runs[2].Error)
	one, err := coord.History(ctx, "report", 1)
	require.NoError(t, err)
	assert.Equal(t, runs[:1], one)

	// A held running lease: the next tick is recorded as skipped by its claim.
	l := claim("sync", 0, cronx.ClaimOptions{NoClusterOverlap: true})
	_, err = coord.Claim(ctx, "sync", base.Add(time.Minute), "r9", cronx.ClaimOptions{NoClusterOverlap: true})
	require.ErrorIs(t, err, cronx.ErrClusterBusy)
	require.NoError(t, l.Release(ctx, nil))
	runs, err = coord.History(ctx, "sync", 10)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	assert.Equal(t, redislock.OutcomeSkipped, runs[0].Outcome)
	assert.Equal(t, cronx.SkipClusterBusy, runs[0].Skip)
	assert.Equal(t, "r9", runs[0].Replica)
	assert.Equal(t, redislock.OutcomeOK, runs[1].Outcome)

	// A lease deleted under the run: Release says so and records it.
	l = claim("sync", 2, cronx.ClaimOptions{NoClusterOverlap: true})
	_, _, leaseKey := coord.Keys("sync", time.Time{})
	require.NoError(t, rdb.Del(ctx, leaseKey).Err())
	assert.ErrorIs(t, l.Release(ctx, nil), cronx.ErrLeaseLost)
	runs, err = coord.History(ctx, "sync", 1)
	require.NoError(t, err)
	assert.Equal(t, redislock.OutcomeLeaseLost, runs[0].Outcome)
	assert.True(t, runs[0].Failed())

	jobs, err := coord.Jobs(ctx)
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	assert.Equal(t, []string{"report", "sync"}, []string{jobs[0].Name, jobs[1].Name})
	r := jobs[0]
	assert.Equal(t, fences[3], r.Last.Fence)
	assert.Equal(t, "r3", r.Last.Replica)
	assert.True(t, base.Add(4*time.Minute).Equal(r.Last.Next), "next tick %v", r.Last.Next)
	require.NotNil(t, r.LastRun)
	assert.Equal(t, redislock.OutcomeOK, r.LastRun.Outcome)
	require.NotNil(t, r.LastFailure)
	assert.Equal(t, redislock.OutcomePanic, r.LastFailure.Outcome)
	require.NotNil(t, jobs[1].LastFailure)
	assert.Equal(t, redislock.OutcomeLeaseLost, jobs[1].LastFailure.Outcome)

	empty, err := coord.History(ctx, "never", 5)
	require.NoError(t, err)
	assert.Empty(t, empty)
	_, err = coord.History(ctx, "report", 0)
	assert.ErrorIs(t, err, cronx.ErrInvalid)
}

// TestCatchUp: ticks missed while every replica was down run on restart
// with cronx.CatchUp, once across replicas: each of them (Each), or only
// the latest.
func TestCatchUp(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	ta := newTally()
	newScheduler := func(replica string, catchUp bool) *cronx.Scheduler {
		coord, err := redislock.New(env.NewClient(t), redislock.Config{Prefix: env.Prefix, SkewBudget: time.Second, Logger: quietLogger})
		require.NoError(t, err)
		s, err := cronx.New(cronx.Config{Replica: replica, Coordinator: coord, Location: time.UTC, Logger: quietLogger})
		require.NoError(t, err)
		var eachOpts, latestOpts []cronx.Option
		if catchUp {
			eachOpts = []cronx.Option{cronx.CatchUp(cronx.CatchUpPolicy{MaxAge: time.Minute, Each: true})}
			latestOpts = []cronx.Option{cronx.CatchUp(cronx.CatchUpPolicy{MaxAge: time.Minute})}
		}
		require.NoError(t, s.Add("each", "* * * * * *", ta.fn(time.Millisecond), append(eachOpts, cronx.OncePerTick())...))
		if replica != "r2" {
			require.NoError(t, s.Add("latest", "* * * * * *", ta.fn(time.Millisecond), append(latestOpts, cronx.OncePerTick())...))
		}
		return s
	}
	s1 := newScheduler("r0", false)
	require.NoError(t, s1.Start())
	require.Eventually(t, func() bool {
		a, _ := ta.job("each")
		b, _ := ta.job("latest")
		return len(a) >= 2 && len(b) >= 2
	}, time.Minute, 20*time.Millisecond, "the first replica ran both jobs")
	shutdownAll(t, s1)
	lastEach, _ := ta.job("each")
	lastLatest, _ := ta.job("latest")
	last := max(lastEach[len(lastEach)-1], lastLatest[len(lastLatest)-1])
	// Every replica is down while four more ticks pass.
	time.Sleep(time.Until(time.Unix(last, 0).Add(4*time.Second + 100*time.Millisecond)))

	now := time.Now().Truncate(time.Second).Unix()
	s2, s3 := newScheduler("r1", true), newScheduler("r2", true)
	defer shutdownAll(t, s2, s3)
	require.NoError(t, s2.Start())
	require.NoError(t, s3.Start())
	require.Eventually(t, func() bool {
		ticks, _ := ta.job("each")
		return slices.Contains(ticks, now)
	}, time.Minute, 20*time.Millisecond, "the missed ticks ran")
	shutdownAll(t, s2, s3)

	_, each := ta.job("each")
	for tk := lastEach[len(lastEach)-1] + 1; tk <= now; tk++ {
		assert.Len(t, each[tk], 1, "missed tick %d of each ran once", tk)
	}
	_, latest := ta.job("latest")
	ran := 0
	for tk := lastLatest[len(lastLatest)-1] + 1; tk <= now+1; tk++ {
		if tk < now {
			assert.Empty(t, latest[tk], "missed tick %d of latest is not the latest", tk)
		}
		ran += len(latest[tk])
	}
	assert.Positive(t, ran, "the latest missed tick ran")
}
