package mirror

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRulesLiveFilterAndRewriteCopiesOnly(t *testing.T) {
	sh := newShadow(t, nil)
	m := newMirror(t, Config{
		Targets: []Target{{Name: "s", URL: sh.URL}},
		Methods: []string{"GET", "POST"},
		Rules: Rules{
			AllowMethods: []string{"GET"},
			AllowURL:     []string{`^/api/`},
			DenyURL:      []string{`/internal`},
			AllowHeader:  []HeaderMatch{{Name: "user-agent", Pattern: `^app/`}},
			DenyHeader:   []HeaderMatch{{Name: "X-Debug", Pattern: `.`}},
			RewriteURL:   []URLRewrite{{Pattern: `^/api/v1/(\w+)`, Replacement: "/api/v2/$1"}},
			DeleteHeader: []string{"authorization"},
			SetHeader:    []HeaderValue{{Name: "X-Env", Value: "shadow"}, {Name: "Host", Value: "v2.internal"}},
		},
	})
	var primary []string
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		primary = append(primary, r.URL.RequestURI()+" auth="+r.Header.Get("Authorization")+" env="+r.Header.Get("X-Env"))
	}))
	send := func(method, uri string, hdr ...string) {
		r := httptest.NewRequest(method, uri, nil)
		r.Header.Set("User-Agent", "app/1.0")
		r.Header.Set("Authorization", "Bearer secret")
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	send("GET", "/api/v1/users?id=7")                    // kept, rewritten
	send("POST", "/api/v1/users")                        // AllowMethods
	send("GET", "/health")                               // AllowURL
	send("GET", "/api/internal/x")                       // DenyURL
	send("GET", "/api/v1/users", "User-Agent", "curl/8") // AllowHeader
	send("GET", "/api/v1/users", "X-Debug", "1")         // DenyHeader
	got := sh.wait(t)
	closeNow(t, m)
	assert.Equal(t, "/api/v2/users?id=7", got.URI)
	assert.Empty(t, got.Header.Get("Authorization"), "DeleteHeader")
	assert.Equal(t, "shadow", got.Header.Get("X-Env"))
	assert.Equal(t, "v2.internal", got.Host)
	assert.Equal(t, "s", got.Header.Get("X-Mirror"))
	require.Len(t, primary, 6)
	assert.Equal(t, "/api/v1/users?id=7 auth=Bearer secret env=", primary[0], "the primary request is never edited")
	s := m.Stats()
	requireBalanced(t, s)
	assert.Equal(t, uint64(6), s.Seen)
	assert.Equal(t, uint64(1), s.Sent)
	assert.Equal(t, uint64(5), s.Dropped[DropFiltered])
}

func TestRulesInvalid(t *testing.T) {
	for name, tc := range map[string]struct {
		r     Rules
		field string
	}{
		"url regexp":    {Rules{AllowURL: []string{"("}}, "Rules.AllowURL[0]"},
		"deny regexp":   {Rules{DenyURL: []string{"ok", "[z-a]"}}, "Rules.DenyURL[1]"},
		"header name":   {Rules{AllowHeader: []HeaderMatch{{Name: "bad name", Pattern: "x"}}}, "Rules.AllowHeader[0]"},
		"header regexp": {Rules{DenyHeader: []HeaderMatch{{Name: "X", Pattern: "*"}}}, "Rules.DenyHeader[0]"},
		"lower method":  {Rules{AllowMethods: []string{"get"}}, "Rules.AllowMethods[0]"},
		"rewrite":       {Rules{RewriteURL: []URLRewrite{{Pattern: "(", Replacement: "/"}}}, "Rules.RewriteURL[0]"},
		"replacement":   {Rules{RewriteURL: []URLRewrite{{Pattern: "x", Replacement: "http://evil"}}}, "Rules.RewriteURL[0]"},
		"set value":     {Rules{SetHeader: []HeaderValue{{Name: "X", Value: "a\r\nB: c"}}}, "Rules.SetHeader[0]"},
		"delete name":   {Rules{DeleteHeader: []string{""}}, "Rules.DeleteHeader[0]"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(Config{Targets: []Target{{URL: "http://x"}}, Rules: tc.r})
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tc.field)
			_, err = Replay(context.Background(), Records(nil), ReplayConfig{Target: "http://x", Rules: tc.r})
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), "ReplayConfig."+tc.field)
		})
	}
	_, err := New(Config{Targets: []Target{{URL: "http://x", Rate: -1}}})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "Rate")
}

