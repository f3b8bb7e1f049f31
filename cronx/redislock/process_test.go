package redislock_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/redislock"
	"github.com/goplumb/plumb/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var quiet = slog.New(slog.DiscardHandler)

// Replicas as OS processes: the test binary re-executes itself with
// replicaEnv set, and TestMain runs replicaMain instead of the tests. The
// replica reports every event as a JSON line on stdout and reads commands
// from stdin: "go" releases one held run (REPLICA_HOLD=1), EOF shuts it
// down.
const replicaEnv = "REDISLOCK_TEST_REPLICA"

// event is one line of a replica's stdout.
type event struct {
	Ev      string `json:"ev"` // "start", "ok", "fail", "skip", "ready", "down"
	Replica string `json:"replica"`
	Tick    int64  `json:"tick"` // unix seconds
	Fence   uint64 `json:"fence"`
	Reason  string `json:"reason,omitempty"`
	Err     string `json:"err,omitempty"`
	Lost    bool   `json:"lost,omitempty"` // the error matches cronx.ErrLeaseLost
}

func replicaMain() int {
	name := os.Getenv(replicaEnv)
	env := func(k string) string { return os.Getenv("REPLICA_" + k) }
	dur := func(k string) time.Duration {
		d, err := time.ParseDuration(env(k))
		if err != nil && env(k) != "" {
			fmt.Fprintln(os.Stderr, "bad", k, err)
		}
		return d
	}
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	emit := func(e event) {
		e.Replica = name
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(e)
	}
	db, _ := strconv.Atoi(env("DB"))
	rdb := redis.NewClient(&redis.Options{Addr: env("ADDR"), DB: db}) // otherwise the default client, as users have it
	defer rdb.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	coord, err := redislock.New(rdb, redislock.Config{Prefix: env("PREFIX"), SkewBudget: dur("SKEW_BUDGET"),
		LeaseTTL: dur("LEASE_TTL"), RenewEvery: dur("RENEW"), Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	hold := make(chan struct{})
	holding := env("HOLD") == "1"
	skew := dur("SKEW")
	s, err := cronx.New(cronx.Config{Replica: name, Location: time.UTC, Coordinator: coord, Logger: logger,
		Middleware: []cronx.Middleware{func(next cronx.Func) cronx.Func {
			return func(ctx context.Context) error { time.Sleep(skew); return next(ctx) } // a clock behind by skew
		}},
		Hooks: cronx.Hooks{
			OnSuccess: func(_ context.Context, ri cronx.RunInfo, _ time.Duration) {
				emit(event{Ev: "ok", Tick: ri.Tick.Unix(), Fence: ri.Fence})
			},
			OnFailure: func(_ context.Context, ri cronx.RunInfo, err error, _ time.Duration) {
				emit(event{Ev: "fail", Tick: ri.Tick.Unix(), Fence: ri.Fence, Err: err.Error(), Lost: errors.Is(err, cronx.ErrLeaseLost)})
			},
			OnSkip: func(_ context.Context, ri cronx.RunInfo, why cronx.SkipReason, err error) {
				e := event{Ev: "skip", Tick: ri.Tick.Unix(), Reason: string(why)}
				if err != nil {
					e.Err = err.Error()
				}
				emit(e)
			},
		}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var opts []cronx.Option
	if env("NO_OVERLAP") == "1" {
		opts = append(opts, cronx.NoClusterOverlap())
	} else {
		opts = append(opts, cronx.OncePerTick())
	}
	err = s.Add("job", "* * * * * *", func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		emit(event{Ev: "start", Tick: ri.Tick.Unix(), Fence: ri.Fence})
		if holding {
			<-hold // like a write that ignores its context
		}
		return nil
	}, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := s.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	emit(event{Ev: "ready"})
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "go" {
			hold <- struct{}{}
		}
	}
	close(hold)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	emit(event{Ev: "down"})
	return 0
}

// replica is a replica process seen from the test.
type replica struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan event // every event, in order; closed when stdout ends
}

// events is every event of every replica of a test, in arrival order.
type events struct {
	mu  sync.Mutex
	all []event
	ch  chan struct{} // closed and replaced on each new event
}

func newEvents() *events { return &events{ch: make(chan struct{})} }

func (es *events) add(e event) {
	es.mu.Lock()
	defer es.mu.Unlock()
	es.all = append(es.all, e)
	close(es.ch)
	es.ch = make(chan struct{})
}

// wait waits until pred holds for the events so far, or fails t after
// timeout. It wakes on each new event, never polls.
func (es *events) wait(t *testing.T, timeout time.Duration, what string, pred func([]event) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		es.mu.Lock()
		ok := pred(es.all)
		ch := es.ch
		es.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

func (es *events) snapshot() []event {
	es.mu.Lock()
	defer es.mu.Unlock()
	return append([]event(nil), es.all...)
}

// startReplica starts a replica process with the given REPLICA_* settings
// and waits until its scheduler runs.
func startReplica(t *testing.T, es *events, name string, settings map[string]string) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), replicaEnv+"="+name)
	for k, v := range settings {
		cmd.Env = append(cmd.Env, "REPLICA_"+k+"="+v)
	}
	cmd.Stderr = &prefixWriter{t: t, prefix: name}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, cmd: cmd, stdin: stdin, events: make(chan event, 1024)}
	ready := make(chan struct{})
	go func() { // ends when the process's stdout closes
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				continue
			}
			if first && e.Ev == "ready" {
				first = false
				close(ready)
				continue
			}
			es.add(e)
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT) // a stopped process cannot exit
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("replica %s did not start", name)
	}
	return r
}

