package streamq

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// job is the payload type of the tests.
type job struct {
	N    int    `json:"n"`
	Note string `json:"note,omitempty"`
}

// fast are consumer settings that make the background machinery act within
// a second, for tests.
func fast(cfg ConsumerConfig) ConsumerConfig {
	if cfg.Block == 0 {
		cfg.Block = 100 * time.Millisecond
	}
	if cfg.DeadAfter == 0 {
		cfg.DeadAfter = 300 * time.Millisecond
	}
	if cfg.VisibilityTimeout == 0 {
		cfg.VisibilityTimeout = 5 * time.Second
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func(int, error) time.Duration { return 10 * time.Millisecond }
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 2 * time.Second
	}
	if cfg.AckInterval == 0 {
		cfg.AckInterval = 10 * time.Millisecond
	}
	return cfg
}

// target is a Redis (single node or cluster) and a key prefix of one test.
type target struct {
	client redis.UniversalClient
	prefix string
}

func single(t testing.TB) target {
	env := testenv.Redis(t)
	return target{client: env.Client, prefix: env.Prefix}
}

func newQueue[T any](t testing.TB, tg target, cfg Config) *Queue[T] {
	t.Helper()
	return newNamedQueue[T](t, tg, "q", cfg)
}

func newNamedQueue[T any](t testing.TB, tg target, name string, cfg Config) *Queue[T] {
	t.Helper()
	cfg.KeyPrefix = tg.prefix + "streamq:"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler) // test servers run with appendonly no
	}
	q, err := New[T](tg.client, name, cfg)
	require.NoError(t, err)
	return q
}

// start runs c until the returned stop is called (or the test ends); stop
// waits for Run to return and checks it returned nil.
func start[T any](t testing.TB, c interface{ Run(context.Context) error }) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return within 30s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond every 10ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder collects handled messages.
type recorder struct {
	mu   sync.Mutex
	seen map[int][]int // job.N -> attempts seen
	msgs []Msg[job]
}

func newRecorder() *recorder { return &recorder{seen: map[int][]int{}} }

func (r *recorder) add(m Msg[job]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[m.Value.N] = append(r.seen[m.Value.N], m.Attempt)
	r.msgs = append(r.msgs, m)
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) attempts(n int) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.seen[n]...)
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
