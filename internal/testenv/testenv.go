// Package testenv gives tests real servers: a redis-server, a 3-master Redis
// Cluster and a PostgreSQL cluster, started as child processes of the test
// binary (through internal/services) on free loopback ports in temp dirs.
//
// Each server is started once per test binary, on first use, and shared by
// that package's tests; each test gets a clean slice of it:
//
//   - Redis: its own logical database (the server has 10,000) and a unique
//     key Prefix. Against an external server (PLUMB_REDIS_URL) or a cluster,
//     only the Prefix isolates: put it in key names.
//   - Postgres: a fresh database, dropped at cleanup.
//
// A package that uses testenv declares
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// so the servers stop and their directories go when its tests end. Servers
// also carry a parent-death signal: a killed test binary leaves none behind.
//
// External servers: PLUMB_REDIS_URL (redis://host:port/db),
// PLUMB_REDIS_CLUSTER_ADDRS (host:port,host:port,...) and PLUMB_DATABASE_URL
// (a postgres:// URL of a role allowed to CREATE DATABASE) are used instead
// of starting servers.
//
// When a server binary is missing, the test is skipped with the install
// hint, except under CI=true, where it fails: CI must never pass by skipping.
package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/services"
	"github.com/redis/go-redis/v9"
)

// Main runs the tests, then stops every server this test binary started and
// removes their directories, and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	if err := services.CloseAll(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: stopping servers:", err)
	}
	os.Exit(code)
}

// startTimeout bounds the start of one server (a cold initdb takes seconds).
const startTimeout = 90 * time.Second

var (
	seq atomic.Int64 // per-binary counter for DB numbers, prefixes, db names

	redisOnce   shared[*services.Redis]
	clusterOnce shared[*services.RedisCluster]
	pgOnce      shared[*services.Postgres]
)

// shared starts a server once per test binary and remembers the error, so a
// missing binary is reported to every test the same way.
type shared[T any] struct {
	once sync.Once
	v    T
	err  error
}

func (s *shared[T]) get(start func(context.Context) (T, error)) (T, error) {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		s.v, s.err = start(ctx)
	})
	return s.v, s.err
}

// unavailable fails or skips t for a server that could not be had.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, services.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skipf("testenv: %v", err)
	}
	t.Fatalf("testenv: %v", err)
}

// prefix returns a key prefix unique across tests and concurrent test binaries.
func prefix(n int64) string { return fmt.Sprintf("t%d-%d:", os.Getpid(), n) }

// RedisEnv is one test's slice of a shared redis-server.
type RedisEnv struct {
	Client *redis.Client // on this test's own DB; closed at cleanup
	Addr   string        // "host:port"
	DB     int           // the logical database number
	URL    string        // redis://host:port/DB
	Prefix string        // unique per test, no braces; put it in key names

	opts *redis.Options
}

// Redis returns a client on a logical database of its own on the package's
// shared redis-server, flushed before and after the test (with
// PLUMB_REDIS_URL: that server's DB, and the test's Prefix keys deleted).
func Redis(t testing.TB) *RedisEnv {
	t.Helper()
	n := seq.Add(1)
	env := &RedisEnv{Prefix: prefix(n)}
	external := os.Getenv("PLUMB_REDIS_URL")
	if external != "" {
		opts, err := redis.ParseURL(external)
		if err != nil {
			t.Fatalf("testenv: PLUMB_REDIS_URL: %v", err)
		}
		env.opts = opts
	} else {
		srv, err := redisOnce.get(func(ctx context.Context) (*services.Redis, error) {
			return services.StartRedis(ctx)
		})
		if err != nil {
			unavailable(t, err)
		}
		if n >= 10000 {
			t.Fatalf("testenv: more than 9,999 Redis(t) calls in one test binary")
		}
		env.opts = &redis.Options{Addr: srv.Addr(), DB: int(n)}
	}
	env.Addr, env.DB = env.opts.Addr, env.opts.DB
	env.URL = fmt.Sprintf("redis://%s/%d", env.Addr, env.DB)
	env.Client = env.NewClient(t)
	ctx := context.Background()
	clean := func() error {
		if external != "" {
			return deletePrefix(ctx, env.Client, env.Prefix)
		}
		return env.Client.FlushDB(ctx).Err()
	}
	if err := clean(); err != nil {
		t.Fatalf("testenv: clean Redis DB %d: %v", env.DB, err)
	}
	t.Cleanup(func() {
		if err := clean(); err != nil {
			t.Errorf("testenv: clean Redis DB %d: %v", env.DB, err)
		}
	})
	return env
}

