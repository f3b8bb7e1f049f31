package streamq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors. Callers branch on them with errors.Is; the returned errors
// wrap them with the detail that was wrong.
var (
	// ErrInvalid is wrapped by every error about bad input: a nil client or
	// handler, a malformed queue, group or consumer name, an out-of-range
	// Config, ConsumerConfig or SubscriberConfig field, or a bad argument or
	// Option of a call. The error's text names the field and the fix.
	// Nothing was sent to Redis.
	ErrInvalid = errors.New("streamq: invalid input")
	// ErrPayloadTooLarge is returned by Add and friends when the encoded
	// message exceeds Config.MaxPayloadBytes (nothing is written), and is the
	// dead-letter reason of an oversize entry a consumer read (written
	// around the producer). It matches ErrInvalid too.
	ErrPayloadTooLarge error = &narrow{"streamq: payload too large", ErrInvalid}
	// ErrEncode wraps a codec failure while encoding a value. Nothing is
	// written.
	ErrEncode = errors.New("streamq: encode")
	// ErrDecode wraps a codec failure while decoding a message. Such a
	// message goes to the dead-letter stream at once.
	ErrDecode = errors.New("streamq: decode")
	// ErrDeadline is the dead-letter reason of a message whose Deadline
	// passed before a delivery started: it is never handled late.
	ErrDeadline = errors.New("streamq: deadline passed")
	// ErrSkipRetry can be returned (or wrapped) by a handler to send the
	// message to the dead-letter stream at once, without further retries.
	ErrSkipRetry = errors.New("streamq: skip retry")
	// ErrAlreadyRunning is returned by Run when the consumer or subscriber is
	// already running.
	ErrAlreadyRunning = errors.New("streamq: already running")
	// ErrNotOwner is returned by Msg.Extend when the message is no longer
	// pending for this consumer (it was acknowledged, or reclaimed by another
	// consumer after the visibility timeout).
	ErrNotOwner = errors.New("streamq: message no longer owned by this consumer")
	// ErrNameInUse is returned by Run when a live consumer of the group
	// (one that keeps heartbeating) already uses ConsumerConfig.Name.
	ErrNameInUse = errors.New("streamq: consumer name in use")
	// ErrNoGroup is returned by GroupStats, DeadLetters, RequeueDeadLetters,
	// DeleteDeadLetters, Pause and Resume for a group that does not exist on
	// the queue's stream (a misspelled name; create it with CreateGroup or by
	// running a consumer), and by Msg.Extend on a message delivered to a
	// group-less Subscriber, which has nothing to extend.
	ErrNoGroup = errors.New("streamq: no such consumer group")
)

// narrow is a sentinel that also matches a wider one (errors.Is).
type narrow struct {
	msg  string
	wide error
}

func (e *narrow) Error() string        { return e.msg }
func (e *narrow) Is(target error) bool { return target == e.wide }

// Codec turns values into message payloads and back. It has the shape of
// encoding/json, which is the default (JSONCodec). Implementations must be
// safe for concurrent use.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec is the default Codec: encoding/json.
type JSONCodec struct{}

