package apisixclient

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// StreamProxy is what Lint needs from config.yaml: the stream_proxy
// listeners and apisix.proxy_mode. Build it with ParseStreamProxy or by
// hand.
type StreamProxy struct {
	// ProxyMode is apisix.proxy_mode ("http", "stream", "http&stream"); ""
	// means unset, which on 3.x is "http": stream routes are disabled.
	ProxyMode string
	TCP       []StreamListener
	UDP       []StreamListener
	// StrayTLS is set when a "tls" key sits outside a tcp item (for example
	// next to "tcp:"), where APISIX silently ignores it (apisix/cli/ops.lua
	// reads tls only from each tcp item).
	StrayTLS bool
	// ItemsWithoutAddr counts tcp items written as objects without addr
	// (e.g. "- tls: true" after "- 9333"); apisix init fails on them.
	ItemsWithoutAddr int
	// Misplaced holds a stream_proxy section found at the top level of a
	// config.yaml that also has apisix:. APISIX reads only
	// apisix.stream_proxy, so none of these listeners exist.
	Misplaced *StreamProxy
}

// StreamListener is one stream_proxy.tcp or .udp item.
type StreamListener struct {
	// Addr is the item's addr ("9333", "127.0.0.1:9333", "[::]:9333").
	Addr string
	// Port is the port parsed from Addr (0 if it has none).
	Port int
	// TLS is true only when the item is an object with tls: true; a scalar
	// item ("- 9333") never terminates TLS.
	TLS bool
	// Scalar records the "- 9333" form.
	Scalar bool
}

// ParseStreamProxy reads the stream_proxy section from config.yaml text.
// It accepts a whole config.yaml (apisix.stream_proxy, apisix.proxy_mode),
// or a document whose top level is stream_proxy or the section's own keys
// (tcp, udp). A YAML error is returned with the fix for the usual cause:
// "tls: true" indented under "- 9333".
func ParseStreamProxy(src []byte) (*StreamProxy, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, explainYAML(src, err)
	}
	sp := &StreamProxy{}
	if len(root.Content) == 0 {
		return sp, nil
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: stream_proxy YAML: want a mapping at the top, got %s", ErrInvalid, kindName(doc))
	}
	section := doc
	var misplaced *yaml.Node
	if ap := mapGet(doc, "apisix"); ap != nil && ap.Kind == yaml.MappingNode {
		if pm := mapGet(ap, "proxy_mode"); pm != nil {
			sp.ProxyMode = pm.Value
		}
		section = mapGet(ap, "stream_proxy")
		misplaced = mapGet(doc, "stream_proxy")
	} else if s := mapGet(doc, "stream_proxy"); s != nil {
		section = s
	}
	if pm := mapGet(doc, "proxy_mode"); pm != nil && sp.ProxyMode == "" {
		sp.ProxyMode = pm.Value
	}
	if err := sp.parseSection(section, false); err != nil {
		return nil, err
	}
	if misplaced != nil {
		if err := sp.parseSection(misplaced, true); err != nil {
			return nil, err
		}
	}
	return sp, nil
}

// parseSection reads a stream_proxy mapping into sp (into Misplaced when
// the section sits where APISIX does not read it).
func (sp *StreamProxy) parseSection(section *yaml.Node, misplaced bool) error {
	if section == nil || section.Kind != yaml.MappingNode {
		return nil
	}
	if misplaced {
		sp.Misplaced = &StreamProxy{}
		sp = sp.Misplaced
	}
	if mapGet(section, "tls") != nil {
		sp.StrayTLS = true
	}
	for _, proto := range []string{"tcp", "udp"} {
		list := mapGet(section, proto)
		if list == nil {
			continue
		}
		if list.Kind != yaml.SequenceNode {
			return fmt.Errorf("%w: stream_proxy.%s must be a list such as [{addr: 9333, tls: true}], got %s", ErrInvalid, proto, kindName(list))
		}
		for _, it := range list.Content {
			var l StreamListener
			switch it.Kind {
			case yaml.ScalarNode:
				l = StreamListener{Addr: it.Value, Scalar: true}
			case yaml.MappingNode:
				a := mapGet(it, "addr")
				if a == nil {
					sp.ItemsWithoutAddr++
					continue
				}
				l.Addr = a.Value
				if t := mapGet(it, "tls"); t != nil {
					var b bool
					if err := t.Decode(&b); err != nil {
						return fmt.Errorf("%w: stream_proxy.%s: tls must be true or false, got %q", ErrInvalid, proto, t.Value)
					}
					l.TLS = b
				}
			default:
				return fmt.Errorf("%w: stream_proxy.%s item must be a port, an address or {addr, tls}, got %s", ErrInvalid, proto, kindName(it))
			}
			l.Port = portOf(l.Addr)
			if proto == "tcp" {
				sp.TCP = append(sp.TCP, l)
			} else {
				l.TLS = false
				sp.UDP = append(sp.UDP, l)
			}
		}
	}
	return nil
}

