package streamq

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// flightKey names a delivery: its entry ID and whether it came from the
// group's retry stream (IDs of the two streams can be equal).
type flightKey struct {
	retry bool
	id    string
}

// reconcileEvery is how often a consumer compares its own pending list in
// Redis with what it holds. A read whose reply is lost (a killed
// connection, a server killed after it executed the read, a go-redis
// retry that hides the failure) leaves entries pending under this
// consumer's name that it never saw; without this they would wait for
// the visibility timeout.
const reconcileEvery = 500 * time.Millisecond

// reconcileSoon asks the reconcile loop to run now.
func (c *Consumer[T]) reconcileSoon() {
	select {
	case c.wakeRec <- struct{}{}:
	default:
	}
}

// reconcileLoop runs reconcile every reconcileEvery and when woken, until
// ctx (the consumer's background context) is cancelled; after runCtx is
// cancelled (shutdown) it only waits.
func (c *Consumer[T]) reconcileLoop(ctx, runCtx context.Context) {
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.wakeRec:
		}
		if runCtx.Err() != nil || c.paused.Load() {
			continue
		}
		c.reconcile(ctx)
	}
}

// reconcile finds entries pending under this consumer's name (on the stream
// and the retry stream) that it neither runs nor is acknowledging, and
// delivers them again. It holds deliver exclusively, so no read or claim of
// this consumer is between Redis and dispatch meanwhile: every pending
// entry of ours that is not held here was lost on the way. The claim keeps
// the delivery counter (RETRYCOUNT): the handler never saw the lost
// delivery. Two pipelined XPENDINGs in the common case of nothing lost.
func (c *Consumer[T]) reconcile(ctx context.Context) {
	c.deliver.Lock()
	defer c.deliver.Unlock()
	room := int64(c.cfg.prefetch) - c.out.Load()
	if room <= 0 {
		return
	}
	page := int64(c.cfg.prefetch + 2*c.cfg.batch)
	pipe := c.q.client.Pipeline()
	streams := []struct {
		key   string
		retry bool
		cmd   *redis.XPendingExtCmd
	}{{key: c.q.stream}, {key: c.keys.rs, retry: true}}
	for i := range streams {
		streams[i].cmd = pipe.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: streams[i].key, Group: c.group, Start: "-", End: "+", Count: page, Consumer: c.cfg.name,
		})
	}
	_ = execPipe(ctx, pipe)
	found := 0
	for _, s := range streams {
		pend, err := s.cmd.Result()
		if err != nil {
			if !isNoGroup(err) && ctx.Err() == nil {
				c.report(fmt.Errorf("streamq: reconcile: xpending %s: %w", s.key, err))
			}
			continue
		}
		byCount := map[int64][]string{}
		minIdle := time.Duration(-1)
		c.flightMu.Lock()
		c.ackMu.Lock()
		for _, p := range pend {
			k := flightKey{s.retry, p.ID}
			_, running := c.inflight[k]
			_, acking := c.acking[k]
			if running || acking || int64(found) >= room {
				continue
			}
			found++
			byCount[p.RetryCount] = append(byCount[p.RetryCount], p.ID)
			if minIdle < 0 || p.Idle < minIdle {
				minIdle = p.Idle
			}
		}
		c.ackMu.Unlock()
		c.flightMu.Unlock()
		for n, ids := range byCount {
			// MinIdle: an entry a peer reclaimed meanwhile (its idle time was
			// reset) stays the peer's.
			args := []any{"xclaim", s.key, c.group, c.cfg.name, max(minIdle.Milliseconds(), 0)}
			for _, id := range ids {
				args = append(args, id)
			}
			args = append(args, "retrycount", n)
			res, err := c.q.client.Do(ctx, args...).Result()
			if err != nil {
				if ctx.Err() == nil {
					c.report(fmt.Errorf("streamq: reconcile: xclaim %s: %w", s.key, err))
				}
				continue
			}
			msgs, err := parseEntries(res)
			if err != nil {
				c.report(err)
				continue
			}
			batch := make([]delivery, 0, len(msgs))
			for _, m := range msgs {
				batch = append(batch, c.toDelivery(s.key, s.retry, m, int(n)))
			}
			if len(batch) == 0 {
				continue
			}
			c.count(ctx, "stranded", int64(len(batch)))
			if c.cfg.hooks.OnStranded != nil {
				c.cfg.hooks.OnStranded(len(batch))
			}
			c.dispatch(batch)
		}
	}
}

// parseEntries parses an array of stream entries (XCLAIM's reply).
func parseEntries(v any) ([]redis.XMessage, error) {
	msgs, _, _, err := parseXAutoClaim([]any{"0-0", v})
	if err != nil {
		return nil, fmt.Errorf("streamq: unexpected XCLAIM reply: %v", v)
	}
	return msgs, nil
}

// trusted reports whether this consumer's own heartbeats have succeeded
// promptly for at least DeadAfter. Only then may it conclude that a peer
// which did not heartbeat is dead: when Redis was paused, restarting or
// unreachable for this consumer too, the peer's silence proves nothing.
func (c *Consumer[T]) trusted() bool {
	since := c.reach.Load()
	return since != 0 && time.Since(time.UnixMilli(since)) >= c.cfg.deadAfter
}

// beaten records the outcome of one heartbeat that started at t0.
func (c *Consumer[T]) beaten(t0 time.Time, err error) {
	if err != nil || time.Since(t0) > c.cfg.heartbeat {
		c.reach.Store(0)
		return
	}
	c.reach.CompareAndSwap(0, t0.UnixMilli())
}
