package mirror

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Rules are declarative request filters and rewrites, GoReplay's HTTP
// flags in Go (--http-allow-method, --http-allow-url, --http-disallow-url,
// --http-allow-header, --http-disallow-header, --http-set-header,
// --http-rewrite-url). The same Rules work live (Config.Rules, on copies
// only, never on the primary request) and in replay (ReplayConfig.Rules).
// Patterns are Go regexps (RE2 syntax, unanchored unless you anchor them);
// an invalid one makes New or Replay fail with ErrInvalid naming the field.
//
// A request is kept when all filters pass: its method is in AllowMethods
// (if set), its request URI matches some AllowURL (if set) and no DenyURL,
// every AllowHeader matches and no DenyHeader does. Then, on the copy:
// the first RewriteURL rule whose pattern matches rewrites the request URI,
// DeleteHeader removes headers, and SetHeader sets them, in that order.
type Rules struct {
	// AllowMethods, if not empty, lists the only methods kept
	// (case-sensitive, as methods are). Live, Config.Methods applies too.
	AllowMethods []string
	// AllowURL, if not empty, keeps only requests whose request URI (path
	// and query, as "/users/42?page=2") matches at least one pattern.
	AllowURL []string
	// DenyURL drops requests whose request URI matches any pattern.
	DenyURL []string
	// AllowHeader keeps only requests where every rule's header has a value
	// matching its pattern (a missing header does not match).
	AllowHeader []HeaderMatch
	// DenyHeader drops requests with a header value matching any rule.
	DenyHeader []HeaderMatch
	// RewriteURL rewrites the request URI of the copy with the first rule
	// whose Pattern matches (regexp.ReplaceAllString: $1 refers to a group),
	// before the target URL's path is combined with it (PathMode).
	RewriteURL []URLRewrite
	// DeleteHeader lists headers removed from the copy.
	DeleteHeader []string
	// SetHeader sets headers on the copy, replacing any values.
	SetHeader []HeaderValue
}

// HeaderMatch matches a header's value against a regexp.
type HeaderMatch struct {
	Name    string // header name, e.g. "User-Agent"
	Pattern string // regexp on each of the header's values
}

// HeaderValue is a header to set.
type HeaderValue struct {
	Name, Value string
}

// URLRewrite rewrites request URIs matching Pattern to Replacement, e.g.
// {`^/v1/user/([^/]+)/ping`, "/v2/user/$1/ping"}.
type URLRewrite struct {
	Pattern, Replacement string
}

type headerRe struct {
	name string
	re   *regexp.Regexp
}

type urlRe struct {
	re   *regexp.Regexp
	repl string
}

// rules is Rules compiled; the zero value (or nil) keeps everything and
// changes nothing.
type rules struct {
	methods     []string
	allowURL    []*regexp.Regexp
	denyURL     []*regexp.Regexp
	allowHeader []headerRe
	denyHeader  []headerRe
	rewriteURL  []urlRe
	delHeader   []string
	setHeader   []HeaderValue
	filters     bool // any filter set
	edits       bool // any rewrite set
}

