package apisixtest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// MaxBodySize is APISIX's request body limit (1.5 MiB, MAX_REQ_BODY in
// apisix/admin/init.lua).
const MaxBodySize = 1572864

// DefaultVersion is the APISIX version the server reports in its Server
// header unless Config.Version says otherwise.
const DefaultVersion = "3.18.0"

// ErrInvalid wraps every error about a Config the server cannot use.
var ErrInvalid = errors.New("apisixtest: invalid input")

// AdminKey is one entry of deployment.admin.admin_key in config.yaml.
type AdminKey struct {
	Name string
	Key  string
	Role string // "admin" or "viewer" (GET only)
}

// Config holds the optional settings of a Handler or Server. The zero value
// is valid: every zero field means the default documented on it.
type Config struct {
	// AdminKeys are the accepted keys (deployment.admin.admin_key). Default:
	// for NewServer one random admin key (Server.Key); for NewHandler none,
	// that is admin_key_required: false.
	AdminKeys []AdminKey
	// NoAuth turns key checking off (admin_key_required: false); it cannot
	// be combined with AdminKeys.
	NoAuth bool
	// ProxyMode is apisix.proxy_mode: "http", "stream" or "http&stream"
	// (the default). Without stream, every /stream_routes request fails as
	// APISIX's does.
	ProxyMode string
	// XRPCProtocols are the xRPC protocols stream routes may name (default:
	// redis, dubbo).
	XRPCProtocols []string
	// Version is the APISIX version the server models and reports in its
	// Server header ("3.18.0" by default). From 3.2 up to 3.13 it also writes
	// schema defaults back into stored resources, as those releases do (the
	// Admin API stopped in 3.14, apache/apisix#12603). Versions before 3.0
	// are refused: this is a v3 Admin API.
	Version string
	// HideVersion sends "Server: APISIX" without a version, as
	// enable_server_tokens: false does.
	HideVersion bool
	// Clock is used for create_time, update_time and TTL expiry (default
	// time.Now). Tests advance a fake clock instead of sleeping.
	Clock func() time.Time
}

type config struct {
	keys      []AdminKey
	noAuth    bool
	proxyMode string
	xrpc      []string
	version   string
	hide      bool
	writeBack bool // 3.2 <= version < 3.14: schema defaults are stored
	now       func() time.Time
}

var versionPattern = regexp.MustCompile(`^(\d+)\.(\d+)(\.\d+)?$`)

