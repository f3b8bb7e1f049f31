package streamq

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ConsumerConfig holds the optional settings of a Consumer. The zero value
// is valid; each zero field means the documented default. Negative values
// are rejected.
type ConsumerConfig struct {
	// Name is this consumer's name in the group. Default
	// "<hostname>-<pid>-<random>", unique per process and Consumer. Names
	// must be unique among running consumers of a group.
	Name string
	// Concurrency is the number of handler goroutines (per priority level
	// on a queue with Config.Priorities). Default 10.
	Concurrency int
	// BatchSize is the COUNT of each XREADGROUP (per stream). Default 100,
	// at most 10000.
	BatchSize int
	// Prefetch bounds the messages this consumer holds (running plus read
	// but not started). Default 2×BatchSize, at least BatchSize. Lower
	// BatchSize for slow handlers, so idle peers get the work.
	Prefetch int
	// Block is how long an idle XREADGROUP waits for new messages. Default
	// 1s, between 1ms and 30s. It bounds how long a cancelled Run waits for
	// the read in flight (go-redis does not interrupt blocking reads).
	Block time.Duration
	// StartFromNewest creates a missing group at "$" (only messages added
	// from now on) instead of "0" (everything still in the stream).
	StartFromNewest bool
	// VisibilityTimeout is how long a message may stay pending with a live
	// consumer before another consumer reclaims it (XAUTOCLAIM). Handlers
	// that run longer call Msg.Extend. Default 30s.
	VisibilityTimeout time.Duration
	// DeadAfter is how long a consumer may miss heartbeats before the others
	// take over its messages. Heartbeats are sent every DeadAfter/5.
	// Default 5s, at least 50ms.
	DeadAfter time.Duration
	// MaxDeliveries is how many deliveries a message gets (Redis's delivery
	// counter plus earlier retries) before it moves to the dead-letter
	// stream. Default 5.
	MaxDeliveries int
	// Backoff returns the delay before retry number attempt (1 after the
	// first failure). Default DefaultBackoff. Negative results count as 0.
	Backoff func(attempt int, err error) time.Duration
	// ShutdownTimeout is how long Run waits, after its ctx is cancelled, for
	// running handlers before cancelling their context. Default 10s.
	ShutdownTimeout time.Duration
	// HandlerTimeout bounds each handler call through its context. Default
	// 0: no timeout.
	HandlerTimeout time.Duration
	// AckInterval is the longest an acknowledgement waits to be flushed
	// when no read carries it. Default 50ms.
	AckInterval time.Duration
	// TrimInterval is how often the consumer runs Queue.Trim (ack-aware
	// trimming, then the MaxLen cap). Default 30s.
	TrimInterval time.Duration
	// DisableTrim turns the periodic Trim off.
	DisableTrim bool
	// StrictPriority, on a queue with Config.Priorities, makes a read take
	// a lower level only while every higher level is empty. Default
	// weighted: with backlogs on several levels, level l gets Weights[l] of
	// every sum(Weights) reads, so no level starves.
	StrictPriority bool
	// Weights are the levels' shares of reads in weighted mode, one per
	// level (1-1000). Default level+1 (1, 2, 3, ...).
	Weights []int
	// Hooks are optional callbacks for metrics and tracing.
	Hooks Hooks
}

// DefaultBackoff is the default retry delay: 1s doubled per attempt, capped
// at 1h, plus up to 25% random jitter.
func DefaultBackoff(attempt int, _ error) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := time.Hour
	if attempt <= 12 {
		d = min(time.Second<<(attempt-1), time.Hour)
	}
	return d + rand.N(d/4+1)
}

type consumerSettings struct {
	name                                          string
	concurrency, batch, prefetch, maxDeliveries   int
	block, visibility, deadAfter, heartbeat       time.Duration
	shutdown, handlerTimeout, ackEvery, trimEvery time.Duration
	fromNewest, noTrim                            bool
	backoff                                       func(int, error) time.Duration
	hooks                                         Hooks
	strict                                        bool
	weights                                       []int
}

var consumerSeq atomic.Int64

