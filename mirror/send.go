package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// work is a target's sender loop; it ends when Shutdown stops it.
func (t *target) work() {
	defer t.m.wg.Done()
	for {
		select {
		case j := <-t.q:
			t.process(j)
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

func (t *target) process(j *job) {
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
		return
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
	u := shadowURL(base, t.cfg.PathMode, &j.url)
	var body io.Reader
	var n int64
	if j.body != nil {
		b := j.body.buf.Bytes()
		body, n = bytes.NewReader(b), int64(len(b))
	}
	req, err := http.NewRequestWithContext(ctx, j.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = n
	if n == 0 {
		req.Body = http.NoBody
	}
	req.Header = make(http.Header, len(j.header)/2)
	for i := 0; i+1 < len(j.header); i += 2 {
		req.Header[j.header[i]] = append(req.Header[j.header[i]], j.header[i+1])
	}
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	switch t.m.cfg.Host {
	case HostKeep:
		req.Host = j.host
	case HostTarget:
		req.Host = ""
	case HostShadowSuffix:
		req.Host = shadowHost(j.host)
	}
	if t.m.cfg.MarkerHeader != "-" {
		req.Header.Set(t.m.cfg.MarkerHeader, t.name)
	}
	if t.m.cfg.Rewrite != nil {
		t.m.cfg.Rewrite(req)
	}
	return req, nil
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
	res = Result{Target: t.name, ID: NewID(), Method: j.method, Primary: j.primary}
	limit := int64(64 << 10)
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
	resp, err := t.client.Do(req)
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
				if bresp, err := t.client.Do(breq); err == nil {
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

// readResponse reads up to limit bytes of body, drains a little more so
// the connection can be reused, and closes it.
func readResponse(resp *http.Response, limit int64) (Response, error) {
	defer resp.Body.Close()
	out := Response{Status: resp.StatusCode, Header: resp.Header}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	out.Body = b
	if err != nil {
		return out, err
	}
	if n, _ := io.CopyN(io.Discard, resp.Body, 256<<10); n > 0 {
		out.Truncated = true
	}
	return out, nil
}
