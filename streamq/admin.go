package streamq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// TrimResult reports what one Trim removed.
type TrimResult struct {
	// Trimmed counts entries every group had acknowledged.
	Trimmed int64
	// Dropped counts entries removed by the Config.MaxLen cap that some group
	// had not acknowledged yet (lost to that group). Also added to
	// Stats.Dropped.
	Dropped int64
	// OldestKept is the ID of the oldest entry left in the stream ("" when
	// it is empty). With groups, it is there because PinnedBy has not
	// acknowledged it (or, after the MaxLen cap, it is simply the oldest).
	// A stale or abandoned group pins the stream: its OldestKept ages and
	// the stream grows. Consumers log a warning when it is over an hour old.
	OldestKept string
	// PinnedBy is the group with the oldest unacknowledged entry, "" when
	// the stream has no groups or is empty.
	PinnedBy string
}

// Age returns how long the oldest kept entry has been in the stream
// (from its ID), zero when the stream is empty.
func (r TrimResult) Age(now time.Time) time.Duration {
	if r.OldestKept == "" {
		return 0
	}
	return max(now.Sub(idTime(r.OldestKept)), 0)
}

// Trim removes, atomically, the stream entries that every consumer group
// has acknowledged (XTRIM MINID of the lowest pending or next undelivered
// ID over all groups), then applies the optional Config.MaxLen cap, counting
// what the cap drops. A stream without groups is only capped. Consumers run
// Trim every ConsumerConfig.TrimInterval; call it yourself if you run none.
// A group created after Trim read the groups sees only what is left: create
// groups up front (CreateGroup) when every message matters.
func (q *Queue[T]) Trim(ctx context.Context) (TrimResult, error) {
	res, err := trimScript.Run(ctx, q.client, []string{q.stream, q.dropped}, q.maxLen).Slice()
	if err != nil {
		return TrimResult{}, fmt.Errorf("streamq: trim %s: %w", q.stream, err)
	}
	var r TrimResult
	var ok [4]bool
	if len(res) == 4 {
		r.Trimmed, ok[0] = res[0].(int64)
		r.Dropped, ok[1] = res[1].(int64)
		r.PinnedBy, ok[2] = res[2].(string)
		r.OldestKept, ok[3] = res[3].(string)
	}
	if ok != [4]bool{true, true, true, true} {
		return TrimResult{}, fmt.Errorf("streamq: trim %s: unexpected reply %v", q.stream, res)
	}
	return r, nil
}

// Stats is a snapshot of a queue, from XLEN, XINFO GROUPS, XINFO CONSUMERS,
// XPENDING and the delayed, retry and dead-letter keys.
type Stats struct {
	Queue  string
	Length int64 // entries in the stream (acknowledged ones until trimmed)
	// Delayed counts ProcessAt/ProcessIn messages not yet due.
	Delayed int64
	// Dropped counts messages the MaxLen cap removed before every group
	// acknowledged them (cumulative).
	Dropped int64
	Groups  []GroupStats
}

// GroupStats describes one consumer group.
type GroupStats struct {
	Name            string
	LastDeliveredID string
	EntriesRead     int64 // Redis 7: entries delivered to the group
	// Lag counts entries not yet delivered to the group (-1 when Redis
	// cannot tell, e.g. after arbitrary deletions).
	Lag int64
	// Pending counts delivered, unacknowledged messages in the stream.
	Pending int64
	// OldestPendingAge is the age of the oldest pending message (from its
	// ID), zero when none is pending.
	OldestPendingAge time.Duration
	// RetryScheduled counts failed messages waiting for their backoff;
	// RetryPending counts due retries delivered and not yet finished.
	RetryScheduled int64
	RetryPending   int64
	// DeadLetters counts entries in the group's dead-letter stream.
	DeadLetters int64
	// Paused is true between Pause and Resume; PausedAt is when Pause was
	// first called.
	Paused   bool
	PausedAt time.Time
	// Stranded counts messages consumers found pending under their own name
	// but not held in memory (the reply of a read was lost to a connection
	// failure) and delivered again, cumulative.
	Stranded int64
	// Duplicates counts acknowledgements that found the message no longer
	// pending for the acknowledging consumer: it had been taken over (its
	// handler ran at least twice), cumulative.
	Duplicates int64
	Consumers  []ConsumerStats
}

