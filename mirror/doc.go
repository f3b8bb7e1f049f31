// Package mirror copies live HTTP traffic to shadow services without ever
// slowing the primary, records and reads GoReplay .gor files, replays them
// at a chosen speed or rate, and diffs responses.
//
// # Shadowing
//
// New starts a Mirror; install it as middleware (Mirror.Handler) or as the
// Transport of an httputil.ReverseProxy (Mirror.RoundTripper):
//
//	m, err := mirror.New(mirror.Config{
//		Targets: []mirror.Target{{Name: "v2", URL: "http://10.0.0.7:8080"}},
//		Sample:  0.05,                            // 5 %; float down to 1e-5
//		SampleKey: mirror.HeaderKey("X-User-Id"), // same users every time
//	})
//	if err != nil { ... }
//	defer m.Shutdown(ctx)
//	http.ListenAndServe(":8080", m.Handler(app))
//
// On the request path a Mirror only decides (method, Filter, sample),
// clones the header, tees the body as the handler reads it (capped at
// MaxBodyBytes, never pre-read) and makes one non-blocking enqueue per
// target. Each target has a fixed pool of Workers sending with their own
// Timeout, a keep-alive transport, no redirects and a context detached from
// the primary's cancellation, behind a circuit breaker. A full queue drops
// the copy and counts it: nothing about a shadow can delay, fail or hold the
// keep-alive connection of the primary (the nginx/APISIX mirror failure mode).
//
// Every copy is accounted for: Stats().Balanced() checks
// Seen = Sent + Queued + InFlight + Σ Dropped[reason], with reasons
// not sampled, filtered, method, body too large, body incomplete, queue
// full, breaker open, closed and rate.
//
// Memory is bounded: each queued or in-flight copy holds at most
// MaxBodyBytes of body (buffers grow by doubling but never past the cap,
// and a known Content-Length is allocated exactly) plus its header, so
// copies hold at most Σ targets (Queue + Workers) × (MaxBodyBytes + header
// size), where the Go runtime rounds an allocation above 32 KiB up to a
// multiple of 8 KiB (100,000 B takes 106,496); a copy queued for several
// targets is shared, not duplicated. Add
// MaxBodyBytes for each request whose body a primary handler is still
// reading (Stats.Pending), per worker the shadow response it reads (up to
// 64 KiB, only with OnResult), and with Compare the captured primary
// response (DiffConfig.MaxBodyBytes) per copy. Freed buffers are reused
// through a sync.Pool, which the garbage collector empties.
//
// A failing shadow costs the primary nothing: after a transport error or
// timeout a worker backs off (10 ms doubling to 1 s, jittered) before its
// next send, so a refusing shadow is not redialled in a busy loop even with
// the breaker disabled; meanwhile copies queue and then drop as queue full.
//
// Traffic controls, as GoReplay has them: Rules allow or deny by method,
// URL regexp and header, and set or delete headers and rewrite the URL on
// copies; Target.Rate caps copies per second beside the Sample ratio
// (Dropped[DropRate]); Split sends each copy to one target, round-robin.

// Safe defaults: only GET, HEAD and OPTIONS are copied unless Methods says
// otherwise; copies carry "X-Mirror: <target>"; the Host header policy is
// explicit (HostKeep, HostTarget, HostShadowSuffix); a target URL path is a
// prefix (PathPrefix) or a replacement (PathReplace), and the query is kept.
//
// # Recording and .gor files
//
// GorReader and GorWriter speak GoReplay's byte format; OpenGor reads
// plain, gzip and chunked files merged by timestamp; CreateGor writes files
// from GoReplay's name templates with chunk numbering that never overwrites.
// Unlike GoReplay the writer refuses a payload containing the separator
// (ErrSeparatorInPayload), the reader counts malformed records, bad
// timestamps and a truncated tail (ReadStats; Strict turns them into
// errors), and append mode never truncates. Recorder is middleware that
// writes requests (and optionally responses) from its own goroutine.
//
// # Replay and diff
//
// Replay sends the requests of a RecordSource to a target at recorded
// timing × Speed, at a fixed RPS, or Unpaced under a Concurrency cap, with
// the same Rules, and Loops over a file; it returns a Report with a status
// histogram, latency percentiles and the schedule lag (actual − intended
// send time), which shows when the target or the client is the bottleneck.
// Recorded timing follows the gaps between request records; a gap longer
// than MaxGap is skipped and counted, and a replay that falls behind
// catches up in a burst (ReplayConfig says exactly how). With Compare it
// diffs recorded responses with replayed ones; Config.Compare does the same
// live, primary against shadow, and DiffRecordings does it for two
// recordings, joined by record ID or by request. SummarizeRecording counts
// a recording by type, method, status and endpoint. Differ compares status,
// chosen headers and JSON bodies structurally with ignore paths, groups by
// endpoint (method + templated path) and applies Diffy's noise cancellation
// when a baseline is given.
//
// # Observing
//
// Stats is a plain struct (JSON-ready); Config.OnResult is called after
// every send. Importing mirror registers nothing anywhere: to serve Stats
// at /debug/vars, use the mirrorexpvar sub-package, whose doc says what
// expvar then exposes.
//
// Errors about bad input wrap ErrInvalid; panics recovered from user code
// on the package's goroutines are *PanicError. The package uses the
// standard library only.
package mirror
