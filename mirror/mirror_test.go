package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shadowServer records what it receives.
type shadowServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seenReq
	got  chan seenReq
}

type seenReq struct {
	Method, URI, Host string
	Header            http.Header
	Body              string
}

func newShadow(t testing.TB, h http.HandlerFunc) *shadowServer {
	t.Helper()
	s := &shadowServer{got: make(chan seenReq, 10000)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sr := seenReq{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone(), Body: string(b)}
		s.mu.Lock()
		s.reqs = append(s.reqs, sr)
		s.mu.Unlock()
		s.got <- sr
		if h != nil {
			h(w, r)
			return
		}
		io.WriteString(w, "shadow ok")
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *shadowServer) wait(t testing.TB) seenReq {
	t.Helper()
	select {
	case r := <-s.got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("shadow got nothing in 10s")
		return seenReq{}
	}
}

func newMirror(t testing.TB, cfg Config) *Mirror {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	return m
}

// closeNow closes m and waits for its workers.
func closeNow(t testing.TB, m *Mirror) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.Shutdown(ctx))
}

func primaryHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "primary %s %s %d", r.Method, r.URL.Path, len(b))
	})
}

func get(t testing.TB, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	return string(b)
}

func requireBalanced(t testing.TB, s Stats) {
	t.Helper()
	require.Truef(t, s.Balanced(), "Seen %d != Sent %d + Queued %d + InFlight %d + Dropped %v",
		s.Seen, s.Sent, s.Queued, s.InFlight, s.Dropped)
}

// leakCheck returns a func that waits until goroutines are back to the
// starting count (plus slack for net/http's idle machinery).
func leakCheck(t testing.TB) func() {
	t.Helper()
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before+2 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("goroutine leak: %d before, %d after\n%s", before, n, buf)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestHandlerMirrorsGETWithDefaults(t *testing.T) {
	sh := newShadow(t, nil)
	m := newMirror(t, Config{Targets: []Target{{Name: "v2", URL: sh.URL + "/prefix"}}})
	front := httptest.NewServer(m.Handler(primaryHandler()))
	defer front.Close()

	body := get(t, front.Client(), front.URL+"/users/7?x=1&y=%20z")
	assert.Equal(t, "primary GET /users/7 0", body)
	got := sh.wait(t)
	assert.Equal(t, "GET", got.Method)
	assert.Equal(t, "/prefix/users/7?x=1&y=%20z", got.URI, "target path is a prefix; query kept")
	assert.Equal(t, strings.TrimPrefix(front.URL, "http://"), got.Host, "HostKeep: the primary's Host")
	assert.Equal(t, "v2", got.Header.Get("X-Mirror"))

	closeNow(t, m)
	s := m.Stats()
	requireBalanced(t, s)
	assert.Equal(t, uint64(1), s.Seen)
	assert.Equal(t, uint64(1), s.Sent)
	assert.Zero(t, s.Errors)
	assert.Equal(t, uint64(1), s.Targets["v2"].Status[200])
	assert.Equal(t, 1, s.Targets["v2"].Latency.Count)
}

func TestMethodsAndBodies(t *testing.T) {
	sh := newShadow(t, nil)
	t.Run("writes off by default", func(t *testing.T) {
		m := newMirror(t, Config{Targets: []Target{{URL: sh.URL}}})
		front := httptest.NewServer(m.Handler(primaryHandler()))
		defer front.Close()
		resp, err := front.Client().Post(front.URL+"/w", "text/plain", strings.NewReader("hello"))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "primary POST /w 5", string(b))
		closeNow(t, m)
		s := m.Stats()
		requireBalanced(t, s)
		assert.Equal(t, uint64(1), s.Dropped[DropMethod])
	})
	t.Run("POST body teed as the handler reads it", func(t *testing.T) {
		m := newMirror(t, Config{Targets: []Target{{URL: sh.URL}}, Methods: []string{"POST", "PUT"}, MaxBodyBytes: 1000})
		front := httptest.NewServer(m.Handler(primaryHandler()))
		defer front.Close()
		payload := strings.Repeat("abc", 300)
		resp, err := front.Client().Post(front.URL+"/w", "text/plain", strings.NewReader(payload))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "primary POST /w 900", string(b))
		got := sh.wait(t)
		assert.Equal(t, payload, got.Body)
		assert.Equal(t, "POST", got.Method)
		// chunked (unknown length) body under the cap also works
		req, _ := http.NewRequest("PUT", front.URL+"/c", io.MultiReader(strings.NewReader("x"), strings.NewReader("yz")))
		resp, err = front.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, "xyz", sh.wait(t).Body)
		closeNow(t, m)
		requireBalanced(t, m.Stats())
		assert.Equal(t, uint64(2), m.Stats().Sent)
	})
	t.Run("bodies over the cap and unread bodies are counted", func(t *testing.T) {
		m := newMirror(t, Config{Targets: []Target{{URL: sh.URL}}, Methods: []string{"POST"}, MaxBodyBytes: 100})
		unread := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ignored body") })
		mux := http.NewServeMux()
		mux.Handle("/read", primaryHandler())
		mux.Handle("/unread", unread)
		front := httptest.NewServer(m.Handler(mux))
		defer front.Close()
		big := strings.Repeat("z", 5000)
		// Content-Length over the cap: skipped at once, primary unchanged.
		resp, err := front.Client().Post(front.URL+"/read", "text/plain", strings.NewReader(big))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "primary POST /read 5000", string(b))
		// Chunked over the cap: found while teeing.
		req, _ := http.NewRequest("POST", front.URL+"/read", io.MultiReader(strings.NewReader(big[:50]), strings.NewReader(big[50:])))
		resp, err = front.Client().Do(req)
		require.NoError(t, err)
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "primary POST /read 5000", string(b))
		// Handler never reads the body.
		resp, err = front.Client().Post(front.URL+"/unread", "text/plain", strings.NewReader("small"))
		require.NoError(t, err)
		resp.Body.Close()
		closeNow(t, m)
		s := m.Stats()
		requireBalanced(t, s)
		assert.Equal(t, uint64(2), s.Dropped[DropBodyTooLarge])
		assert.Equal(t, uint64(1), s.Dropped[DropBodyIncomplete])
		assert.Zero(t, s.Sent)
		assert.Zero(t, s.Pending)
	})
}