// compileRules validates r; field prefixes the field names in errors.
func compileRules(field string, r Rules) (*rules, error) {
	c := &rules{}
	bad := func(name string, i int, v string, err error) error {
		return fmt.Errorf("%w: %s.%s[%d] %q: %v", ErrInvalid, field, name, i, v, err)
	}
	for i, m := range r.AllowMethods {
		if m == "" || strings.ContainsAny(m, " \t\r\n") {
			return nil, bad("AllowMethods", i, m, fmt.Errorf("want a method name such as GET"))
		}
		if up := strings.ToUpper(m); up != m && isStandardMethod(up) {
			return nil, bad("AllowMethods", i, m, fmt.Errorf("methods are case-sensitive; use %q", up))
		}
		c.methods = append(c.methods, m)
	}
	compile := func(name string, pats []string) ([]*regexp.Regexp, error) {
		var out []*regexp.Regexp
		for i, p := range pats {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, bad(name, i, p, err)
			}
			out = append(out, re)
		}
		return out, nil
	}
	var err error
	if c.allowURL, err = compile("AllowURL", r.AllowURL); err != nil {
		return nil, err
	}
	if c.denyURL, err = compile("DenyURL", r.DenyURL); err != nil {
		return nil, err
	}
	headers := func(name string, hs []HeaderMatch) ([]headerRe, error) {
		var out []headerRe
		for i, h := range hs {
			if !validHeaderName(h.Name) {
				return nil, bad(name, i, h.Name, fmt.Errorf("Name is not a valid header name"))
			}
			re, err := regexp.Compile(h.Pattern)
			if err != nil {
				return nil, bad(name, i, h.Pattern, err)
			}
			out = append(out, headerRe{http.CanonicalHeaderKey(h.Name), re})
		}
		return out, nil
	}
	if c.allowHeader, err = headers("AllowHeader", r.AllowHeader); err != nil {
		return nil, err
	}
	if c.denyHeader, err = headers("DenyHeader", r.DenyHeader); err != nil {
		return nil, err
	}
	for i, u := range r.RewriteURL {
		re, err := regexp.Compile(u.Pattern)
		if err != nil {
			return nil, bad("RewriteURL", i, u.Pattern, err)
		}
		if !strings.HasPrefix(u.Replacement, "/") && u.Replacement != "" && !strings.HasPrefix(u.Replacement, "$") {
			return nil, bad("RewriteURL", i, u.Replacement, fmt.Errorf("field Replacement must be a request URI starting with /"))
		}
		c.rewriteURL = append(c.rewriteURL, urlRe{re, u.Replacement})
	}
	for i, h := range r.DeleteHeader {
		if !validHeaderName(h) {
			return nil, bad("DeleteHeader", i, h, fmt.Errorf("not a valid header name"))
		}
		c.delHeader = append(c.delHeader, http.CanonicalHeaderKey(h))
	}
	for i, h := range r.SetHeader {
		if !validHeaderName(h.Name) {
			return nil, bad("SetHeader", i, h.Name, fmt.Errorf("Name is not a valid header name"))
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			return nil, bad("SetHeader", i, h.Value, fmt.Errorf("field Value contains CR, LF or NUL"))
		}
		c.setHeader = append(c.setHeader, HeaderValue{http.CanonicalHeaderKey(h.Name), h.Value})
	}
	c.filters = len(c.methods)+len(c.allowURL)+len(c.denyURL)+len(c.allowHeader)+len(c.denyHeader) > 0
	c.edits = len(c.rewriteURL)+len(c.delHeader)+len(c.setHeader) > 0
	return c, nil
}

// keep reports whether r passes the filters.
func (c *rules) keep(r *http.Request) bool {
	if c == nil || !c.filters {
		return true
	}
	if len(c.methods) > 0 {
		ok := false
		for _, m := range c.methods {
			if m == r.Method {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(c.allowURL) > 0 || len(c.denyURL) > 0 {
		uri := r.URL.RequestURI()
		if len(c.allowURL) > 0 {
			ok := false
			for _, re := range c.allowURL {
				if re.MatchString(uri) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		for _, re := range c.denyURL {
			if re.MatchString(uri) {
				return false
			}
		}
	}
	for _, h := range c.allowHeader {
		if !anyValueMatches(r.Header[h.name], h.re) {
			return false
		}
	}
	for _, h := range c.denyHeader {
		if anyValueMatches(r.Header[h.name], h.re) {
			return false
		}
	}
	return true
}

func anyValueMatches(vs []string, re *regexp.Regexp) bool {
	for _, v := range vs {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

// rewriteURI returns u with the first matching RewriteURL rule applied to
// its request URI (u itself when no rule matches).
func (c *rules) rewriteURI(u *url.URL) *url.URL {
	if c == nil || len(c.rewriteURL) == 0 {
		return u
	}
	uri := u.RequestURI()
	for _, rw := range c.rewriteURL {
		if !rw.re.MatchString(uri) {
			continue
		}
		nu, err := url.ParseRequestURI(rw.re.ReplaceAllString(uri, rw.repl))
		if err != nil {
			return u // an unusable result keeps the original
		}
		out := *u
		out.Path, out.RawPath, out.RawQuery = nu.Path, nu.RawPath, nu.RawQuery
		return &out
	}
	return u
}

// editRequest applies DeleteHeader then SetHeader to r's header; "Host"
// in SetHeader sets r.Host, which is what a client sends.
func (c *rules) editRequest(r *http.Request) {
	if c == nil {
		return
	}
	for _, k := range c.delHeader {
		delete(r.Header, k)
	}
	for _, kv := range c.setHeader {
		if kv.Name == "Host" {
			r.Host = kv.Value
			continue
		}
		r.Header[kv.Name] = []string{kv.Value}
	}
}
