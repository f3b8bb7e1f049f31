package mirror

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// nopWriter is a ResponseWriter that allocates nothing.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchRequest() *http.Request {
	r := httptest.NewRequest("GET", "http://api.example/users/42?page=2", nil)
	r.Header.Set("User-Agent", "bench/1.0")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Authorization", "Bearer abc.def.ghi")
	r.Header.Set("X-Request-Id", "0123456789abcdef")
	r.Header.Set("Accept-Encoding", "gzip")
	return r
}

// gateTransport answers every request with 204 once its gate is open; a
// closed gate holds the workers, so the benchmark controls when the queue
// drains.
type gateTransport struct {
	mu   sync.Mutex
	open chan struct{}
}

func newGate() *gateTransport { return &gateTransport{open: make(chan struct{})} }

func (g *gateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	<-ch
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 204, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

func (g *gateTransport) setOpen(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		if !open {
			g.open = make(chan struct{})
		}
	default:
		if open {
			close(g.open)
		}
	}
}

// resettableBody is a request body that can be rewound without allocating.
type resettableBody struct{ bytes.Reader }

func (*resettableBody) Close() error { return nil }

// BenchmarkMiddleware measures what Handler adds to the primary path: the
// unsampled path (decision only), the sampled GET path (decision, header
// snapshot, one non-blocking enqueue) without and with a 256-byte body
// (teed as the handler reads it), and no middleware at all (the anchor).
// The sampled runs hold the workers behind a gate and drain the queue with
// the timer stopped every 64 copies, so they measure the primary
// path with the queue not full; queue-full-frac reports the fraction of
// copies that met a full queue anyway (0 means every copy was queued).
// ns-over-no-mirror subtracts the anchor (run first, same request and
// handler, body read included).
func BenchmarkMiddleware(b *testing.B) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
	})
	payload := bytes.Repeat([]byte("b"), 256)
	var anchor float64 // no-mirror ns/op, measured first
	for _, tc := range []struct {
		name   string
		sample float64
		body   bool
	}{{"no-mirror", 0, true}, {"plumb-unsampled", 1e-5, false}, {"plumb-sampled", 1, false}, {"plumb-sampled-body", 1, true}} {
		b.Run(tc.name, func(b *testing.B) {
			// Drain at 64 queued copies: a healthy shadow keeps the queue
			// short, so pooled jobs and buffers are reused while still in
			// cache, as here.
			const queue, drainAt = 4096, 64
			gate := newGate()
			var h http.Handler = app
			var m *Mirror
			if tc.sample > 0 {
				var err error
				m, err = New(Config{Targets: []Target{{URL: "http://shadow.invalid", Queue: queue, Workers: 4,
					Client: &http.Client{Transport: gate}}}, Sample: tc.sample, Methods: []string{"GET"}})
				if err != nil {
					b.Fatal(err)
				}
				defer func() {
					gate.setOpen(true)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_ = m.Shutdown(ctx)
				}()
				h = m.Handler(app)
			}
			r := benchRequest()
			body := &resettableBody{}
			w := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				if tc.body {
					body.Reset(payload)
					r.Body, r.ContentLength = body, int64(len(payload))
				}
				h.ServeHTTP(w, r)
				if m != nil && tc.sample == 1 && len(m.targets[0].q) >= drainAt {
					b.StopTimer()
					gate.setOpen(true)
					for len(m.targets[0].q) > 0 || m.targets[0].inflight.Load() > 0 {
						time.Sleep(100 * time.Microsecond)
					}
					gate.setOpen(false)
					b.StartTimer()
				}
			}
			if m == nil {
				anchor = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				return
			}
			if s := m.Stats(); s.Seen > 0 {
				b.ReportMetric(float64(s.Dropped[DropQueueFull])/float64(s.Seen), "queue-full-frac")
			}
			if anchor > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)-anchor, "ns-over-no-mirror")
			}
		})
	}
}

