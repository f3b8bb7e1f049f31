package apisixtest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// resourceDef describes one Admin API resource (apisix/admin/*.lua).
type resourceDef struct {
	name        string // path segment, e.g. "stream_routes"
	kind        string // singular name used in messages, e.g. "stream route"
	schema      *schema
	post, patch bool
	deleteCheck func(h *Handler, id string) string
}

// present is what GET shows of a stored value: SSL keys are stripped (3.17+).
func (rd *resourceDef) present(v map[string]any) map[string]any {
	if rd.name != "ssls" {
		return v
	}
	out := make(map[string]any, len(v))
	for k, x := range v {
		if k != "key" && k != "keys" {
			out[k] = x
		}
	}
	return out
}

var resources = map[string]*resourceDef{}

func init() {
	for _, rd := range []*resourceDef{
		{name: "routes", kind: "route", schema: routeSchema, post: true, patch: true},
		{name: "services", kind: "service", schema: serviceSchema, post: true, patch: true, deleteCheck: serviceInUse},
		{name: "upstreams", kind: "upstream", schema: upstreamSchema, post: true, patch: true, deleteCheck: upstreamInUse},
		{name: "ssls", kind: "ssl", schema: sslSchema, post: true, patch: true},
		{name: "stream_routes", kind: "stream route", schema: streamRouteSchema, post: true, deleteCheck: superiorInUse},
		{name: "consumers", kind: "consumer", schema: consumerSchema},
		{name: "credentials", kind: "credential", schema: credentialSchema},
		{name: "consumer_groups", kind: "consumer group", schema: groupSchema, patch: true, deleteCheck: groupInUse},
		{name: "global_rules", kind: "global rule", schema: globalRuleSchema, patch: true},
		{name: "plugin_configs", kind: "plugin config", schema: groupSchema, patch: true, deleteCheck: pluginConfigInUse},
		{name: "plugin_metadata", kind: "plugin_metadata"},
		{name: "protos", kind: "proto", schema: protoSchema, post: true, deleteCheck: protoInUse},
		{name: "secrets", kind: "secret", patch: true},
	} {
		resources[rd.name] = rd
	}
}