// resolve checks cfg and fills in the defaults.
func (cfg Config) resolve(auth bool) (config, error) {
	c := config{keys: append([]AdminKey(nil), cfg.AdminKeys...), noAuth: cfg.NoAuth || !auth && len(cfg.AdminKeys) == 0,
		proxyMode: cfg.ProxyMode, xrpc: append([]string(nil), cfg.XRPCProtocols...), version: cfg.Version, hide: cfg.HideVersion, now: cfg.Clock}
	if cfg.NoAuth && len(cfg.AdminKeys) > 0 {
		return c, fmt.Errorf("%w: Config.NoAuth with %d AdminKeys: set one of them", ErrInvalid, len(cfg.AdminKeys))
	}
	for i, k := range c.keys {
		if k.Key == "" {
			return c, fmt.Errorf("%w: Config.AdminKeys[%d] has no Key: set the key clients send in X-API-KEY", ErrInvalid, i)
		}
		if k.Role != "admin" && k.Role != "viewer" {
			return c, fmt.Errorf("%w: Config.AdminKeys[%d].Role is %q: use \"admin\" or \"viewer\"", ErrInvalid, i, k.Role)
		}
	}
	switch c.proxyMode {
	case "":
		c.proxyMode = "http&stream"
	case "http", "stream", "http&stream":
	default:
		return c, fmt.Errorf("%w: Config.ProxyMode is %q: use \"http\", \"stream\" or \"http&stream\"", ErrInvalid, cfg.ProxyMode)
	}
	if c.xrpc == nil {
		c.xrpc = []string{"redis", "dubbo"}
	}
	if c.version == "" {
		c.version = DefaultVersion
	}
	m := versionPattern.FindStringSubmatch(c.version)
	if m == nil {
		return c, fmt.Errorf("%w: Config.Version is %q: use a release such as \"3.18.0\"", ErrInvalid, cfg.Version)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major < 3 {
		return c, fmt.Errorf("%w: Config.Version is %q: apisixtest models the v3 Admin API (APISIX 3.0 and later)", ErrInvalid, cfg.Version)
	}
	c.writeBack = major == 3 && minor >= 2 && minor < 14
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

type entry struct {
	value    map[string]any
	created  int64
	modified int64
	expires  time.Time // zero: no TTL
}

type fault struct {
	status int
	body   string
}

// Handler is an in-process APISIX Admin API (v3) backed by memory. It
// follows APISIX's apisix/admin/*.lua and apisix/schema_def.lua: envelopes,
// 201 vs 200, schema checks with APISIX's messages, reference and delete
// checks, paging, filters, TTL and PATCH semantics. It is safe for
// concurrent use. Mount it at the root: it answers /apisix/admin/....
type Handler struct {
	cfg config

	mu     sync.Mutex
	rev    int64
	store  map[string]*entry // etcd key ("/apisix/routes/1") → entry
	noRefs bool              // set under mu while /configs/validate checks
	counts map[string]int
	faults []fault
}

// NewHandler returns an empty Admin API with the settings in cfg (the zero
// Config: no key, stream mode on, version DefaultVersion). It fails with an
// error wrapping ErrInvalid on a Config it cannot use.
func NewHandler(cfg Config) (*Handler, error) {
	c, err := cfg.resolve(false)
	if err != nil {
		return nil, err
	}
	return &Handler{cfg: c, store: map[string]*entry{}, counts: map[string]int{}}, nil
}

// Server is a Handler served by an httptest.Server on a loopback port.
type Server struct {
	*Handler
	// URL is the base URL to give apisixclient.New, e.g. http://127.0.0.1:41234.
	URL string
	// Key is the admin key the server accepts ("" when auth is off).
	Key string
	srv *httptest.Server
}

// NewServer starts a test Admin API with the settings in cfg and closes it
// when t ends. Unless cfg sets AdminKeys or NoAuth it requires a random
// admin key, returned in Server.Key. An invalid cfg fails t.
func NewServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if len(cfg.AdminKeys) == 0 && !cfg.NoAuth {
		key := make([]byte, 16)
		_, _ = rand.Read(key)
		cfg.AdminKeys = []AdminKey{{Name: "admin", Key: hex.EncodeToString(key), Role: "admin"}}
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, srv: httptest.NewServer(h)}
	s.URL = s.srv.URL
	for _, k := range h.cfg.keys {
		if k.Role != "viewer" {
			s.Key = k.Key
			break
		}
	}
	t.Cleanup(s.srv.Close)
	return s
}

// Close stops the server early (NewServer already arranges it at cleanup).
func (s *Server) Close() { s.srv.Close() }

// Requests returns how many requests the handler has served, by method
// ("GET", "PUT", ...). Benchmarks and tests use it to count round trips.
func (h *Handler) Requests() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.counts))
	for k, v := range h.counts {
		out[k] = v
	}
	return out
}

// ResetRequests zeroes the request counters.
func (h *Handler) ResetRequests() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts = map[string]int{}
}

// FailNext makes the next n requests fail with status and a JSON
// {"error_msg": msg} body, as an etcd failure would (for example 503
// "value changed before overwritten"). Tests use it to exercise retries.
// n = 0 clears the failures still pending.
func (h *Handler) FailNext(n, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error_msg": msg})
	h.mu.Lock()
	defer h.mu.Unlock()
	if n == 0 {
		h.faults = nil
	}
	for range n {
		h.faults = append(h.faults, fault{status, string(b)})
	}
}

// Len returns the number of live keys of a resource ("routes", "ssls", ...).
func (h *Handler) Len(resource string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.children(resource))
}

// resp is a response to write.
type resp struct {
	status int
	body   any    // JSON-encoded
	text   string // plain text when body is nil
}

func errResp(status int, msg string) resp {
	return resp{status: status, body: map[string]any{"error_msg": msg}}
}

