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
// nothing. Redis errors (a restart, a failover) are reported through
// Hooks.OnError and the Logger and retried; they never end Run. The client
// passed to New is never closed.
//
// Consumers trim the stream every TrimInterval, removing only entries
// every group has acknowledged; Config.MaxLen adds a hard cap whose
// unacknowledged losses are counted (Stats.Dropped, Hooks.OnDrop). Stats
// reports length, per-group lag, pending, oldest pending age, retries, dead
// letters and consumers.
//
// All keys of a queue share the hash tag {name} and every script declares
// its keys, so everything works unchanged on Redis Cluster. Redis 7.0 or
// newer is required.
package streamq