// ConsumerStats describes one consumer of a group.
type ConsumerStats struct {
	Name    string
	Pending int64
	Idle    time.Duration
	// Alive is true when its heartbeat is recent (within 15s or the
	// consumer's DeadAfter as last written).
	Alive bool
	// LastHeartbeat is zero for consumers that never heartbeat.
	LastHeartbeat time.Time
}

// statsAliveWindow is how recent a heartbeat must be for Stats to call a
// consumer alive; consumers' own DeadAfter is not stored in Redis.
const statsAliveWindow = 15 * time.Second

// Stats returns a snapshot of the queue and all its groups. It is a few
// round trips (one per group after the first) and safe to call at any time.
func (q *Queue[T]) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Queue: q.name}
	pipe := q.client.Pipeline()
	xlen := pipe.XLen(ctx, q.stream)
	delayed := pipe.ZCard(ctx, q.delayed)
	dropped := pipe.Get(ctx, q.dropped)
	groups := pipe.XInfoGroups(ctx, q.stream)
	_ = execPipe(ctx, pipe)
	var err error
	if st.Length, err = xlen.Result(); err != nil {
		return st, fmt.Errorf("streamq: stats %s: %w", q.stream, err)
	}
	if st.Delayed, err = delayed.Result(); err != nil {
		return st, fmt.Errorf("streamq: stats %s: %w", q.delayed, err)
	}
	if n, err := dropped.Int64(); err == nil {
		st.Dropped = n
	} else if !errors.Is(err, redis.Nil) {
		return st, fmt.Errorf("streamq: stats %s: %w", q.dropped, err)
	}
	gs, err := groups.Result()
	if err != nil {
		if isNoSuchKey(err) {
			return st, nil
		}
		return st, fmt.Errorf("streamq: stats %s: %w", q.stream, err)
	}
	for _, g := range gs {
		gst, err := q.groupStats(ctx, g)
		if err != nil {
			return st, err
		}
		st.Groups = append(st.Groups, gst)
	}
	return st, nil
}

// GroupStats returns the snapshot of one group, as in Stats.Groups, or an
// error wrapping ErrNoGroup when the group does not exist.
func (q *Queue[T]) GroupStats(ctx context.Context, group string) (GroupStats, error) {
	g, err := q.findGroup(ctx, group)
	if err != nil {
		return GroupStats{}, err
	}
	return q.groupStats(ctx, g)
}

// findGroup returns XINFO GROUPS's entry for group, or ErrNoGroup.
func (q *Queue[T]) findGroup(ctx context.Context, group string) (redis.XInfoGroup, error) {
	if err := validName("group", group); err != nil {
		return redis.XInfoGroup{}, err
	}
	gs, err := q.client.XInfoGroups(ctx, q.stream).Result()
	if err != nil && !isNoSuchKey(err) {
		return redis.XInfoGroup{}, fmt.Errorf("streamq: xinfo groups %s: %w", q.stream, err)
	}
	for _, g := range gs {
		if g.Name == group {
			return g, nil
		}
	}
	return redis.XInfoGroup{}, q.noGroup(group, gs)
}

func (q *Queue[T]) noGroup(group string, gs []redis.XInfoGroup) error {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	return fmt.Errorf("%w: %q on queue %s (groups: %s)", ErrNoGroup, group, q.name, strings.Join(names, ", "))
}

// isNoSuchKey reports XINFO's error for a missing stream.
func isNoSuchKey(err error) bool { return err != nil && strings.Contains(err.Error(), "no such key") }

