package txiso

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Outcome says what happened to an anomaly in one Matrix cell.
type Outcome string

// The outcomes of a Matrix cell.
const (
	// Anomaly: the anomaly occurred; the level permits it.
	Anomaly Outcome = "ANOMALY"
	// Snapshot: prevented without waiting or failing, by reading committed
	// data (read committed) or the transaction's snapshot.
	Snapshot Outcome = "snapshot"
	// Blocked: prevented by a statement waiting on a lock (or, DEFERRABLE,
	// for a safe snapshot) and then proceeding.
	Blocked Outcome = "blocked"
	// Failed40001: prevented by a serialization failure.
	Failed40001 Outcome = "40001"
	// BlockedThen40001: a statement waited on a lock, then failed with 40001.
	BlockedThen40001 Outcome = "blocked>40001"
	// Failed40P01: a deadlock was detected and one transaction aborted.
	Failed40P01 Outcome = "40P01"
	// BlockedThen40P01: a waiting statement was the deadlock victim.
	BlockedThen40P01 Outcome = "blocked>40P01"
)

// MatrixCell is one Hermitage case run at one level.
type MatrixCell struct {
	Case     string  // Hermitage case name ("G2-item")
	Phenom   string  // the phenomenon it demonstrates ("G2-item", "P4", ...)
	Title    string  // short description
	Level    Level   // level all sessions ran at
	Outcome  Outcome // what happened
	Expected bool    // every step gave the result Hermitage's postgres.md records
	Steps    []StepResult
	Err      error // why the cell did not run to its end (then Outcome and Expected mean nothing)
}

// StepResult is one step of a MatrixCell run, as a result token
// ("ok", "n:1", "rows:1=10,2=20", "err:40001", "failed", "blocks>n:1", "-").
type StepResult struct {
	N        int
	Session  string
	SQL      string
	Want     string
	Got      string
	Mismatch bool
}

// MatrixResult is the outcome of Matrix: one cell per case and level run.
type MatrixResult struct {
	Server string // version() of the server
	Cells  []MatrixCell
}

// Mismatches returns the cells that did not behave as Hermitage expects
// (including cells with an Err).
func (m *MatrixResult) Mismatches() []MatrixCell {
	var out []MatrixCell
	for _, c := range m.Cells {
		if !c.Expected || c.Err != nil {
			out = append(out, c)
		}
	}
	return out
}

// Cell returns the cell of the named case at level l.
func (m *MatrixResult) Cell(name string, l Level) (MatrixCell, bool) {
	for _, c := range m.Cells {
		if c.Case == name && c.Level == l {
			return c, true
		}
	}
	return MatrixCell{}, false
}

// String renders the matrix as a fixed-width table: one row per case, one
// column per level; a cell that differed from Hermitage is marked with "!".
func (m *MatrixResult) String() string {
	var b strings.Builder
	cols := allLevels
	fmt.Fprintf(&b, "%-26s", "case")
	for _, l := range cols {
		fmt.Fprintf(&b, " %-17s", l)
	}
	trimLine(&b)
	seen := map[string]bool{}
	for _, c := range m.Cells {
		if seen[c.Case] {
			continue
		}
		seen[c.Case] = true
		fmt.Fprintf(&b, "%-26s", c.Case)
		for _, l := range cols {
			cell, ok := m.Cell(c.Case, l)
			s := "n/a"
			if ok {
				s = string(cell.Outcome)
				if cell.Err != nil {
					s = "error"
				}
				if !cell.Expected || cell.Err != nil {
					s += " !"
				}
			}
			fmt.Fprintf(&b, " %-17s", s)
		}
		trimLine(&b)
	}
	return b.String()
}

// trimLine drops the padding at the end of b's last line and ends the line.
func trimLine(b *strings.Builder) {
	s := strings.TrimRight(b.String(), " ")
	b.Reset()
	b.WriteString(s)
	b.WriteString("\n")
}

