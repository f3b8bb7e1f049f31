package streamq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// tickResult is what one run of tickScript reports.
type tickResult struct {
	stale   []string  // consumers of the group whose heartbeat is older than DeadAfter
	nextDue time.Time // earliest future delayed message or retry; zero if none
	full    bool      // the per-tick move limit was reached: tick again soon
}

const tickMoveLimit = 200

// pinWarnAge is how old the oldest unacknowledged entry may get before
// consumers log that its group pins the stream (see TrimResult.OldestKept).
const pinWarnAge = time.Hour

// tick heartbeats (when beat), moves due delayed messages and retries, and
// lists stale consumers.
func (c *Consumer[T]) tick(ctx context.Context, beat bool) (tickResult, error) {
	now := c.q.now()
	me := ""
	if beat {
		me = c.cfg.name
	}
	res, err := tickScript.Run(ctx, c.q.client,
		[]string{c.q.stream, c.q.delayed, c.keys.retry, c.keys.rs, c.keys.hb},
		now.UnixMilli(), me, now.Add(-c.cfg.deadAfter).UnixMilli(), tickMoveLimit).Slice()
	if err != nil {
		return tickResult{}, fmt.Errorf("streamq: tick %s: %w", c.q.stream, err)
	}
	var r tickResult
	if len(res) != 5 {
		return r, fmt.Errorf("streamq: tick %s: unexpected reply %v", c.q.stream, res)
	}
	moved, _ := res[0].(int64)
	rmoved, _ := res[1].(int64)
	r.full = moved >= tickMoveLimit || rmoved >= tickMoveLimit
	stale, _ := res[2].([]any)
	for _, s := range stale {
		if name, ok := s.(string); ok && name != c.cfg.name {
			r.stale = append(r.stale, name)
		}
	}
	for _, v := range res[3:] {
		s, _ := v.(string)
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			t := time.UnixMilli(int64(f))
			if r.nextDue.IsZero() || t.Before(r.nextDue) {
				r.nextDue = t
			}
		}
	}
	return r, nil
}

// heartLoop records this consumer's heartbeat every DeadAfter/5 until ctx
// (the consumer's background context) is cancelled. It is a goroutine of
// its own, not part of tickLoop, so slow reclaim or trim work (or a loaded
// machine) never delays a beat: a live consumer declared dead loses its
// messages to a peer and they run twice.
func (c *Consumer[T]) heartLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t0 := time.Now()
		err := c.q.client.ZAdd(ctx, c.keys.hb, redis.Z{Score: float64(c.q.now().UnixMilli()), Member: c.cfg.name}).Err()
		c.beaten(t0, err)
		if err != nil && ctx.Err() == nil {
			c.report(fmt.Errorf("streamq: heartbeat %s: %w", c.keys.hb, err))
		}
	}
}