func resolveConsumer(c ConsumerConfig) (consumerSettings, error) {
	bad := func(field string, v any, rule string) error {
		return fmt.Errorf("%w: ConsumerConfig.%s = %v: %s", ErrInvalid, field, v, rule)
	}
	s := consumerSettings{name: c.Name, fromNewest: c.StartFromNewest, noTrim: c.DisableTrim, backoff: c.Backoff, hooks: c.Hooks,
		strict: c.StrictPriority, weights: c.Weights}
	for _, w := range c.Weights {
		if w < 1 || w > 1000 {
			return s, bad("Weights", c.Weights, "each weight must be between 1 and 1000")
		}
	}
	if s.name == "" {
		host, _ := os.Hostname()
		if validName("consumer", host) != nil {
			host = "host"
		}
		s.name = fmt.Sprintf("%s-%d-%d-%04x", host, os.Getpid(), consumerSeq.Add(1), rand.N(1<<16))
	} else if err := validName("consumer", s.name); err != nil {
		return s, err
	}
	ints := []struct {
		name     string
		v        int
		def, max int
		dst      *int
	}{
		{"Concurrency", c.Concurrency, 10, 10000, &s.concurrency},
		{"BatchSize", c.BatchSize, 100, 10000, &s.batch},
		{"MaxDeliveries", c.MaxDeliveries, 5, 1 << 20, &s.maxDeliveries},
	}
	for _, f := range ints {
		switch {
		case f.v < 0 || f.v > f.max:
			return s, bad(f.name, f.v, fmt.Sprintf("must be between 0 (default %d) and %d", f.def, f.max))
		case f.v == 0:
			*f.dst = f.def
		default:
			*f.dst = f.v
		}
	}
	switch {
	case c.Prefetch < 0:
		return s, bad("Prefetch", c.Prefetch, "must not be negative (0 means 2×BatchSize)")
	case c.Prefetch == 0:
		s.prefetch = 2 * s.batch
	case c.Prefetch < s.batch:
		return s, bad("Prefetch", c.Prefetch, fmt.Sprintf("must be at least BatchSize (%d)", s.batch))
	default:
		s.prefetch = c.Prefetch
	}
	durs := []struct {
		name           string
		v, def, lo, hi time.Duration
		dst            *time.Duration
	}{
		{"Block", c.Block, time.Second, time.Millisecond, 30 * time.Second, &s.block},
		{"VisibilityTimeout", c.VisibilityTimeout, 30 * time.Second, 10 * time.Millisecond, 0, &s.visibility},
		{"DeadAfter", c.DeadAfter, 5 * time.Second, 50 * time.Millisecond, 0, &s.deadAfter},
		{"ShutdownTimeout", c.ShutdownTimeout, 10 * time.Second, 0, 0, &s.shutdown},
		{"HandlerTimeout", c.HandlerTimeout, 0, 0, 0, &s.handlerTimeout},
		{"AckInterval", c.AckInterval, 50 * time.Millisecond, time.Millisecond, 0, &s.ackEvery},
		{"TrimInterval", c.TrimInterval, 30 * time.Second, 10 * time.Millisecond, 0, &s.trimEvery},
	}
	for _, f := range durs {
		switch {
		case f.v < 0:
			return s, bad(f.name, f.v, "must not be negative (0 means the default)")
		case f.v == 0:
			*f.dst = f.def
		case f.v < f.lo || (f.hi > 0 && f.v > f.hi):
			rule := fmt.Sprintf("must be at least %v", f.lo)
			if f.hi > 0 {
				rule = fmt.Sprintf("must be between %v and %v", f.lo, f.hi)
			}
			return s, bad(f.name, f.v, rule)
		default:
			*f.dst = f.v
		}
	}
	s.heartbeat = s.deadAfter / 5
	if s.backoff == nil {
		s.backoff = DefaultBackoff
	}
	return s, nil
}

// Consumer is one member of a consumer group: it reads the queue's stream
// (and the group's retry stream), runs the handler, acknowledges, retries,
// dead-letters, heartbeats, reclaims messages of dead or stuck consumers,
// reaps dead consumers and trims. Build it with Queue.NewConsumer or
// Queue.NewBatchConsumer and call Run. Several Consumers (in one or many
// processes) share a group's work; several groups each get every message.
type Consumer[T any] struct {
	q     *Queue[T]
	group string
	keys  groupKeys
	cfg   consumerSettings
	h     Handler[T]
	bh    BatchHandler[T]
	ah    AggregateHandler[T]

	running atomic.Bool

	subs  []*Consumer[T] // per priority level (Config.Priorities), nil without
	gate  *gate          // shared by the level consumers
	level int            // this level consumer's level

	out       atomic.Int64  // messages held: dispatched and not finished
	wake      chan struct{} // a message finished
	tickWake  chan struct{} // a retry was scheduled
	wantTick  atomic.Int64  // unix ms of the earliest retry scheduled here, 0 = none
	hardStop  atomic.Bool   // shutdown deadline passed: handler ctx cancelled
	abandoned atomic.Bool   // Run returned without them: results are dropped
	busy      atomic.Int64  // handler calls running
	paused    atomic.Bool   // the group is paused (Queue.Pause)

	ackMu   sync.Mutex
	acks    []string               // main stream IDs to XACK
	rsAcks  []string               // retry stream IDs to XACK + XDEL
	acking  map[flightKey]struct{} // acks queued or sent, not yet confirmed
	resent  bool                   // acks were put back after a failure
	deliver sync.RWMutex           // read: a delivery in progress; write: reconcile

	dispMu   sync.Mutex
	closed   bool // work channel closed; further messages are handed back
	work     chan []delivery
	stopping atomic.Bool // set before closed: workers hand back instead of running

	backMu   sync.Mutex
	handback []delivery // read but never started; returned to the group at exit

	flightMu sync.Mutex
	inflight map[flightKey]struct{} // entries dispatched here and not finished
	wakeRec  chan struct{}          // reconcile now (after a read or ack error)
	reach    atomic.Int64           // unix ms since when heartbeats succeed promptly; 0 = not now

	cursors map[string]string // XAUTOCLAIM cursor per stream; tick goroutine only
}

// delivery is one message read from the stream or the retry stream.
type delivery struct {
	id      string
	stream  string // key it was read from
	retry   bool   // from the group's retry stream
	origID  string
	payload string
	prior   int    // attempts before this entry existed (retry envelope)
	count   int    // Redis delivery count of this entry, this delivery included
	meta    string // encoded metadata (headers, deadline, timeout); "" for none
	err     error
	noData  bool // the entry had no payload field: its dead letter has none
}

// NewConsumer returns a Consumer of group running h for each message.
// It does no I/O; Run creates the group if needed.
func (q *Queue[T]) NewConsumer(group string, h Handler[T], cfg ConsumerConfig) (*Consumer[T], error) {
	if h == nil {
		return nil, fmt.Errorf("%w: NewConsumer(%q) with a nil Handler", ErrInvalid, group)
	}
	return q.newConsumer(group, h, nil, cfg)
}

