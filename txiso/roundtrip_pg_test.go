package txiso_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"testing"

	"github.com/lib/pq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/txiso"
)

// callLog records what database/sql asks the real driver to do: each entry
// is one round trip to the server for lib/pq and pgx (BEGIN with its
// options is one statement, an Exec or Query is one, COMMIT is one).
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(format string, args ...any) {
	l.mu.Lock()
	l.calls = append(l.calls, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// take returns the calls so far and starts a new log.
func (l *callLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

// countingConnector wraps a driver's connector and logs every call that
// can reach the server. It passes through the optional interfaces the
// drivers implement, so database/sql takes the same paths as without it.
type countingConnector struct {
	driver.Connector
	log *callLog
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, log: c.log}, nil
}

type countingConn struct {
	driver.Conn
	log *callLog
}

func (c *countingConn) Prepare(q string) (driver.Stmt, error) {
	c.log.add("prepare %s", q)
	return c.Conn.Prepare(q)
}

func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	c.log.add("prepare %s", q)
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, q)
	}
	return c.Conn.Prepare(q)
}

func (c *countingConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	c.log.add("begin level=%d read-only=%t", o.Isolation, o.ReadOnly)
	b, ok := c.Conn.(driver.ConnBeginTx)
	if !ok {
		return nil, fmt.Errorf("counting: driver %T has no BeginTx", c.Conn)
	}
	tx, err := b.BeginTx(ctx, o)
	if err != nil {
		return nil, err
	}
	return countingTx{tx: tx, log: c.log}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.log.add("exec %s", q)
	return e.ExecContext(ctx, q, args)
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.log.add("query %s", q)
	return qc.QueryContext(ctx, q, args)
}

func (c *countingConn) Ping(ctx context.Context) error {
	c.log.add("ping")
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type countingTx struct {
	tx  driver.Tx
	log *callLog
}

func (t countingTx) Commit() error   { t.log.add("commit"); return t.tx.Commit() }
func (t countingTx) Rollback() error { t.log.add("rollback"); return t.tx.Rollback() }

// countingDB opens a database with the named driver whose calls are logged.
func countingDB(t testing.TB, driverName string) (*sql.DB, *callLog) {
	t.Helper()
	plain, env := pgDB(t, driverName)
	var conn driver.Connector
	var err error
	if dc, ok := plain.Driver().(driver.DriverContext); ok { // pgx
		conn, err = dc.OpenConnector(env.DSN)
	} else { // lib/pq's Driver has no OpenConnector
		conn, err = pq.NewConnector(env.DSN)
	}
	require.NoError(t, err)
	log := &callLog{}
	db := sql.OpenDB(countingConnector{Connector: conn, log: log})
	t.Cleanup(func() { db.Close() })
	return db, log
}

// TestPGRunSendsNoExtraStatement pins the cost model BenchmarkUpdate relies
// on: by default Run sends exactly what a hand-written BeginTx/Exec/Commit
// sends (BEGIN with the options, fn's statements, COMMIT), with no SET,
// SHOW, SAVEPOINT or Ping; Deferrable and VerifyLevel add only the
// statements their docs announce.
func TestPGRunSendsNoExtraStatement(t *testing.T) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db, log := countingDB(t, d)
			ctx := context.Background()
			exec(t, db, "create table t (id int primary key, v bigint not null)")
			exec(t, db, "insert into t values (1, 0)")
			const q = "update t set v = v + 1 where id = 1"
			handWritten := func(opts *sql.TxOptions) []string {
				log.take()
				tx, err := db.BeginTx(ctx, opts)
				require.NoError(t, err)
				_, err = tx.ExecContext(ctx, q)
				require.NoError(t, err)
				require.NoError(t, tx.Commit())
				return log.take()
			}
			viaRunQ := func(q string, opts ...txiso.Option) []string {
				log.take()
				require.NoError(t, txiso.Run(ctx, db, func(ctx context.Context, tx *txiso.Tx) error {
					_, err := tx.Exec(ctx, q)
					return err
				}, opts...))
				return log.take()
			}
			viaRun := func(opts ...txiso.Option) []string { return viaRunQ(q, opts...) }

			want := handWritten(nil)
			require.Equal(t, []string{"begin level=0 read-only=false", "exec " + q, "commit"}, want, "the hand-written baseline")
			assert.Equal(t, want, viaRun(), "default Run: the server's default level")
			assert.Equal(t, handWritten(&sql.TxOptions{Isolation: sql.LevelReadCommitted}), viaRun(txiso.ReadCommitted), "ReadCommitted")
			assert.Equal(t, handWritten(&sql.TxOptions{Isolation: sql.LevelSerializable}), viaRun(txiso.Serializable), "Serializable")

			const sel = "select v from t where id = 1"
			got := viaRunQ(sel, txiso.Serializable, txiso.ReadOnly(), txiso.Deferrable())
			assert.Equal(t, []string{"begin level=6 read-only=true", "exec SET TRANSACTION DEFERRABLE", "exec " + sel, "commit"}, got, "Deferrable adds one statement")

			got = viaRun(txiso.ReadCommitted, txiso.VerifyLevel())
			assert.Equal(t, []string{"begin level=2 read-only=false", "query SHOW transaction_isolation",
				"query SHOW transaction_read_only", "exec " + q, "commit"}, got, "VerifyLevel adds two")
		})
	}
}
