// Package pgxtx is txiso for pgx's native API: Run and Value run a
// transaction on a *pgxpool.Pool, a *pgx.Conn, a *pgxpool.Conn or inside a
// pgx.Tx, with txiso's options, retries and guarantees.
//
//	err := pgxtx.Run(ctx, pool, func(ctx context.Context, tx *pgxtx.Tx) error {
//		_, err := tx.Exec(ctx, "update accounts set balance = balance - $1 where id = $2", 10, 1)
//		return err
//	}, txiso.Serializable)
//
// Everything txiso.Run documents holds: the level, READ ONLY and
// DEFERRABLE are part of BEGIN (pgx.TxOptions); 40001 and 40P01 are
// retried from a fresh BEGIN with txiso's backoff, including a 40001 that
// only COMMIT reports and a failed statement whose error fn swallowed;
// a connection lost during COMMIT gives txiso.ErrCommitUnknown; a panic in
// fn rolls back and re-panics; a Run inside fn on the ctx fn was given
// joins the outer transaction; Savepoint passes 40001/40P01 up. The errors
// are txiso's (txiso.ErrInvalid, txiso.RetryError, ...), and the options are
// txiso.Option values.
//
// pgx tells more than database/sql does, and pgxtx uses it: before COMMIT
// it reads the connection's transaction status (no round trip), so a
// failure fn swallowed, even one on Raw, is known to have rolled the
// transaction back; COMMIT is then not sent. A COMMIT that pgx reports as
// not sent (pgconn.SafeToRetry) is known not to have committed. Run refuses
// a *pgx.Conn that is already in a transaction, however it was begun
// (txiso.ErrInTransaction), and transaction-control statements sent through
// Tx (txiso.ErrTxControl).
//
// Run on a pgx.Tx does not begin a transaction: fn runs inside the
// caller's, in a savepoint (pgx's own nesting), and is not retried, since
// a retry inside a transaction cannot cure a 40001; the error goes to
// whoever owns the transaction.
//
// *Tx has Exec, Query, QueryRow, CopyFrom and SendBatch with pgx's
// signatures, so it satisfies the DBTX interface sqlc generates for pgx/v5,
// and every failure read through them is recorded.
//
// Matrix runs txiso's anomaly matrix over a pgxpool.Pool.
//
// pgxtx is a package of the txiso module rather than a module of its own:
// txiso's module already requires pgx (its tests run against both
// drivers), so a separate module would spare no user a dependency. It
// imports pgx, pgxpool and (for Matrix) pgx's stdlib package, which
// registers the "pgx/v5" database/sql driver name on import, and "pgx" if
// no other driver has it, as importing pgx's stdlib always does. It uses
// only APIs present in pgx v5.5.5.
package pgxtx
