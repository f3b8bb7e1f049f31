package mirror

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// RecordRequest serialises req (method, request-target, Host, headers and
// body) as a type-1 record. body is the request body bytes (req.Body is not
// read). Chunked transfer encoding is replaced by Content-Length.
func RecordRequest(req *http.Request, id string, t time.Time, body []byte) (Record, error) {
	if req == nil || req.URL == nil {
		return Record{}, errors.New("mirror: RecordRequest: nil request or URL")
	}
	if id == "" {
		id = NewID()
	}
	var b bytes.Buffer
	target := req.URL.RequestURI()
	proto := req.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	fmt.Fprintf(&b, "%s %s %s\r\n", req.Method, target, proto)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if host != "" {
		fmt.Fprintf(&b, "Host: %s\r\n", host)
	}
	h := req.Header.Clone()
	h.Del("Host")
	h.Del("Transfer-Encoding")
	h.Del("Content-Length")
	if len(body) > 0 || req.ContentLength > 0 {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if err := h.Write(&b); err != nil {
		return Record{}, err
	}
	b.WriteString("\r\n")
	b.Write(body)
	return Record{Kind: KindRequest, ID: id, Time: t.UnixNano(), Payload: b.Bytes()}, nil
}

// RecordResponse serialises a captured response as a record of kind k
// (KindResponse or KindReplayedResponse).
func RecordResponse(k Kind, id string, t time.Time, latency time.Duration, r Response) Record {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", r.Status, http.StatusText(r.Status))
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Del("Transfer-Encoding")
	h.Set("Content-Length", strconv.Itoa(len(r.Body)))
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.Write(r.Body)
	return Record{Kind: k, ID: id, Time: t.UnixNano(), Latency: int64(latency), Payload: b.Bytes()}
}

// Request parses a type-1 record's payload into a request whose URL is the
// recorded request-target (RequestURI set, as from a server). The body is
// the recorded body, cut short if the recording was.
func (r Record) Request() (*http.Request, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(r.Payload)))
	if err != nil {
		return nil, fmt.Errorf("mirror: record %s: parse request: %w", r.ID, err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("mirror: record %s: read body: %w", r.ID, err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.TransferEncoding = nil
	return req, nil
}

// Response parses a type-2 or type-3 record's payload (req may be nil; pass
// the request for HEAD). The body is read fully.
func (r Record) Response(req *http.Request) (Response, error) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(r.Payload)), req)
	if err != nil {
		return Response{}, fmt.Errorf("mirror: record %s: parse response: %w", r.ID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return Response{}, fmt.Errorf("mirror: record %s: read body: %w", r.ID, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// RecorderConfig configures NewRecorder. Zero values mean the defaults.
type RecorderConfig struct {
	// Responses also records each response as a type-2 record with the
	// request's ID (default: requests only).
	Responses bool
	// MaxBodyBytes caps the request and response bodies recorded (default
	// 1 MiB). A request whose body is longer, or not read to EOF by the
	// handler, is not recorded (counted in Skipped).
	MaxBodyBytes int64
	// Filter, if set, must return true for a request to be recorded.
	Filter func(*http.Request) bool
	// Queue is the bounded queue to the writer goroutine (default 1024);
	// when full, records are dropped and counted, never blocking the handler.
	Queue int
	// Logger receives write errors. Nil means slog.Default();
	// slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// RecorderStats counts what a Recorder did. Seen counts requests; the
// other fields count records except Skipped (requests not recorded).
type RecorderStats struct {
	Seen, Written, Skipped, QueueFull, Refused, Errors uint64
	// Abandoned counts records still queued when Shutdown's ctx ended.
	Abandoned uint64
}

// Recorder is middleware that records exchanges as .gor records to a
// RecordWriter (for example a *GorFile) from one writer goroutine, so file
// I/O never runs on the request path. Shutdown stops it; the caller still
// owns and closes the RecordWriter afterwards.
type Recorder struct {
	cfg     RecorderConfig
	w       RecordWriter
	q       chan []Record
	done    chan struct{}
	closed  atomic.Bool
	mu      sync.RWMutex
	seen    atomic.Uint64
	written atomic.Uint64
	skipped atomic.Uint64
	full    atomic.Uint64
	refused atomic.Uint64
	errs    atomic.Uint64
	log     *slog.Logger

	abandon   atomic.Bool
	abandoned atomic.Uint64
}

// NewRecorder starts a recorder writing to w (required).
func NewRecorder(w RecordWriter, cfg RecorderConfig) (*Recorder, error) {
	if w == nil {
		return nil, fmt.Errorf("%w: NewRecorder: nil RecordWriter (use mirror.CreateGor)", ErrInvalid)
	}
	if cfg.MaxBodyBytes < 0 || cfg.Queue < 0 {
		return nil, fmt.Errorf("%w: NewRecorder: negative MaxBodyBytes or Queue", ErrInvalid)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Queue == 0 {
		cfg.Queue = 1024
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Recorder{cfg: cfg, w: w, q: make(chan []Record, cfg.Queue), done: make(chan struct{}), log: log}
	go r.loop()
	return r, nil
}

func (r *Recorder) loop() {
	defer close(r.done)
	for recs := range r.q {
		if r.abandon.Load() {
			r.abandoned.Add(uint64(len(recs)))
			continue
		}
		for _, rec := range recs {
			if err := r.w.WriteRecord(rec); err != nil {
				if errors.Is(err, ErrSeparatorInPayload) {
					r.refused.Add(1)
				} else {
					r.errs.Add(1)
				}
				r.log.Warn("mirror: recorder write failed", "id", rec.ID, "err", err)
				continue
			}
			r.written.Add(1)
		}
	}
}

// Handler returns the recording middleware around next (nil next answers 500).
func (r *Recorder) Handler(next http.Handler) http.Handler {
	if next == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "mirror: Recorder.Handler(nil): no next handler configured", http.StatusInternalServerError)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.seen.Add(1)
		if r.closed.Load() || (r.cfg.Filter != nil && !r.cfg.Filter(req)) ||
			(hasBody(req) && req.ContentLength > r.cfg.MaxBodyBytes) {
			r.skipped.Add(1)
			next.ServeHTTP(w, req)
			return
		}
		start := r.cfg.Now()
		var tb *recTee
		if hasBody(req) {
			tb = &recTee{rc: req.Body, limit: r.cfg.MaxBodyBytes}
			orig := req.Body
			req.Body = tb
			defer func() { req.Body = orig }()
		}
		var cw *captureWriter
		if r.cfg.Responses {
			cw = newCaptureWriter(w, r.cfg.MaxBodyBytes)
			w = cw
		}
		next.ServeHTTP(w, req)
		var body []byte
		if tb != nil {
			if !tb.eof || tb.over {
				r.skipped.Add(1)
				return
			}
			body = tb.buf
		}
		id := NewID()
		rec, err := RecordRequest(req, id, start, body)
		if err != nil {
			r.skipped.Add(1)
			return
		}
		if validateRecord(rec) != nil { // e.g. the separator in the body: keep the pair out
			r.refused.Add(1)
			return
		}
		recs := []Record{rec}
		if cw != nil {
			resp := RecordResponse(KindResponse, id, r.cfg.Now(), 0, *cw.response())
			if validateRecord(resp) != nil {
				r.refused.Add(1)
			} else {
				recs = append(recs, resp)
			}
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		if r.closed.Load() {
			r.skipped.Add(1)
			return
		}
		select {
		case r.q <- recs:
		default:
			r.full.Add(1)
		}
	})
}

type recTee struct {
	rc    io.ReadCloser
	buf   []byte
	limit int64
	eof   bool
	over  bool
}

func (t *recTee) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 && !t.over {
		if int64(len(t.buf)+n) > t.limit {
			t.over = true
		} else {
			t.buf = appendCapped(t.buf, p[:n], t.limit)
		}
	}
	if err == io.EOF {
		t.eof = true
	}
	return n, err
}

func (t *recTee) Close() error { return t.rc.Close() }

// Stats returns the recorder's counters.
func (r *Recorder) Stats() RecorderStats {
	return RecorderStats{Seen: r.seen.Load(), Written: r.written.Load(), Skipped: r.skipped.Load(),
		QueueFull: r.full.Load(), Refused: r.refused.Load(), Errors: r.errs.Load(), Abandoned: r.abandoned.Load()}
}

// Shutdown stops recording (later requests are served and not recorded)
// and waits until the queued records are written or ctx is done. When ctx
// ends first, the records still queued are abandoned: the writer goroutine
// stops after the record it is writing, and Shutdown returns an error
// wrapping ctx.Err() that says how many were abandoned. Either way the
// RecordWriter is no longer used once Shutdown returns nil; after an
// abandon it may still receive the one record being written. A second
// Shutdown returns ErrClosed.
func (r *Recorder) Shutdown(ctx context.Context) error {
	if r.closed.Swap(true) {
		return ErrClosed
	}
	r.mu.Lock()
	close(r.q)
	r.mu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		r.abandon.Store(true)
		n := 0
		for recs := range r.q {
			n += len(recs)
		}
		r.abandoned.Add(uint64(n))
		return fmt.Errorf("mirror: recorder shutdown: %d records abandoned: %w", n, ctx.Err())
	}
}

// Chain composes middleware so that the first runs outermost:
// Chain(a, b)(h) serves a(b(h)). Nil middleware are skipped; a nil h yields
// a handler that answers 500 "mirror: Chain(...)(nil)", like Handler(nil).
func Chain(mws ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		if h == nil {
			h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "mirror: Chain(...)(nil): no next handler configured", http.StatusInternalServerError)
			})
		}
		for i := len(mws) - 1; i >= 0; i-- {
			if mws[i] != nil {
				h = mws[i](h)
			}
		}
		return h
	}
}
