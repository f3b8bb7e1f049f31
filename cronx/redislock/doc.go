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
//	cronx:{job}:tick:<unix>  "replica|fence"  SET NX PX ClaimTTL, never deleted
//	cronx:{job}:fence        INCR on every won claim (the fencing token)
//	cronx:{job}:lease        running lease, only with cronx.NoClusterOverlap
//	cronx:{job}:last         hash: tick, replica, fence of the last claim (Coordinator.Last)
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
//   - Fencing: RunInfo.Fence strictly increases per job. A lease cannot
//     stop a paused process from writing after it lost the lease; a store
//     that must reject stale writers compares the fence
//     (UPDATE ... WHERE fence < $1).
//   - With cronx.NoClusterOverlap, the run also holds a lease renewed every
//     RenewEvery; a tick that finds it held is consumed and skipped
//     (cronx.SkipClusterBusy) on every replica. If renewal fails, the run's
//     context is cancelled with cause cronx.ErrLeaseLost.
//
// Cost: one round trip per tick per replica (plus one release and the
// renewals with NoClusterOverlap), and one small key per tick per job
// living ClaimTTL.
package redislock