// NewBatchConsumer returns a Consumer of group running h once per read
// batch (see BatchHandler). Concurrency batches run at once.
func (q *Queue[T]) NewBatchConsumer(group string, h BatchHandler[T], cfg ConsumerConfig) (*Consumer[T], error) {
	if h == nil {
		return nil, fmt.Errorf("%w: NewBatchConsumer(%q) with a nil BatchHandler", ErrInvalid, group)
	}
	return q.newConsumer(group, nil, h, cfg)
}

func (q *Queue[T]) newConsumer(group string, h Handler[T], bh BatchHandler[T], cfg ConsumerConfig) (*Consumer[T], error) {
	if err := validName("group", group); err != nil {
		return nil, err
	}
	s, err := resolveConsumer(cfg)
	if err != nil {
		return nil, err
	}
	c := &Consumer[T]{q: q, group: group, keys: q.keys(group), cfg: s, h: h, bh: bh}
	n := len(q.levels)
	if n <= 1 {
		if len(s.weights) > 0 {
			return nil, fmt.Errorf("%w: ConsumerConfig.Weights set on queue %s, which has no priority levels (Config.Priorities)", ErrInvalid, q.name)
		}
		return c, nil
	}
	if len(s.weights) == 0 {
		for l := range n {
			s.weights = append(s.weights, l+1)
		}
	} else if len(s.weights) != n {
		return nil, fmt.Errorf("%w: ConsumerConfig.Weights has %d weights, queue %s has %d priority levels", ErrInvalid, len(s.weights), q.name, n)
	}
	g := newGate(n, s.strict, s.weights)
	for l, lq := range q.levels {
		c.subs = append(c.subs, &Consumer[T]{q: lq, group: group, keys: lq.keys(group), cfg: s, h: h, bh: bh, gate: g, level: l})
	}
	return c, nil
}