// Marshal implements Codec with json.Marshal.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements Codec with json.Unmarshal.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Config holds the optional settings of a Queue. The zero value is valid;
// each zero field means the documented default.
type Config struct {
	// KeyPrefix starts every Redis key of the queue. Default "streamq:".
	// Keys are KeyPrefix + "{" + name + "}" (the stream) and that followed by
	// ":delayed", ":dropped", ":dedup:<key>" and
	// ":g:<group>:retry|rs|dead|hb|paused|n".
	// The braces are a Redis Cluster hash tag: all keys of one queue live on
	// one slot, so every Lua script is cluster-safe.
	KeyPrefix string
	// Codec encodes and decodes values. Default JSONCodec.
	Codec Codec
	// MaxPayloadBytes bounds an encoded message. Default 1 MiB; at most
	// 512 MiB (Redis's own limit).
	MaxPayloadBytes int
	// MaxLen is an optional hard cap on the stream length, applied by Trim
	// after the ack-aware trim. Entries it removes were not yet acknowledged
	// by every group: they are counted in Stats.Dropped and reported to
	// Hooks.OnDrop. Zero means no cap (only acknowledged entries are ever
	// trimmed).
	MaxLen int64
	// DeadLetterMaxLen caps each group's dead-letter stream (approximate,
	// oldest first). Zero means unlimited: dead letters stay until deleted.
	DeadLetterMaxLen int64
	// Logger receives background errors and warnings (consumers and
	// subscribers log through it, besides calling their hooks). Nil means
	// slog.Default(), as net/http.Server falls back to log.Default();
	// slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
	// Aggregation sets when aggregation groups (the Aggregate option) are
	// flushed. The zero value turns aggregation off: Aggregate then fails
	// with ErrInvalid, and consumers do not look for due groups.
	Aggregation AggregateConfig
	// Priorities is the number of priority levels (the Priority option),
	// 0 or 1 for none, at most 16. Each level is a stream of its own under
	// the queue's hash tag; see Priority and ConsumerConfig.StrictPriority.
	Priorities int
	// WaitReplicas makes every write of a message (Add, AddBatch,
	// AddUnique, ProcessAt, ProcessIn) wait, on the same connection, until
	// that many replicas acknowledged it (WAIT), for at most WaitTimeout.
	// Fewer in time: the call returns the ID with an error wrapping
	// ErrNotDurable (the message is stored on the master). Default 0: no
	// wait. See the package documentation's Durability section.
	WaitReplicas int
	// WaitAOF makes those writes wait, with WAITAOF (Redis 7.2+), until the
	// master (and WaitReplicas replicas) fsynced them to the AOF. It needs
	// appendonly yes. On a server without WAITAOF, detected once, it logs a
	// warning and uses WAIT alone.
	WaitAOF bool
	// WaitTimeout bounds WaitReplicas and WaitAOF. Default 1s.
	WaitTimeout time.Duration
	// Clock returns the current time; due times of delayed messages and
	// retries and heartbeats use it. Default time.Now.
	Clock func() time.Time
}

const (
	defaultKeyPrefix  = "streamq:"
	defaultMaxPayload = 1 << 20
	maxPayloadLimit   = 512 << 20
	maxNameLen        = 200
)

// Queue is one Redis stream used as a typed work queue (consumer groups) and
// pub/sub topic (several groups, or group-less subscribers). It is the
// producer (Add, AddBatch, ProcessAt, ProcessIn, AddUnique) and builds the
// consumers. A Queue holds no goroutines and no connections of its own; it is
// safe for concurrent use and never closes the client it was given.
type Queue[T any] struct {
	client     redis.UniversalClient
	name       string
	codec      Codec
	maxPayload int
	maxLen     int64
	deadMaxLen int64
	log        *slog.Logger
	now        func() time.Time

	stream  string // the stream key, also the hash-tagged base of every key
	delayed string
	dropped string

	waitReplicas int
	waitAOF      bool
	waitTimeout  time.Duration
	wait         waitState
	reloaded     atomic.Int64 // unix ms of the last slot-map reload asked for
	aofWarned    atomic.Bool  // a consumer reported appendonly no (once per Queue)

	levels []*Queue[T]     // priority levels, levels[0] is this queue; nil without
	agg    AggregateConfig // resolved; MaxSize 0: aggregation off
}

