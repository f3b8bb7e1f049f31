package redislock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/redis/go-redis/v9"
)

// Outcome is how a recorded run ended.
type Outcome string

// Outcomes of Run.
const (
	OutcomeOK        Outcome = "ok"         // the run returned nil
	OutcomeError     Outcome = "error"      // the run returned an error (Run.Error)
	OutcomePanic     Outcome = "panic"      // the run panicked (Run.Error holds the value)
	OutcomeLeaseLost Outcome = "lease-lost" // the run's running lease was gone at its end
	OutcomeSkipped   Outcome = "skipped"    // the tick was claimed but not run (Run.Skip)
)

// Run is one recorded run of a job, cluster-wide: the replica that won the
// tick writes it when the run ends (in the release's round trip), or the
// claim writes it when the tick is skipped as cluster-busy. A run whose
// replica died before the end is not recorded; Last still shows its claim.
type Run struct {
	Tick     time.Time
	Replica  string
	Fence    uint64        // 0 for a skipped tick
	Start    time.Time     // when the claim was won (zero for a skipped tick)
	Duration time.Duration // from Start to the release
	Outcome  Outcome
	Error    string           // error text, panic value, or skip detail; at most ~1000 bytes
	Skip     cronx.SkipReason // with OutcomeSkipped
}

// wireRun is Run as stored in Redis (JSON, times in Unix ns).
type wireRun struct {
	Tick     int64            `json:"tick"`
	Replica  string           `json:"replica"`
	Fence    uint64           `json:"fence,omitempty"`
	Start    int64            `json:"start,omitempty"`
	Duration time.Duration    `json:"took,omitempty"`
	Outcome  Outcome          `json:"outcome"`
	Error    string           `json:"error,omitempty"`
	Skip     cronx.SkipReason `json:"skip,omitempty"`
}

// newRun makes the record of a finished run.
func newRun(l *lease, took time.Duration, runErr error) Run {
	r := Run{Tick: l.tick, Replica: l.replica, Fence: l.fence, Start: l.start, Duration: took, Outcome: OutcomeOK}
	var pe *cronx.PanicError
	var se *cronx.SkipError
	switch {
	case runErr == nil:
	case errors.As(runErr, &pe):
		r.Outcome, r.Error = OutcomePanic, fmt.Sprint(pe.Value)
	case errors.As(runErr, &se):
		r.Outcome, r.Skip = OutcomeSkipped, se.Reason
		if se.Err != nil {
			r.Error = se.Err.Error()
		}
	case errors.Is(runErr, cronx.ErrLeaseLost):
		r.Outcome, r.Error = OutcomeLeaseLost, runErr.Error()
	default:
		r.Outcome, r.Error = OutcomeError, runErr.Error()
	}
	const maxErr = 1000 // history entries stay small
	if len(r.Error) > maxErr {
		r.Error = strings.ToValidUTF8(r.Error[:maxErr], "") + "…"
	}
	return r
}

func (r Run) encode() string {
	w := wireRun{Tick: r.Tick.UnixNano(), Replica: r.Replica, Fence: r.Fence, Duration: r.Duration, Outcome: r.Outcome, Error: r.Error, Skip: r.Skip}
	if !r.Start.IsZero() {
		w.Start = r.Start.UnixNano()
	}
	b, _ := json.Marshal(w) // cannot fail: strings and numbers
	return string(b)
}

func decodeRun(s string) (Run, error) {
	var w wireRun
	if err := json.Unmarshal([]byte(s), &w); err != nil {
		return Run{}, err
	}
	r := Run{Tick: time.Unix(0, w.Tick), Replica: w.Replica, Fence: w.Fence, Duration: w.Duration, Outcome: w.Outcome, Error: w.Error, Skip: w.Skip}
	if w.Start != 0 {
		r.Start = time.Unix(0, w.Start)
	}
	return r, nil
}

// Failed reports whether the run ended in an error, a panic or a lost
// lease.
func (r Run) Failed() bool {
	return r.Outcome == OutcomeError || r.Outcome == OutcomePanic || r.Outcome == OutcomeLeaseLost
}