// naiveMirror is what users write by hand (chrislusf/teeproxy style): read
// the whole body, then one goroutine and client.Do per copy, no queue, no
// bound.
func naiveMirror(target string, next http.Handler) http.Handler {
	client := &http.Client{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		copyReq, err := http.NewRequest(r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err == nil {
			copyReq.Header = r.Header.Clone()
			go func() {
				resp, err := client.Do(copyReq)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		next.ServeHTTP(w, r)
	})
}

// BenchmarkThroughput compares a primary with mirroring on against the
// same primary with mirroring off, in the same run: a 1 ms handler on
// loopback, batches of 32 concurrent keep-alive requests, sample 1.0. Each
// iteration sends one batch to each primary, alternating which goes first,
// so load on a shared machine hits both alike. Reported: req/s of each
// side, on/off (x-off-req/s, the median of per-iteration ratios, robust to
// load bursts; >= 0.95 is the goal), and CPU time of the
// whole process per request (cpu-us/req-on, -off and x-off-cpu), since wall
// throughput swings on a busy machine. Shadows run in a child process
// (the test binary, see TestMain), so only the mirror's own CPU counts.
// Variants: a slow shadow (20 ms, workers and queue at their defaults,
// most copies dropped as queue full), a healthy fast shadow (every copy
// sent: the cost of actually mirroring), a refusing shadow with the
// breaker disabled (the backoff is all that protects the primary), and
// naive-go-client-do (a goroutine and client.Do per copy, no queue)
// against the slow shadow.
func BenchmarkThroughput(b *testing.B) {
	slowURL := childShadow(b, 20*time.Millisecond)
	fastURL := childShadow(b, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	refusing := "http://" + ln.Addr().String()
	ln.Close()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		io.WriteString(w, "ok")
	})
	const batch = 32
	type side struct {
		url    string
		client *http.Client
		reqs   int
		wall   time.Duration
		cpu    time.Duration
	}
	newSide := func(b *testing.B, h http.Handler) *side {
		front := httptest.NewServer(h)
		b.Cleanup(front.Close)
		tr := &http.Transport{MaxIdleConnsPerHost: batch}
		b.Cleanup(tr.CloseIdleConnections)
		return &side{url: front.URL + "/x", client: &http.Client{Transport: tr}}
	}
	runBatch := func(b *testing.B, s *side) {
		c0, t0 := processCPU(), time.Now()
		var wg sync.WaitGroup
		for range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := s.client.Get(s.url)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
		wg.Wait()
		s.wall += time.Since(t0)
		s.cpu += processCPU() - c0
		s.reqs += batch
	}
	for _, v := range []struct {
		name string
		on   func(b *testing.B) http.Handler
	}{
		{"slow-shadow", func(b *testing.B) http.Handler { return benchMirror(b, Target{URL: slowURL}).Handler(app) }},
		{"healthy-fast-shadow", func(b *testing.B) http.Handler { return benchMirror(b, Target{URL: fastURL}).Handler(app) }},
		{"refusing-shadow-no-breaker", func(b *testing.B) http.Handler {
			return benchMirror(b, Target{URL: refusing, Breaker: BreakerConfig{Failures: -1}}).Handler(app)
		}},
		{"naive-go-client-do", func(b *testing.B) http.Handler { return naiveMirror(slowURL, app) }},
	} {
		b.Run(v.name, func(b *testing.B) {
			on, off := newSide(b, v.on(b)), newSide(b, app)
			runBatch(b, on) // warm up connections
			runBatch(b, off)
			*on, *off = side{url: on.url, client: on.client}, side{url: off.url, client: off.client}
			i := 0
			var ratios []float64 // per iteration: off wall / on wall
			for b.Loop() {
				w0, w1 := on.wall, off.wall
				if i++; i%2 == 0 {
					runBatch(b, on)
					runBatch(b, off)
				} else {
					runBatch(b, off)
					runBatch(b, on)
				}
				ratios = append(ratios, float64(off.wall-w1)/float64(on.wall-w0))
			}
			rps := func(s *side) float64 { return float64(s.reqs) / s.wall.Seconds() }
			cpu := func(s *side) float64 { return float64(s.cpu.Microseconds()) / float64(s.reqs) }
			b.ReportMetric(rps(on), "req/s-on")
			b.ReportMetric(rps(off), "req/s-off")
			b.ReportMetric(median(ratios), "x-off-req/s")
			if cpu(off) > 0 {
				b.ReportMetric(cpu(on), "cpu-us/req-on")
				b.ReportMetric(cpu(off), "cpu-us/req-off")
				b.ReportMetric(cpu(on)/cpu(off), "x-off-cpu")
			}
		})
	}
}

// benchMirror starts a Mirror with one target and a quiet logger; it is
// shut down when b ends.
func benchMirror(b *testing.B, t Target) *Mirror {
	m, err := New(Config{Targets: []Target{t}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	return m
}

func benchGorData(b *testing.B, n, size int) []byte {
	var buf bytes.Buffer
	w := NewGorWriter(&buf)
	payload := []byte(fmt.Sprintf("POST /bench HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size))
	payload = append(payload, bytes.Repeat([]byte("a"), size)...)
	for i := range n {
		if err := w.WriteRecord(Record{Kind: KindRequest, ID: NewID(), Time: int64(i), Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkGorRead is M11: reading a .gor stream of 1 KiB records with
// GorReader (parsed headers, interned IDs, problem accounting) against two
// bufio.Scanner loops split on the separator: tokens only (bufio-split, the
// floor), and tokens plus the hand-written header parse that
// a user would write (bufio-split-parse: type, ID,
// timestamp and latency, no heap).
func BenchmarkGorRead(b *testing.B) {
	data := benchGorData(b, 2000, 1024)
	b.Run("plumb", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			r := NewGorReader(bytes.NewReader(data), ReadConfig{})
			n := 0
			for {
				_, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != 2000 {
				b.Fatalf("read %d records", n)
			}
		}
	})
	split := func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.Index(data, GorSeparator); i >= 0 {
			return i + len(GorSeparator), data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	}
	b.Run("bufio-split", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
			sc.Split(split)
			n := 0
			for sc.Scan() {
				n++
			}
			if n != 2000 {
				b.Fatalf("read %d records", n)
			}
		}
	})
	b.Run("bufio-split-parse", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
			sc.Split(split)
			n := 0
			var sum int64
			for sc.Scan() {
				hdr, _, _ := bytes.Cut(sc.Bytes(), []byte{'\n'})
				kind, rest, _ := bytes.Cut(hdr, []byte{' '})
				id, rest, _ := bytes.Cut(rest, []byte{' '})
				ts, lat, _ := bytes.Cut(rest, []byte{' '})
				t, err1 := strconv.ParseInt(string(ts), 10, 64)
				l, err2 := strconv.ParseInt(string(lat), 10, 64)
				if len(kind) != 1 || len(id) == 0 || err1 != nil || err2 != nil {
					b.Fatalf("bad header %q", hdr)
				}
				sum += t + l
				n++
			}
			if n != 2000 || sum == 0 {
				b.Fatalf("read %d records", n)
			}
		}
	})
}

// BenchmarkGorReadEmoji is BenchmarkGorRead's worst case for GorReader's
// separator search, which looks for the emoji's first byte (0xF0): 1 KiB
// bodies of 4-byte UTF-8 (emoji text), every character a false hit until
// the search hands over to bytes.Index. bufio-split is the same anchor.
func BenchmarkGorReadEmoji(b *testing.B) {
	var buf bytes.Buffer
	w := NewGorWriter(&buf)
	payload := []byte("POST /chat HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" + strings.Repeat("\U0001F600", 256))
	for i := range 2000 {
		if err := w.WriteRecord(Record{Kind: KindRequest, ID: NewID(), Time: int64(i), Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.Run("plumb", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			r := NewGorReader(bytes.NewReader(data), ReadConfig{})
			n := 0
			for {
				_, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != 2000 {
				b.Fatalf("read %d records", n)
			}
		}
	})
	b.Run("bufio-split", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
			sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
				if i := bytes.Index(data, GorSeparator); i >= 0 {
					return i + len(GorSeparator), data[:i], nil
				}
				if atEOF && len(data) > 0 {
					return len(data), data, nil
				}
				return 0, nil, nil
			})
			n := 0
			for sc.Scan() {
				n++
			}
			if n != 2000 {
				b.Fatalf("read %d records", n)
			}
		}
	})
}

// BenchmarkGorReadRatio reads the same stream with GorReader and with the
// bufio.Scanner split anchor alternately in every iteration, so that load
// on a shared machine hits both sides alike, and reports GorReader's speed
// as a multiple of the anchor's (x-bufio-split, the median of the
// per-iteration ratios; > 1 is faster), for plain
// 1 KiB bodies and for emoji-heavy ones (every 4 bytes a false hit for a
// search keyed on the separator's first emoji byte).
func BenchmarkGorReadRatio(b *testing.B) {
	emoji := func(b *testing.B) []byte {
		var buf bytes.Buffer
		w := NewGorWriter(&buf)
		payload := []byte("POST /chat HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" + strings.Repeat("\U0001F600", 256))
		for i := range 2000 {
			if err := w.WriteRecord(Record{Kind: KindRequest, ID: NewID(), Time: int64(i), Payload: payload}); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name string
		data func(b *testing.B) []byte
	}{
		{"plain", func(b *testing.B) []byte { return benchGorData(b, 2000, 1024) }},
		{"emoji", emoji},
	} {
		b.Run(tc.name, func(b *testing.B) {
			data := tc.data(b)
			split := func(data []byte, atEOF bool) (int, []byte, error) {
				if i := bytes.Index(data, GorSeparator); i >= 0 {
					return i + len(GorSeparator), data[:i], nil
				}
				if atEOF && len(data) > 0 {
					return len(data), data, nil
				}
				return 0, nil, nil
			}
			var ratios []float64
			b.SetBytes(int64(2 * len(data)))
			for b.Loop() {
				t0 := time.Now()
				r := NewGorReader(bytes.NewReader(data), ReadConfig{})
				n := 0
				for {
					if _, err := r.Next(); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
					n++
				}
				t1 := time.Now()
				sc := bufio.NewScanner(bytes.NewReader(data))
				sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
				sc.Split(split)
				m := 0
				for sc.Scan() {
					m++
				}
				t2 := time.Now()
				if n != 2000 || m != 2000 {
					b.Fatalf("read %d and %d records", n, m)
				}
				ratios = append(ratios, float64(t2.Sub(t1))/float64(t1.Sub(t0)))
			}
			b.ReportMetric(median(ratios), "x-bufio-split")
		})
	}
}

// median returns the median of xs (which it sorts).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	return xs[len(xs)/2]
}
