package mirror

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vectorServer answers like the servers the testdata README describes.
func vectorServer(name string, statusOverride map[int]int) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello from %s\n", name)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"method":%q,"len":%d,"body":%q}`+"\n", r.Method, len(b), b)
	})
	mux.HandleFunc("GET /status/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if o, ok := statusOverride[n]; ok {
			n = o
		}
		w.WriteHeader(n)
		fmt.Fprintf(w, "status %d\n", n)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		io.WriteString(w, "slow ok\n")
	})
	mux.HandleFunc("GET /time", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"server":%q,"now":%d}`+"\n", name, time.Now().UnixNano())
	})
	return mux
}

// arrivalServer records when each request arrives.
type arrivalServer struct {
	*httptest.Server
	mu    sync.Mutex
	times []time.Time
	paths []string
}

func newArrivalServer(t testing.TB) *arrivalServer {
	a := &arrivalServer{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.times = append(a.times, time.Now())
		a.paths = append(a.paths, r.URL.RequestURI())
		a.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *arrivalServer) span() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.times) < 2 {
		return 0
	}
	return a.times[len(a.times)-1].Sub(a.times[0])
}

func openVector(t testing.TB, name string) *GorSource {
	t.Helper()
	src, err := OpenGor(vector(t, name), ReadConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	return src
}

// TestReplayTiming replays handwritten-200ms.gor (6 requests, 200 ms
// apart: 1 s of recording). Tolerances are generous because the test
// machine is shared: from first send to last response must take at least
// 80% of the ideal (pacing works; sends never fire early, so only a stall
// before the very first send could shorten it), and the arrivals at the
// server must span at most ideal + 400 ms (it does not stall). The lower
// bound is not taken from arrivals: a first request delayed in dialing
// would shorten that span without pacing being wrong.
func TestReplayTiming(t *testing.T) {
	for _, speed := range []float64{1, 2, 10} {
		t.Run(fmt.Sprintf("%gx", speed), func(t *testing.T) {
			srv := newArrivalServer(t)
			rep, err := Replay(context.Background(), openVector(t, "handwritten-200ms.gor"), ReplayConfig{Target: srv.URL, Speed: speed})
			require.NoError(t, err)
			ideal := time.Duration(float64(time.Second) / speed)
			span := srv.span()
			assert.GreaterOrEqual(t, rep.Elapsed, ideal*8/10, "elapsed %v for ideal %v", rep.Elapsed, ideal)
			assert.LessOrEqual(t, span, ideal+400*time.Millisecond, "span %v for ideal %v", span, ideal)
			assert.Equal(t, 6, rep.Sent)
			assert.Equal(t, 6, rep.Status[200])
			assert.Equal(t, 6, rep.ScheduleLag.Count)
			assert.Less(t, rep.ScheduleLag.P50, 100*time.Millisecond, "unsaturated: lag small")
			// Sends are concurrent, so a request delayed on a loaded
			// machine may arrive after the next one: check the set (the
			// span above checks the pacing).
			srv.mu.Lock()
			assert.ElementsMatch(t, []string{"/hello?i=0", "/hello?i=1", "/hello?i=2", "/hello?i=3", "/hello?i=4", "/hello?i=5"}, srv.paths)
			srv.mu.Unlock()
		})
	}
}

func TestReplayFixedRPS(t *testing.T) {
	recs := make([]Record, 30)
	for i := range recs {
		// All timestamps equal: only RPS paces.
		recs[i] = Record{Kind: KindRequest, ID: NewID(), Time: 1, Payload: []byte(fmt.Sprintf("GET /r/%d HTTP/1.1\r\nHost: x\r\n\r\n", i))}
	}
	srv := newArrivalServer(t)
	rep, err := Replay(context.Background(), Records(recs), ReplayConfig{Target: srv.URL, RPS: 100})
	require.NoError(t, err)
	// 30 requests at 100/s: 290 ms from first send to last send. Sends
	// never fire early, so the elapsed time (first send to last response)
	// is at least that, minus any stall before the first send: allow 20%.
	// The upper bounds are generous for a loaded 2-core machine.
	span := srv.span()
	assert.GreaterOrEqual(t, rep.Elapsed, 230*time.Millisecond, "elapsed %v", rep.Elapsed)
	assert.LessOrEqual(t, span, 700*time.Millisecond, "span %v", span)
	assert.Equal(t, 30, rep.Sent)
	assert.LessOrEqual(t, rep.Achieved, 100*1.3, "never faster than asked: achieved %.1f req/s", rep.Achieved)
	assert.GreaterOrEqual(t, rep.Achieved, 100*0.4, "achieved %.1f req/s", rep.Achieved)
}

func TestReplayUnpacedConcurrencyCap(t *testing.T) {
	var cur, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
	}))
	defer srv.Close()
	src := openVector(t, "handwritten-200ms.gor")
	rep, err := Replay(context.Background(), src, ReplayConfig{Target: srv.URL, Unpaced: true, Concurrency: 2, Loops: 3})
	require.NoError(t, err)
	assert.Equal(t, 18, rep.Sent, "3 loops × 6")
	assert.Equal(t, 18, rep.Requests)
	assert.LessOrEqual(t, peak.Load(), int32(2))
	assert.Equal(t, int32(2), peak.Load())
	// Waiting for a slot shows up as schedule lag.
	assert.Greater(t, rep.ScheduleLag.Max, 10*time.Millisecond)
	// 18 requests of 20 ms two at a time need ≥ 180 ms; recorded timing
	// (1 s per loop) is ignored.
	assert.Less(t, rep.Elapsed, 2*time.Second)
}

func TestReplayGuardsBadTimestampsAndReports(t *testing.T) {
	srv := newArrivalServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// In file order: the bad-ts record (read as 0) comes last; with a
	// look-ahead window it sorts first and the next gap is ~1.7e18 ns.
	rep, err := Replay(ctx, openVector(t, "bad-timestamp.gor"), ReplayConfig{Target: srv.URL, MaxGap: 50 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 5, rep.Sent)
	assert.GreaterOrEqual(t, rep.SkippedGaps, 1)
	assert.Equal(t, 2, rep.Malformed, "the 2-field header and the truncated tail")
	assert.Len(t, rep.Problems, 3)
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	assert.Contains(t, buf.String(), "200×5")
	assert.Contains(t, buf.String(), "schedule lag")
	assert.Contains(t, buf.String(), "bad .gor timestamp")
}

// TestReplayMaxGapSkips: with the default MaxGap (10 s), a capture with a
// bad first timestamp (read as 0, so the next gap is ~1.7e18 ns) and an
// hour of idle time must not pause the replay at all. The old code capped
// each gap to 10 s and slept it: 20 s here, past the 8 s deadline.
func TestReplayMaxGapSkips(t *testing.T) {
	srv := newArrivalServer(t)
	t0 := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	var recs []Record
	for i, at := range []time.Time{{}, t0, t0.Add(time.Millisecond), t0.Add(time.Hour)} {
		req := httptest.NewRequest("GET", fmt.Sprintf("/r/%d", i), nil)
		rec, err := RecordRequest(req, "", t0, nil)
		require.NoError(t, err)
		rec.Time = 0
		if !at.IsZero() {
			rec.Time = at.UnixNano()
		}
		recs = append(recs, rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	rep, err := Replay(ctx, Records(recs), ReplayConfig{Target: srv.URL, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err, "a gap beyond MaxGap must be skipped, not slept")
	assert.Equal(t, 4, rep.Sent)
	assert.Equal(t, 2, rep.SkippedGaps, "the bad timestamp's gap and the idle hour")
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	assert.Contains(t, buf.String(), "recorded gaps longer than MaxGap skipped: 2")
}

func TestReplayFilterRewriteOutAndErrors(t *testing.T) {
	srv := newArrivalServer(t)
	var out bytes.Buffer
	w := NewGorWriter(&out)
	rep, err := Replay(context.Background(), openVector(t, "loopback-5.gor"), ReplayConfig{
		Target: srv.URL + "/v2", Unpaced: true, Name: "canary",
		Filter:  func(_ Record, r *http.Request) bool { return r.URL.Path != "/slow" },
		Rewrite: func(r *http.Request) { r.Header.Set("X-Replayed", "1") },
		Out:     w,
	})
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	assert.Equal(t, 5, rep.Requests)
	assert.Equal(t, 4, rep.Sent)
	assert.Equal(t, 1, rep.Skipped)
	assert.ElementsMatch(t, []string{"/v2/hello", "/v2/echo", "/v2/status/404", "/v2/time?x=1"}, srv.paths)
	recs := readAll(t, NewGorReader(&out, ReadConfig{Strict: true}))
	require.Len(t, recs, 4)
	for _, r := range recs {
		assert.Equal(t, KindReplayedResponse, r.Kind)
		assert.Equal(t, []string{"canary"}, r.Extra, "the target is named in a 5th field (GoReplay #1219)")
		assert.Greater(t, r.Latency, int64(0))
	}

	// A dead target: errors counted, nothing hangs.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	rep, err = Replay(context.Background(), openVector(t, "handwritten-200ms.gor"), ReplayConfig{Target: deadURL, Unpaced: true})
	require.NoError(t, err)
	assert.Equal(t, 6, rep.Errors)

	// Cancellation returns the report so far.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	rep, err = Replay(ctx, openVector(t, "handwritten-200ms.gor"), ReplayConfig{Target: srv.URL})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, rep)
	assert.Less(t, rep.Sent, 6)
}

func TestReplayBadInput(t *testing.T) {
	src := Records(nil)
	cases := map[string]ReplayConfig{
		"empty target":    {},
		"bad target":      {Target: "localhost:80"},
		"negative speed":  {Target: "http://x", Speed: -1},
		"negative rps":    {Target: "http://x", RPS: -1},
		"rps and unpaced": {Target: "http://x", RPS: 10, Unpaced: true},
		"negative conc":   {Target: "http://x", Concurrency: -1},
		"loops < -1":      {Target: "http://x", Loops: -2},
		"bad baseline":    {Target: "http://x", Baseline: "::"},
		"bad compare":     {Target: "http://x", Compare: &DiffConfig{RelativeThreshold: -1}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Replay(context.Background(), src, cfg)
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
	_, err := Replay(context.Background(), nil, ReplayConfig{Target: "http://x"})
	assert.ErrorIs(t, err, ErrInvalid)
	f := NewGorReader(strings.NewReader(""), ReadConfig{})
	_, err = Replay(context.Background(), f, ReplayConfig{Target: "http://x", Loops: 2})
	assert.ErrorContains(t, err, "Resetter")
}

// TestOfflineDiff replays loopback-5.gor (recorded from the "primary")
// against a "shadow" with one injected regression and checks the diff.
func TestOfflineDiff(t *testing.T) {
	shadow := httptest.NewServer(vectorServer("shadow", map[int]int{404: 500}))
	defer shadow.Close()
	rep, err := Replay(context.Background(), openVector(t, "loopback-5.gor"), ReplayConfig{
		Target: shadow.URL, Speed: 10,
		Compare: &DiffConfig{IgnoreJSONPaths: []string{"now", "server"}, Headers: []string{"Content-Type"}},
	})
	require.NoError(t, err)
	require.NotNil(t, rep.Diff)
	assert.ElementsMatch(t, []string{
		"GET /hello body",         // hello from primary ≠ hello from shadow
		"GET /status/{id} status", // injected 404 → 500
		"GET /status/{id} body",   // its body
	}, rep.Diff.Reported())
	for _, e := range rep.Diff.Endpoints {
		assert.Equal(t, 1, e.Total, e.Endpoint)
	}
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	assert.Contains(t, buf.String(), "GET /status/{id}")
}

func TestOfflineDiffNoiseFromBaseline(t *testing.T) {
	// Without a baseline /time's "now" is a reported difference; a
	// baseline that also differs there turns it into noise.
	shadow := httptest.NewServer(vectorServer("shadow", nil))
	defer shadow.Close()
	base := httptest.NewServer(vectorServer("primary", nil))
	defer base.Close()
	cfg := ReplayConfig{Target: shadow.URL, Unpaced: true, Compare: &DiffConfig{IgnoreJSONPaths: []string{"server"}}}
	rep, err := Replay(context.Background(), openVector(t, "loopback-5.gor"), cfg)
	require.NoError(t, err)
	assert.Contains(t, rep.Diff.Reported(), "GET /time body.now")

	cfg.Baseline = base.URL
	rep, err = Replay(context.Background(), openVector(t, "loopback-5.gor"), cfg)
	require.NoError(t, err)
	assert.NotContains(t, rep.Diff.Reported(), "GET /time body.now", "now differs in the baseline too: noise")
	assert.Contains(t, rep.Diff.Reported(), "GET /hello body", "hello differs only in the shadow")
}
