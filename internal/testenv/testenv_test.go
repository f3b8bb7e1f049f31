package testenv_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/services"
	"github.com/goplumb/plumb/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	if os.Getenv("TESTENV_CHILD") != "" {
		os.Exit(child())
	}
	testenv.Main(m)
}

func TestRedisIsolatesTests(t *testing.T) {
	a, b := testenv.Redis(t), testenv.Redis(t)
	require.NotEqual(t, a.DB, b.DB, "two tests share a DB")
	require.NotEqual(t, a.Prefix, b.Prefix)
	ctx := t.Context()
	require.NoError(t, a.Client.Set(ctx, "k", "a", 0).Err())
	_, err := b.Client.Get(ctx, "k").Result()
	assert.ErrorIs(t, err, redis.Nil, "b sees a's key")
	other := a.NewClient(t)
	got, err := other.Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "a", got, "NewClient is on another DB")
}

func TestRedisParallel(t *testing.T) {
	for i := range 8 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			env := testenv.Redis(t)
			ctx := t.Context()
			for j := range 50 {
				require.NoError(t, env.Client.Incr(ctx, "n").Err(), j)
			}
			n, err := env.Client.Get(ctx, "n").Int()
			require.NoError(t, err)
			assert.Equal(t, 50, n, "another parallel test wrote to this DB")
		})
	}
}

func TestRedisCluster(t *testing.T) {
	env := testenv.RedisCluster(t)
	require.Len(t, env.Addrs, 3)
	ctx := t.Context()
	for _, addr := range env.Addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		info, err := c.ClusterInfo(ctx).Result()
		c.Close()
		require.NoError(t, err)
		assert.Contains(t, info, "cluster_state:ok")
	}
	// Keys spread over all three masters, and hash-tagged keys share a slot.
	masters := map[string]bool{}
	for i := range 30 {
		key := fmt.Sprintf("%skey-%d", env.Prefix, i)
		require.NoError(t, env.Client.Set(ctx, key, i, 0).Err())
		slot, err := env.Client.ClusterKeySlot(ctx, key).Result()
		require.NoError(t, err)
		masters[masterOf(t, env, slot)] = true
	}
	assert.Len(t, masters, 3, "30 keys all landed on %d masters", len(masters))
	tagged := []string{"{" + env.Prefix + "q}:a", "{" + env.Prefix + "q}:b"}
	require.NoError(t, env.Client.MSet(ctx, tagged[0], 1, tagged[1], 2).Err(), "multi-key on one hash tag")
}

func masterOf(t *testing.T, env *testenv.ClusterEnv, slot int64) string {
	t.Helper()
	shards, err := env.Client.ClusterShards(t.Context()).Result()
	require.NoError(t, err)
	for _, s := range shards {
		for _, r := range s.Slots {
			if r.Start <= slot && slot <= r.End {
				for _, n := range s.Nodes {
					if n.Role == "master" {
						return fmt.Sprintf("%s:%d", n.IP, n.Port)
					}
				}
			}
		}
	}
	t.Fatalf("slot %d has no master", slot)
	return ""
}

func TestRedisServerRestartKeepsAOF(t *testing.T) {
	srv := testenv.NewRedisServer(t, "--appendonly", "yes", "--appendfsync", "always")
	c := srv.Client(t)
	ctx := t.Context()
	require.NoError(t, c.Set(ctx, "survives", "yes", 0).Err())
	addr := srv.Addr()
	require.NoError(t, srv.Stop())
	require.Error(t, c.Ping(ctx).Err(), "server still answers after Stop")
	require.NoError(t, srv.Start())
	assert.Equal(t, addr, srv.Addr())
	got, err := c.Get(ctx, "survives").Result()
	require.NoError(t, err)
	assert.Equal(t, "yes", got)
}

func TestPostgresFreshDatabasePerTest(t *testing.T) {
	a, b := testenv.Postgres(t), testenv.Postgres(t)
	require.NotEqual(t, a.Database, b.Database)
	ctx := t.Context()
	_, err := a.DB.ExecContext(ctx, "CREATE TABLE only_in_a (id int)")
	require.NoError(t, err)
	var n int
	require.NoError(t, b.DB.QueryRowContext(ctx,
		"SELECT count(*) FROM information_schema.tables WHERE table_name = 'only_in_a'").Scan(&n))
	assert.Equal(t, 0, n, "b sees a's table")
	var db string
	require.NoError(t, a.DB.QueryRowContext(ctx, "SELECT current_database()").Scan(&db))
	assert.Equal(t, a.Database, db)

	// The DSN works for a pool of the test's own.
	own, err := sql.Open("postgres", a.DSN)
	require.NoError(t, err)
	defer own.Close()
	require.NoError(t, own.QueryRowContext(ctx, "SELECT count(*) FROM only_in_a").Scan(&n))
}