func TestHostAndPathPolicies(t *testing.T) {
	base, _ := url.Parse("http://shadow:9/base/")
	in, _ := url.Parse("/a/b%2Fc?q=1")
	assert.Equal(t, "http://shadow:9/base/a/b%2Fc?q=1", shadowURL(base, PathPrefix, in).String())
	assert.Equal(t, "http://shadow:9/base/?q=1", shadowURL(base, PathReplace, in).String())
	root, _ := url.Parse("http://shadow:9")
	assert.Equal(t, "http://shadow:9/a/b%2Fc?q=1", shadowURL(root, PathPrefix, in).String())
	assert.Equal(t, "api-shadow:8080", shadowHost("api:8080"))
	assert.Equal(t, "api-shadow", shadowHost("api"))

	sh := newShadow(t, nil)
	for _, tc := range []struct {
		policy HostPolicy
		want   func(front string) string
	}{
		{HostKeep, func(f string) string { return "public.example:80" }},
		{HostTarget, func(string) string { return strings.TrimPrefix(sh.URL, "http://") }},
		{HostShadowSuffix, func(string) string { return "public.example-shadow:80" }},
	} {
		m := newMirror(t, Config{Targets: []Target{{URL: sh.URL, PathMode: PathReplace}}, Host: tc.policy, MarkerHeader: "-"})
		front := httptest.NewServer(m.Handler(primaryHandler()))
		req, _ := http.NewRequest("GET", front.URL+"/x?k=v", nil)
		req.Host = "public.example:80"
		resp, err := front.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		got := sh.wait(t)
		assert.Equal(t, tc.want(front.URL), got.Host, "policy %d", tc.policy)
		assert.Equal(t, "/?k=v", got.URI)
		assert.Empty(t, got.Header.Get("X-Mirror"), `MarkerHeader "-" disables it`)
		front.Close()
		closeNow(t, m)
	}
}

