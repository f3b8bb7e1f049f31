// Command mirror-replay replays a GoReplay .gor capture against a target and
// prints a report: status histogram, latency percentiles and schedule lag
// (actual − intended send time, which shows when the target or this client
// is the bottleneck).
//
// Usage:
//
//	go run ./examples/mirror-replay                       # self-contained demo
//	go run ./examples/mirror-replay -file 'requests_*.gor' -target http://staging:8080 -speed 2
//	go run ./examples/mirror-replay -file capture.gor.gz -target http://staging:8080 -rps 200
//	go run ./examples/mirror-replay -file capture.gor -target http://staging:8080 -unpaced -concurrency 16
//
// With no -file, it writes a small capture (60 requests recorded 20 ms
// apart, with one bad timestamp), starts a loopback server, and replays it
// at 1×, at 4×, at a fixed 100 req/s, and as fast as 4 connections allow.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/goplumb/plumb/mirror"
)

func main() {
	file := flag.String("file", "", ".gor file or glob (plain or .gz); empty runs the demo")
	target := flag.String("target", "", "base URL to replay to (required with -file)")
	speed := flag.Float64("speed", 1, "recorded timing × speed (2 = twice as fast)")
	rps := flag.Float64("rps", 0, "fixed requests per second (ignores timestamps)")
	unpaced := flag.Bool("unpaced", false, "send as fast as -concurrency allows")
	conc := flag.Int("concurrency", 64, "maximum requests in flight")
	loops := flag.Int("loops", 1, "passes over the file (-1 = until interrupted)")
	maxGap := flag.Duration("max-gap", 10*time.Second, "recorded gaps longer than this are skipped")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request timeout")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := mirror.ReplayConfig{Target: *target, Speed: *speed, RPS: *rps, Unpaced: *unpaced,
		Concurrency: *conc, Loops: *loops, MaxGap: *maxGap, Timeout: *timeout}
	var err error
	if *file == "" {
		err = demo(ctx)
	} else {
		err = replayFile(ctx, *file, cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mirror-replay:", err)
		os.Exit(1)
	}
}

func replayFile(ctx context.Context, pattern string, cfg mirror.ReplayConfig) error {
	if cfg.Target == "" {
		return errors.New("-target is required with -file (e.g. -target http://127.0.0.1:8080)")
	}
	src, err := mirror.OpenGor(pattern, mirror.ReadConfig{})
	if err != nil {
		return err
	}
	defer src.Close()
	rep, err := mirror.Replay(ctx, src, cfg)
	if rep != nil {
		_ = rep.WriteText(os.Stdout)
	}
	return err
}

// writeCapture writes n GET requests recorded gap apart; record 10 gets a
// bad timestamp, as in GoReplay's own bad-timestamp vector.
func writeCapture(path string, n int, gap time.Duration) error {
	f, err := mirror.CreateGor(path, mirror.FileConfig{Append: true})
	if err != nil {
		return err
	}
	t0 := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	for i := range n {
		req, err := http.NewRequest("GET", fmt.Sprintf("http://shop.example/items/%d?ref=demo", i), nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "mirror-replay-demo")
		rec, err := mirror.RecordRequest(req, "", t0.Add(time.Duration(i)*gap), nil)
		if err != nil {
			return err
		}
		if err := f.WriteRecord(rec); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	// Corrupt one timestamp by hand-editing the header line, as a broken
	// capture would.
	return appendBadRecord(path)
}

func appendBadRecord(path string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.WriteString(f, "1 00000000000000000000bad0 notanumber 0\nGET /items/bad HTTP/1.1\r\nHost: shop.example\r\n\r\n"+string(mirror.GorSeparator))
	return err
}

func demo(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "mirror-replay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "demo.gor")
	if err := writeCapture(path, 60, 20*time.Millisecond); err != nil {
		return err
	}
	fmt.Printf("wrote %s: 60 requests recorded 20 ms apart (1.2 s), plus one with a bad timestamp\n", filepath.Base(path))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond) // a target with 5 ms of work per request
		if r.URL.Path == "/items/13" {
			http.Error(w, "unlucky", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok\n")
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	target := "http://" + ln.Addr().String()
	fmt.Println("target:", target)

	runs := []struct {
		title string
		cfg   mirror.ReplayConfig
	}{
		{"recorded timing (1×); the bad timestamp's gap is skipped (MaxGap)", mirror.ReplayConfig{Speed: 1}},
		{"recorded timing × 4", mirror.ReplayConfig{Speed: 4}},
		{"fixed 100 req/s", mirror.ReplayConfig{RPS: 100}},
		{"unpaced, 4 in flight (waiting for a slot shows as schedule lag)", mirror.ReplayConfig{Unpaced: true, Concurrency: 4}},
	}
	for _, r := range runs {
		fmt.Printf("\n== %s\n", r.title)
		src, err := mirror.OpenGor(path, mirror.ReadConfig{})
		if err != nil {
			return err
		}
		cfg := r.cfg
		cfg.Target = target
		cfg.Timeout = 2 * time.Second
		rep, err := mirror.Replay(ctx, src, cfg)
		src.Close()
		if err != nil {
			return err
		}
		if err := rep.WriteText(os.Stdout); err != nil {
			return err
		}
		if rep.Sent != 61 || rep.Status[500] != 1 {
			return fmt.Errorf("expected 61 sent and one 500, got %d sent, status %v", rep.Sent, rep.Status)
		}
	}
	fmt.Println("\nEvery run sent all 61 requests; the bad timestamp was reported and its gap skipped")
	fmt.Println("instead of stalling the replay (GoReplay waits ~1.7e18 ns there).")
	return nil
}
