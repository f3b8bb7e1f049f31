package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Backoff after a failed send (transport error or timeout): a worker waits
// backoffMin, doubling per consecutive failure up to backoffMax, each wait
// jittered to [d/2, d) so workers do not retry in step. Without it a
// refusing shadow (connection refused in microseconds) turns every worker
// into a busy loop of dials that takes CPU from the primary.
const (
	backoffMin = 10 * time.Millisecond
	backoffMax = time.Second
)

// backoff returns the wait after the n-th consecutive failure (n >= 1).
func backoff(n int) time.Duration {
	d := backoffMax
	if n < 8 {
		d = min(backoffMax, backoffMin<<(n-1))
	}
	return d/2 + rand.N(d/2)
}

// work is a target's sender loop; it ends when Shutdown stops it. After a
// failed send it waits (backoff) before taking the next copy; copies that
// arrive meanwhile queue, and past Queue are dropped as DropQueueFull, which
// costs the primary one non-blocking select. Shutdown ends the wait.
func (t *target) work() {
	defer t.m.wg.Done()
	fails := 0
	var timer *time.Timer
	for {
		select {
		case j := <-t.q:
			if !t.process(j) {
				fails = 0
				continue
			}
			fails++
			d := backoff(fails)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			select {
			case <-timer.C:
			case <-t.m.stop:
				timer.Stop()
			}
		case <-t.m.stop:
			for {
				select {
				case j := <-t.q:
					t.process(j)
				default:
					return
				}
			}
		}
	}
}

// process handles one dequeued copy; it reports whether a send failed
// (transport error, timeout, or a recovered panic).
func (t *target) process(j *job) (failed bool) {
	m := t.m
	t.acct.RLock()
	t.queued.Add(-1)
	var reason DropReason
	drop := false
	if m.baseCtx.Err() != nil {
		drop, reason = true, DropClosed
	} else if t.breakerMax > 0 {
		if until := t.openUntil.Load(); until != 0 && m.now().UnixNano() < until {
			drop, reason = true, DropBreakerOpen
		}
	}
	if drop {
		t.seenDropLocked(reason)
		t.acct.RUnlock()
		m.doneJob(j)
		return false
	}
	t.inflight.Add(1)
	t.acct.RUnlock()

	res := t.send(j)

	t.acct.RLock()
	t.inflight.Add(-1)
	t.sent.Add(1)
	if res.Err != nil {
		t.errors.Add(1)
		if errors.Is(res.Err, context.DeadlineExceeded) {
			t.timeouts.Add(1)
		}
	}
	t.acct.RUnlock()
	if res.Err != nil {
		t.m.log.Debug("mirror: shadow send failed", "target", t.name, "url", res.URL, "err", res.Err)
		if t.breakerMax > 0 && t.fails.Add(1) >= t.breakerMax {
			t.openUntil.Store(m.now().Add(t.breakerFor).UnixNano())
		}
	} else {
		t.fails.Store(0)
		t.openUntil.Store(0)
		t.statusMu.Lock()
		t.status[res.Shadow.Status]++
		t.statusMu.Unlock()
		t.lat.observe(res.Latency)
	}
	if m.cfg.OnResult != nil {
		m.onResult(res)
	}
	m.doneJob(j)
	return res.Err != nil
}

// onResult calls Config.OnResult, recovering a panic so that it cannot
// kill the worker (and the process with it).
func (m *Mirror) onResult(res Result) {
	defer func() {
		if err := recovered(recover()); err != nil {
			m.log.Error("mirror: Config.OnResult panicked", "target", res.Target, "err", err,
				"stack", string(err.(*PanicError).Stack))
		}
	}()
	m.cfg.OnResult(res)
}

// seenDropLocked moves a queued job to a drop (Seen was counted at offer).
func (t *target) seenDropLocked(reason DropReason) { t.dropped[reason].Add(1) }

// shadowURL builds the copy's URL from the target base and the request URL.
func shadowURL(base *url.URL, mode PathMode, u *url.URL) *url.URL {
	out := *base
	out.User = base.User
	switch mode {
	case PathReplace:
		out.RawQuery = u.RawQuery
	default:
		p := u.EscapedPath()
		bp := strings.TrimSuffix(base.EscapedPath(), "/")
		full := bp + p
		if full == "" {
			full = "/"
		}
		out.Path, out.RawPath = "", ""
		if up, err := url.PathUnescape(full); err == nil {
			out.Path = up
			if up != full {
				out.RawPath = full
			}
		} else {
			out.Path = full
		}
		out.RawQuery = u.RawQuery
	}
	if out.Path == "" {
		out.Path = "/"
	}
	out.Fragment = ""
	return &out
}

