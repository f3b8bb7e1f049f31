package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/testenv"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // as main does
	testenv.Main(m)
}

// result is the outcome of one in-process run of plumb.
type result struct {
	Stdout, Stderr string
	Code           int
}

// run runs plumb in-process with args and an environment of env only (the
// test process's environment is never read), stdout not a terminal.
func run(t testing.TB, env map[string]string, argv ...string) result {
	t.Helper()
	return runWith(t, env, false, "", argv...)
}

func runWith(t testing.TB, env map[string]string, tty bool, stdin string, argv ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := Main(ctx, argv, Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
		TTY:    tty,
	})
	return result{out.String(), errb.String(), code}
}

// wantCode fails the test when r's exit status is not code.
func wantCode(t testing.TB, r result, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.Code, code, r.Stdout, r.Stderr)
	}
}

// oneLineError checks that a failed run printed exactly one "plumb: ..."
// error line (plus the usage hint for status 2) and nothing on stdout.
func oneLineError(t testing.TB, r result, contains string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	want := 1
	if r.Code == exitUsage {
		want = 2
	}
	if len(lines) != want || !strings.HasPrefix(lines[0], "plumb: ") {
		t.Fatalf("stderr is not one error line:\n%s", r.Stderr)
	}
	if !strings.Contains(lines[0], contains) {
		t.Fatalf("error %q does not contain %q", lines[0], contains)
	}
	if r.Stdout != "" {
		t.Fatalf("stdout not empty on error:\n%s", r.Stdout)
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds plumb once per test binary and returns its path.
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "plumb-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "plumb")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}