func bad(msg string) resp { return errResp(http.StatusBadRequest, msg) }

var notFound = resp{status: http.StatusNotFound, body: map[string]any{"message": "Key not found"}}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.hide {
		w.Header().Set("Server", "APISIX/"+h.cfg.version)
	} else {
		w.Header().Set("Server", "APISIX")
	}
	w.Header().Set("X-API-VERSION", "v3")
	h.mu.Lock()
	h.counts[r.Method]++
	var fl *fault
	if len(h.faults) > 0 {
		f := h.faults[0]
		h.faults = h.faults[1:]
		fl = &f
	}
	h.mu.Unlock()
	if fl != nil {
		write(w, resp{status: fl.status, text: fl.body})
		return
	}
	write(w, h.serve(r))
}

func write(w http.ResponseWriter, rs resp) {
	if rs.body != nil {
		b, err := json.Marshal(rs.body)
		if err != nil {
			rs.status, b = http.StatusInternalServerError, []byte(`{"error_msg":"encode response"}`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rs.status)
		_, _ = w.Write(b)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(rs.status)
	_, _ = io.WriteString(w, rs.text)
}

func (h *Handler) checkAuth(r *http.Request) (resp, bool) {
	if h.cfg.noAuth || len(h.cfg.keys) == 0 {
		return resp{}, true
	}
	key := r.Header.Get("X-API-KEY")
	if key == "" {
		key = r.URL.Query().Get("api_key")
	}
	if key == "" {
		if c, err := r.Cookie("x_api_key"); err == nil {
			key = c.Value
		}
	}
	unauth := func(d string) (resp, bool) {
		return resp{status: http.StatusUnauthorized, body: map[string]any{"error_msg": "failed to check token", "description": d}}, false
	}
	if key == "" {
		return unauth("missing apikey")
	}
	for _, k := range h.cfg.keys {
		if k.Key == key {
			if k.Role == "viewer" && r.Method != http.MethodGet {
				return unauth("invalid method for role viewer")
			}
			return resp{}, true
		}
	}
	return unauth("wrong apikey")
}

func (h *Handler) serve(r *http.Request) resp {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/apisix/admin") {
		return errResp(http.StatusNotFound, "not found")
	}
	if rs, ok := h.checkAuth(r); !ok {
		return rs
	}
	if msg := checkRawPath(r.URL.EscapedPath()); msg != "" {
		return bad(msg)
	}
	p = strings.TrimPrefix(p, "/apisix/admin")
	if p == "" || p == "/" {
		if r.Method == http.MethodHead {
			return resp{status: http.StatusOK}
		}
		return errResp(http.StatusNotFound, "not found")
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	// A single trailing slash ("/routes/", "/routes/1/") names the same
	// thing; "/routes/1/" PATCH is a whole-object merge (apisix/admin/resource.lua).
	if len(segs) > 1 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1]
	}
	q := r.URL.Query()
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			return bad("invalid request body: " + err.Error())
		}
		body = b
	}
	switch segs[0] {
	case "plugins":
		return h.servePlugins(r.Method, segs[1:], q)
	case "schema":
		return h.serveSchema(r.Method, segs[1:], body, q)
	case "configs":
		if len(segs) == 2 && segs[1] == "validate" && r.Method == http.MethodPost {
			return h.validateConfigs(r.Header.Get("Content-Type"), body)
		}
		return errResp(http.StatusNotFound, "not found")
	}
	rd, ok := resources[segs[0]]
	if !ok {
		return errResp(http.StatusNotFound, "Unsupported resource type: "+segs[0])
	}
	if t, ok := q["ttl"]; ok {
		if _, err := strconv.ParseFloat(t[0], 64); err != nil {
			return bad("invalid argument ttl: should be a number")
		}
	}
	if rd.name == "stream_routes" && !strings.Contains(h.cfg.proxyMode, "stream") {
		return bad("stream mode is disabled, can not add stream routes")
	}
	req := &request{h: h, rd: rd, method: r.Method, q: q, raw: body}
	// Split the path into the key directory, id and sub-path.
	rest := segs[1:]
	switch rd.name {
	case "secrets":
		if len(rest) >= 1 && rest[0] != "" && !isManager(rest[0]) {
			return bad("invalid secret manager: " + rest[0])
		}
		if len(rest) >= 2 {
			req.id = rest[0] + "/" + rest[1]
			req.sub = rest[2:]
		} else if len(rest) == 1 {
			req.manager = rest[0]
		}
	case "consumers":
		if len(rest) >= 2 && rest[1] == "credentials" {
			req.rd = resources["credentials"]
			req.parent = rest[0]
			if len(rest) >= 3 {
				req.id = rest[2]
				req.sub = rest[3:]
			}
			break
		}
		fallthrough
	default:
		if len(rest) >= 1 {
			req.id = rest[0]
			req.sub = rest[1:]
		}
	}
	return req.serve()
}