// Matrix runs the Hermitage isolation test cases (the 14 of
// github.com/ept/hermitage's postgres.md plus 3 of txiso's own, 63 case ×
// level runs) live against db's server and reports, per case and level,
// whether the anomaly occurred or how it was prevented.
//
// Each case runs on its own freshly created table (a unique name in the
// current schema, dropped afterwards) with three sessions, each on its own
// connection, and a fourth connection that watches pg_stat_activity to see
// that a statement is blocked (no sleeps). It needs CREATE on the current
// schema and nothing else: it works as an ordinary role.
//
// Connections: Matrix needs 4 at once and uses up to 16 (4 cases at a
// time). Before any case runs it works out how many it can have (db's
// SetMaxOpenConns, the role's and the database's CONNECTION LIMIT, the
// server's max_connections, minus the connections already open) and takes
// them from db, waiting at most a few seconds for each one beyond the
// first four, so a pool whose limit it cannot see (for example
// pgx's stdlib.OpenDBFromPool over a pgxpool.Pool) makes it run fewer cases
// at a time instead of deadlocking. Cases then run only on those
// connections, which go back to db when Matrix returns. If fewer than 4 can
// be had, Matrix fails before any case runs with an error that says what
// it needs (matching ErrInvalid when a configured limit is the reason).
//
// A full run takes a few seconds, mostly the deadlock case waiting for the
// server's deadlock_timeout (default 1 s) at each level. A cell that could
// not run to its end (setup failed, a step timed out, ctx ended) carries an
// Err and is never reported as a result; if any cell has one, Matrix
// returns the result (with every cell) and an error saying how many did not
// run, wrapping the first cell's error.
func Matrix(ctx context.Context, db *sql.DB) (*MatrixResult, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrInvalid)
	}
	if db == nil {
		return nil, fmt.Errorf("%w: nil db", ErrInvalid)
	}
	if maxOpen := db.Stats().MaxOpenConnections; maxOpen > 0 && maxOpen < matrixConns {
		return nil, fmt.Errorf("%w: Matrix needs %d connections at once (3 sessions and a monitor), "+
			"db.SetMaxOpenConns is %d: raise it to at least %d (%d runs 4 cases at a time)",
			ErrInvalid, matrixConns, maxOpen, matrixConns, matrixConns*matrixWorkers)
	}
	conns, err := reserveConns(ctx, db)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	res := &MatrixResult{}
	if err := conns[0].QueryRowContext(ctx, "select version()").Scan(&res.Server); err != nil {
		return nil, fmt.Errorf("txiso: matrix: %w", err)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	prefix := "txiso_matrix_" + hex.EncodeToString(suffix[:])

	type job struct {
		c     *hcase
		level Level
		idx   int
	}
	var jobs []job
	for i := range hermitage {
		for _, l := range hermitage[i].levels {
			jobs = append(jobs, job{&hermitage[i], l, len(jobs)})
		}
	}
	res.Cells = make([]MatrixCell, len(jobs))
	ch := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w+matrixConns <= len(conns); w += matrixConns {
		set := [matrixConns]*sql.Conn(conns[w : w+matrixConns])
		wg.Add(1)
		go func() { // ends when ch is closed and drained
			defer wg.Done()
			for j := range ch {
				table := prefix + "_" + strconv.Itoa(j.idx)
				res.Cells[j.idx] = runCase(ctx, set, j.c, j.level, table)
			}
		}()
	}
	// Deadlock cases first: they wait out deadlock_timeout, so overlap them.
	sort.SliceStable(jobs, func(a, b int) bool {
		return jobs[a].c.name == "X-deadlock" && jobs[b].c.name != "X-deadlock"
	})
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	var first *MatrixCell
	failed := 0
	for i := range res.Cells {
		if c := &res.Cells[i]; c.Err != nil {
			failed++
			if first == nil {
				first = c
			}
		}
	}
	if failed > 0 {
		return res, fmt.Errorf("txiso: matrix: %d of %d cells did not run (first: %s at %s: %w)",
			failed, len(res.Cells), first.Case, first.Level, first.Err)
	}
	return res, nil
}