// tickLoop owns due moves, reclaiming, reaping and trimming. It ends when
// ctx (the consumer's background context) is cancelled; after runCtx is
// cancelled it only moves due messages (shutdown in progress).
func (c *Consumer[T]) tickLoop(ctx, runCtx context.Context) {
	var lastIdle, lastScan, lastTrim time.Time
	lastTrim = time.Now()
	nextBeat := time.Now().Add(c.cfg.heartbeat)
	var nextDue time.Time
	for {
		wait := time.Until(nextBeat)
		if !nextDue.IsZero() {
			wait = min(wait, c.q.now().Sub(nextDue)*-1)
		}
		if w := c.wantTick.Load(); w != 0 {
			wait = min(wait, time.Until(time.UnixMilli(w)))
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-c.tickWake:
				t.Stop()
				continue
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		c.wantTick.Store(0)
		nextBeat = time.Now().Add(c.cfg.heartbeat)
		t0 := time.Now()
		r, err := c.tick(ctx, false) // heartLoop beats
		if err != nil || time.Since(t0) > c.cfg.heartbeat {
			c.beaten(t0, err) // a slow or failed tick distrusts too
		}
		if err != nil {
			c.q.reloadOnError(err)
			if ctx.Err() == nil {
				c.report(err)
			}
			nextDue = time.Time{}
			continue
		}
		nextDue = r.nextDue
		if r.full {
			nextDue = c.q.now()
		}
		if runCtx.Err() != nil || c.paused.Load() || !c.trusted() {
			// Shutting down or paused: take nobody's messages. Not trusted:
			// Redis was not reachable promptly for DeadAfter, so peers'
			// missing heartbeats and idle times prove nothing yet.
			continue
		}
		for _, name := range r.stale {
			if !c.reclaimFrom(ctx, name) {
				nextBeat = time.Now().Add(10 * time.Millisecond) // out of room: come back soon
			}
		}
		now := time.Now()
		if now.Sub(lastIdle) >= min(c.cfg.visibility/4, time.Second) {
			lastIdle = now
			c.reclaimIdle(ctx)
		}
		if now.Sub(lastScan) >= c.cfg.deadAfter {
			lastScan = now
			c.scanConsumers(ctx)
		}
		if !c.cfg.noTrim && now.Sub(lastTrim) >= c.cfg.trimEvery {
			lastTrim = now
			res, err := c.q.Trim(ctx)
			if err != nil {
				c.report(err)
				continue
			}
			if res.Dropped > 0 && c.cfg.hooks.OnDrop != nil {
				c.cfg.hooks.OnDrop(res.Dropped)
			}
			if age := res.Age(c.q.now()); res.PinnedBy != "" && age > pinWarnAge {
				// An abandoned group keeps every entry since: say which.
				c.q.log.Warn("streamq: a consumer group has not acknowledged an old entry; the stream cannot be trimmed past it (delete the group with XGROUP DESTROY if it is abandoned)",
					"queue", c.q.name, "group", res.PinnedBy, "entry", res.OldestKept, "age", age.Round(time.Second))
			}
		}
	}
}

// room reports whether this consumer may take more messages.
func (c *Consumer[T]) room() bool { return c.out.Load() < int64(c.cfg.prefetch) }

// reclaimFrom takes over the pending messages of a dead consumer
// (XPENDING for that consumer + XCLAIM; Redis 7 drops entries whose message
// was trimmed), and deletes the consumer once it holds nothing. It returns
// false when it stopped for lack of room with messages left.
func (c *Consumer[T]) reclaimFrom(ctx context.Context, from string) bool {
	empty := true
	for _, s := range []struct {
		key   string
		retry bool
	}{{c.q.stream, false}, {c.keys.rs, true}} {
		for {
			if !c.room() {
				return false
			}
			pend, err := c.q.client.XPendingExt(ctx, &redis.XPendingExtArgs{
				Stream: s.key, Group: c.group, Start: "-", End: "+", Count: int64(c.cfg.batch), Consumer: from,
			}).Result()
			if err != nil {
				if !isNoGroup(err) {
					c.report(fmt.Errorf("streamq: xpending %s %s: %w", s.key, from, err))
				}
				empty = false
				break
			}
			if len(pend) == 0 {
				break
			}
			empty = false
			ids := make([]string, len(pend))
			counts := make(map[string]int, len(pend))
			minIdle := pend[0].Idle
			for i, p := range pend {
				ids[i] = p.ID
				counts[p.ID] = int(p.RetryCount)
				minIdle = min(minIdle, p.Idle)
			}
			// MinIdle makes concurrent reclaimers race safely: once one has
			// claimed an entry its idle time is reset and the others skip it.
			c.deliver.RLock() // until dispatched (see reconcile)
			msgs, err := c.q.client.XClaim(ctx, &redis.XClaimArgs{
				Stream: s.key, Group: c.group, Consumer: c.cfg.name, MinIdle: max(minIdle, time.Millisecond), Messages: ids,
			}).Result()
			if err != nil {
				c.deliver.RUnlock()
				c.report(fmt.Errorf("streamq: xclaim %s from %s: %w", s.key, from, err))
				break
			}
			batch := make([]delivery, 0, len(msgs))
			for _, m := range msgs {
				batch = append(batch, c.toDelivery(s.key, s.retry, m, counts[m.ID]+1))
			}
			// The hook runs before the handlers, so it always precedes
			// their acks.
			if len(batch) > 0 && c.cfg.hooks.OnReclaim != nil {
				c.cfg.hooks.OnReclaim(from, len(batch))
			}
			c.dispatch(batch)
			c.deliver.RUnlock()
			if len(pend) < c.cfg.batch || len(msgs) == 0 {
				break
			}
		}
	}
	if empty {
		c.reap(ctx, from)
	}
	return true
}

// reap deletes a consumer that holds no pending messages.
func (c *Consumer[T]) reap(ctx context.Context, name string) {
	err := delConsumerScript.Run(ctx, c.q.client, []string{c.q.stream, c.keys.rs, c.keys.hb}, c.group, name).Err()
	if err != nil {
		c.report(fmt.Errorf("streamq: reap consumer %s: %w", name, err))
	}
}

// reclaimIdle takes over messages pending longer than the visibility
// timeout with any consumer (XAUTOCLAIM). Entries whose message was trimmed
// are dropped from the pending list by Redis (7.0+) and reported.
func (c *Consumer[T]) reclaimIdle(ctx context.Context) {
	for _, s := range []struct {
		key   string
		retry bool
	}{{c.q.stream, false}, {c.keys.rs, true}} {
		start := c.cursors[s.key]
		if start == "" {
			start = "0-0"
		}
		if !c.room() {
			continue
		}
		c.deliver.RLock() // until dispatched (see reconcile)
		c.reclaimIdleStream(ctx, s.key, s.retry, start)
		c.deliver.RUnlock()
	}
}

// reclaimIdleStream is one XAUTOCLAIM page of reclaimIdle.
func (c *Consumer[T]) reclaimIdleStream(ctx context.Context, key string, retry bool, start string) {
	msgs, next, deleted, err := xautoclaim(ctx, c.q.client, key, c.group, c.cfg.name, c.cfg.visibility, start, c.cfg.batch)
	if err != nil {
		if !isNoGroup(err) && !errors.Is(err, redis.Nil) {
			c.report(fmt.Errorf("streamq: xautoclaim %s: %w", key, err))
		}
		return
	}
	c.cursors[key] = next
	if len(deleted) > 0 {
		c.q.log.Info("streamq: dropped pending entries of trimmed messages", "stream", key, "group", c.group, "n", len(deleted))
	}
	// Skip what is still running here: XAUTOCLAIM just extended it.
	c.flightMu.Lock()
	fresh := msgs[:0]
	for _, m := range msgs {
		if _, running := c.inflight[flightKey{retry, m.ID}]; !running {
			fresh = append(fresh, m)
		}
	}
	c.flightMu.Unlock()
	if len(fresh) == 0 {
		return
	}
	counts := map[string]int{}
	pend, err := c.q.client.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: key, Group: c.group, Start: fresh[0].ID, End: fresh[len(fresh)-1].ID,
		Count: int64(len(fresh)) + c.out.Load() + 1, Consumer: c.cfg.name,
	}).Result()
	if err == nil {
		for _, p := range pend {
			counts[p.ID] = int(p.RetryCount)
		}
	}
	batch := make([]delivery, 0, len(fresh))
	for _, m := range fresh {
		n := counts[m.ID]
		if n == 0 {
			n = 2 // unknown: at least the original delivery and this one
		}
		batch = append(batch, c.toDelivery(key, retry, m, n))
	}
	if c.cfg.hooks.OnReclaim != nil {
		c.cfg.hooks.OnReclaim("", len(batch))
	}
	c.dispatch(batch)
}