func TestPostgresDropsDatabaseAtCleanup(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) { name = testenv.Postgres(t).Database })
	env := testenv.Postgres(t)
	var n int
	require.NoError(t, env.DB.QueryRowContext(t.Context(),
		"SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n))
	assert.Equal(t, 0, n, "database %s survived its test", name)
}

// External mode: the PLUMB_* variables send tests to a server the harness
// did not start (here: one started by hand for the purpose).
func TestExternalURLs(t *testing.T) {
	ctx := t.Context()
	srv, err := services.StartRedis(ctx)
	require.NoError(t, err)
	defer srv.Close()
	t.Setenv("PLUMB_REDIS_URL", srv.URL(3))
	var prefix string
	t.Run("redis", func(t *testing.T) {
		env := testenv.Redis(t)
		assert.Equal(t, srv.Addr(), env.Addr)
		assert.Equal(t, 3, env.DB)
		prefix = env.Prefix
		require.NoError(t, env.Client.Set(ctx, env.Prefix+"k", 1, 0).Err())
	})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DB: 3})
	defer c.Close()
	keys, err := c.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	assert.Empty(t, keys, "prefix keys left on the external server")

	pg := testenv.Postgres(t) // the harness's own cluster, used as "external"
	t.Setenv("PLUMB_DATABASE_URL", pg.DSN)
	t.Run("postgres", func(t *testing.T) {
		env := testenv.Postgres(t)
		assert.Contains(t, env.DSN, strings.Split(strings.TrimPrefix(pg.DSN, "postgres://"), "/")[0])
		require.NoError(t, env.DB.PingContext(ctx))
	})
}

// child is the test binary re-run by TestNoOrphans: it starts a redis-server,
// PostgreSQL and optionally a cluster, writes the pids from their pid files
// to the file named by TESTENV_CHILD,
// then waits to be killed (or, with TESTENV_EXIT, closes them and exits).
func child() int {
	ctx := context.Background()
	r, err := services.StartRedis(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pg, err := services.StartPostgres(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	files := []string{r.PidFile(), pg.PidFile()}
	dirs := []string{r.Dir(), filepath.Dir(pg.DataDir())}
	if os.Getenv("TESTENV_CLUSTER") != "" {
		c, err := services.StartRedisCluster(ctx, 3)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, n := range c.Nodes {
			files = append(files, n.PidFile())
			dirs = append(dirs, n.Dir())
		}
	}
	var pids []string
	for _, f := range files {
		pid, err := readPid(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		pids = append(pids, strconv.Itoa(pid))
	}
	out := strings.Join(pids, "\n") + "\n--\n" + strings.Join(dirs, "\n") + "\n"
	if err := os.WriteFile(os.Getenv("TESTENV_CHILD"), []byte(out), 0o644); err != nil {
		return 1
	}
	if os.Getenv("TESTENV_EXIT") != "" {
		if err := services.CloseAll(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	time.Sleep(time.Minute) // the parent kills us long before
	return 0
}

// startChild runs the test binary as a child that starts servers, and
// returns it with the pids it reported and the directories it made.
func startChild(t *testing.T, env ...string) (*exec.Cmd, []int, []string) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "pids")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, "TESTENV_CHILD="+report)...)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if b, err := os.ReadFile(report); err == nil && strings.Contains(string(b), "--\n") &&
			strings.HasSuffix(string(b), "\n") {
			list, dirs, _ := strings.Cut(string(b), "--\n")
			var pids []int
			for _, f := range strings.Fields(list) {
				pid, err := strconv.Atoi(f)
				require.NoError(t, err)
				pids = append(pids, pid)
			}
			return cmd, pids, strings.Fields(dirs)
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("child did not report its servers in 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readPid returns the pid on the first line of a server's pid file.
func readPid(file string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if !s.Scan() {
		return 0, fmt.Errorf("empty pid file %s", file)
	}
	return strconv.Atoi(strings.TrimSpace(s.Text()))
}

// alive reports whether pid is a live process (a zombie waiting for a
// reaper that is not there counts as dead).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func requireGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		require.Positive(t, pid)
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("server pid %d outlived the test binary", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// A test binary killed with SIGKILL runs no cleanup: the parent-death
// signal must still take every server down. Two children run at once to
// show that concurrent test binaries do not collide on ports or dirs.
func TestNoOrphansWhenTestBinaryIsKilled(t *testing.T) {
	a, pidsA, dirsA := startChild(t, "TESTENV_CLUSTER=1")
	b, pidsB, dirsB := startChild(t)
	for _, pid := range append(append([]int{}, pidsA...), pidsB...) {
		require.True(t, alive(pid), "server %d not running while its child lives", pid)
	}
	require.NoError(t, a.Process.Kill())
	require.NoError(t, b.Process.Kill())
	a.Wait()
	b.Wait()
	requireGone(t, pidsA)
	requireGone(t, pidsB)
	for _, d := range append(dirsA, dirsB...) { // a killed binary cannot remove its dirs
		os.RemoveAll(d)
	}
}

func TestNoOrphansAfterNormalExit(t *testing.T) {
	cmd, pids, dirs := startChild(t, "TESTENV_EXIT=1")
	require.NoError(t, cmd.Wait())
	requireGone(t, pids)
	for _, d := range dirs {
		_, err := os.Stat(d)
		assert.True(t, os.IsNotExist(err), "dir %s left behind", d)
	}
}