// New returns the Queue called name on client. name must be 1-200 printable
// characters without spaces or braces (braces would break the hash tag).
// New does no I/O: the stream is created by the first Add or consumer.
func New[T any](client redis.UniversalClient, name string, cfg Config) (*Queue[T], error) {
	if client == nil {
		return nil, fmt.Errorf("%w: New(nil, %q): pass a *redis.Client or *redis.ClusterClient", ErrInvalid, name)
	}
	if err := validName("queue", name); err != nil {
		return nil, err
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = defaultKeyPrefix
	} else if strings.ContainsAny(cfg.KeyPrefix, "{}") {
		return nil, fmt.Errorf("%w: KeyPrefix %q contains a brace; the queue name is the only hash tag", ErrInvalid, cfg.KeyPrefix)
	}
	if cfg.Codec == nil {
		cfg.Codec = JSONCodec{}
	}
	switch {
	case cfg.MaxPayloadBytes < 0 || cfg.MaxPayloadBytes > maxPayloadLimit:
		return nil, fmt.Errorf("%w: MaxPayloadBytes %d must be between 0 (default 1 MiB) and %d", ErrInvalid, cfg.MaxPayloadBytes, maxPayloadLimit)
	case cfg.MaxPayloadBytes == 0:
		cfg.MaxPayloadBytes = defaultMaxPayload
	}
	if cfg.MaxLen < 0 {
		return nil, fmt.Errorf("%w: MaxLen %d is negative (0 means no cap)", ErrInvalid, cfg.MaxLen)
	}
	if cfg.DeadLetterMaxLen < 0 {
		return nil, fmt.Errorf("%w: DeadLetterMaxLen %d is negative (0 means unlimited)", ErrInvalid, cfg.DeadLetterMaxLen)
	}
	agg, err := resolveAggregate(cfg.Aggregation)
	if err != nil {
		return nil, err
	}
	if cfg.Priorities < 0 || cfg.Priorities > maxPriorities {
		return nil, fmt.Errorf("%w: Priorities %d must be between 0 (none) and %d", ErrInvalid, cfg.Priorities, maxPriorities)
	}
	switch {
	case cfg.WaitReplicas < 0:
		return nil, fmt.Errorf("%w: WaitReplicas %d is negative (0 means no wait)", ErrInvalid, cfg.WaitReplicas)
	case cfg.WaitTimeout < 0:
		return nil, fmt.Errorf("%w: WaitTimeout %v is negative (0 means 1s)", ErrInvalid, cfg.WaitTimeout)
	case cfg.WaitTimeout == 0:
		cfg.WaitTimeout = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	stream := cfg.KeyPrefix + "{" + name + "}"
	q := &Queue[T]{
		client:     client,
		name:       name,
		codec:      cfg.Codec,
		maxPayload: cfg.MaxPayloadBytes,
		maxLen:     cfg.MaxLen,
		deadMaxLen: cfg.DeadLetterMaxLen,
		log:        cfg.Logger,
		now:        cfg.Clock,
		stream:     stream,
		delayed:    stream + ":delayed",
		dropped:    stream + ":dropped",

		waitReplicas: cfg.WaitReplicas,
		waitAOF:      cfg.WaitAOF,
		waitTimeout:  cfg.WaitTimeout,
		agg:          agg,
	}
	if cfg.Priorities > 1 {
		q.newLevels(cfg.Priorities)
	}
	return q, nil
}

// Name returns the queue name given to New.
func (q *Queue[T]) Name() string { return q.name }

// StreamKey returns the Redis key of the stream, for tools and raw access.
func (q *Queue[T]) StreamKey() string { return q.stream }

// groupKeys are the per-group keys, all on the queue's hash slot.
type groupKeys struct {
	retry string // ZSET of retry envelopes, score = due ms
	rs    string // stream of due retries, read by this group only
	dead  string // dead-letter stream
	hb    string // ZSET consumer -> last heartbeat ms
	pause string // present while the group is paused: unix ms of Pause
	ctr   string // HASH of event counters (stranded, duplicate)
}

func (q *Queue[T]) keys(group string) groupKeys {
	base := q.stream + ":g:" + group
	return groupKeys{retry: base + ":retry", rs: base + ":rs", dead: base + ":dead", hb: base + ":hb",
		pause: base + ":paused", ctr: base + ":n"}
}

// validName checks queue, group and consumer names.
func validName(kind, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s name", ErrInvalid, kind)
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("%w: %s name is %d bytes, at most %d", ErrInvalid, kind, len(s), maxNameLen)
	}
	for _, r := range s {
		if r == '{' || r == '}' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%w: %s name %q contains %q; use printable characters without spaces or braces", ErrInvalid, kind, s, r)
		}
	}
	return nil
}

// encode marshals v and enforces the payload limit (payload plus
// metadata).
func (q *Queue[T]) encode(v T, meta string) (string, error) {
	b, err := q.codec.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrEncode, err)
	}
	if len(b)+len(meta) > q.maxPayload {
		return "", fmt.Errorf("%w: %d bytes, limit %d (Config.MaxPayloadBytes)", ErrPayloadTooLarge, len(b)+len(meta), q.maxPayload)
	}
	return string(b), nil
}

// metaField is the stream entry field holding the encoded metadata
// (headers, deadline, timeout), present only when there is some.
const metaField = "h"

// fields are the stream entry's fields for a payload and its metadata.
func fields(payload, meta string) []string {
	if meta == "" {
		return []string{payloadField, payload}
	}
	return []string{payloadField, payload, metaField, meta}
}

// payloadField is the stream entry field holding the encoded value.
const payloadField = "d"

