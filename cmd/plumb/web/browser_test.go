package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// browser is headless Chromium driven over the DevTools protocol on
// --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-separated JSON), so the
// test needs no WebSocket client and no dependency.
type browser struct {
	t       testing.TB
	cmd     *exec.Cmd
	in      *os.File // our end of chromium's fd 3
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpMsg
	events  chan cdpMsg
	session string

	logMu    sync.Mutex
	problems []string // console errors, exceptions, error log entries
}

type cdpMsg struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct{ Message string }
	SessionID string `json:"sessionId,omitempty"`
}

// chromiumPath finds Debian's chromium; without it the test skips, except
// under CI=true, where .ci/deps installs it.
func chromiumPath(t testing.TB) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not installed (.ci/deps installs Debian's chromium)")
	}
	t.Skip("chromium not installed: apt-get install chromium")
	return ""
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	path := chromiumPath(t)
	toR, toW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromR, fromW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{toR, fromW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toR.Close()
	fromW.Close()
	b := &browser{t: t, cmd: cmd, in: toW, waiting: map[int]chan cdpMsg{}, events: make(chan cdpMsg, 1000)}
	t.Cleanup(func() {
		b.call("", "Browser.close", nil)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		toW.Close()
	})
	go b.read(fromR)
	var created struct{ TargetID string }
	b.decode(b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}), &created)
	var attached struct{ SessionID string }
	b.decode(b.call("", "Target.attachToTarget", map[string]any{"targetId": created.TargetID, "flatten": true}), &attached)
	b.session = attached.SessionID
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		b.call(b.session, m, nil)
	}
	return b
}

func (b *browser) read(r *os.File) {
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMsg
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		b.note(m)
		select {
		case b.events <- m:
		default:
		}
	}
}

// note keeps what a person would see in the DevTools console as an error.
func (b *browser) note(m cdpMsg) {
	var p string
	switch m.Method {
	case "Runtime.exceptionThrown":
		p = "exception: " + string(m.Params)
	case "Runtime.consoleAPICalled":
		var c struct{ Type string }
		json.Unmarshal(m.Params, &c)
		if c.Type == "error" || c.Type == "assert" {
			p = "console." + c.Type + ": " + string(m.Params)
		}
	case "Log.entryAdded":
		var e struct {
			Entry struct{ Level, Text, URL string }
		}
		json.Unmarshal(m.Params, &e)
		if e.Entry.Level == "error" {
			p = "log: " + e.Entry.Text + " " + e.Entry.URL
		}
	}
	if p != "" {
		b.logMu.Lock()
		b.problems = append(b.problems, p)
		b.logMu.Unlock()
	}
}

// consoleErrors returns the errors logged so far and forgets them.
func (b *browser) consoleErrors() []string {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

func (b *browser) call(session, method string, params any) json.RawMessage {
	b.t.Helper()
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMsg, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	raw, _ := json.Marshal(msg)
	if _, err := b.in.Write(append(raw, 0)); err != nil {
		if method == "Browser.close" {
			return nil
		}
		b.t.Fatalf("cdp %s: %v", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			b.t.Fatalf("cdp %s: %s", method, m.Error.Message)
		}
		return m.Result
	case <-time.After(60 * time.Second):
		if method == "Browser.close" {
			return nil
		}
		b.t.Fatalf("cdp %s: no answer in 60s", method)
		return nil
	}
}

func (b *browser) decode(raw json.RawMessage, v any) {
	b.t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		b.t.Fatalf("cdp: %v: %s", err, raw)
	}
}

// waitLoad waits for the page's load event.
func (b *browser) waitLoad() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		select {
		case m := <-b.events:
			if m.Method == "Page.loadEventFired" && m.SessionID == b.session {
				return
			}
		case <-ctx.Done():
			b.t.Fatal("page did not load within 60s")
		}
	}
}

// drain forgets events already received (so waitLoad sees the next load).
func (b *browser) drain() {
	for {
		select {
		case <-b.events:
		default:
			return
		}
	}
}

// navigate opens url and waits for it to load.
func (b *browser) navigate(url string) {
	b.t.Helper()
	b.drain()
	var res struct{ ErrorText string }
	b.decode(b.call(b.session, "Page.navigate", map[string]any{"url": url}), &res)
	if res.ErrorText != "" {
		b.t.Fatalf("navigate %s: %s", url, res.ErrorText)
	}
	b.waitLoad()
}

// eval evaluates a JavaScript expression in the page (DevTools may run
// scripts the page's own CSP forbids) and returns its value as JSON.
func (b *browser) eval(expr string) json.RawMessage {
	b.t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage
		}
		ExceptionDetails *json.RawMessage
	}
	b.decode(b.call(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}), &res)
	if res.ExceptionDetails != nil {
		b.t.Fatalf("eval %s: %s", expr, *res.ExceptionDetails)
	}
	return res.Result.Value
}

func (b *browser) text(selector string) string {
	b.t.Helper()
	var s string
	raw := b.eval(fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, selector))
	b.decode(raw, &s)
	return strings.TrimSpace(s)
}

// click clicks the element and waits for the navigation it causes.
func (b *browser) click(selector string) {
	b.t.Helper()
	b.drain()
	var ok bool
	b.decode(b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.click(); return true })()`, selector)), &ok)
	if !ok {
		b.t.Fatalf("no element %s on the page", selector)
	}
	b.waitLoad()
}

// screenshot saves a PNG of the page into $PLUMB_WEB_SCREENSHOTS, when set,
// for a person to look at the pages the test saw.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("PLUMB_WEB_SCREENSHOTS")
	if dir == "" {
		return
	}
	var res struct{ Data []byte }
	b.decode(b.call(b.session, "Page.captureScreenshot", map[string]any{"format": "png"}), &res)
	if err := os.WriteFile(dir+"/"+name+".png", res.Data, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