var portUnderTLS = regexp.MustCompile(`(?m)^(\s*)-\s*([0-9.:\[\]]+)\s*\n(\s+)tls\s*:`)

func explainYAML(src []byte, err error) error {
	if m := portUnderTLS.FindSubmatch(src); m != nil && len(m[3]) > len(m[1]) {
		return fmt.Errorf("%w: stream_proxy YAML: %v: \"tls: true\" under \"- %s\" is not part of that item; write the item as an object:\n%s- addr: %s\n%s  tls: true",
			ErrInvalid, err, m[2], m[1], m[2], m[1])
	}
	return fmt.Errorf("%w: stream_proxy YAML: %v", ErrInvalid, err)
}

func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "an alias or document"
}

func portOf(addr string) int {
	a := addr
	if i := strings.LastIndexByte(a, ':'); i >= 0 {
		a = a[i+1:]
	}
	p, err := strconv.Atoi(a)
	if err != nil || p < 1 || p > 65535 {
		return 0
	}
	return p
}

// YAML renders the listeners as a config.yaml snippet in the form APISIX
// reads correctly (every TLS item as {addr, tls: true}), with proxy_mode.
func (sp *StreamProxy) YAML() string {
	var b strings.Builder
	mode := sp.ProxyMode
	if mode == "" || !strings.Contains(mode, "stream") {
		mode = "http&stream"
	}
	fmt.Fprintf(&b, "apisix:\n  proxy_mode: %s\n  stream_proxy:\n", yamlScalar(mode))
	for _, sec := range []struct {
		name string
		ls   []StreamListener
	}{{"tcp", sp.TCP}, {"udp", sp.UDP}} {
		if len(sec.ls) == 0 {
			continue
		}
		fmt.Fprintf(&b, "    %s:\n", sec.name)
		for _, l := range sec.ls {
			fmt.Fprintf(&b, "      - addr: %s\n", yamlScalar(l.Addr))
			if l.TLS {
				b.WriteString("        tls: true\n")
			}
		}
	}
	return b.String()
}

// yamlScalar writes s so that YAML reads it back unchanged: plain when it is
// a number or a simple word such as http&stream, double-quoted otherwise (Go's
// escapes are a subset of YAML's double-quoted ones).
func yamlScalar(s string) string {
	if _, err := strconv.Atoi(s); err == nil {
		return s
	}
	if plainWord.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}

var plainWord = regexp.MustCompile(`^[a-z][a-z_&]*$`)

// Finding is one problem Lint found.
type Finding struct {
	// Code names the rule, e.g. "sni-on-plain-listener".
	Code string `json:"code"`
	// Resource is "stream_routes/<id>", "routes/<id>" or "config.yaml".
	Resource string `json:"resource"`
	// Problem says what will go wrong.
	Problem string `json:"problem"`
	// Fix says what to change.
	Fix string `json:"fix"`
}

// String renders the finding on one line: resource, code, problem and fix.
func (f Finding) String() string {
	return fmt.Sprintf("%s [%s]: %s; fix: %s", f.Resource, f.Code, f.Problem, f.Fix)
}

// Lint codes.
const (
	LintSNIOnPlainListener  = "sni-on-plain-listener"
	LintStrayTLS            = "tls-outside-item"
	LintItemWithoutAddr     = "tcp-item-without-addr"
	LintSNIWithoutSSL       = "sni-without-ssl"
	LintSNIUpperCase        = "sni-upper-case"
	LintPortNotListened     = "port-not-listened"
	LintProxyModeNoStream   = "proxy-mode-without-stream"
	LintMirrorHostPath      = "mirror-host-with-path"
	LintStreamProxyTopLevel = "stream-proxy-top-level"
)

