package streamq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotDurable is wrapped by the error of an Add (AddBatch, AddUnique,
// ProcessAt, ProcessIn) whose message was stored on the master but not
// acknowledged by Config.WaitReplicas replicas (or fsynced, with
// Config.WaitAOF) within Config.WaitTimeout: it is there now, but a
// failover or crash right away may lose it. The stream ID is returned with
// it. Consumers also report it at start when the server runs with
// appendonly no.
var ErrNotDurable = errors.New("streamq: write not durable")

// Durability describes what the Redis master holding a queue's stream
// persists, from INFO and CONFIG GET (see CheckDurability).
type Durability struct {
	// AppendOnly is true when the server writes an AOF (appendonly yes).
	AppendOnly bool
	// AppendFsync is "always", "everysec" or "no"; "" when CONFIG GET is
	// not allowed (managed services often rename it).
	AppendFsync string
	// Replicas counts replicas connected to the master.
	Replicas int
	// WaitAOF is true when the server has WAITAOF (Redis 7.2 or newer).
	WaitAOF bool
}

// CheckDurability reports how the master holding the queue's stream
// persists writes. Consumers call it at start and warn (Logger and
// Hooks.OnError, with an error wrapping ErrNotDurable) when AppendOnly is
// false, once per Queue.
func (q *Queue[T]) CheckDurability(ctx context.Context) (Durability, error) {
	node, err := q.master(ctx)
	if err != nil {
		return Durability{}, err
	}
	pipe := node.Pipeline()
	pers := pipe.Info(ctx, "persistence")
	repl := pipe.Info(ctx, "replication")
	fsync := pipe.ConfigGet(ctx, "appendfsync")
	waitaof := pipe.Do(ctx, "command", "info", "waitaof")
	_ = execPipe(ctx, pipe)
	var d Durability
	p, err := pers.Result()
	if err != nil {
		return d, fmt.Errorf("streamq: info persistence: %w", err)
	}
	d.AppendOnly = infoField(p, "aof_enabled") == "1"
	r, err := repl.Result()
	if err != nil {
		return d, fmt.Errorf("streamq: info replication: %w", err)
	}
	d.Replicas, _ = strconv.Atoi(infoField(r, "connected_slaves"))
	if m, err := fsync.Result(); err == nil {
		d.AppendFsync = m["appendfsync"]
	}
	if v, err := waitaof.Slice(); err == nil && len(v) == 1 && v[0] != nil {
		d.WaitAOF = true
	}
	return d, nil
}

// infoField returns field's value in an INFO reply.
func infoField(info, field string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == field {
			return v
		}
	}
	return ""
}

// master returns a client of the node holding the stream: WAIT, WAITAOF
// and INFO must go to that node, on the connection of the write.
func (q *Queue[T]) master(ctx context.Context) (redis.UniversalClient, error) {
	if cc, ok := q.client.(*redis.ClusterClient); ok {
		c, err := cc.MasterForKey(ctx, q.stream)
		if err != nil {
			q.reloadOnError(err)
			return nil, fmt.Errorf("streamq: master for %s: %w", q.stream, err)
		}
		return c, nil
	}
	return q.client, nil
}

// waitState caches whether the server has WAITAOF.
type waitState struct {
	mu      sync.Mutex
	checked bool
	aof     bool
}

// durable sends the commands queue adds to a pipeline on one connection to
// the stream's master, followed by WAIT (or WAITAOF) when Config asks for
// it, and returns the wait's verdict: nil, an error wrapping ErrNotDurable,
// or the wait's own error. The caller reads its commands' results.
func (q *Queue[T]) durable(ctx context.Context, queue func(redis.Pipeliner)) error {
	node, err := q.master(ctx)
	if err != nil {
		return err
	}
	useAOF := false
	if q.waitAOF {
		if useAOF, err = q.hasWaitAOF(ctx, node); err != nil {
			return err
		}
	}
	pipe := node.Pipeline()
	queue(pipe)
	ms := q.waitTimeout.Milliseconds()
	var wait *redis.Cmd
	if useAOF {
		wait = pipe.Do(ctx, "waitaof", 1, q.waitReplicas, ms)
	} else {
		wait = pipe.Do(ctx, "wait", q.waitReplicas, ms)
	}
	_ = execPipe(ctx, pipe)
	v, err := wait.Result()
	if err != nil {
		q.reloadOnError(err)
		return fmt.Errorf("streamq: wait for replicas: %w", err)
	}
	if useAOF {
		r, _ := v.([]any)
		local, replicas := int64(0), int64(0)
		if len(r) == 2 {
			local, _ = r[0].(int64)
			replicas, _ = r[1].(int64)
		}
		if local < 1 || replicas < int64(q.waitReplicas) {
			return fmt.Errorf("%w: fsynced on the master: %v, on %d of %d replicas within %v (WAITAOF)", ErrNotDurable, local == 1, replicas, q.waitReplicas, q.waitTimeout)
		}
		return nil
	}
	if n, _ := v.(int64); n < int64(q.waitReplicas) {
		return fmt.Errorf("%w: stored on the master, acknowledged by %d of %d replicas within %v (WAIT)", ErrNotDurable, n, q.waitReplicas, q.waitTimeout)
	}
	return nil
}

// hasWaitAOF detects WAITAOF once; without it (Redis < 7.2) it logs a
// warning and WAIT is used alone.
func (q *Queue[T]) hasWaitAOF(ctx context.Context, node redis.UniversalClient) (bool, error) {
	q.wait.mu.Lock()
	defer q.wait.mu.Unlock()
	if q.wait.checked {
		return q.wait.aof, nil
	}
	v, err := node.Do(ctx, "command", "info", "waitaof").Slice()
	if err != nil {
		return false, fmt.Errorf("streamq: detect WAITAOF: %w", err)
	}
	q.wait.checked, q.wait.aof = true, len(v) == 1 && v[0] != nil
	if !q.wait.aof {
		q.log.Warn("streamq: Config.WaitAOF: this Redis has no WAITAOF (it needs 7.2); waiting for replicas with WAIT only, which does not wait for an fsync", "queue", q.name)
	}
	return q.wait.aof, nil
}

// reloadOnError asks a cluster client to reload its slot map after an
// error that suggests the map is stale (a failover: the old master refuses
// connections or answers MOVED, CLUSTERDOWN, READONLY), at most every
// reloadEvery. Without this go-redis reloads on its own only after a MOVED
// from a node it can still reach, or every ClusterStateReloadInterval
// (default 60s).
func (q *Queue[T]) reloadOnError(err error) {
	cc, ok := q.client.(*redis.ClusterClient)
	if !ok || err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrClosed) {
		return
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		if !strings.HasPrefix(msg, "MOVED") && !strings.HasPrefix(msg, "CLUSTERDOWN") && !strings.HasPrefix(msg, "READONLY") &&
			!strings.HasPrefix(msg, "TRYAGAIN") && !strings.HasPrefix(msg, "MASTERDOWN") {
			return // a command error: the map is fine
		}
	}
	now := time.Now().UnixMilli()
	last := q.reloaded.Load()
	if now-last < reloadEvery.Milliseconds() || !q.reloaded.CompareAndSwap(last, now) {
		return
	}
	cc.ReloadState(context.Background())
}

// reloadEvery rate-limits reloadOnError.
const reloadEvery = 250 * time.Millisecond
