package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/testenv"
	"github.com/goplumb/plumb/streamq"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type order struct {
	ID int `json:"id"`
}

// deadLetters fills queue "orders", group "billing" with n dead letters
// (IDs 0..n-1) and returns the queue.
func deadLetters(t *testing.T, rdb redis.UniversalClient, n int) *streamq.Queue[order] {
	t.Helper()
	q, err := streamq.New[order](rdb, "orders", streamq.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.CreateGroup(t.Context(), "billing", false); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := q.Add(t.Context(), order{ID: i}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := q.NewConsumer("billing", func(ctx context.Context, m streamq.Msg[order]) error {
		return fmt.Errorf("declined %d: %w", m.Value.ID, streamq.ErrSkipRetry)
	}, streamq.ConsumerConfig{Block: 50 * time.Millisecond, AckInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		dls, err := q.DeadLetters(t.Context(), "billing", "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d dead letters after 30s", len(dls), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return q
}

// redelivered runs a consumer of billing until it receives a message and
// returns its ID.
func redelivered(t *testing.T, q *streamq.Queue[order]) int {
	t.Helper()
	got := make(chan int, 100)
	c, err := q.NewConsumer("billing", func(ctx context.Context, m streamq.Msg[order]) error {
		got <- m.Value.ID
		return nil
	}, streamq.ConsumerConfig{Block: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	select {
	case id := <-got:
		return id
	case <-time.After(30 * time.Second):
		t.Fatal("nothing was delivered again")
		return -1
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHandlerPages(t *testing.T) {
	env := testenv.Redis(t)
	q := deadLetters(t, env.Client, 3)
	h, err := New(env.Client, Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/", http.StripPrefix("/ops", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := srv.Client()

	code, body := get(t, c, srv.URL+"/ops/")
	if code != 200 || !strings.Contains(body, `href="./q/orders"`) || !strings.Contains(body, `href="./static/style.css"`) {
		t.Fatalf("index %d:\n%s", code, body)
	}
	code, body = get(t, c, srv.URL+"/ops/q/orders")
	if code != 200 || !strings.Contains(body, "declined 1") || !strings.Contains(body, "read-only") || strings.Contains(body, "<button") {
		t.Fatalf("read-only queue page %d:\n%s", code, body)
	}
	if code, _ := get(t, c, srv.URL+"/ops/static/style.css"); code != 200 {
		t.Fatalf("style.css: %d", code)
	}
	if code, body := get(t, c, srv.URL+"/ops/q/ordres"); code != 404 || !strings.Contains(body, "unknown queue") {
		t.Fatalf("unknown queue: %d %s", code, body)
	}
	dls, err := q.DeadLetters(t.Context(), "billing", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"action": {"requeue"}, "group": {"billing"}, "id": {dls[0].ID}}
	resp, err := c.PostForm(srv.URL+"/ops/q/orders", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("read-only POST: %d", resp.StatusCode)
	}
	if now, _ := q.DeadLetters(t.Context(), "billing", "", 10); len(now) != 3 {
		t.Fatalf("read-only POST changed dead letters: %d", len(now))
	}
}

func TestHandlerWrites(t *testing.T) {
	env := testenv.Redis(t)
	q := deadLetters(t, env.Client, 3)
	h, err := New(env.Client, Config{AllowWrites: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	dls, err := q.DeadLetters(t.Context(), "billing", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	post := func(form url.Values, origin string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/q/orders", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// Another site's form: refused, nothing changed.
	if resp := post(url.Values{"action": {"delete"}, "group": {"billing"}, "all": {"1"}}, "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin POST: %d", resp.StatusCode)
	}
	for _, tt := range []struct {
		name string
		form url.Values
	}{
		{"unknown group", url.Values{"action": {"delete"}, "group": {"biling"}, "all": {"1"}}},
		{"unknown action", url.Values{"action": {"purge"}, "group": {"billing"}, "all": {"1"}}},
	} {
		if resp := post(tt.form, ""); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: %d", tt.name, resp.StatusCode)
		}
	}
	if now, _ := q.DeadLetters(t.Context(), "billing", "", 10); len(now) != 3 {
		t.Fatalf("refused POSTs changed dead letters: %d left", len(now))
	}
	resp := post(url.Values{"action": {"delete"}, "group": {"billing"}, "id": {dls[2].ID}}, "")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "orders?done=") {
		t.Fatalf("delete: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if now, _ := q.DeadLetters(t.Context(), "billing", "", 10); len(now) != 2 {
		t.Fatalf("after delete %d dead letters, want 2", len(now))
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(nil, Config{}); err == nil || !strings.Contains(err.Error(), "nil Redis client") {
		t.Fatalf("nil client: %v", err)
	}
	env := testenv.Redis(t)
	if _, err := New(env.Client, Config{DeadLetters: -1}); err == nil || !strings.Contains(err.Error(), "DeadLetters") {
		t.Fatalf("negative DeadLetters: %v", err)
	}
}

// TestBrowserRequeue loads the dashboard in headless Chromium: every page
// loads with no console error (the CSS is found, CSP allows everything the
// page uses), and the Requeue button of a dead letter moves it back to its
// group, whose consumer then receives it.
func TestBrowserRequeue(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	b := newBrowser(t)
	env := testenv.Redis(t)
	q := deadLetters(t, env.Client, 3)
	h, err := New(env.Client, Config{AllowWrites: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/", http.StripPrefix("/ops", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b.navigate(srv.URL + "/ops/")
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors on the index: %v", errs)
	}
	if got := b.text("#queues tbody tr"); !strings.HasPrefix(got, "orders") {
		t.Fatalf("index row %q", got)
	}
	var bg string
	b.decode(b.eval(`getComputedStyle(document.querySelector("header")).borderBottomStyle`), &bg)
	if bg != "solid" {
		t.Fatalf("style.css not applied (header border %q)", bg)
	}
	b.screenshot("index")
	b.click(`a[href="./q/orders"]`)
	b.screenshot("queue")
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors on the queue page: %v", errs)
	}
	var rows int
	b.decode(b.eval(`document.querySelectorAll("table.dead tbody tr").length`), &rows)
	if rows != 3 {
		t.Fatalf("%d dead-letter rows, want 3", rows)
	}
	// Requeue the dead letter of order 1.
	dls, err := q.DeadLetters(t.Context(), "billing", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var target string
	for _, d := range dls {
		if d.Value.ID == 1 {
			target = d.ID
		}
	}
	b.click(fmt.Sprintf(`tr[id="dl-%s"] button.requeue`, target))
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors after requeue: %v", errs)
	}
	b.screenshot("requeued")
	if got := b.text("#flash"); !strings.Contains(got, "requeued 1 of 1") {
		t.Fatalf("flash %q", got)
	}
	b.decode(b.eval(`document.querySelectorAll("table.dead tbody tr").length`), &rows)
	if rows != 2 {
		t.Fatalf("%d dead-letter rows after requeue, want 2", rows)
	}
	now, err := q.DeadLetters(t.Context(), "billing", "", 10)
	if err != nil || len(now) != 2 {
		t.Fatalf("%d dead letters in Redis after requeue (%v), want 2", len(now), err)
	}
	if id := redelivered(t, q); id != 1 {
		t.Fatalf("consumer got order %d again, want 1", id)
	}
	// Pause and resume the group from the page.
	b.click(`tr[id="group-billing"] button.pause`)
	if gs, err := q.GroupStats(t.Context(), "billing"); err != nil || !gs.Paused {
		t.Fatalf("after Pause: %+v (%v)", gs, err)
	}
	if got := b.text(`tr[id="group-billing"] td:nth-child(2)`); !strings.HasPrefix(got, "paused") {
		t.Fatalf("state cell %q", got)
	}
	b.click(`tr[id="group-billing"] button.resume`)
	if gs, err := q.GroupStats(t.Context(), "billing"); err != nil || gs.Paused {
		t.Fatalf("after Resume: %+v (%v)", gs, err)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors: %v", errs)
	}

	// The cron pages: jobs across replicas, then one job's history.
	claimRuns(t, env.Client)
	b.click(`nav a[href="../cron"]`)
	if got := b.text(`tr[id="job-report"]`); !strings.Contains(got, "warehouse timeout") || !strings.Contains(got, "r1") {
		t.Fatalf("jobs row %q", got)
	}
	b.screenshot("cron")
	b.click(`a[href="./cron/report"]`)
	b.decode(b.eval(`document.querySelectorAll("#runs tbody tr").length`), &rows)
	if rows != 3 {
		t.Fatalf("%d runs on the job page, want 3", rows)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors on the cron pages: %v", errs)
	}
}
