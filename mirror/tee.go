package mirror

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// teeBody copies what the primary reads into a pooled buffer, up to the cap.
type teeBody struct {
	m        *Mirror
	rc       io.ReadCloser
	j        *job
	bb       *bodyBuf
	eof      bool
	tooLarge bool
	early    bool // enqueue at EOF (no response capture needed)
	hold     bool // Close does not decide: a response capture will
	done     atomic.Bool
	mu       sync.Mutex
}

// newTee tees rc (whose declared length is n, -1 if unknown) into a pooled
// buffer; a known length up to the cap is allocated exactly, once.
func (m *Mirror) newTee(rc io.ReadCloser, n int64, j *job, early bool) *teeBody {
	m.pending.Add(1)
	bb := m.bufPool.Get().(*bodyBuf)
	if n > 0 && n <= m.cfg.MaxBodyBytes && int64(cap(bb.b)) < n {
		bb.b = make([]byte, 0, n)
	}
	return &teeBody{m: m, rc: rc, j: j, bb: bb, early: early}
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	t.mu.Lock()
	if n > 0 && !t.tooLarge && !t.done.Load() {
		if int64(len(t.bb.b)+n) > t.m.cfg.MaxBodyBytes {
			t.tooLarge = true
		} else {
			t.bb.b = appendCapped(t.bb.b, p[:n], t.m.cfg.MaxBodyBytes)
		}
	}
	if err == io.EOF {
		t.eof = true
	}
	early := t.eof && t.early
	t.mu.Unlock()
	if early {
		t.finish()
	}
	return n, err
}

func (t *teeBody) Close() error {
	err := t.rc.Close()
	if !t.hold {
		t.finish()
	}
	return err
}

// finish decides the copy's fate exactly once.
func (t *teeBody) finish() {
	if !t.done.CompareAndSwap(false, true) {
		return
	}
	t.m.pending.Add(-1)
	t.mu.Lock()
	eof, tooLarge := t.eof, t.tooLarge
	t.mu.Unlock()
	m := t.m
	switch {
	case tooLarge:
		m.dropAll(DropBodyTooLarge)
	case !eof:
		m.dropAll(DropBodyIncomplete)
	default:
		t.j.bodyStore.bb, t.j.bodyStore.pool = t.bb, &m.bufPool
		t.j.body = &t.j.bodyStore
		t.bb = nil
		m.enqueue(t.j)
		return
	}
	t.bb.b = t.bb.b[:0]
	m.bufPool.Put(t.bb)
	t.bb = nil
	m.putJob(t.j)
}

// captureWriter records the primary response for Compare.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   []byte
	limit  int64
	trunc  bool
	hdr    http.Header
}

func newCaptureWriter(w http.ResponseWriter, limit int64) *captureWriter {
	return &captureWriter{ResponseWriter: w, limit: limit}
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
		c.hdr = c.ResponseWriter.Header().Clone()
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if len(c.body) == 0 && len(p) > 0 {
		// net/http sniffs a missing Content-Type from the first write,
		// after WriteHeader: record what the client will see.
		if _, ok := c.hdr["Content-Type"]; !ok && c.hdr.Get("Transfer-Encoding") == "" {
			c.hdr.Set("Content-Type", http.DetectContentType(p))
		}
	}
	if room := c.limit - int64(len(c.body)); room > 0 {
		if int64(len(p)) > room {
			c.body = appendCapped(c.body, p[:room], c.limit)
			c.trunc = true
		} else {
			c.body = appendCapped(c.body, p, c.limit)
		}
	} else if len(p) > 0 {
		c.trunc = true
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush passes through when the underlying writer can flush.
func (c *captureWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *captureWriter) response() *Response {
	st, h := c.status, c.hdr
	if st == 0 {
		st, h = http.StatusOK, c.ResponseWriter.Header().Clone()
	}
	return &Response{Status: st, Header: h, Body: c.body, Truncated: c.trunc}
}

// RoundTripper returns a RoundTripper for httputil.ReverseProxy.Transport
// (or any client) that sends every request through base (nil means
// http.DefaultTransport) and copies those passing the checks to the
// targets. The request body is teed as base reads it; the copy is queued
// when base closes the body. With Compare, the primary response is captured
// as the caller reads it and the copy is queued when it closes the body.
func (m *Mirror) RoundTripper(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &roundTripper{m: m, base: base}
}

type roundTripper struct {
	m    *Mirror
	base http.RoundTripper
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil || req.URL == nil {
		return nil, errors.New("mirror: RoundTrip: nil request or URL")
	}
	m := rt.m
	if !m.decide(req) {
		return rt.base.RoundTrip(req)
	}
	if hasBody(req) && req.ContentLength > m.cfg.MaxBodyBytes {
		m.dropAll(DropBodyTooLarge)
		return rt.base.RoundTrip(req)
	}
	j := m.newJob(req)
	compare := m.differ != nil
	var tee *teeBody
	if hasBody(req) {
		tee = m.newTee(req.Body, req.ContentLength, j, false)
		tee.hold = compare
		r2 := *req // RoundTrippers must not modify the caller's request
		r2.Body = tee
		req = &r2
	} else if !compare {
		m.enqueue(j)
		return rt.base.RoundTrip(req)
	}
	resp, err := rt.base.RoundTrip(req)
	if !compare {
		return resp, err // tee.finish runs when base closes the body
	}
	if err != nil {
		if tee != nil {
			tee.finish()
		} else {
			m.dropAll(DropBodyIncomplete)
			m.putJob(j)
		}
		return resp, err
	}
	resp.Body = &respCapture{rc: resp.Body, m: m, j: j, tee: tee, status: resp.StatusCode,
		hdr: resp.Header.Clone(), limit: m.differ.cfg.MaxBodyBytes}
	return resp, nil
}

// respCapture copies the primary response body for Compare.
type respCapture struct {
	rc     io.ReadCloser
	m      *Mirror
	j      *job
	tee    *teeBody
	status int
	hdr    http.Header
	buf    []byte
	limit  int64
	trunc  bool
	once   sync.Once
}

func (c *respCapture) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if room := c.limit - int64(len(c.buf)); n > 0 {
		if int64(n) > room {
			c.buf = appendCapped(c.buf, p[:max(room, 0)], c.limit)
			c.trunc = true
		} else {
			c.buf = appendCapped(c.buf, p[:n], c.limit)
		}
	}
	return n, err
}

func (c *respCapture) Close() error {
	err := c.rc.Close()
	c.once.Do(func() {
		c.j.primary = &Response{Status: c.status, Header: c.hdr, Body: c.buf, Truncated: c.trunc}
		if c.tee != nil {
			c.tee.finish()
		} else {
			c.m.enqueue(c.j)
		}
	})
	return err
}
