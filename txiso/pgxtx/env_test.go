package pgxtx_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goplumb/plumb/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// pgPool returns a pool on a fresh database holding t(id int primary key,
// v int) with rows (1,10),(2,20); at cleanup it checks that no connection
// is left acquired (leaks after panics, cancellations).
func pgPool(t testing.TB, maxConns int32) (*pgxpool.Pool, *testenv.PostgresEnv) {
	t.Helper()
	env := testenv.Postgres(t)
	cfg, err := pgxpool.ParseConfig(env.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	t.Cleanup(func() { requireNoneAcquired(t, pool) })
	exec(t, pool, "create table t (id int primary key, v int)")
	exec(t, pool, "insert into t values (1, 10), (2, 20)")
	return pool, env
}

// requireNoneAcquired waits (a rollback after a cancelled context may still
// be releasing its connection; the deadline is generous) until the pool has
// no acquired connection.
func requireNoneAcquired(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for pool.Stat().AcquiredConns() != 0 {
		if time.Now().After(deadline) {
			t.Errorf("connection leak: %d acquired, want 0", pool.Stat().AcquiredConns())
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func exec(t testing.TB, pool *pgxpool.Pool, q string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func value(t testing.TB, pool *pgxpool.Pool, id int) int {
	t.Helper()
	var v int
	if err := pool.QueryRow(context.Background(), "select v from t where id = $1", id).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