// check runs the schema and the custom checks of a write, in APISIX's
// order, and returns the error_msg or "". Callers hold h.mu.
func (h *Handler) check(rq *request, id string, conf map[string]any) string {
	switch rq.rd.name {
	case "routes":
		if has(conf, "host") && has(conf, "hosts") {
			return "only one of host or hosts is allowed"
		}
		if has(conf, "remote_addr") && has(conf, "remote_addrs") {
			return "only one of remote_addr or remote_addrs is allowed"
		}
	case "plugin_metadata":
		p, ok := plugins[id]
		if !ok || p.metadata == nil {
			return "invalid plugin name"
		}
		if msg := p.metadata.validate(conf); msg != "" {
			return "invalid configuration: " + msg
		}
		return ""
	case "secrets":
		s := cloudSecretSchema
		if strings.HasPrefix(id, "vault/") {
			s = vaultSchema
		}
		if msg := s.validate(conf); msg != "" {
			return "invalid configuration: " + msg
		}
		return ""
	}
	if msg := rq.rd.schema.validate(conf); msg != "" {
		return "invalid configuration: " + msg
	}
	switch rq.rd.name {
	case "routes", "services":
		if up, ok := conf["upstream"].(map[string]any); ok {
			if msg := h.checkUpstream(up, true); msg != "" {
				return msg
			}
		}
		if msg := h.refs(conf, "upstream_id", "upstreams", "upstream"); msg != "" {
			return msg
		}
		if msg := h.refs(conf, "service_id", "services", "service"); msg != "" {
			return msg
		}
		if msg := h.refs(conf, "plugin_config_id", "plugin_configs", "plugin config"); msg != "" {
			return msg
		}
		if msg := checkPlugins(conf["plugins"], "http", false, ""); msg != "" {
			return msg
		}
		if vars, ok := conf["vars"].([]any); ok {
			if msg := checkVars(vars); msg != "" {
				return "failed to validate the 'vars' expression: " + msg
			}
		}
		if ff, ok := conf["filter_func"].(string); ok && !strings.HasSuffix(strings.TrimSpace(ff), "end") {
			return fmt.Sprintf(`failed to load 'filter_func' string: [string "return %s"]:1: 'end' expected near '<eof>'`, ff)
		}
	case "upstreams":
		return h.checkUpstream(conf, true)
	case "ssls":
		return checkSSL(conf)
	case "stream_routes":
		if msg := h.refs(conf, "upstream_id", "upstreams", "upstream"); msg != "" {
			return msg
		}
		if msg := h.refs(conf, "service_id", "services", "service"); msg != "" {
			return msg
		}
		if msg := checkPlugins(conf["plugins"], "stream", false, ""); msg != "" {
			return msg
		}
		if p, ok := conf["protocol"].(map[string]any); ok {
			name, _ := p["name"].(string)
			known := false
			for _, x := range h.cfg.xrpc {
				known = known || x == name
			}
			if !known {
				return "unknown protocol [" + name + "]"
			}
			// xrpc.check_schema: the protocol's own schema for conf
			// (apisix/stream/xrpc/protocols/<name>/schema.lua).
			if c, ok := p["conf"]; ok && c != nil {
				if ps, ok := xrpcSchemas[name]; ok {
					if msg := ps.validate(c); msg != "" {
						return msg
					}
				}
			}
			if sup, ok := p["superior_id"]; ok {
				sid := idString(sup)
				if sid == id {
					return "stream route can not set itself as superior_id"
				}
				e := h.get("/apisix/stream_routes/" + sid)
				if e == nil {
					return fmt.Sprintf("failed to fetch stream routes[%s], response code: 404", sid)
				}
				sp, _ := e.value["protocol"].(map[string]any)
				if sname, _ := sp["name"].(string); sname != name {
					return fmt.Sprintf("protocol mismatch: subordinate protocol [%s] does not match superior protocol [%s]", name, sname)
				}
			}
		}
	case "consumers":
		if msg := h.refs(conf, "group_id", "consumer_groups", "consumer group"); msg != "" {
			return msg
		}
		return checkConsumerPlugins(conf["plugins"], false)
	case "credentials":
		return checkConsumerPlugins(conf["plugins"], true)
	case "consumer_groups", "plugin_configs":
		return checkPlugins(conf["plugins"], "http", false, "")
	case "global_rules":
		if msg := checkPlugins(conf["plugins"], "http", false, ""); msg != "" {
			return msg
		}
		ps, _ := conf["plugins"].(map[string]any)
		others := h.children("global_rules")
		for _, oid := range sortedKeys(others) {
			if oid == id {
				continue
			}
			ops, _ := others[oid]["plugins"].(map[string]any)
			for _, name := range sortedKeys(ps) {
				if _, dup := ops[name]; dup {
					return fmt.Sprintf("plugin '%s' already exists in global rule with id '%s'", name, oid)
				}
			}
		}
	}
	return ""
}

func has(m map[string]any, k string) bool { _, ok := m[k]; return ok }

// refs checks that conf[field], when set, names an existing resource.
func (h *Handler) refs(conf map[string]any, field, resource, what string) string {
	v, ok := conf[field]
	if !ok || h.noRefs {
		return ""
	}
	id := idString(v)
	if h.get("/apisix/"+resource+"/"+id) == nil {
		return fmt.Sprintf("failed to fetch %s info by %s id [%s], response code: 404", what, what, id)
	}
	return ""
}

var (
	varsKeyRe   = regexp.MustCompile(`^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$`)
	headerKeyRe = regexp.MustCompile(`^[a-zA-Z0-9-_]+$`)
)

