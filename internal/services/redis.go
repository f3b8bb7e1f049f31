package services

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a redis-server child process. Its data directory survives Stop and
// Start (so AOF restarts can be tested) and is removed by Close.
type Redis struct {
	bin   string
	dir   string
	extra []string

	mu   sync.Mutex
	port int
	p    *proc
}

// StartRedis starts redis-server on a free loopback port in a new temporary
// directory, with persistence off and 10,000 logical databases (so tests can
// take one each). extra arguments are appended to the command line and win
// over the defaults, e.g. "--appendonly", "yes", "--appendfsync", "always".
// It returns an error matching ErrNotInstalled when redis-server is missing.
func StartRedis(ctx context.Context, extra ...string) (*Redis, error) {
	return startRedis(ctx, false, extra)
}

func startRedis(ctx context.Context, cluster bool, extra []string) (*Redis, error) {
	bin, err := findBinary("redis-server", redisHint)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "plumb-redis-*")
	if err != nil {
		return nil, fmt.Errorf("services: redis dir: %w", err)
	}
	r := &Redis{bin: bin, dir: dir, extra: extra}
	if cluster {
		r.extra = append([]string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "3000",
		}, extra...)
	}
	var lastErr error
	for range 5 { // a port taken between freePort and bind: try another
		port, err := freePort(cluster)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		r.port = port
		if lastErr = r.Start(ctx); lastErr == nil {
			register(r, r.Close)
			return r, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// Addr returns "127.0.0.1:port".
func (r *Redis) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// URL returns a redis:// URL for logical database db.
func (r *Redis) URL(db int) string { return fmt.Sprintf("redis://%s/%d", r.Addr(), db) }

// Dir returns the server's data directory.
func (r *Redis) Dir() string { return r.dir }

// PidFile returns the path of the pid file redis-server writes while running.
func (r *Redis) PidFile() string { return filepath.Join(r.dir, "redis.pid") }

// Pid returns the process id, or 0 when the server is not running.
func (r *Redis) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p == nil || r.p.exited() {
		return 0
	}
	return r.p.cmd.Process.Pid
}

// Start starts the server (again) on the same port and directory and waits
// until it answers PING, loading its AOF first if it has one.
func (r *Redis) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p != nil && !r.p.exited() {
		return errors.New("services: redis-server already running")
	}
	args := append([]string{
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--dir", r.dir,
		"--daemonize", "no",
		"--pidfile", r.PidFile(),
		"--logfile", "",
		"--save", "",
		"--appendonly", "no",
		"--databases", "10000",
		"--protected-mode", "no",
	}, r.extra...)
	logPath := filepath.Join(r.dir, "redis.log")
	p, err := startProc(r.bin, args, r.dir, logPath, nil)
	if err != nil {
		return err
	}
	r.p = p
	if err := waitRedis(ctx, r.Addr(), p); err != nil {
		p.stop(syscall.SIGTERM, 2*time.Second)
		return fmt.Errorf("services: redis-server on %s: %w\n%s", r.Addr(), err, tail(logPath, 15))
	}
	return nil
}

// waitRedis waits until the server answers PING, the process exits, or 20 s.
func waitRedis(ctx context.Context, addr string, p *proc) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("exited before it was ready (%v)", p.err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not ready: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server (SIGTERM, which makes Redis fsync its AOF) and keeps
// its directory. Stopping a stopped server does nothing.
func (r *Redis) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p.stop(syscall.SIGTERM, 10*time.Second)
	return nil
}

// Kill kills the server with SIGKILL (no AOF fsync, no shutdown work, as a
// crash or the OOM killer would) and waits for it; its data directory stays.
// Killing a stopped server does nothing.
func (r *Redis) Kill() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p.stop(syscall.SIGKILL, 10*time.Second)
	return nil
}

// Close stops the server and removes its directory.
func (r *Redis) Close() error {
	unregister(r)
	r.Stop()
	return os.RemoveAll(r.dir)
}

