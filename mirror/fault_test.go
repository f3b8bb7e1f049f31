package mirror

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// oddReader yields n bytes of 'o' in reads of at most 7,001 bytes (an odd
// size, so a buffer that grows by doubling does not land on the cap by luck).
type oddReader struct{ n int }

func (r *oddReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n, 7001)
	for i := range p[:k] {
		p[i] = 'o'
	}
	r.n -= k
	return k, nil
}

func heapNow() uint64 {
	runtime.GC()
	runtime.GC() // a second cycle also empties sync.Pool's victim cache
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryBoundHolds fills a target's queue and workers with copies of
// maximum-size bodies and checks the heap against the documented bound,
// Σ (Queue + Workers) × (MaxBodyBytes + header size), × 1.1 (the body
// rounded up to 8 KiB pages, as the doc says); and that no
// body buffer's capacity exceeds MaxBodyBytes. The old code kept bodies in
// bytes.Buffers that grow to 2·cap+n: about twice the bound.
func TestMemoryBoundHolds(t *testing.T) {
	const (
		maxBody = 100_000
		queue   = 160
		workers = 4
	)
	for _, tc := range []struct {
		name  string
		known bool // Content-Length declared
	}{{"content-length", true}, {"chunked", false}} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			unblock := func() { once.Do(func() { close(release) }) }
			shadow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				<-release // a shadow that holds every copy in flight
			}))
			defer shadow.Close()
			defer unblock()
			m := newMirror(t, Config{
				Targets:      []Target{{Name: "s", URL: shadow.URL, Queue: queue, Workers: workers, Timeout: time.Minute}},
				Methods:      []string{"POST"},
				MaxBodyBytes: maxBody,
				Logger:       discardLogger(),
			})
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			newReq := func() *http.Request {
				r := httptest.NewRequest("POST", "/upload", io.NopCloser(&oddReader{n: maxBody}))
				r.Header.Set("Content-Type", "application/octet-stream")
				r.ContentLength = -1
				if tc.known {
					r.ContentLength = maxBody
				}
				return r
			}
			before := heapNow()
			// One copy per worker (held in flight by the shadow), then a
			// full queue.
			for range workers {
				h.ServeHTTP(httptest.NewRecorder(), newReq())
			}
			require.Eventually(t, func() bool { return m.Stats().InFlight == workers }, 30*time.Second, 5*time.Millisecond)
			for range queue {
				h.ServeHTTP(httptest.NewRecorder(), newReq())
			}
			s := m.Stats()
			requireBalanced(t, s)
			require.Equal(t, int64(queue), s.Queued, "every copy queued: %+v", s)
			after := heapNow()

			var header int
			for k, vv := range newReq().Header {
				for _, v := range vv {
					header += len(k) + len(v)
				}
			}
			// The documented bound: MaxBodyBytes rounded up to the runtime's
			// 8 KiB pages for large objects, plus the header.
			perCopy := float64((maxBody+8191)/8192*8192 + header)
			bound := float64(queue+workers) * perCopy
			grew := float64(after) - float64(before)
			t.Logf("heap grew %.1f MB for %d copies; bound %.1f MB (%.2f×)", grew/1e6, queue+workers, bound/1e6, grew/bound)
			assert.LessOrEqual(t, grew, bound*1.1, "heap above the documented bound × 1.1")

			// Every queued body buffer is within the cap.
			tg := m.targets[0]
			var jobs []*job
			for range queue {
				jobs = append(jobs, <-tg.q)
			}
			maxCap := 0
			for _, j := range jobs {
				require.NotNil(t, j.body)
				require.Len(t, j.body.bb.b, maxBody)
				maxCap = max(maxCap, cap(j.body.bb.b))
			}
			for _, j := range jobs {
				tg.q <- j
			}
			assert.LessOrEqual(t, maxCap, maxBody, "a body buffer's capacity exceeds MaxBodyBytes")
			unblock()
		})
	}
}

