package mirror

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// DiffConfig configures response comparison. Zero values mean the
// documented defaults.
type DiffConfig struct {
	// Headers are the response headers compared (default Content-Type).
	// Status is always compared.
	Headers []string
	// IgnoreJSONPaths are JSON body paths never reported: dot-separated keys,
	// "*" matches any key or array index ("now", "items.*.id"). A path also
	// ignores everything below it.
	IgnoreJSONPaths []string
	// EndpointKey groups results (default: method + " " + TemplatePath(path)).
	EndpointKey func(method, path string) string
	// RelativeThreshold and AbsoluteThreshold are Diffy's noise thresholds in
	// percent (defaults 20 and 0.03): with a baseline, a field is reported
	// when raw > noise, |raw−noise|/(raw+noise)·100 > Relative and
	// |raw−noise|/total·100 > Absolute.
	RelativeThreshold float64
	AbsoluteThreshold float64
	// MaxBodyBytes caps the bytes captured and compared per body (default
	// 256 KiB); larger bodies are compared on what was captured and the
	// result is marked Truncated.
	MaxBodyBytes int64
}

// Difference is one field that differs.
type Difference struct {
	Field     string // "status", "header.Content-Type", "body", "body.user.name", "body.items.*"
	Path      string // concrete path, e.g. "body.items.3.id"
	Kind      string // "value", "type", "missing", "extra", "size"
	Primary   string // the expected side, cut to 120 bytes
	Candidate string
}

// String formats the difference for logs.
func (d Difference) String() string {
	return fmt.Sprintf("%s %s: %s ≠ %s", d.Path, d.Kind, d.Primary, d.Candidate)
}

// DiffResult is the comparison of one exchange.
type DiffResult struct {
	Endpoint    string
	Differences []Difference // primary vs candidate, ignore paths applied
	Noise       []Difference // primary vs baseline, when a baseline was given
	Truncated   bool         // a body was cut at MaxBodyBytes
}

// Equal reports whether no difference was found.
func (r DiffResult) Equal() bool { return len(r.Differences) == 0 }

// Differ compares responses and keeps per-endpoint, per-field counts. Safe
// for concurrent use.
type Differ struct {
	cfg    DiffConfig
	ignore [][]string
	mu     sync.Mutex
	eps    map[string]*endpointAcc
}

type endpointAcc struct {
	total, diffs int
	raw, noise   map[string]int
	example      map[string]Difference
}

// NewDiffer validates cfg.
func NewDiffer(cfg DiffConfig) (*Differ, error) {
	if cfg.MaxBodyBytes < 0 || cfg.RelativeThreshold < 0 || cfg.AbsoluteThreshold < 0 {
		return nil, fmt.Errorf("%w: DiffConfig: negative MaxBodyBytes or threshold", ErrInvalid)
	}
	if cfg.Headers == nil {
		cfg.Headers = []string{"Content-Type"}
	}
	if cfg.EndpointKey == nil {
		cfg.EndpointKey = func(method, path string) string { return method + " " + TemplatePath(path) }
	}
	if cfg.RelativeThreshold == 0 {
		cfg.RelativeThreshold = 20
	}
	if cfg.AbsoluteThreshold == 0 {
		cfg.AbsoluteThreshold = 0.03
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 256 << 10
	}
	d := &Differ{cfg: cfg, eps: map[string]*endpointAcc{}}
	for _, p := range cfg.IgnoreJSONPaths {
		if p == "" {
			return nil, fmt.Errorf("%w: DiffConfig: empty IgnoreJSONPaths entry", ErrInvalid)
		}
		d.ignore = append(d.ignore, strings.Split(p, "."))
	}
	return d, nil
}

