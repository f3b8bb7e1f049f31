package txiso_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"database/sql"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/goplumb/plumb/internal/testenv"
	"github.com/goplumb/plumb/txiso"
)

// specVerdicts reads the Hermitage README verdicts from the spec copy:
// case name -> level name -> anomaly occurs.
func specVerdicts(t *testing.T) map[string]map[string]bool {
	t.Helper()
	f, err := os.Open("testdata/hermitage-postgres.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]bool{}
	name := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "### "); ok {
			name, _, _ = strings.Cut(rest, " — ")
		}
		if rest, ok := strings.CutPrefix(line, "- verdict (Hermitage README): "); ok && name != "" {
			out[name] = map[string]bool{}
			for _, part := range strings.Split(rest, "; ") {
				level, verdict, _ := strings.Cut(part, ": ")
				out[name][level] = verdict == "ANOMALY OCCURS"
			}
		}
	}
	if len(out) != 14 {
		t.Fatalf("parsed %d verdicts from the spec, want 14", len(out))
	}
	return out
}

func checkMatrix(t *testing.T, m *txiso.MatrixResult) {
	t.Helper()
	if len(m.Cells) != 63 {
		t.Errorf("%d cells, want 63", len(m.Cells))
	}
	for _, c := range m.Mismatches() {
		t.Errorf("%s at %s differs from the spec (err %v)", c.Case, c.Level, c.Err)
		for _, s := range c.Steps {
			if s.Mismatch {
				t.Errorf("  step %d %s %q: got %q, want %q", s.N, s.Session, s.SQL, s.Got, s.Want)
			}
		}
	}
	for name, levels := range specVerdicts(t) {
		for _, l := range []txiso.Level{txiso.ReadUncommitted, txiso.ReadCommitted, txiso.RepeatableRead, txiso.Serializable} {
			c, ok := m.Cell(name, l)
			if !ok {
				t.Errorf("no cell %s at %s", name, l)
				continue
			}
			if got, want := c.Outcome == txiso.Anomaly, levels[l.String()]; got != want {
				t.Errorf("%s at %s: outcome %s, Hermitage verdict anomaly=%t", name, l, c.Outcome, want)
			}
		}
	}
	// How the extra cases end, whichever deadlock waiter was the victim.
	for _, l := range []txiso.Level{txiso.ReadCommitted, txiso.Serializable} {
		if c, _ := m.Cell("X-deadlock", l); c.Outcome != txiso.BlockedThen40P01 && c.Outcome != txiso.Failed40P01 {
			t.Errorf("X-deadlock at %s: %s, want a 40P01", l, c.Outcome)
		}
	}
	if c, _ := m.Cell("X-savepoint-retry", txiso.Serializable); c.Outcome != txiso.Failed40001 {
		t.Errorf("X-savepoint-retry: %s, want 40001", c.Outcome)
	}
	if c, _ := m.Cell("X-deferrable", txiso.Serializable); c.Outcome != txiso.Blocked {
		t.Errorf("X-deferrable: %s, want blocked", c.Outcome)
	}
	if c, _ := m.Cell("P4", txiso.RepeatableRead); c.Outcome != txiso.BlockedThen40001 {
		t.Errorf("P4 at repeatable read: %s, want blocked>40001", c.Outcome)
	}
	if s := m.String(); !strings.Contains(s, "G2-item") || strings.Contains(s, " !") {
		t.Errorf("table:\n%s", s)
	}
}

func TestMatrixLive(t *testing.T) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db, _ := pgDB(t, d)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			m, err := txiso.Matrix(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s\n%s", m.Server, m)
			checkMatrix(t, m)
		})
	}
}

var roleSeq atomic.Int64

// TestMatrixOrdinaryRole runs the matrix as a login role that is not a
// superuser and has no privilege but CREATE on the schema.
func TestMatrixOrdinaryRole(t *testing.T) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			admin, env := pgDB(t, d)
			role := fmt.Sprintf("txiso_role_%d_%d", os.Getpid(), roleSeq.Add(1))
			exec(t, admin, "CREATE ROLE "+role+" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
			t.Cleanup(func() {
				for _, q := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
					if _, err := admin.Exec(q); err != nil {
						t.Errorf("%s: %v", q, err)
					}
				}
			})
			exec(t, admin, "GRANT CREATE ON SCHEMA public TO "+role)
			u, err := url.Parse(env.DSN)
			if err != nil {
				t.Fatal(err)
			}
			u.User = url.User(role)
			db, err := sql.Open(d, u.String())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var super string
			if err := db.QueryRow("SHOW is_superuser").Scan(&super); err != nil || super != "off" {
				t.Fatalf("is_superuser = %q (%v), want off", super, err)
			}
			m, err := txiso.Matrix(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			checkMatrix(t, m)
			requireNoConnInUse(t, db)
		})
	}
}