const (
	matrixConns   = 4 // connections per case: 3 sessions and a monitor
	matrixWorkers = 4 // cases at a time, at most
	// extraConnWait bounds the wait for each connection beyond the first
	// matrixConns: a pool limit Matrix cannot see makes it wait this long
	// once, then run with what it has.
	extraConnWait = 3 * time.Second
	// firstConnsWait bounds the wait for each of the first matrixConns.
	firstConnsWait = 30 * time.Second
)

// reserveConns takes the connections Matrix will use from db (see Matrix):
// a multiple of matrixConns, at least matrixConns, at most
// matrixConns*matrixWorkers.
func reserveConns(ctx context.Context, db *sql.DB) ([]*sql.Conn, error) {
	var conns []*sql.Conn
	release := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	get := func(wait time.Duration) (*sql.Conn, error) {
		cctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		c, err := db.Conn(cctx)
		if err == nil {
			// database/sql connects lazily for some drivers: make sure
			// this one is open on the server.
			err = c.PingContext(cctx)
			if err != nil {
				c.Close()
			}
		}
		if err != nil && ctx.Err() == nil && cctx.Err() != nil {
			err = fmt.Errorf("no connection within %v (is db's pool smaller than it says, or in use?): %w", wait, err)
		}
		return c, err
	}
	first, err := get(firstConnsWait)
	if err != nil {
		return nil, fmt.Errorf("txiso: matrix: %w", err)
	}
	conns = append(conns, first)
	want := matrixConns * matrixWorkers
	if maxOpen := db.Stats().MaxOpenConnections; maxOpen > 0 {
		want = min(want, maxOpen-db.Stats().InUse+1)
	}
	budget, why, err := serverBudget(ctx, first)
	if err != nil {
		release()
		return nil, fmt.Errorf("txiso: matrix: reading connection limits: %w", err)
	}
	if budget >= 0 && budget+1 < matrixConns {
		release()
		return nil, fmt.Errorf("%w: Matrix needs %d connections at once (3 sessions and a monitor) and %s; "+
			"raise the limit (ALTER ROLE/DATABASE ... CONNECTION LIMIT) or close other connections",
			ErrInvalid, matrixConns, why)
	}
	if budget >= 0 {
		want = min(want, budget+1)
	}
	want -= want % matrixConns
	for len(conns) < want {
		wait := extraConnWait
		if len(conns) < matrixConns {
			wait = firstConnsWait
		}
		c, err := get(wait)
		if err != nil {
			if len(conns) < matrixConns || ctx.Err() != nil {
				got := len(conns)
				release()
				return nil, fmt.Errorf("txiso: matrix: needs %d connections at once (3 sessions and a monitor), "+
					"got %d: %w", matrixConns, got, err)
			}
			break
		}
		conns = append(conns, c)
	}
	for len(conns)%matrixConns != 0 {
		conns[len(conns)-1].Close()
		conns = conns[:len(conns)-1]
	}
	return conns, nil
}

// serverBudget returns how many more connections the server will accept
// for this role and database (-1: no limit applies) and which limit binds.
func serverBudget(ctx context.Context, conn *sql.Conn) (int, string, error) {
	var roleLimit, dbLimit, maxConns, roleUsed, dbUsed, allUsed int
	var super bool
	err := conn.QueryRowContext(ctx, `select
		(select rolconnlimit from pg_roles where rolname = current_user),
		(select datconnlimit from pg_database where datname = current_database()),
		current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int,
		(select count(*) from pg_stat_activity where usename = current_user and backend_type = 'client backend'),
		(select count(*) from pg_stat_activity where datname = current_database() and backend_type = 'client backend'),
		(select count(*) from pg_stat_activity where backend_type = 'client backend'),
		(select rolsuper from pg_roles where rolname = current_user)`).
		Scan(&roleLimit, &dbLimit, &maxConns, &roleUsed, &dbUsed, &allUsed, &super)
	if err != nil {
		return 0, "", err
	}
	budget, why := -1, ""
	consider := func(limit, used int, what string) {
		if left := limit - used; budget < 0 || left < budget {
			budget = max(left, 0)
			why = fmt.Sprintf("%s allows %d with %d open", what, limit, used)
		}
	}
	if roleLimit >= 0 && !super {
		consider(roleLimit, roleUsed, "the role's CONNECTION LIMIT")
	}
	if dbLimit >= 0 && !super {
		consider(dbLimit, dbUsed, "the database's CONNECTION LIMIT")
	}
	if !super {
		consider(maxConns, allUsed, "the server's max_connections (less superuser_reserved_connections)")
	}
	return budget, why, nil
}