func TestSampling(t *testing.T) {
	sh := newShadow(t, nil)
	m := newMirror(t, Config{Targets: []Target{{URL: sh.URL}}, Sample: 0.1})
	n := 0
	r := httptest.NewRequest("GET", "/", nil)
	for range 100000 {
		if m.sampled(r) {
			n++
		}
	}
	assert.InDelta(t, 10000, n, 1000, "10%% of 100000")

	// 1e-5 of 3e6 is 30 on average (Poisson, sd ≈ 5.5): both bounds are
	// more than 4 sd away, and a ratio rounded to 0 (or to 1e-4) fails.
	tiny := newMirror(t, Config{Targets: []Target{{URL: sh.URL}}, Sample: 1e-5})
	n = 0
	for range 3_000_000 {
		if tiny.sampled(r) {
			n++
		}
	}
	assert.GreaterOrEqual(t, n, 6, "1e-5 of 3e6 is about 30")
	assert.LessOrEqual(t, n, 60, "1e-5 of 3e6 is about 30")

	keyed := newMirror(t, Config{Targets: []Target{{URL: sh.URL}}, Sample: 0.3, SampleKey: HeaderKey("x-user")})
	in := 0
	for u := range 1000 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-User", fmt.Sprint("user-", u))
		first := keyed.sampled(r)
		for range 5 {
			require.Equal(t, first, keyed.sampled(r), "a user is always in or always out")
		}
		if first {
			in++
		}
	}
	assert.InDelta(t, 300, in, 80)

	ck := CookieKey("sid")
	r = httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "sid", Value: "abc"})
	assert.Equal(t, "abc", ck(r))
	assert.Equal(t, "", CookieKey("none")(r))

	// Not-sampled and filtered requests are counted.
	fm := newMirror(t, Config{Targets: []Target{{URL: sh.URL}}, Filter: func(r *http.Request) bool { return r.URL.Path != "/health" }})
	front := httptest.NewServer(fm.Handler(primaryHandler()))
	defer front.Close()
	get(t, front.Client(), front.URL+"/health")
	closeNow(t, fm)
	assert.Equal(t, uint64(1), fm.Stats().Dropped[DropFiltered])
}

func TestBadInput(t *testing.T) {
	cases := map[string]Config{
		"no targets":        {},
		"empty URL":         {Targets: []Target{{}}},
		"bad scheme":        {Targets: []Target{{URL: "ftp://x"}}},
		"no host":           {Targets: []Target{{URL: "http://"}}},
		"unparsable":        {Targets: []Target{{URL: "http://[::1"}}},
		"ratio > 1":         {Targets: []Target{{URL: "http://x"}}, Sample: 1.5},
		"ratio < 0":         {Targets: []Target{{URL: "http://x"}}, Sample: -0.1},
		"negative body cap": {Targets: []Target{{URL: "http://x"}}, MaxBodyBytes: -1},
		"negative queue":    {Targets: []Target{{URL: "http://x", Queue: -1}}},
		"negative workers":  {Targets: []Target{{URL: "http://x", Workers: -1}}},
		"negative timeout":  {Targets: []Target{{URL: "http://x", Timeout: -time.Second}}},
		"duplicate names":   {Targets: []Target{{URL: "http://x"}, {URL: "http://x"}}},
		"bad baseline":      {Targets: []Target{{URL: "http://x", Baseline: "nope"}}},
		"bad method":        {Targets: []Target{{URL: "http://x"}}, Methods: []string{"GE T"}},
		"lower-case method": {Targets: []Target{{URL: "http://x"}}, Methods: []string{"GET", "post"}},
		"bad diff":          {Targets: []Target{{URL: "http://x"}}, Compare: &DiffConfig{MaxBodyBytes: -1}},
		"bad marker header": {Targets: []Target{{URL: "http://x"}}, MarkerHeader: "X Mirror:"},
		"bad target name":   {Targets: []Target{{URL: "http://x", Name: "v2\r\nX-Evil: 1"}}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := New(cfg)
			assert.Nil(t, m)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.NotEmpty(t, err.Error())
		})
	}
	// A nil next handler is visible, not a panic.
	m := newMirror(t, Config{Targets: []Target{{URL: "http://127.0.0.1:1"}}})
	rec := httptest.NewRecorder()
	m.Handler(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 500, rec.Code)
	assert.Contains(t, rec.Body.String(), "Handler(nil)")
	closeNow(t, m)
	assert.ErrorIs(t, m.Shutdown(context.Background()), ErrClosed)
	// After Close the primary keeps serving; copies count as closed.
	rec = httptest.NewRecorder()
	m.Handler(primaryHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/after", nil))
	assert.Equal(t, "primary GET /after 0", rec.Body.String())
	assert.Equal(t, uint64(1), m.Stats().Dropped[DropClosed])
	requireBalanced(t, m.Stats())
}