// pathFix is the advice for a path nginx would rewrite.
const pathFix = "APISIX routes on nginx's normalised path, where \".\" and \"..\" segments, percent-encoded dots and slashes and empty segments are resolved first, so the request would address another resource; use ids matching ^[a-zA-Z0-9-_.]+$ other than \".\" and \"..\""

// checkRawPath refuses a request path that nginx would normalise into a
// different one (apisixtest answers instead of silently serving the other
// resource, as APISIX would).
func checkRawPath(raw string) string {
	segs := strings.Split(strings.TrimPrefix(raw, "/"), "/")
	for i, seg := range segs {
		dec, err := url.PathUnescape(seg)
		switch {
		case err != nil:
			return fmt.Sprintf("invalid path segment %q: %v", seg, err)
		case seg == "" && i != len(segs)-1:
			return fmt.Sprintf("invalid path %q: empty segment; %s", raw, pathFix)
		case dec == "." || dec == ".." || strings.Contains(dec, "/"):
			return fmt.Sprintf("invalid id or path segment %q; %s", seg, pathFix)
		}
	}
	return ""
}

func isManager(m string) bool { return m == "vault" || m == "aws" || m == "gcp" }

// request is one resource request being served.
type request struct {
	h       *Handler
	rd      *resourceDef
	method  string
	q       url.Values
	raw     []byte
	id      string
	sub     []string
	parent  string // consumer username for credentials
	manager string // secrets manager when listing one manager
}

func (rq *request) dir() string {
	if rq.parent != "" {
		return "/apisix/consumers/" + rq.parent + "/credentials"
	}
	return "/apisix/" + rq.rd.name
}

func (rq *request) key(id string) string { return rq.dir() + "/" + id }

func (rq *request) serve() resp {
	h := rq.h
	switch rq.method {
	case http.MethodGet:
		h.mu.Lock()
		defer h.mu.Unlock()
		if rq.id == "" {
			return rq.list()
		}
		e := h.get(rq.key(rq.id))
		if e == nil {
			return notFound
		}
		return resp{status: http.StatusOK, body: map[string]any{"key": rq.key(rq.id), "value": rq.rd.present(e.value), "createdIndex": e.created, "modifiedIndex": e.modified}}
	case http.MethodPut:
		return rq.put()
	case http.MethodPost:
		if !rq.rd.post {
			return rq.notSupported()
		}
		return rq.put()
	case http.MethodPatch:
		if !rq.rd.patch {
			return rq.notSupported()
		}
		return rq.patch()
	case http.MethodDelete:
		return rq.delete()
	}
	return rq.notSupported()
}

func (rq *request) notSupported() resp {
	return errResp(http.StatusMethodNotAllowed, fmt.Sprintf("not supported `%s` method for %s", rq.method, rq.rd.kind))
}

// decodeBody parses the request body as JSON whatever the Content-Type.
func (rq *request) decodeBody() (any, *resp) {
	if len(rq.raw) > MaxBodySize {
		r := bad(fmt.Sprintf("invalid request body: request size %d is greater than the maximum size %d allowed", len(rq.raw), MaxBodySize))
		return nil, &r
	}
	if len(bytes.TrimSpace(rq.raw)) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(rq.raw))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	if err == nil && d.More() {
		err = fmt.Errorf("expected the end of the JSON value at character %d", d.InputOffset()+1)
	}
	if err != nil {
		r := resp{status: http.StatusBadRequest, body: map[string]any{"error_msg": "invalid request body: " + err.Error(), "req_body": string(rq.raw)}}
		return nil, &r
	}
	return v, nil
}

