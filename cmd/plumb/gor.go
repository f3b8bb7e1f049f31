package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/goplumb/plumb/mirror"
	"github.com/spf13/cobra"
)

func (a *app) gorCmd() *cobra.Command {
	return group("gor", "Read, summarise, replay and diff GoReplay .gor files",
		a.gorCatCmd(), a.gorStatCmd(), a.gorReplayCmd(), a.gorDiffCmd())
}

// openGor opens FILE (a path or glob of plain or gzip .gor files, merged by
// timestamp); a missing file is a usage error.
func openGor(pattern string, strict bool) (*mirror.GorSource, error) {
	var opts []mirror.ReadOption
	if strict {
		opts = append(opts, mirror.Strict())
	}
	src, err := mirror.OpenGor(pattern, 0, opts...)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, usage(err)
		}
		return nil, err
	}
	return src, nil
}

func kindName(k mirror.Kind) string {
	switch k {
	case mirror.KindRequest:
		return "request"
	case mirror.KindResponse:
		return "response"
	case mirror.KindReplayedResponse:
		return "replayed"
	}
	return "type-" + string(rune(k))
}

// firstLine is the request or status line of a record's payload.
func firstLine(p []byte) string {
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		p = p[:i]
	}
	return strings.TrimRight(string(p), "\r")
}

func (a *app) gorCatCmd() *cobra.Command {
	var kinds []string
	var limit int
	var payload, strict bool
	cmd := &cobra.Command{
		Use:   "cat FILE",
		Short: "Print the records of .gor files (a path or a glob; gzip is read too)",
		Long: `cat prints one line per record (time, kind, id, latency, request or status line)
or, with --payload, the whole HTTP message. -o json prints each record as a
JSON object per line with the payload as a string.`,
		Example:           "  plumb gor cat requests.gor --kind request --limit 20\n  plumb gor cat 'capture_*.gor.gz' --payload",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: gorFiles,
		RunE: func(cmd *cobra.Command, argv []string) error {
			want, err := kindFilter(kinds)
			if err != nil {
				return err
			}
			src, err := openGor(argv[0], strict)
			if err != nil {
				return err
			}
			defer src.Close()
			w := bufio.NewWriter(a.Stdout)
			defer w.Flush()
			tw := a.table()
			if !a.isJSON() && !payload {
				tw = newTabTo(w)
				fmt.Fprintln(tw, "TIME\tKIND\tID\tLATENCY\tLINE")
			}
			n := 0
			for limit <= 0 || n < limit {
				rec, err := src.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				if want != nil && !want[rec.Kind] {
					continue
				}
				n++
				switch {
				case a.isJSON():
					b, _ := jsonLine(map[string]any{
						"kind": kindName(rec.Kind), "id": rec.ID, "time": time.Unix(0, rec.Time).UTC(),
						"latency_ns": rec.Latency, "extra": rec.Extra, "payload": string(rec.Payload),
					})
					w.Write(b)
				case payload:
					fmt.Fprintf(w, "%c %s %d %d%s\n", rec.Kind, rec.ID, rec.Time, rec.Latency, extra(rec.Extra))
					w.Write(rec.Payload)
					if !bytes.HasSuffix(rec.Payload, []byte("\n")) {
						w.WriteByte('\n')
					}
					w.WriteString("\n")
				default:
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", time.Unix(0, rec.Time).UTC().Format("2006-01-02T15:04:05.000"),
						kindName(rec.Kind), rec.ID, time.Duration(rec.Latency), firstLine(rec.Payload))
				}
			}
			if !a.isJSON() && !payload {
				tw.Flush()
			}
			a.reportProblems(src.Stats())
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&kinds, "kind", nil, "only these kinds: request, response, replayed (repeatable)")
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after N records (0: all)")
	cmd.Flags().BoolVar(&payload, "payload", false, "print whole records in .gor text form")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on a malformed record instead of skipping and counting it")
	cmd.RegisterFlagCompletionFunc("kind", fixed("request", "response", "replayed"))
	return cmd
}

