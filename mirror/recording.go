package mirror

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RecordingStats summarises a recording: what is in a .gor file before it
// is replayed. Build it with SummarizeRecording.
type RecordingStats struct {
	Records    int            // records read
	ByKind     map[Kind]int   // records per type byte
	ByMethod   map[string]int // request records per method
	ByStatus   map[int]int    // original responses (type 2) per status
	ByReplayed map[int]int    // replayed responses (type 3) per status
	ByEndpoint map[string]int // request records per method + TemplatePath(path)
	// First and Last are the earliest and latest request timestamps
	// (zero when there is no request with a valid timestamp).
	First, Last time.Time
	// Unparsed counts request and response records whose first line is
	// not an HTTP request or status line.
	Unparsed int
	// Read is what the source's reader counted (malformed records, bad
	// timestamps, truncated tail), when the source reports it (OpenGor's,
	// *GorReader).
	Read *ReadStats
}

// Span returns Last − First.
func (s *RecordingStats) Span() time.Duration { return s.Last.Sub(s.First) }

// SummarizeRecording reads src to the end and counts its records by type,
// request method, response status and endpoint (method + TemplatePath, as
// the differ groups them), with the time span of the requests. It reads
// only each payload's first line, so it is fast on large captures. The
// caller owns src. A read error ends it and is returned with the counts so
// far.
func SummarizeRecording(src RecordSource) (*RecordingStats, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: SummarizeRecording: nil source", ErrInvalid)
	}
	s := &RecordingStats{ByKind: map[Kind]int{}, ByMethod: map[string]int{}, ByStatus: map[int]int{},
		ByReplayed: map[int]int{}, ByEndpoint: map[string]int{}}
	var first, last int64
	var err error
	for {
		var rec Record
		rec, err = src.Next()
		if err == io.EOF {
			err = nil
			break
		}
		if err != nil {
			var fe *FormatError
			if errors.As(err, &fe) { // Strict readers report and go on
				continue
			}
			break
		}
		s.Records++
		s.ByKind[rec.Kind]++
		switch rec.Kind {
		case KindRequest:
			method, uri, ok := requestLine(rec.Payload)
			if !ok {
				s.Unparsed++
				continue
			}
			s.ByMethod[method]++
			s.ByEndpoint[method+" "+TemplatePath(pathOf(uri))]++
			if rec.Time > 0 {
				if first == 0 || rec.Time < first {
					first = rec.Time
				}
				last = max(last, rec.Time)
			}
		case KindResponse, KindReplayedResponse:
			code, ok := statusLine(rec.Payload)
			if !ok {
				s.Unparsed++
				continue
			}
			if rec.Kind == KindResponse {
				s.ByStatus[code]++
			} else {
				s.ByReplayed[code]++
			}
		}
	}
	if first != 0 {
		s.First, s.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	}
	if st, ok := src.(statser); ok {
		rs := st.Stats()
		s.Read = &rs
	}
	if err != nil {
		return s, fmt.Errorf("mirror: summarize recording: %w", err)
	}
	return s, nil
}

// requestLine parses "METHOD request-target HTTP/x.y" from a payload.
func requestLine(p []byte) (method, uri string, ok bool) {
	line := firstLine(p)
	m, rest, ok1 := bytes.Cut(line, []byte{' '})
	u, proto, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || len(m) == 0 || len(u) == 0 || !bytes.HasPrefix(proto, []byte("HTTP/")) {
		return "", "", false
	}
	return string(m), string(u), true
}

// statusLine parses the code of "HTTP/x.y NNN reason" from a payload.
func statusLine(p []byte) (int, bool) {
	line := firstLine(p)
	proto, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok || !bytes.HasPrefix(proto, []byte("HTTP/")) || len(rest) < 3 {
		return 0, false
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil || code < 100 || code > 999 {
		return 0, false
	}
	return code, true
}

func firstLine(p []byte) []byte {
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		p = p[:i]
	}
	return bytes.TrimSuffix(p, []byte{'\r'})
}

