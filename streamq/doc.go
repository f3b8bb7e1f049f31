// Package streamq is a typed work queue and pub/sub topic on one Redis
// stream, for any redis.UniversalClient (single node or Redis Cluster).
//
// A Queue[T] is the producer and builds the consumers:
//
//	q, err := streamq.New[Order](rdb, "orders", streamq.Config{})
//	id, err := q.Add(ctx, Order{ID: 42})               // one XADD
//	ids, err := q.AddBatch(ctx, orders)                // one pipelined round trip
//	err = q.ProcessIn(ctx, Order{ID: 43}, time.Minute) // delayed delivery
//
//	c, err := q.NewConsumer("billing", func(ctx context.Context, m streamq.Msg[Order]) error {
//		return charge(ctx, m.Value) // nil acks; an error retries with backoff
//	}, streamq.ConsumerConfig{})
//	err = c.Run(ctx) // blocks; returns nil after a graceful shutdown when ctx ends
//
// Delivery is at least once. A message is acknowledged only after its
// handler returned nil; acks are batched and pipelined with the next read
// (XREADGROUP COUNT 100), so a busy consumer costs Redis a few hundredths of
// a command per message. A failed delivery is acknowledged and rescheduled
// atomically (Lua) in the group's retry sorted set, with Backoff; after
// MaxDeliveries it moves, atomically, to the group's dead-letter stream with
// its last error and attempt count (DeadLetters, RequeueDeadLetters,
// DeleteDeadLetters). Undecodable payloads and handlers returning
// ErrSkipRetry go there at once; a panic is recovered and retried. Attempts
// count Redis's own delivery counter, so deliveries to consumers that died
// count too: a poison message cannot loop forever.
//
// Consumers heartbeat. The pending messages of a consumer without a
// heartbeat for DeadAfter (default 5s) are taken over by its peers; a live
// consumer's only after VisibilityTimeout (default 30s, XAUTOCLAIM), which a
// long handler extends with Msg.Extend. Pending entries whose message was
// trimmed are dropped, and empty dead consumers are deleted from the group.
//
// Fan-out: every consumer group of a queue gets every message (one group
// per service); consumers of one group share the work. A Subscriber reads
// without a group from "$": each one sees every message added while it
// runs, nothing is acknowledged or retried.
//
// Run shuts down gracefully when its ctx ends: it stops reading, lets
// running handlers finish for ShutdownTimeout, hands messages read but not
// started back to the group, flushes acks and leaves the group if it holds
// nothing; handlers that ignore their context are abandoned a second after
// ShutdownTimeout (Run returns an error saying how many). Redis errors (a
// restart, a failover) are reported through Hooks.OnError and the Logger
// (slog.Default() unless Config.Logger is set) and retried; they never end
// Run, but a client closed under it does. The client passed to New is never
// closed. A command that never reached Redis (server down, ctx done) is an
// error, never an empty success: AddBatch reports each item it could not
// write, and a consumer keeps an ack flush that did not go out and sends it
// again.
//
// Consumers trim the stream every TrimInterval, removing only entries
// every group has acknowledged; Config.MaxLen adds a hard cap whose
// unacknowledged losses are counted (Stats.Dropped, Hooks.OnDrop). Stats
// reports length, per-group lag, pending, oldest pending age, retries, dead
// letters and consumers.
//
// Priorities: with Config.Priorities n, the Priority(level) option sends a
// message to one of n levels (each a stream under the queue's hash tag),
// and a consumer reads them weighted (default: level l gets l+1 shares,
// none starves) or strictly (ConsumerConfig.StrictPriority), asynq's two
// modes. Retries and delayed messages stay in their level; Queue.Level(l) gives one
// level's queue for Stats, DeadLetters, Peek and Subscriber.
//
// Aggregation (asynq's task groups): with Config.Aggregation set, the
// Aggregate(key) option collects messages per key under the queue's hash
// tag until the group is full (MaxSize), quiet (GracePeriod) or old
// (MaxDelay); then its messages reach consumers as one entry, one
// AggregateHandler call (NewAggregateConsumer), acknowledged, retried and
// dead-lettered as a whole.
//
// # Durability
//
// An Add that returned nil is in the master's memory; what it survives is
// the server's choice (redis.io/docs/latest/operate/oss_and_stack/management/persistence):
//
//   - appendonly no: nothing. A restart, crash or kill loses every message
//     not yet handled. Consumers warn at start (CheckDurability).
//   - appendonly yes, appendfsync everysec (Redis's default with AOF): a
//     restart; a crash of the host loses up to about a second of Adds.
//   - appendonly yes, appendfsync always: a crash too (each write is
//     fsynced before Redis replies).
//   - replicas: replication is asynchronous, so a failover can lose the
//     latest Adds. Config.WaitReplicas makes each write wait (WAIT) until
//     that many replicas have it, and Config.WaitAOF (WAITAOF, Redis 7.2+)
//     until it is fsynced; a wait that falls short returns the ID with an
//     error wrapping ErrNotDurable.
//
// # Faults
//
// A consumer whose read reply was lost (a killed connection, a server
// killed after it ran the read) finds the entries pending under its name
// that it never received within about half a second and runs them (Hooks.OnStranded,
// GroupStats.Stranded). A peer is declared dead only by a consumer whose
// own heartbeats went through promptly for DeadAfter: a CLIENT PAUSE, a
// restart or any outage every consumer sees, however long, never makes a
// live consumer look dead; a consumer cut off alone is taken over after
// DeadAfter. An acknowledgement that finds its message taken over (it ran
// twice) is counted (Hooks.OnDuplicate, GroupStats.Duplicates).
//
// On Redis Cluster, errors that suggest a failover (refused connections,
// MOVED, CLUSTERDOWN, READONLY) make streamq ask the go-redis cluster client
// to reload its slot map, at most every 250 ms, so a promoted replica is
// used within about a second of its promotion instead of at go-redis's
// next periodic reload. Keep the client's MaxRetries (default 3) and
// dial timeouts short, so a dead master's connections fail fast.
//
// All keys of a queue share the hash tag {name} and every script declares
// its keys, so everything works unchanged on Redis Cluster. Redis 7.0 or
// newer is required.
package streamq
