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
// On the request path a Mirror only decides (method, Rules, Filter,
// sample), snapshots the header, tees the body as the handler reads it
// (capped at MaxBodyBytes, never pre-read) and makes one non-blocking
// enqueue per target. Each target has a fixed pool of Workers sending with
// their own Timeout, a keep-alive transport, no redirects and a context
// detached from the primary's cancellation, behind a circuit breaker; after
// a failed send a worker backs off (10 ms doubling to 1 s, jittered), so a
// refusing shadow is never redialled in a busy loop. A full queue drops the
// copy and counts it: nothing about a shadow can delay, fail or hold the
// keep-alive connection of the primary (the nginx/APISIX mirror failure
// mode).
//
// Every copy is accounted for: Stats().Balanced() checks
// Seen = Sent + Queued + InFlight + Σ Dropped[reason] (DropReasons lists
// the reasons). Memory is bounded: a queued or in-flight copy holds its
// header and at most MaxBodyBytes of body (buffers never grow past the
// cap), so copies hold at most Σ targets (Queue + Workers) × (MaxBodyBytes
// + header size), the runtime rounding allocations above 32 KiB up to
// 8 KiB pages; a copy queued for several targets is shared. Add
// MaxBodyBytes per body a primary is still reading (Stats.Pending), 64 KiB
// per worker with OnResult, and with Compare the captured primary response
// per copy.
//
// GoReplay's traffic controls are built in: Rules allow or deny by method,
// URL regexp and header and set or delete headers and rewrite the URL of
// copies; Target.Rate caps copies per second beside the Sample ratio; Split
// sends each copy to one target, round-robin. Safe defaults: only GET, HEAD
// and OPTIONS are copied unless Methods says otherwise; copies carry
// "X-Mirror: <target>"; the Host header policy is explicit (HostKeep,
// HostTarget, HostShadowSuffix); a target URL path is a prefix (PathPrefix)
// or a replacement (PathReplace), and the query is kept.
//
// # Recording and .gor files
//
// GorReader and GorWriter speak GoReplay's byte format; OpenGor reads
// plain, gzip and chunked files merged by timestamp; CreateGor writes files
// from GoReplay's name templates with chunk numbering that never overwrites.
// Unlike GoReplay the writer refuses a payload containing the separator
// (ErrSeparatorInPayload), the reader counts malformed records, bad
// timestamps and a truncated tail (ReadStats; ReadConfig.Strict turns them
// into errors), and append mode never truncates. Recorder is middleware
// that writes requests (and optionally responses) from its own goroutine.
// SummarizeRecording counts a recording by type, method, status and
// endpoint.
//
// # Replay and diff
//
// Replay sends the requests of a RecordSource to a target at recorded
// timing × Speed, at a fixed RPS, or Unpaced under a Concurrency cap, with
// Rules and Loops, and returns a Report: status histogram, latency
// percentiles and schedule lag (actual − intended send time, which shows
// when the target or the client is the bottleneck). ReplayConfig says how
// pacing works, that a gap longer than MaxGap is skipped, and that a late
// replay catches up in a burst. Differ compares status, chosen headers and
// JSON bodies structurally with ignore paths, groups by endpoint (method +
// templated path) and applies Diffy's noise cancellation with a baseline:
// live with Config.Compare (primary against shadow), in a replay with
// ReplayConfig.Compare (recorded against replayed), and between two
// recordings with DiffRecordings.
//
// # Observing and errors
//
// Stats is a plain struct, ready for JSON; Config.OnResult is called after
// every send. Importing mirror registers nothing anywhere: to serve Stats
// at /debug/vars, use the mirrorexpvar sub-package, whose doc says what
// expvar then exposes. Errors about bad input wrap ErrInvalid; panics
// recovered from user code on the package's goroutines are *PanicError.
// The package uses the standard library only.
package mirror