// stop shuts the replica down and waits for it to exit.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	_ = r.stdin.Close()
	if err := r.cmd.Wait(); err != nil {
		t.Errorf("replica %s: %v", r.name, err)
	}
}

func (r *replica) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(r.stdin, line+"\n"); err != nil {
		t.Fatalf("replica %s: %v", r.name, err)
	}
}

// prefixWriter forwards a replica's stderr to the test log.
type prefixWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.t.Logf("%s: %s", w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

// ticksRun returns, per tick, the replicas that started it.
func ticksRun(evs []event) map[int64][]event {
	m := map[int64][]event{}
	for _, e := range evs {
		if e.Ev == "start" {
			m[e.Tick] = append(m[e.Tick], e)
		}
	}
	return m
}

// TestRestartWithoutPersistence: four replica processes, the slowest 2.5 s
// behind, claim every tick on a Redis without persistence that is
// restarted (losing every key) right after a tick was claimed. The late
// replicas must not run that tick again after the restart, and fences must
// keep increasing across it.
func TestRestartWithoutPersistence(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs replicas as processes for ~15 s")
	}
	t.Parallel()
	srv := testenv.NewRedisServer(t) // appendonly no, save "": a restart loses everything
	es := newEvents()
	var rs []*replica
	for i, skew := range []string{"0s", "300ms", "900ms", "2500ms"} {
		rs = append(rs, startReplica(t, es, fmt.Sprintf("r%d", i), map[string]string{
			"ADDR": srv.Addr(), "SKEW": skew, "SKEW_BUDGET": "3s",
		}))
	}
	ran := func(after int64) func([]event) bool {
		return func(evs []event) bool {
			n := 0
			for tk := range ticksRun(evs) {
				if tk > after {
					n++
				}
			}
			return n >= 3
		}
	}
	es.wait(t, 90*time.Second, "three ticks run before the restart", ran(0))
	// Crash right after the next claim won by the fastest replica.
	n := len(es.snapshot())
	es.wait(t, 30*time.Second, "a fresh run on r0", func(evs []event) bool {
		for _, e := range evs[n:] {
			if e.Ev == "start" && e.Replica == "r0" {
				return true
			}
		}
		return false
	})
	before := es.snapshot()
	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Start())
	restarted := time.Now()
	t.Logf("Redis restarted without its data at %s", restarted.Format("15:04:05.000"))
	es.wait(t, 90*time.Second, "three ticks run after the restart", ran(restarted.Add(3*time.Second).Unix()))
	for _, r := range rs {
		r.stop(t)
	}

	evs := es.snapshot()
	byTick := ticksRun(evs)
	ticks := make([]int64, 0, len(byTick))
	for tk := range byTick {
		ticks = append(ticks, tk)
	}
	slices.Sort(ticks)
	refused := 0
	for _, e := range evs {
		if e.Ev == "skip" && e.Reason == string(cronx.SkipCoordinatorError) {
			refused++
		}
	}
	fences := map[uint64]int64{}
	for _, tk := range ticks {
		runs := byTick[tk]
		assert.Len(t, runs, 1, "tick %s ran %d times: %v", time.Unix(tk, 0).Format("15:04:05"), len(runs), runs)
		for _, r := range runs {
			if other, dup := fences[r.Fence]; dup {
				t.Errorf("fence %d given to ticks %d and %d", r.Fence, other, tk)
			}
			fences[r.Fence] = tk
		}
	}
	// Fences order claims: every claim won after the restart has a fence
	// above every claim won before the crash, although Redis lost the
	// counter. (Within each side, a late replica may win an older tick
	// after a newer one: fences follow the claims, not the ticks.)
	var maxBefore uint64
	for _, e := range before {
		if e.Ev == "start" {
			maxBefore = max(maxBefore, e.Fence)
		}
	}
	for _, e := range evs[len(before):] {
		if e.Ev == "start" && time.Unix(e.Tick, 0).After(restarted) {
			assert.Greater(t, e.Fence, maxBefore, "fence of tick %s, claimed after the restart", time.Unix(e.Tick, 0).Format("15:04:05"))
		}
	}
	t.Logf("%d ticks ran once each; %d claims failed closed around the restart", len(ticks), refused)
}