// checkUpstream is check_upstream_conf of apisix/admin/upstreams.lua.
func (h *Handler) checkUpstream(up map[string]any, http bool) string {
	switch nodes := up["nodes"].(type) {
	case []any:
		for _, n := range nodes {
			nm, _ := n.(map[string]any)
			host, _ := nm["host"].(string)
			if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
				return "invalid configuration: IPv6 address must be enclosed with '[' and ']'"
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(nodes) {
			if i := strings.LastIndexByte(k, ':'); i >= 0 && !strings.HasSuffix(k, "]") {
				p, err := strconv.Atoi(k[i+1:])
				if err != nil || p < 1 || p > 65535 {
					return "invalid port " + k[i+1:]
				}
			}
		}
	}
	if tls, ok := up["tls"].(map[string]any); ok {
		if cid, ok := tls["client_cert_id"]; ok {
			id := idString(cid)
			e := h.get("/apisix/ssls/" + id)
			if e == nil {
				return fmt.Sprintf("failed to fetch ssl info by ssl id [%s], response code: 404", id)
			}
			if t, _ := e.value["type"].(string); t != "client" {
				return fmt.Sprintf("failed to fetch ssl info by ssl id [%s], wrong ssl type", id)
			}
		}
		if c, ok := tls["client_cert"].(string); ok {
			if msg := parseCert(c); msg != "" {
				return msg
			}
			k, _ := tls["client_key"].(string)
			if msg := parseKey(k); msg != "" {
				return msg
			}
		}
	}
	if http && up["pass_host"] == "rewrite" {
		if s, _ := up["upstream_host"].(string); s == "" {
			return "`upstream_host` can't be empty when `pass_host` is `rewrite`"
		}
	}
	if up["type"] == "chash" {
		hashOn, _ := up["hash_on"].(string)
		if hashOn == "" {
			hashOn = "vars"
		}
		key, hasKey := up["key"].(string)
		if !hasKey && hashOn != "consumer" {
			return "missing key"
		}
		if hasKey {
			switch hashOn {
			case "vars":
				if !varsKeyRe.MatchString(key) {
					return fmt.Sprintf("invalid configuration: failed to match pattern %q with %q", varsKeyRe.String(), key)
				}
			case "header", "cookie":
				if !headerKeyRe.MatchString(key) {
					return fmt.Sprintf("invalid configuration: failed to match pattern %q with %q", headerKeyRe.String(), key)
				}
			}
		}
	}
	return ""
}

// checkPlugins checks each plugin conf against its schema, as
// check_schema in apisix/plugin.lua does.
func checkPlugins(v any, subsystem string, authOnly bool, prefix string) string {
	return checkPluginsAs(v, subsystem, authOnly, prefix, false)
}

func checkPluginsAs(v any, subsystem string, authOnly bool, prefix string, consumer bool) string {
	ps, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if authOnly && len(ps) > 0 {
		for name := range ps {
			if p, ok := plugins[name]; ok && !p.auth {
				return "only supports auth type plugins in consumer credential"
			}
		}
	}
	for _, name := range sortedKeys(ps) {
		conf, ok := ps[name].(map[string]any)
		if !ok {
			return fmt.Sprintf("%sinvalid plugin conf %s for plugin [%s]", prefix, jsonText(ps[name]), name)
		}
		p, ok := plugins[name]
		if !ok || (subsystem == "stream" && !p.stream) || (subsystem == "http" && !p.http) {
			return prefix + "unknown plugin [" + name + "]"
		}
		s := p.schema
		if consumer && p.consumer != nil {
			s = p.consumer
		}
		if p.precheck != nil {
			if msg := p.precheck(conf); msg != "" {
				return fmt.Sprintf("%sfailed to check the configuration of plugin %s err: %s", prefix, name, msg)
			}
		}
		// api7/jsonschema fills defaults while it validates, so an if/then
		// on a defaulted field (limit-count's policy) sees the default.
		withDefaults := deepCopy(conf).(map[string]any)
		s.applyDefaults(withDefaults)
		if msg := s.validate(withDefaults); msg != "" {
			return fmt.Sprintf("%sfailed to check the configuration of plugin %s err: %s", prefix, name, msg)
		}
		if p.check != nil {
			if msg := p.check(withDefaults, consumer); msg != "" {
				return fmt.Sprintf("%sfailed to check the configuration of plugin %s err: %s", prefix, name, msg)
			}
		}
	}
	return ""
}

// checkConsumerPlugins checks the plugins of a consumer or credential:
// auth plugins against their consumer_schema (TYPE_CONSUMER in
// apisix/plugin.lua), with APISIX's "invalid plugins configuration: " prefix.
func checkConsumerPlugins(v any, credential bool) string {
	return checkPluginsAs(v, "http", credential, "invalid plugins configuration: ", true)
}

var exprOps = map[string]bool{"==": true, "~=": true, ">": true, "<": true, ">=": true, "<=": true, "~~": true, "~*": true, "in": true, "has": true, "ipmatch": true}

// checkVars is a subset of lua-resty-expr's compile: each rule is
// [var, op, value] or [var, "!", op, value], possibly nested under
// "AND"/"OR"/"!AND"/"!OR".
func checkVars(rules []any) string {
	for _, r := range rules {
		rule, ok := r.([]any)
		if !ok {
			return "rule should be wrapped inside brackets"
		}
		if len(rule) > 0 {
			if s, _ := rule[0].(string); s == "AND" || s == "OR" || s == "!AND" || s == "!OR" {
				if msg := checkVars(rule[1:]); msg != "" {
					return msg
				}
				continue
			}
		}
		if len(rule) < 2 {
			return "invalid expression"
		}
		op, _ := rule[1].(string)
		if op == "!" && len(rule) >= 3 {
			op, _ = rule[2].(string)
		}
		if !exprOps[op] {
			return fmt.Sprintf("invalid operator '%s'", op)
		}
	}
	return ""
}

func isSecretRef(s string) bool {
	return strings.HasPrefix(s, "$secret://") || strings.HasPrefix(s, "$env://")
}

func parseCert(s string) string {
	if isSecretRef(s) {
		return ""
	}
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return "failed to parse cert: PEM_read_bio_X509_AUX() failed"
	}
	if _, err := x509.ParseCertificate(b.Bytes); err != nil {
		return "failed to parse cert: PEM_read_bio_X509_AUX() failed"
	}
	return ""
}