func (q *Queue[T]) groupStats(ctx context.Context, g redis.XInfoGroup) (GroupStats, error) {
	now := q.now()
	k := q.keys(g.Name)
	p := q.client.Pipeline()
	pend := p.XPending(ctx, q.stream, g.Name)
	retry := p.ZCard(ctx, k.retry)
	dead := p.XLen(ctx, k.dead)
	cons := p.XInfoConsumers(ctx, q.stream, g.Name)
	beats := p.ZRangeWithScores(ctx, k.hb, 0, -1)
	rpend := p.XPending(ctx, k.rs, g.Name)
	paused := p.Get(ctx, k.pause)
	ctr := p.HGetAll(ctx, k.ctr)
	_ = execPipe(ctx, p)
	gst := GroupStats{Name: g.Name, LastDeliveredID: g.LastDeliveredID, EntriesRead: g.EntriesRead, Lag: g.Lag, Pending: g.Pending}
	var err error
	if pr, err := pend.Result(); err == nil && pr.Count > 0 {
		gst.OldestPendingAge = max(now.Sub(idTime(pr.Lower)), 0)
	}
	if gst.RetryScheduled, err = retry.Result(); err != nil {
		return gst, fmt.Errorf("streamq: stats %s: %w", k.retry, err)
	}
	if gst.DeadLetters, err = dead.Result(); err != nil {
		return gst, fmt.Errorf("streamq: stats %s: %w", k.dead, err)
	}
	if rp, err := rpend.Result(); err == nil {
		gst.RetryPending = rp.Count
	}
	if v, err := paused.Int64(); err == nil {
		gst.Paused, gst.PausedAt = true, time.UnixMilli(v)
	} else if !errors.Is(err, redis.Nil) {
		return gst, fmt.Errorf("streamq: stats %s: %w", k.pause, err)
	}
	if m, err := ctr.Result(); err == nil {
		gst.Stranded, _ = strconv.ParseInt(m["stranded"], 10, 64)
		gst.Duplicates, _ = strconv.ParseInt(m["duplicate"], 10, 64)
	}
	hb := map[string]time.Time{}
	if bs, err := beats.Result(); err == nil {
		for _, b := range bs {
			if name, ok := b.Member.(string); ok && b.Score > 0 {
				hb[name] = time.UnixMilli(int64(b.Score))
			}
		}
	}
	if cs, err := cons.Result(); err == nil {
		for _, c := range cs {
			last := hb[c.Name]
			gst.Consumers = append(gst.Consumers, ConsumerStats{
				Name: c.Name, Pending: c.Pending, Idle: c.Idle, LastHeartbeat: last,
				Alive: !last.IsZero() && now.Sub(last) < statsAliveWindow,
			})
		}
	}
	return gst, nil
}

// Pause stops every consumer of group, in every process, from taking new
// messages: within one ConsumerConfig.Block (at most a second) they stop
// reading and reclaiming; handlers already running finish and are
// acknowledged, heartbeats go on, delayed messages still become due. The
// state is kept in Redis (until Resume), so consumers started later, and
// restarted ones, stay paused too; Stats shows it (GroupStats.Paused).
// Messages added meanwhile wait in the stream. Pausing a paused group keeps
// its original PausedAt. Returns an error wrapping ErrNoGroup for an
// unknown group.
func (q *Queue[T]) Pause(ctx context.Context, group string) error {
	for _, lq := range q.levels[min(1, len(q.levels)):] {
		if err := lq.Pause(ctx, group); err != nil {
			return err
		}
	}
	if _, err := q.findGroup(ctx, group); err != nil {
		return err
	}
	k := q.keys(group)
	if err := q.client.SetNX(ctx, k.pause, q.now().UnixMilli(), 0).Err(); err != nil {
		return fmt.Errorf("streamq: pause %s: %w", k.pause, err)
	}
	return nil
}

// Resume undoes Pause: consumers of group read again within one
// ConsumerConfig.Block. Resuming a group that is not paused does nothing.
// Returns an error wrapping ErrNoGroup for an unknown group.
func (q *Queue[T]) Resume(ctx context.Context, group string) error {
	for _, lq := range q.levels[min(1, len(q.levels)):] {
		if err := lq.Resume(ctx, group); err != nil {
			return err
		}
	}
	if _, err := q.findGroup(ctx, group); err != nil {
		return err
	}
	k := q.keys(group)
	if err := q.client.Del(ctx, k.pause).Err(); err != nil {
		return fmt.Errorf("streamq: resume %s: %w", k.pause, err)
	}
	return nil
}