// NewClient returns another independent client on the same database, closed
// at cleanup.
func (e *RedisEnv) NewClient(t testing.TB) *redis.Client {
	t.Helper()
	o := *e.opts
	c := redis.NewClient(&o)
	t.Cleanup(func() { c.Close() })
	return c
}

// deletePrefix deletes every key that starts with prefix.
func deletePrefix(ctx context.Context, c redis.Cmdable, prefix string) error {
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	for _, k := range keys { // one by one: keys may live in different cluster slots
		if err := c.Del(ctx, k).Err(); err != nil {
			return err
		}
	}
	return nil
}

// ClusterEnv is one test's slice of a shared Redis Cluster.
type ClusterEnv struct {
	Client *redis.ClusterClient // closed at cleanup
	Addrs  []string             // the masters' "host:port"
	Prefix string               // unique per test; the only isolation

	opts *redis.ClusterOptions
}

// RedisCluster returns a client of the package's shared 3-master Redis
// Cluster (or PLUMB_REDIS_CLUSTER_ADDRS), ready: every node reported
// cluster_state:ok. Keys under the test's Prefix are deleted at cleanup.
func RedisCluster(t testing.TB) *ClusterEnv {
	t.Helper()
	env := &ClusterEnv{Prefix: prefix(seq.Add(1))}
	if external := os.Getenv("PLUMB_REDIS_CLUSTER_ADDRS"); external != "" {
		env.Addrs = strings.Split(external, ",")
	} else {
		c, err := clusterOnce.get(func(ctx context.Context) (*services.RedisCluster, error) {
			return services.StartRedisCluster(ctx, 3)
		})
		if err != nil {
			unavailable(t, err)
		}
		env.Addrs = c.Addrs()
	}
	env.opts = &redis.ClusterOptions{Addrs: env.Addrs}
	env.Client = env.NewClient(t)
	t.Cleanup(func() {
		ctx := context.Background()
		err := env.Client.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return deletePrefix(ctx, c, env.Prefix)
		})
		if err != nil {
			t.Errorf("testenv: clean cluster prefix %s: %v", env.Prefix, err)
		}
	})
	return env
}

// NewClient returns another independent cluster client, closed at cleanup.
func (e *ClusterEnv) NewClient(t testing.TB) *redis.ClusterClient {
	t.Helper()
	o := *e.opts
	c := redis.NewClusterClient(&o)
	t.Cleanup(func() { c.Close() })
	return c
}

// OwnCluster is a Redis Cluster of one test's own, with replicas, for tests
// that kill nodes (failover). It is removed at the test's cleanup.
type OwnCluster struct {
	c *services.RedisCluster
}

// NewRedisCluster starts a Redis Cluster for t alone: masters masters with
// replicas replicas each, a 1 s cluster-node-timeout (a killed master's
// replica is promoted within a few seconds), every replica in sync. It
// ignores PLUMB_REDIS_CLUSTER_ADDRS: an external cluster cannot be killed by
// a test.
func NewRedisCluster(t testing.TB, masters, replicas int) *OwnCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := services.StartRedisClusterReplicas(ctx, masters, replicas, "--cluster-node-timeout", "1000")
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() { c.Close() })
	return &OwnCluster{c: c}
}

// Addrs returns every node's "host:port", masters and replicas.
func (c *OwnCluster) Addrs() []string { return c.c.Addrs() }