func parseKey(s string) string {
	if isSecretRef(s) {
		return ""
	}
	const msg = "failed to parse key: PEM_read_bio_PrivateKey() failed"
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return msg
	}
	if _, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		return ""
	}
	if _, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return ""
	}
	if _, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return ""
	}
	return msg
}

// checkSSL is check_ssl_conf of apisix/admin/ssl.lua after the schema.
func checkSSL(conf map[string]any) string {
	if c, ok := conf["cert"].(string); ok {
		if msg := parseCert(c); msg != "" {
			return msg
		}
	}
	if k, ok := conf["key"].(string); ok {
		if msg := parseKey(k); msg != "" {
			return msg
		}
	}
	certs, _ := conf["certs"].([]any)
	keys, _ := conf["keys"].([]any)
	if len(certs) != len(keys) {
		return "mismatched number of certs and keys"
	}
	for i := range certs {
		c, _ := certs[i].(string)
		if msg := parseCert(c); msg != "" {
			return fmt.Sprintf("failed to handle cert-key pair[%d]: %s", i+1, msg)
		}
		k, _ := keys[i].(string)
		if msg := parseKey(k); msg != "" {
			return fmt.Sprintf("failed to handle cert-key pair[%d]: %s", i+1, msg)
		}
	}
	if cl, ok := conf["client"].(map[string]any); ok {
		ca, _ := cl["ca"].(string)
		if msg := parseCert(ca); msg != "" {
			return "failed to validate client_cert: " + msg
		}
	}
	return ""
}

// Delete checkers (the delete_checker of each apisix/admin/*.lua). They
// read the store under h.mu.

func usedBy(h *Handler, resource, field, id string) string {
	vals := h.children(resource)
	for _, k := range sortedKeys(vals) {
		if v, ok := vals[k][field]; ok && idString(v) == id {
			return k
		}
	}
	return ""
}

func upstreamInUse(h *Handler, id string) string {
	if r := usedBy(h, "routes", "upstream_id", id); r != "" {
		return fmt.Sprintf("can not delete this upstream, route [%s] is still using it now", r)
	}
	if s := usedBy(h, "services", "upstream_id", id); s != "" {
		return fmt.Sprintf("can not delete this upstream, service [%s] is still using it now", s)
	}
	for _, src := range []struct{ res, what string }{
		{"routes", "route"}, {"services", "service"}, {"plugin_configs", "plugin_config"},
		{"consumers", "consumer"}, {"consumer_groups", "consumer_group"}, {"global_rules", "global_rules"},
	} {
		vals := h.children(src.res)
		for _, k := range sortedKeys(vals) {
			if trafficSplitUses(vals[k], id) {
				return fmt.Sprintf("can not delete this upstream, plugin in %s [%s] is still using it now", src.what, k)
			}
		}
	}
	return ""
}

func trafficSplitUses(v map[string]any, id string) bool {
	ps, _ := v["plugins"].(map[string]any)
	ts, _ := ps["traffic-split"].(map[string]any)
	rules, _ := ts["rules"].([]any)
	for _, r := range rules {
		rm, _ := r.(map[string]any)
		wus, _ := rm["weighted_upstreams"].([]any)
		for _, wu := range wus {
			if w, _ := wu.(map[string]any); w != nil && has(w, "upstream_id") && idString(w["upstream_id"]) == id {
				return true
			}
		}
	}
	return false
}