// TestRateCapDropped: Target.Rate caps copies per second; those over it are
// Dropped[DropRate] and the identity holds. The clock is fake, so the
// counts are exact.
func TestRateCapDropped(t *testing.T) {
	sh := newShadow(t, nil)
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	m := newMirror(t, Config{Now: clock.now, Targets: []Target{
		{Name: "capped", URL: sh.URL, Rate: 10},
		{Name: "free", URL: sh.URL},
	}})
	h := m.Handler(primaryHandler())
	serve := func(n int) {
		for range n {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/r", nil))
		}
	}
	serve(50)
	clock.add(500 * time.Millisecond)
	serve(20)
	clock.add(10 * time.Second) // refills to the burst (1 s worth), no more
	serve(30)
	closeNow(t, m)
	s := m.Stats()
	requireBalanced(t, s)
	capped, free := s.Targets["capped"], s.Targets["free"]
	assert.Equal(t, uint64(100), capped.Seen)
	assert.Equal(t, uint64(10+5+10), capped.Sent, "burst 10, +5 after 0.5 s, +10 after a long pause")
	assert.Equal(t, uint64(75), capped.Dropped[DropRate])
	assert.Equal(t, uint64(100), free.Sent, "the cap is per target")
	assert.Zero(t, free.Dropped[DropRate])
	assert.Equal(t, "rate", DropRate.String())
}

// TestSplitRoundRobin: with Split each request goes to one target in turn
// and counts once; request-level drops are spread the same way.
func TestSplitRoundRobin(t *testing.T) {
	var shadows []*shadowServer
	var targets []Target
	for i := range 3 {
		sh := newShadow(t, nil)
		shadows = append(shadows, sh)
		targets = append(targets, Target{Name: fmt.Sprintf("t%d", i), URL: sh.URL})
	}
	m := newMirror(t, Config{Targets: targets, Split: true})
	h := m.Handler(primaryHandler())
	for i := range 30 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/r/%d", i), nil))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("DELETE", "/r", nil)) // DropMethod
	}
	closeNow(t, m)
	s := m.Stats()
	requireBalanced(t, s)
	assert.Equal(t, uint64(60), s.Seen, "each request counted once")
	assert.Equal(t, uint64(30), s.Sent)
	assert.Equal(t, uint64(30), s.Dropped[DropMethod])
	for i, sh := range shadows {
		ts := s.Targets[fmt.Sprintf("t%d", i)]
		assert.Equal(t, uint64(10), ts.Sent, "target %d", i)
		assert.Equal(t, uint64(10), ts.Dropped[DropMethod], "target %d", i)
		sh.mu.Lock()
		assert.Len(t, sh.reqs, 10)
		for _, r := range sh.reqs {
			var n int
			_, err := fmt.Sscanf(r.URI, "/r/%d", &n)
			require.NoError(t, err)
			assert.Equal(t, i, n%3, "round-robin order: request %d went to target %d", n, i)
		}
		sh.mu.Unlock()
	}
}

func TestReplayRules(t *testing.T) {
	srv := newArrivalServer(t)
	rep, err := Replay(context.Background(), openVector(t, "loopback-5.gor"), ReplayConfig{
		Target: srv.URL, Unpaced: true,
		Rules: Rules{
			DenyURL:    []string{`^/slow`},
			RewriteURL: []URLRewrite{{Pattern: `^/status/(\d+)`, Replacement: "/code/$1"}},
		},
	})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Skipped, "/slow denied")
	assert.Equal(t, rep.Requests-1, rep.Sent)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	assert.Contains(t, srv.paths, "/code/404")
	assert.NotContains(t, srv.paths, "/slow")
	assert.NotContains(t, srv.paths, "/status/404")
}