// pathOf returns the path of a request-target (absolute-form included).
func pathOf(uri string) string {
	if i := strings.Index(uri, "://"); i >= 0 {
		uri = uri[i+3:]
		if j := strings.IndexByte(uri, '/'); j >= 0 {
			uri = uri[j:]
		} else {
			uri = "/"
		}
	}
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

// WriteText writes the summary as a readable report, at most 100 columns
// wide, maps sorted by count (then key).
func (s *RecordingStats) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "records: %d", s.Records)
	kinds := make([]Kind, 0, len(s.ByKind))
	for k := range s.ByKind {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	for _, k := range kinds {
		fmt.Fprintf(&b, ", %s %d", k, s.ByKind[k])
	}
	b.WriteString("\n")
	if !s.First.IsZero() {
		fmt.Fprintf(&b, "requests from %s to %s (%s)\n", s.First.Format(time.RFC3339Nano),
			s.Last.Format(time.RFC3339Nano), s.Span())
	}
	writeCounts(&b, "methods", s.ByMethod)
	writeCounts(&b, "status (recorded)", intKeys(s.ByStatus))
	writeCounts(&b, "status (replayed)", intKeys(s.ByReplayed))
	if len(s.ByEndpoint) > 0 {
		b.WriteString("endpoints:\n")
		for _, kv := range sortedCounts(s.ByEndpoint) {
			fmt.Fprintf(&b, "  %7d  %s\n", kv.n, clip(kv.k, 88))
		}
	}
	if s.Unparsed > 0 {
		fmt.Fprintf(&b, "unparsed payloads: %d\n", s.Unparsed)
	}
	if r := s.Read; r != nil && (r.Malformed+r.BadTimestamp+r.TruncatedTail) > 0 {
		fmt.Fprintf(&b, "reader: %d malformed, %d bad timestamps, %d truncated tail\n",
			r.Malformed, r.BadTimestamp, r.TruncatedTail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type count struct {
	k string
	n int
}

func sortedCounts(m map[string]int) []count {
	out := make([]count, 0, len(m))
	for k, n := range m {
		out = append(out, count{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].k < out[j].k
	})
	return out
}

func intKeys(m map[int]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[strconv.Itoa(k)] = v
	}
	return out
}

// writeCounts writes "name: k n, k n" wrapped at 100 columns.
func writeCounts(b *strings.Builder, name string, m map[string]int) {
	if len(m) == 0 {
		return
	}
	line := name + ":"
	for _, kv := range sortedCounts(m) {
		item := fmt.Sprintf(" %s %d", clip(kv.k, 40), kv.n)
		if len(line)+len(item) > 100 {
			b.WriteString(line + "\n")
			line = " "
		}
		line += item
	}
	b.WriteString(line + "\n")
}

// clip cuts s to n runes, marking the cut with "…".
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// RecordingDiff is the outcome of DiffRecordings.
type RecordingDiff struct {
	Summary  DiffSummary // per endpoint and field, as Differ.Summary
	Compared int         // exchanges compared (ByID + ByKey)
	ByID     int         // joined by record ID
	ByKey    int         // joined by method, request URI and body hash
	OnlyA    int         // exchanges of a with no counterpart in b
	OnlyB    int         // responses of b never joined
	// NoResponse counts requests of a without a response in a (nothing to
	// compare).
	NoResponse int
}

// WriteText writes the join counts and the per-endpoint table.
func (d *RecordingDiff) WriteText(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "compared %d exchanges (%d by id, %d by request)\nnot compared: %d only in a, %d only in b, %d without a response in a\n",
		d.Compared, d.ByID, d.ByKey, d.OnlyA, d.OnlyB, d.NoResponse); err != nil {
		return err
	}
	return d.Summary.WriteText(w)
}

// exchange is one request of a recording and its response.
type exchange struct {
	id, method, path, key string
	resp                  *Response
	used                  bool
}

// loadRecording reads src into its exchanges, in request order. The
// response of an ID is its first record of kind prefer (KindResponse or
// KindReplayedResponse), else its first record of the other kind.
func loadRecording(src RecordSource, prefer Kind) (reqs []*exchange, resps map[string]*Response, err error) {
	byID := map[string]*exchange{}
	resps = map[string]*Response{}
	preferred := map[string]bool{}
	for {
		rec, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var fe *FormatError
			if errors.As(err, &fe) {
				continue
			}
			return nil, nil, err
		}
		switch rec.Kind {
		case KindRequest:
			method, uri, ok := requestLine(rec.Payload)
			if !ok {
				continue
			}
			body := rec.Payload
			if i := bytes.Index(body, []byte("\r\n\r\n")); i >= 0 {
				body = body[i+4:]
			} else {
				body = nil
			}
			h := sha256.Sum256(body)
			x := &exchange{id: rec.ID, method: method, path: pathOf(uri),
				key: method + " " + uri + " " + string(h[:8])}
			reqs = append(reqs, x)
			byID[rec.ID] = x
		case KindResponse, KindReplayedResponse:
			if _, ok := resps[rec.ID]; ok && (rec.Kind != prefer || preferred[rec.ID]) {
				continue // the first preferred one wins; it replaces the other kind
			}
			var req *http.Request
			if x := byID[rec.ID]; x != nil && x.method == http.MethodHead {
				req = &http.Request{Method: http.MethodHead}
			}
			r, err := rec.Response(req)
			if err != nil {
				continue
			}
			resps[rec.ID] = &r
			preferred[rec.ID] = rec.Kind == prefer
		}
	}
	for _, x := range reqs {
		x.resp = resps[x.id]
	}
	return reqs, resps, nil
}

