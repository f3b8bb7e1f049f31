package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Percentiles summarises a latency distribution.
type Percentiles struct {
	Count                    int
	P50, P90, P99, P999, Max time.Duration
}

// String formats the percentiles compactly.
func (p Percentiles) String() string {
	if p.Count == 0 {
		return "n=0"
	}
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s p99.9=%s max=%s", p.Count, r(p.P50), r(p.P90), r(p.P99), r(p.P999), r(p.Max))
}

func exactPercentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Percentiles{Count: len(s), P50: at(0.5), P90: at(0.9), P99: at(0.99), P999: at(0.999), Max: s[len(s)-1]}
}

// ReplayConfig configures Replay. Zero values mean the documented defaults.
//
// Pacing is one of: recorded timing × Speed (default), fixed RPS, or
// Unpaced (as fast as Concurrency allows). Recorded timing uses the gaps
// between consecutive request records only (type 1; response records and
// their times are ignored, as are latencies): the n-th request's intended
// send time is the replay's start plus the sum of the gaps before it,
// each divided by Speed. A record whose timestamp is earlier than the
// latest one seen counts as gap 0. Intended times are absolute, so a replay
// that falls behind (a slow target holding all Concurrency slots, or a
// slow reader) does not stretch the schedule: it catches up by sending the
// late requests at once, as fast as Concurrency allows, and the delay shows
// in Report.ScheduleLag. RPS pacing works the same way from n / RPS.
type ReplayConfig struct {
	// Target is the base URL requests are sent to (required); its path
	// combines with the recorded path by PathMode.
	Target   string
	PathMode PathMode
	// Speed scales recorded gaps: 2 replays twice as fast. Default 1.
	Speed float64
	// RPS, if > 0, sends at this fixed rate, ignoring timestamps.
	RPS float64
	// Unpaced sends as fast as Concurrency allows.
	Unpaced bool
	// MaxGap is the longest recorded gap honoured (default 10s, before
	// Speed is applied). A longer gap, such as an idle night in the capture
	// or a bad timestamp read as 0, is skipped: the next request is sent at
	// once and the gap is counted in Report.SkippedGaps. Negative means no
	// limit.
	MaxGap time.Duration
	// Concurrency caps requests in flight (default 64). When the cap is
	// reached, sends wait and the wait shows as schedule lag.
	Concurrency int
	// Loops is how many passes over the source (default 1; -1 until ctx is
	// done, GoReplay's --input-file-loop). Loops other than 1 need a source
	// implementing Resetter (OpenGor's, Records). Each pass restarts the
	// recorded timing from its first request.
	Loops int
	// Rules are declarative filters (a request they drop counts in
	// Report.Skipped) and rewrites of the requests sent, as GoReplay's
	// --http-* flags.
	Rules Rules
	// Filter, if set, must return true for a request to be sent (Skipped
	// otherwise). It runs after Rules' filters, on Replay's goroutine.
	Filter func(Record, *http.Request) bool
	// Rewrite, if set, edits each request before it is sent. A panic in it
	// is recovered and the request counts as an error (*PanicError).
	Rewrite func(*http.Request)
	// Host is the Host header policy (default HostKeep: the recorded Host).
	Host HostPolicy
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
	// Client sends the requests. Default: an own keep-alive client that
	// does not follow redirects. The caller keeps ownership of a given client.
	Client *http.Client
	// Compare, if set, diffs each recorded type-2 response with the
	// replayed one (first pass only); the summary is in Report.Diff.
	Compare *DiffConfig
	// Baseline, with Compare, is a second target (e.g. the old code) that
	// also receives every request; its differences from the recording count
	// as noise.
	Baseline string
	// Out, if set, receives a type-3 record per replayed response, tagged
	// with Name as a 5th header field.
	Out RecordWriter
	// Name labels type-3 records (default: the target's host).
	Name string
	// Logger receives per-request errors at debug level. Nil means
	// slog.Default(); slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
}

// Report is the outcome of a replay.
type Report struct {
	Requests    int            // type-1 records read (all passes)
	Sent        int            // requests sent (finished, any outcome)
	Errors      int            // transport errors, timeouts included
	Timeouts    int            // requests that hit Timeout
	Skipped     int            // filtered out, or read after ctx was done
	Malformed   int            // records whose payload is not an HTTP request, plus reader problems
	SkippedGaps int            // recorded gaps longer than MaxGap, skipped
	Status      map[int]int    // response status histogram
	Latency     Percentiles    // request → full response body
	ScheduleLag Percentiles    // actual − intended send time
	Achieved    float64        // requests per second actually sent
	Elapsed     time.Duration  // first send to last response
	Diff        *DiffSummary   // with Compare
	Problems    []*FormatError // reader problems, if the source reports them
}