// TestSlowShadowDoesNotDelayPrimary is the nginx/APISIX failure mode
// (apache/apisix#6536): sequential requests on one keep-alive connection
// while every shadow request is blocked.
func TestSlowShadowDoesNotDelayPrimary(t *testing.T) {
	done := leakCheck(t)
	release := make(chan struct{})
	var blocked atomic.Int32
	sh := newShadow(t, func(w http.ResponseWriter, r *http.Request) {
		blocked.Add(1)
		select { // "sleeps 10 s"
		case <-release:
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	})
	m := newMirror(t, Config{Targets: []Target{{URL: sh.URL, Workers: 2, Queue: 4, Timeout: 10 * time.Second, Breaker: BreakerConfig{Failures: -1}}}})
	front := httptest.NewServer(m.Handler(primaryHandler()))
	defer front.Close()

	// One client connection, sequential requests.
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var reused atomic.Int32
	for i := range 50 {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/n/%d", front.URL, i), nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(ci httptrace.GotConnInfo) {
				if ci.Reused {
					reused.Add(1)
				}
			},
		}))
		resp, err := client.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, fmt.Sprintf("primary GET /n/%d 0", i), string(b))
		if i == 1 {
			// Both workers are now stuck in the shadow. Waiting here
			// (rather than after the loop) makes the counts below exact:
			// on a loaded machine a worker may otherwise dequeue late,
			// and more copies would be dropped before it does.
			require.Eventually(t, func() bool { return blocked.Load() == 2 }, 10*time.Second, 5*time.Millisecond)
		}
	}
	// All 50 primary responses completed on one reused connection while
	// the shadow was still holding its requests.
	assert.Equal(t, int32(49), reused.Load())
	s := m.Stats()
	requireBalanced(t, s)
	assert.Equal(t, uint64(50), s.Seen)
	assert.Equal(t, int64(2), s.InFlight, "both workers blocked in the shadow")
	assert.Equal(t, int64(4), s.Queued, "queue full")
	assert.Equal(t, uint64(44), s.Dropped[DropQueueFull])
	assert.Zero(t, s.Sent)
	assert.LessOrEqual(t, runtime.NumGoroutine(), 60, "no goroutine per request")

	close(release)
	closeNow(t, m)
	s = m.Stats()
	requireBalanced(t, s)
	assert.Equal(t, uint64(6), s.Sent, "Close drained the queue")
	front.Close()
	sh.Close()
	tr.CloseIdleConnections()
	done()
}

func TestDeadShadows(t *testing.T) {
	// Refused: a port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String()
	ln.Close()
	// Black hole: accepts, never answers.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns sync.WaitGroup
	stopHole := make(chan struct{})
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { defer conns.Done(); <-stopHole; c.Close() }()
		}
	}()
	defer func() { close(stopHole); hole.Close(); conns.Wait() }()

	for _, tc := range []struct {
		name, url string
	}{{"refused", refused}, {"black-hole", "http://" + hole.Addr().String()}} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMirror(t, Config{Targets: []Target{{Name: tc.name, URL: tc.url, Workers: 2, Queue: 8,
				Timeout: 100 * time.Millisecond, Breaker: BreakerConfig{Failures: 3, OpenFor: time.Hour}}}})
			front := httptest.NewServer(m.Handler(primaryHandler()))
			defer front.Close()
			before := runtime.NumGoroutine()
			for i := range 200 {
				require.Equal(t, fmt.Sprintf("primary GET /%d 0", i), get(t, front.Client(), fmt.Sprintf("%s/%d", front.URL, i)))
				if i == 20 { // let the breaker see failures
					require.Eventually(t, func() bool { return m.Stats().Targets[tc.name].BreakerOpen }, 5*time.Second, 5*time.Millisecond)
				}
			}
			// Bounded: 2 workers and their connections, not a goroutine
			// per copy (a teeproxy-style mirror would hold ~200 here).
			assert.LessOrEqual(t, runtime.NumGoroutine(), before+40, "goroutines after 200 requests")
			closeNow(t, m)
			s := m.Stats()
			requireBalanced(t, s)
			assert.Equal(t, uint64(200), s.Seen)
			assert.GreaterOrEqual(t, s.Errors, uint64(3))
			assert.LessOrEqual(t, s.Errors, uint64(3+2), "errors stop growing once the breaker is open")
			assert.Greater(t, s.Dropped[DropBreakerOpen], uint64(150))
			if tc.name == "black-hole" {
				assert.Equal(t, s.Errors, s.Timeouts)
			}
		})
	}
}