// DiffRecordings compares the responses of two recordings, a the expected
// side and b the candidate: for example a capture with responses (type 2)
// and the type-3 output of a Replay, or two captures of the same traffic.
// A response of a is its type-2 record (else type 3); a response of b is
// its type-3 record (else type 2), so b can be a Replay's Out file, or a
// capture with replayed responses, or a second capture. Each request of a
// that has a response in a is joined to b by record ID; failing
// that, to the first unjoined request of b with the same method, request
// URI and body hash (as after a re-recording, where IDs differ). The pairs
// are compared as Differ does, grouped by endpoint. Both recordings are
// held in memory, responses parsed. The caller owns a and b.
func DiffRecordings(a, b RecordSource, cfg DiffConfig) (*RecordingDiff, error) {
	if a == nil || b == nil {
		return nil, fmt.Errorf("%w: DiffRecordings: nil source", ErrInvalid)
	}
	d, err := NewDiffer(cfg)
	if err != nil {
		return nil, err
	}
	areqs, _, err := loadRecording(a, KindResponse)
	if err != nil {
		return nil, fmt.Errorf("mirror: diff recordings: read a: %w", err)
	}
	breqs, bresps, err := loadRecording(b, KindReplayedResponse)
	if err != nil {
		return nil, fmt.Errorf("mirror: diff recordings: read b: %w", err)
	}
	byKey := map[string][]*exchange{}
	bByID := map[string]*exchange{}
	for _, x := range breqs {
		byKey[x.key] = append(byKey[x.key], x)
		bByID[x.id] = x
	}
	usedResp := map[string]bool{}
	out := &RecordingDiff{}
	for _, x := range areqs {
		if x.resp == nil {
			out.NoResponse++
			continue
		}
		var cand *Response
		if r := bresps[x.id]; r != nil && !usedResp[x.id] {
			cand = r
			usedResp[x.id] = true
			if bx := bByID[x.id]; bx != nil {
				bx.used = true
			}
			out.ByID++
		} else {
			q := byKey[x.key]
			for len(q) > 0 && (q[0].used || q[0].resp == nil || usedResp[q[0].id]) {
				q = q[1:]
			}
			if len(q) > 0 {
				q[0].used = true
				usedResp[q[0].id] = true
				cand = q[0].resp
				q = q[1:]
				out.ByKey++
			}
			byKey[x.key] = q
		}
		if cand == nil {
			out.OnlyA++
			continue
		}
		d.Observe(x.method, x.path, *x.resp, *cand, nil)
		out.Compared++
	}
	for id := range bresps {
		if !usedResp[id] {
			out.OnlyB++
		}
	}
	out.Summary = d.Summary()
	return out, nil
}
