package redislock_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

func TestMain(m *testing.M) { testenv.Main(m) }

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
// ends (gocron's Locker, redsync-style mutexes).
func naiveLock(rdb redis.UniversalClient, key string) cronx.Middleware {
	return func(next cronx.Func) cronx.Func {
		return func(ctx context.Context) error {
			ri, _ := cronx.InfoFrom(ctx)
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

func shutdownAll(t *testing.T, ss ...*cronx.Scheduler) {
	t.Helper()
	for _, s := range ss {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.Shutdown(ctx)
		cancel()
		if err != nil && !errors.Is(err, cronx.ErrClosed) {
			t.Errorf("shutdown: %v", err)
		}
	}
}

// fiveReplicas runs 5 schedulers, each with its own client and a skew of
// i×20 ms, with a 5 ms job claimed per tick and the same job under the
// naive lock. Replica r0 (the earliest, which wins most ticks) is shut
// down half way.
func fiveReplicas(t *testing.T, clients []redis.UniversalClient, prefix string) {
	const (
		replicas = 5
		runFor   = 24 * time.Second
	)
	ta := newTally()
	var coord0 *redislock.Coordinator
	var ss []*cronx.Scheduler
	for i := range replicas {
		coord, err := redislock.New(clients[i], redislock.Config{Prefix: prefix, SkewBudget: 5 * time.Second, ClaimTTL: time.Minute})
		require.NoError(t, err)
		if i == 0 {
			coord0 = coord
		}
		s, err := cronx.New(cronx.Config{Replica: fmt.Sprintf("r%d", i), Coordinator: coord, Middleware: []cronx.Middleware{skew(time.Duration(i) * 20 * time.Millisecond)}})
		require.NoError(t, err)
		require.NoError(t, s.Add("once", "* * * * * *", ta.fn(5*time.Millisecond), cronx.OncePerTick()))
		require.NoError(t, s.Add("naive", "* * * * * *", ta.fn(5*time.Millisecond), cronx.Use(naiveLock(clients[i], prefix+"naive-lock"))))
		ss = append(ss, s)
	}
	defer shutdownAll(t, ss...)
	for _, s := range ss {
		require.NoError(t, s.Start())
	}
	time.Sleep(runFor / 2)
	stoppedAt := time.Now()
	shutdownAll(t, ss[0])
	time.Sleep(runFor / 2)
	shutdownAll(t, ss[1:]...)

	ticks, runs := ta.job("once")
	require.GreaterOrEqual(t, len(ticks), 22)
	inner := ticks[1 : len(ticks)-1] // the first and last ticks may be partial
	winners := map[string]int{}
	var lastFence uint64
	for i, tk := range inner {
		if i > 0 {
			assert.Equal(t, inner[i-1]+1, tk, "no tick missing before %d", tk)
		}
		rs := runs[tk]
		if !assert.Len(t, rs, 1, "tick %d ran %d times: %v", tk, len(rs), rs) {
			continue
		}
		winners[rs[0].replica]++
		assert.Greater(t, rs[0].fence, lastFence, "fences strictly increase")
		lastFence = rs[0].fence
		if time.Unix(tk, 0).After(stoppedAt.Add(time.Second)) {
			assert.NotEqual(t, "r0", rs[0].replica, "r0 was shut down")
		}
	}
	assert.GreaterOrEqual(t, len(inner), 20)
	assert.Greater(t, len(winners), 1, "after r0 stopped another replica took the ticks: %v", winners)
	t.Logf("claim per tick: %d ticks, winners %v", len(inner), winners)

	// The cluster-wide view names the last winner.
	last, err := coord0.Last(context.Background(), "once")
	require.NoError(t, err)
	ticksNow, runsNow := ta.job("once")
	lastTick := ticksNow[len(ticksNow)-1]
	assert.Equal(t, lastTick, last.Tick.Unix())
	assert.Equal(t, runsNow[lastTick][0].replica, last.Replica)
	assert.Equal(t, runsNow[lastTick][0].fence, last.Fence)
	_, err = coord0.Last(context.Background(), "never")
	assert.ErrorIs(t, err, cronx.ErrNotFound)

	// The claim of a finished run is still there: it is never deleted.
	tk := inner[len(inner)-1]
	tickKey, _, _ := coord0.Keys("once", time.Unix(tk, 0))
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
	require.Greater(t, dups, 0, "the lock-by-name control showed no duplicates: the test cannot detect the bug")
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

// TestRedisDown: with Redis stopped no replica runs (fail-closed, reported
// as a skip); after a restart runs resume, and fences keep increasing.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv := testenv.NewRedisServer(t, "--appendonly", "yes", "--appendfsync", "always")
	ta := newTally()
	var coordErrs atomic.Int64
	hooks := cronx.Hooks{OnSkip: func(_ context.Context, _ cronx.RunInfo, why cronx.SkipReason, _ error) {
		if why == cronx.SkipCoordinatorError {
			coordErrs.Add(1)
		}
	}}
	var ss []*cronx.Scheduler
	for i := range 3 {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { c.Close() })
		coord, err := redislock.New(c, redislock.Config{SkewBudget: time.Second, ClaimTimeout: 500 * time.Millisecond})
		require.NoError(t, err)
		s, err := cronx.New(cronx.Config{Replica: fmt.Sprintf("r%d", i), Coordinator: coord, Hooks: hooks, Middleware: []cronx.Middleware{skew(time.Duration(i) * 30 * time.Millisecond)}})
		require.NoError(t, err)
		require.NoError(t, s.Add("job", "* * * * * *", ta.fn(5*time.Millisecond), cronx.OncePerTick()))
		ss = append(ss, s)
	}
	defer shutdownAll(t, ss...)
	for _, s := range ss {
		require.NoError(t, s.Start())
	}
	count := func() int { tk, _ := ta.job("job"); return len(tk) }
	require.Eventually(t, func() bool { return count() >= 2 }, 15*time.Second, 50*time.Millisecond)

	require.NoError(t, srv.Stop())
	stopped := time.Now()
	before := coordErrs.Load()
	require.Eventually(t, func() bool { return coordErrs.Load() >= before+6 }, 15*time.Second, 50*time.Millisecond,
		"fail-closed skips are reported while Redis is down")

	// Fail-open is opt-in: the same outage gives a lease with fence 0.
	c := srv.Client(t)
	open, err := redislock.New(c, redislock.Config{FailOpen: true, ClaimTimeout: 500 * time.Millisecond})
	require.NoError(t, err)
	l, err := open.Claim(context.Background(), "job", time.Now().Truncate(time.Second), "probe", cronx.ClaimOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(0), l.Fence())
	closed, err := redislock.New(c, redislock.Config{ClaimTimeout: 500 * time.Millisecond})
	require.NoError(t, err)
	_, err = closed.Claim(context.Background(), "job", time.Now().Truncate(time.Second), "probe", cronx.ClaimOptions{})
	require.Error(t, err)
	assert.False(t, errors.Is(err, cronx.ErrClaimedElsewhere))

	restartedBefore := time.Now()
	require.NoError(t, srv.Start())
	require.Eventually(t, func() bool {
		tk, _ := ta.job("job")
		return len(tk) > 0 && time.Unix(tk[len(tk)-1], 0).After(restartedBefore.Add(time.Second))
	}, 15*time.Second, 50*time.Millisecond, "runs resume after Redis is back")
	shutdownAll(t, ss...)

	ticks, runs := ta.job("job")
	var lastFence uint64
	for _, tk := range ticks {
		rs := runs[tk]
		require.Len(t, rs, 1, "tick %d ran %d times", tk, len(rs))
		tt := time.Unix(tk, 0)
		assert.False(t, tt.After(stopped.Add(time.Second)) && tt.Before(restartedBefore.Add(-time.Second)), "tick %v ran while Redis was down", tt)
		assert.Greater(t, rs[0].fence, lastFence, "fences strictly increase across the restart")
		lastFence = rs[0].fence
	}
}

// TestNoClusterOverlap: a 2.5 s job on a 1 s spec never runs on two
// replicas at once; the running lease (2 s TTL) must be renewed for that.
func TestNoClusterOverlap(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	var active, maxActive, busy atomic.Int64
	var mu sync.Mutex
	var fences []uint64
	job := func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		n := active.Add(1)
		defer active.Add(-1)
		for {
			m := maxActive.Load()
			if n <= m || maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		mu.Lock()
		fences = append(fences, ri.Fence)
		mu.Unlock()
		select {
		case <-time.After(2500 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	var failures atomic.Int64
	hooks := cronx.Hooks{
		OnSkip: func(_ context.Context, _ cronx.RunInfo, why cronx.SkipReason, _ error) {
			if why == cronx.SkipClusterBusy {
				busy.Add(1)
			}
		},
		OnFailure: func(context.Context, cronx.RunInfo, error, time.Duration) { failures.Add(1) },
	}
	var ss []*cronx.Scheduler
	for i := range 3 {
		coord, err := redislock.New(env.NewClient(t), redislock.Config{Prefix: env.Prefix, SkewBudget: time.Second, LeaseTTL: 2 * time.Second, RenewEvery: 300 * time.Millisecond})
		require.NoError(t, err)
		s, err := cronx.New(cronx.Config{Replica: fmt.Sprintf("r%d", i), Coordinator: coord, Hooks: hooks, Middleware: []cronx.Middleware{skew(time.Duration(i) * 30 * time.Millisecond)}})
		require.NoError(t, err)
		require.NoError(t, s.Add("long", "* * * * * *", job, cronx.NoClusterOverlap()))
		ss = append(ss, s)
	}
	defer shutdownAll(t, ss...)
	for _, s := range ss {
		require.NoError(t, s.Start())
	}
	time.Sleep(9 * time.Second)
	shutdownAll(t, ss...)
	assert.Equal(t, int64(1), maxActive.Load(), "at most one run at a time across replicas")
	assert.Positive(t, busy.Load(), "ticks during a run are skipped as cluster-busy")
	assert.Zero(t, failures.Load(), "no run lost its lease")
	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(fences), 2)
	assert.True(t, slices.IsSorted(fences) && len(slices.Compact(slices.Clone(fences))) == len(fences), "fences strictly increase: %v", fences)
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
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
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
	} {
		t.Run(name, func(t *testing.T) {
			_, err := redislock.New(c, o)
			assert.ErrorIs(t, err, cronx.ErrInvalid)
		})
	}
	_, err := redislock.New(nil, redislock.Config{})
	assert.ErrorIs(t, err, cronx.ErrInvalid)
}