// Entry is one message in the stream, as read by Peek (no delivery, no
// consumer group involved).
type Entry[T any] struct {
	// ID is the stream entry ID (from Add).
	ID string
	// Value is the decoded payload; DecodeErr is set instead when the entry
	// cannot be decoded (Payload has the raw bytes either way).
	Value     T
	DecodeErr error
	Payload   []byte
	// Enqueued is when the entry was added (from its ID).
	Enqueued time.Time
	// Headers are the message's headers, nil when it has none.
	Headers map[string]string
}

// Peek returns up to count entries of the stream, oldest first, starting
// after the entry ID after ("" for the oldest entry still in the stream),
// without delivering them to anyone. count must be 1-10000. Entries already
// acknowledged by every group are there until the next Trim.
func (q *Queue[T]) Peek(ctx context.Context, after string, count int) ([]Entry[T], error) {
	start, err := rangeStart(after, count)
	if err != nil {
		return nil, err
	}
	msgs, err := q.client.XRangeN(ctx, q.stream, start, "+", int64(count)).Result()
	if err != nil {
		return nil, fmt.Errorf("streamq: xrange %s: %w", q.stream, err)
	}
	out := make([]Entry[T], 0, len(msgs))
	for _, m := range msgs {
		e := Entry[T]{ID: m.ID, Enqueued: idTime(m.ID)}
		if p, ok := m.Values[payloadField].(string); ok {
			e.Payload = []byte(p)
			e.Value, e.DecodeErr = q.decode(p)
		} else {
			e.DecodeErr = errNoPayload(m.ID)
		}
		if h, ok := m.Values[metaField].(string); ok {
			md, err := decodeMeta(h)
			e.Headers = md.headers
			if err != nil && e.DecodeErr == nil {
				e.DecodeErr = err
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// rangeStart validates a page's after and count and returns XRANGE's start.
func rangeStart(after string, count int) (string, error) {
	if count < 1 || count > 10000 {
		return "", fmt.Errorf("%w: count %d must be between 1 and 10000", ErrInvalid, count)
	}
	if after == "" {
		return "-", nil
	}
	if !validStreamID(after) {
		return "", fmt.Errorf("%w: after %q is not a stream ID like 1700000000000-0", ErrInvalid, after)
	}
	return "(" + after, nil
}

// DeadLetter is a message that exhausted its deliveries, failed to decode,
// or was rejected with ErrSkipRetry.
type DeadLetter[T any] struct {
	// ID is the entry's ID in the dead-letter stream (use it to requeue or
	// delete).
	ID string
	// OriginalID is the ID the message got from Add.
	OriginalID string
	// Value is the decoded payload; DecodeErr is set instead when the
	// payload cannot be decoded (Payload has the raw bytes either way).
	Value     T
	DecodeErr error
	Payload   []byte
	// Attempts is how many deliveries the message had.
	Attempts int
	// Headers are the message's headers, nil when it has none (kept by
	// RequeueDeadLetters).
	Headers map[string]string
	// Aggregate is the aggregation group of a dead-lettered aggregate (see
	// the Aggregate option), "" for a single message. An aggregate's Value
	// is not decoded; RequeueDeadLetters runs it again as a whole.
	Aggregate string
	// Err is the last handler error (or the decode error) as text.
	Err      string
	Group    string
	Consumer string
	// DiedAt is when it was dead-lettered.
	DiedAt time.Time
}

// DeadLetters returns up to count dead letters of group, oldest first,
// starting after the dead-letter ID after ("" for the beginning).
// count must be 1-10000. An empty page of a group that does not exist is an
// error wrapping ErrNoGroup (a misspelled group would otherwise look clean).
func (q *Queue[T]) DeadLetters(ctx context.Context, group string, after string, count int) ([]DeadLetter[T], error) {
	if err := validName("group", group); err != nil {
		return nil, err
	}
	start, err := rangeStart(after, count)
	if err != nil {
		return nil, err
	}
	k := q.keys(group)
	pipe := q.client.Pipeline()
	groups := pipe.XInfoGroups(ctx, q.stream)
	rng := pipe.XRangeN(ctx, k.dead, start, "+", int64(count))
	_ = execPipe(ctx, pipe)
	msgs, err := rng.Result()
	if err != nil {
		return nil, fmt.Errorf("streamq: xrange %s: %w", k.dead, err)
	}
	if len(msgs) == 0 {
		// An empty list for a group that does not exist is a typo.
		gs, err := groups.Result()
		if err != nil && !isNoSuchKey(err) {
			return nil, fmt.Errorf("streamq: xinfo groups %s: %w", q.stream, err)
		}
		found := false
		for _, g := range gs {
			found = found || g.Name == group
		}
		if !found {
			return nil, q.noGroup(group, gs)
		}
	}
	out := make([]DeadLetter[T], 0, len(msgs))
	for _, m := range msgs {
		out = append(out, q.deadLetter(m))
	}
	return out, nil
}

func (q *Queue[T]) deadLetter(m redis.XMessage) DeadLetter[T] {
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	dl := DeadLetter[T]{ID: m.ID, OriginalID: str("id"), Payload: []byte(str("d")), Err: str("err"), Group: str("g"), Consumer: str("c")}
	dl.Attempts, _ = strconv.Atoi(str("a"))
	if t, err := strconv.ParseInt(str("t"), 10, 64); err == nil {
		dl.DiedAt = time.UnixMilli(t)
	}
	var md meta
	var merr error
	if h, ok := m.Values[metaField].(string); ok {
		md, merr = decodeMeta(h)
		dl.Headers, dl.Aggregate = md.headers, md.agg
	}
	if p, ok := m.Values[payloadField].(string); !ok {
		dl.DecodeErr = errNoPayload(dl.OriginalID)
	} else if md.agg == "" {
		dl.Value, dl.DecodeErr = q.decode(p)
	}
	if merr != nil && dl.DecodeErr == nil {
		dl.DecodeErr = merr
	}
	return dl
}

// RequeueDeadLetters moves the given dead letters of group back to the
// group (its retry stream) with a fresh attempt count, atomically per call.
// Only that group sees them again. It returns how many were found and moved
// (dead letters of entries that had no payload field stay), or an error
// wrapping ErrNoGroup when the group does not exist.
func (q *Queue[T]) RequeueDeadLetters(ctx context.Context, group string, ids ...string) (int, error) {
	if err := q.checkDeadIDs(group, ids); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := q.findGroup(ctx, group); err != nil {
		return 0, err
	}
	k := q.keys(group)
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	n, err := requeueScript.Run(ctx, q.client, []string{k.dead, k.rs}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("streamq: requeue dead letters %s: %w", k.dead, err)
	}
	return n, nil
}

// DeleteDeadLetters deletes the given dead letters of group and returns how
// many existed, or an error wrapping ErrNoGroup when the group does not
// exist.
func (q *Queue[T]) DeleteDeadLetters(ctx context.Context, group string, ids ...string) (int, error) {
	if err := q.checkDeadIDs(group, ids); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := q.findGroup(ctx, group); err != nil {
		return 0, err
	}
	k := q.keys(group)
	n, err := q.client.XDel(ctx, k.dead, ids...).Result()
	if err != nil {
		return 0, fmt.Errorf("streamq: xdel %s: %w", k.dead, err)
	}
	return int(n), nil
}

func (q *Queue[T]) checkDeadIDs(group string, ids []string) error {
	if err := validName("group", group); err != nil {
		return err
	}
	for _, id := range ids {
		if !validStreamID(id) {
			return fmt.Errorf("%w: dead-letter ID %q is not a stream ID like 1700000000000-0", ErrInvalid, id)
		}
	}
	return nil
}