func (rq *request) put() resp {
	v, errR := rq.decodeBody()
	if errR != nil {
		return *errR
	}
	if v == nil {
		return bad("missing configurations")
	}
	conf, ok := v.(map[string]any)
	if !ok {
		return bad("invalid configuration: wrong type: expected object, got " + luaType(v))
	}
	if len(rq.sub) > 0 {
		return errResp(http.StatusNotFound, "not found")
	}
	// resource.lua check_conf: forbidden timestamps, then ids, then schema.
	if msg := forbidden(conf); msg != "" {
		return bad(msg)
	}
	h := rq.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if rq.parent != "" && h.get("/apisix/consumers/"+rq.parent) == nil {
		return errResp(http.StatusNotFound, "consumer not found")
	}
	id := rq.id
	if rq.rd.name == "consumers" {
		u, _ := conf["username"].(string)
		if id != "" && u != id {
			return bad("wrong username")
		}
		id = u
	} else if rq.method == http.MethodPost {
		if _, has := conf["id"]; has || id != "" {
			return bad(fmt.Sprintf("wrong %s id, do not need it", rq.rd.kind))
		}
		h.rev++
		id = fmt.Sprintf("%020d", h.rev)
		conf["id"] = id
	} else {
		bid, has := conf["id"]
		switch {
		case id == "" && !has:
			return bad(fmt.Sprintf("missing %s id", rq.rd.kind))
		case id != "" && has && idString(bid) != id:
			return bad(fmt.Sprintf("wrong %s id", rq.rd.kind))
		case id != "":
			conf["id"] = id
		default:
			id = idString(bid)
		}
		if rq.rd.name == "secrets" {
			if rq.manager == "" && !strings.Contains(id, "/") {
				return bad("invalid secret manager: " + id)
			}
		}
	}
	for _, seg := range strings.Split(id, "/") {
		if seg == "." || seg == ".." {
			return bad(fmt.Sprintf("invalid %s id %q; %s", rq.rd.kind, id, pathFix))
		}
	}
	if msg := h.check(rq, id, conf); msg != "" {
		return bad(msg)
	}
	h.writeBack(rq.rd, conf)
	key := rq.key(id)
	if rq.rd.name == "secrets" && rq.manager != "" && !strings.Contains(id, "/") {
		key = rq.key(rq.manager + "/" + id)
	}
	status := h.set(key, conf, rq.ttl())
	return resp{status: status, body: map[string]any{"key": key, "value": conf}}
}

// writeBack stores the schema defaults of the resource and of its plugins
// into conf when the modelled version is 3.2-3.13: those releases validated
// the conf in place and wrote it to etcd with the defaults filled in
// (apache/apisix#12603 stopped it in 3.14).
func (h *Handler) writeBack(rd *resourceDef, conf map[string]any) {
	if !h.cfg.writeBack {
		return
	}
	rd.schema.applyDefaults(conf)
	ps, _ := conf["plugins"].(map[string]any)
	for _, name := range sortedKeys(ps) {
		p, ok := plugins[name]
		pc, isObj := ps[name].(map[string]any)
		if !ok || !isObj {
			continue
		}
		s := p.schema
		if (rd.name == "consumers" || rd.name == "credentials") && p.consumer != nil {
			s = p.consumer
		}
		s.applyDefaults(pc)
	}
}

func (rq *request) ttl() time.Duration {
	t := rq.q.Get("ttl")
	if t == "" {
		return 0
	}
	f, _ := strconv.ParseFloat(t, 64)
	return time.Duration(f * float64(time.Second))
}