// errNoPayload is the decode error of an entry without the payload field
// (written by something other than streamq).
func errNoPayload(id string) error {
	return fmt.Errorf("%w: entry %s has no %q (payload) field; was it written by streamq?", ErrDecode, id, payloadField)
}

// decode unmarshals a payload into a T.
func (q *Queue[T]) decode(payload string) (T, error) {
	var v T
	if err := q.codec.Unmarshal([]byte(payload), &v); err != nil {
		return v, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	return v, nil
}

// idTime returns the creation time encoded in a stream entry ID.
func idTime(id string) time.Time {
	ms, _, ok := strings.Cut(id, "-")
	if !ok {
		return time.Time{}
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// execPipe sends pipe and leaves every command holding its own outcome, so
// callers read per-command results. go-redis returns from Exec without
// touching the commands when it never got a connection (the server is down,
// ctx was already done, the pool timed out, a hook refused): their Err()
// stays nil and their values zero, which would read as success — an XADD
// with ID "", an XACK that found nothing pending, an empty queue. Such
// commands get Exec's error here. A pipeline that reached the server leaves
// an error on at least one command whenever Exec returns one, so commands
// that did run keep their replies.
func execPipe(ctx context.Context, pipe redis.Pipeliner) error {
	cmds, err := pipe.Exec(ctx)
	if err == nil {
		return nil
	}
	for _, c := range cmds {
		if c.Err() != nil {
			return err
		}
	}
	for _, c := range cmds {
		c.SetErr(err)
	}
	return err
}

// isBusyGroup reports the XGROUP CREATE error for an existing group.
func isBusyGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "BUSYGROUP")
}

// isNoGroup reports a missing stream or group.
func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

// CreateGroup creates the consumer group on the queue's stream (and its retry
// stream) if it does not exist, starting at the oldest entry ("0") or, with
// fromNewest, at the end ("$"). Consumers do this themselves; call it from
// the producer side to make sure messages added before the first consumer
// starts are kept by ack-aware trimming. Existing groups are left as they are.
func (q *Queue[T]) CreateGroup(ctx context.Context, group string, fromNewest bool) error {
	if err := validName("group", group); err != nil {
		return err
	}
	for _, lq := range q.levels[min(1, len(q.levels)):] {
		if err := lq.CreateGroup(ctx, group, fromNewest); err != nil {
			return err
		}
	}
	start := "0"
	if fromNewest {
		start = "$"
	}
	k := q.keys(group)
	if err := q.client.XGroupCreateMkStream(ctx, q.stream, group, start).Err(); err != nil && !isBusyGroup(err) {
		return fmt.Errorf("streamq: create group %s on %s: %w", group, q.stream, err)
	}
	if err := q.client.XGroupCreateMkStream(ctx, k.rs, group, "0").Err(); err != nil && !isBusyGroup(err) {
		return fmt.Errorf("streamq: create group %s on %s: %w", group, k.rs, err)
	}
	return nil
}

// List returns the names of the queues in client's database under
// keyPrefix (Config.KeyPrefix; "" means the default "streamq:"), sorted: the
// streams whose key is keyPrefix + "{" + name + "}". It SCANs the keyspace
// (every master of a cluster), so it costs a pass over all keys; use it in
// tools, not on a hot path.
func List(ctx context.Context, client redis.UniversalClient, keyPrefix string) ([]string, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: List with a nil client", ErrInvalid)
	}
	if keyPrefix == "" {
		keyPrefix = defaultKeyPrefix
	} else if strings.ContainsAny(keyPrefix, "{}") {
		return nil, fmt.Errorf("%w: List: key prefix %q contains a brace", ErrInvalid, keyPrefix)
	}
	pattern := globEscape(keyPrefix) + "{*}"
	var mu sync.Mutex
	seen := map[string]bool{}
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.ScanType(ctx, cursor, pattern, 1000, "stream").Result()
			if err != nil {
				return fmt.Errorf("streamq: list queues: scan: %w", err)
			}
			mu.Lock()
			for _, k := range keys {
				name := strings.TrimSuffix(strings.TrimPrefix(k, keyPrefix+"{"), "}")
				if validName("queue", name) == nil && keyPrefix+"{"+name+"}" == k {
					seen[name] = true
				}
			}
			mu.Unlock()
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	var err error
	if cc, ok := client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, client)
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// globEscape escapes the glob metacharacters of Redis's MATCH.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
