// Command txiso-anomalies shows what txiso does on a real PostgreSQL:
//
//  1. the SET TRANSACTION pitfall: db.Exec("SET TRANSACTION ISOLATION LEVEL
//     SERIALIZABLE") then db.Begin() runs at read committed, next to the
//     correct call (txiso.Run with txiso.Serializable);
//
//  2. the live anomaly matrix of the connected server (txiso.Matrix): per
//     Hermitage case and level, whether the anomaly occurred or how it was
//     prevented;
//
//  3. contended money transfers at Serializable through txiso.Run, with the
//     retries they needed, audited against the ledger; and the same
//     transfers through a loop that ignores the COMMIT error, which loses
//     some of them.
//
//     PLUMB_DATABASE_URL=postgres://user@host/db go run ./examples/txiso-anomalies
//     go run ./examples/txiso-anomalies         # starts a PostgreSQL of its own
//
// It works in a scratch database it creates and drops (or, when the role
// may not create databases, in scratch tables it drops at the end).
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lib/pq"

	"github.com/goplumb/plumb/internal/services"
	"github.com/goplumb/plumb/txiso"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 55*time.Second)
	err := run(ctx)
	cancel()
	if cerr := services.CloseAll(); cerr != nil {
		fmt.Fprintln(os.Stderr, "txiso-anomalies: stopping PostgreSQL:", cerr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "txiso-anomalies:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dsn, started, err := services.PostgresURL(ctx)
	if err != nil {
		return err
	}
	if started {
		fmt.Println("started PostgreSQL at", dsn)
	}
	scratch, cleanup, err := scratchDatabase(ctx, dsn)
	if err != nil {
		return err
	}
	defer cleanup()

	if err := pitfall(ctx, scratch); err != nil {
		return fmt.Errorf("pitfall: %w", err)
	}
	db, err := sql.Open("postgres", scratch)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := matrix(ctx, db); err != nil {
		return fmt.Errorf("matrix: %w", err)
	}
	return transfers(ctx, db)
}

// scratchDatabase creates a database of its own and returns its DSN and a
// function that drops it. If the role may not create databases, it uses
// dsn itself (Matrix and the transfer tables use unique names and drop
// them).
func scratchDatabase(ctx context.Context, dsn string) (string, func(), error) {
	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		return "", nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "txiso_anomalies_" + hex.EncodeToString(b[:])
	u, perr := url.Parse(dsn)
	if perr != nil || u.Scheme == "" {
		fmt.Println("(PLUMB_DATABASE_URL is not a URL: working in that database, in scratch tables)")
		return dsn, func() { admin.Close() }, nil
	}
	if _, err := admin.ExecContext(ctx, "create database "+name); err != nil {
		fmt.Printf("(cannot create a scratch database: %v; working in scratch tables)\n", err)
		return dsn, func() { admin.Close() }, nil
	}
	u.Path = "/" + name
	return u.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "drop database if exists "+name+" with (force)"); err != nil {
			fmt.Fprintln(os.Stderr, "txiso-anomalies: drop scratch database:", err)
		}
		admin.Close()
	}, nil
}