func TestAccountingUnderBurstAndCloseMidBurst(t *testing.T) {
	for _, tc := range []struct {
		name  string
		split bool
		rate  float64
	}{{"all-targets", false, 0}, {"split-rate-rules", true, 300}} {
		t.Run(tc.name, func(t *testing.T) { testAccountingUnderBurst(t, tc.split, tc.rate) })
	}
}

// testAccountingUnderBurst: 8 goroutines of mixed requests, Shutdown in the
// middle, a watcher checking the identity in every snapshot; with split,
// Target.Rate and Rules too (each request then counts once).
func testAccountingUnderBurst(t *testing.T, split bool, rate float64) {
	done := leakCheck(t)
	var hits atomic.Int64
	sh := newShadow(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(2 * time.Millisecond)
	})
	cfg := Config{Targets: []Target{
		{Name: "a", URL: sh.URL, Workers: 4, Queue: 16, Rate: rate},
		{Name: "b", URL: sh.URL, Workers: 1, Queue: 2},
	}, Methods: []string{"GET", "POST"}, MaxBodyBytes: 64, Sample: 0.9, Split: split}
	if split {
		cfg.Rules = Rules{DenyURL: []string{"^/g$"}, SetHeader: []HeaderValue{{Name: "X-Copy", Value: "1"}}}
	}
	m, err := New(cfg)
	require.NoError(t, err)
	h := m.Handler(primaryHandler())

	// First one copy must go through, waited for as an event: how many
	// sends fit before Shutdown's deadline in the burst below depends on
	// the machine (none on a starved one), and "every successful send
	// reached the shadow" must not hold only because nothing was sent.
	warm := 0
	for deadline := time.Now().Add(30 * time.Second); ; {
		require.True(t, time.Now().Before(deadline), "no copy reached the shadow in 30s: %+v", m.Stats())
		warm++
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/small", strings.NewReader("tiny")))
		require.Equal(t, 200, rec.Code)
		sent := false // this copy may be unsampled or dropped: then send another
		for wait := time.Now().Add(time.Second); !sent && time.Now().Before(wait); time.Sleep(time.Millisecond) {
			st := m.Stats()
			sent = st.Sent > st.Errors && hits.Load() > 0
		}
		if sent {
			break
		}
	}

	// A watcher checks the identity continuously.
	stopWatch := make(chan struct{})
	var snapshots, unbalanced atomic.Int64
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		for {
			select {
			case <-stopWatch:
				return
			default:
			}
			if !m.Stats().Balanced() {
				unbalanced.Add(1)
			}
			snapshots.Add(1)
		}
	}()
	var wg sync.WaitGroup
	var served atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				var req *http.Request
				switch i % 3 {
				case 0:
					req = httptest.NewRequest("GET", "/g", nil)
				case 1:
					req = httptest.NewRequest("POST", "/small", strings.NewReader("tiny"))
				default:
					req = httptest.NewRequest("POST", "/big", strings.NewReader(strings.Repeat("x", 100)))
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if strings.HasPrefix(rec.Body.String(), "primary ") {
					served.Add(1)
				}
				if g == 0 && i == 150 {
					go func() {
						ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
						defer cancel()
						_ = m.Shutdown(ctx)
					}()
					// Go on only once Close has begun, so the rest of
					// this goroutine's requests meet a closed Mirror
					// even if the machine is slow to schedule Close.
					for deadline := time.Now().Add(10 * time.Second); !m.closed.Load() && time.Now().Before(deadline); {
						time.Sleep(100 * time.Microsecond)
					}
				}
			}
		}()
	}
	wg.Wait()
	// Wait for Close to finish (workers gone).
	require.Eventually(t, func() bool {
		s := m.Stats()
		return s.Queued == 0 && s.InFlight == 0
	}, 10*time.Second, 5*time.Millisecond)
	close(stopWatch)
	watch.Wait()
	assert.Equal(t, int64(2400), served.Load(), "every primary request served")
	assert.Zero(t, unbalanced.Load(), "identity held in all %d snapshots", snapshots.Load())
	s := m.Stats()
	requireBalanced(t, s)
	if split {
		assert.Equal(t, uint64(2400+warm), s.Seen, "with Split each request counts once")
		// GETs after Shutdown began count as closed, not filtered.
		assert.Positive(t, s.Dropped[DropFiltered], "DenyURL drops GET /g")
		assert.LessOrEqual(t, s.Dropped[DropFiltered], uint64(800))
		// Copies and request-level drops each go round-robin (one counter
		// each), so the two targets differ by at most one of each.
		a, b := int(s.Targets["a"].Seen), int(s.Targets["b"].Seen)
		assert.LessOrEqual(t, max(a-b, b-a), 2, "round-robin: a %d, b %d", a, b)
	} else {
		assert.Equal(t, uint64(2*(2400+warm)), s.Seen, "two targets see every request")
	}
	assert.Greater(t, s.Dropped[DropQueueFull]+s.Dropped[DropRate], uint64(0))
	assert.Greater(t, s.Dropped[DropClosed], uint64(0))
	assert.Greater(t, s.Dropped[DropBodyTooLarge], uint64(0))
	assert.Greater(t, s.Dropped[DropNotSampled], uint64(0))
	assert.GreaterOrEqual(t, uint64(hits.Load()), s.Sent-s.Errors, "every successful send reached the shadow: %+v", s)
	assert.Greater(t, s.Sent-s.Errors, uint64(0), "the first copy, at least, was sent")
	sh.Close()
	done()
}