// scanConsumers finds consumers of the group that never heartbeat (crashed
// before their first beat, or not streamq consumers) and have been idle for
// DeadAfter: their messages are reclaimed and empty ones are reaped.
func (c *Consumer[T]) scanConsumers(ctx context.Context) {
	infos, err := c.q.client.XInfoConsumers(ctx, c.q.stream, c.group).Result()
	if err != nil {
		if !isNoGroup(err) {
			c.report(fmt.Errorf("streamq: xinfo consumers %s: %w", c.q.stream, err))
		}
		return
	}
	beats, err := c.q.client.ZRangeWithScores(ctx, c.keys.hb, 0, -1).Result()
	if err != nil {
		c.report(fmt.Errorf("streamq: heartbeats %s: %w", c.keys.hb, err))
		return
	}
	known := make(map[string]bool, len(beats))
	for _, b := range beats {
		if name, ok := b.Member.(string); ok {
			known[name] = true
		}
	}
	for _, in := range infos {
		if in.Name == c.cfg.name || known[in.Name] || in.Idle < c.cfg.deadAfter {
			continue
		}
		if in.Pending > 0 {
			c.reclaimFrom(ctx, in.Name)
		} else {
			c.reap(ctx, in.Name)
		}
	}
}

// giveBack returns messages read but never started to the group: they stay
// pending under this consumer with their delivery counter restored and an
// idle time past the visibility timeout, so any consumer takes them at once
// (leave marks this consumer dead for the fast path too).
func (c *Consumer[T]) giveBack(ctx context.Context) {
	c.backMu.Lock()
	back := c.handback
	c.handback = nil
	c.backMu.Unlock()
	type key struct {
		stream string
		count  int
	}
	groups := map[key][]string{}
	for _, d := range back {
		k := key{d.stream, d.count}
		groups[k] = append(groups[k], d.id)
	}
	idle := (c.cfg.visibility + c.cfg.deadAfter).Milliseconds()
	for k, ids := range groups {
		args := []any{"xclaim", k.stream, c.group, c.cfg.name, 0}
		for _, id := range ids {
			args = append(args, id)
		}
		args = append(args, "idle", idle, "retrycount", max(k.count-1, 0), "justid")
		if err := c.q.client.Do(ctx, args...).Err(); err != nil {
			c.report(fmt.Errorf("streamq: hand back %d messages: %w", len(ids), err))
		}
	}
}