func pitfall(ctx context.Context, dsn string) error {
	fmt.Println("== 1. The SET TRANSACTION pitfall")
	fmt.Println()
	// A notice handler makes the server's warning visible; without one
	// (the usual case) both lib/pq and pgx drop it.
	base, err := pq.NewConnector(dsn)
	if err != nil {
		return err
	}
	var notices []string
	var mu sync.Mutex
	db := sql.OpenDB(pq.ConnectorWithNoticeHandler(base, func(e *pq.Error) {
		mu.Lock()
		notices = append(notices, fmt.Sprintf("%s %s: %s", e.Severity, e.Code, e.Message))
		mu.Unlock()
	}))
	defer db.Close()
	db.SetMaxOpenConns(1) // the very same connection every time: pooling is not the cause

	_, err = db.ExecContext(ctx, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
	fmt.Printf("  db.Exec(\"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE\") -> err = %v\n", err)
	mu.Lock()
	for _, n := range notices {
		fmt.Print(wrap("    the server answered (seen only through a notice handler):", n))
	}
	mu.Unlock()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	var level string
	err = tx.QueryRowContext(ctx, "SHOW transaction_isolation").Scan(&level)
	_ = tx.Rollback()
	if err != nil {
		return err
	}
	fmt.Printf("  then db.Begin(); SHOW transaction_isolation -> %q   (the SET was a no-op)\n", level)

	level, err = txiso.Value(ctx, db, func(ctx context.Context, tx *txiso.Tx) (string, error) {
		var l string
		err := tx.QueryRow(ctx, "SHOW transaction_isolation").Scan(&l)
		return l, err
	}, txiso.Serializable)
	if err != nil {
		return err
	}
	fmt.Printf("  txiso.Run(ctx, db, fn, txiso.Serializable): SHOW transaction_isolation -> %q\n", level)
	fmt.Println("    (BeginTx with sql.TxOptions: BEGIN ISOLATION LEVEL SERIALIZABLE, for this transaction only)")

	level, err = txiso.Value(ctx, db, func(ctx context.Context, tx *txiso.Tx) (string, error) {
		var l string
		err := tx.QueryRow(ctx, "SHOW transaction_isolation").Scan(&l)
		return l, err
	}, txiso.ReadUncommitted)
	if err != nil {
		return err
	}
	fmt.Print(wrap("  txiso.ReadUncommitted:", fmt.Sprintf("the server reports %q but runs it as read committed (see G1a below)", level)))
	fmt.Println()
	return nil
}

func matrix(ctx context.Context, db *sql.DB) error {
	fmt.Println("== 2. The anomaly matrix of this server (txiso.Matrix, Hermitage cases)")
	fmt.Println()
	start := time.Now()
	m, err := txiso.Matrix(ctx, db)
	if err != nil {
		return err
	}
	fmt.Print(wrap("  ", m.Server))
	fmt.Println()
	for _, line := range strings.Split(strings.TrimRight(m.String(), "\n"), "\n") {
		fmt.Println("  " + line)
	}
	fmt.Println()
	fmt.Println("  ANOMALY: the level lets it happen. Prevented by: snapshot (reads committed data or the")
	fmt.Println("  transaction's snapshot), blocked (waits for a lock, then proceeds), 40001 (serialization")
	fmt.Println("  failure: retry the transaction), 40P01 (deadlock victim); n/a: case not run at that level.")
	bad := m.Mismatches()
	fmt.Printf("  %d cells in %v; %d differ from Hermitage (github.com/ept/hermitage)\n", len(m.Cells), time.Since(start).Round(time.Millisecond), len(bad))
	for _, c := range bad {
		fmt.Print(wrap(fmt.Sprintf("    ! %s at %s:", c.Case, c.Level), fmt.Sprintf("%s %v", c.Outcome, c.Err)))
	}
	fmt.Println()
	return nil
}

const (
	accounts       = 10
	initialBalance = 1_000_000
	workers        = 16
	perWorker      = 60
)

type transfer struct {
	id            int64
	src, dst, amt int
}

func transfers(ctx context.Context, db *sql.DB) error {
	fmt.Printf("== 3. %d goroutines × %d transfers between %d accounts at Serializable\n", workers, perWorker, accounts)
	fmt.Println()
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	acct, ledger := "txiso_demo_accounts_"+suffix, "txiso_demo_ledger_"+suffix
	for _, q := range []string{
		"create table " + acct + " (id int primary key, balance bigint not null)",
		"create table " + ledger + " (id bigint primary key, src int not null, dst int not null, amount int not null)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "drop table if exists "+acct+", "+ledger)
	}()

	// apply is the transfer: read the source balance and what it sent so far
	// (a predicate read: SSI then fails some transactions only at COMMIT),
	// move the money, append to the ledger.
	apply := func(ctx context.Context, exec func(string, ...any) error, scan func(string, []any, ...any) error, tr transfer) error {
		var bal, sent int64
		if err := scan("select balance from "+acct+" where id = $1", []any{tr.src}, &bal); err != nil {
			return err
		}
		if err := scan("select coalesce(sum(amount), 0) from "+ledger+" where src = $1", []any{tr.src}, &sent); err != nil {
			return err
		}
		if err := exec("update "+acct+" set balance = balance - $1 where id = $2", tr.amt, tr.src); err != nil {
			return err
		}
		if err := exec("update "+acct+" set balance = balance + $1 where id = $2", tr.amt, tr.dst); err != nil {
			return err
		}
		return exec("insert into "+ledger+" values ($1, $2, $3, $4)", tr.id, tr.src, tr.dst, tr.amt)
	}

	var mu sync.Mutex
	attemptsHist := map[int]int{}
	retriesByCode := map[string]int{}
	viaRun := func(ctx context.Context, tr transfer) error {
		var attempts int
		err := txiso.Run(ctx, db, func(ctx context.Context, tx *txiso.Tx) error {
			attempts = tx.Attempt()
			return apply(ctx,
				func(q string, args ...any) error { _, err := tx.Exec(ctx, q, args...); return err },
				func(q string, args []any, dest ...any) error { return tx.QueryRow(ctx, q, args...).Scan(dest...) },
				tr)
		}, txiso.Serializable, txiso.MaxAttempts(50), txiso.OnRetry(func(r txiso.RetryInfo) {
			mu.Lock()
			retriesByCode[r.SQLState]++
			mu.Unlock()
		}))
		mu.Lock()
		attemptsHist[attempts]++
		mu.Unlock()
		return err
	}
	// ignoreCommit is the widely copied loop: it retries failed statements
	// but treats COMMIT as a formality, so a COMMIT-time 40001 is lost.
	ignoreCommit := func(ctx context.Context, tr transfer) error {
		var err error
		for range 50 {
			var tx *sql.Tx
			if tx, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable}); err != nil {
				return err
			}
			err = apply(ctx,
				func(q string, args ...any) error { _, err := tx.ExecContext(ctx, q, args...); return err },
				func(q string, args []any, dest ...any) error {
					return tx.QueryRowContext(ctx, q, args...).Scan(dest...)
				},
				tr)
			if err == nil {
				_ = tx.Commit() // the bug
				return nil
			}
			_ = tx.Rollback()
			if !txiso.IsRetryable(err) {
				return err
			}
			time.Sleep(time.Duration(mrand.IntN(5)) * time.Millisecond)
		}
		return err
	}

	for i, s := range []struct {
		name string
		do   func(context.Context, transfer) error
	}{
		{"txiso.Run(..., txiso.Serializable)", viaRun},
		{"a loop that ignores tx.Commit()'s error", ignoreCommit},
	} {
		if _, err := db.ExecContext(ctx, "truncate "+acct+", "+ledger); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "insert into "+acct+" select g, $1 from generate_series(1, $2) g", initialBalance, accounts); err != nil {
			return err
		}
		start := time.Now()
		committed, failed, err := workload(ctx, s.do, int64(i)*1_000_000)
		if err != nil {
			return err
		}
		lost, total, err := auditLedger(ctx, db, acct, ledger, committed)
		if err != nil {
			return err
		}
		fmt.Printf("  %s: %d reported committed, %d failed, in %v\n", s.name, len(committed), failed, time.Since(start).Round(time.Millisecond))
		fmt.Printf("    sum of balances %d (want %d); reported committed but missing from the ledger: %d\n", total, accounts*initialBalance, lost)
		if i == 0 {
			var codes []string
			for c, n := range retriesByCode {
				codes = append(codes, fmt.Sprintf("%s×%d", c, n))
			}
			sort.Strings(codes)
			var hist []string
			for a := 1; a <= 50; a++ {
				if n := attemptsHist[a]; n > 0 {
					hist = append(hist, fmt.Sprintf("%d:%d", a, n))
				}
			}
			fmt.Print(wrap("    retries by SQLSTATE:", strings.Join(codes, " ")))
			fmt.Print(wrap("    transfers by attempts needed (attempts:transfers):", strings.Join(hist, " ")))
			if lost != 0 || total != accounts*initialBalance {
				return fmt.Errorf("txiso.Run lost %d transfers", lost)
			}
		}
	}
	fmt.Println("  The sum of balances is right either way: only the ledger audit shows the lost transfers.")
	return nil
}