func TestMemoryBoundedWithBlockedShadow(t *testing.T) {
	release := make(chan struct{})
	sh := newShadow(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	const body = 64 << 10
	m := newMirror(t, Config{Targets: []Target{{URL: sh.URL, Workers: 2, Queue: 8, Timeout: time.Minute}},
		Methods: []string{"POST"}, MaxBodyBytes: body})
	h := m.Handler(primaryHandler())
	payload := bytes.Repeat([]byte("m"), body)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 2000 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/", bytes.NewReader(payload)))
		require.Equal(t, 200, rec.Code)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// Queue 8 + 2 in flight, ×(body + overhead); 2000 requests × 64 KiB would be 128 MiB.
	assert.Less(t, grown, int64(16<<20), "heap grew %d bytes", grown)
	s := m.Stats()
	requireBalanced(t, s)
	assert.Greater(t, s.Dropped[DropQueueFull], uint64(1900))
	close(release)
}

func TestRoundTripperWithReverseProxy(t *testing.T) {
	sh := newShadow(t, nil)
	origin := httptest.NewServer(primaryHandler())
	defer origin.Close()
	m := newMirror(t, Config{Targets: []Target{{URL: sh.URL}}, Methods: []string{"GET", "POST"}})
	ou, _ := url.Parse(origin.URL)
	proxy := httputil.NewSingleHostReverseProxy(ou)
	proxy.Transport = m.RoundTripper(nil)
	front := httptest.NewServer(proxy)
	defer front.Close()

	assert.Equal(t, "primary GET /p 0", get(t, front.Client(), front.URL+"/p"))
	assert.Equal(t, "/p", sh.wait(t).URI)
	resp, err := front.Client().Post(front.URL+"/post", "text/plain", strings.NewReader("payload!"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "primary POST /post 8", string(b))
	assert.Equal(t, "payload!", sh.wait(t).Body)
	closeNow(t, m)
	s := m.Stats()
	requireBalanced(t, s)
	assert.Equal(t, uint64(2), s.Sent)
}

func TestLiveCompareWithNoiseAndHooks(t *testing.T) {
	var n atomic.Int64
	jsonH := func(name string, extra bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			v := map[string]any{"user": "alice", "now": time.Now().UnixNano() + n.Add(1), "server": name}
			if extra {
				v["user"] = "bob" // injected regression
			}
			json.NewEncoder(w).Encode(v)
		}
	}
	primary := jsonH("primary", false)
	candidate := newShadow(t, jsonH("candidate", true))
	baseline := newShadow(t, jsonH("baseline", false))
	var results []Result
	var mu sync.Mutex
	m := newMirror(t, Config{
		Targets: []Target{{Name: "cand", URL: candidate.URL, Baseline: baseline.URL}},
		Compare: &DiffConfig{IgnoreJSONPaths: []string{"server"}},
		OnResult: func(r Result) {
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		},
	})
	front := httptest.NewServer(m.Handler(primary))
	defer front.Close()
	for i := range 20 {
		get(t, front.Client(), fmt.Sprintf("%s/users/%d", front.URL, i))
	}
	closeNow(t, m)
	mu.Lock()
	require.Len(t, results, 20)
	r0 := results[0]
	mu.Unlock()
	require.NotNil(t, r0.Diff)
	require.NotNil(t, r0.Primary)
	assert.Equal(t, "GET /users/{id}", r0.Diff.Endpoint)
	sum := m.DiffSummary()
	require.Len(t, sum.Endpoints, 1)
	assert.Equal(t, 20, sum.Endpoints[0].Total)
	assert.Equal(t, []string{"GET /users/{id} body.user"}, sum.Reported(),
		"user differs only in the candidate; now differs in the baseline too (noise); server is ignored")
	var buf bytes.Buffer
	require.NoError(t, sum.WriteText(&buf))
	assert.Contains(t, buf.String(), "body.user")
}

func TestShadowLifetimeDetachedFromPrimary(t *testing.T) {
	sh := newShadow(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond) // outlives the primary request
		io.WriteString(w, "late")
	})
	var got atomic.Pointer[Result]
	m := newMirror(t, Config{Targets: []Target{{URL: sh.URL}}, OnResult: func(r Result) { got.Store(&r) }})
	type ctxKey struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	req := httptest.NewRequest("GET", "/detached", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	m.Handler(primaryHandler()).ServeHTTP(rec, req)
	cancel() // the primary is done and cancelled
	closeNow(t, m)
	r := got.Load()
	require.NotNil(t, r)
	assert.NoError(t, r.Err)
	assert.Equal(t, "late", string(r.Shadow.Body))
}

