package redislock_test

import (
	"bytes"
	"context"
	"net"
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

// replyDropper is a TCP proxy in front of a Redis server. Armed with a
// marker, it lets the server run the next command whose bytes contain the
// marker, then closes that connection instead of passing the reply on, as a
// connection reset after the server executed a command does. go-redis then
// sends the command again on a new connection (Options.MaxRetries). A
// NOSCRIPT reply (EVALSHA before the script is loaded) is passed on, and the
// drop waits for the EVAL that follows.
type replyDropper struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	marker  []byte // armed while non-nil
	dropped int
}

func newReplyDropper(t *testing.T, target string) *replyDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &replyDropper{ln: ln, target: target}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() { // ends when ln is closed
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); p.serve(c) }()
		}
	}()
	return p
}

func (p *replyDropper) addr() string { return p.ln.Addr().String() }

// arm makes the proxy drop the reply of the next command containing marker.
func (p *replyDropper) arm(marker string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.marker = []byte(marker)
}

func (p *replyDropper) drops() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

func (p *replyDropper) serve(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	var drop atomic.Bool // the command just sent carries the marker
	done := make(chan struct{})
	defer func() { c.Close(); s.Close(); <-done }()
	go func() { // client to server; ends when either side closes
		defer close(done)
		defer s.Close() // ends the reply loop below too
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				p.mu.Lock()
				if p.marker != nil && bytes.Contains(buf[:n], p.marker) {
					drop.Store(true)
				}
				p.mu.Unlock()
				if _, werr := s.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if drop.Swap(false) && !bytes.HasPrefix(buf[:n], []byte("-NOSCRIPT")) {
				p.mu.Lock()
				p.marker = nil
				p.dropped++
				p.mu.Unlock()
				return // closes both: the client sees a reset after the server ran it
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// A claim whose reply was lost runs again (go-redis's retry); the second
// run finds the first one's claim and returns it. It used to report the
// tick as claimed by another replica (the caller itself), so no replica
// ran it, and with NoClusterOverlap the unrenewed lease then made the next
// ticks ErrClusterBusy everywhere.
func TestClaimReplyLost(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	p := newReplyDropper(t, env.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: p.addr(), DB: env.DB}) // default MaxRetries: 3
	t.Cleanup(func() { rdb.Close() })
	coord, err := redislock.New(rdb, redislock.Config{Prefix: env.Prefix, LeaseTTL: 3 * time.Second, RenewEvery: time.Second})
	require.NoError(t, err)
	ctx := context.Background()
	base := time.Now().Add(time.Hour).Truncate(time.Second) // after the fresh server's guard window

	for _, overlap := range []bool{false, true} {
		job := "lost-claim"
		if overlap {
			job = "lost-claim-overlap"
		}
		opts := cronx.ClaimOptions{NoClusterOverlap: overlap}
		before := p.drops()
		p.arm(job)
		l, err := coord.Claim(ctx, job, base, "a", opts)
		require.NoError(t, err, "overlap %v: the claim was won, only its reply was lost", overlap)
		require.Equal(t, before+1, p.drops(), "the proxy dropped the claim's reply")
		assert.NotZero(t, l.Fence())
		last, err := coord.Last(ctx, job)
		require.NoError(t, err)
		assert.Equal(t, l.Fence(), last.Fence, "one claim, one fence")
		assert.Equal(t, "a", last.Replica)
		_, err = coord.Claim(ctx, job, base, "b", opts)
		assert.ErrorIs(t, err, cronx.ErrClaimedElsewhere, "another replica still finds the tick claimed")
		require.NoError(t, l.Release(ctx, nil), "the lease (overlap %v) was held throughout", overlap)
		l2, err := coord.Claim(ctx, job, base.Add(time.Second), "b", opts)
		require.NoError(t, err, "the next tick is free")
		assert.Greater(t, l2.Fence(), l.Fence())
		require.NoError(t, l2.Release(ctx, nil))
	}
}

// A release whose reply was lost runs again; the second run finds its own
// history record and answers as the first did. It used to find the lease
// gone (the first run deleted it) and report a run that succeeded as
// ErrLeaseLost, recording the tick twice.
func TestReleaseReplyLost(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	p := newReplyDropper(t, env.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: p.addr(), DB: env.DB})
	t.Cleanup(func() { rdb.Close() })
	coord, err := redislock.New(rdb, redislock.Config{Prefix: env.Prefix, LeaseTTL: 3 * time.Second, RenewEvery: time.Second})
	require.NoError(t, err)
	ctx := context.Background()
	tick := time.Now().Add(time.Hour).Truncate(time.Second)
	const job = "lost-release"
	l, err := coord.Claim(ctx, job, tick, "a", cronx.ClaimOptions{NoClusterOverlap: true})
	require.NoError(t, err)
	_, _, leaseKey := coord.Keys(job, tick)
	p.arm(leaseKey)
	require.NoError(t, l.Release(ctx, nil), "the run held its lease to the end")
	require.Equal(t, 1, p.drops(), "the proxy dropped the release's reply")
	n, err := env.Client.Exists(ctx, leaseKey).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "lease deleted")
	hist, err := coord.History(ctx, job, 10)
	require.NoError(t, err)
	require.Len(t, hist, 1, "one record for the tick")
	assert.Equal(t, redislock.OutcomeOK, hist[0].Outcome)
}

