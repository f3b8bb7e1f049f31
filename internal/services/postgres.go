package services

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	_ "github.com/lib/pq" // the "postgres" database/sql driver
)

// Postgres is a PostgreSQL cluster (initdb + postgres) owned by this process.
// Its superuser is "postgres", trusted on 127.0.0.1 without a password.
type Postgres struct {
	dir  string // temp dir; data in dir/data, socket and log in dir
	port int
	p    *proc
}

// StartPostgres runs initdb in a new temporary directory and starts postgres
// on a free loopback port, tuned for tests (fsync off). PostgreSQL refuses to
// run as root, so as root both run as the "postgres" OS user (created by the
// Debian package), or "nobody" when there is none. It returns an error
// matching ErrNotInstalled when initdb or postgres is missing.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	initdb, err := findBinary("initdb", postgresHint)
	if err != nil {
		return nil, err
	}
	server := filepath.Join(filepath.Dir(initdb), "postgres")
	if _, err := os.Stat(server); err != nil {
		if server, err = findBinary("postgres", postgresHint); err != nil {
			return nil, err
		}
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "plumb-pg-*")
	if err != nil {
		return nil, fmt.Errorf("services: postgres dir: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("services: chown postgres dir: %w", err)
		}
	}
	pg := &Postgres{dir: dir}
	logPath := filepath.Join(dir, "postgres.log")
	if err := runAs(ctx, cred, dir, logPath, initdb, "-D", pg.DataDir(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var lastErr error
	for range 5 {
		port, err := freePort(false)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		pg.port = port
		if lastErr = pg.start(ctx, server, cred, logPath); lastErr == nil {
			register(pg, pg.Close)
			return pg, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// unprivileged returns the credentials to run PostgreSQL with: nil when this
// process is not root, else those of the "postgres" (or "nobody") user.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("services: running as root and no postgres or nobody user to run PostgreSQL as; " +
		"create one with `useradd --system postgres`")
}

func runAs(ctx context.Context, cred *syscall.Credential, dir, logPath, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("services: %s: %w\n%s", filepath.Base(bin), err, out)
	}
	return nil
}

func (pg *Postgres) start(ctx context.Context, server string, cred *syscall.Credential, logPath string) error {
	p, err := startProc(server, []string{
		"-D", pg.DataDir(),
		"-p", strconv.Itoa(pg.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + pg.dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "shared_buffers=64MB",
	}, pg.dir, logPath, cred)
	if err != nil {
		return err
	}
	pg.p = p
	db, err := sql.Open("postgres", pg.DSN("postgres"))
	if err != nil {
		p.stop(syscall.SIGINT, 5*time.Second)
		return fmt.Errorf("services: open postgres: %w", err)
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := db.PingContext(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if p.exited() || time.Now().After(deadline) || ctx.Err() != nil {
			p.stop(syscall.SIGINT, 5*time.Second)
			return fmt.Errorf("services: postgres on port %d not ready: %w\n%s", pg.port, err, tail(logPath, 15))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DataDir returns the cluster's data directory.
func (pg *Postgres) DataDir() string { return filepath.Join(pg.dir, "data") }

// PidFile returns postmaster.pid, whose first line is the server's pid.
func (pg *Postgres) PidFile() string { return filepath.Join(pg.DataDir(), "postmaster.pid") }

// Port returns the TCP port on 127.0.0.1.
func (pg *Postgres) Port() int { return pg.port }

// DSN returns a URL for database db as the superuser, usable by lib/pq and
// pgx alike.
func (pg *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, db)
}

// Close stops the server (SIGINT: fast shutdown, clients disconnected) and removes its directory.
func (pg *Postgres) Close() error {
	unregister(pg)
	pg.p.stop(syscall.SIGINT, 10*time.Second)
	return os.RemoveAll(pg.dir)
}
