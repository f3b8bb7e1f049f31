package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/redislock"
	"github.com/goplumb/plumb/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// claimRuns records runs of "report" through redislock as two replicas
// would: r1 ok, r2 ok, r1 failed ("warehouse timeout"). Ticks lie well after
// the server started (redislock refuses ticks within SkewBudget of a start).
func claimRuns(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	co, err := redislock.New(rdb, redislock.Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
	for i, rc := range []struct {
		replica string
		err     error
	}{{"r1", nil}, {"r2", nil}, {"r1", errors.New("warehouse timeout")}} {
		tick := base.Add(time.Duration(i) * time.Hour)
		l, err := co.Claim(t.Context(), "report", tick, rc.replica, cronx.ClaimOptions{Next: tick.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(t.Context(), rc.err); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCronPages(t *testing.T) {
	env := testenv.Redis(t)
	claimRuns(t, env.Client)
	h, err := New(env.Client, Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/", http.StripPrefix("/ops", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := srv.Client()
	code, body := get(t, c, srv.URL+"/ops/cron")
	if code != 200 || !strings.Contains(body, `href="./cron/report"`) || !strings.Contains(body, "warehouse timeout") {
		t.Fatalf("cron page %d:\n%s", code, body)
	}
	code, body = get(t, c, srv.URL+"/ops/cron/report")
	if code != 200 || strings.Count(body, "<tr>") != 4 || !strings.Contains(body, "r2") {
		t.Fatalf("job page %d:\n%s", code, body)
	}
	if code, _ := get(t, c, srv.URL+"/ops/cron/reprot"); code != 404 {
		t.Fatalf("unknown job: %d", code)
	}
	if _, err := New(env.Client, Config{CronPrefix: "a{b"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad CronPrefix: %v", err)
	}
}
