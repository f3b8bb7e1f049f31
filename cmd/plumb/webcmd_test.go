package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe to write from the server goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveWeb starts plumb web in-process and returns its base URL and a stop
// function that returns the exit status.
func serveWeb(t *testing.T, env map[string]string, argv ...string) (string, func() int) {
	t.Helper()
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- Main(ctx, append([]string{"web"}, argv...), Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	}()
	re := regexp.MustCompile(`serving http://\S+:(\d+)/`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			stop := func() int { cancel(); return <-code }
			t.Cleanup(func() { cancel() })
			return "http://127.0.0.1:" + m[1], stop
		}
		select {
		case c := <-code:
			t.Fatalf("plumb web exited %d: %s", c, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("plumb web did not start: %s %s", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebCommand(t *testing.T) {
	env, _ := deadQueue(t, 1)
	e := redisEnv(env)

	// Loopback: no token needed; read-only by default.
	base, stop := serveWeb(t, e, "--addr", "127.0.0.1:0")
	resp, err := http.Get(base + "/q/orders")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "read-only") || strings.Contains(string(body), "<button") {
		t.Fatalf("loopback page %d:\n%s", resp.StatusCode, body)
	}
	resp, err = http.Get(base + "/cron")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("cron page: %d", resp.StatusCode)
	}
	if c := stop(); c != 0 {
		t.Fatalf("exit status %d after Ctrl-C", c)
	}

	// Elsewhere: a token is required, and then enforced.
	r := run(t, e, "web", "--addr", "0.0.0.0:0")
	wantCode(t, r, exitUsage)
	oneLineError(t, r, "--token")

	e["PLUMB_WEB_TOKEN"] = "s3cret"
	base, stop = serveWeb(t, e, "--addr", "0.0.0.0:0", "--allow-writes")
	defer stop()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/q/orders", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<button") {
		t.Fatalf("bearer: %d", resp.StatusCode)
	}
	resp, err = noRedirect.Get(base + "/q/orders?token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/q/orders" || len(resp.Cookies()) != 1 {
		t.Fatalf("?token=: %d %q %v", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
	req, _ = http.NewRequest("GET", base+"/", nil)
	req.AddCookie(resp.Cookies()[0])
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("cookie: %d", resp.StatusCode)
	}
	resp, err = noRedirect.Get(base + "/?token=wrong")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
}

func TestWebCommandUnreachable(t *testing.T) {
	_ = testenv.Redis // the command fails before serving
	r := run(t, map[string]string{"PLUMB_REDIS_URL": "redis://127.0.0.1:1/0"}, "web")
	wantCode(t, r, exitFailure)
	oneLineError(t, r, "connect to redis://127.0.0.1:1")
}
