package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
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
	src, err := mirror.OpenGor(pattern, mirror.ReadConfig{Strict: strict})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, mirror.ErrInvalid) {
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

// gorStat is the JSON form of plumb gor stat: mirror.RecordingStats with
// kinds by name and the span spelled out.
type gorStat struct {
	Records    int
	ByKind     map[string]int
	ByMethod   map[string]int
	ByStatus   map[int]int
	ByReplayed map[int]int
	Endpoints  []endpointCount
	First      time.Time
	Last       time.Time
	Span       string
	Unparsed   int
	Read       *mirror.ReadStats `json:",omitempty"`
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
			if top < 0 {
				return usagef("--top %d: want 0 (all) or more", top)
			}
			src, err := openGor(argv[0], false)
			if err != nil {
				return err
			}
			defer src.Close()
			rs, err := mirror.SummarizeRecording(src)
			if err != nil {
				return err
			}
			if !a.isJSON() {
				return rs.WriteText(a.Stdout)
			}
			st := gorStat{Records: rs.Records, ByKind: map[string]int{}, ByMethod: rs.ByMethod, ByStatus: rs.ByStatus,
				ByReplayed: rs.ByReplayed, First: rs.First, Last: rs.Last, Span: rs.Span().String(),
				Unparsed: rs.Unparsed, Read: rs.Read, Endpoints: []endpointCount{}}
			for k, n := range rs.ByKind {
				st.ByKind[kindName(k)] += n
			}
			for e, c := range rs.ByEndpoint {
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
			return a.json(st)
		},
	}
	cmd.Flags().IntVar(&top, "top", 0, "endpoints in the JSON output (0: all)")
	return cmd
}

// countingSource counts the records Replay has read, for progress.
// It also estimates the bytes of the pass read so far (payload, header and
// separator), against total, the size of the plain files (0 when unknown).
type countingSource struct {
	mirror.RecordSource
	total int64
	n     atomic.Int64
	bytes atomic.Int64
	pass  atomic.Int64
}

func (c *countingSource) Next() (mirror.Record, error) {
	r, err := c.RecordSource.Next()
	if err == nil {
		c.n.Add(1)
		c.bytes.Add(int64(len(r.Payload) + len(r.ID) + 28 + len(strings.Join(r.Extra, " ")) + len(mirror.GorSeparator)))
	}
	return r, err
}

// Reset passes through to a resettable source, for --loop.
func (c *countingSource) Reset() error {
	if r, ok := c.RecordSource.(mirror.Resetter); ok {
		c.bytes.Store(0)
		c.pass.Add(1)
		return r.Reset()
	}
	return errors.New("source cannot be reset")
}

// line is the progress line: a bar when the size is known.
func (c *countingSource) line() string {
	n, pass := c.n.Load(), c.pass.Load()+1
	if c.total <= 0 {
		return fmt.Sprintf("replay: pass %d, %d records read", pass, n)
	}
	frac := min(float64(c.bytes.Load())/float64(c.total), 1)
	const width = 30
	done := int(frac * width)
	return fmt.Sprintf("replay: pass %d [%s%s] %3.0f%%, %d records read", pass,
		strings.Repeat("#", done), strings.Repeat(".", width-done), frac*100, n)
}

// plainSize is the total size of the files matching pattern, or 0 when one
// is compressed (its decompressed size is unknown).
func plainSize(pattern string) int64 {
	paths, _ := filepath.Glob(pattern)
	var total int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || strings.HasSuffix(p, ".gz") {
			return 0
		}
		total += fi.Size()
	}
	return total
}