var testTable = regexp.MustCompile(`\btest\b`)

type sessionReq struct {
	sql  string
	done chan string // buffered(1)
}

type session struct {
	name string
	conn *sql.Conn
	pid  int
	reqs chan sessionReq
}

const (
	stepTimeout = 15 * time.Second
	pollEvery   = 5 * time.Millisecond
)

// runCase runs case c at level on conns (the monitor, then T1, T2, T3),
// which it leaves open and outside any transaction.
func runCase(parent context.Context, conns [matrixConns]*sql.Conn, c *hcase, level Level, table string) (cell MatrixCell) {
	cell = MatrixCell{Case: c.name, Phenom: c.anomaly, Title: c.title, Level: level}
	if err := parent.Err(); err != nil {
		cell.Err = fmt.Errorf("txiso: matrix: not started: %w", err)
		return cell
	}
	ctx, cancel := context.WithTimeout(parent, 60*time.Second)
	defer cancel()

	mon := conns[0]
	setup := []string{
		"create table " + table + " (id int primary key, value int)",
		"insert into " + table + " (id, value) values (1, 10), (2, 20)",
	}
	for _, q := range setup {
		if _, err := mon.ExecContext(ctx, q); err != nil {
			cell.Err = fmt.Errorf("txiso: matrix setup: %w", err)
			return cell
		}
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(parent), 10*time.Second)
		defer dcancel()
		_, _ = mon.ExecContext(dctx, "drop table if exists "+table)
	}()

	var wg sync.WaitGroup
	sessions := map[string]*session{}
	defer func() {
		for _, s := range sessions {
			close(s.reqs)
		}
		cancel() // unblocks anything still waiting
		wg.Wait()
	}()
	for i, name := range []string{"T1", "T2", "T3"} {
		conn := conns[1+i]
		s := &session{name: name, conn: conn, reqs: make(chan sessionReq)}
		if err := conn.QueryRowContext(ctx, "select pg_backend_pid()").Scan(&s.pid); err != nil {
			cell.Err = fmt.Errorf("txiso: matrix: %w", err)
			return cell
		}
		sessions[name] = s
		ro := c.deferrable && name == "T3"
		wg.Add(1)
		go func() { // ends when s.reqs is closed
			defer wg.Done()
			s.loop(ctx, level, ro, table)
		}()
	}

	pending := map[string]chan string{}
	obs := map[int]string{}
	fail := func(r StepResult, got string) {
		r.Got = got
		r.Mismatch = !matchToken(r.Want, got)
		cell.Steps = append(cell.Steps, r)
		obs[r.N] = got
	}
	aborted := false
	for _, s := range c.steps {
		want := s.expect(level)
		r := StepResult{N: s.n, Session: s.session, SQL: s.sql, Want: want}
		if want == "-" || want == "n/a" || aborted {
			if aborted {
				r.Got = "not run"
				r.Mismatch = want != "-"
			} else {
				r.Got = "-"
			}
			cell.Steps = append(cell.Steps, r)
			obs[s.n] = r.Got
			continue
		}
		q := testTable.ReplaceAllString(s.sql, table)
		if s.session == "obs" {
			fail(r, runStatement(ctx, mon, nil, q))
			continue
		}
		sess := sessions[s.session]
		done := make(chan string, 1)
		select {
		case sess.reqs <- sessionReq{sql: q, done: done}:
		case <-ctx.Done():
			fail(r, "timeout")
			aborted = true
			continue
		}
		if strings.HasPrefix(want, "blocks>") {
			got, blocked := waitBlocked(ctx, mon, sess.pid, done)
			if !blocked {
				fail(r, got)
				if got == "timeout" {
					aborted = true
				}
				continue
			}
			pending[s.session] = done
			// Recorded when released.
			cell.Steps = append(cell.Steps, r)
		} else {
			got := waitResult(ctx, done)
			fail(r, got)
			if got == "timeout" {
				aborted = true
				continue
			}
		}
		if s.releases != "" {
			ch, ok := pending[s.releases]
			if !ok {
				continue
			}
			delete(pending, s.releases)
			got := waitResult(ctx, ch)
			if got != "timeout" {
				got = "blocks>" + got
			} else {
				aborted = true
			}
			for i := range cell.Steps {
				st := &cell.Steps[i]
				if st.Session == s.releases && st.Got == "" {
					st.Got = got
					st.Mismatch = !matchToken(st.Want, got)
					obs[st.N] = got
				}
			}
		}
	}
	for i := range cell.Steps {
		if cell.Steps[i].Got == "" { // blocked and never released
			cell.Steps[i].Got = "still blocked"
			cell.Steps[i].Mismatch = true
		}
	}
	for _, s := range cell.Steps {
		// A driver or monitor error without a SQLSTATE is not the server's
		// answer to the step: the cell did not run.
		if got := strings.TrimPrefix(s.Got, "blocks>"); strings.HasPrefix(got, "error: ") || strings.HasPrefix(got, "monitor: ") {
			cell.Err = fmt.Errorf("txiso: matrix: step %d (%s %q): %s", s.N, s.Session, s.SQL, got)
			return cell
		}
	}
	if aborted {
		for _, s := range cell.Steps {
			if s.Got == "timeout" || strings.HasPrefix(s.Got, "blocks>timeout") {
				cell.Err = fmt.Errorf("txiso: matrix: step %d (%s %q) did not finish within %v", s.N, s.Session, s.SQL, stepTimeout)
				break
			}
		}
		if cell.Err == nil {
			cell.Err = fmt.Errorf("txiso: matrix: the case was cut short")
		}
		if err := parent.Err(); err != nil {
			cell.Err = fmt.Errorf("%w: %w", cell.Err, err)
		}
		return cell
	}
	cell.Expected = true
	for _, s := range cell.Steps {
		if s.Mismatch {
			cell.Expected = false
		}
	}
	cell.Outcome = outcome(c, obs)
	return cell
}