func (rq *request) patch() resp {
	if rq.id == "" {
		return bad(fmt.Sprintf("missing %s id", rq.rd.kind))
	}
	v, errR := rq.decodeBody()
	if errR != nil {
		return *errR
	}
	if v == nil {
		return bad("missing new configuration")
	}
	h := rq.h
	h.mu.Lock()
	defer h.mu.Unlock()
	key := rq.key(rq.id)
	e := h.get(key)
	if e == nil {
		return notFound
	}
	conf := deepCopy(e.value).(map[string]any)
	if len(rq.sub) > 0 {
		cur := conf
		for i, s := range rq.sub[:len(rq.sub)-1] {
			next, ok := cur[s]
			if !ok {
				m := map[string]any{}
				cur[s] = m
				cur = m
				continue
			}
			m, ok := next.(map[string]any)
			if !ok {
				return bad("invalid sub-path: /" + strings.Join(rq.sub[:i+2], "/"))
			}
			cur = m
		}
		cur[rq.sub[len(rq.sub)-1]] = v
	} else {
		patch, ok := v.(map[string]any)
		if !ok {
			return bad("invalid configuration")
		}
		merge(conf, patch)
	}
	if rq.rd.name != "consumers" {
		conf["id"] = rq.id
	}
	if msg := h.check(rq, rq.id, conf); msg != "" {
		return bad(msg)
	}
	h.writeBack(rq.rd, conf)
	h.set(key, conf, rq.ttl())
	return resp{status: http.StatusOK, body: map[string]any{"key": key, "value": conf}}
}

func (rq *request) delete() resp {
	if rq.id == "" {
		return bad(fmt.Sprintf("missing %s id", rq.rd.kind))
	}
	h := rq.h
	h.mu.Lock()
	defer h.mu.Unlock()
	key := rq.key(rq.id)
	if h.get(key) == nil {
		return notFound
	}
	if rq.q.Get("force") != "true" && rq.rd.deleteCheck != nil {
		if msg := rq.rd.deleteCheck(h, rq.id); msg != "" {
			return bad(msg)
		}
	}
	delete(h.store, key)
	if rq.rd.name == "consumers" {
		for k := range h.store {
			if strings.HasPrefix(k, key+"/credentials/") {
				delete(h.store, k)
			}
		}
	}
	return resp{status: http.StatusOK, body: map[string]any{"deleted": "1", "key": key}}
}

func (rq *request) list() resp {
	h := rq.h
	if rq.parent != "" && h.get("/apisix/consumers/"+rq.parent) == nil {
		return notFound
	}
	prefix := rq.dir() + "/"
	if rq.manager != "" {
		prefix += rq.manager + "/"
	}
	type item struct {
		key string
		e   *entry
	}
	var items []item
	for k, e := range h.store {
		if !strings.HasPrefix(k, prefix) || h.expired(e) {
			continue
		}
		rest := k[len(prefix):]
		depth := strings.Count(rest, "/")
		if (rq.rd.name == "secrets" && rq.manager == "" && depth != 1) || ((rq.rd.name != "secrets" || rq.manager != "") && depth != 0) {
			continue
		}
		if !rq.matches(e.value) {
			continue
		}
		items = append(items, item{k, e})
	}
	page, pageSize, paging := 0, 0, false
	if p, err1 := strconv.Atoi(rq.q.Get("page")); err1 == nil {
		if ps, err2 := strconv.Atoi(rq.q.Get("page_size")); err2 == nil {
			page, pageSize, paging = p, ps, true
		}
	}
	if paging {
		if pageSize < 10 || pageSize > 500 {
			return resp{status: http.StatusBadRequest, text: "page_size must be between 10 and 500"}
		}
		page = max(page, 1)
		sort.Slice(items, func(i, j int) bool { return items[i].e.created < items[j].e.created })
	} else {
		sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
	}
	total := len(items)
	if paging {
		from := min((page-1)*pageSize, len(items))
		to := min(from+pageSize, len(items))
		items = items[from:to]
	}
	list := make([]any, 0, len(items))
	for _, it := range items {
		list = append(list, map[string]any{"key": it.key, "value": rq.rd.present(it.e.value), "createdIndex": it.e.created, "modifiedIndex": it.e.modified})
	}
	return resp{status: http.StatusOK, body: map[string]any{"total": total, "list": list}}
}