// runLevels runs the level consumers of a queue with priorities.
func (c *Consumer[T]) runLevels(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer c.running.Store(false)
	// Creating the group on every level first makes the levels' setups
	// (which each create their own) a formality.
	if err := c.setup(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	errs := make([]error, len(c.subs))
	var wg sync.WaitGroup
	for i, sub := range c.subs {
		wg.Add(1)
		go func() { // ends when sub.Run returns
			defer wg.Done()
			errs[i] = sub.Run(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Name returns the consumer's name in the group.
func (c *Consumer[T]) Name() string { return c.cfg.name }

// Group returns the consumer group's name.
func (c *Consumer[T]) Group() string { return c.group }

// Run consumes until ctx is cancelled, then shuts down gracefully: it stops
// reading, lets running handlers finish for up to ShutdownTimeout (then
// cancels their context), hands messages read but not started back to the
// group (others take them at once), flushes acknowledgements, and removes
// itself from the group if it holds no pending messages. It returns nil
// after such a shutdown.
//
// Run always returns. Handlers that ignore their cancelled context for one
// more second are abandoned: heartbeats stop, their messages are not
// acknowledged whatever they return and come back through the group's
// reclaim, and Run returns an error wrapping context.DeadlineExceeded that
// says how many were abandoned (Run can start again once they returned;
// until then it returns ErrAlreadyRunning). A client closed under a running
// consumer ends Run with an error wrapping redis.ErrClosed.
//
// Run returns ErrAlreadyRunning if called concurrently, ErrNameInUse if a
// live consumer of the group has the same Name (a recent heartbeat of a
// crashed one under that name delays the start by up to DeadAfter instead),
// or an error if the group cannot be created (bad key type). Redis being
// unavailable is not fatal: Run reports it (Hooks.OnError and the Logger),
// backs off and resumes by itself. Run never closes the client.
func (c *Consumer[T]) Run(ctx context.Context) error {
	if c.subs != nil {
		return c.runLevels(ctx)
	}
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	keep := false // abandoned handlers: released when they return
	defer func() {
		if !keep {
			c.running.Store(false)
		}
	}()
	if err := c.setup(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := c.checkName(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	c.reset()
	if d, err := c.q.CheckDurability(ctx); c.level == 0 && err == nil && !d.AppendOnly && c.q.aofWarned.CompareAndSwap(false, true) {
		c.report(fmt.Errorf("%w: the Redis holding queue %s runs with appendonly no: a restart or crash loses every message not yet handled, acknowledged Adds included; set appendonly yes (appendfsync everysec or always), see Config.WaitReplicas and WaitAOF", ErrNotDurable, c.q.name))
	}
	// Heartbeat before the first read, so the reaper never mistakes this
	// consumer for a dead one.
	t0 := time.Now()
	_, err := c.tick(ctx, true)
	c.beaten(t0, err)
	if err != nil && ctx.Err() == nil {
		c.report(err)
	}

	base := context.WithoutCancel(ctx)
	hctx, hcancel := context.WithCancel(base)
	defer hcancel()
	bg, bgCancel := context.WithCancel(base)
	defer bgCancel()

	var workers sync.WaitGroup
	for range c.cfg.concurrency {
		workers.Add(1)
		go func() { // ends when c.work is closed and drained
			defer workers.Done()
			c.worker(hctx)
		}()
	}
	var bgwg sync.WaitGroup
	bgwg.Add(4)
	go func() { defer bgwg.Done(); c.reconcileLoop(bg, ctx) }() // ends with bg
	go func() { defer bgwg.Done(); c.heartLoop(bg) }()          // ends with bg
	go func() { defer bgwg.Done(); c.tickLoop(bg, ctx) }()      // ends with bg
	go func() { defer bgwg.Done(); c.ackLoop(bg) }()            // ends with bg

	fatal := c.fetchLoop(ctx)

	// Shutdown: no new handler starts, unstarted messages are handed back.
	c.stopping.Store(true)
	c.dispMu.Lock()
	c.closed = true
	close(c.work)
	c.dispMu.Unlock()
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }() // ends when workers end
	var abandoned int64
	timer := time.NewTimer(c.cfg.shutdown)
	select {
	case <-done:
	case <-timer.C:
		c.hardStop.Store(true)
		hcancel()
		// A handler that ignores its ctx cannot be stopped: after a grace
		// period it is abandoned. Its message is not acknowledged (whatever
		// it returns) and comes back through reclaim once this consumer's
		// heartbeat stops.
		grace := time.NewTimer(abandonGrace)
		select {
		case <-done:
		case <-grace.C:
			c.abandoned.Store(true)
			abandoned = c.busy.Load()
			for ds := range c.work { // the stuck workers will never get to these
				c.addHandback(ds)
				c.finish(ds)
			}
		}
		grace.Stop()
	}
	timer.Stop()
	bgCancel()
	bgwg.Wait()

	if !errors.Is(fatal, redis.ErrClosed) {
		sctx, cancel := context.WithTimeout(base, 5*time.Second)
		defer cancel()
		if abandoned == 0 {
			c.flushAcks(sctx)
		}
		c.giveBack(sctx)
		c.leave(sctx)
	}
	if abandoned > 0 {
		// Run may start again only once the abandoned handlers returned:
		// they still use this Consumer's state.
		keep = true
		go func() { workers.Wait(); c.running.Store(false) }() // ends when the abandoned handlers return
		err := fmt.Errorf("streamq: consumer %s of group %s: %d handlers still running %v after shutdown began ignored their context and were abandoned; their messages stay unacknowledged and are reclaimed by other consumers: %w",
			c.cfg.name, c.group, abandoned, c.cfg.shutdown+abandonGrace, context.DeadlineExceeded)
		return errors.Join(fatal, err)
	}
	return fatal
}

// abandonGrace is how long Run waits, after cancelling the handlers'
// context at ShutdownTimeout, before it abandons those still running.
const abandonGrace = time.Second

func (c *Consumer[T]) reset() {
	c.work = make(chan []delivery, c.cfg.prefetch+2*c.cfg.batch)
	c.closed = false
	c.stopping.Store(false)
	c.handback = nil
	c.wake = make(chan struct{}, 1)
	c.tickWake = make(chan struct{}, 1)
	c.hardStop.Store(false)
	c.abandoned.Store(false)
	c.paused.Store(false)
	c.out.Store(0)
	c.inflight = make(map[flightKey]struct{})
	c.acking = make(map[flightKey]struct{})
	c.resent = false
	c.wakeRec = make(chan struct{}, 1)
	c.reach.Store(0)
	c.cursors = map[string]string{}
}

// setup creates the group on both streams, retrying while Redis is down.
func (c *Consumer[T]) setup(ctx context.Context) error {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := c.q.CreateGroup(ctx, c.group, c.cfg.fromNewest)
		if err == nil {
			return nil
		}
		if !isTransient(err) {
			return err
		}
		c.report(err)
		if !sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// checkName makes sure no live consumer of the group uses this consumer's
// name: two would share one pending list and take each other's messages
// for their own. A heartbeat that is recent but stops advancing belongs to
// a consumer that crashed (a restart under a fixed name): Run goes on once
// it is DeadAfter old. A heartbeat that advances is a live twin:
// ErrNameInUse. Redis errors are left to the read loop to report.
func (c *Consumer[T]) checkName(ctx context.Context) error {
	first := -1.0
	for {
		score, err := c.q.client.ZScore(ctx, c.keys.hb, c.cfg.name).Result()
		if err != nil || score <= 0 {
			return nil // redis.Nil: nobody has the name; 0: it left cleanly
		}
		if c.q.now().Sub(time.UnixMilli(int64(score))) > c.cfg.deadAfter {
			return nil
		}
		if first < 0 {
			first = score
		} else if score > first {
			return fmt.Errorf("%w: %q in group %s heartbeats; give each running consumer its own ConsumerConfig.Name (or leave it empty for a unique one)", ErrNameInUse, c.cfg.name, c.group)
		}
		if !sleep(ctx, c.cfg.heartbeat) {
			return ctx.Err()
		}
	}
}

// isTransient tells network and loading errors (retry) from command errors.
func isTransient(err error) bool {
	if errors.Is(err, redis.ErrClosed) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"LOADING", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "MOVED", "ASK"} {
			if len(msg) >= len(p) && msg[:len(p)] == p {
				return true
			}
		}
		return false
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (c *Consumer[T]) report(err error) {
	c.q.log.Warn("streamq consumer", "queue", c.q.name, "group", c.group, "consumer", c.cfg.name, "err", err)
	if c.cfg.hooks.OnError != nil {
		c.cfg.hooks.OnError(err)
	}
}

// fetchLoop reads until ctx is cancelled (nil) or the client was closed
// (an error wrapping redis.ErrClosed). Acks are pipelined with reads.
func (c *Consumer[T]) fetchLoop(ctx context.Context) error {
	streams := []string{c.q.stream, c.keys.rs, ">", ">"}
	backoff := 50 * time.Millisecond
	pauseEvery := max(c.cfg.block/2, 10*time.Millisecond)
	var pauseChecked time.Time
	for ctx.Err() == nil {
		if time.Since(pauseChecked) >= pauseEvery {
			pauseChecked = time.Now()
			n, err := c.q.client.Exists(ctx, c.keys.pause).Result()
			if errors.Is(err, redis.ErrClosed) {
				return c.closedErr(err)
			}
			if err == nil { // else the read below reports the outage
				c.paused.Store(n == 1)
			}
		}
		if c.paused.Load() {
			sleep(ctx, pauseEvery)
			continue
		}
		if c.out.Load() > int64(c.cfg.prefetch-c.cfg.batch) {
			select {
			case <-c.wake:
			case <-ctx.Done():
			}
			continue
		}
		turn := false
		if c.gate != nil {
			var ok bool
			if ok, turn = c.gate.acquire(ctx, c.level); !ok {
				continue // ctx ended
			}
		}
		acks, rsAcks, resent := c.takeAcks()
		args := &redis.XReadGroupArgs{Group: c.group, Consumer: c.cfg.name, Streams: streams, Count: int64(c.cfg.batch), Block: c.cfg.block}
		if turn {
			args.Block = -1
		}
		var res []redis.XStream
		var err error
		// Holding deliver (read) until the batch is dispatched: a reconcile
		// never mistakes entries of a read in progress for stranded ones.
		c.deliver.RLock()
		if len(acks)+len(rsAcks) > 0 {
			// Busy path: acks and a non-blocking read in one round trip.
			// A blocking read is never pipelined: go-redis applies the plain
			// ReadTimeout to pipelines, which BLOCK could outlast.
			args.Block = -1
			pipe := c.q.client.Pipeline()
			a := c.queueAcks(ctx, pipe, acks, rsAcks, resent)
			read := pipe.XReadGroup(ctx, args)
			_ = execPipe(ctx, pipe)
			c.ackDone(ctx, a)
			res, err = read.Result()
		} else {
			res, err = c.q.client.XReadGroup(ctx, args).Result()
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			c.deliver.RUnlock()
		}
		if c.gate != nil {
			got := 0
			for _, st := range res {
				got += len(st.Messages)
			}
			c.gate.release(c.level, got)
		}
		switch {
		case err == nil:
			backoff = 50 * time.Millisecond
		case errors.Is(err, redis.Nil):
			c.deliver.RUnlock()
			continue
		case ctx.Err() != nil:
			continue
		case errors.Is(err, redis.ErrClosed):
			return c.closedErr(err)
		case isNoGroup(err):
			// The stream or group vanished (deleted, or a restart without
			// persistence): recreate and go on.
			c.report(fmt.Errorf("streamq: xreadgroup %s: %w; recreating the group", c.q.stream, err))
			if err := c.q.CreateGroup(ctx, c.group, c.cfg.fromNewest); err != nil {
				c.report(err)
			}
			continue
		default:
			// Network errors, timeouts, a restarting server: back off and
			// retry; never fatal. The lost reply may have delivered entries
			// nobody here saw: reconcile.
			c.report(fmt.Errorf("streamq: xreadgroup %s: %w", c.q.stream, err))
			c.q.reloadOnError(err)
			c.reconcileSoon()
			sleep(ctx, backoff)
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		var batch []delivery
		for _, st := range res {
			retry := st.Stream == c.keys.rs
			for _, m := range st.Messages {
				batch = append(batch, c.toDelivery(st.Stream, retry, m, 1))
			}
		}
		if ctx.Err() != nil {
			c.addHandback(batch)
			c.deliver.RUnlock()
			return nil
		}
		c.dispatch(batch)
		c.deliver.RUnlock()
	}
	return nil
}

func (c *Consumer[T]) closedErr(err error) error {
	return fmt.Errorf("streamq: consumer %s of group %s stopped: the redis client was closed while Run was running (close it only after Run returned): %w", c.cfg.name, c.group, err)
}

// toDelivery turns a stream entry into a delivery.
func (c *Consumer[T]) toDelivery(stream string, retry bool, m redis.XMessage, count int) delivery {
	d := delivery{id: m.ID, stream: stream, retry: retry, origID: m.ID, count: count}
	if retry {
		e, _ := m.Values["e"].(string)
		d.prior, d.origID, d.meta, d.payload, d.err = decodeEnvelope(e)
		if d.err != nil {
			d.origID = m.ID
			d.payload = e
		}
		return d
	}
	p, ok := m.Values[payloadField].(string)
	if !ok {
		d.err, d.noData = errNoPayload(m.ID), true
	}
	d.payload = p
	d.meta, _ = m.Values[metaField].(string)
	return d
}

// dispatch hands messages to the workers, or to the hand-back list after
// shutdown began.
func (c *Consumer[T]) dispatch(batch []delivery) {
	if len(batch) == 0 {
		return
	}
	c.dispMu.Lock()
	defer c.dispMu.Unlock()
	if c.closed {
		c.addHandback(batch)
		return
	}
	c.out.Add(int64(len(batch)))
	c.flightMu.Lock()
	for _, d := range batch {
		c.inflight[flightKey{d.retry, d.id}] = struct{}{}
	}
	c.flightMu.Unlock()
	if c.bh != nil {
		c.work <- batch
		return
	}
	for i := range batch {
		c.work <- batch[i : i+1]
	}
}

// worker runs handlers until the work channel is closed and drained.
func (c *Consumer[T]) worker(ctx context.Context) {
	for ds := range c.work {
		stopping := c.stopping.Load()
		if stopping {
			c.addHandback(ds)
		} else {
			c.busy.Add(1)
			if c.bh != nil {
				c.runBatch(ctx, ds)
			} else {
				c.runOne(ctx, ds[0])
			}
			c.busy.Add(-1)
		}
		c.finish(ds)
	}
}

func (c *Consumer[T]) addHandback(ds []delivery) {
	c.backMu.Lock()
	c.handback = append(c.handback, ds...)
	c.backMu.Unlock()
}

func (c *Consumer[T]) finish(ds []delivery) {
	c.flightMu.Lock()
	for _, d := range ds {
		delete(c.inflight, flightKey{d.retry, d.id})
	}
	c.flightMu.Unlock()
	c.out.Add(-int64(len(ds)))
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// msg builds the handler's view of a delivery.
func (c *Consumer[T]) msg(d delivery, v T, md meta) Msg[T] {
	return Msg[T]{
		ID: d.id, OriginalID: d.origID, Value: v, Headers: md.headers,
		deadline: md.deadline, timeout: md.timeout,
		Queue: c.q.name, Group: c.group, Consumer: c.cfg.name,
		Attempt:  d.prior + d.count,
		Enqueued: idTime(d.origID),
		ext:      &extender{client: c.q.client, stream: d.stream, group: c.group, consumer: c.cfg.name},
	}
}

// prepare decodes a delivery, dead-lettering it when it cannot run.
func (c *Consumer[T]) prepare(ctx context.Context, d delivery) (Msg[T], bool) {
	var zero T
	var md meta
	if d.err == nil && d.meta != "" {
		md, d.err = decodeMeta(d.meta)
	}
	if d.err != nil {
		c.toDead(ctx, d, c.msg(d, zero, md).Info(), d.err)
		return Msg[T]{}, false
	}
	if size := len(d.payload) + len(d.meta); size > c.q.maxPayload {
		// Written around the producer (XADD by hand, another library):
		// never handed to a handler that relies on the limit.
		c.toDead(ctx, d, c.msg(d, zero, md).Info(), fmt.Errorf("%w: entry %s is %d bytes, limit %d (Config.MaxPayloadBytes)", ErrPayloadTooLarge, d.origID, size, c.q.maxPayload))
		return Msg[T]{}, false
	}
	if !md.deadline.IsZero() && c.q.now().After(md.deadline) {
		c.toDead(ctx, d, c.msg(d, zero, md).Info(), fmt.Errorf("%w: message %s had to be handled by %s", ErrDeadline, d.origID, md.deadline.UTC().Format(time.RFC3339Nano)))
		return Msg[T]{}, false
	}
	v, err := c.q.decode(d.payload)
	m := c.msg(d, v, md)
	if err != nil {
		c.toDead(ctx, d, m.Info(), err)
		return Msg[T]{}, false
	}
	if m.Attempt > c.cfg.maxDeliveries {
		// Delivered MaxDeliveries times without a result: the consumers
		// holding it died or timed out each time (a poison message).
		c.toDead(ctx, d, m.Info(), fmt.Errorf("streamq: delivered %d times without a result (consumers died or exceeded the visibility timeout)", m.Attempt-1))
		return Msg[T]{}, false
	}
	return m, true
}

func (c *Consumer[T]) runOne(ctx context.Context, d delivery) {
	if c.runAggregate(ctx, d) {
		return
	}
	m, ok := c.prepare(ctx, d)
	if !ok {
		return
	}
	var err error
	if c.ah != nil {
		err = c.call(ctx, m.deadline, m.timeout, func(ctx context.Context) error { return c.ah(ctx, "", []Msg[T]{m}) })
	} else {
		err = c.call(ctx, m.deadline, m.timeout, func(ctx context.Context) error { return c.h(ctx, m) })
	}
	c.settle(ctx, d, m.Info(), err)
}

// runAggregate handles d when it is an aggregate (see Aggregate) and
// reports whether it was one. The aggregate is settled as one entry.
func (c *Consumer[T]) runAggregate(ctx context.Context, d delivery) bool {
	if d.err != nil || d.meta == "" || !strings.Contains(d.meta, ":agg") {
		return false
	}
	md, err := decodeMeta(d.meta)
	if err != nil || md.agg == "" {
		return false // prepare dead-letters what does not decode
	}
	var zero T
	info := c.msg(d, zero, meta{}).Info()
	if info.Attempt > c.cfg.maxDeliveries {
		c.toDead(ctx, d, info, fmt.Errorf("streamq: aggregate delivered %d times without a result (consumers died or exceeded the visibility timeout)", info.Attempt-1))
		return true
	}
	metas, payloads, err := unpackAggregate(d.payload)
	if err != nil {
		c.toDead(ctx, d, info, err)
		return true
	}
	ms := make([]Msg[T], len(payloads))
	for i, p := range payloads {
		mmd, err := decodeMeta(metas[i])
		var v T
		if err == nil {
			v, err = c.q.decode(p)
		}
		if err != nil {
			c.toDead(ctx, d, info, fmt.Errorf("aggregate %s, message %d of %d: %w", md.agg, i+1, len(payloads), err))
			return true
		}
		ms[i] = c.msg(d, v, mmd)
	}
	err = c.call(ctx, time.Time{}, 0, func(ctx context.Context) error {
		switch {
		case c.ah != nil:
			return c.ah(ctx, md.agg, ms)
		case c.bh != nil:
			return c.bh(ctx, ms)
		}
		for _, m := range ms {
			if err := c.h(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	c.settle(ctx, d, info, err)
	return true
}

func (c *Consumer[T]) runBatch(ctx context.Context, ds []delivery) {
	ms := make([]Msg[T], 0, len(ds))
	ok := make([]delivery, 0, len(ds))
	for _, d := range ds {
		if c.runAggregate(ctx, d) {
			continue // an aggregate is a batch of its own
		}
		if m, good := c.prepare(ctx, d); good {
			ms = append(ms, m)
			ok = append(ok, d)
		}
	}
	if len(ms) == 0 {
		return
	}
	var deadline time.Time
	var timeout time.Duration
	for _, m := range ms { // the batch's context ends with its most urgent message
		if !m.deadline.IsZero() && (deadline.IsZero() || m.deadline.Before(deadline)) {
			deadline = m.deadline
		}
		if m.timeout > 0 && (timeout == 0 || m.timeout < timeout) {
			timeout = m.timeout
		}
	}
	err := c.call(ctx, deadline, timeout, func(ctx context.Context) error { return c.bh(ctx, ms) })
	if err == nil {
		for i, d := range ok {
			c.settle(ctx, d, ms[i].Info(), nil)
		}
		return
	}
	c.retryBatch(ctx, ok, ms, err)
}

// retryBatch settles the messages of a failed batch handler call: those
// out of deliveries (or failed with ErrSkipRetry) go to the dead-letter
// stream one by one; the rest are scheduled together, in one script call
// and with one due time (Backoff of the lowest attempt among them), so they
// come back as one batch.
func (c *Consumer[T]) retryBatch(ctx context.Context, ds []delivery, ms []Msg[T], err error) {
	if c.abandoned.Load() || (c.hardStop.Load() && ctx.Err() != nil) {
		return // cut off by the shutdown deadline: left pending (see settle)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var retry []int
	lowest := 0
	for i, m := range ms {
		if errors.Is(err, ErrSkipRetry) || m.Attempt >= c.cfg.maxDeliveries {
			c.toDead(rctx, ds[i], m.Info(), err)
			continue
		}
		if len(retry) == 0 || m.Attempt < lowest {
			lowest = m.Attempt
		}
		retry = append(retry, i)
	}
	if len(retry) == 0 {
		return
	}
	delay := max(c.cfg.backoff(lowest, err), 0)
	due := c.q.now().Add(delay)
	args := make([]any, 0, 3+3*len(retry))
	args = append(args, c.group, c.cfg.name, ceilMilli(due))
	for _, i := range retry {
		d := ds[i]
		args = append(args, boolArg(d.retry), d.id, encodeEnvelope(ms[i].Attempt, d.origID, d.meta, d.payload))
	}
	res, rerr := retryBatchScript.Run(rctx, c.q.client, []string{c.q.stream, c.keys.rs, c.keys.retry}, args...).Int64Slice()
	if rerr != nil {
		// Left pending: reclaimed after the visibility timeout.
		c.report(fmt.Errorf("streamq: schedule retry of a batch of %d: %w", len(retry), rerr))
		return
	}
	moved := false
	for j, i := range retry {
		if j < len(res) && res[j] == 1 {
			moved = true
			if c.cfg.hooks.OnRetry != nil {
				c.cfg.hooks.OnRetry(ms[i].Info(), err, delay)
			}
		}
	}
	if moved {
		c.tickAt(due)
	}
}

// call runs a handler with the message's deadline, its timeout (or
// HandlerTimeout) and panic recovery.
func (c *Consumer[T]) call(ctx context.Context, deadline time.Time, timeout time.Duration, f func(context.Context) error) (err error) {
	if timeout == 0 {
		timeout = c.cfg.handlerTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return f(ctx)
}

// PanicError is the failure recorded when a handler panics (the same shape
// in every plumb package). The delivery counts as failed and is retried like
// any other failure; hooks and dead letters see this error.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the goroutine's stack at recovery
}

// Error returns "streamq: panic: <value>".
func (e *PanicError) Error() string { return fmt.Sprintf("streamq: panic: %v", e.Value) }

// Unwrap returns Value when it is an error (panic(err)), else nil.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// settle acknowledges, retries or dead-letters after a handler returned.
func (c *Consumer[T]) settle(ctx context.Context, d delivery, info MsgInfo, err error) {
	if c.abandoned.Load() {
		return // Run gave up on this handler: the message is reclaimed
	}
	if err == nil {
		c.ackMu.Lock()
		if d.retry {
			c.rsAcks = append(c.rsAcks, d.id)
		} else {
			c.acks = append(c.acks, d.id)
		}
		c.acking[flightKey{d.retry, d.id}] = struct{}{}
		c.ackMu.Unlock()
		if c.cfg.hooks.OnAck != nil {
			c.cfg.hooks.OnAck(info)
		}
		return
	}
	if c.hardStop.Load() && ctx.Err() != nil {
		// Cut off by the shutdown deadline: leave it pending; the group
		// takes it over from this (departed) consumer.
		return
	}
	// Redis work below must outlive a cancelled handler context.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if errors.Is(err, ErrSkipRetry) || info.Attempt >= c.cfg.maxDeliveries {
		c.toDead(rctx, d, info, err)
		return
	}
	delay := max(c.cfg.backoff(info.Attempt, err), 0)
	due := c.q.now().Add(delay)
	env := encodeEnvelope(info.Attempt, d.origID, d.meta, d.payload)
	n, rerr := retryScript.Run(rctx, c.q.client, []string{d.stream, c.keys.retry},
		c.group, d.id, c.cfg.name, ceilMilli(due), env, boolArg(d.retry)).Int()
	if rerr != nil {
		// Left pending: reclaimed after the visibility timeout.
		c.report(fmt.Errorf("streamq: schedule retry of %s: %w", d.id, rerr))
		return
	}
	if n == 1 {
		if c.cfg.hooks.OnRetry != nil {
			c.cfg.hooks.OnRetry(info, err, delay)
		}
		c.tickAt(due)
	}
}

// tickAt makes the tick loop run no later than due, to move a retry
// scheduled here without waiting for the next heartbeat.
func (c *Consumer[T]) tickAt(due time.Time) {
	for {
		cur := c.wantTick.Load()
		if cur != 0 && cur <= ceilMilli(due) {
			return
		}
		if c.wantTick.CompareAndSwap(cur, ceilMilli(due)) {
			select {
			case c.tickWake <- struct{}{}:
			default:
			}
			return
		}
	}
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// toDead moves a delivery to the dead-letter stream.
func (c *Consumer[T]) toDead(ctx context.Context, d delivery, info MsgInfo, cause error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	errText := cause.Error()
	if len(errText) > 4096 {
		errText = errText[:4096]
	}
	args := []any{c.group, d.id, c.cfg.name, boolArg(d.retry), c.q.deadMaxLen,
		"id", d.origID, "a", strconv.Itoa(info.Attempt), "err", errText,
		"g", c.group, "c", c.cfg.name, "t", strconv.FormatInt(c.q.now().UnixMilli(), 10)}
	if !d.noData {
		args = append(args, payloadField, d.payload)
	}
	if d.meta != "" {
		args = append(args, metaField, d.meta)
	}
	res, err := deadScript.Run(rctx, c.q.client, []string{d.stream, c.keys.dead}, args...).Result()
	if err != nil {
		c.report(fmt.Errorf("streamq: dead-letter %s: %w", d.id, err))
		return
	}
	if _, moved := res.(string); moved && c.cfg.hooks.OnDead != nil {
		c.cfg.hooks.OnDead(info, cause)
	}
}

func (c *Consumer[T]) takeAcks() (acks, rsAcks []string, resent bool) {
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	acks, rsAcks, resent = c.acks, c.rsAcks, c.resent
	c.acks, c.rsAcks, c.resent = nil, nil, false
	return acks, rsAcks, resent
}

// ackCmds are the commands of one ack flush.
type ackCmds struct {
	acks, rsAcks []string
	resent       bool
	main, rs     *redis.IntCmd
	del          *redis.IntCmd
}

func (c *Consumer[T]) queueAcks(ctx context.Context, pipe redis.Pipeliner, acks, rsAcks []string, resent bool) *ackCmds {
	a := &ackCmds{acks: acks, rsAcks: rsAcks, resent: resent}
	if len(acks) > 0 {
		a.main = pipe.XAck(ctx, c.q.stream, c.group, acks...)
	}
	if len(rsAcks) > 0 {
		a.rs = pipe.XAck(ctx, c.keys.rs, c.group, rsAcks...)
		a.del = pipe.XDel(ctx, c.keys.rs, rsAcks...)
	}
	return a
}

// ackDone settles a flush after its replies came: on failure the acks are
// queued again (XACK is idempotent); on success they are confirmed, and
// acknowledgements that found fewer entries pending than were sent are
// duplicate deliveries: another consumer had taken those messages over (or
// acknowledged them first) and ran them too. After a failed flush whose
// command may have run, the retry's shortfall is not counted.
func (c *Consumer[T]) ackDone(ctx context.Context, a *ackCmds) {
	var err error
	for _, cmd := range []*redis.IntCmd{a.main, a.rs, a.del} {
		if cmd != nil && cmd.Err() != nil && err == nil {
			err = cmd.Err()
		}
	}
	if err != nil {
		c.report(fmt.Errorf("streamq: flush acks: %w", err))
		c.ackMu.Lock()
		c.acks = append(c.acks, a.acks...)
		c.rsAcks = append(c.rsAcks, a.rsAcks...)
		c.resent = true
		c.ackMu.Unlock()
		c.reconcileSoon()
		return
	}
	c.ackMu.Lock()
	for _, id := range a.acks {
		delete(c.acking, flightKey{false, id})
	}
	for _, id := range a.rsAcks {
		delete(c.acking, flightKey{true, id})
	}
	c.ackMu.Unlock()
	if a.resent {
		return
	}
	dup := int64(0)
	if a.main != nil {
		dup += int64(len(a.acks)) - a.main.Val()
	}
	if a.rs != nil {
		dup += int64(len(a.rsAcks)) - a.rs.Val()
	}
	if dup > 0 {
		c.count(ctx, "duplicate", dup)
		if c.cfg.hooks.OnDuplicate != nil {
			c.cfg.hooks.OnDuplicate(int(dup))
		}
	}
}

// count adds n to one of the group's event counters (GroupStats).
func (c *Consumer[T]) count(ctx context.Context, field string, n int64) {
	if err := c.q.client.HIncrBy(ctx, c.keys.ctr, field, n).Err(); err != nil && ctx.Err() == nil {
		c.report(fmt.Errorf("streamq: count %s: %w", field, err))
	}
}

// flushAcks sends pending acks on their own; on failure they are kept.
func (c *Consumer[T]) flushAcks(ctx context.Context) {
	acks, rsAcks, resent := c.takeAcks()
	if len(acks)+len(rsAcks) == 0 {
		return
	}
	pipe := c.q.client.Pipeline()
	a := c.queueAcks(ctx, pipe, acks, rsAcks, resent)
	_ = execPipe(ctx, pipe)
	c.ackDone(ctx, a)
}

// ackLoop flushes acks that no read picked up (idle or blocked reader).
func (c *Consumer[T]) ackLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.ackEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.flushAcks(ctx)
		}
	}
}
