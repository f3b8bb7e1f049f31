package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/redislock"
	"github.com/goplumb/plumb/internal/testenv"
)

// cronRecords claims three hourly ticks of "report" through redislock, as
// two replicas' schedulers would: r1 wins tick 1 (ok) and tick 3 (error),
// r2 wins tick 2 (ok) after r1 lost it; plus one tick of "cleanup".
var cronBase time.Time

func cronRecords(t *testing.T) *testenv.RedisEnv {
	t.Helper()
	env := testenv.Redis(t)
	co, err := redislock.New(env.Client, redislock.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// Ticks well after the server started: redislock refuses claims for
	// ticks within SkewBudget of a (re)start, when it cannot tell a fresh
	// server from one that lost its data.
	cronBase = time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
	claim := func(job string, tick time.Time, replica string, runErr error) {
		t.Helper()
		l, err := co.Claim(ctx, job, tick, replica, cronx.ClaimOptions{Next: tick.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx, runErr); err != nil {
			t.Fatal(err)
		}
	}
	claim("report", cronBase, "r1", nil)
	claim("report", cronBase.Add(time.Hour), "r2", nil)
	if _, err := co.Claim(ctx, "report", cronBase.Add(time.Hour), "r1", cronx.ClaimOptions{}); !errors.Is(err, cronx.ErrClaimedElsewhere) {
		t.Fatalf("second claim of a tick: %v", err)
	}
	claim("report", cronBase.Add(2*time.Hour), "r1", errors.New("warehouse timeout"))
	claim("cleanup", cronBase, "r2", nil)
	return env
}

func TestCronJobsAndHistory(t *testing.T) {
	env := cronRecords(t)
	e := redisEnv(env)
	r := run(t, e, "cron", "jobs", "-o", "json")
	wantCode(t, r, 0)
	var jobs []struct {
		Name, Replica string
		LastTick      time.Time
		Next          time.Time
		LastRun       *runView
		LastFailure   *runView
	}
	if err := json.Unmarshal([]byte(r.Stdout), &jobs); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	if len(jobs) != 2 || jobs[0].Name != "cleanup" || jobs[1].Name != "report" {
		t.Fatalf("jobs %+v", jobs)
	}
	rep := jobs[1]
	if rep.Replica != "r1" || !rep.LastTick.Equal(cronBase.Add(2*time.Hour)) || !rep.Next.Equal(cronBase.Add(3*time.Hour)) || rep.LastRun == nil || rep.LastRun.Outcome != "error" ||
		rep.LastFailure == nil || !strings.Contains(rep.LastFailure.Error, "warehouse timeout") {
		t.Fatalf("report %+v", rep)
	}
	r = run(t, e, "cron", "jobs")
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, "report") || !strings.Contains(r.Stdout, "warehouse timeout") {
		t.Fatalf("jobs table:\n%s", r.Stdout)
	}

	r = run(t, e, "cron", "history", "report", "-o", "json")
	wantCode(t, r, 0)
	var runs []runView
	if err := json.Unmarshal([]byte(r.Stdout), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].Replica != "r1" || runs[0].Outcome != "error" || runs[1].Replica != "r2" || runs[1].Outcome != "ok" ||
		!runs[0].Tick.After(runs[1].Tick) {
		t.Fatalf("history %+v", runs)
	}
	r = run(t, e, "cron", "history", "report", "-n", "1")
	wantCode(t, r, 0)
	if strings.Count(r.Stdout, "\n") != 2 || !strings.Contains(r.Stdout, "warehouse timeout") {
		t.Fatalf("history -n 1:\n%s", r.Stdout)
	}
}

func TestCronJobsBadInput(t *testing.T) {
	env := cronRecords(t)
	e := redisEnv(env)
	for _, tt := range []struct {
		name     string
		env      map[string]string
		argv     []string
		code     int
		contains string
	}{
		{"unknown job", e, []string{"cron", "history", "reprot"}, 1, `unknown job "reprot"`},
		{"bad count", e, []string{"cron", "history", "report", "-n", "0"}, 2, "-n 0"},
		{"bad prefix", e, []string{"cron", "jobs", "--prefix", "a{b"}, 2, "Prefix"},
		{"no redis", nil, []string{"cron", "jobs"}, 2, "PLUMB_REDIS_URL"},
		{"unreachable", map[string]string{"PLUMB_REDIS_URL": "redis://127.0.0.1:1/0"}, []string{"cron", "history", "report"}, 1, "connect to redis://127.0.0.1:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, tt.argv...)
			wantCode(t, r, tt.code)
			oneLineError(t, r, tt.contains)
		})
	}
	// An empty database lists no jobs.
	r := run(t, redisEnv(testenv.Redis(t)), "cron", "jobs")
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, "no cron jobs") {
		t.Fatalf("empty: %s", r.Stdout)
	}
}
