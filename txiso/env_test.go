package txiso_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/testenv"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "github.com/lib/pq"              // the "postgres" database/sql driver
)

func TestMain(m *testing.M) { testenv.Main(m) }

// drivers are the database/sql drivers every real-server test runs with.
var drivers = []string{"postgres", "pgx"}

// pgDB opens a fresh database with the named driver and checks, at cleanup,
// that no connection is left in use (leaks after panics, cancellations).
func pgDB(t testing.TB, driverName string) (*sql.DB, *testenv.PostgresEnv) {
	t.Helper()
	env := testenv.Postgres(t)
	db, err := sql.Open(driverName, env.DSN)
	if err != nil {
		t.Fatalf("open %s: %v", driverName, err)
	}
	t.Cleanup(func() { db.Close() })
	t.Cleanup(func() { requireNoConnInUse(t, db) })
	return db, env
}

// requireNoConnInUse waits (database/sql's rollback after a cancelled
// context runs on its own goroutine; the deadline is generous for a loaded
// machine) for db.Stats().InUse == 0.
func requireNoConnInUse(t testing.TB, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for db.Stats().InUse != 0 {
		if time.Now().After(deadline) {
			t.Errorf("connection leak: db.Stats().InUse = %d, want 0", db.Stats().InUse)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func exec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// waitBackendGone waits until the server backend pid has exited (after
// pg_terminate_backend, which only signals it).
func waitBackendGone(t testing.TB, db *sql.DB, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRow("select count(*) from pg_stat_activity where pid = $1", pid).Scan(&n); err != nil {
			t.Errorf("pg_stat_activity: %v", err)
			return
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("backend %d still there 30 s after pg_terminate_backend", pid)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
