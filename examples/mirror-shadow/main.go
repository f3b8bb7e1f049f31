// Command mirror-shadow shows live shadowing and record/replay with the
// mirror package, all on loopback:
//
//  1. a "primary" (v1) and a "shadow" (v2, with one regression and one
//     deliberately slow endpoint) start on free ports;
//  2. the primary serves traffic through mirror.Handler (copies to v2, live
//     diff) and a Recorder (writes requests and responses to a .gor file);
//  3. the recorded file is replayed at 2× against v2, with a report and an
//     offline diff that uses a second v1 as the noise baseline.
//
// Usage: go run ./examples/mirror-shadow
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goplumb/plumb/mirror"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "mirror-shadow:", err)
		os.Exit(1)
	}
}

// app is the service under test. v2 renames a field value (the regression)
// and makes /slow take 2 s.
func app(version string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		plan := "free"
		if id%3 == 0 {
			plan = "pro"
		}
		if version == "v2" && id%3 == 0 {
			plan = "professional" // the regression the diff should find
		}
		writeJSON(w, map[string]any{"id": id, "plan": plan, "served_at": time.Now().UnixNano(), "version": version})
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		if version == "v2" {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "done\n")
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		writeJSON(w, map[string]any{"accepted": len(b)})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// serve starts h on a free loopback port; the server stops with ctx.
func serve(ctx context.Context, h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(c)
	}
	go func() { <-ctx.Done(); stop() }()
	return "http://" + ln.Addr().String(), stop, nil
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "mirror-shadow-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	shadowURL, stopShadow, err := serve(ctx, app("v2"))
	if err != nil {
		return err
	}
	defer stopShadow()
	baselineURL, stopBaseline, err := serve(ctx, app("v1"))
	if err != nil {
		return err
	}
	defer stopBaseline()

	// The mirror: GETs only (the default), marker header, 300 ms timeout
	// so the slow endpoint shows up as timeouts, live diff ignoring
	// volatile fields.
	m, err := mirror.New(mirror.Config{
		Targets: []mirror.Target{{Name: "v2", URL: shadowURL, Timeout: 300 * time.Millisecond, Workers: 4, Queue: 64}},
		Compare: &mirror.DiffConfig{IgnoreJSONPaths: []string{"served_at", "version"}},
	})
	if err != nil {
		return err
	}
	gorPath := filepath.Join(dir, "capture.gor")
	file, err := mirror.CreateGor(gorPath, mirror.FileConfig{Append: true})
	if err != nil {
		return err
	}
	rec, err := mirror.NewRecorder(file, mirror.RecorderConfig{Responses: true})
	if err != nil {
		return err
	}
	primaryURL, stopPrimary, err := serve(ctx, mirror.Chain(rec.Handler, m.Handler)(app("v1")))
	if err != nil {
		return err
	}
	defer stopPrimary()
	fmt.Printf("primary v1  %s\nshadow v2   %s\nbaseline v1 %s\n", primaryURL, shadowURL, baselineURL)

	// 1. Live traffic: 30 users, a health check, a slow call, some writes.
	fmt.Println("\n== 1. live traffic through mirror.Handler + Recorder")
	client := &http.Client{Timeout: 5 * time.Second}
	var primaryWorst time.Duration
	for i := 1; i <= 40; i++ {
		path := "/users/" + strconv.Itoa(i)
		switch {
		case i%10 == 0:
			path = "/slow"
		case i%13 == 0:
			path = "/health"
		}
		method, body := "GET", ""
		if i%7 == 0 {
			method, body, path = "POST", `{"sku":"A-1","qty":2}`, "/orders"
		}
		req, err := http.NewRequestWithContext(ctx, method, primaryURL+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if d := time.Since(t0); d > primaryWorst {
			primaryWorst = d
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("primary answered %d for %s %s", resp.StatusCode, method, path)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	fmt.Printf("40 requests served; slowest primary response %v (the shadow's /slow takes 2 s)\n", primaryWorst.Round(time.Millisecond))

	closeCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := m.Shutdown(closeCtx); err != nil {
		fmt.Println("mirror close:", err)
	}
	if err := rec.Shutdown(closeCtx); err != nil {
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	s := m.Stats()
	fmt.Printf("mirror stats: seen %d, sent %d (errors %d, timeouts %d), queued %d, in flight %d\n",
		s.Seen, s.Sent, s.Errors, s.Timeouts, s.Queued, s.InFlight)
	for _, r := range mirror.DropReasons() {
		if n := s.Dropped[r]; n > 0 {
			fmt.Printf("  dropped %-16s %d\n", r, n)
		}
	}
	fmt.Printf("  Seen = Sent + Queued + InFlight + ΣDropped: %v\n", s.Balanced())
	if !s.Balanced() {
		return fmt.Errorf("accounting identity broken: %+v", s)
	}
	fmt.Println("live diff, primary vs shadow (! = reported):")
	_ = m.DiffSummary().WriteText(os.Stdout)
	rs := rec.Stats()
	fmt.Printf("recorder: %d requests seen, %d records written to %s\n", rs.Seen, rs.Written, filepath.Base(gorPath))

	// 2. Offline: replay the capture at 2× against v2, diff against the
	// recorded responses, with a second v1 as noise baseline.
	fmt.Println("\n== 2. offline replay of the .gor file at 2× against v2")
	src, err := mirror.OpenGor(gorPath, mirror.ReadConfig{})
	if err != nil {
		return err
	}
	defer src.Close()
	outPath := filepath.Join(dir, "replayed.gor")
	out, err := mirror.CreateGor(outPath, mirror.FileConfig{Append: true})
	if err != nil {
		return err
	}
	rep, err := mirror.Replay(ctx, src, mirror.ReplayConfig{
		Target:   shadowURL,
		Speed:    2,
		Timeout:  500 * time.Millisecond,
		Baseline: baselineURL,
		Compare:  &mirror.DiffConfig{IgnoreJSONPaths: []string{"version"}},
		Out:      out, // a type-3 record per replayed response
	})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := rep.WriteText(os.Stdout); err != nil {
		return err
	}
	found := false
	for _, f := range rep.Diff.Reported() {
		if strings.HasSuffix(f, "body.plan") {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("the plan regression was not reported: %v", rep.Diff.Reported())
	}

	// 3. Offline, without servers: diff the capture against the replay's
	// output file, joined by record ID.
	fmt.Println("\n== 3. mirror.DiffRecordings(capture.gor, replayed.gor)")
	a, err := mirror.OpenGor(gorPath, mirror.ReadConfig{})
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := mirror.OpenGor(outPath, mirror.ReadConfig{})
	if err != nil {
		return err
	}
	defer b.Close()
	d, err := mirror.DiffRecordings(a, b, mirror.DiffConfig{IgnoreJSONPaths: []string{"served_at", "version"}})
	if err != nil {
		return err
	}
	if err := d.WriteText(os.Stdout); err != nil {
		return err
	}
	if d.ByID == 0 {
		return fmt.Errorf("DiffRecordings joined nothing by id: %+v", d)
	}

	fmt.Println("\nThe regression (plan \"pro\" → \"professional\") is reported; served_at differs in")
	fmt.Println("the baseline too, so it is noise, not a finding. Live, POSTs were never mirrored")
	fmt.Println("(writes are opt-in); a replay sends what was recorded, so set")
	fmt.Println("ReplayConfig.Rules.AllowMethods to skip writes there.")
	return nil
}