// matches applies the name, label, uri and filter list parameters
// (apisix/admin/utils.lua and the v3 adapter); several combine as AND.
func (rq *request) matches(v map[string]any) bool {
	if n, ok := rq.q["name"]; ok {
		name, _ := v["name"].(string)
		re, err := compileUser(n[0])
		if name == "" || err != nil || !re.MatchString(name) {
			return false
		}
	}
	if l, ok := rq.q["label"]; ok {
		labels, _ := v["labels"].(map[string]any)
		if _, has := labels[l[0]]; l[0] == "" || !has {
			return false
		}
	}
	if u, ok := rq.q["uri"]; ok && rq.rd.name == "routes" {
		re, err := compileUser(u[0])
		if err != nil {
			return false
		}
		hit := false
		if s, ok := v["uri"].(string); ok && re.MatchString(s) {
			hit = true
		}
		if arr, ok := v["uris"].([]any); ok {
			for _, x := range arr {
				if s, ok := x.(string); ok && re.MatchString(s) {
					hit = true
				}
			}
		}
		if !hit {
			return false
		}
	}
	if f, ok := rq.q["filter"]; ok && (rq.rd.name == "routes" || rq.rd.name == "stream_routes") {
		fq, err := url.ParseQuery(f[0])
		if err == nil {
			for _, k := range []string{"service_id", "upstream_id"} {
				if want, ok := fq[k]; ok && idString(v[k]) != want[0] {
					return false
				}
			}
		}
	}
	return true
}

// get returns the live entry at key, or nil. Callers hold h.mu.
func (h *Handler) get(key string) *entry {
	e := h.store[key]
	if e == nil || h.expired(e) {
		return nil
	}
	return e
}

func (h *Handler) expired(e *entry) bool {
	return !e.expires.IsZero() && !h.cfg.now().Before(e.expires)
}

// set stores conf with fresh timestamps and revisions and returns 201 for a
// new key or 200 for a replaced one (etcd prev_kv, apisix/admin/resource.lua).
func (h *Handler) set(key string, conf map[string]any, ttl time.Duration) int {
	now := h.cfg.now()
	h.rev++
	old := h.get(key)
	e := &entry{value: conf, created: h.rev, modified: h.rev}
	conf["update_time"] = json.Number(strconv.FormatInt(now.Unix(), 10))
	if old != nil {
		e.created = old.created
		if ct, ok := old.value["create_time"]; ok {
			conf["create_time"] = ct
		}
	} else if _, ok := conf["create_time"]; !ok {
		conf["create_time"] = conf["update_time"]
	}
	if ttl > 0 {
		e.expires = now.Add(ttl)
	}
	h.store[key] = e
	if old != nil {
		return http.StatusOK
	}
	return http.StatusCreated
}

// children returns the live values directly under /apisix/<resource>/.
// Callers hold h.mu.
func (h *Handler) children(resource string) map[string]map[string]any {
	prefix := "/apisix/" + resource + "/"
	out := map[string]map[string]any{}
	for k, e := range h.store {
		if strings.HasPrefix(k, prefix) && !h.expired(e) {
			rest := k[len(prefix):]
			if resource == "secrets" || !strings.Contains(rest, "/") {
				out[rest] = e.value
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// idString renders an id as APISIX's tostring would: 1 and "1" are equal.
func idString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// forbidden reports create_time/update_time sent on PUT or POST
// (check_forbidden_properties in apisix/admin/utils.lua).
func forbidden(conf map[string]any) string {
	for _, f := range []string{"create_time", "update_time"} {
		if _, ok := conf[f]; ok {
			return "the property is forbidden:  " + f
		}
		for _, sub := range []string{"upstream", "plugins"} {
			if m, ok := conf[sub].(map[string]any); ok {
				if _, ok := m[f]; ok {
					return "the property is forbidden:  " + sub + "." + f
				}
			}
		}
	}
	return ""
}

// merge is core.table.merge: objects merge recursively, arrays and scalars
// replace, null deletes (apisix/core/table.lua).
func merge(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		if sm, ok := v.(map[string]any); ok {
			dm, ok := dst[k].(map[string]any)
			if !ok {
				dm = map[string]any{}
				dst[k] = dm
			}
			merge(dm, sm)
			continue
		}
		dst[k] = deepCopy(v)
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}