// History returns up to n of job's most recent recorded runs, newest tick
// first, from any replica (at most Config.History are kept). n must be
// positive. A job with no record returns an empty slice and no error.
func (c *Coordinator) History(ctx context.Context, job string, n int) ([]Run, error) {
	if job == "" || n < 1 {
		return nil, fmt.Errorf("%w: redislock.History: job %q and n %d; give a job name and n >= 1", cronx.ErrInvalid, job, n)
	}
	key := c.base(job) + "runs"
	vals, err := c.rdb.ZRevRange(ctx, key, 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("redislock: read %s: %w", key, err)
	}
	return decodeRuns(key, vals)
}

func decodeRuns(key string, vals []string) ([]Run, error) {
	out := make([]Run, 0, len(vals))
	for _, v := range vals {
		r, err := decodeRun(v)
		if err != nil {
			return out, fmt.Errorf("redislock: %s holds an unexpected record %.80q: %v", key, v, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Job is the cluster-wide view of one job, as returned by Jobs.
type Job struct {
	Name string
	// Last is the most recent won claim (tick, replica, fence, next tick).
	Last LastClaim
	// LastRun is the most recent recorded run, nil if none.
	LastRun *Run
	// LastFailure is the most recent failed run among the kept records,
	// nil if none.
	LastFailure *Run
}

// Jobs lists every job claimed under this Coordinator's Prefix (a job
// whose claims were all refused after a data loss has a zero Last),
// across replicas, sorted by name. It scans the keyspace (every master of
// a cluster) with SCAN, so it is meant for operators' tools, not for each
// tick.
func (c *Coordinator) Jobs(ctx context.Context) ([]Job, error) {
	pattern := globEscape(c.o.Prefix) + "{*}:fence"
	var mu sync.Mutex
	var names []string
	scan := func(ctx context.Context, rdb redis.Cmdable) error {
		var local []string
		it := rdb.Scan(ctx, 0, pattern, 500).Iterator()
		for it.Next(ctx) {
			rest, ok := strings.CutPrefix(it.Val(), c.o.Prefix+"{")
			name, ok2 := strings.CutSuffix(rest, "}:fence")
			if ok && ok2 && name != "" && !strings.ContainsAny(name, "{}") {
				local = append(local, name)
			}
		}
		mu.Lock()
		names = append(names, local...)
		mu.Unlock()
		return it.Err()
	}
	var err error
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return scan(ctx, m) })
	} else {
		err = scan(ctx, c.rdb)
	}
	if err != nil {
		return nil, fmt.Errorf("redislock: scan %s: %w", pattern, err)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	type reads struct {
		state *redis.StringCmd
		runs  *redis.StringSliceCmd
	}
	rs := make([]reads, len(names))
	_, err = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, name := range names {
			_, stateKey, _ := c.Keys(name, time.Time{})
			rs[i] = reads{p.Get(ctx, stateKey), p.ZRevRange(ctx, c.base(name)+"runs", 0, -1)}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redislock: read jobs: %w", err)
	}
	out := make([]Job, 0, len(names))
	for i, name := range names {
		v, err := rs[i].state.Result()
		if errors.Is(err, redis.Nil) {
			continue // deleted since the scan
		}
		if err != nil {
			return nil, fmt.Errorf("redislock: read job %q: %w", name, err)
		}
		_, stateKey, _ := c.Keys(name, time.Time{})
		last, err := parseState(stateKey, v)
		if err != nil {
			return nil, err
		}
		j := Job{Name: name, Last: last} // Last is zero while no claim was won
		vals, err := rs[i].runs.Result()
		if err != nil {
			return nil, fmt.Errorf("redislock: read the history of job %q: %w", name, err)
		}
		runs, err := decodeRuns(c.base(name)+"runs", vals)
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 {
			j.LastRun = &runs[0]
		}
		for k := range runs {
			if runs[k].Failed() {
				j.LastFailure = &runs[k]
				break
			}
		}
		out = append(out, j)
	}
	return out, nil
}

// globEscape escapes SCAN MATCH's special characters (* ? [ ] \), so a
// Prefix such as "app[1]:" matches itself.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
