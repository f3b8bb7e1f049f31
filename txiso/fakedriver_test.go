package txiso_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// A fake database/sql driver for deterministic error injection: every
// BEGIN, statement and COMMIT is logged, and the test decides per attempt
// what fails. It complements, never replaces, the real-server tests.

type pgErr struct{ code string }

func (e *pgErr) Error() string    { return "fake: ERROR " + e.code }
func (e *pgErr) SQLState() string { return e.code }

type script struct {
	mu     sync.Mutex
	log    []string
	begins int
	// hooks; n is the 1-based BEGIN count
	begin  func(n int) error
	exec   func(n int, q string) error
	commit func(n int) error
}

func (s *script) add(format string, args ...any) {
	s.mu.Lock()
	s.log = append(s.log, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *script) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "; ")
}

func (s *script) Begins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.begins
}

func (s *script) Connect(context.Context) (driver.Conn, error) { return &fconn{s: s}, nil }
func (s *script) Driver() driver.Driver                        { return fdriver{} }

type fdriver struct{}

func (fdriver) Open(string) (driver.Conn, error) { return nil, errors.New("fake: use the connector") }

type fconn struct {
	s *script
	n int // current transaction's BEGIN number
}

func (c *fconn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("fake: no prepare") }
func (c *fconn) Close() error                        { return nil }
func (c *fconn) Begin() (driver.Tx, error)           { return nil, errors.New("fake: use BeginTx") }

func (c *fconn) BeginTx(_ context.Context, o driver.TxOptions) (driver.Tx, error) {
	c.s.mu.Lock()
	c.s.begins++
	c.n = c.s.begins
	c.s.mu.Unlock()
	c.s.add("begin(%s,ro=%t)", sql.IsolationLevel(o.Isolation), o.ReadOnly)
	if c.s.begin != nil {
		if err := c.s.begin(c.n); err != nil {
			return nil, err
		}
	}
	return &ftx{c: c}, nil
}

func (c *fconn) ExecContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Result, error) {
	c.s.add("exec(%s)", q)
	if c.s.exec != nil {
		if err := c.s.exec(c.n, q); err != nil {
			return nil, err
		}
	}
	return driver.RowsAffected(1), nil
}

// QueryContext runs q like ExecContext and returns no rows.
func (c *fconn) QueryContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	c.s.add("query(%s)", q)
	if c.s.exec != nil {
		if err := c.s.exec(c.n, q); err != nil {
			return nil, err
		}
	}
	return noRows{}, nil
}

type noRows struct{}

func (noRows) Columns() []string         { return nil }
func (noRows) Close() error              { return nil }
func (noRows) Next([]driver.Value) error { return io.EOF }

type ftx struct{ c *fconn }

func (t *ftx) Commit() error {
	t.c.s.add("commit")
	if t.c.s.commit != nil {
		return t.c.s.commit(t.c.n)
	}
	return nil
}

func (t *ftx) Rollback() error { t.c.s.add("rollback"); return nil }

// fakeDB returns a *sql.DB on s, closed at cleanup, with the no-leak check.
func fakeDB(t testing.TB, s *script) *sql.DB {
	t.Helper()
	db := sql.OpenDB(s)
	t.Cleanup(func() { db.Close() })
	t.Cleanup(func() { requireNoConnInUse(t, db) })
	return db
}

// failFirst returns a hook that fails the first k attempts with err.
func failFirst(k int, err error) func(int) error {
	return func(n int) error {
		if n <= k {
			return err
		}
		return nil
	}
}

var errNetwork = fmt.Errorf("fake: read tcp: %w", io.ErrUnexpectedEOF)