func extra(e []string) string {
	if len(e) == 0 {
		return ""
	}
	return " " + strings.Join(e, " ")
}

func gorFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"gor", "gz"}, cobra.ShellCompDirectiveFilterFileExt
}

func kindFilter(kinds []string) (map[mirror.Kind]bool, error) {
	if len(kinds) == 0 {
		return nil, nil
	}
	m := map[mirror.Kind]bool{}
	for _, k := range kinds {
		switch k {
		case "request", "1":
			m[mirror.KindRequest] = true
		case "response", "2":
			m[mirror.KindResponse] = true
		case "replayed", "3":
			m[mirror.KindReplayedResponse] = true
		default:
			return nil, usagef("--kind %q: want request, response or replayed", k)
		}
	}
	return m, nil
}

// reportProblems says on stderr what the reader skipped, so a damaged file
// is never read silently.
func (a *app) reportProblems(st mirror.ReadStats) {
	if n := st.Malformed + st.BadTimestamp + st.TruncatedTail; n > 0 {
		fmt.Fprintf(a.Stderr, "plumb: warning: %d malformed, %d bad timestamps, %d truncated tail (use --strict to fail)\n",
			st.Malformed, st.BadTimestamp, st.TruncatedTail)
	}
}

// gorStat is what plumb gor stat reports.
type gorStat struct {
	Records   int
	ByKind    map[string]int
	ByMethod  map[string]int
	ByStatus  map[string]int
	Endpoints []endpointCount
	First     time.Time
	Last      time.Time
	Span      string
	Malformed int
	BadTime   int `json:"BadTimestamp"`
	Truncated int `json:"TruncatedTail"`
}

type endpointCount struct {
	Endpoint string
	Count    int
}

