package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goplumb/plumb/mirror"
)

// writeGor writes a .gor file of n GET /users/<i> requests with their
// recorded JSON responses ({"id":i,"name":"u<i>"}), 1ms apart, plus one POST.
func writeGor(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.gor")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := mirror.NewGorWriter(f)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("%024x", i+1)
		req := httptest.NewRequest("GET", fmt.Sprintf("/users/%d", i), nil)
		rec, err := mirror.RecordRequest(req, id, base.Add(time.Duration(i)*time.Millisecond), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRecord(rec); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(`{"id":%d,"name":"u%d"}`, i, i)
		resp := mirror.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
		if err := w.WriteRecord(mirror.RecordResponse(mirror.KindResponse, id, base.Add(time.Duration(i)*time.Millisecond+time.Microsecond), time.Millisecond, resp)); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest("POST", "/orders", strings.NewReader(`{"a":1}`))
	rec, err := mirror.RecordRequest(req, fmt.Sprintf("%024x", n+1), base.Add(time.Duration(n)*time.Millisecond), []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRecord(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// userServer answers GET /users/<i> with the recorded body, except user
// 3, whose name differs; it records the requests it got.
func userServer(t testing.TB) (*httptest.Server, func() []*http.Request) {
	var mu sync.Mutex
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(r.Context()))
		mu.Unlock()
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/users/%d", &i); err != nil {
			w.WriteHeader(201)
			return
		}
		name := fmt.Sprintf("u%d", i)
		if i == 3 {
			name = "changed"
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%d,"name":%q}`, i, name)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []*http.Request { mu.Lock(); defer mu.Unlock(); return append([]*http.Request(nil), got...) }
}

func TestGorCatAndStat(t *testing.T) {
	path := writeGor(t, 5)
	r := run(t, nil, "gor", "cat", path, "--kind", "request")
	wantCode(t, r, 0)
	if got := strings.Count(r.Stdout, "GET /users/"); got != 5 || !strings.Contains(r.Stdout, "POST /orders") {
		t.Fatalf("cat shows %d GETs:\n%s", got, r.Stdout)
	}
	if strings.Contains(r.Stdout, "HTTP/1.1 200") {
		t.Fatalf("--kind request printed responses:\n%s", r.Stdout)
	}
	r = run(t, nil, "gor", "cat", path, "-o", "json", "--limit", "2")
	wantCode(t, r, 0)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("--limit 2 gave %d lines", len(lines))
	}
	var rec struct{ Kind, ID, Payload string }
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil || rec.Kind != "response" || !strings.Contains(rec.Payload, `"name":"u0"`) {
		t.Fatalf("second record %+v (%v)", rec, err)
	}

	r = run(t, nil, "gor", "stat", path, "-o", "json")
	wantCode(t, r, 0)
	var st gorStat
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.Records != 11 || st.ByKind["request"] != 6 || st.ByMethod["GET"] != 5 || st.ByStatus[200] != 5 {
		t.Fatalf("stat %+v", st)
	}
	if len(st.Endpoints) != 2 || st.Endpoints[0] != (endpointCount{"GET /users/{id}", 5}) {
		t.Fatalf("endpoints %+v", st.Endpoints)
	}
	if got := st.Last.Sub(st.First); got != 5*time.Millisecond {
		t.Fatalf("span %s, want 5ms", got)
	}
}

func TestGorBadInput(t *testing.T) {
	path := writeGor(t, 1)
	for _, tt := range []struct {
		name     string
		argv     []string
		code     int
		contains string
	}{
		{"missing file", []string{"gor", "stat", filepath.Join(t.TempDir(), "none.gor")}, 2, "no file matches"},
		{"replay without target", []string{"gor", "replay", path}, 2, "--target is required"},
		{"replay bad target", []string{"gor", "replay", path, "--target", "staging:8080"}, 2, "absolute http"},
		{"replay bad regexp", []string{"gor", "replay", path, "--target", "http://127.0.0.1:1", "--allow-url", "("}, 2, "AllowURL"},
		{"replay bad header", []string{"gor", "replay", path, "--target", "http://127.0.0.1:1", "--set-header", "novalue"}, 2, "--set-header"},
		{"replay bad rewrite", []string{"gor", "replay", path, "--target", "http://127.0.0.1:1", "--rewrite-url", "nocolon"}, 2, "--rewrite-url"},
		{"stat bad top", []string{"gor", "stat", path, "--top", "-1"}, 2, "--top"},
		{"cat bad kind", []string{"gor", "cat", path, "--kind", "reply"}, 2, "--kind"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, tt.argv...)
			wantCode(t, r, tt.code)
			oneLineError(t, r, tt.contains)
		})
	}
}

func TestGorReplayCompareAndDiff(t *testing.T) {
	path := writeGor(t, 5)
	srv, got := userServer(t)
	out := filepath.Join(t.TempDir(), "replayed.gor")
	r := run(t, nil, "gor", "replay", path, "--target", srv.URL, "--unpaced", "--method", "get",
		"--compare", "--output-file", out, "--set-header", "X-Replay: plumb")
	// User 3 differs in body.name: --compare makes that exit status 1.
	wantCode(t, r, exitFailure)
	if !strings.Contains(r.Stdout, "body.name") {
		t.Fatalf("report does not name the differing field:\n%s", r.Stdout)
	}
	reqs := got()
	if len(reqs) != 5 {
		t.Fatalf("target got %d requests, want the 5 GETs (POST filtered out)", len(reqs))
	}
	for _, q := range reqs {
		if q.Method != "GET" || q.Header.Get("X-Replay") != "plumb" {
			t.Fatalf("request %s %s header %q", q.Method, q.URL, q.Header.Get("X-Replay"))
		}
	}
	if r.Stderr != "" {
		t.Fatalf("progress or noise on stderr while stdout is not a terminal: %q", r.Stderr)
	}

	// The replayed responses share the recording's IDs: diff finds user 3.
	d := run(t, nil, "gor", "diff", path, out, "-o", "json")
	wantCode(t, d, exitFailure)
	var res struct {
		Compared, ByID int
		Reported       []string
	}
	if err := json.Unmarshal([]byte(d.Stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, d.Stdout)
	}
	if res.Compared != 5 || res.ByID != 5 || len(res.Reported) != 1 || !strings.Contains(res.Reported[0], "body.name") {
		t.Fatalf("diff %+v", res)
	}
	// With the field ignored the files agree: exit 0.
	d = run(t, nil, "gor", "diff", path, out, "--ignore", "name")
	wantCode(t, d, 0)
	// A file against itself agrees.
	wantCode(t, run(t, nil, "gor", "diff", path, path), 0)
}

func TestGorReplayLoopsAndProgress(t *testing.T) {
	path := writeGor(t, 3)
	srv, got := userServer(t)
	r := runWith(t, nil, true, "", "gor", "replay", path, "--target", srv.URL, "--rps", "500", "--loop", "2",
		"--allow-url", "^/users/", "--rewrite-url", "^/users/(.*):/users/$1", "-o", "json")
	wantCode(t, r, 0)
	if n := len(got()); n != 6 {
		t.Fatalf("target got %d requests, want 3 users x 2 loops", n)
	}
	var rep mirror.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 6 || rep.Status[200] != 6 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(r.Stderr, "replay: ") {
		t.Fatalf("no progress on a terminal: %q", r.Stderr)
	}
}

func TestGorReplayUnreachable(t *testing.T) {
	path := writeGor(t, 2)
	r := run(t, nil, "gor", "replay", path, "--target", "http://127.0.0.1:1", "--unpaced", "-o", "json")
	var rep mirror.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	if rep.Errors != 3 {
		t.Fatalf("errors %d, want all 3 requests failed", rep.Errors)
	}
	wantCode(t, r, exitFailure)
	if strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, "plumb: every one of the 3 requests failed to reach http://127.0.0.1:1") {
		t.Fatalf("stderr %q", r.Stderr)
	}
}

func TestReplayProgressLine(t *testing.T) {
	path := writeGor(t, 4)
	src, err := openGor(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cs := &countingSource{RecordSource: src, total: plainSize(path)}
	if got := cs.line(); !strings.Contains(got, "[....") || !strings.Contains(got, " 0%") {
		t.Fatalf("before reading: %q", got)
	}
	for {
		if _, err := cs.Next(); err != nil {
			break
		}
	}
	// The estimate lands within a few percent of the file's size.
	if got, want := float64(cs.bytes.Load()), float64(cs.total); got < 0.9*want || got > 1.1*want {
		t.Fatalf("estimated %v bytes of %v", got, want)
	}
	if got := cs.line(); !strings.Contains(got, "9 records read") || !strings.Contains(got, "pass 1 [") {
		t.Fatalf("after reading: %q", got)
	}
	if plainSize(filepath.Join(t.TempDir(), "x.gor.gz")) != 0 {
		t.Fatal("size of a missing or gzip file is not unknown")
	}
}

func TestGorReplayInterrupted(t *testing.T) {
	path := writeGor(t, 3)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- Main(ctx, []string{"gor", "replay", path, "--target", srv.URL, "--unpaced"},
			Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	}()
	cancel() // Ctrl-C
	select {
	case c := <-code:
		if c != exitFailure || strings.TrimSpace(errb.String()) != "plumb: interrupted" {
			t.Fatalf("exit %d, stderr %q", c, errb.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("replay did not stop after Ctrl-C")
	}
}