// leave removes this consumer from the group if it holds nothing, or else
// marks its heartbeat stale so the others take its messages over now.
func (c *Consumer[T]) leave(ctx context.Context) {
	n, err := delConsumerScript.Run(ctx, c.q.client, []string{c.q.stream, c.keys.rs, c.keys.hb}, c.group, c.cfg.name).Int()
	if err != nil {
		c.report(fmt.Errorf("streamq: leave group: %w", err))
		return
	}
	if n == 0 {
		if err := c.q.client.ZAdd(ctx, c.keys.hb, redis.Z{Score: 0, Member: c.cfg.name}).Err(); err != nil {
			c.report(fmt.Errorf("streamq: leave group: %w", err))
		}
	}
}

// xautoclaim runs XAUTOCLAIM through Do and parses its reply: the next
// cursor, the claimed entries and (Redis 7) the IDs of pending entries
// whose message was deleted, which Redis dropped from the pending list.
// Redis 6.2 replies with two elements and a nil for each deleted entry.
// (go-redis's XAutoClaim drops the third element; XAutoClaimWithDeleted
// needs go-redis v9.20.)
func xautoclaim(ctx context.Context, client redis.UniversalClient, stream, group, consumer string, minIdle time.Duration, start string, count int) ([]redis.XMessage, string, []string, error) {
	v, err := client.Do(ctx, "xautoclaim", stream, group, consumer, max(minIdle.Milliseconds(), 0), start, "count", count).Result()
	if err != nil {
		return nil, "", nil, err
	}
	return parseXAutoClaim(v)
}

func parseXAutoClaim(v any) (msgs []redis.XMessage, next string, deleted []string, err error) {
	bad := func(what string) error { return fmt.Errorf("streamq: unexpected XAUTOCLAIM reply (%s): %v", what, v) }
	top, ok := v.([]any)
	if !ok || len(top) < 2 {
		return nil, "", nil, bad("not an array of 2 or 3")
	}
	if next, ok = top[0].(string); !ok {
		return nil, "", nil, bad("cursor")
	}
	entries, ok := top[1].([]any)
	if !ok && top[1] != nil {
		return nil, "", nil, bad("entries")
	}
	for _, e := range entries {
		if e == nil {
			continue // Redis 6.2: a deleted entry
		}
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, "", nil, bad("entry")
		}
		id, ok := pair[0].(string)
		if !ok {
			return nil, "", nil, bad("entry ID")
		}
		m := redis.XMessage{ID: id}
		if pair[1] != nil {
			kv, ok := pair[1].([]any)
			if !ok || len(kv)%2 != 0 {
				return nil, "", nil, bad("entry fields")
			}
			m.Values = make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, _ := kv[i].(string)
				m.Values[k] = kv[i+1]
			}
		}
		msgs = append(msgs, m)
	}
	if len(top) > 2 {
		ids, ok := top[2].([]any)
		if !ok && top[2] != nil {
			return nil, "", nil, bad("deleted IDs")
		}
		for _, id := range ids {
			if s, ok := id.(string); ok {
				deleted = append(deleted, s)
			}
		}
	}
	return msgs, next, deleted, nil
}
