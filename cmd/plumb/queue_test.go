package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/testenv"
	"github.com/goplumb/plumb/streamq"
	"github.com/redis/go-redis/v9"
)

type order struct {
	ID   int    `json:"id"`
	Note string `json:"note"`
}

// deadQueue makes queue "orders" with group "billing" holding n dead
// letters (the handler rejects odd IDs with ErrSkipRetry) and n acked
// messages. It returns the Redis env and the queue.
func deadQueue(t *testing.T, n int) (*testenv.RedisEnv, *streamq.Queue[order]) {
	t.Helper()
	env := testenv.Redis(t)
	q, err := streamq.New[order](env.Client, "orders", streamq.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := q.CreateGroup(ctx, "billing", false); err != nil {
		t.Fatal(err)
	}
	for i := range 2 * n {
		if _, err := q.Add(ctx, order{ID: i, Note: fmt.Sprintf("n%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitDead(t, q, "billing", n, func() {})
	return env, q
}

// waitDead runs a consumer of group that rejects odd IDs until the group
// has want dead letters and nothing pending or lagging.
func waitDead(t *testing.T, q *streamq.Queue[order], group string, want int, _ func()) {
	t.Helper()
	c, err := q.NewConsumer(group, func(ctx context.Context, m streamq.Msg[order]) error {
		if m.Value.ID%2 == 1 {
			return fmt.Errorf("card declined for %d: %w", m.Value.ID, streamq.ErrSkipRetry)
		}
		return nil
	}, streamq.ConsumerConfig{Block: 50 * time.Millisecond, AckInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := q.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var g streamq.GroupStats
		for _, gg := range st.Groups {
			if gg.Name == group {
				g = gg
			}
		}
		if g.DeadLetters == int64(want) && g.Pending == 0 && g.Lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %d dead letters: %+v", want, g)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func redisEnv(env *testenv.RedisEnv) map[string]string {
	return map[string]string{"PLUMB_REDIS_URL": env.URL}
}

func TestQueueListStats(t *testing.T) {
	env, _ := deadQueue(t, 3)
	// A second, empty queue, and a key that only looks like one.
	q2, err := streamq.New[order](env.Client, "emails", streamq.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q2.Add(t.Context(), order{ID: 1}); err != nil {
		t.Fatal(err)
	}
	env.Client.Set(t.Context(), "streamq:{fake}", "x", 0)

	r := run(t, redisEnv(env), "queue", "list", "-o", "json")
	wantCode(t, r, 0)
	var sums []struct {
		Queue        string
		Length, Dead int64
		Groups       int
	}
	if err := json.Unmarshal([]byte(r.Stdout), &sums); err != nil {
		t.Fatal(err)
	}
	if len(sums) != 2 || sums[0].Queue != "emails" || sums[1].Queue != "orders" || sums[1].Dead != 3 || sums[1].Groups != 1 {
		t.Fatalf("list %+v", sums)
	}
	r = run(t, redisEnv(env), "queue", "list")
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, "QUEUE") || !strings.Contains(r.Stdout, "orders") {
		t.Fatalf("table:\n%s", r.Stdout)
	}

	r = run(t, nil, "queue", "stats", "orders", "--redis", env.URL, "-o", "json")
	wantCode(t, r, 0)
	var st streamq.Stats
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.Queue != "orders" || st.Length != 6 || len(st.Groups) != 1 || st.Groups[0].DeadLetters != 3 {
		t.Fatalf("stats %+v", st)
	}
	r = run(t, redisEnv(env), "queue", "stats", "orders")
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, "billing") || !strings.Contains(r.Stdout, "6 entries") {
		t.Fatalf("stats table:\n%s", r.Stdout)
	}
}

func TestQueueDeadLetters(t *testing.T) {
	env, q := deadQueue(t, 3)
	e := redisEnv(env)
	r := run(t, e, "queue", "dead", "list", "orders", "-o", "json")
	wantCode(t, r, 0)
	var dls []deadView
	if err := json.Unmarshal([]byte(r.Stdout), &dls); err != nil {
		t.Fatal(err)
	}
	var one deadView
	for _, d := range dls {
		if strings.Contains(d.Payload, `"id":1,`) {
			one = d
		}
	}
	if len(dls) != 3 || !strings.Contains(one.Error, "card declined for 1") || one.Attempts != 1 {
		t.Fatalf("dead letters %+v", dls)
	}
	// Requeue one: the group gets it back; a consumer now accepting every
	// message drains it, and the dead-letter count drops to 2.
	r = run(t, e, "queue", "dead", "requeue", "orders", one.ID)
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, "requeued 1 of 1") {
		t.Fatalf("requeue: %s", r.Stdout)
	}
	got, err := q.DeadLetters(t.Context(), "billing", "", 100)
	if err != nil || len(got) != 2 {
		t.Fatalf("after requeue %d dead letters (%v), want 2", len(got), err)
	}
	// A consumer of the group gets the requeued message again.
	redelivered := make(chan int, 10)
	c, err := q.NewConsumer("billing", func(ctx context.Context, m streamq.Msg[order]) error {
		redelivered <- m.Value.ID
		return nil
	}, streamq.ConsumerConfig{Block: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case id := <-redelivered:
		if id != 1 {
			t.Fatalf("redelivered %d, want 1", id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the requeued message was not delivered again")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Requeueing an ID that is not there: exit 1, nothing changed.
	r = run(t, e, "queue", "dead", "requeue", "orders", "1-1")
	wantCode(t, r, exitFailure)
	oneLineError(t, r, "not dead letters")
	// Delete all.
	r = run(t, e, "queue", "dead", "delete", "orders", "--all", "-o", "json")
	wantCode(t, r, 0)
	if got, _ := q.DeadLetters(t.Context(), "billing", "", 100); len(got) != 0 {
		t.Fatalf("%d dead letters left after delete --all", len(got))
	}
	r = run(t, e, "queue", "dead", "list", "orders")
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, "no dead letters in orders/billing") {
		t.Fatalf("list after delete: %s", r.Stdout)
	}
}

func TestQueueTrim(t *testing.T) {
	env, q := deadQueue(t, 2)
	r := run(t, redisEnv(env), "queue", "trim", "orders", "-o", "json")
	wantCode(t, r, 0)
	var res streamq.TrimResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatal(err)
	}
	// Every entry was acknowledged (dead letters are acked and copied).
	if res.Trimmed != 4 {
		t.Fatalf("trim %+v", res)
	}
	st, err := q.Stats(t.Context())
	if err != nil || st.Length != 0 {
		t.Fatalf("length after trim %d (%v)", st.Length, err)
	}
}

func TestQueueBadInput(t *testing.T) {
	env, q := deadQueue(t, 1)
	if err := q.CreateGroup(t.Context(), "audit", false); err != nil {
		t.Fatal(err)
	}
	e := redisEnv(env)
	for _, tt := range []struct {
		name     string
		env      map[string]string
		argv     []string
		code     int
		contains string
	}{
		{"no redis", nil, []string{"queue", "list"}, 2, "PLUMB_REDIS_URL"},
		{"bad url", map[string]string{"PLUMB_REDIS_URL": "http://x"}, []string{"queue", "list"}, 2, "redis:// URL"},
		{"unreachable", map[string]string{"PLUMB_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0"}, []string{"queue", "stats", "orders"}, 1, "connect to redis://127.0.0.1:1"},
		{"unknown queue", e, []string{"queue", "stats", "ordres"}, 1, `unknown queue "ordres" (queues: orders)`},
		{"unknown queue dead", e, []string{"queue", "dead", "requeue", "ordres", "--all"}, 1, "unknown queue"},
		{"unknown group", e, []string{"queue", "dead", "list", "orders", "-g", "biling"}, 1, `unknown group "biling"`},
		{"ambiguous group", e, []string{"queue", "dead", "list", "orders"}, 2, "pass --group"},
		{"ids and all", e, []string{"queue", "dead", "delete", "orders", "-g", "billing", "--all", "1-1"}, 2, "not both"},
		{"bad name", e, []string{"queue", "stats", "a{b}"}, 2, "streamq"},
		{"bad limit", e, []string{"queue", "dead", "list", "orders", "-g", "billing", "--limit", "0"}, 2, "--limit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, tt.argv...)
			wantCode(t, r, tt.code)
			oneLineError(t, r, tt.contains)
			if strings.Contains(r.Stderr, "hunter2") {
				t.Fatal("password printed")
			}
		})
	}
	// Nothing changed.
	if dl, err := q.DeadLetters(t.Context(), "billing", "", 10); err != nil || len(dl) != 1 {
		t.Fatalf("dead letters %d (%v), want 1", len(dl), err)
	}
	n, err := env.Client.Exists(t.Context(), "streamq:{ordres}").Result()
	if err != nil || n != 0 {
		t.Fatal("a command created the misspelt queue")
	}
	_ = redis.Nil
}

func TestQueuePeekPauseResume(t *testing.T) {
	env := testenv.Redis(t)
	q, err := streamq.New[order](env.Client, "orders", streamq.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.CreateGroup(t.Context(), "billing", false); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		id, err := q.Add(t.Context(), order{ID: i})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	e := redisEnv(env)
	r := run(t, e, "queue", "peek", "orders", "--limit", "2", "-o", "json")
	wantCode(t, r, 0)
	var es []struct{ ID, Payload string }
	if err := json.Unmarshal([]byte(r.Stdout), &es); err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].ID != ids[0] || es[1].ID != ids[1] || !strings.Contains(es[1].Payload, `"id":1`) {
		t.Fatalf("peek %+v, ids %v", es, ids)
	}
	r = run(t, e, "queue", "peek", "orders", "--after", ids[1])
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, ids[2]) || strings.Contains(r.Stdout, ids[1]) {
		t.Fatalf("peek --after:\n%s", r.Stdout)
	}
	// Peeking delivered nothing to the group.
	gs, err := q.GroupStats(t.Context(), "billing")
	if err != nil || gs.Lag != 3 || gs.Pending != 0 {
		t.Fatalf("after peek: %+v (%v)", gs, err)
	}

	r = run(t, e, "queue", "pause", "orders")
	wantCode(t, r, 0)
	if gs, err := q.GroupStats(t.Context(), "billing"); err != nil || !gs.Paused {
		t.Fatalf("after pause: %+v (%v)", gs, err)
	}
	r = run(t, e, "queue", "stats", "orders")
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, "paused since") {
		t.Fatalf("stats does not show the pause:\n%s", r.Stdout)
	}
	r = run(t, e, "queue", "resume", "orders", "-g", "billing", "-o", "json")
	wantCode(t, r, 0)
	if gs, err := q.GroupStats(t.Context(), "billing"); err != nil || gs.Paused {
		t.Fatalf("after resume: %+v (%v)", gs, err)
	}
	r = run(t, e, "queue", "pause", "orders", "-g", "biling")
	wantCode(t, r, exitFailure)
	oneLineError(t, r, "unknown group")
	r = run(t, e, "queue", "peek", "orders", "--after", "not-an-id")
	if r.Code == 0 {
		t.Fatalf("peek with a bad ID succeeded:\n%s", r.Stdout)
	}
}