// newRole creates a login role with CREATE on the schema (and extra
// CREATE ROLE clauses), dropped at cleanup, and returns a DSN for it.
func newRole(t *testing.T, admin *sql.DB, dsn, clauses string) string {
	t.Helper()
	role := fmt.Sprintf("txiso_role_%d_%d", os.Getpid(), roleSeq.Add(1))
	exec(t, admin, "CREATE ROLE "+role+" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "+clauses)
	t.Cleanup(func() {
		for _, q := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := admin.Exec(q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	exec(t, admin, "GRANT CREATE ON SCHEMA public TO "+role)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

// Under a role CONNECTION LIMIT of 6 every cell used to fail while Matrix
// returned no error; now it runs one case at a time on 4 connections and
// every cell runs. Under a limit of 3 it refuses before any case runs.
func TestMatrixRoleConnectionLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole matrix twice per driver")
	}
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			admin, env := pgDB(t, d)
			db, err := sql.Open(d, newRole(t, admin, env.DSN, "CONNECTION LIMIT 6"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			m, err := txiso.Matrix(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			checkMatrix(t, m)
			requireNoConnInUse(t, db)

			small, err := sql.Open(d, newRole(t, admin, env.DSN, "CONNECTION LIMIT 3"))
			if err != nil {
				t.Fatal(err)
			}
			defer small.Close()
			m, err = txiso.Matrix(context.Background(), small)
			if !errors.Is(err, txiso.ErrInvalid) || !strings.Contains(err.Error(), "CONNECTION LIMIT allows 3") || m != nil {
				t.Errorf("Matrix under a limit of 3 = %v, %v; want ErrInvalid naming the limit", m, err)
			}
			requireNoConnInUse(t, small)
		})
	}
}

// A *sql.DB over a pgxpool.Pool of 4 connections (pgxpool's default on 2
// cores) hides its limit from database/sql; Matrix used to deadlock there
// and fail all 63 cells. Now it finds it can have 4 and runs every cell.
func TestMatrixPgxpoolOfFour(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole matrix one case at a time")
	}
	env := testenv.Postgres(t)
	cfg, err := pgxpool.ParseConfig(env.DSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m, err := txiso.Matrix(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, m)
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d pool connections still acquired", n)
	}
}

// A cell that could not run is an error, never a result.
func TestMatrixCutShortIsAnError(t *testing.T) {
	db, _ := pgDB(t, "pgx")
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel as soon as the first case has started: the deadlock cases run
	// first and each waits for deadlock_timeout, so the run cannot be over.
	go func() {
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			var n int
			if err := db.QueryRow(`select count(*) from pg_tables where tablename like 'txiso_matrix_%'`).Scan(&n); err == nil && n > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	m, err := txiso.Matrix(ctx, db)
	if err == nil {
		t.Fatal("Matrix cut short returned no error")
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "did not run") {
		t.Errorf("err = %v, want one saying cells did not run, wrapping context.Canceled", err)
	}
	if m == nil {
		t.Fatal("no result")
	}
	failed := 0
	for _, c := range m.Cells {
		if c.Err != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Errorf("no cell carries an Err")
	}
	if len(m.Mismatches()) < failed {
		t.Errorf("Mismatches() = %d, fewer than the %d cells that did not run", len(m.Mismatches()), failed)
	}
}

func TestMatrixBadInput(t *testing.T) {
	if _, err := txiso.Matrix(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "nil db") {
		t.Errorf("Matrix(nil db) = %v", err)
	}
	db, err := sql.Open("postgres", "postgres://127.0.0.1:1/x?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(2)
	if _, err := txiso.Matrix(context.Background(), db); !errors.Is(err, txiso.ErrInvalid) || !strings.Contains(err.Error(), "needs 4 connections") {
		t.Errorf("Matrix(2 conns) = %v", err)
	}
}