func serviceInUse(h *Handler, id string) string {
	if r := usedBy(h, "routes", "service_id", id); r != "" {
		return fmt.Sprintf("can not delete this service directly, route [%s] is still using it now", r)
	}
	if r := usedBy(h, "stream_routes", "service_id", id); r != "" {
		return fmt.Sprintf("can not delete this service directly, stream_route [%s] is still using it now", r)
	}
	return ""
}

func pluginConfigInUse(h *Handler, id string) string {
	if r := usedBy(h, "routes", "plugin_config_id", id); r != "" {
		return fmt.Sprintf("can not delete this plugin config, route [%s] is still using it now", r)
	}
	return ""
}

func groupInUse(h *Handler, id string) string {
	if c := usedBy(h, "consumers", "group_id", id); c != "" {
		return fmt.Sprintf("can not delete this consumer group, consumer [%s] is still using it now", c)
	}
	return ""
}

func protoInUse(h *Handler, id string) string {
	vals := h.children("routes")
	for _, k := range sortedKeys(vals) {
		ps, _ := vals[k]["plugins"].(map[string]any)
		gt, _ := ps["grpc-transcode"].(map[string]any)
		if has(gt, "proto_id") && idString(gt["proto_id"]) == id {
			return fmt.Sprintf("can not delete this proto, route [%s] is still using it now", k)
		}
	}
	return ""
}

func superiorInUse(h *Handler, id string) string {
	vals := h.children("stream_routes")
	for _, k := range sortedKeys(vals) {
		p, _ := vals[k]["protocol"].(map[string]any)
		if has(p, "superior_id") && idString(p["superior_id"]) == id {
			return fmt.Sprintf("can not delete this stream route directly, stream route [%s] is still using it as superior_id", k)
		}
	}
	return ""
}

// schemaNames maps GET /schema/{name} to resource schemas.
var schemaNames = map[string]*schema{
	"route": routeSchema, "service": serviceSchema, "upstream": upstreamSchema, "ssl": sslSchema,
	"stream_route": streamRouteSchema, "consumer": consumerSchema, "credential": credentialSchema,
	"consumer_group": groupSchema, "plugin_config": groupSchema, "global_rule": globalRuleSchema, "proto": protoSchema,
}

func (h *Handler) serveSchema(method string, segs []string, body []byte, q url.Values) resp {
	switch {
	case method == http.MethodGet && len(segs) == 1:
		s, ok := schemaNames[segs[0]]
		if !ok {
			return bad("not found schema: " + segs[0])
		}
		return resp{status: http.StatusOK, body: s}
	case method == http.MethodGet && len(segs) == 2 && segs[0] == "plugins":
		// apisix/admin/init.lua sends /schema/plugins/{name} to plugins.get.
		return h.servePlugins(method, segs[1:], q)
	case method == http.MethodPost && len(segs) == 2 && segs[0] == "validate":
		rd, ok := resources[segs[1]]
		if !ok {
			return errResp(http.StatusNotFound, "Unsupported resource type: "+segs[1])
		}
		if rd.schema == nil {
			return errResp(http.StatusBadRequest, "not found schema: "+segs[1])
		}
		rq := &request{h: h, rd: rd, raw: body}
		v, errR := rq.decodeBody()
		if errR != nil {
			return *errR
		}
		if msg := rd.schema.validate(v); msg != "" {
			return bad(msg)
		}
		return resp{status: http.StatusOK}
	}
	return errResp(http.StatusNotFound, "not found")
}