func shadowHost(h string) string {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		return h + "-shadow"
	}
	return net.JoinHostPort(host+"-shadow", port)
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (t *target) buildRequest(ctx context.Context, j *job, base *url.URL) (*http.Request, error) {
	m := t.m
	u := shadowURL(base, t.cfg.PathMode, m.rules.rewriteURI(&j.url))
	// An empty URL string parses without work; the URL is set directly
	// rather than formatted and parsed again.
	req, err := http.NewRequestWithContext(ctx, j.method, "", nil)
	if err != nil {
		return nil, err
	}
	req.URL = u
	req.Host = u.Host
	req.Body = http.NoBody
	if j.body != nil {
		if b := j.body.bb.b; len(b) > 0 {
			req.ContentLength = int64(len(b))
			req.Body = newCopyBody(m, j, b)
		}
	}
	req.Header = make(http.Header, len(j.header)/2+1)
	for i := 0; i+1 < len(j.header); i += 2 {
		req.Header[j.header[i]] = append(req.Header[j.header[i]], j.header[i+1])
	}
	for _, h := range hopHeaders {
		delete(req.Header, h)
	}
	switch m.cfg.Host {
	case HostKeep:
		req.Host = j.host
	case HostTarget:
		req.Host = ""
	case HostShadowSuffix:
		req.Host = shadowHost(j.host)
	}
	m.rules.editRequest(req)
	if m.cfg.MarkerHeader != "-" {
		req.Header[m.marker] = []string{t.name}
	}
	if m.cfg.Rewrite != nil {
		m.cfg.Rewrite(req)
	}
	return req, nil
}

// copyBody is a copy's request body. A transport may read and close a
// request body after RoundTrip returns (net/http.RoundTripper's contract),
// so the job, which owns the pooled buffer, holds one reference per
// copyBody until the transport closes it; the buffer is never reused while
// a transport can still read it. No GetBody: a copy is not retried.
type copyBody struct {
	bytes.Reader
	m      *Mirror
	j      *job
	closed atomic.Bool
}

func newCopyBody(m *Mirror, j *job, b []byte) *copyBody {
	j.refs.Add(1)
	cb := &copyBody{m: m, j: j}
	cb.Reset(b)
	return cb
}

// Close releases the body's reference to its job (once).
func (b *copyBody) Close() error {
	if b.closed.CompareAndSwap(false, true) {
		b.m.doneJob(b.j)
	}
	return nil
}

// send performs one copy (and its baseline) with the target's own timeout,
// detached from the primary's cancellation but keeping its values.
func (t *target) send(j *job) (res Result) {
	m := t.m
	defer func() {
		if err := recovered(recover()); err != nil { // from Config.Rewrite
			res.Err = err
		}
	}()
	ctx := context.WithoutCancel(j.ctx)
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	stopAfter := context.AfterFunc(m.baseCtx, cancel) // Shutdown's deadline aborts sends
	defer stopAfter()
	res = Result{Target: t.name, Method: j.method, Primary: j.primary}
	// Result is only seen by OnResult and the differ: without them the
	// shadow's body is drained, not kept, and no ID is made.
	var limit int64
	if m.cfg.OnResult != nil {
		res.ID = NewID()
		limit = 64 << 10
	}
	if m.differ != nil {
		limit = m.differ.cfg.MaxBodyBytes
	}
	req, err := t.buildRequest(ctx, j, t.base)
	if err != nil {
		res.Err = fmt.Errorf("mirror: build copy for %s: %w", t.name, err)
		return res
	}
	res.URL = req.URL.String()
	start := m.now()
	resp, err := t.do(req)
	if err != nil {
		res.Latency = m.now().Sub(start)
		res.Err = err
		return res
	}
	res.Shadow, err = readResponse(resp, limit)
	res.Latency = m.now().Sub(start)
	if err != nil {
		res.Err = err
		return res
	}
	if m.differ != nil && j.primary != nil {
		var secondary *Response
		if t.baseline != nil {
			if breq, err := t.buildRequest(ctx, j, t.baseline); err == nil {
				if bresp, err := t.do(breq); err == nil {
					if b, err := readResponse(bresp, limit); err == nil {
						secondary = &b
					}
				}
			}
		}
		res.Baseline = secondary
		d := m.differ.Observe(j.method, j.url.Path, *j.primary, res.Shadow, secondary)
		res.Diff = &d
	}
	return res
}

// do sends req: straight through the target's own Transport when it has
// one (a copy never follows redirects, so http.Client's redirect and
// header-copying machinery is pure cost), else through Target.Client.
func (t *target) do(req *http.Request) (*http.Response, error) {
	if t.ownTr != nil {
		return t.ownTr.RoundTrip(req)
	}
	return t.client.Do(req)
}

// readResponse reads up to limit bytes of body, drains a little more so
// the connection can be reused, and closes it.
func readResponse(resp *http.Response, limit int64) (Response, error) {
	defer resp.Body.Close()
	out := Response{Status: resp.StatusCode, Header: resp.Header}
	if limit > 0 {
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
		out.Body = b
		if err != nil {
			return out, err
		}
	}
	n, err := io.CopyN(io.Discard, resp.Body, 256<<10)
	if n > 0 && limit > 0 {
		out.Truncated = true
	}
	if err != nil && err != io.EOF {
		return out, err
	}
	return out, nil
}