// TestAppendCappedNeverExceedsCap checks the growth rule directly, for
// every chunk size pattern a reader might produce.
func TestAppendCappedNeverExceedsCap(t *testing.T) {
	for _, limit := range []int64{1, 511, 512, 513, 4096, 100_000, 1 << 20} {
		for _, chunk := range []int{1, 7, 512, 4095, 32 << 10} {
			var b []byte
			p := make([]byte, chunk)
			for int64(len(b)) < limit {
				n := int(min(int64(chunk), limit-int64(len(b))))
				b = appendCapped(b, p[:n], limit)
				require.LessOrEqual(t, int64(cap(b)), limit, "limit %d chunk %d len %d", limit, chunk, len(b))
			}
			require.Equal(t, limit, int64(len(b)))
		}
	}
}

// countingListener accepts connections and closes them at once (a shadow
// that resets every copy), counting the attempts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func newResettingShadow(t testing.TB) *countingListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cl := &countingListener{Listener: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cl.n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return cl
}

// TestFailingShadowBacksOff: with the breaker disabled, a shadow that
// refuses or resets every connection must not be redialled in a busy loop.
// Each worker waits backoff(n) ∈ [d/2, d) after its n-th failure in a row,
// so in a window of T it can fail at most 1 + #waits that fit in T. The old
// code retried at once: the 2,000 queued copies all went out in
// milliseconds.
func TestFailingShadowBacksOff(t *testing.T) {
	const workers, copies = 4, 2000
	// maxAttempts bounds one worker's sends in elapsed time e: the waits
	// after failures 1, 2, ... are at least half of 10 ms, 20 ms, ... 1 s.
	maxAttempts := func(e time.Duration) int {
		n, spent := 1, time.Duration(0)
		for k := 1; ; k++ {
			spent += min(backoffMax, backoffMin<<min(k-1, 7)) / 2
			if spent > e {
				return n
			}
			n++
		}
	}
	refused := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		ln.Close() // nothing listens: connection refused
		return "http://" + addr
	}
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) (string, func() int64)
	}{
		{"refused", func(t *testing.T) (string, func() int64) { return refused(t), nil }},
		{"reset", func(t *testing.T) (string, func() int64) {
			cl := newResettingShadow(t)
			return "http://" + cl.Addr().String(), cl.n.Load
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, accepted := tc.url(t)
			m := newMirror(t, Config{
				Targets: []Target{{Name: "dead", URL: url, Workers: workers, Queue: copies,
					Breaker: BreakerConfig{Failures: -1}}},
				Logger: discardLogger(),
			})
			h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			start := time.Now()
			for range copies {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
			}
			// Wait until the workers have failed twice each (so they have been
			// through a backoff), then keep checking the bound for 300 ms: a
			// slow machine only sends less, so the bound cannot fail by load.
			require.Eventually(t, func() bool { return m.Stats().Errors >= 2*workers }, 30*time.Second, time.Millisecond)
			var s Stats
			var elapsed time.Duration
			var limit int
			for watch := time.Now(); ; {
				s = m.Stats()
				elapsed = time.Since(start)
				limit = workers * maxAttempts(elapsed)
				if int(s.Sent) > limit || time.Since(watch) > 300*time.Millisecond {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("%d sends (%d errors) in %v; bound %d", s.Sent, s.Errors, elapsed.Round(time.Millisecond), limit)
			assert.LessOrEqual(t, int(s.Sent), limit, "a dead shadow is redialled faster than the backoff allows")
			assert.Equal(t, s.Sent, s.Errors)
			if accepted != nil {
				assert.LessOrEqual(t, int(accepted()), limit+workers, "connections accepted by the resetting shadow")
			}
			requireBalanced(t, s)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, m.Shutdown(ctx), "Shutdown ends the backoff waits and drains")
			requireBalanced(t, m.Stats())
		})
	}
}

func TestBackoffRange(t *testing.T) {
	for n := 1; n < 40; n++ {
		d := min(backoffMax, backoffMin<<min(n-1, 7))
		for range 50 {
			got := backoff(n)
			require.GreaterOrEqual(t, got, d/2, "n=%d", n)
			require.Less(t, got, d, "n=%d", n)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