// RedisCluster is a real Redis Cluster: masters, and replicas when started
// with StartRedisClusterReplicas.
type RedisCluster struct {
	Nodes []*Redis
}

// StartRedisCluster starts masters redis-server processes with
// cluster-enabled, joins them with `redis-cli --cluster create`, and waits
// until every node reports cluster_state:ok and agrees on the slot map.
func StartRedisCluster(ctx context.Context, masters int) (*RedisCluster, error) {
	return StartRedisClusterReplicas(ctx, masters, 0)
}

// StartRedisClusterReplicas is StartRedisCluster with replicas replicas per
// master (masters×(1+replicas) processes) and extra arguments for every
// node, e.g. "--cluster-node-timeout", "1000" for a faster failover (the
// default here is 3000 ms). It waits until every replica is in sync too.
func StartRedisClusterReplicas(ctx context.Context, masters, replicas int, extra ...string) (*RedisCluster, error) {
	if masters < 3 {
		return nil, fmt.Errorf("services: a Redis Cluster needs at least 3 masters, got %d", masters)
	}
	if replicas < 0 {
		return nil, fmt.Errorf("services: negative replicas %d", replicas)
	}
	cli, err := findBinary("redis-cli", redisHint)
	if err != nil {
		return nil, err
	}
	// The nodes join with the default node timeout: a short one (a test's
	// 1000 ms for a fast failover) makes nodes on a busy machine mark each
	// other as failing while redis-cli waits for them to agree, and the join
	// never completes. The requested timeout is set once the cluster is ok.
	var nodeTimeout string
	var join []string
	for i := 0; i < len(extra); i++ {
		if extra[i] == "--cluster-node-timeout" && i+1 < len(extra) {
			nodeTimeout = extra[i+1]
			i++
			continue
		}
		join = append(join, extra[i])
	}
	c := &RedisCluster{}
	for range masters * (1 + replicas) {
		n, err := startRedis(ctx, true, join)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("services: redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.waitOK(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if replicas > 0 {
		if err := c.waitReplicas(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	if nodeTimeout != "" {
		for _, n := range c.Nodes {
			cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
			err := cl.ConfigSet(ctx, "cluster-node-timeout", nodeTimeout).Err()
			cl.Close()
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("services: set cluster-node-timeout on %s: %w", n.Addr(), err)
			}
			n.extra = append(n.extra, "--cluster-node-timeout", nodeTimeout) // kept across restarts
		}
	}
	register(c, c.Close)
	return c, nil
}

// waitReplicas waits until every replica's link to its master is up.
func (c *RedisCluster) waitReplicas(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready, last := true, ""
		for _, n := range c.Nodes {
			cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
			info, err := cl.Info(ctx, "replication").Result()
			cl.Close()
			if err != nil || (strings.Contains(info, "role:slave") && !strings.Contains(info, "master_link_status:up")) {
				ready, last = false, info
				if err != nil {
					last = err.Error()
				}
				break
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("services: Redis Cluster replicas not in sync after 30s: %s", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitOK waits until every node says cluster_state:ok and knows every node.
func (c *RedisCluster) waitOK(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	want := fmt.Sprintf("cluster_known_nodes:%d", len(c.Nodes))
	for {
		ready := true
		var last string
		for _, n := range c.Nodes {
			cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
			info, err := cl.ClusterInfo(ctx).Result()
			cl.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want) ||
				!strings.Contains(info, "cluster_slots_ok:16384") {
				ready, last = false, info
				if err != nil {
					last = err.Error()
				}
				break
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("services: Redis Cluster not ok after 30s: %s", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Addrs returns the nodes' "127.0.0.1:port" addresses.
func (c *RedisCluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// Close stops every node and removes their directories.
func (c *RedisCluster) Close() error {
	unregister(c)
	var errs []error
	for _, n := range c.Nodes {
		errs = append(errs, n.Close())
	}
	return errors.Join(errs...)
}
