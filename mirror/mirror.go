package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of the package.
var (
	// ErrInvalid is wrapped by every error about bad input: a Config field
	// out of range (New, NewRecorder, NewDiffer, Replay, OpenGor,
	// CreateGor), a nil reader or writer, a record a writer cannot write
	// (ErrInvalidRecord and ErrSeparatorInPayload also match it). The
	// message names the field and the fix.
	ErrInvalid = errors.New("mirror: invalid input")
	// ErrClosed is returned by Shutdown when called twice.
	ErrClosed = errors.New("mirror: closed")
)

// PanicError is a panic recovered from user code that runs on a goroutine
// the package owns (Config.Rewrite, Config.OnResult, ReplayConfig.Rewrite):
// the copy or request is counted as failed with this error instead of the
// process crashing. Stack is the panicking goroutine's stack.
type PanicError struct {
	Value any
	Stack []byte
}

// Error returns "mirror: panic: <value>".
func (e *PanicError) Error() string { return fmt.Sprintf("mirror: panic: %v", e.Value) }

// Unwrap returns Value when it is an error, else nil.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// recovered turns a recover() value into a *PanicError (nil for no panic).
func recovered(v any) error {
	if v == nil {
		return nil
	}
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// HostPolicy says which Host header a shadow copy carries.
type HostPolicy uint8

const (
	// HostKeep sends the primary request's Host unchanged (default; what
	// nginx/APISIX mirrors do).
	HostKeep HostPolicy = iota
	// HostTarget sends the target URL's host (GoReplay's default).
	HostTarget
	// HostShadowSuffix appends "-shadow" to the original host name, before
	// any port ("api:8080" → "api-shadow:8080"), as Envoy does, so the
	// shadow can tell copies from real traffic.
	HostShadowSuffix
)

// PathMode says how a target URL's path combines with the request path
// (APISIX proxy-mirror's path_concat_mode). The query is always kept.
type PathMode uint8

const (
	// PathPrefix puts the target path before the request path (default):
	// target "http://s/v2" + "/users?id=1" → "http://s/v2/users?id=1".
	PathPrefix PathMode = iota
	// PathReplace sends the target path instead of the request path, keeping
	// the query: "http://s/probe" + "/users?id=1" → "http://s/probe?id=1".
	PathReplace
)

// DropReason says why a copy was not sent.
type DropReason uint8

// Drop reasons, each counted in Stats.Dropped.
const (
	DropNotSampled     DropReason = iota // lost the sample decision
	DropFiltered                         // Config.Filter returned false
	DropMethod                           // method not in Config.Methods
	DropBodyTooLarge                     // body longer than MaxBodyBytes
	DropBodyIncomplete                   // the primary never read the body to EOF
	DropQueueFull                        // the target's queue was full
	DropBreakerOpen                      // the target's circuit breaker was open
	DropClosed                           // arrived after Shutdown began, or still queued at its deadline
	DropRate                             // over the target's Rate cap
	numDropReasons
)

var dropNames = [numDropReasons]string{"not_sampled", "filtered", "method", "body_too_large",
	"body_incomplete", "queue_full", "breaker_open", "closed", "rate"}

// String returns the reason's snake_case name (also its JSON form).
func (d DropReason) String() string {
	if d < numDropReasons {
		return dropNames[d]
	}
	return fmt.Sprintf("DropReason(%d)", uint8(d))
}

// MarshalText makes DropReason a readable JSON map key (Stats in JSON).
func (d DropReason) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// DropReasons lists every reason in order.
func DropReasons() []DropReason {
	out := make([]DropReason, numDropReasons)
	for i := range out {
		out[i] = DropReason(i)
	}
	return out
}

// BreakerConfig configures a target's circuit breaker: after Failures
// consecutive send errors or timeouts it opens for OpenFor, and copies are
// dropped with DropBreakerOpen, so a dead shadow costs nothing. After
// OpenFor, sends resume; one more failure re-opens it, a success closes it.
// With or without the breaker, a worker waits after each failed send
// (10 ms doubling to 1 s, jittered) before its next one.
type BreakerConfig struct {
	Failures int           // default 5; negative disables the breaker
	OpenFor  time.Duration // default 5s
}

// Target is one shadow destination. Zero values mean the documented defaults.
type Target struct {
	// Name labels the target in Stats, the marker header and type-3
	// records. Default: the URL's host. Control characters are refused.
	Name string
	// URL is "http://host:port" or "http://host:port/base" (see PathMode).
	// Required; scheme http or https.
	URL string
	// PathMode combines URL's path with the request path (default PathPrefix).
	PathMode PathMode
	// Client sends the copies. Default: a client of its own with a
	// keep-alive Transport (MaxIdleConnsPerHost = Workers) that never
	// follows redirects. The caller keeps ownership of a given client.
	Client *http.Client
	// Timeout bounds each copy (connect to last body byte), independent of
	// the primary's context. Default 2s.
	Timeout time.Duration
	// Queue is the bounded queue length; a full queue drops (DropQueueFull),
	// never blocks. Default 1024.
	Queue int
	// Workers is the fixed number of sender goroutines. Default 8. A
	// worker backs off after a failed send (see BreakerConfig).
	Workers int
	// Breaker configures the circuit breaker.
	Breaker BreakerConfig
	// Rate, if > 0, caps the copies offered to this target per second
	// (GoReplay's --output-http "url|N"), beside the Sample ratio ("N%"):
	// a token bucket holding one second's worth (at least 1), refilled
	// continuously on Config.Now. A copy over the cap is Dropped[DropRate].
	// Negative is an error.
	Rate float64
	// Baseline, when Config.Compare is set, is the URL of a second copy of
	// the primary's code: each copy is also sent there, and fields that
	// differ between primary and baseline count as noise (Diffy's
	// secondary). Optional.
	Baseline string
}

// Config configures a Mirror. Zero values mean the documented defaults.
type Config struct {
	// Targets receive the copies. At least one is required.
	Targets []Target
	// Sample is the fraction of requests copied, in [0, 1]; 0 means the
	// default 1 (copy all). Float precision: 1e-5 works (APISIX's minimum).
	Sample float64
	// SampleKey, if set, makes sampling consistent: a request is copied when
	// fnv1a(key) < Sample·2³², so one user is always in or always out.
	// HeaderKey and CookieKey build common ones. An empty key samples at random.
	SampleKey func(*http.Request) string
	// Filter, if set, must return true for a request to be copied
	// (DropFiltered otherwise).
	Filter func(*http.Request) bool
	// Rules are declarative filters (counted as DropFiltered) and rewrites
	// applied to copies only, as GoReplay's --http-* flags.
	Rules Rules
	// Split sends each copy to one target, round-robin, instead of to
	// every target (GoReplay's --split-output): with it, a request counts
	// once in Stats.Seen, on the target chosen. The chosen target's breaker,
	// Rate and queue decide; a copy is not moved to another target.
	Split bool
	// Methods are the methods copied. Default GET, HEAD, OPTIONS: writes
	// must be enabled explicitly, to avoid double side effects.
	Methods []string
	// MaxBodyBytes caps the request body copied (default 1 MiB). Larger
	// bodies are not copied and are counted as DropBodyTooLarge. Negative
	// is an error.
	MaxBodyBytes int64
	// Rewrite, if set, edits each copy (never the primary request) on a
	// worker goroutine, just before it is sent. A panic in it is recovered:
	// the copy counts as Sent with a *PanicError in Errors.
	Rewrite func(*http.Request)
	// Host is the Host header policy (default HostKeep).
	Host HostPolicy
	// MarkerHeader is added to copies with the target name as value.
	// Default "X-Mirror"; "-" disables it. New refuses a name that is not
	// an RFC 9110 token.
	MarkerHeader string
	// Compare, if set, captures the primary response (status, headers and
	// up to Compare.MaxBodyBytes of body) and diffs it with each shadow
	// response; results go to Result.Diff and Mirror.DiffSummary.
	Compare *DiffConfig
	// OnResult, if set, is called on a worker goroutine after every send. It
	// must not block: it holds a worker. A panic in it is recovered and
	// logged at error level.
	OnResult func(Result)
	// Logger receives send errors at debug level and recovered panics at
	// error level. Nil means slog.Default(); slog.New(slog.DiscardHandler)
	// silences it.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// HeaderKey returns a SampleKey that uses a request header.
func HeaderKey(name string) func(*http.Request) string {
	name = http.CanonicalHeaderKey(name)
	return func(r *http.Request) string {
		if v := r.Header[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
}

// CookieKey returns a SampleKey that uses a cookie's value.
func CookieKey(name string) func(*http.Request) string {
	return func(r *http.Request) string {
		c, err := r.Cookie(name)
		if err != nil {
			return ""
		}
		return c.Value
	}
}

// Response is a captured HTTP response (body possibly cut at a cap).
type Response struct {
	Status    int
	Header    http.Header
	Body      []byte
	Truncated bool // Body was cut at the capture cap
}

// Result describes one finished copy; it is passed to Config.OnResult.
type Result struct {
	Target   string
	ID       string // random 24-hex ID of this copy
	Method   string
	URL      string   // the URL the copy was sent to
	Shadow   Response // body: up to 64 KiB (DiffConfig.MaxBodyBytes with Compare)
	Latency  time.Duration
	Primary  *Response   // only with Config.Compare
	Baseline *Response   // only with Config.Compare and Target.Baseline
	Diff     *DiffResult // only with Config.Compare
	Err      error       // transport error or timeout; nil for any HTTP status
}

// Mirror copies requests to shadow targets. Create with New; install with
// Handler or RoundTripper; stop with Shutdown. All methods are safe for
// concurrent use. It owns its worker goroutines (Workers per target), which
// end in Shutdown.
type Mirror struct {
	cfg        Config
	targets    []*target
	methods    [8]string
	nMethods   int
	allMethods []string
	threshold  uint64 // sample threshold on a 2^32 scale; 1<<32 = all
	sampleAll  bool
	closed     atomic.Bool
	closeOnce  sync.Once
	baseCtx    context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	stop       chan struct{}
	jobPool    sync.Pool
	bufPool    sync.Pool
	differ     *Differ
	rules      *rules
	marker     string                        // canonical MarkerHeader
	rrSend     atomic.Uint64                 // Split: next target for a copy
	rrDrop     atomic.Uint64                 // Split: next target to count a request-level drop on
	reqDrop    [numDropReasons]atomic.Uint64 // request-level drops, counted for every target (not with Split)
	log        *slog.Logger
	now        func() time.Time
	pending    atomic.Int64
}

type target struct {
	m        *Mirror
	cfg      Target
	name     string
	base     *url.URL
	baseline *url.URL
	client   *http.Client
	ownTr    *http.Transport
	q        chan *job

	// acct guards the accounting identity: every transition updates its
	// counters under RLock; Stats takes Lock, so a snapshot never sees half
	// a transition.
	acct       sync.RWMutex
	seen       atomic.Uint64
	sent       atomic.Uint64
	queued     atomic.Int64
	inflight   atomic.Int64
	dropped    [numDropReasons]atomic.Uint64 // drops at offer or dequeue (Seen counted separately)
	reqDrop    [numDropReasons]atomic.Uint64 // Split: request-level drops of this target (count in Seen too)
	errors     atomic.Uint64
	timeouts   atomic.Uint64
	statusMu   sync.Mutex
	status     map[int]uint64
	lat        latencyHist
	fails      atomic.Int64
	openUntil  atomic.Int64
	breakerMax int64
	breakerFor time.Duration
	rate       *tokenBucket // nil without Target.Rate
}

// tokenBucket is Target.Rate's limiter. Its mutex is taken only when a
// Rate is set, once per offered copy.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   int64 // Unix ns of the last refill; 0 before the first take
}

// take reports whether a token was available at now (Unix ns).
func (b *tokenBucket) take(now int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == 0 {
		b.tokens = b.burst
	} else if now > b.last {
		b.tokens = min(b.burst, b.tokens+float64(now-b.last)/1e9*b.rate)
	}
	if now > b.last {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

type job struct {
	ctx     context.Context
	method  string
	url     url.URL
	proto   string
	host    string
	header  []string    // flattened name, value pairs: a snapshot that shares no map with the primary
	body    *sharedBody // nil, or &bodyStore
	primary *Response
	refs    atomic.Int32 // targets holding it, plus copy bodies a transport has not closed
	// bodyStore is the body's holder, part of the pooled job so that a
	// copy with a body costs no extra allocation.
	bodyStore sharedBody
}

type sharedBody struct {
	bb   *bodyBuf
	refs atomic.Int32
	pool *sync.Pool
}

func (b *sharedBody) release() {
	if b != nil && b.refs.Add(-1) == 0 {
		b.bb.b = b.bb.b[:0]
		b.pool.Put(b.bb)
	}
}

// bodyBuf is a pooled body buffer. Its capacity never exceeds the cap it
// is filled under (MaxBodyBytes): appendCapped grows it by doubling up to
// the cap, and a known Content-Length is allocated exactly. bytes.Buffer
// would grow to 2·cap+n and hold up to twice the documented memory.
type bodyBuf struct{ b []byte }

// appendCapped appends p to b; the caller ensures len(b)+len(p) <= limit,
// and the result's capacity is at most max(cap(b), limit).
func appendCapped(b, p []byte, limit int64) []byte {
	need := len(b) + len(p)
	if need > cap(b) {
		nc := int64(max(2*cap(b), need, 512))
		nc = max(min(nc, limit), int64(need))
		nb := make([]byte, len(b), nc)
		copy(nb, b)
		b = nb
	}
	return append(b, p...)
}

// New validates cfg and starts the targets' workers.
func New(cfg Config) (*Mirror, error) {
	if len(cfg.Targets) == 0 {
		return nil, fmt.Errorf("%w: no Targets (add at least one mirror.Target{URL: \"http://shadow:8080\"})", ErrInvalid)
	}
	if math.IsNaN(cfg.Sample) || cfg.Sample < 0 || cfg.Sample > 1 {
		return nil, fmt.Errorf("%w: Sample %v outside [0, 1] (0.01 copies 1%%)", ErrInvalid, cfg.Sample)
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("%w: MaxBodyBytes %d is negative (0 means 1 MiB)", ErrInvalid, cfg.MaxBodyBytes)
	}
	if cfg.Host > HostShadowSuffix {
		return nil, fmt.Errorf("%w: unknown HostPolicy %d", ErrInvalid, cfg.Host)
	}
	if cfg.MarkerHeader != "" && cfg.MarkerHeader != "-" && !validHeaderName(cfg.MarkerHeader) {
		// Every copy would otherwise fail in the transport, one by one.
		return nil, fmt.Errorf("%w: MarkerHeader %q is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~; \"-\" disables it)", ErrInvalid, cfg.MarkerHeader)
	}
	if cfg.Sample == 0 {
		cfg.Sample = 1
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MarkerHeader == "" {
		cfg.MarkerHeader = "X-Mirror"
	}
	if len(cfg.Methods) == 0 {
		cfg.Methods = []string{http.MethodGet, http.MethodHead, http.MethodOptions}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	m := &Mirror{cfg: cfg, log: log, now: cfg.Now, stop: make(chan struct{})}
	for _, meth := range cfg.Methods {
		if meth == "" || strings.ContainsAny(meth, " \t\r\n") {
			return nil, fmt.Errorf("%w: method %q: want a method name such as GET", ErrInvalid, meth)
		}
		// Methods are case-sensitive (RFC 9110 §9.1): "get" would be
		// accepted here and then never match a request.
		if up := strings.ToUpper(meth); up != meth && isStandardMethod(up) {
			return nil, fmt.Errorf("%w: method %q never matches: methods are case-sensitive; use %q", ErrInvalid, meth, up)
		}
		if m.nMethods < len(m.methods) {
			m.methods[m.nMethods] = meth
			m.nMethods++
		} else {
			m.allMethods = append(m.allMethods, meth)
		}
	}
	m.marker = http.CanonicalHeaderKey(cfg.MarkerHeader)
	m.sampleAll = cfg.Sample >= 1
	m.threshold = uint64(cfg.Sample * (1 << 32))
	if cfg.Compare != nil {
		d, err := NewDiffer(*cfg.Compare)
		if err != nil {
			return nil, err
		}
		m.differ = d
	}
	rs, err := compileRules("Rules", cfg.Rules)
	if err != nil {
		return nil, err
	}
	if rs.filters || rs.edits {
		m.rules = rs
	}
	m.bufPool.New = func() any { return new(bodyBuf) }
	m.jobPool.New = func() any { return new(job) }
	names := map[string]bool{}
	for i, tc := range cfg.Targets {
		t, err := newTarget(m, tc)
		if err != nil {
			return nil, fmt.Errorf("%w: Targets[%d]: %v", ErrInvalid, i, err)
		}
		if names[t.name] {
			return nil, fmt.Errorf("%w: Targets[%d]: duplicate target name %q (set Target.Name)", ErrInvalid, i, t.name)
		}
		names[t.name] = true
		m.targets = append(m.targets, t)
	}
	m.baseCtx, m.cancel = context.WithCancel(context.Background())
	for _, t := range m.targets {
		for range t.cfg.Workers {
			m.wg.Add(1)
			go t.work()
		}
	}
	return m, nil
}

func parseTargetURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("URL %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("URL %q: no host (want http://host:port[/prefix])", raw)
	}
	return u, nil
}

func newTarget(m *Mirror, tc Target) (*target, error) {
	if tc.URL == "" {
		return nil, errors.New("empty URL (want http://host:port[/prefix])")
	}
	u, err := parseTargetURL(tc.URL)
	if err != nil {
		return nil, err
	}
	if tc.Timeout < 0 || tc.Queue < 0 || tc.Workers < 0 || tc.Breaker.OpenFor < 0 {
		return nil, errors.New("negative Timeout, Queue, Workers or Breaker.OpenFor (0 means the default)")
	}
	if math.IsNaN(tc.Rate) || math.IsInf(tc.Rate, 0) || tc.Rate < 0 {
		return nil, fmt.Errorf("field Rate is %v; it must be >= 0 copies per second (0 means no cap)", tc.Rate)
	}
	if tc.PathMode > PathReplace {
		return nil, fmt.Errorf("unknown PathMode %d", tc.PathMode)
	}
	if tc.Timeout == 0 {
		tc.Timeout = 2 * time.Second
	}
	if tc.Queue == 0 {
		tc.Queue = 1024
	}
	if tc.Workers == 0 {
		tc.Workers = 8
	}
	if tc.Breaker.Failures == 0 {
		tc.Breaker.Failures = 5
	}
	if tc.Breaker.OpenFor == 0 {
		tc.Breaker.OpenFor = 5 * time.Second
	}
	if tc.Name == "" {
		tc.Name = u.Host
	}
	if strings.ContainsFunc(tc.Name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		// The name is the marker header's value: a control character
		// would make every copy fail in the transport.
		return nil, fmt.Errorf("Name %q contains a control character", tc.Name)
	}
	t := &target{m: m, cfg: tc, name: tc.Name, base: u, q: make(chan *job, tc.Queue),
		status: map[int]uint64{}, breakerMax: int64(tc.Breaker.Failures), breakerFor: tc.Breaker.OpenFor}
	if tc.Rate > 0 {
		t.rate = &tokenBucket{rate: tc.Rate, burst: max(1, tc.Rate)}
	}
	if tc.Baseline != "" {
		b, err := parseTargetURL(tc.Baseline)
		if err != nil {
			return nil, fmt.Errorf("baseline: %v", err)
		}
		t.baseline = b
	}
	t.client = tc.Client
	if t.client == nil {
		t.ownTr = &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: tc.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          tc.Workers * 2,
			MaxIdleConnsPerHost:   tc.Workers * 2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   tc.Timeout,
			ExpectContinueTimeout: time.Second,
		}
		t.client = &http.Client{Transport: t.ownTr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	return t, nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// methodAllowed is a linear scan over at most 8 methods: no map, no alloc.
func (m *Mirror) methodAllowed(meth string) bool {
	for i := 0; i < m.nMethods; i++ {
		if m.methods[i] == meth {
			return true
		}
	}
	for _, x := range m.allMethods {
		if x == meth {
			return true
		}
	}
	return false
}

func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func (m *Mirror) sampled(r *http.Request) bool {
	if m.sampleAll {
		return true
	}
	if m.cfg.SampleKey != nil {
		if k := m.cfg.SampleKey(r); k != "" {
			return uint64(fnv1a(k)) < m.threshold
		}
	}
	return uint64(rand.Uint32()) < m.threshold
}

// dropAll counts a request-level drop (decided before any target is
// offered the copy) for every target, or with Split for one target,
// round-robin. It is one atomic add and takes no lock: Stats adds these
// counts to both Seen and Dropped of each target from one read, so the
// identity holds exactly without excluding the hot path.
func (m *Mirror) dropAll(reason DropReason) {
	if m.cfg.Split {
		m.targets[(m.rrDrop.Add(1)-1)%uint64(len(m.targets))].reqDrop[reason].Add(1)
		return
	}
	m.reqDrop[reason].Add(1)
}

// decide runs the request-level checks; ok means copy it.
func (m *Mirror) decide(r *http.Request) bool {
	if m.closed.Load() {
		m.dropAll(DropClosed)
		return false
	}
	if !m.methodAllowed(r.Method) {
		m.dropAll(DropMethod)
		return false
	}
	if m.rules != nil && !m.rules.keep(r) {
		m.dropAll(DropFiltered)
		return false
	}
	if m.cfg.Filter != nil && !m.cfg.Filter(r) {
		m.dropAll(DropFiltered)
		return false
	}
	if !m.sampled(r) {
		m.dropAll(DropNotSampled)
		return false
	}
	return true
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// newJob captures what the copy needs from r: a header snapshot and a URL
// value copy. The snapshot copies the (immutable) strings into the pooled
// job's own slice, so a warm pool clones headers without allocating, and
// neither side can see the other's header map mutations (teeproxy's data
// race). The outgoing request is built on the worker.
func (m *Mirror) newJob(r *http.Request) *job {
	j := m.jobPool.Get().(*job)
	j.ctx = r.Context()
	j.method = r.Method
	j.url = *r.URL
	j.proto = r.Proto
	j.host = r.Host
	h := j.header[:0]
	for k, vv := range r.Header {
		for _, v := range vv {
			h = append(h, k, v)
		}
	}
	j.header = h
	return j
}

func (m *Mirror) putJob(j *job) {
	j.body.release()
	j.bodyStore.bb, j.bodyStore.pool = nil, nil
	h := j.header[:0]
	clear(j.header) // drop string references
	*j = job{}
	if cap(h) <= 256 {
		j.header = h
	}
	m.jobPool.Put(j)
}

// enqueue offers j to every target (with Split, to the next one) without
// blocking. It consumes j.
func (m *Mirror) enqueue(j *job) {
	if j.body != nil {
		j.body.refs.Store(1)
	}
	if m.cfg.Split {
		j.refs.Store(1)
		m.targets[(m.rrSend.Add(1)-1)%uint64(len(m.targets))].offer(j)
		return
	}
	j.refs.Store(int32(len(m.targets)))
	for _, t := range m.targets {
		t.offer(j)
	}
}

func (t *target) offer(j *job) {
	now := int64(0)
	if t.breakerMax > 0 && t.openUntil.Load() != 0 {
		now = t.m.now().UnixNano()
	}
	t.acct.RLock()
	t.seen.Add(1)
	var reason DropReason
	switch {
	case t.m.closed.Load():
		reason = DropClosed
	case now != 0 && now < t.openUntil.Load():
		reason = DropBreakerOpen
	case t.rate != nil && !t.rate.take(t.m.now().UnixNano()):
		reason = DropRate
	default:
		select {
		case t.q <- j:
			t.queued.Add(1)
			t.acct.RUnlock()
			return
		default:
			reason = DropQueueFull
		}
	}
	t.dropped[reason].Add(1)
	t.acct.RUnlock()
	t.m.doneJob(j)
}

func (m *Mirror) doneJob(j *job) {
	if j.refs.Add(-1) == 0 {
		m.putJob(j)
	}
}

// Handler returns middleware that copies requests passing the checks to
// every target and then serves next. The per-request cost is the checks, a
// header clone and one non-blocking enqueue; the request body is teed as
// next reads it (never pre-read) and the copy is queued at EOF (or, with
// Compare, when next returns). A nil next yields a handler that answers
// 500 "mirror: Handler(nil)" so the mistake is visible at once.
func (m *Mirror) Handler(next http.Handler) http.Handler {
	if next == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "mirror: Handler(nil): no next handler configured", http.StatusInternalServerError)
		})
	}
	return &middleware{m: m, next: next}
}

type middleware struct {
	m    *Mirror
	next http.Handler
}

func (h *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	if !m.decide(r) {
		h.next.ServeHTTP(w, r)
		return
	}
	if hasBody(r) && r.ContentLength > m.cfg.MaxBodyBytes {
		m.dropAll(DropBodyTooLarge)
		h.next.ServeHTTP(w, r)
		return
	}
	j := m.newJob(r)
	var cw *captureWriter
	if m.differ != nil {
		cw = newCaptureWriter(w, m.differ.cfg.MaxBodyBytes)
		w = cw
	}
	if !hasBody(r) {
		if cw == nil {
			m.enqueue(j)
			h.next.ServeHTTP(w, r)
			return
		}
		h.next.ServeHTTP(w, r)
		j.primary = cw.response()
		m.enqueue(j)
		return
	}
	tee := m.newTee(r.Body, r.ContentLength, j, cw == nil)
	orig := r.Body
	r.Body = tee
	defer func() { r.Body = orig }()
	h.next.ServeHTTP(w, r)
	if cw != nil {
		j.primary = cw.response()
	}
	tee.finish()
}

// Shutdown stops accepting copies (later ones count as DropClosed), lets
// the workers send what is queued, and waits for them until ctx is done.
// When ctx ends first, in-flight sends are cancelled (counted as Sent with
// an error) and still-queued copies are counted as DropClosed; Shutdown
// then returns an error wrapping ctx.Err() that says how many copies were
// abandoned. Idle connections of the targets' own transports are closed.
// A second Shutdown returns ErrClosed.
func (m *Mirror) Shutdown(ctx context.Context) error {
	first := false
	m.closeOnce.Do(func() { first = true })
	if !first {
		return ErrClosed
	}
	m.closed.Store(true)
	for _, t := range m.targets { // wait out offers that began before closed was set
		t.acct.Lock()
		_ = t.seen.Load() // the barrier is the Lock itself
		t.acct.Unlock()
	}
	close(m.stop)
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		var left int64
		for _, t := range m.targets {
			left += t.queued.Load() + t.inflight.Load()
		}
		m.cancel()
		<-done
		err = fmt.Errorf("mirror: shutdown: %d copies abandoned (queued or in flight): %w", left, ctx.Err())
	}
	m.cancel()
	for _, t := range m.targets {
		if t.ownTr != nil {
			t.ownTr.CloseIdleConnections()
		}
	}
	return err
}

// isStandardMethod reports whether m is one of the methods RFC 9110 and
// RFC 5789 define.
func isStandardMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}
