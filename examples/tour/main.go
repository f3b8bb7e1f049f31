// Command tour runs every example program in examples/, one after another,
// against real servers it starts itself (redis-server and PostgreSQL, as
// child processes on free loopback ports, stopped at the end), so that
// `make demo` needs no Docker and no system service.
//
// Usage, from the repository root:
//
//	go run ./examples/tour                  # every example
//	go run ./examples/tour streamq-queue    # only the named ones
//
// PLUMB_REDIS_URL and PLUMB_DATABASE_URL, when set, are used instead of
// starting servers. Each example gets them in its environment. The tour
// prints a header per example and exits non-zero if any example fails,
// which includes printing a line wider than 100 columns.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/goplumb/plumb/internal/services"
)

func main() {
	timeout := flag.Duration("timeout", 2*time.Minute, "time limit for each example")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, flag.Args(), *timeout)
	stop()
	if cerr := services.CloseAll(); cerr != nil {
		fmt.Fprintln(os.Stderr, "tour: stopping servers:", cerr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, only []string, timeout time.Duration) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	names, err := examples(root, only)
	if err != nil {
		return err
	}
	env, err := servers(ctx)
	if err != nil {
		return err
	}
	bin, err := os.MkdirTemp("", "plumb-tour-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	fmt.Printf("tour: building %d examples\n", len(names))
	build := exec.CommandContext(ctx, "go", append([]string{"build", "-o", bin + "/"}, pkgs(names)...)...)
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build examples: %w", err)
	}

	type result struct {
		name string
		took time.Duration
		err  error
	}
	var results []result
	for _, name := range names {
		fmt.Printf("\n==================== examples/%s ====================\n", name)
		start := time.Now()
		err := runOne(ctx, filepath.Join(bin, name), root, env, timeout)
		results = append(results, result{name, time.Since(start).Round(time.Millisecond), err})
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Println("\n==================== tour summary ====================")
	var failed []string
	for _, r := range results {
		status := "ok"
		if r.err != nil {
			status = "FAILED: " + r.err.Error()
			failed = append(failed, r.name)
		}
		fmt.Printf("%-24s %8s  %s\n", r.name, r.took, status)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d examples failed: %s", len(failed), len(results), strings.Join(failed, ", "))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// runOne runs one example binary; on timeout or Ctrl-C it is sent SIGINT
// first (examples shut down cleanly on it), then killed.
func runOne(ctx context.Context, path, dir string, env []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	stdout, stderr := &widthCheck{w: os.Stdout}, &widthCheck{w: os.Stderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("did not finish in %s", timeout)
	}
	if err != nil {
		return err
	}
	for _, c := range []*widthCheck{stdout, stderr} {
		if c.endLine(); c.over > 0 { // an unterminated last line counts too
			return fmt.Errorf("%d output lines wider than %d columns, the first: %q", c.over, maxColumns, c.first)
		}
	}
	return nil
}

// maxColumns is the widest line an example may print: the output is read
// in terminals and pasted into issues.
const maxColumns = 100

// widthCheck passes an example's output through and counts the lines wider
// than maxColumns (in runes: the examples print no wide characters).
type widthCheck struct {
	w     io.Writer
	mu    sync.Mutex // os/exec may write from two goroutines
	line  int        // runes in the current line so far
	over  int
	first string // the first too-wide line, as far as it is kept
	cur   []byte // the current line, kept up to 2*maxColumns bytes
}

func (c *widthCheck) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range p {
		if b == '\n' {
			c.endLine()
			continue
		}
		if b&0xC0 != 0x80 { // a rune's first byte (split writes count right)
			c.line++
		}
		if len(c.cur) < 2*maxColumns {
			c.cur = append(c.cur, b)
		}
	}
	return c.w.Write(p)
}

func (c *widthCheck) endLine() {
	if c.line > maxColumns {
		if c.over == 0 {
			c.first = string(c.cur)
		}
		c.over++
	}
	c.line, c.cur = 0, c.cur[:0]
}

// servers starts redis-server and PostgreSQL unless PLUMB_* URLs are set,
// and returns the environment the examples read.
func servers(ctx context.Context) ([]string, error) {
	redisURL, started, err := services.RedisURL(ctx)
	if err != nil {
		return nil, err
	}
	if started {
		fmt.Println("tour: redis-server at", redisURL)
	}
	dbURL, started, err := services.PostgresURL(ctx)
	if err != nil {
		return nil, err
	}
	if started {
		fmt.Println("tour: PostgreSQL at", dbURL)
	}
	return []string{"PLUMB_REDIS_URL=" + redisURL, "PLUMB_DATABASE_URL=" + dbURL}, nil
}

// examples lists examples/*/ that hold a main package, except the tour.
func examples(root string, only []string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "examples"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "tour" {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "examples", e.Name(), "main.go")); err != nil {
			continue
		}
		names = append(names, e.Name())
	}
	for _, o := range only {
		if !slices.Contains(names, o) {
			return nil, fmt.Errorf("no example %q; have %s", o, strings.Join(names, ", "))
		}
	}
	if len(only) > 0 {
		names = only
	}
	if len(names) == 0 {
		return nil, errors.New("no examples found under examples/")
	}
	return names, nil
}

func pkgs(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "./examples/" + n
	}
	return out
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the tour from inside the plumb module (e.g. `make demo`)")
	}
	return filepath.Dir(gomod), nil
}
