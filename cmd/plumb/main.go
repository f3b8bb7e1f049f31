// Command plumb is the operator's tool for the plumb packages: it inspects
// and repairs streamq queues, shows cron schedules and the runs recorded by
// cronx/redislock, explains time zones with tzutil, lints, dumps, diffs and
// syncs APISIX with apisixclient, reads, replays and diffs GoReplay .gor
// files with mirror, runs txiso's live anomaly matrix, and serves a small web
// dashboard of queues and cron jobs (plumb web).
//
// Install it with
//
//	go install github.com/goplumb/plumb/cmd/plumb@latest
//
// Every command has --help and shell completion (plumb completion bash|zsh|
// fish|powershell). Output is a table for people and JSON with -o json.
// Connection settings come from flags or the environment: PLUMB_REDIS_URL,
// PLUMB_DATABASE_URL, APISIX_ADMIN_URL and APISIX_ADMIN_KEY; they are never
// printed. Exit status: 0 success, 1 failure (including lint and diff
// findings), 2 usage error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis logs dial failures to stderr itself; plumb reports errors
	// once, on one line.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
		TTY:    isTerminal(os.Stdout),
	})
	stop()
	os.Exit(code)
}

// isTerminal reports whether f is a character device (a terminal), without
// a dependency: progress is only drawn there.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// quietLogger drops go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
