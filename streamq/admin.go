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
	Consumers   []ConsumerStats
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
	_, _ = pipe.Exec(ctx)
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
		if strings.Contains(err.Error(), "no such key") {
			return st, nil
		}
		return st, fmt.Errorf("streamq: stats %s: %w", q.stream, err)
	}
	now := q.now()
	for _, g := range gs {
		k := q.keys(g.Name)
		p := q.client.Pipeline()
		pend := p.XPending(ctx, q.stream, g.Name)
		retry := p.ZCard(ctx, k.retry)
		dead := p.XLen(ctx, k.dead)
		cons := p.XInfoConsumers(ctx, q.stream, g.Name)
		beats := p.ZRangeWithScores(ctx, k.hb, 0, -1)
		rpend := p.XPending(ctx, k.rs, g.Name)
		_, _ = p.Exec(ctx)
		gst := GroupStats{Name: g.Name, LastDeliveredID: g.LastDeliveredID, EntriesRead: g.EntriesRead, Lag: g.Lag, Pending: g.Pending}
		if pr, err := pend.Result(); err == nil && pr.Count > 0 {
			gst.OldestPendingAge = max(now.Sub(idTime(pr.Lower)), 0)
		}
		if gst.RetryScheduled, err = retry.Result(); err != nil {
			return st, fmt.Errorf("streamq: stats %s: %w", k.retry, err)
		}
		if gst.DeadLetters, err = dead.Result(); err != nil {
			return st, fmt.Errorf("streamq: stats %s: %w", k.dead, err)
		}
		if rp, err := rpend.Result(); err == nil {
			gst.RetryPending = rp.Count
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
		st.Groups = append(st.Groups, gst)
	}
	return st, nil
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
	// Err is the last handler error (or the decode error) as text.
	Err      string
	Group    string
	Consumer string
	// DiedAt is when it was dead-lettered.
	DiedAt time.Time
}

// DeadLetters returns up to count dead letters of group, oldest first,
// starting after the dead-letter ID after ("" for the beginning).
// count must be 1-10000.
func (q *Queue[T]) DeadLetters(ctx context.Context, group string, after string, count int) ([]DeadLetter[T], error) {
	if err := validName("group", group); err != nil {
		return nil, err
	}
	if count < 1 || count > 10000 {
		return nil, fmt.Errorf("%w: dead-letter count %d must be between 1 and 10000", ErrInvalid, count)
	}
	start := "-"
	if after != "" {
		if !validStreamID(after) {
			return nil, fmt.Errorf("%w: after %q is not a stream ID like 1700000000000-0", ErrInvalid, after)
		}
		start = "(" + after
	}
	k := q.keys(group)
	msgs, err := q.client.XRangeN(ctx, k.dead, start, "+", int64(count)).Result()
	if err != nil {
		return nil, fmt.Errorf("streamq: xrange %s: %w", k.dead, err)
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
	dl.Value, dl.DecodeErr = q.decode(str("d"))
	return dl
}

// RequeueDeadLetters moves the given dead letters of group back to the
// group (its retry stream) with a fresh attempt count, atomically per call.
// Only that group sees them again. It returns how many were found and moved.
func (q *Queue[T]) RequeueDeadLetters(ctx context.Context, group string, ids ...string) (int, error) {
	if err := q.checkDeadIDs(group, ids); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if err := q.CreateGroup(ctx, group, false); err != nil {
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
// many existed.
func (q *Queue[T]) DeleteDeadLetters(ctx context.Context, group string, ids ...string) (int, error) {
	if err := q.checkDeadIDs(group, ids); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
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
