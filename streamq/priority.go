package streamq

import (
	"context"
	"fmt"
	"strconv"
	"sync"
)

// maxPriorities bounds Config.Priorities.
const maxPriorities = 16

// Priority sends the message to priority level level of a queue with
// Config.Priorities levels: 0 (the default, without this option) is the
// lowest, Priorities-1 the highest. Each level is a stream of its own,
// stream key + ":p<level>" (level 0 is the queue's stream), under the
// queue's hash tag, so all levels share one Redis Cluster slot. How
// consumers share reads among levels is ConsumerConfig.StrictPriority and
// Weights. Invalid on a queue without that level.
func Priority(level int) Option { return Option{kind: optPriority, level: level} }

// route returns the queue of the Priority option's level (q itself for
// level 0) and the other options.
func (q *Queue[T]) route(opts []Option) (*Queue[T], []Option, error) {
	level, found := 0, false
	for _, o := range opts {
		if o.kind == optPriority {
			level, found = o.level, true
		}
	}
	if !found {
		return q, opts, nil
	}
	rest := make([]Option, 0, len(opts)-1)
	for _, o := range opts {
		if o.kind != optPriority {
			rest = append(rest, o)
		}
	}
	if level == 0 {
		return q, rest, nil
	}
	if level < 0 || level >= len(q.levels) {
		return nil, nil, fmt.Errorf("%w: Priority(%d): queue %s has %d priority levels (Config.Priorities), so 0 to %d", ErrInvalid, level, q.name, max(len(q.levels), 1), max(len(q.levels), 1)-1)
	}
	return q.levels[level], rest, nil
}

// Level returns the queue of priority level level (0 is q itself), for
// Stats, DeadLetters, Peek, Trim and Subscriber, which work on one level's
// stream; nil when the queue has no such level. Pause, Resume and
// CreateGroup act on every level.
func (q *Queue[T]) Level(level int) *Queue[T] {
	if level == 0 {
		return q
	}
	if level < 0 || level >= len(q.levels) {
		return nil
	}
	return q.levels[level]
}

// newLevels builds the level queues of a queue with Priorities > 1.
func (q *Queue[T]) newLevels(n int) {
	q.levels = make([]*Queue[T], n)
	q.levels[0] = q
	for l := 1; l < n; l++ {
		lq := &Queue[T]{
			client: q.client, name: q.name + ":p" + strconv.Itoa(l), codec: q.codec,
			maxPayload: q.maxPayload, maxLen: q.maxLen, deadMaxLen: q.deadMaxLen, log: q.log, now: q.now,
			waitReplicas: q.waitReplicas, waitAOF: q.waitAOF, waitTimeout: q.waitTimeout, agg: q.agg,
		}
		lq.stream = q.stream + ":p" + strconv.Itoa(l)
		lq.delayed = lq.stream + ":delayed"
		lq.dropped = lq.stream + ":dropped"
		q.levels[l] = lq
	}
}

// gate shares reads among the level consumers of one priority consumer.
// Each level remembers whether its last read returned messages (busy). In
// strict mode a level reads only while no higher level is busy. In weighted
// mode levels that are not busy read freely (blocking reads that notice new
// messages) and busy levels waiting to read take turns by smooth weighted
// round robin, one read at a time: with backlogs everywhere, level l gets
// Weights[l] of every sum(Weights) reads, so none starves.
type gate struct {
	strict  bool
	weights []int

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	busy    []bool
	waiting []bool
	current []int // smooth weighted round robin state
	next    int   // the busy level granted the next read; -1 none
	reader  int   // the busy level whose granted read is in progress; -1 none
}

func newGate(levels int, strict bool, weights []int) *gate {
	g := &gate{strict: strict, weights: weights, changed: make(chan struct{}), next: -1, reader: -1,
		busy: make([]bool, levels), waiting: make([]bool, levels), current: make([]int, levels)}
	for l := range g.busy {
		g.busy[l] = true // unknown until read: the highest levels go first
	}
	return g
}

func (g *gate) broadcast() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// allowed reports, under mu, whether level l may read now.
func (g *gate) allowed(l int) bool {
	if g.strict {
		for h := l + 1; h < len(g.busy); h++ {
			if g.busy[h] {
				return false
			}
		}
		return true
	}
	if !g.busy[l] {
		return true
	}
	if g.reader >= 0 {
		return false
	}
	if g.next < 0 {
		total, pick := 0, -1
		for i, w := range g.weights {
			if !g.waiting[i] || !g.busy[i] {
				continue
			}
			g.current[i] += w
			total += w
			if pick < 0 || g.current[i] > g.current[pick] {
				pick = i
			}
		}
		if pick < 0 {
			return false
		}
		g.current[pick] -= total
		g.next = pick
		g.broadcast() // wake the level picked
	}
	return g.next == l
}

// acquire waits until level l may read; false when ctx ended first. With
// turn set the read is a busy level's turn: it must not block (a BLOCK
// read of a level that just ran dry would hold every other level's turn).
func (g *gate) acquire(ctx context.Context, l int) (ok, turn bool) {
	g.mu.Lock()
	g.waiting[l] = true
	for !g.allowed(l) {
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ctx.Done():
			g.mu.Lock()
			g.waiting[l] = false
			if g.next == l {
				g.next = -1
			}
			g.broadcast()
			g.mu.Unlock()
			return false, false
		case <-ch:
		}
		g.mu.Lock()
	}
	g.waiting[l] = false
	if g.next == l {
		g.next, g.reader, turn = -1, l, true
	}
	g.mu.Unlock()
	return true, turn
}

// release records the outcome of level l's read: got messages (0 for an
// empty read or an error, which must not hold lower levels back).
func (g *gate) release(l, got int) {
	g.mu.Lock()
	g.busy[l] = got > 0
	if g.reader == l {
		g.reader = -1
	}
	g.broadcast()
	g.mu.Unlock()
}
