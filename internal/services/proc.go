// Package services starts real redis-server, Redis Cluster and PostgreSQL
// processes on free loopback ports in temporary directories. It is the one
// launcher behind internal/testenv (tests) and examples/tour (make demo), so
// neither needs Docker or a system service.
//
// Every process runs in its own process group with a parent-death signal
// (SIGKILL), so a killed test binary or tour leaves no server behind. Close
// stops a server (SIGTERM, then SIGKILL after a grace period) and removes its
// directory.
package services

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotInstalled is matched (with errors.Is) by the error returned when a
// server binary cannot be found. The error's text says how to install it.
var ErrNotInstalled = errors.New("services: server binary not installed")

// NotInstalledError reports a missing server binary and how to get it.
type NotInstalledError struct {
	Binary string // e.g. "redis-server"
	Hint   string // how to install it, or how to point at an external server
}

func (e *NotInstalledError) Error() string {
	return fmt.Sprintf("services: %s not found: %s", e.Binary, e.Hint)
}

// Is reports whether target is ErrNotInstalled.
func (e *NotInstalledError) Is(target error) bool { return target == ErrNotInstalled }

const (
	redisHint = "install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu) or " +
		"`brew install redis` (macOS), or run `make test`, which installs it; " +
		"or set PLUMB_REDIS_URL (PLUMB_REDIS_CLUSTER_ADDRS for a cluster) to an external server"
	postgresHint = "install it with `sudo apt-get install -y postgresql` (Debian/Ubuntu) or " +
		"`brew install postgresql` (macOS), or run `make test`, which installs it; " +
		"or set PLUMB_DATABASE_URL to an external server"
)

// findBinary looks name up on PATH, then in the places Debian and Homebrew
// keep server binaries that are not on PATH (Debian's initdb and postgres live
// in /usr/lib/postgresql/<version>/bin).
func findBinary(name, hint string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	var candidates []string
	for _, pattern := range []string{
		"/usr/lib/postgresql/*/bin/" + name,
		"/usr/local/opt/postgresql*/bin/" + name,
		"/opt/homebrew/bin/" + name,
		"/usr/local/bin/" + name,
		"/usr/sbin/" + name,
	} {
		m, _ := filepath.Glob(pattern)
		// Highest version first: "/usr/lib/postgresql/16" sorts after ".../15".
		sort.Sort(sort.Reverse(sort.StringSlice(m)))
		candidates = append(candidates, m...)
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", &NotInstalledError{Binary: name, Hint: hint}
}

// freePort returns a loopback TCP port that was free a moment ago. With bus
// set it also requires port+10000 to be free (Redis Cluster's bus port). The
// port can still be taken by another process before the server binds it;
// callers retry on a new port when the server fails to start.
func freePort(bus bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("services: find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !bus {
			l.Close()
			return port, nil
		}
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		l.Close()
		if err != nil {
			continue
		}
		l2.Close()
		return port, nil
	}
	return 0, errors.New("services: no free loopback port pair for Redis Cluster")
}

// proc is one running server process and the goroutine that waits for it.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // exit status, valid after done
}

// startProc starts bin in its own process group with SIGKILL as its
// parent-death signal, writing its output to logPath. cred, when non-nil,
// runs it as another user (PostgreSQL refuses to run as root).
func startProc(bin string, args []string, dir, logPath string, cred *syscall.Credential) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("services: open log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	// Setpgid: Close signals the whole group, so helpers a server forks go too.
	// Pdeathsig: if the test binary dies without cleanup, the kernel kills the
	// server. Go applies it after switching credentials, so it survives Credential.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("services: start %s: %w", filepath.Base(bin), err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { // ends when the process exits
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has already ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the process group, and SIGKILL after grace.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Reap what is left of the group (PostgreSQL backends exit on their own
	// once the postmaster is gone; this is belt and braces).
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// tail returns the last lines of a log file, for error messages.
func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// registry tracks live servers so CloseAll can stop them at exit.
var registry struct {
	sync.Mutex
	closers map[any]func() error
}

func register(key any, closeFn func() error) {
	registry.Lock()
	defer registry.Unlock()
	if registry.closers == nil {
		registry.closers = map[any]func() error{}
	}
	registry.closers[key] = closeFn
}

func unregister(key any) {
	registry.Lock()
	defer registry.Unlock()
	delete(registry.closers, key)
}

// CloseAll stops every server started by this process that is still running
// and removes its directory. examples/tour and testenv.Main call it at exit.
func CloseAll() error {
	registry.Lock()
	fns := make([]func() error, 0, len(registry.closers))
	for _, f := range registry.closers {
		fns = append(fns, f)
	}
	registry.Unlock()
	var errs []error
	for _, f := range fns {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}