// Client returns a new cluster client (default options), closed at cleanup.
func (c *OwnCluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// MasterOf returns the address of the live node that serves key's slot as
// its master by its own account (right after a failover, the promoted
// replica), asking the nodes rather than a client's cached slot map.
func (c *OwnCluster) MasterOf(ctx context.Context, key string) (string, error) {
	last := errors.New("no live node claims the slot")
	for _, n := range c.c.Nodes {
		if n.Pid() == 0 {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
		slot, err := cl.ClusterKeySlot(ctx, key).Result()
		var slots []redis.ClusterSlot
		if err == nil {
			slots, err = cl.ClusterSlots(ctx).Result()
		}
		cl.Close()
		if err != nil {
			last = err
			continue
		}
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 && s.Nodes[0].Addr == n.Addr() {
				return n.Addr(), nil
			}
		}
	}
	return "", fmt.Errorf("testenv: master of %q: %w", key, last)
}

// Kill kills the node at addr with SIGKILL (a crash).
func (c *OwnCluster) Kill(addr string) error {
	for _, n := range c.c.Nodes {
		if n.Addr() == addr {
			return n.Kill()
		}
	}
	return fmt.Errorf("testenv: no node %s", addr)
}

// RedisServer is a redis-server of one test's own, for tests that stop and
// restart it. It is removed at the test's cleanup.
type RedisServer struct {
	srv *services.Redis
}

// NewRedisServer starts a redis-server for t alone; args are appended to its
// command line (e.g. "--appendonly", "yes", "--appendfsync", "always"). It
// ignores PLUMB_REDIS_URL: an external server cannot be restarted by a test.
func NewRedisServer(t testing.TB, args ...string) *RedisServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	srv, err := services.StartRedis(ctx, args...)
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() { srv.Close() })
	return &RedisServer{srv: srv}
}

// Addr returns "127.0.0.1:port"; it stays the same across Stop and Start.
func (s *RedisServer) Addr() string { return s.srv.Addr() }

// Stop stops the server with SIGTERM and waits for it; its data stays.
func (s *RedisServer) Stop() error { return s.srv.Stop() }

// Kill kills the server with SIGKILL (a crash: no shutdown work) and waits
// for it; its data stays.
func (s *RedisServer) Kill() error { return s.srv.Kill() }

// Start starts the server again on the same port and data directory and
// waits until it answers PING.
func (s *RedisServer) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	return s.srv.Start(ctx)
}

// Client returns a new client of the server, closed at cleanup.
func (s *RedisServer) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { c.Close() })
	return c
}

// PostgresEnv is one test's fresh database.
type PostgresEnv struct {
	DB       *sql.DB // lib/pq ("postgres" driver) on Database; closed at cleanup
	DSN      string  // postgres:// URL of Database, for lib/pq or pgx's stdlib
	Database string  // the fresh database's name
}

// Postgres creates a fresh database on the package's shared PostgreSQL
// cluster (or on PLUMB_DATABASE_URL's server), connected as a superuser
// (external: as that URL's role), and drops it at cleanup.
func Postgres(t testing.TB) *PostgresEnv {
	t.Helper()
	adminDSN := os.Getenv("PLUMB_DATABASE_URL")
	if adminDSN == "" {
		pg, err := pgOnce.get(services.StartPostgres)
		if err != nil {
			unavailable(t, err)
		}
		adminDSN = pg.DSN("postgres")
	}
	name := fmt.Sprintf("plumb_t%d_%d", os.Getpid(), seq.Add(1))
	dsn, err := withDatabase(adminDSN, name)
	if err != nil {
		t.Fatalf("testenv: PLUMB_DATABASE_URL: %v", err)
	}
	admin, err := sql.Open("postgres", adminDSN)
	if err != nil {
		t.Fatalf("testenv: open %s: %v", adminDSN, err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatalf("testenv: open %s: %v", dsn, err)
	}
	t.Cleanup(func() {
		db.Close()
		admin, err := sql.Open("postgres", adminDSN)
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return &PostgresEnv{DB: db, DSN: dsn, Database: name}
}

// withDatabase returns dsn (a postgres:// URL) pointing at database name.
func withDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("want a postgres://user@host:port/db URL, got %q", dsn)
	}
	u.Path = "/" + name
	return u.String(), nil
}