// outcome derives what happened from the observed tokens.
func outcome(c *hcase, obs map[int]string) Outcome {
	last := 1 << 30
	if len(c.anomalyIf) > 0 {
		occurred := true
		last = 0
		for _, k := range c.anomalyIf {
			if !matchToken(k.obs, obs[k.step]) {
				occurred = false
			}
			last = max(last, k.step)
		}
		if occurred {
			return Anomaly
		}
	}
	blocked := false
	for _, s := range c.steps {
		if s.n > last {
			break
		}
		got := obs[s.n]
		b := strings.HasPrefix(got, "blocks>")
		switch strings.TrimPrefix(got, "blocks>") {
		case "err:40001":
			if b {
				return BlockedThen40001
			}
			return Failed40001
		case "err:40P01":
			if b {
				return BlockedThen40P01
			}
			return Failed40P01
		}
		blocked = blocked || b
	}
	if blocked {
		return Blocked
	}
	return Snapshot
}

func matchToken(want, got string) bool {
	// "blocks>A|B" means blocks>(A|B): the statement must have blocked.
	if rest, ok := strings.CutPrefix(want, "blocks>"); ok {
		g, ok := strings.CutPrefix(got, "blocks>")
		if !ok {
			return false
		}
		want, got = rest, g
	}
	for _, w := range strings.Split(want, "|") {
		if w == got {
			return true
		}
	}
	return false
}