func (h *Handler) servePlugins(method string, segs []string, q url.Values) resp {
	sub := q.Get("subsystem")
	if sub == "" {
		sub = "http"
	}
	if sub != "http" && sub != "stream" {
		return resp{status: http.StatusBadRequest, text: "invalid subsystem passed"}
	}
	in := func(p pluginDef) bool { return (sub == "http" && p.http) || (sub == "stream" && p.stream) }
	switch {
	case len(segs) == 1 && segs[0] == "reload":
		if method != http.MethodPut {
			return errResp(http.StatusMethodNotAllowed, "please use PUT method to reload the plugins, "+method+" method is not allowed.")
		}
		return resp{status: http.StatusOK, text: "done"}
	case method != http.MethodGet:
		return errResp(http.StatusMethodNotAllowed, fmt.Sprintf("not supported `%s` method for plugins", method))
	case len(segs) == 1 && segs[0] == "list":
		names := make([]string, 0, len(plugins))
		for n, p := range plugins {
			if in(p) {
				names = append(names, n)
			}
		}
		sort.Slice(names, func(i, j int) bool {
			pi, pj := plugins[names[i]].priority, plugins[names[j]].priority
			if pi != pj {
				return pi > pj
			}
			return names[i] < names[j]
		})
		return resp{status: http.StatusOK, body: names}
	case len(segs) == 1:
		p, ok := plugins[segs[0]]
		if !ok || !in(p) {
			return errResp(http.StatusNotFound, "plugin not found in subsystem "+sub)
		}
		if q.Get("schema_type") == "consumer" {
			if p.consumer == nil {
				return bad("not found schema")
			}
			return resp{status: http.StatusOK, body: p.consumer}
		}
		return resp{status: http.StatusOK, body: p.schema}
	case len(segs) == 0 && q.Get("all") == "true":
		out := map[string]any{}
		for n, p := range plugins {
			if in(p) {
				out[n] = map[string]any{"priority": p.priority, "schema": p.schema}
			}
		}
		return resp{status: http.StatusOK, body: out}
	}
	return errResp(http.StatusNotFound, "not found")
}

// compileUser compiles a list filter regex (PCRE in APISIX; RE2 here).
func compileUser(re string) (*regexp.Regexp, error) { return regexp.Compile(re) }

// configKinds are the resource lists POST /configs/validate reads, in the
// order it reports them here (APISIX walks a Lua table, in no set order).
var configKinds = []string{"upstreams", "ssls", "protos", "consumer_groups", "plugin_configs", "services", "routes",
	"stream_routes", "consumers", "global_rules", "plugin_metadata", "secrets"}

// validateConfigs is apisix/admin/config_validate.lua: every item of every
// resource list checked as a write would be (without reference checks),
// duplicates found, and all errors reported at once.
func (h *Handler) validateConfigs(contentType string, body []byte) resp {
	if len(bytes.TrimSpace(body)) == 0 {
		return bad("invalid request body: empty request body")
	}
	var data map[string]any
	if strings.HasPrefix(contentType, "application/yaml") {
		var v any
		if err := yaml.Unmarshal(body, &v); err != nil {
			return bad("invalid request body: invalid yaml request body")
		}
		m, ok := jsonish(v).(map[string]any)
		if !ok {
			return bad("invalid request body: invalid yaml request body")
		}
		data = m
	} else {
		rq := &request{raw: body}
		v, errR := rq.decodeBody()
		if errR != nil {
			return *errR
		}
		m, ok := v.(map[string]any)
		if !ok {
			return bad("invalid request body: expected an object")
		}
		data = m
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.noRefs = true
	defer func() { h.noRefs = false }()
	var errs []any
	for _, kind := range configKinds {
		if v, ok := data[kind+"_conf_version"]; ok {
			if _, isNum := num(v); !isNum {
				errs = append(errs, map[string]any{"resource_type": kind, "error": kind + "_conf_version must be a number, got " + luaType(v)})
			}
		}
		items, _ := data[kind].([]any)
		rd := resources[kind]
		seen := map[string]bool{}
		for i, it := range items {
			conf, ok := it.(map[string]any)
			var id string
			var msg string
			if ok {
				id = idString(conf["id"])
				if kind == "consumers" && id == "" {
					id, _ = conf["username"].(string)
				}
				msg = h.check(&request{h: h, rd: rd, method: http.MethodPut}, id, deepCopy(conf).(map[string]any))
			} else {
				msg = "invalid configuration: wrong type: expected object, got " + luaType(it)
			}
			if msg != "" {
				errs = append(errs, map[string]any{"resource_type": kind, "resource_id": id, "index": i, "error": msg})
			}
			if id != "" {
				if seen[id] {
					what := "id"
					if kind == "consumers" {
						what = "username"
					}
					errs = append(errs, map[string]any{"resource_type": kind, "resource_id": id, "index": i, "error": fmt.Sprintf("found duplicate %s %s in %s", what, id, kind)})
				}
				seen[id] = true
			}
		}
	}
	if len(errs) > 0 {
		return resp{status: http.StatusBadRequest, body: map[string]any{"error_msg": "Configuration validation failed", "errors": errs}}
	}
	return resp{status: http.StatusOK, body: map[string]any{}}
}

// jsonish turns YAML-decoded values into the shapes JSON decoding gives.
func jsonish(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonish(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jsonish(e)
		}
		return x
	case int:
		return json.Number(strconv.Itoa(x))
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	}
	return v
}