// TestNilArgumentsAreErrors: a nil request to the RoundTripper and a nil
// handler at the end of a Chain are reported, not panics.
func TestNilArgumentsAreErrors(t *testing.T) {
	m := newMirror(t, Config{Targets: []Target{{URL: "http://127.0.0.1:1"}}})
	resp, err := m.RoundTripper(nil).RoundTrip(nil)
	assert.Nil(t, resp)
	assert.ErrorContains(t, err, "nil request")

	rec := httptest.NewRecorder()
	Chain(m.Handler)(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Contains(t, rec.Body.String(), "Chain(...)(nil)")
	// Nil middleware are skipped.
	rec = httptest.NewRecorder()
	Chain(nil, m.Handler)(primaryHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/c", nil))
	assert.Equal(t, "primary GET /c 0", rec.Body.String())
}

// TestShadowConnectionsReused (apache/apisix#9690: a new connection
// per mirrored request): 100 copies through 2 workers open a handful of
// connections to the shadow, not 100. The bound allows for the transport
// dialing a spare connection when one frees up during a dial.
func TestShadowConnectionsReused(t *testing.T) {
	var conns, hits atomic.Int32
	sh := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "shadow ok")
	}))
	sh.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	sh.Start()
	defer sh.Close()
	m := newMirror(t, Config{Targets: []Target{{URL: sh.URL, Workers: 2, Queue: 200}}})
	h := m.Handler(primaryHandler())
	for i := range 100 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/k/%d", i), nil))
		require.Equal(t, 200, rec.Code)
	}
	closeNow(t, m)
	s := m.Stats()
	requireBalanced(t, s)
	require.Equal(t, uint64(100), s.Sent)
	require.Zero(t, s.Errors)
	assert.Equal(t, int32(100), hits.Load())
	assert.LessOrEqual(t, conns.Load(), int32(6), "connections opened for 100 copies")
	assert.Positive(t, conns.Load())
}

// TestCloseByDeadlineWithDeadShadow: a full queue in front of a
// black-holed shadow whose own timeout is a minute. Close returns at its
// deadline (generous bound: 10 s for a 200 ms deadline on a loaded
// machine), counts what was still queued as closed, keeps the identity,
// and leaves no sender goroutines behind.
func TestCloseByDeadlineWithDeadShadow(t *testing.T) {
	done := leakCheck(t)
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns sync.WaitGroup
	stopHole := make(chan struct{})
	var accepted atomic.Int32
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns.Add(1)
			go func() { defer conns.Done(); <-stopHole; c.Close() }()
		}
	}()
	m, err := New(Config{Targets: []Target{{URL: "http://" + hole.Addr().String(), Workers: 2, Queue: 8,
		Timeout: time.Minute, Breaker: BreakerConfig{Failures: -1}}}})
	require.NoError(t, err)
	h := m.Handler(primaryHandler())
	for i := range 30 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/d/%d", i), nil))
		require.Equal(t, fmt.Sprintf("primary GET /d/%d 0", i), rec.Body.String())
	}
	require.Eventually(t, func() bool { return m.Stats().InFlight == 2 }, 10*time.Second, 5*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = m.Shutdown(ctx)
	took := time.Since(start)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, took, 10*time.Second, "Close took %v", took)
	s := m.Stats()
	requireBalanced(t, s)
	assert.Equal(t, uint64(30), s.Seen)
	assert.Zero(t, s.Queued)
	assert.Zero(t, s.InFlight)
	assert.Equal(t, uint64(2), s.Sent, "the two in-flight sends were cancelled and counted as sent with an error")
	assert.Equal(t, uint64(2), s.Errors)
	assert.Positive(t, s.Dropped[DropClosed], "queued copies counted as closed")
	assert.Equal(t, uint64(30-2), s.Dropped[DropClosed]+s.Dropped[DropQueueFull])
	assert.Contains(t, err.Error(), fmt.Sprintf("%d copies abandoned", 2+s.Dropped[DropClosed]),
		"Shutdown says how many copies it abandoned")

	close(stopHole)
	hole.Close()
	conns.Wait()
	done()
}