func (a *app) gorReplayCmd() *cobra.Command {
	var (
		target, outFile, hostPolicy string
		speed, rps                  float64
		unpaced, compare            bool
		concurrency, loops          int
		methods, allowURL, denyURL  []string
		allowHeader, denyHeader     []string
		setHeader, deleteHeader     []string
		rewriteURL, ignore          []string
		timeout, maxGap             time.Duration
	)
	cmd := &cobra.Command{
		Use:   "replay FILE --target URL",
		Short: "Send the recorded requests to a target, paced, and report statuses, latency and schedule lag",
		Long: `replay sends the type-1 records of FILE to --target at the recorded timing
times --speed, at a fixed --rps, or --unpaced under --concurrency, --loop
times. The filter and rewrite flags are GoReplay's --http-* flags (Go
regexps on the request URI or a header value). --compare diffs each recorded
response with the replayed one (exit 1 when a field differs); --output-file
writes the replayed responses as type-3 records, for plumb gor diff. Progress
is drawn on stderr when stdout is a terminal.`,
		Example: `  plumb gor replay requests.gor --target http://staging:8080 --speed 2
  plumb gor replay requests.gor --target http://v2:8080 --rps 50 --method GET --allow-url '^/api/' --compare
  plumb gor replay requests.gor --target http://v2:8080 --loop 3 --set-header 'Authorization: Bearer test' \
      --rewrite-url '^/v1/(.*):/v2/$1'`,
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
				Concurrency: concurrency, Loops: loops, Timeout: timeout, MaxGap: maxGap,
				Logger: slog.New(slog.DiscardHandler)}
			switch hostPolicy {
			case "keep":
				cfg.Host = mirror.HostKeep
			case "target":
				cfg.Host = mirror.HostTarget
			default:
				return usagef("--host %q: want keep or target", hostPolicy)
			}
			rules, err := replayRules(methods, allowURL, denyURL, allowHeader, denyHeader, setHeader, deleteHeader, rewriteURL)
			if err != nil {
				return err
			}
			cfg.Rules = rules
			if compare {
				cfg.Compare = &mirror.DiffConfig{IgnoreJSONPaths: ignore}
			}
			src, err := openGor(argv[0], false)
			if err != nil {
				return err
			}
			defer src.Close()
			var gw *mirror.GorWriter
			if outFile != "" {
				f, err := os.Create(outFile)
				if err != nil {
					return usage(err)
				}
				defer f.Close()
				gw = mirror.NewGorWriter(f)
				cfg.Out = gw
			}
			cs := &countingSource{RecordSource: src, total: plainSize(argv[0])}
			stop := a.ticker(func() { a.progress("%s", cs.line()) })
			rep, err := mirror.Replay(cmd.Context(), cs, cfg)
			stop()
			if gw != nil {
				if ferr := gw.Flush(); ferr != nil && err == nil {
					err = ferr
				}
			}
			if err != nil && rep == nil {
				if errors.Is(err, mirror.ErrInvalid) {
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
	f.StringSliceVar(&methods, "method", nil, "only these methods (repeatable; GoReplay --http-allow-method)")
	f.StringArrayVar(&allowURL, "allow-url", nil, "only request URIs matching this regexp (repeatable)")
	f.StringArrayVar(&denyURL, "deny-url", nil, "drop request URIs matching this regexp (repeatable)")
	f.StringArrayVar(&allowHeader, "allow-header", nil, "only requests whose header matches, 'Name: regexp' (repeatable)")
	f.StringArrayVar(&denyHeader, "deny-header", nil, "drop requests whose header matches, 'Name: regexp' (repeatable)")
	f.StringArrayVar(&rewriteURL, "rewrite-url", nil, "rewrite request URIs, 'regexp:replacement' ($1 for groups; repeatable)")
	f.StringArrayVar(&setHeader, "set-header", nil, "set a header on every request, 'Name: value' (repeatable)")
	f.StringArrayVar(&deleteHeader, "delete-header", nil, "remove a header from every request (repeatable)")
	f.StringVar(&hostPolicy, "host", "keep", "Host header: keep (the recorded one) or target")
	f.BoolVar(&compare, "compare", false, "diff recorded responses with replayed ones; exit 1 on a difference")
	f.StringSliceVar(&ignore, "ignore", nil, "JSON body paths --compare ignores, e.g. now,items.*.id (repeatable)")
	f.StringVar(&outFile, "output-file", "", "write replayed responses to this .gor file (type 3)")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "limit per request")
	f.DurationVar(&maxGap, "max-gap", 10*time.Second, "longest recorded gap honoured; longer ones are skipped (-1s: no limit)")
	cmd.RegisterFlagCompletionFunc("host", fixed("keep", "target"))
	cmd.RegisterFlagCompletionFunc("method", fixed("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
	return cmd
}

// replayRules turns the filter and rewrite flags into mirror.Rules; Replay
// itself checks the regexps (an invalid one is ErrInvalid, a usage error).
func replayRules(methods, allowURL, denyURL, allowHeader, denyHeader, setHeader, deleteHeader, rewriteURL []string) (mirror.Rules, error) {
	r := mirror.Rules{AllowURL: allowURL, DenyURL: denyURL, DeleteHeader: deleteHeader}
	for _, m := range methods {
		r.AllowMethods = append(r.AllowMethods, strings.ToUpper(m))
	}
	nameValue := func(flag, kv string) (string, string, error) {
		k, v, ok := strings.Cut(kv, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return "", "", usagef("--%s %q: want 'Name: value'", flag, kv)
		}
		return k, strings.TrimSpace(v), nil
	}
	for _, kv := range allowHeader {
		k, v, err := nameValue("allow-header", kv)
		if err != nil {
			return r, err
		}
		r.AllowHeader = append(r.AllowHeader, mirror.HeaderMatch{Name: k, Pattern: v})
	}
	for _, kv := range denyHeader {
		k, v, err := nameValue("deny-header", kv)
		if err != nil {
			return r, err
		}
		r.DenyHeader = append(r.DenyHeader, mirror.HeaderMatch{Name: k, Pattern: v})
	}
	for _, kv := range setHeader {
		k, v, err := nameValue("set-header", kv)
		if err != nil {
			return r, err
		}
		r.SetHeader = append(r.SetHeader, mirror.HeaderValue{Name: k, Value: v})
	}
	for _, pr := range rewriteURL {
		// GoReplay's form: pattern:replacement, split at the last colon
		// not inside the replacement's scheme-less path.
		i := strings.LastIndex(pr, ":")
		if i <= 0 {
			return r, usagef("--rewrite-url %q: want 'regexp:replacement'", pr)
		}
		r.RewriteURL = append(r.RewriteURL, mirror.URLRewrite{Pattern: pr[:i], Replacement: pr[i+1:]})
	}
	return r, nil
}

func (a *app) gorDiffCmd() *cobra.Command {
	var ignore, headers []string
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare the responses of two .gor files; exit 1 when they differ",
		Long: `diff compares the responses of A (the expected side: its type-2 records,
else type 3) with those of B (type 3, else type 2), so B can be a replay's
--output-file or a second capture. Requests are joined by record ID, else by
method, request URI and body. Responses are compared on status, --header
headers (default Content-Type) and JSON bodies field by field, ignoring
--ignore paths, and grouped by endpoint (method + templated path). It exits 1
when a field differs, for CI.`,
		Example:           "  plumb gor diff recorded.gor replayed.gor --ignore now,items.*.id",
		Args:              args(cobra.ExactArgs(2)),
		ValidArgsFunction: gorFiles,
		RunE: func(cmd *cobra.Command, argv []string) error {
			srcA, err := openGor(argv[0], false)
			if err != nil {
				return err
			}
			defer srcA.Close()
			srcB, err := openGor(argv[1], false)
			if err != nil {
				return err
			}
			defer srcB.Close()
			d, err := mirror.DiffRecordings(srcA, srcB, mirror.DiffConfig{IgnoreJSONPaths: ignore, Headers: headers})
			if err != nil {
				if errors.Is(err, mirror.ErrInvalid) {
					return usage(err)
				}
				return err
			}
			reported := d.Summary.Reported()
			if a.isJSON() {
				if err := a.json(struct {
					Compared, ByID, ByKey, OnlyA, OnlyB, NoResponse int
					Reported                                        []string
					Summary                                         mirror.DiffSummary
				}{d.Compared, d.ByID, d.ByKey, d.OnlyA, d.OnlyB, d.NoResponse, nonNil(reported), d.Summary}); err != nil {
					return err
				}
			} else if err := d.WriteText(a.Stdout); err != nil {
				return err
			}
			if d.Compared == 0 {
				return fmt.Errorf("no response of %s has a counterpart in %s (joined by record ID, then method, URI and body)", argv[0], argv[1])
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
