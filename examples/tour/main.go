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
// prints a header per example and exits non-zero if any example fails.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
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
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("did not finish in %s", timeout)
	}
	return err
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