// LintInput is the set of resources Lint checks: the live ones (see
// Client.Lint) or a desired State.
type LintInput struct {
	StreamRoutes []StreamRoute
	SSLs         []SSL
	Routes       []Route
	// Version is the APISIX version ("3.18.0"); "" means 3.x. On 2.x,
	// stream_proxy alone enables stream mode and proxy_mode is not checked.
	Version string
}

// Lint reports each way the stream routes in in cannot match given the
// listeners in sp (apisix/stream/router/ip_port.lua, apisix/cli/ops.lua),
// and HTTP routes whose proxy-mirror host
// carries a path. sp may be nil when only HTTP routes are checked. Findings
// come sorted by resource, then code.
func Lint(sp *StreamProxy, in LintInput) []Finding {
	var out []Finding
	add := func(code, res, problem, fix string) {
		out = append(out, Finding{Code: code, Resource: res, Problem: problem, Fix: fix})
	}
	if sp != nil {
		if sp.StrayTLS {
			var ports []string
			for _, l := range sp.TCP {
				if !l.TLS {
					ports = append(ports, l.Addr)
				}
			}
			add(LintStrayTLS, "config.yaml", "\"tls: true\" is a key of stream_proxy, not of a tcp item, so APISIX ignores it and "+
				"listens without TLS on "+strings.Join(ports, ", "),
				"write each TLS listener as \"- addr: PORT\" with \"tls: true\" on the next line, indented under it")
		}
		if sp.ItemsWithoutAddr > 0 {
			add(LintItemWithoutAddr, "config.yaml", fmt.Sprintf("%d tcp item(s) without addr: apisix init fails", sp.ItemsWithoutAddr),
				"merge the item into the port above it: \"- addr: 9333\" and \"tls: true\"")
		}
		if m := sp.Misplaced; m != nil {
			var addrs []string
			for _, l := range append(append([]StreamListener(nil), m.TCP...), m.UDP...) {
				addrs = append(addrs, l.Addr)
			}
			what := "none of its listeners"
			if len(addrs) > 0 {
				what = "nothing on " + strings.Join(addrs, ", ")
			}
			add(LintStreamProxyTopLevel, "config.yaml", "stream_proxy sits at the top level beside apisix:, but APISIX reads only apisix.stream_proxy, so it listens on "+what,
				"indent the whole stream_proxy section under apisix: (apisix.stream_proxy.tcp)")
		}
		stream := strings.Contains(sp.ProxyMode, "stream")
		if !stream && !strings.HasPrefix(in.Version, "2.") && (len(sp.TCP)+len(sp.UDP) > 0 || len(in.StreamRoutes) > 0) {
			mode := sp.ProxyMode
			if mode == "" {
				mode = "unset (http)"
			}
			add(LintProxyModeNoStream, "config.yaml", "apisix.proxy_mode is "+mode+": on 3.x stream_proxy is not started and /stream_routes answers 400",
				"set apisix.proxy_mode: http&stream")
		}
	}
	tlsPorts, plainPorts, udpPorts := map[int]bool{}, map[int]bool{}, map[int]bool{}
	anyTLS := false
	misplacedPorts := map[int]bool{} // already reported by stream-proxy-top-level
	if sp != nil && sp.Misplaced != nil {
		for _, l := range append(append([]StreamListener(nil), sp.Misplaced.TCP...), sp.Misplaced.UDP...) {
			misplacedPorts[l.Port] = true
		}
	}
	if sp != nil {
		for _, l := range sp.TCP {
			if l.TLS {
				tlsPorts[l.Port], anyTLS = true, true
			} else {
				plainPorts[l.Port] = true
			}
		}
		for _, l := range sp.UDP {
			udpPorts[l.Port] = true
		}
	}
	for _, r := range in.StreamRoutes {
		res := "stream_routes/" + string(r.ID)
		snis := append([]string(nil), r.SNIs...)
		if r.SNI != "" {
			snis = append(snis, r.SNI)
		}
		for _, n := range snis {
			if n != strings.ToLower(n) {
				add(LintSNIUpperCase, res, fmt.Sprintf("sni %q has upper-case letters; APISIX lower-cases the client's SNI, so this never matches", n),
					fmt.Sprintf("set sni to %q", strings.ToLower(n)))
			}
		}
		if sp != nil && r.ServerPort != 0 && !tlsPorts[r.ServerPort] && !plainPorts[r.ServerPort] && !udpPorts[r.ServerPort] && !misplacedPorts[r.ServerPort] {
			add(LintPortNotListened, res, fmt.Sprintf("server_port %d is not a stream_proxy listener", r.ServerPort),
				fmt.Sprintf("add %d to stream_proxy.tcp (with tls: true for an SNI route), or fix server_port", r.ServerPort))
		}
		if len(snis) == 0 || (r.TLSPassthrough != nil && *r.TLSPassthrough) {
			continue
		}
		if sp != nil {
			switch {
			case r.ServerPort != 0 && (plainPorts[r.ServerPort] || udpPorts[r.ServerPort]) && !tlsPorts[r.ServerPort]:
				add(LintSNIOnPlainListener, res, fmt.Sprintf("SNI route on port %d, which does not terminate TLS: APISIX sees no SNI there and closes the connection (apache/apisix#6006)", r.ServerPort),
					fmt.Sprintf("make the listener \"- addr: %d\" with \"tls: true\" (and upload an SSL object), or drop sni to pass TLS through by port", r.ServerPort))
			case r.ServerPort == 0 && !anyTLS:
				add(LintSNIOnPlainListener, res, "SNI route but no stream_proxy.tcp listener has tls: true, so no connection ever carries an SNI APISIX can read",
					"add a listener \"- addr: PORT\" with \"tls: true\"; server_port is optional for SNI routes")
			}
		}
		for _, n := range snis {
			if !sslCovers(in.SSLs, strings.ToLower(n)) {
				add(LintSNIWithoutSSL, res, fmt.Sprintf("no server SSL object covers sni %q, so the TLS handshake is aborted", n),
					fmt.Sprintf("upload a certificate with sni %q (or a matching wildcard) to /ssls", strings.ToLower(n)))
			}
		}
	}
	for _, r := range in.Routes {
		var pm ProxyMirror
		if ok, err := r.Plugins.Decode("proxy-mirror", &pm); !ok || err != nil {
			continue
		}
		if i := strings.Index(pm.Host, "://"); i >= 0 {
			if j := strings.IndexByte(pm.Host[i+3:], '/'); j >= 0 {
				add(LintMirrorHostPath, "routes/"+string(r.ID), fmt.Sprintf("proxy-mirror host %q has a path; APISIX rejects it", pm.Host),
					fmt.Sprintf("set host to %q and path to %q", pm.Host[:i+3+j], pm.Host[i+3+j:]))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Resource != out[j].Resource {
			return out[i].Resource < out[j].Resource
		}
		return out[i].Code < out[j].Code
	})
	return out
}

// sslCovers reports whether an enabled server SSL object matches sni. A
// wildcard "*.test.com" matches any name ending in ".test.com" (APISIX
// matches reversed names by prefix).
func sslCovers(ssls []SSL, sni string) bool {
	for _, s := range ssls {
		if s.Type == "client" || (s.Status != nil && *s.Status == 0) {
			continue
		}
		for _, n := range append([]string{s.SNI}, s.SNIs...) {
			n = strings.ToLower(n)
			switch {
			case n == "":
			case n == sni:
				return true
			case strings.HasPrefix(n, "*.") && strings.HasSuffix(sni, n[1:]):
				return true
			case n == "*":
				return true
			}
		}
	}
	return false
}

// Lint reads the stream routes, SSL objects and routes from the server and
// lints them against sp (see the package-level Lint).
func (c *Client) Lint(ctx context.Context, sp *StreamProxy) ([]Finding, error) {
	var in LintInput
	if sp == nil || strings.Contains(sp.ProxyMode, "stream") {
		for it, err := range c.StreamRoutes.All(ctx, nil) {
			if err != nil {
				return nil, err
			}
			in.StreamRoutes = append(in.StreamRoutes, it.Value)
		}
	}
	for it, err := range c.SSLs.All(ctx, nil) {
		if err != nil {
			return nil, err
		}
		in.SSLs = append(in.SSLs, it.Value)
	}
	for it, err := range c.Routes.All(ctx, nil) {
		if err != nil {
			return nil, err
		}
		in.Routes = append(in.Routes, it.Value)
	}
	in.Version = c.ServerVersion()
	return Lint(sp, in), nil
}