// workload runs workers × perWorker transfers through do and returns the
// ids do reported committed and the number it reported failed.
func workload(ctx context.Context, do func(context.Context, transfer) error, idBase int64) ([]int64, int, error) {
	var mu sync.Mutex
	var committed []int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() { // ends after perWorker transfers or when ctx is done
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(w), 7))
			for i := range perWorker {
				if ctx.Err() != nil {
					return
				}
				src := 1 + r.IntN(accounts)
				dst := 1 + r.IntN(accounts-1)
				if dst >= src {
					dst++
				}
				tr := transfer{id: idBase + int64(w*perWorker+i), src: src, dst: dst, amt: 1 + r.IntN(100)}
				if err := do(ctx, tr); err != nil {
					failed.Add(1)
					continue
				}
				mu.Lock()
				committed = append(committed, tr.id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return committed, int(failed.Load()), ctx.Err()
}

func auditLedger(ctx context.Context, db *sql.DB, acct, ledger string, committed []int64) (lost int, total int64, err error) {
	if err := db.QueryRowContext(ctx, "select sum(balance) from "+acct).Scan(&total); err != nil {
		return 0, 0, err
	}
	rows, err := db.QueryContext(ctx, "select id from "+ledger)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	in := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, 0, err
		}
		in[id] = true
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	for _, id := range committed {
		if !in[id] {
			lost++
		}
	}
	return lost, total, nil
}

// wrap returns prefix and text as lines of at most 100 columns (a word
// longer than that stands alone), continuation lines indented by four
// spaces, each ending in a newline.
func wrap(prefix string, text any) string {
	var b strings.Builder
	line := prefix
	for _, w := range strings.Fields(fmt.Sprint(text)) {
		switch {
		case strings.TrimSpace(line) == "": // only indentation so far
			line += w
		case len(line)+1+len(w) > 100:
			b.WriteString(line + "\n")
			line = "    " + w
		default:
			if !strings.HasSuffix(line, " ") {
				line += " "
			}
			line += w
		}
	}
	b.WriteString(line + "\n")
	return b.String()
}