// TestFrozenReplicaLosesLease: a replica frozen with SIGSTOP during a run
// (NoClusterOverlap) loses its running lease; another replica runs a later
// tick; when the frozen one resumes and its run returns nil, the run is
// reported as failed with cronx.ErrLeaseLost, and recorded so.
func TestFrozenReplicaLosesLease(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs replicas as processes")
	}
	t.Parallel()
	env := testenv.Redis(t)
	es := newEvents()
	settings := map[string]string{"ADDR": env.Addr, "DB": strconv.Itoa(env.DB), "PREFIX": env.Prefix, "NO_OVERLAP": "1", "SKEW_BUDGET": "1s",
		"LEASE_TTL": "1s", "RENEW": "200ms"}
	hold := maps.Clone(settings)
	hold["HOLD"] = "1"
	a := startReplica(t, es, "frozen", hold)
	var first event
	es.wait(t, 60*time.Second, "a run on the first replica", func(evs []event) bool {
		for _, e := range evs {
			if e.Ev == "start" && e.Replica == "frozen" {
				first = e
				return true
			}
		}
		return false
	})
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGSTOP))
	startReplica(t, es, "other", settings)
	es.wait(t, 60*time.Second, "the other replica running a later tick", func(evs []event) bool {
		for _, e := range evs {
			if e.Ev == "start" && e.Replica == "other" && e.Tick > first.Tick {
				return true
			}
		}
		return false
	})
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGCONT))
	a.send(t, "go") // the frozen run now returns nil
	var end event
	es.wait(t, 60*time.Second, "the end of the frozen run", func(evs []event) bool {
		for _, e := range evs {
			if (e.Ev == "ok" || e.Ev == "fail") && e.Replica == "frozen" && e.Tick == first.Tick {
				end = e
				return true
			}
		}
		return false
	})
	assert.Equal(t, "fail", end.Ev, "the frozen run is a failure, not a success: %+v", end)
	assert.True(t, end.Lost, "its error matches cronx.ErrLeaseLost: %s", end.Err)

	coord, err := redislock.New(env.Client, redislock.Config{Prefix: env.Prefix, Logger: quiet})
	require.NoError(t, err)
	runs, err := coord.History(context.Background(), "job", 100)
	require.NoError(t, err)
	found := false
	for _, r := range runs {
		if r.Tick.Unix() == first.Tick && r.Replica == "frozen" {
			found = true
			assert.Equal(t, redislock.OutcomeLeaseLost, r.Outcome)
			assert.True(t, r.Failed())
		}
	}
	assert.True(t, found, "the frozen run is in the history: %+v", runs)
}