func waitResult(ctx context.Context, done chan string) string {
	t := time.NewTimer(stepTimeout)
	defer t.Stop()
	select {
	case got := <-done:
		return got
	case <-t.C:
		return "timeout"
	case <-ctx.Done():
		return "timeout"
	}
}

// waitBlocked waits until the backend pid waits on a lock (or a safe
// snapshot) or its statement completes.
func waitBlocked(ctx context.Context, mon *sql.Conn, pid int, done chan string) (string, bool) {
	deadline := time.Now().Add(stepTimeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case got := <-done:
			return got, false
		case <-ctx.Done():
			return "timeout", false
		case <-tick.C:
		}
		var typ, ev string
		err := mon.QueryRowContext(ctx, `select coalesce(wait_event_type, ''), coalesce(wait_event, '')
			from pg_stat_activity where pid = $1 and state = 'active'`, pid).Scan(&typ, &ev)
		if err == nil && (typ == "Lock" || (typ == "IPC" && ev == "SafeSnapshot")) {
			return "", true
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "monitor: " + err.Error(), false
		}
		if time.Now().After(deadline) {
			return "timeout", false
		}
	}
}

func (s *session) loop(ctx context.Context, level Level, readOnly bool, table string) {
	var tx *sql.Tx
	defer func() { // the connection is the caller's: leave it outside a transaction
		if tx != nil {
			_ = tx.Rollback()
		}
	}()
	for req := range s.reqs {
		switch req.sql {
		case "begin":
			var err error
			tx, err = s.conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.IsolationLevel(level), ReadOnly: readOnly})
			if err == nil && readOnly {
				_, err = tx.ExecContext(ctx, "SET TRANSACTION DEFERRABLE")
			}
			req.done <- token(err, "ok")
		case "commit":
			err := tx.Commit()
			tx = nil
			if err != nil && SQLState(err) == "" {
				req.done <- "failed"
				continue
			}
			req.done <- token(err, "ok")
		case "abort":
			err := tx.Rollback()
			tx = nil
			req.done <- token(err, "ok")
		default:
			req.done <- runStatement(ctx, s.conn, tx, req.sql)
		}
	}
}

func token(err error, ok string) string {
	if err == nil {
		return ok
	}
	if s := SQLState(err); s != "" {
		return "err:" + s
	}
	return "error: " + err.Error()
}

// runStatement runs q on tx if non-nil, else on conn (autocommit), and
// returns its token.
func runStatement(ctx context.Context, conn *sql.Conn, tx *sql.Tx, q string) string {
	type querier interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}
	var db querier = conn
	if tx != nil {
		db = tx
	}
	if strings.HasPrefix(q, "select") {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return token(err, "")
		}
		defer rows.Close()
		type kv struct{ id, v int }
		var got []kv
		for rows.Next() {
			var r kv
			if err := rows.Scan(&r.id, &r.v); err != nil {
				return token(err, "")
			}
			got = append(got, r)
		}
		if err := rows.Err(); err != nil {
			return token(err, "")
		}
		sort.Slice(got, func(a, b int) bool { return got[a].id < got[b].id })
		parts := make([]string, len(got))
		for i, r := range got {
			parts[i] = fmt.Sprintf("%d=%d", r.id, r.v)
		}
		return "rows:" + strings.Join(parts, ",")
	}
	r, err := db.ExecContext(ctx, q)
	if err != nil {
		return token(err, "")
	}
	switch strings.SplitN(q, " ", 2)[0] {
	case "insert", "update", "delete":
		n, err := r.RowsAffected()
		if err != nil {
			return token(err, "")
		}
		return "n:" + strconv.FormatInt(n, 10)
	}
	return "ok"
}
