// Package txiso runs PostgreSQL transactions through database/sql at the
// isolation level you asked for, retries them correctly, and shows live
// which anomalies each level lets through.
//
// # Run a transaction
//
//	err := txiso.Run(ctx, db, func(ctx context.Context, tx *txiso.Tx) error {
//		_, err := tx.Exec(ctx, "update accounts set balance = balance - $1 where id = $2", 10, 1)
//		return err
//	}, txiso.Serializable)
//
// Value[T] does the same for a transaction that computes a result. db is a
// *sql.DB or a *sql.Conn (any Beginner); the caller owns it. Both lib/pq and
// pgx's stdlib driver work; txiso imports neither (errors are classified by
// their SQLState() method). *Tx has ExecContext, QueryContext,
// QueryRowContext and PrepareContext, so sqlc-generated code (its DBTX
// interface) runs on it. For pgx's native API (pgxpool.Pool, *pgx.Conn,
// pgx.Tx) use the sub-package txiso/pgxtx, which has the same Run and Value.
//
// # The level really is applied
//
// Every attempt begins with db.BeginTx and sql.TxOptions, so the level,
// READ ONLY and (as the first statement) SET TRANSACTION DEFERRABLE belong
// to that transaction. The common pattern db.Exec("SET TRANSACTION ISOLATION
// LEVEL ...") followed by db.Begin() is a silent no-op: outside a
// transaction block the server only sends a warning that drivers drop, and
// the next transaction runs at read committed. Without a level, Run names
// none in BEGIN, so the server's configured default applies (ServerDefault).
// ReadUncommitted is accepted
// but PostgreSQL runs it as ReadCommitted. Deferrable needs Serializable and
// ReadOnly. Invalid options (and nil ctx, db or fn) fail with
// ErrInvalid before anything is sent.
//
// # Retries
//
// Serialization failures (SQLSTATE 40001) and deadlocks (40P01) are retried
// by default, up to MaxAttempts (10) with capped full-jitter backoff that
// ends early when ctx is done. A retry reruns fn in a new transaction from a
// fresh BeginTx (a new snapshot: rolling back to a savepoint cannot cure a
// 40001 in PostgreSQL), after the failed attempt was rolled back. The COMMIT
// error is classified too (SSI often fails there), and so is a failed
// statement whose error fn swallowed: Tx records it. A connection lost
// during COMMIT leaves the outcome unknown: ErrCommitUnknown, not retried
// (unless a statement of the attempt had already failed: then PostgreSQL
// cannot have committed, and that failure is classified).
// When Run gives up, the *RetryError it returns unwraps to the driver's
// error (SQLState works on it) and, if ctx ended the retries, to ctx.Err().
// Classify, RetryCodes, Backoff and OnRetry change the policy.
//
// If fn panics, Run rolls back and re-panics with the same value; no
// connection is leaked on any path. txiso never recovers a panic into an
// error (so it has no PanicError): a panic in fn is the caller's, exactly as
// with pgx.BeginTxFunc, and the caller's own recover sees the original value.
//
// # Savepoints and nesting
//
// Tx.Savepoint runs a function inside a savepoint with a generated name and
// rolls back to it on error, except for 40001 and 40P01, which are passed
// up so the whole transaction is retried. A Run inside fn (on the ctx fn
// was given, on the same db) joins the outer transaction; the outer Run
// owns commit and retries. FromContext finds the running Tx. A second Run
// on a *sql.Conn that is already in one (through another ctx) fails with
// ErrInTransaction, and COMMIT, ROLLBACK, BEGIN and the other
// transaction-control statements sent through Tx fail with ErrTxControl:
// either would let Run report an outcome that is not the server's.
//
// # The anomaly matrix
//
// Matrix runs the Hermitage test cases (dirty reads, lost updates, read and
// write skew, phantoms, deadlock, DEFERRABLE, ...) live on the server at
// every level and reports, per case and level, whether the anomaly occurred
// or how it was prevented: by the snapshot, by blocking, or by a 40001. It
// works as an ordinary role; MatrixResult prints as a table.
package txiso
