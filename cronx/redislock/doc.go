// Package redislock is a cronx.Coordinator on Redis: each (job, tick) is
// claimed by one replica, so a job scheduled on N replicas runs once per
// tick.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"}) // or a ClusterClient
//	coord, err := redislock.New(rdb, redislock.Config{})
//	s, err := cronx.New(cronx.Config{Location: time.UTC, Coordinator: coord})
//	err = s.Add("invoice-run", "*/5 * * * *", run, cronx.OncePerTick())
//
// How it works. A scheduled run first executes one Lua script (one round
// trip) on the job's keys, which share the cluster hash tag {job}:
//
//	cronx:{job}:tick:<unix>  "replica|fence|token"  SET NX PX ClaimTTL, never deleted
//	cronx:{job}:fence        last fence, tick, next tick, restart guard, replica (Coordinator.Last)
//	cronx:{job}:lease        running lease, only with cronx.NoClusterOverlap
//	cronx:{job}:runs         sorted set of the last Config.History run records (Coordinator.History)
//
// The claim is keyed by the tick, not by the job name, and it is not
// deleted when the run ends. A lock on the job name released at the end of
// the run (gocron's Locker, redsync-style mutexes) lets a replica whose
// clock is a few milliseconds behind take the lock again after a short run
// and run the same tick twice; the tests show that control failing. Here
// the claim's TTL only has to cover the clock skew between replicas
// (Config.SkewBudget), whatever the job's duration.
//
// Guarantees, with one Redis primary:
//   - At most once per tick across the cluster (a Redis failover with
//     asynchronous replication can lose a claim and allow one duplicate).
//   - Every tick runs while at least one replica is alive and reaches Redis:
//     the first replica to fire claims it. If that replica crashes during
//     the run, the tick is not retried elsewhere (use cronx/asynqx for
//     at-least-once).
//   - Redis unreachable: fail-closed by default (the tick is skipped and
//     reported as cronx.SkipCoordinatorError); Config.FailOpen runs it
//     without a claim instead.
//   - Fencing: RunInfo.Fence strictly increases per job, in the order the
//     claims were won. The fence is at least the tick's Unix time in
//     microseconds (and one more than the previous fence when that is
//     higher), so it keeps increasing even when Redis loses the counter. A
//     lease cannot stop a paused process from writing after it lost the
//     lease; a store that must reject stale writers compares the fence
//     (UPDATE ... WHERE fence < $1; the fence fits a PostgreSQL bigint).
//   - With cronx.NoClusterOverlap, the run also holds a lease renewed every
//     RenewEvery; a tick that finds it held is consumed and skipped
//     (cronx.SkipClusterBusy) on every replica. If renewal fails so long
//     that the lease could expire before the next attempt (counted from
//     when the last good renewal was sent), the run's context is cancelled
//     with cause cronx.ErrLeaseLost, before another replica can take the
//     lease; if the lease is
//     found gone only when the run ends (the process was frozen, say by
//     SIGSTOP or a paused VM, past LeaseTTL), the run is reported as failed
//     with cronx.ErrLeaseLost although it returned nil.
//
// Restarts. With appendonly yes and appendfsync always, a Redis restart
// keeps every claim. Without persistence (or after a FLUSHDB) the claims are
// gone, and a replica whose clock is behind could claim a tick that
// another replica ran just before the crash. redislock detects the loss:
// on a server without an append-only file, the job's state key is missing
// and the server started less than SkewBudget before the tick (INFO
// uptime). It then refuses every claim of a tick up to SkewBudget after
// the server's start (the error wraps ErrDataLoss and cronx reports
// cronx.SkipCoordinatorError), so the ticks of that window are skipped,
// never run twice. The same rule makes a fresh Redis without appendonly
// skip the first SkewBudget of ticks. With appendfsync everysec, a crash
// can lose the last second of claims without losing the job's state: use
// appendfsync always where a duplicate matters. The first claim of each
// Coordinator checks the server's persistence and logs a warning when
// appendonly is off. A failover to an asynchronous replica that lost
// writes is not detected (its uptime is long): it can allow one duplicate
// per lost claim.
//
// History. The replica that ran a tick records the run (tick, replica,
// fence, start, duration, outcome: ok, error text, panic value, lease lost
// or skip reason) when it releases the claim, in the same round trip as
// the lease release; a tick skipped as cluster-busy is recorded by its
// claim. History(ctx, job, n) reads the records newest first, and Jobs
// lists every job under the prefix with its last claim, next tick, last
// run and last failure, for dashboards and command-line tools.
//
// Lost replies. go-redis sends a command again when the connection broke
// before its reply came (Options.MaxRetries), so a claim or release may run
// twice on the server. Each claim carries a token of its own: the second
// run of a claim that won returns that claim (never "claimed by another
// replica", which would leave the tick run by nobody), and the second run
// of a release finds its own history record and answers as the first did
// (never a false cronx.ErrLeaseLost). A claim of an older tick (a catch-up
// run, a late replica) bumps the fence but never moves Last back.
//
// Cost: one round trip per tick per replica, plus one (the release and
// history record) for the replica that ran it, and the renewals with
// NoClusterOverlap; one small key per tick per job living ClaimTTL, and
// Config.History records per job.
package redislock