// A claim of an older tick (a catch-up run, a late replica winning a tick
// the others skipped) gets a higher fence but never moves Last back: Last
// is where CatchUp starts, and a step back re-runs ticks that already ran.
func TestLastNeverGoesBack(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	coord, err := redislock.New(env.Client, redislock.Config{Prefix: env.Prefix})
	require.NoError(t, err)
	ctx := context.Background()
	base := time.Now().Add(time.Hour).Truncate(time.Minute)
	newer, older := base.Add(time.Minute), base
	l1, err := coord.Claim(ctx, "j", newer, "a", cronx.ClaimOptions{Next: newer.Add(time.Minute)})
	require.NoError(t, err)
	l2, err := coord.Claim(ctx, "j", older, "b", cronx.ClaimOptions{Next: newer})
	require.NoError(t, err)
	assert.Greater(t, l2.Fence(), l1.Fence(), "fences follow the order claims were won")
	last, err := coord.Last(ctx, "j")
	require.NoError(t, err)
	assert.True(t, last.Tick.Equal(newer), "Last.Tick %v, want the newer tick %v", last.Tick, newer)
	assert.Equal(t, "a", last.Replica)
	assert.True(t, last.Next.Equal(newer.Add(time.Minute)), "Next of the newer claim")
	assert.Equal(t, l2.Fence(), last.Fence, "the fence is the latest")
	tick, ok, err := coord.LastTick(ctx, "j")
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, tick.Equal(newer))
	l3, err := coord.Claim(ctx, "j", newer.Add(time.Minute), "c", cronx.ClaimOptions{})
	require.NoError(t, err)
	last, err = coord.Last(ctx, "j")
	require.NoError(t, err)
	assert.True(t, last.Tick.Equal(newer.Add(time.Minute)), "a later tick moves Last on")
	assert.Equal(t, "c", last.Replica)
	assert.Equal(t, l3.Fence(), last.Fence)
}

// Jobs finds the jobs of a Prefix holding SCAN's pattern characters; it
// used to list none, without an error.
func TestJobsPrefixWithPatternCharacters(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	ctx := context.Background()
	tick := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, prefix := range []string{`app[1]:`, `a*b?:`, `back\slash:`} {
		coord, err := redislock.New(env.Client, redislock.Config{Prefix: env.Prefix + prefix})
		require.NoError(t, err)
		l, err := coord.Claim(ctx, "report", tick, "a", cronx.ClaimOptions{})
		require.NoError(t, err)
		require.NoError(t, l.Release(ctx, nil))
		jobs, err := coord.Jobs(ctx)
		require.NoError(t, err)
		require.Len(t, jobs, 1, "prefix %q", prefix)
		assert.Equal(t, "report", jobs[0].Name)
		require.NotNil(t, jobs[0].LastRun)
	}
}