// WriteText writes a readable report, no line wider than 100 columns.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "replay: %d requests read, %d sent, %d errors (%d timeouts), %d skipped, %d malformed\n",
		r.Requests, r.Sent, r.Errors, r.Timeouts, r.Skipped, r.Malformed)
	if r.SkippedGaps > 0 {
		fmt.Fprintf(&b, "recorded gaps longer than MaxGap skipped: %d\n", r.SkippedGaps)
	}
	fmt.Fprintf(&b, "elapsed %s, achieved %.1f req/s\n", r.Elapsed.Round(time.Millisecond), r.Achieved)
	codes := make([]int, 0, len(r.Status))
	for c := range r.Status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	b.WriteString("status:")
	for _, c := range codes {
		fmt.Fprintf(&b, " %d×%d", c, r.Status[c])
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "latency:      %s\n", r.Latency)
	fmt.Fprintf(&b, "schedule lag: %s\n", r.ScheduleLag)
	for _, p := range r.Problems {
		b.WriteString(wrapText("input problem: "+p.Error(), 100, "    "))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if r.Diff != nil {
		return r.Diff.WriteText(w)
	}
	return nil
}

type statser interface{ Stats() ReadStats }

// Replay sends the type-1 records of src to cfg.Target, paced as cfg
// says, and returns a report. It returns early with the report so far and
// ctx.Err() when ctx is done. It owns the goroutines it starts (at most
// Concurrency) and waits for them before returning. The caller owns src.
func Replay(ctx context.Context, src RecordSource, cfg ReplayConfig) (*Report, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: Replay: nil source", ErrInvalid)
	}
	if cfg.Target == "" {
		return nil, fmt.Errorf("%w: Replay: empty Target (want http://host:port)", ErrInvalid)
	}
	base, err := parseTargetURL(cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("%w: Replay: %v", ErrInvalid, err)
	}
	var baseline *url.URL
	if cfg.Baseline != "" {
		if baseline, err = parseTargetURL(cfg.Baseline); err != nil {
			return nil, fmt.Errorf("%w: Replay Baseline: %v", ErrInvalid, err)
		}
	}
	switch {
	case math.IsNaN(cfg.Speed) || math.IsInf(cfg.Speed, 0) || cfg.Speed < 0:
		return nil, fmt.Errorf("%w: Replay: Speed %v must be > 0 (use Unpaced for no waiting)", ErrInvalid, cfg.Speed)
	case math.IsNaN(cfg.RPS) || math.IsInf(cfg.RPS, 0) || cfg.RPS < 0:
		return nil, fmt.Errorf("%w: Replay: RPS %v must be >= 0", ErrInvalid, cfg.RPS)
	case cfg.RPS > 0 && cfg.Unpaced:
		return nil, fmt.Errorf("%w: Replay: set RPS or Unpaced, not both", ErrInvalid)
	case cfg.Concurrency < 0 || cfg.Timeout < 0 || cfg.Loops < -1:
		return nil, fmt.Errorf("%w: Replay: negative Concurrency or Timeout, or Loops < -1", ErrInvalid)
	}
	if cfg.Speed == 0 {
		cfg.Speed = 1
	}
	if cfg.MaxGap == 0 {
		cfg.MaxGap = 10 * time.Second
	}
	rules, err := compileRules("ReplayConfig.Rules", cfg.Rules)
	if err != nil {
		return nil, err
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 64
	}
	if cfg.Loops == 0 {
		cfg.Loops = 1
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Name == "" {
		cfg.Name = base.Host
	}
	rs, canReset := src.(Resetter)
	if cfg.Loops != 1 && !canReset {
		return nil, fmt.Errorf("%w: Replay: Loops %d needs a source that implements Resetter (OpenGor, Records)", ErrInvalid, cfg.Loops)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	var differ *Differ
	if cfg.Compare != nil {
		if differ, err = NewDiffer(*cfg.Compare); err != nil {
			return nil, err
		}
	}
	client := cfg.Client
	if client == nil {
		tr := &http.Transport{
			DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        cfg.Concurrency * 2,
			MaxIdleConnsPerHost: cfg.Concurrency * 2,
			IdleConnTimeout:     90 * time.Second,
		}
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	rp := &replayer{cfg: cfg, rules: rules, base: base, baseline: baseline, client: client, differ: differ, log: log,
		rep: &Report{Status: map[int]int{}}, pairs: map[string]*pair{}}
	err = rp.run(ctx, src, rs)
	rep := rp.rep
	rep.Latency = exactPercentiles(rp.lat)
	rep.ScheduleLag = exactPercentiles(rp.lag)
	if !rp.first.IsZero() {
		rep.Elapsed = rp.last.Sub(rp.first)
		if rep.Elapsed > 0 {
			rep.Achieved = float64(rep.Sent) / rep.Elapsed.Seconds()
		}
	}
	if st, ok := src.(statser); ok {
		s := st.Stats()
		rep.Malformed += s.Malformed + s.TruncatedTail
		rep.Problems = s.Problems
	}
	if differ != nil {
		s := differ.Summary()
		rep.Diff = &s
	}
	return rep, err
}

type pair struct {
	method, path string
	recorded     *Response
	replayed     *Response
	baseline     *Response
	done         bool
}

type replayer struct {
	cfg      ReplayConfig
	rules    *rules
	base     *url.URL
	baseline *url.URL
	client   *http.Client
	differ   *Differ
	log      *slog.Logger

	mu          sync.Mutex
	rep         *Report
	lat, lag    []time.Duration
	first, last time.Time
	pairs       map[string]*pair
}

func (rp *replayer) run(ctx context.Context, src RecordSource, rs Resetter) error {
	cfg := rp.cfg
	sem := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	var offset time.Duration
	n := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for loop := 0; cfg.Loops < 0 || loop < cfg.Loops; loop++ {
		if loop > 0 {
			if err := rs.Reset(); err != nil {
				return fmt.Errorf("mirror: replay: reset source for loop %d: %w", loop+1, err)
			}
		}
		var prevTS int64
		firstInLoop := true
		for {
			rec, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var fe *FormatError
				if errors.As(err, &fe) {
					rp.mu.Lock()
					rp.rep.Malformed++
					rp.mu.Unlock()
					continue
				}
				return fmt.Errorf("mirror: replay: read: %w", err)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if rec.Kind == KindResponse {
				if rp.differ != nil && loop == 0 {
					rp.addRecorded(rec)
				}
				continue
			}
			if rec.Kind != KindRequest {
				continue
			}
			rp.mu.Lock()
			rp.rep.Requests++
			rp.mu.Unlock()
			req, perr := rec.Request()
			if perr != nil {
				rp.log.Debug("mirror: replay: bad request record", "id", rec.ID, "err", perr)
				rp.mu.Lock()
				rp.rep.Malformed++
				rp.mu.Unlock()
				continue
			}
			if !rp.rules.keep(req) || (cfg.Filter != nil && !cfg.Filter(rec, req)) {
				rp.mu.Lock()
				rp.rep.Skipped++
				rp.mu.Unlock()
				continue
			}
			// Intended send time.
			var intended time.Time
			switch {
			case cfg.Unpaced:
				intended = time.Now()
			case cfg.RPS > 0:
				intended = start.Add(time.Duration(float64(n) / cfg.RPS * float64(time.Second)))
			default:
				if !firstInLoop {
					gap := time.Duration(rec.Time - prevTS)
					if gap < 0 {
						gap = 0
					}
					if cfg.MaxGap > 0 && gap > cfg.MaxGap {
						gap = 0
						rp.mu.Lock()
						rp.rep.SkippedGaps++
						rp.mu.Unlock()
						rp.log.Debug("mirror: replay: recorded gap longer than MaxGap skipped", "id", rec.ID,
							"gap", time.Duration(rec.Time-prevTS), "max_gap", cfg.MaxGap)
					}
					offset += time.Duration(float64(gap) / cfg.Speed)
				}
				intended = start.Add(offset)
			}
			// Only move the clock forward: an out-of-order record keeps the
			// later reference (GoReplay's window does the same).
			if firstInLoop || rec.Time > prevTS {
				prevTS = rec.Time
			}
			firstInLoop = false
			n++
			if d := time.Until(intended); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			actual := time.Now()
			lag := actual.Sub(intended)
			rp.mu.Lock()
			if rp.first.IsZero() {
				rp.first = actual
			}
			rp.lag = append(rp.lag, lag)
			rp.mu.Unlock()
			wg.Add(1)
			go func(rec Record, req *http.Request, compare bool) {
				defer wg.Done()
				defer func() { <-sem }()
				rp.send(ctx, rec, req, compare)
			}(rec, req, rp.differ != nil && loop == 0)
		}
	}
	return nil
}

func (rp *replayer) addRecorded(rec Record) {
	resp, err := rec.Response(nil)
	if err != nil {
		return
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	p := rp.pairs[rec.ID]
	if p == nil {
		p = &pair{}
		rp.pairs[rec.ID] = p
	}
	p.recorded = &resp
	rp.tryCompareLocked(rec.ID, p)
}

func (rp *replayer) tryCompareLocked(id string, p *pair) {
	if p.done || p.recorded == nil || p.replayed == nil {
		return
	}
	if rp.baseline != nil && p.baseline == nil {
		return
	}
	p.done = true
	delete(rp.pairs, id)
	rp.differ.Observe(p.method, p.path, *p.recorded, *p.replayed, p.baseline)
}

func (rp *replayer) do(ctx context.Context, base *url.URL, rec Record, req *http.Request, limit int64) (Response, time.Duration, error) {
	cfg := rp.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	u := shadowURL(base, cfg.PathMode, rp.rules.rewriteURI(req.URL))
	body, _ := io.ReadAll(req.Body)
	out, err := http.NewRequestWithContext(ctx, req.Method, u.String(), strings.NewReader(string(body)))
	if err != nil {
		return Response{}, 0, err
	}
	out.ContentLength = int64(len(body))
	if len(body) == 0 {
		out.Body = http.NoBody
	}
	out.Header = req.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	switch cfg.Host {
	case HostKeep:
		out.Host = req.Host
	case HostTarget:
		out.Host = ""
	case HostShadowSuffix:
		out.Host = shadowHost(req.Host)
	}
	rp.rules.editRequest(out)
	if cfg.Rewrite != nil {
		if err := callRewrite(cfg.Rewrite, out); err != nil {
			return Response{}, 0, err
		}
	}
	t0 := time.Now()
	resp, err := rp.client.Do(out)
	if err != nil {
		return Response{}, time.Since(t0), err
	}
	r, err := readResponse(resp, limit)
	return r, time.Since(t0), err
}

func (rp *replayer) send(ctx context.Context, rec Record, req *http.Request, compare bool) {
	limit := int64(1 << 20)
	if rp.differ != nil {
		limit = rp.differ.cfg.MaxBodyBytes
	}
	var body []byte
	if compare && rp.baseline != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	sendTime := time.Now()
	resp, lat, err := rp.do(ctx, rp.base, rec, req, limit)
	var bresp *Response
	if compare && rp.baseline != nil {
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		if b, _, berr := rp.do(ctx, rp.baseline, rec, req, limit); berr == nil {
			bresp = &b
		}
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.rep.Sent++
	rp.last = time.Now()
	if err != nil {
		rp.rep.Errors++
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			rp.rep.Timeouts++
		}
		rp.log.Debug("mirror: replay: send failed", "id", rec.ID, "err", err)
		return
	}
	rp.rep.Status[resp.Status]++
	rp.lat = append(rp.lat, lat)
	if rp.cfg.Out != nil {
		r3 := RecordResponse(KindReplayedResponse, rec.ID, sendTime, lat, resp)
		r3.Extra = []string{sanitizeField(rp.cfg.Name)}
		if werr := rp.cfg.Out.WriteRecord(r3); werr != nil {
			rp.log.Debug("mirror: replay: write type-3 record", "id", rec.ID, "err", werr)
		}
	}
	if compare {
		p := rp.pairs[rec.ID]
		if p == nil {
			p = &pair{}
			rp.pairs[rec.ID] = p
		}
		p.method, p.path = req.Method, req.URL.Path
		p.replayed = &resp
		if rp.baseline != nil {
			if bresp == nil {
				bresp = &Response{} // baseline failed: everything differs; counted as noise
			}
			p.baseline = bresp
		}
		rp.tryCompareLocked(rec.ID, p)
	}
}

// wrapText word-wraps s at width columns (runes), continuation lines
// starting with indent; a word longer than a line is cut with "…". The
// result ends with a newline.
func wrapText(s string, width int, indent string) string {
	var b strings.Builder
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(w)) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != "" && line != indent {
			line += " "
		}
		line += w
		if len([]rune(line)) > width {
			line = clip(line, width)
		}
	}
	b.WriteString(line + "\n")
	return b.String()
}

// callRewrite runs a user's Rewrite, turning a panic into a *PanicError.
func callRewrite(f func(*http.Request), r *http.Request) (err error) {
	defer func() { err = recovered(recover()) }()
	f(r)
	return nil
}

func sanitizeField(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return '_'
		}
		return r
	}, s)
	if s == "" {
		return "target"
	}
	return s
}