// repeatReader yields n bytes of 'r' without holding them in memory.
type repeatReader struct{ n int64 }

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = 'r'
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// TestStreamingBodyOverCapIsNotBuffered (Envoy's silent 1 MiB skip,
// nginx's mirror_request_body): a 64 MiB body of unknown length streams
// through a primary that discards it while the tee stops copying at the
// 1 MiB cap; the copy is counted as too large, and all the allocation for
// the request stays far below the body size (bound: 16 MiB, for the
// capped buffer's growth and the request machinery).
func TestStreamingBodyOverCapIsNotBuffered(t *testing.T) {
	sh := newShadow(t, nil)
	m := newMirror(t, Config{Targets: []Target{{URL: sh.URL}}, Methods: []string{"POST"}, MaxBodyBytes: 1 << 20})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "read %d %v", n, err)
	}))
	const size = 64 << 20
	req := httptest.NewRequest("POST", "/upload", io.NopCloser(&repeatReader{n: size}))
	req.ContentLength = -1 // unknown length: only the tee can find it too large
	rec := httptest.NewRecorder()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h.ServeHTTP(rec, req)
	runtime.ReadMemStats(&after)
	assert.Equal(t, fmt.Sprintf("read %d <nil>", size), rec.Body.String())
	grown := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, grown, uint64(16<<20), "allocated %d bytes for a %d-byte body", grown, size)
	closeNow(t, m)
	s := m.Stats()
	requireBalanced(t, s)
	assert.Equal(t, uint64(1), s.Dropped[DropBodyTooLarge])
	assert.Zero(t, s.Sent)
}

// A lower-case method would be accepted and then never match a request;
// New refuses it and names the method to use.
func TestLowerCaseMethodNamesTheFix(t *testing.T) {
	_, err := New(Config{Targets: []Target{{URL: "http://x"}}, Methods: []string{"post"}})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), `use "POST"`)
	// A non-standard method in any case is the caller's to define.
	m, err := New(Config{Targets: []Target{{URL: "http://x"}}, Methods: []string{"PURGE", "report"}})
	require.NoError(t, err)
	require.NoError(t, m.Shutdown(context.Background()))
}

// TestUserPanicRecovered: a panic in Config.Rewrite or Config.OnResult,
// which run on the mirror's own workers, must not kill the process; the
// copy counts as an error carrying a *PanicError.
func TestUserPanicRecovered(t *testing.T) {
	sh := newShadow(t, nil)
	results := make(chan Result, 4)
	calls := 0
	m := newMirror(t, Config{
		Targets: []Target{{Name: "s", URL: sh.URL, Workers: 1}},
		Logger:  slog.New(slog.DiscardHandler),
		Rewrite: func(r *http.Request) {
			if r.URL.Path == "/boom" {
				panic(errors.New("rewrite exploded"))
			}
		},
		OnResult: func(res Result) {
			results <- res
			calls++
			if calls == 1 {
				panic("on-result exploded")
			}
		},
	})
	h := m.Handler(primaryHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/boom", nil))
	res := <-results
	var pe *PanicError
	require.ErrorAs(t, res.Err, &pe)
	assert.Equal(t, "mirror: panic: rewrite exploded", pe.Error())
	assert.EqualError(t, errors.Unwrap(pe), "rewrite exploded")
	assert.NotEmpty(t, pe.Stack)
	// The worker survived both panics and sends the next copy.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/fine", nil))
	res = <-results
	assert.NoError(t, res.Err)
	closeNow(t, m)
	s := m.Stats()
	requireBalanced(t, s)
	assert.Equal(t, uint64(2), s.Sent)
	assert.Equal(t, uint64(1), s.Errors)
	assert.Nil(t, (&PanicError{Value: "x"}).Unwrap())
}