func (a *app) gorStatCmd() *cobra.Command {
	var top int
	cmd := &cobra.Command{
		Use:               "stat FILE",
		Short:             "Count records by kind, method, status and endpoint, and show the time span",
		Example:           "  plumb gor stat requests.gor\n  plumb gor stat 'capture_*.gor' -o json",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: gorFiles,
		RunE: func(cmd *cobra.Command, argv []string) error {
			src, err := openGor(argv[0], false)
			if err != nil {
				return err
			}
			defer src.Close()
			st := gorStat{ByKind: map[string]int{}, ByMethod: map[string]int{}, ByStatus: map[string]int{}}
			endpoints := map[string]int{}
			for {
				rec, err := src.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				st.Records++
				st.ByKind[kindName(rec.Kind)]++
				if rec.Time > 0 {
					t := time.Unix(0, rec.Time).UTC()
					if st.First.IsZero() || t.Before(st.First) {
						st.First = t
					}
					if t.After(st.Last) {
						st.Last = t
					}
				}
				switch rec.Kind {
				case mirror.KindRequest:
					if req, err := rec.Request(); err == nil {
						st.ByMethod[req.Method]++
						endpoints[req.Method+" "+mirror.TemplatePath(req.URL.Path)]++
					} else {
						st.ByMethod["(unparsable)"]++
					}
				case mirror.KindResponse, mirror.KindReplayedResponse:
					if f := strings.Fields(firstLine(rec.Payload)); len(f) >= 2 {
						st.ByStatus[f[1]]++
					} else {
						st.ByStatus["(unparsable)"]++
					}
				}
			}
			rs := src.Stats()
			st.Malformed, st.BadTime, st.Truncated = rs.Malformed, rs.BadTimestamp, rs.TruncatedTail
			for e, c := range endpoints {
				st.Endpoints = append(st.Endpoints, endpointCount{e, c})
			}
			sort.Slice(st.Endpoints, func(i, j int) bool {
				if st.Endpoints[i].Count != st.Endpoints[j].Count {
					return st.Endpoints[i].Count > st.Endpoints[j].Count
				}
				return st.Endpoints[i].Endpoint < st.Endpoints[j].Endpoint
			})
			if top > 0 && len(st.Endpoints) > top {
				st.Endpoints = st.Endpoints[:top]
			}
			if st.Endpoints == nil {
				st.Endpoints = []endpointCount{}
			}
			st.Span = st.Last.Sub(st.First).String()
			if a.isJSON() {
				return a.json(st)
			}
			tw := a.table()
			fmt.Fprintf(tw, "records\t%d\n", st.Records)
			if !st.First.IsZero() {
				fmt.Fprintf(tw, "span\t%s .. %s (%s)\n", st.First.Format(time.RFC3339Nano), st.Last.Format(time.RFC3339Nano), st.Span)
			}
			fmt.Fprintf(tw, "problems\t%d malformed, %d bad timestamps, %d truncated tail\n", st.Malformed, st.BadTime, st.Truncated)
			section := func(title string, m map[string]int) {
				fmt.Fprintf(tw, "\n%s\t\n", title)
				for _, k := range sortedKeys(m) {
					fmt.Fprintf(tw, "  %s\t%d\n", k, m[k])
				}
			}
			section("kind", st.ByKind)
			section("method", st.ByMethod)
			section("status", st.ByStatus)
			fmt.Fprintf(tw, "\nendpoint\t\n")
			for _, e := range st.Endpoints {
				fmt.Fprintf(tw, "  %s\t%d\n", e.Endpoint, e.Count)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&top, "top", 20, "endpoints shown (0: all)")
	return cmd
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// countingSource counts the records Replay has read, for progress.
type countingSource struct {
	mirror.RecordSource
	n atomic.Int64
}

func (c *countingSource) Next() (mirror.Record, error) {
	r, err := c.RecordSource.Next()
	if err == nil {
		c.n.Add(1)
	}
	return r, err
}

// Reset passes through to a resettable source, for --loop.
func (c *countingSource) Reset() error {
	if r, ok := c.RecordSource.(mirror.Resetter); ok {
		return r.Reset()
	}
	return errors.New("source cannot be reset")
}

func (a *app) gorReplayCmd() *cobra.Command {
	var (
		target, outFile, hostPolicy string
		speed, rps                  float64
		unpaced, compare            bool
		concurrency, loops          int
		methods, headers, ignore    []string
		pathRe, excludeRe           string
		timeout, maxWait            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "replay FILE --target URL",
		Short: "Send the recorded requests to a target, paced, and report statuses, latency and schedule lag",
		Long: `replay sends the type-1 records of FILE to --target at the recorded timing
times --speed, at a fixed --rps, or --unpaced under --concurrency. --compare
diffs each recorded response with the replayed one (exit 1 when a field
differs); --output-file writes the replayed responses as type-3 records.
Progress is drawn on stderr when stdout is a terminal.`,
		Example: `  plumb gor replay requests.gor --target http://staging:8080 --speed 2
  plumb gor replay requests.gor --target http://v2:8080 --rps 50 --method GET --path '^/api/' --compare
  plumb gor replay requests.gor --target http://v2:8080 --loop 3 --header 'Authorization: Bearer test'`,
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: gorFiles,
		RunE: func(cmd *cobra.Command, argv []string) error {
			if target == "" {
				return usagef("--target is required (the base URL requests are sent to)")
			}
			if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usagef("--target %q: want an absolute http:// or https:// URL", target)
			}
			cfg := mirror.ReplayConfig{Target: target, Speed: speed, RPS: rps, Unpaced: unpaced,
				Concurrency: concurrency, Loops: loops, Timeout: timeout, MaxWait: maxWait}
			switch hostPolicy {
			case "keep":
				cfg.Host = mirror.HostKeep
			case "target":
				cfg.Host = mirror.HostTarget
			default:
				return usagef("--host %q: want keep or target", hostPolicy)
			}
			filter, err := requestFilter(methods, pathRe, excludeRe)
			if err != nil {
				return err
			}
			cfg.Filter = filter
			rewrite, err := headerRewrite(headers)
			if err != nil {
				return err
			}
			cfg.Rewrite = rewrite
			if compare {
				cfg.Compare = &mirror.DiffConfig{IgnoreJSONPaths: ignore}
			}
			src, err := openGor(argv[0], false)
			if err != nil {
				return err
			}
			defer src.Close()
			if outFile != "" {
				f, err := os.Create(outFile)
				if err != nil {
					return err
				}
				defer f.Close()
				gw := mirror.NewGorWriter(f)
				defer gw.Flush()
				cfg.Out = gw
			}
			cs := &countingSource{RecordSource: src}
			stop := a.ticker(func() { a.progress("replay: %d records read", cs.n.Load()) })
			rep, err := mirror.Replay(cmd.Context(), cs, cfg)
			stop()
			if err != nil && rep == nil {
				if errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "invalid") {
					return usage(err)
				}
				return err
			}
			if a.isJSON() {
				if jerr := a.json(rep); jerr != nil {
					return jerr
				}
			} else if werr := rep.WriteText(a.Stdout); werr != nil {
				return werr
			}
			if err != nil {
				return err
			}
			if rep.Sent > 0 && rep.Errors == rep.Sent {
				return fmt.Errorf("every one of the %d requests failed to reach %s", rep.Sent, redact(target))
			}
			if rep.Diff != nil && len(rep.Diff.Reported()) > 0 {
				return errFound
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", "", "base URL to send the requests to (required)")
	f.Float64Var(&speed, "speed", 1, "scale the recorded gaps: 2 replays twice as fast")
	f.Float64Var(&rps, "rps", 0, "send at this fixed rate, ignoring timestamps")
	f.BoolVar(&unpaced, "unpaced", false, "send as fast as --concurrency allows")
	f.IntVar(&concurrency, "concurrency", 64, "requests in flight at most")
	f.IntVar(&loops, "loop", 1, "passes over the file (-1: until interrupted)")
	f.StringSliceVar(&methods, "method", nil, "only these methods (repeatable)")
	f.StringVar(&pathRe, "path", "", "only paths matching this regular expression")
	f.StringVar(&excludeRe, "exclude-path", "", "skip paths matching this regular expression")
	f.StringArrayVar(&headers, "header", nil, "set a header on every request, 'Name: value' (repeatable)")
	f.StringVar(&hostPolicy, "host", "keep", "Host header: keep (the recorded one) or target")
	f.BoolVar(&compare, "compare", false, "diff recorded responses with replayed ones; exit 1 on a difference")
	f.StringSliceVar(&ignore, "ignore", nil, "JSON body paths --compare ignores, e.g. now,items.*.id (repeatable)")
	f.StringVar(&outFile, "output-file", "", "write replayed responses to this .gor file (type 3)")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "limit per request")
	f.DurationVar(&maxWait, "max-wait", 10*time.Second, "cap on any single recorded gap (-1s: no cap)")
	cmd.RegisterFlagCompletionFunc("host", fixed("keep", "target"))
	cmd.RegisterFlagCompletionFunc("method", fixed("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
	return cmd
}

// requestFilter builds the --method/--path/--exclude-path filter.
func requestFilter(methods []string, pathRe, excludeRe string) (func(mirror.Record, *http.Request) bool, error) {
	var inc, exc *regexp.Regexp
	var err error
	if pathRe != "" {
		if inc, err = regexp.Compile(pathRe); err != nil {
			return nil, usagef("--path: %v", err)
		}
	}
	if excludeRe != "" {
		if exc, err = regexp.Compile(excludeRe); err != nil {
			return nil, usagef("--exclude-path: %v", err)
		}
	}
	if len(methods) == 0 && inc == nil && exc == nil {
		return nil, nil
	}
	for i, m := range methods {
		methods[i] = strings.ToUpper(m)
	}
	return func(_ mirror.Record, r *http.Request) bool {
		if len(methods) > 0 && !slices.Contains(methods, r.Method) {
			return false
		}
		if inc != nil && !inc.MatchString(r.URL.Path) {
			return false
		}
		return exc == nil || !exc.MatchString(r.URL.Path)
	}, nil
}

// headerRewrite builds the --header rewrite.
func headerRewrite(headers []string) (func(*http.Request), error) {
	if len(headers) == 0 {
		return nil, nil
	}
	h := http.Header{}
	for _, kv := range headers {
		k, v, ok := strings.Cut(kv, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, usagef("--header %q: want 'Name: value'", kv)
		}
		h.Add(k, strings.TrimSpace(v))
	}
	return func(r *http.Request) {
		for k, vs := range h {
			r.Header[k] = slices.Clone(vs)
		}
	}, nil
}

// exchange is one request and its response in a .gor file.
type exchange struct {
	method, path string
	resp         *mirror.Response
}

// readExchanges reads the requests and responses of a file by record ID.
func readExchanges(pattern string) (map[string]*exchange, []string, error) {
	src, err := openGor(pattern, false)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	ex := map[string]*exchange{}
	var order []string
	get := func(id string) *exchange {
		e := ex[id]
		if e == nil {
			e = &exchange{}
			ex[id] = e
			order = append(order, id)
		}
		return e
	}
	reqs := map[string]*http.Request{}
	for {
		rec, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		switch rec.Kind {
		case mirror.KindRequest:
			req, err := rec.Request()
			if err != nil {
				continue
			}
			e := get(rec.ID)
			e.method, e.path = req.Method, req.URL.Path
			reqs[rec.ID] = req
		case mirror.KindResponse, mirror.KindReplayedResponse:
			e := get(rec.ID)
			if e.resp != nil && rec.Kind == mirror.KindReplayedResponse {
				continue // a recorded response wins over a replayed one
			}
			resp, err := rec.Response(reqs[rec.ID])
			if err != nil {
				continue
			}
			e.resp = &resp
		}
	}
	return ex, order, nil
}

func (a *app) gorDiffCmd() *cobra.Command {
	var ignore, headers []string
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare the responses of two .gor files, matched by request ID; exit 1 when they differ",
		Long: `diff matches records of A and B by ID (a replay's --output-file shares the
recording's IDs) and compares each pair of responses: status, --header
headers (default Content-Type) and JSON bodies field by field, ignoring
--ignore paths. Differences are grouped by endpoint (method + templated
path). It exits 1 when a field differs, for CI.`,
		Example:           "  plumb gor diff recorded.gor replayed.gor --ignore now,items.*.id",
		Args:              args(cobra.ExactArgs(2)),
		ValidArgsFunction: gorFiles,
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := mirror.NewDiffer(mirror.DiffConfig{IgnoreJSONPaths: ignore, Headers: headers})
			if err != nil {
				return usage(err)
			}
			exA, order, err := readExchanges(argv[0])
			if err != nil {
				return err
			}
			exB, orderB, err := readExchanges(argv[1])
			if err != nil {
				return err
			}
			var compared, onlyA, onlyB int
			for _, id := range order {
				ea, eb := exA[id], exB[id]
				if ea.resp == nil {
					continue
				}
				if eb == nil || eb.resp == nil {
					onlyA++
					continue
				}
				method, path := ea.method, ea.path
				if method == "" {
					method, path = eb.method, eb.path
				}
				d.Observe(method, path, *ea.resp, *eb.resp, nil)
				compared++
			}
			for _, id := range orderB {
				if eb := exB[id]; eb.resp != nil && (exA[id] == nil || exA[id].resp == nil) {
					onlyB++
				}
			}
			sum := d.Summary()
			reported := sum.Reported()
			if a.isJSON() {
				if err := a.json(struct {
					Compared, OnlyA, OnlyB int
					Reported               []string
					Summary                mirror.DiffSummary
				}{compared, onlyA, onlyB, nonNil(reported), sum}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.Stdout, "compared %d responses (%d only in A, %d only in B)\n", compared, onlyA, onlyB)
				if err := sum.WriteText(a.Stdout); err != nil {
					return err
				}
			}
			if compared == 0 {
				return fmt.Errorf("no response of A has a matching response in B (records are matched by ID)")
			}
			if len(reported) > 0 {
				return errFound
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&ignore, "ignore", nil, "JSON body paths never reported, e.g. now,items.*.id (repeatable)")
	cmd.Flags().StringSliceVar(&headers, "header", nil, "response headers compared (default Content-Type)")
	return cmd
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
