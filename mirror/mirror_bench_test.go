package mirror

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
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

// BenchmarkMiddleware measures what Handler adds to the primary path (M1):
// the unsampled path (decision only), the sampled GET path (decision,
// header clone, one non-blocking enqueue), and no middleware at all.
// The loop offers copies far faster than a loopback shadow takes them, so
// most sampled copies meet a full queue; the primary-path work is the same
// either way (one non-blocking select), and queue-full-frac says how many.
func BenchmarkMiddleware(b *testing.B) {
	shadow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer shadow.Close()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	run := func(b *testing.B, h http.Handler) {
		r := benchRequest()
		w := &nopWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	}
	for _, tc := range []struct {
		name   string
		sample float64
	}{{"plumb-unsampled", 1e-5}, {"plumb-sampled", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			m, err := New(Config{Targets: []Target{{URL: shadow.URL, Queue: 1024, Workers: 4}}, Sample: tc.sample})
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = m.Shutdown(ctx)
			}()
			run(b, m.Handler(app))
			if s := m.Stats(); s.Seen > 0 {
				b.ReportMetric(float64(s.Dropped[DropQueueFull])/float64(s.Seen), "queue-full-frac")
			}
		})
	}
	b.Run("no-mirror", func(b *testing.B) { run(b, app) })
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

// BenchmarkThroughput is M5: a primary with a 1 ms handler on loopback,
// sample 1.0, a shadow that takes 20 ms. Each op is a batch of 32
// concurrent requests over keep-alive connections; req/s and the p99 of
// primary latency are reported.
func BenchmarkThroughput(b *testing.B) {
	shadow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	defer shadow.Close()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		io.WriteString(w, "ok")
	})
	const batch = 32
	run := func(b *testing.B, h http.Handler) {
		front := httptest.NewServer(h)
		defer front.Close()
		tr := &http.Transport{MaxIdleConnsPerHost: batch}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		var lats []time.Duration
		var mu sync.Mutex
		start := time.Now()
		n := 0
		for b.Loop() {
			var wg sync.WaitGroup
			for range batch {
				wg.Add(1)
				go func() {
					defer wg.Done()
					t0 := time.Now()
					resp, err := client.Get(front.URL + "/x")
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					d := time.Since(t0)
					mu.Lock()
					lats = append(lats, d)
					mu.Unlock()
				}()
			}
			wg.Wait()
			n += batch
		}
		elapsed := time.Since(start)
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		if len(lats) > 0 {
			b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
		}
	}
	b.Run("plumb", func(b *testing.B) {
		m, err := New(Config{Targets: []Target{{URL: shadow.URL, Workers: 8, Queue: 256}}})
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = m.Shutdown(ctx)
		}()
		run(b, m.Handler(app))
	})
	b.Run("no-mirror", func(b *testing.B) { run(b, app) })
	b.Run("naive-go-client-do", func(b *testing.B) { run(b, naiveMirror(shadow.URL, app)) })
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
