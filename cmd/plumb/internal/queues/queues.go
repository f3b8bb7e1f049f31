// Package queues finds and opens the streamq queues of a Redis database for
// plumb's queue commands and its web dashboard, on streamq's public API and
// its documented key layout (Config.KeyPrefix + "{" + name + "}").
package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/goplumb/plumb/streamq"
	"github.com/redis/go-redis/v9"
)

// ErrUnknownQueue is returned by Open for a name with no stream.
var ErrUnknownQueue = errors.New("unknown queue")

// ErrUnknownGroup is returned by Group for a group the queue does not have.
var ErrUnknownGroup = errors.New("unknown group")

// Queue is a queue opened for inspection: payloads stay raw JSON (or raw
// bytes in DeadLetter.Payload when they are not JSON).
type Queue = streamq.Queue[json.RawMessage]

// Store is the queues of one Redis database under one key prefix.
type Store struct {
	RDB    redis.UniversalClient
	Prefix string // streamq Config.KeyPrefix; "" means "streamq:"
}

// List returns the names of the queues, sorted (streamq.List: a SCAN, so it
// does not block Redis).
func (s *Store) List(ctx context.Context) ([]string, error) {
	return streamq.List(ctx, s.RDB, s.Prefix)
}

// Open returns the queue name; ErrUnknownQueue when its stream does not
// exist (nothing has ever been added, or the name is misspelt).
func (s *Store) Open(ctx context.Context, name string) (*Queue, error) {
	q, err := streamq.New[json.RawMessage](s.RDB, name, streamq.Config{KeyPrefix: s.Prefix})
	if err != nil {
		return nil, err
	}
	n, err := s.RDB.Exists(ctx, q.StreamKey()).Result()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		hint := ""
		if names, err := s.List(ctx); err == nil && len(names) > 0 {
			hint = " (queues: " + strings.Join(names, ", ") + ")"
		}
		return nil, fmt.Errorf("%w %q%s", ErrUnknownQueue, name, hint)
	}
	return q, nil
}

// Group resolves a group name: "" means the queue's only group.
func Group(st streamq.Stats, group string) (string, error) {
	var names []string
	for _, g := range st.Groups {
		if g.Name == group {
			return group, nil
		}
		names = append(names, g.Name)
	}
	if group == "" && len(names) == 1 {
		return names[0], nil
	}
	if group == "" {
		if len(names) == 0 {
			return "", fmt.Errorf("queue %q has no consumer group", st.Queue)
		}
		return "", fmt.Errorf("queue %q has %d groups (%s): pass --group", st.Queue, len(names), strings.Join(names, ", "))
	}
	return "", fmt.Errorf("%w %q in queue %q (groups: %s)", ErrUnknownGroup, group, st.Queue, strings.Join(names, ", "))
}

// Summary totals a queue's groups for list views.
type Summary struct {
	Queue            string
	Length, Delayed  int64
	Groups, Paused   int
	Lag, Pending     int64
	Retries, Dead    int64
	Consumers, Alive int
}

// Summarize totals st.
func Summarize(st streamq.Stats) Summary {
	s := Summary{Queue: st.Queue, Length: st.Length, Delayed: st.Delayed, Groups: len(st.Groups)}
	for _, g := range st.Groups {
		if g.Lag > 0 {
			s.Lag += g.Lag
		}
		s.Pending += g.Pending
		s.Retries += g.RetryScheduled + g.RetryPending
		s.Dead += g.DeadLetters
		if g.Paused {
			s.Paused++
		}
		s.Consumers += len(g.Consumers)
		for _, c := range g.Consumers {
			if c.Alive {
				s.Alive++
			}
		}
	}
	return s
}
