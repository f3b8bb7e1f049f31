package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goplumb/plumb/internal/testenv"
)

func TestTxMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the matrix takes several seconds (deadlock_timeout at each level)")
	}
	pg := testenv.Postgres(t)
	env := map[string]string{"PLUMB_DATABASE_URL": pg.DSN}
	// As on a terminal: progress on stderr, the JSON on stdout untouched.
	r := runWith(t, env, true, "", "tx", "matrix", "-o", "json")
	wantCode(t, r, 0)
	if !strings.Contains(r.Stderr, "tx: running the Hermitage cases") {
		t.Fatalf("no progress on a terminal: %q", r.Stderr)
	}
	var out struct {
		Server string
		Cells  []struct {
			Case, Level, Outcome string
			Expected             bool
		}
		Mismatches int
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	if !strings.HasPrefix(out.Server, "PostgreSQL") || len(out.Cells) < 40 || out.Mismatches != 0 {
		t.Fatalf("server %q, %d cells, %d mismatches", out.Server, len(out.Cells), out.Mismatches)
	}
	found := false
	for _, c := range out.Cells {
		if c.Case == "G2-item" && c.Level == "repeatable read" {
			found = true
			if c.Outcome != "ANOMALY" {
				t.Fatalf("write skew at repeatable read: %s, want ANOMALY", c.Outcome)
			}
		}
	}
	if !found {
		t.Fatal("no G2-item cell at repeatable read")
	}
	if strings.Contains(r.Stdout+r.Stderr, pg.DSN) {
		t.Fatal("DSN printed")
	}
}

func TestTxMatrixFaults(t *testing.T) {
	for _, tt := range []struct {
		name     string
		env      map[string]string
		argv     []string
		code     int
		contains string
	}{
		{"no dsn", nil, nil, 2, "PLUMB_DATABASE_URL"},
		{"unreachable", map[string]string{"PLUMB_DATABASE_URL": "postgres://u:secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"}, nil, 1, "connect to postgres://127.0.0.1:1"},
		{"flag wins", map[string]string{"PLUMB_DATABASE_URL": "postgres://bad"}, []string{"--dsn", "postgres://u:secret@127.0.0.1:1/db?sslmode=disable"}, 1, "127.0.0.1:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, append([]string{"tx", "matrix"}, tt.argv...)...)
			wantCode(t, r, tt.code)
			oneLineError(t, r, tt.contains)
			if strings.Contains(r.Stderr, "secret") {
				t.Fatal("password printed")
			}
		})
	}
}
