package mirror

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// shadowEnv, when set to a delay ("20ms", "0s"), makes the test binary a
// shadow server that answers after that delay: BenchmarkThroughput runs
// its shadows in a child process so that their CPU time is not counted
// as the mirror's.
const shadowEnv = "MIRROR_BENCH_SHADOW_DELAY"

func TestMain(m *testing.M) {
	if d := os.Getenv(shadowEnv); d != "" {
		serveShadow(d)
		return
	}
	os.Exit(m.Run())
}

// serveShadow listens on a free loopback port, prints "addr <host:port>"
// and serves until stdin closes (the parent ended).
func serveShadow(delay string) {
	d, err := time.ParseDuration(delay)
	if err != nil {
		fmt.Println("error", err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println("addr", ln.Addr().String())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if d > 0 {
			time.Sleep(d)
		}
	}))
}

// childShadow starts the test binary as a shadow server with the given
// delay and returns its URL; the child ends when b does.
func childShadow(b *testing.B, delay time.Duration) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), shadowEnv+"="+delay.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close() // the child exits when its stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "addr ") {
		b.Fatalf("shadow child: %q, %v", line, err)
	}
	return "http://" + strings.TrimSpace(strings.TrimPrefix(line, "addr "))
}