// TemplatePath replaces path segments that look like identifiers (all
// digits, UUIDs, hex of 8+ characters, or 16+ characters mixing letters and
// digits) with "{id}": "/users/42/orders/9f86d081" → "/users/{id}/orders/{id}".
func TemplatePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if looksLikeID(s) {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

func looksLikeID(s string) bool {
	if s == "" {
		return false
	}
	digits, hexes, letters := 0, 0, 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
			hexes++
		case (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
			hexes++
			letters++
		case c == '-' || c == '_':
		case (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z'):
			letters++
		default:
			return false
		}
	}
	n := len(s)
	switch {
	case digits == n:
		return true
	case len(s) == 36 && strings.Count(s, "-") == 4 && hexes == 32:
		return true
	case hexes == n && n >= 8 && digits > 0:
		return true
	case n >= 16 && digits > 0 && letters > 0:
		return true
	}
	return false
}

// Compare returns the differences between primary (expected) and candidate
// without recording them.
func (d *Differ) Compare(primary, candidate Response) []Difference {
	var out []Difference
	if primary.Status != candidate.Status {
		out = append(out, Difference{Field: "status", Path: "status", Kind: "value",
			Primary: strconv.Itoa(primary.Status), Candidate: strconv.Itoa(candidate.Status)})
	}
	for _, h := range d.cfg.Headers {
		a, b := primary.Header.Get(h), candidate.Header.Get(h)
		if a != b {
			k := "header." + http.CanonicalHeaderKey(h)
			out = append(out, Difference{Field: k, Path: k, Kind: "value", Primary: cut(a), Candidate: cut(b)})
		}
	}
	if bytes.Equal(primary.Body, candidate.Body) {
		return out
	}
	av, aok := decodeJSON(primary)
	bv, bok := decodeJSON(candidate)
	if aok && bok {
		d.jsonDiff(&out, []string{"body"}, []string{"body"}, av, bv)
		return out
	}
	return append(out, Difference{Field: "body", Path: "body", Kind: "value",
		Primary: cut(string(primary.Body)), Candidate: cut(string(candidate.Body))})
}

func decodeJSON(r Response) (any, bool) {
	b := bytes.TrimSpace(r.Body)
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') || r.Truncated {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

// cut makes s printable on one line (CR, LF, tab and other control bytes
// escaped as in Go strings) and cuts it to 120 bytes at a rune boundary.
func cut(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		q := strconv.Quote(s)
		s = q[1 : len(q)-1]
	}
	if len(s) > 120 {
		i := 120
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		return s[:i] + "…"
	}
	return s
}

func (d *Differ) ignored(field []string) bool {
	for _, ig := range d.ignore {
		if len(ig) > len(field)-1 {
			continue
		}
		ok := true
		for i, p := range ig {
			if p != "*" && p != field[i+1] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return cut(string(b))
}

// jsonDiff walks a and b; field uses "*" for array indexes (for grouping),
// path the concrete indexes.
func (d *Differ) jsonDiff(out *[]Difference, field, path []string, a, b any) {
	if d.ignored(path) {
		return
	}
	add := func(kind string, x, y any) {
		*out = append(*out, Difference{Field: strings.Join(field, "."), Path: strings.Join(path, "."),
			Kind: kind, Primary: show(x), Candidate: show(y)})
	}
	ka, kb := jsonKind(a), jsonKind(b)
	if ka != kb {
		add("type", a, b)
		return
	}
	switch av := a.(type) {
	case map[string]any:
		bv := b.(map[string]any)
		keys := make([]string, 0, len(av)+len(bv))
		for k := range av {
			keys = append(keys, k)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			f2 := append(append([]string(nil), field...), k)
			p2 := append(append([]string(nil), path...), k)
			x, inA := av[k]
			y, inB := bv[k]
			switch {
			case inA && !inB:
				if !d.ignored(p2) {
					*out = append(*out, Difference{Field: strings.Join(f2, "."), Path: strings.Join(p2, "."), Kind: "missing", Primary: show(x)})
				}
			case !inA && inB:
				if !d.ignored(p2) {
					*out = append(*out, Difference{Field: strings.Join(f2, "."), Path: strings.Join(p2, "."), Kind: "extra", Candidate: show(y)})
				}
			default:
				d.jsonDiff(out, f2, p2, x, y)
			}
		}
	case []any:
		bv := b.([]any)
		if len(av) != len(bv) {
			*out = append(*out, Difference{Field: strings.Join(field, "."), Path: strings.Join(path, "."), Kind: "size",
				Primary: strconv.Itoa(len(av)), Candidate: strconv.Itoa(len(bv))})
		}
		for i := 0; i < min(len(av), len(bv)); i++ {
			f2 := append(append([]string(nil), field...), "*")
			p2 := append(append([]string(nil), path...), strconv.Itoa(i))
			d.jsonDiff(out, f2, p2, av[i], bv[i])
		}
	default:
		if a != b {
			add("value", a, b)
		}
	}
}

// Observe compares primary with candidate (and, if secondary is not nil,
// primary with secondary as noise), records the counts under the endpoint
// of method and path, and returns the result.
func (d *Differ) Observe(method, path string, primary, candidate Response, secondary *Response) DiffResult {
	res := DiffResult{Endpoint: d.cfg.EndpointKey(method, path), Truncated: primary.Truncated || candidate.Truncated}
	res.Differences = d.Compare(primary, candidate)
	if secondary != nil {
		res.Noise = d.Compare(primary, *secondary)
		res.Truncated = res.Truncated || secondary.Truncated
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	acc := d.eps[res.Endpoint]
	if acc == nil {
		acc = &endpointAcc{raw: map[string]int{}, noise: map[string]int{}, example: map[string]Difference{}}
		d.eps[res.Endpoint] = acc
	}
	acc.total++
	if len(res.Differences) > 0 {
		acc.diffs++
	}
	seen := map[string]bool{}
	for _, x := range res.Differences {
		if !seen[x.Field] {
			seen[x.Field] = true
			acc.raw[x.Field]++
			if _, ok := acc.example[x.Field]; !ok {
				acc.example[x.Field] = x
			}
		}
	}
	seen = map[string]bool{}
	for _, x := range res.Noise {
		if !seen[x.Field] {
			seen[x.Field] = true
			acc.noise[x.Field]++
		}
	}
	return res
}

// FieldSummary is one field's counts at one endpoint.
type FieldSummary struct {
	Field    string
	Raw      int        // exchanges where primary ≠ candidate
	Noise    int        // exchanges where primary ≠ baseline
	Reported bool       // passes the noise thresholds (always true without noise)
	Example  Difference // the first difference seen
}

// EndpointSummary is one endpoint's counts.
type EndpointSummary struct {
	Endpoint string
	Total    int // exchanges compared
	Diffs    int // exchanges with at least one raw difference
	Fields   []FieldSummary
}

// DiffSummary groups differences by endpoint, sorted by endpoint name.
type DiffSummary struct {
	Endpoints []EndpointSummary
}

// Summary returns the counts so far, applying Diffy's noise thresholds.
func (d *Differ) Summary() DiffSummary {
	d.mu.Lock()
	defer d.mu.Unlock()
	var s DiffSummary
	for name, acc := range d.eps {
		es := EndpointSummary{Endpoint: name, Total: acc.total, Diffs: acc.diffs}
		fields := map[string]bool{}
		for f := range acc.raw {
			fields[f] = true
		}
		for f := range acc.noise {
			fields[f] = true
		}
		for f := range fields {
			raw, noise := acc.raw[f], acc.noise[f]
			fs := FieldSummary{Field: f, Raw: raw, Noise: noise, Example: acc.example[f]}
			if noise == 0 {
				fs.Reported = raw > 0
			} else {
				delta := math.Abs(float64(raw - noise))
				fs.Reported = raw > noise &&
					delta/float64(raw+noise)*100 > d.cfg.RelativeThreshold &&
					delta/float64(acc.total)*100 > d.cfg.AbsoluteThreshold
			}
			es.Fields = append(es.Fields, fs)
		}
		sort.Slice(es.Fields, func(i, j int) bool { return es.Fields[i].Field < es.Fields[j].Field })
		s.Endpoints = append(s.Endpoints, es)
	}
	sort.Slice(s.Endpoints, func(i, j int) bool { return s.Endpoints[i].Endpoint < s.Endpoints[j].Endpoint })
	return s
}

// Reported returns the reported fields of every endpoint, "endpoint field".
func (s DiffSummary) Reported() []string {
	var out []string
	for _, e := range s.Endpoints {
		for _, f := range e.Fields {
			if f.Reported {
				out = append(out, e.Endpoint+" "+f.Field)
			}
		}
	}
	return out
}

// WriteText writes a readable table of the summary: a line per endpoint,
// a line per field ("!" marks the fields reported), and the field's first
// example as its path and kind, then the expected value after "-" and the
// candidate after "+". No line is wider than 100 columns (long values are
// cut with "…"), and values are escaped, so a body with newlines stays on
// one line.
func (s DiffSummary) WriteText(w io.Writer) error {
	var b strings.Builder
	if len(s.Endpoints) == 0 {
		b.WriteString("diff: nothing compared\n")
	}
	for _, e := range s.Endpoints {
		b.WriteString(clip(fmt.Sprintf("%s: %d compared, %d with differences", e.Endpoint, e.Total, e.Diffs), 100))
		b.WriteString("\n")
		for _, f := range e.Fields {
			mark := "  "
			if f.Reported {
				mark = "! "
			}
			b.WriteString(clip(fmt.Sprintf("  %s%-30s raw %d  noise %d", mark, f.Field, f.Raw, f.Noise), 100))
			x := f.Example
			b.WriteString(clip(fmt.Sprintf("\n      e.g. %s (%s)", x.Path, x.Kind), 101))
			b.WriteString(clip("\n        - "+x.Primary, 101))
			b.WriteString(clip("\n        + "+x.Candidate, 101))
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
