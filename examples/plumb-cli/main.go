// Command plumb-cli is the tour's segment for the plumb command line: it
// builds cmd/plumb, fills a streamq queue with a few orders of which two
// are dead-lettered, and then runs what an operator would: plumb queue list,
// plumb queue dead list and requeue, plumb cron next across a DST gap,
// plumb tz at for a skipped wall time, and plumb apisix lint on the
// config.yaml mistake that makes SNI stream routes never match (which exits
// 1, as CI wants).
//
//	go run ./examples/tour plumb-cli        # starts redis-server for it
//	PLUMB_REDIS_URL=redis://localhost:6379/0 go run ./examples/plumb-cli
//
// Run it from the repository root: it builds ./cmd/plumb with the go
// command. Without PLUMB_REDIS_URL it starts a redis-server of its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/goplumb/plumb/internal/services"
	"github.com/goplumb/plumb/streamq"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if cerr := services.CloseAll(); cerr != nil {
		fmt.Fprintln(os.Stderr, "plumb-cli: stopping redis-server:", cerr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "plumb-cli:", err)
		os.Exit(1)
	}
}

// Order is the job payload.
type Order struct {
	ID int `json:"id"`
}

func run(ctx context.Context) error {
	if _, err := os.Stat("cmd/plumb/main.go"); err != nil {
		return errors.New("run from the repository root (it builds ./cmd/plumb)")
	}
	dir, err := os.MkdirTemp("", "plumb-cli-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "plumb")
	fmt.Println("$ go build -o plumb ./cmd/plumb")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/plumb")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build plumb: %w", err)
	}

	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	redisURL, _, err := services.RedisURL(sctx)
	cancel()
	if err != nil {
		return err
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	q, err := streamq.New[Order](rdb, "plumb-tour-orders", streamq.Config{})
	if err != nil {
		return err
	}
	defer rdb.Del(context.Background(), q.StreamKey(), q.StreamKey()+":g:billing:retry",
		q.StreamKey()+":g:billing:rs", q.StreamKey()+":g:billing:dead", q.StreamKey()+":g:billing:hb",
		q.StreamKey()+":delayed", q.StreamKey()+":dropped")
	if err := fill(ctx, q); err != nil {
		return err
	}

	env := append(os.Environ(), "PLUMB_REDIS_URL="+redisURL)
	plumb := func(wantCode int, args ...string) (string, error) {
		fmt.Printf("\n$ plumb %s\n", quote(args))
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		fmt.Print(out.String())
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			return "", err
		}
		if code != wantCode {
			return "", fmt.Errorf("plumb %s: exit status %d, want %d", quote(args), code, wantCode)
		}
		return out.String(), nil
	}

	if _, err := plumb(0, "queue", "list"); err != nil {
		return err
	}
	if _, err := plumb(0, "queue", "dead", "list", "plumb-tour-orders"); err != nil {
		return err
	}
	out, err := plumb(0, "queue", "dead", "requeue", "plumb-tour-orders", "--all")
	if err != nil {
		return err
	}
	if !strings.Contains(out, "requeued 2 of 2") {
		return fmt.Errorf("requeue did not move both dead letters back")
	}
	if _, err := plumb(0, "cron", "next", "30 2 * * *", "--tz", "America/New_York", "--from", "2024-03-09T12:00", "-n", "3"); err != nil {
		return err
	}
	if _, err := plumb(0, "tz", "at", "2024-03-10T02:30", "America/New_York"); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "config.yaml")
	// "tls: true" under "- 9100" is a key of stream_proxy, not of the item:
	// APISIX listens without TLS and SNI routes never match.
	if err := os.WriteFile(cfg, []byte("apisix:\n  proxy_mode: http&stream\n  stream_proxy:\n    tcp:\n      - 9100\n    tls: true\n"), 0o600); err != nil {
		return err
	}
	if _, err := plumb(1, "apisix", "lint", "-f", cfg); err != nil {
		return err
	}
	fmt.Println("\nplumb-cli: plumb listed the queue, showed and requeued its 2 dead letters, showed\n" +
		"cron's DST rule and a skipped wall time, and linted config.yaml with exit status 1.")
	return nil
}

// fill adds 5 orders and runs a consumer that rejects orders 1 and 3 until
// both are dead letters.
func fill(ctx context.Context, q *streamq.Queue[Order]) error {
	if err := q.CreateGroup(ctx, "billing", false); err != nil {
		return err
	}
	for i := range 5 {
		if _, err := q.Add(ctx, Order{ID: i}); err != nil {
			return err
		}
	}
	c, err := q.NewConsumer("billing", func(ctx context.Context, m streamq.Msg[Order]) error {
		if m.Value.ID == 1 || m.Value.ID == 3 {
			return fmt.Errorf("card declined for order %d: %w", m.Value.ID, streamq.ErrSkipRetry)
		}
		return nil
	}, streamq.ConsumerConfig{Block: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		dls, err := q.DeadLetters(ctx, "billing", "", 10)
		if err != nil {
			cancel()
			<-done
			return err
		}
		if len(dls) == 2 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			return errors.New("orders 1 and 3 were not dead-lettered within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	return <-done
}

func quote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " *") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