func TestSummarizeRecording(t *testing.T) {
	s, err := SummarizeRecording(openVector(t, "loopback-5-replayed.gor"))
	require.NoError(t, err)
	assert.Equal(t, 5, s.ByKind[KindRequest])
	assert.Equal(t, 5, s.ByKind[KindResponse])
	assert.Equal(t, 5, s.ByKind[KindReplayedResponse])
	assert.Equal(t, s.ByKind[KindRequest]+s.ByKind[KindResponse]+s.ByKind[KindReplayedResponse], s.Records)
	assert.Equal(t, 4, s.ByMethod["GET"])
	assert.Equal(t, 1, s.ByMethod["POST"])
	assert.Equal(t, 1, s.ByEndpoint["GET /status/{id}"])
	assert.Equal(t, 1, s.ByStatus[404])
	assert.Positive(t, s.Span())
	assert.Less(t, s.Span(), time.Minute)
	require.NotNil(t, s.Read)
	var buf bytes.Buffer
	require.NoError(t, s.WriteText(&buf))
	for _, line := range strings.Split(buf.String(), "\n") {
		assert.LessOrEqual(t, len([]rune(line)), 100, "line %q", line)
	}
	assert.Contains(t, buf.String(), "methods: GET 4 POST 1")
	_, err = SummarizeRecording(nil)
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestDiffRecordings joins a capture with a replay's output by ID, and with
// a re-recording (new IDs) by method, URI and body hash.
func TestDiffRecordings(t *testing.T) {
	d, err := DiffRecordings(openVector(t, "loopback-5.gor"), openVector(t, "loopback-5-replayed.gor"), DiffConfig{})
	require.NoError(t, err)
	assert.Equal(t, 5, d.ByID)
	assert.Zero(t, d.ByKey)
	assert.Equal(t, 5, d.Compared)
	assert.Contains(t, d.Summary.Reported(), "GET /hello body", "primary vs shadow greeting")

	// A re-recording: same requests, new IDs, one response changed.
	a := openVector(t, "loopback-5.gor")
	var recs []Record
	for {
		rec, err := a.Next()
		if err != nil {
			break
		}
		rec = rec.Clone()
		rec.ID = "re" + rec.ID
		if rec.Kind == KindResponse && bytes.Contains(rec.Payload, []byte("status 404")) {
			rec.Payload = bytes.Replace(rec.Payload, []byte("404 Not Found"), []byte("410 Gone"), 1)
		}
		recs = append(recs, rec)
	}
	d, err = DiffRecordings(openVector(t, "loopback-5.gor"), Records(recs), DiffConfig{})
	require.NoError(t, err)
	assert.Zero(t, d.ByID)
	assert.Equal(t, 5, d.ByKey)
	assert.Zero(t, d.OnlyA)
	assert.Zero(t, d.OnlyB)
	assert.Equal(t, []string{"GET /status/{id} status"}, d.Summary.Reported())
	var buf bytes.Buffer
	require.NoError(t, d.WriteText(&buf))
	assert.Contains(t, buf.String(), "5 by request")
	assert.Contains(t, buf.String(), "status (value)\n        - 404\n        + 410\n")

	// Nothing to join: everything is only in a.
	d, err = DiffRecordings(openVector(t, "loopback-5.gor"), Records(nil), DiffConfig{})
	require.NoError(t, err)
	assert.Equal(t, 5, d.OnlyA)
	_, err = DiffRecordings(nil, Records(nil), DiffConfig{})
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestDiffTextReadable: values with newlines are escaped and no line of
// WriteText is wider than 100 columns.
func TestDiffTextReadable(t *testing.T) {
	d, err := NewDiffer(DiffConfig{})
	require.NoError(t, err)
	long := strings.Repeat("word ", 60)
	d.Observe("GET", "/text/with/a/rather/long/path/that/goes/on", Response{Status: 200, Body: []byte("line one\nline two\n" + long)},
		Response{Status: 200, Body: []byte("line one\r\nline 2\n")}, nil)
	var buf bytes.Buffer
	require.NoError(t, d.Summary().WriteText(&buf))
	out := buf.String()
	assert.Contains(t, out, `line one\nline two\n`)
	assert.Contains(t, out, `line one\r\nline 2\n`)
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		assert.LessOrEqual(t, len([]rune(line)), 100, "line %q", line)
	}
	assert.Equal(t, 5, strings.Count(out, "\n"), "endpoint, field, example, - and + lines only:\n%s", out)
}

func TestWrapText(t *testing.T) {
	got := wrapText("input problem: "+strings.Repeat("word ", 30)+strings.Repeat("x", 120), 40, "  ")
	for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		assert.LessOrEqual(t, len([]rune(line)), 40, "line %q", line)
	}
	assert.True(t, strings.HasPrefix(got, "input problem: word word"))
	assert.Contains(t, got, "\n  word")
	assert.Contains(t, got, "…")
	assert.Equal(t, 30+1, strings.Count(got, "word")+strings.Count(got, "input problem"))
}
