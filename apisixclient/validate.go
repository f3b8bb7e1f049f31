package apisixclient

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Client-side checks of the schema rules in apisix/schema_def.lua and the
// plugins' schemas (apisix/plugins/*.lua). They run before
// any request so that a mistake is reported with its fix instead of a
// server message. The server stays the authority: these checks are a subset.

var (
	hostPattern     = regexp.MustCompile(`^\*$|^\*?[0-9a-zA-Z-._\[\]:]+$`)
	usernamePattern = regexp.MustCompile(`^[a-zA-Z0-9_\-]+$`)
	mirrorHost      = regexp.MustCompile(`^(http(s)?|grpc(s)?)://([\da-zA-Z.-]+|\[[\da-fA-F:]+\])(:\d+)?$`)
	mirrorPath      = regexp.MustCompile(`^/[^?&]+$`)
	labelValue      = regexp.MustCompile(`^\S+$`)
	pluginName      = regexp.MustCompile(`^[a-z0-9][a-z0-9-_]*$`)
	httpMethods     = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "PURGE"}
)

func invalid(kind, field, msg, fix string) error {
	return &ValidationError{Kind: kind, Field: field, Msg: msg, Fix: fix}
}

func checkUsername(u string) error {
	if u == "" || len(u) > 256 || !usernamePattern.MatchString(u) {
		return invalid("consumer", "username", fmt.Sprintf("%q is not a valid username", u), "use 1-256 letters, digits, '_' or '-'")
	}
	return nil
}

func checkPluginName(id ID) error {
	if !pluginName.MatchString(string(id)) {
		return invalid("plugin_metadata", "id", fmt.Sprintf("%q is not a plugin name", id), "use the plugin's name, e.g. \"http-logger\"")
	}
	return nil
}

func optID(kind, field string, id ID) error {
	if id == "" {
		return nil
	}
	if err := id.Validate(); err != nil {
		return invalid(kind, field, err.(*ValidationError).Msg, err.(*ValidationError).Fix)
	}
	return nil
}

func checkCommon(kind string, name, desc string, labels map[string]string) error {
	if len(name) > 256 {
		return invalid(kind, "name", fmt.Sprintf("%d characters long", len(name)), "use at most 256 characters")
	}
	if len(desc) > 256 {
		return invalid(kind, "desc", fmt.Sprintf("%d characters long", len(desc)), "use at most 256 characters")
	}
	for k, v := range labels {
		if v == "" || len(v) > 256 || !labelValue.MatchString(v) {
			return invalid(kind, "labels."+k, fmt.Sprintf("value %q is empty, too long or has white space", v), "use 1-256 characters without spaces")
		}
	}
	return nil
}

func checkHost(kind, field, h string) error {
	if !hostPattern.MatchString(h) {
		return invalid(kind, field, fmt.Sprintf("%q is not a host name", h), "use a name like \"example.com\" or \"*.example.com\" (a '*' only at the start)")
	}
	return nil
}

func checkIP(kind, field, s string) error {
	if _, err := netip.ParsePrefix(s); err == nil {
		return nil
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	return invalid(kind, field, fmt.Sprintf("%q is not an IP address or CIDR", s), "use e.g. \"10.0.0.1\", \"10.0.0.0/8\" or \"::1\"")
}

func checkTimeout(kind string, t *Timeout) error {
	if t == nil {
		return nil
	}
	if t.Connect <= 0 || t.Send <= 0 || t.Read <= 0 {
		return invalid(kind, "timeout", fmt.Sprintf("connect=%g send=%g read=%g", t.Connect, t.Send, t.Read), "set all three of connect, send and read, each > 0 seconds")
	}
	return nil
}

func checkStatus(kind string, s *int) error {
	if s != nil && *s != 0 && *s != 1 {
		return invalid(kind, "status", fmt.Sprintf("%d", *s), "use 1 (enabled) or 0 (disabled)")
	}
	return nil
}

// checkPlugins validates the typed configurations this package knows.
func checkPlugins(kind string, ps Plugins) error {
	for _, name := range ps.Names() {
		raw := ps[name]
		b, err := json.Marshal(raw)
		if err != nil {
			return invalid(kind, "plugins."+name, err.Error(), "pass a JSON-encodable configuration")
		}
		if len(b) == 0 || b[0] != '{' {
			return invalid(kind, "plugins."+name, "configuration is "+truncate(string(b), 40), "each plugin's configuration must be a JSON object ({} for none)")
		}
		switch name {
		case "proxy-mirror":
			var pm ProxyMirror
			if err := json.Unmarshal(b, &pm); err != nil {
				return invalid(kind, "plugins.proxy-mirror", err.Error(), "see ProxyMirror for the field types")
			}
			if err := pm.validate(kind); err != nil {
				return err
			}
		case "limit-count":
			var lc LimitCount
			if err := json.Unmarshal(b, &lc); err != nil {
				return invalid(kind, "plugins.limit-count", err.Error(), "see LimitCount for the field types")
			}
			if lc.Count <= 0 || lc.TimeWindow <= 0 {
				return invalid(kind, "plugins.limit-count", fmt.Sprintf("count=%d time_window=%d", lc.Count, lc.TimeWindow), "set count and time_window (seconds), both > 0")
			}
			if lc.RejectedCode != 0 && (lc.RejectedCode < 200 || lc.RejectedCode > 599) {
				return invalid(kind, "plugins.limit-count.rejected_code", fmt.Sprint(lc.RejectedCode), "use an HTTP status from 200 to 599")
			}
		case "ip-restriction":
			var ir IPRestriction
			if err := json.Unmarshal(b, &ir); err != nil {
				return invalid(kind, "plugins.ip-restriction", err.Error(), "see IPRestriction for the field types")
			}
			if (len(ir.Whitelist) == 0) == (len(ir.Blacklist) == 0) {
				return invalid(kind, "plugins.ip-restriction", "needs exactly one of whitelist and blacklist", "set either whitelist or blacklist")
			}
		}
	}
	return nil
}

func (pm *ProxyMirror) validate(kind string) error {
	if pm.Host == "" {
		return invalid(kind, "plugins.proxy-mirror.host", "missing", "set host to scheme://host[:port], e.g. \"http://10.0.0.5:8080\"")
	}
	if !mirrorHost.MatchString(pm.Host) {
		fix := "use scheme://host[:port] with scheme http, https, grpc or grpcs, e.g. \"http://10.0.0.5:8080\""
		if i := strings.Index(pm.Host, "://"); i >= 0 {
			if j := strings.IndexByte(pm.Host[i+3:], '/'); j >= 0 {
				fix = fmt.Sprintf("host must end after the port: set host to %q and path to %q", pm.Host[:i+3+j], pm.Host[i+3+j:])
			}
		}
		return invalid(kind, "plugins.proxy-mirror.host", fmt.Sprintf("%q is not scheme://host[:port]", pm.Host), fix)
	}
	if pm.Path != "" && !mirrorPath.MatchString(pm.Path) {
		return invalid(kind, "plugins.proxy-mirror.path", fmt.Sprintf("%q", pm.Path), "start the path with '/' and leave out any query string")
	}
	if pm.PathConcatMode != "" && pm.PathConcatMode != "replace" && pm.PathConcatMode != "prefix" {
		return invalid(kind, "plugins.proxy-mirror.path_concat_mode", fmt.Sprintf("%q", pm.PathConcatMode), "use \"replace\" or \"prefix\"")
	}
	if pm.SampleRatio != nil && (*pm.SampleRatio < 0.00001 || *pm.SampleRatio > 1) {
		return invalid(kind, "plugins.proxy-mirror.sample_ratio", fmt.Sprintf("%g", *pm.SampleRatio), "use a ratio from 0.00001 to 1 (1 mirrors every request)")
	}
	return nil
}

// Validate checks the route against APISIX's route schema (apisix/schema_def.lua route).
func (r *Route) Validate() error {
	const k = "route"
	if err := optID(k, "id", r.ID); err != nil {
		return err
	}
	if err := checkCommon(k, r.Name, r.Desc, r.Labels); err != nil {
		return err
	}
	if (r.URI == "") == (len(r.URIs) == 0) {
		return invalid(k, "uri", "needs exactly one of uri and uris", "set URI for one path or URIs for several, not both and not neither")
	}
	if r.Host != "" && len(r.Hosts) > 0 {
		return invalid(k, "host", "only one of host or hosts is allowed", "move host into hosts")
	}
	if r.RemoteAddr != "" && len(r.RemoteAddrs) > 0 {
		return invalid(k, "remote_addr", "only one of remote_addr or remote_addrs is allowed", "move remote_addr into remote_addrs")
	}
	if r.Host != "" {
		if err := checkHost(k, "host", r.Host); err != nil {
			return err
		}
	}
	for _, h := range r.Hosts {
		if err := checkHost(k, "hosts", h); err != nil {
			return err
		}
	}
	if r.RemoteAddr != "" {
		if err := checkIP(k, "remote_addr", r.RemoteAddr); err != nil {
			return err
		}
	}
	for _, a := range r.RemoteAddrs {
		if err := checkIP(k, "remote_addrs", a); err != nil {
			return err
		}
	}
	for _, m := range r.Methods {
		if !slices.Contains(httpMethods, m) {
			return invalid(k, "methods", fmt.Sprintf("%q is not an HTTP method APISIX routes", m), "use upper case: "+strings.Join(httpMethods, ", "))
		}
	}
	if r.Plugins == nil && r.Upstream == nil && r.UpstreamID == "" && r.ServiceID == "" && r.Script == "" {
		return invalid(k, "upstream", "nothing to serve the route", "set Upstream, UpstreamID, ServiceID, Plugins or Script")
	}
	if r.Script != "" && (r.Plugins != nil || r.PluginConfigID != "") {
		return invalid(k, "script", "script cannot be combined with plugins or plugin_config_id", "use either a script or plugins")
	}
	if r.FilterFunc != "" && !strings.HasPrefix(r.FilterFunc, "function") {
		return invalid(k, "filter_func", "must start with \"function\"", "write a Lua function such as \"function(vars) return true end\"")
	}
	if err := checkTimeout(k, r.Timeout); err != nil {
		return err
	}
	if err := checkStatus(k, r.Status); err != nil {
		return err
	}
	for f, id := range map[string]ID{"service_id": r.ServiceID, "upstream_id": r.UpstreamID, "plugin_config_id": r.PluginConfigID, "script_id": r.ScriptID} {
		if err := optID(k, f, id); err != nil {
			return err
		}
	}
	if r.Upstream != nil {
		if err := r.Upstream.validate(k+" upstream", true); err != nil {
			return err
		}
	}
	return checkPlugins(k, r.Plugins)
}

// Validate checks the service (apisix/schema_def.lua service).
func (s *Service) Validate() error {
	const k = "service"
	if err := optID(k, "id", s.ID); err != nil {
		return err
	}
	if err := checkCommon(k, s.Name, s.Desc, s.Labels); err != nil {
		return err
	}
	if err := optID(k, "upstream_id", s.UpstreamID); err != nil {
		return err
	}
	for _, h := range s.Hosts {
		if err := checkHost(k, "hosts", h); err != nil {
			return err
		}
	}
	if s.Upstream != nil {
		if err := s.Upstream.validate(k+" upstream", true); err != nil {
			return err
		}
	}
	return checkPlugins(k, s.Plugins)
}

// Validate checks the upstream (apisix/schema_def.lua upstream and
// check_upstream_conf in apisix/admin/upstreams.lua).
func (u *Upstream) Validate() error { return u.validate("upstream", true) }

func (u *Upstream) validate(k string, http bool) error {
	if err := optID(k, "id", u.ID); err != nil {
		return err
	}
	if err := checkCommon(k, u.Name, u.Desc, u.Labels); err != nil {
		return err
	}
	discovery := u.ServiceName != "" || u.DiscoveryType != ""
	switch {
	case u.Nodes != nil && discovery:
		return invalid(k, "nodes", "nodes and service discovery are exclusive", "set either Nodes or ServiceName with DiscoveryType")
	case u.Nodes == nil && !discovery:
		return invalid(k, "nodes", "no nodes and no service discovery", "set Nodes (NodeMap or NodeList; empty is a placeholder) or ServiceName with DiscoveryType")
	case discovery && (u.ServiceName == "" || u.DiscoveryType == ""):
		return invalid(k, "service_name", "service discovery needs both service_name and discovery_type", "set ServiceName and DiscoveryType together")
	}
	for _, n := range u.Nodes.List() {
		if n.Weight < 0 {
			return invalid(k, "nodes", fmt.Sprintf("node %s has weight %d", nodeKey(n), n.Weight), "use a weight ≥ 0")
		}
		if u.Nodes.IsArray() && (n.Port < 0 || n.Port > 65535) || !u.Nodes.IsArray() && n.Port != 0 && (n.Port < 1 || n.Port > 65535) {
			return invalid(k, "nodes", fmt.Sprintf("node %s has port %d", n.Host, n.Port), "use a port from 1 to 65535")
		}
		if u.Nodes.IsArray() && n.Port == 0 {
			continue
		}
		if u.Nodes.IsArray() && strings.Contains(n.Host, ":") && !strings.HasPrefix(n.Host, "[") {
			return invalid(k, "nodes", fmt.Sprintf("IPv6 host %q is not in brackets", n.Host), "write it as \"["+n.Host+"]\"")
		}
	}
	if u.Retries != nil && *u.Retries < 0 {
		return invalid(k, "retries", fmt.Sprint(*u.Retries), "use 0 or more")
	}
	if u.RetryTimeout != nil && *u.RetryTimeout < 0 {
		return invalid(k, "retry_timeout", fmt.Sprint(*u.RetryTimeout), "use 0 or more seconds")
	}
	if err := checkTimeout(k, u.Timeout); err != nil {
		return err
	}
	enums := []struct {
		field, v string
		allowed  []string
	}{
		{"hash_on", u.HashOn, []string{"vars", "header", "cookie", "consumer", "vars_combinations"}},
		{"scheme", u.Scheme, []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "udp", "kafka"}},
		{"pass_host", u.PassHost, []string{"pass", "node", "rewrite"}},
	}
	for _, e := range enums {
		if e.v != "" && !slices.Contains(e.allowed, e.v) {
			return invalid(k, e.field, fmt.Sprintf("%q is not allowed", e.v), "use one of "+strings.Join(e.allowed, ", "))
		}
	}
	if http && u.PassHost == "rewrite" && u.UpstreamHost == "" {
		return invalid(k, "upstream_host", "pass_host is rewrite but upstream_host is empty", "set UpstreamHost to the Host header to send")
	}
	if u.UpstreamHost != "" {
		if err := checkHost(k, "upstream_host", u.UpstreamHost); err != nil {
			return err
		}
	}
	if u.Type == "chash" && u.Key == "" && u.HashOn != "consumer" {
		return invalid(k, "key", "type chash needs a key", "set Key (e.g. \"remote_addr\" with hash_on vars), or HashOn \"consumer\"")
	}
	if t := u.TLS; t != nil {
		if (t.ClientCert == "") != (t.ClientKey == "") {
			return invalid(k, "tls", "client_cert and client_key must come together", "set both, or use ClientCertID")
		}
		if t.ClientCertID != "" && t.ClientCert != "" {
			return invalid(k, "tls", "client_cert_id with client_cert/client_key", "use either ClientCertID or the inline pair")
		}
		if err := optID(k, "tls.client_cert_id", t.ClientCertID); err != nil {
			return err
		}
	}
	if kp := u.KeepalivePool; kp != nil && (kp.Size < 0 || kp.Requests < 0 || kp.IdleTimeout < 0) {
		return invalid(k, "keepalive_pool", "negative value", "use size ≥ 1, requests ≥ 1 and idle_timeout ≥ 0")
	}
	return nil
}

// Validate checks the SSL object (apisix/schema_def.lua ssl).
func (s *SSL) Validate() error {
	const k = "ssl"
	if err := optID(k, "id", s.ID); err != nil {
		return err
	}
	if err := checkCommon(k, "", s.Desc, s.Labels); err != nil {
		return err
	}
	if s.Type != "" && s.Type != "server" && s.Type != "client" {
		return invalid(k, "type", fmt.Sprintf("%q", s.Type), "use \"server\" (default) or \"client\"")
	}
	if s.Cert == "" || s.Key == "" {
		return invalid(k, "cert", "cert and key are required", "set Cert and Key to PEM text (a GET strips the key: set it again before a Put)")
	}
	if s.Type != "client" {
		if (s.SNI == "") == (len(s.SNIs) == 0) {
			return invalid(k, "sni", "a server certificate needs exactly one of sni and snis", "set SNI for one name or SNIs for several")
		}
	}
	for _, n := range append([]string{s.SNI}, s.SNIs...) {
		if n == "" {
			continue
		}
		if err := checkHost(k, "sni", n); err != nil {
			return err
		}
	}
	if len(s.Certs) != len(s.Keys) {
		return invalid(k, "certs", fmt.Sprintf("%d certs and %d keys", len(s.Certs), len(s.Keys)), "give one key per extra cert")
	}
	return checkStatus(k, s.Status)
}

// Validate checks the stream route (apisix/schema_def.lua stream_route):
// the matching fields, and
// that sni is lower case, since APISIX lower-cases the client's SNI and an
// upper-case route key never matches (apisix/ssl.lua server_name lower-cases
// it; apisix/stream/router/ip_port.lua matches it exactly).
func (s *StreamRoute) Validate() error {
	const k = "stream route"
	if err := optID(k, "id", s.ID); err != nil {
		return err
	}
	if err := checkCommon(k, s.Name, s.Desc, s.Labels); err != nil {
		return err
	}
	if s.SNI != "" && len(s.SNIs) > 0 {
		return invalid(k, "sni", "sni and snis are exclusive", "put every name in SNIs, or use SNI alone")
	}
	for _, n := range append([]string{s.SNI}, s.SNIs...) {
		if n == "" {
			continue
		}
		if err := checkHost(k, "sni", n); err != nil {
			return err
		}
		if n != strings.ToLower(n) {
			return invalid(k, "sni", fmt.Sprintf("%q has upper-case letters and would never match", n), fmt.Sprintf("use %q: APISIX lower-cases the client's SNI before matching", strings.ToLower(n)))
		}
	}
	if s.ServerPort < 0 || s.ServerPort > 65535 {
		return invalid(k, "server_port", fmt.Sprint(s.ServerPort), "use a port from 1 to 65535, or 0 to match any")
	}
	if s.RemoteAddr != "" {
		if err := checkIP(k, "remote_addr", s.RemoteAddr); err != nil {
			return err
		}
	}
	if s.ServerAddr != "" {
		if err := checkIP(k, "server_addr", s.ServerAddr); err != nil {
			return err
		}
	}
	if err := optID(k, "upstream_id", s.UpstreamID); err != nil {
		return err
	}
	if err := optID(k, "service_id", s.ServiceID); err != nil {
		return err
	}
	if s.Protocol != nil && s.Protocol.Name == "" {
		return invalid(k, "protocol.name", "missing", "name the xRPC protocol, e.g. \"redis\"")
	}
	if s.Upstream != nil {
		// Stream routes apply the upstream schema without the HTTP-only checks.
		if err := s.Upstream.validate(k+" upstream", false); err != nil {
			return err
		}
	}
	if _, ok := s.Plugins["proxy-mirror"]; ok {
		return invalid(k, "plugins.proxy-mirror", "proxy-mirror is an HTTP plugin", "mirror on an HTTP route instead")
	}
	return nil
}

// Validate checks the consumer (apisix/schema_def.lua consumer).
func (c *Consumer) Validate() error {
	if err := checkUsername(c.Username); err != nil {
		return err
	}
	if err := checkCommon("consumer", "", c.Desc, c.Labels); err != nil {
		return err
	}
	if err := optID("consumer", "group_id", c.GroupID); err != nil {
		return err
	}
	return checkPlugins("consumer", c.Plugins)
}

// Validate checks the credential: at most one plugin, an auth plugin.
func (c *Credential) Validate() error {
	if err := optID("credential", "id", c.ID); err != nil {
		return err
	}
	if err := checkCommon("credential", c.Name, c.Desc, c.Labels); err != nil {
		return err
	}
	if len(c.Plugins) > 1 {
		return invalid("credential", "plugins", fmt.Sprintf("%d plugins", len(c.Plugins)), "a credential holds one auth plugin; use one credential per plugin")
	}
	return checkPlugins("credential", c.Plugins)
}

func checkPluginSet(kind string, id ID, name, desc string, labels map[string]string, ps Plugins) error {
	if err := optID(kind, "id", id); err != nil {
		return err
	}
	if err := checkCommon(kind, name, desc, labels); err != nil {
		return err
	}
	if ps == nil {
		return invalid(kind, "plugins", "missing", "set Plugins (an empty Plugins{} is allowed)")
	}
	return checkPlugins(kind, ps)
}

// Validate checks the consumer group: plugins are required.
func (g *ConsumerGroup) Validate() error {
	return checkPluginSet("consumer group", g.ID, g.Name, g.Desc, g.Labels, g.Plugins)
}

// Validate checks the plugin config: plugins are required.
func (p *PluginConfig) Validate() error {
	return checkPluginSet("plugin config", p.ID, p.Name, p.Desc, p.Labels, p.Plugins)
}

// Validate checks the global rule: plugins are required.
func (g *GlobalRule) Validate() error {
	return checkPluginSet("global rule", g.ID, "", "", nil, g.Plugins)
}

// Validate checks the proto: content is required (≤ 1 MiB).
func (p *Proto) Validate() error {
	if err := optID("proto", "id", p.ID); err != nil {
		return err
	}
	if err := checkCommon("proto", p.Name, p.Desc, p.Labels); err != nil {
		return err
	}
	if p.Content == "" || len(p.Content) > 1<<20 {
		return invalid("proto", "content", fmt.Sprintf("%d bytes", len(p.Content)), "set Content to the .proto source, 1 byte to 1 MiB")
	}
	return nil
}

// Validate checks the secret manager configuration (vault needs URI,
// Prefix and Token).
func (s *Secret) Validate() error {
	if s.ID != "" {
		if err := checkSecretID(s.ID); err != nil {
			return err
		}
	}
	if strings.HasPrefix(string(s.ID), "vault/") && (s.URI == "" || s.Prefix == "" || s.Token == "") {
		return invalid("secret", "uri", "vault needs uri, prefix and token", "set URI (e.g. http://127.0.0.1:8200), Prefix and Token")
	}
	return nil
}

// Validate accepts any metadata; the server checks it against the plugin's
// metadata_schema.
func (m *PluginMetadata) Validate() error { return nil }

func (r *Route) resourceID() ID          { return r.ID }
func (s *Service) resourceID() ID        { return s.ID }
func (u *Upstream) resourceID() ID       { return u.ID }
func (s *SSL) resourceID() ID            { return s.ID }
func (s *StreamRoute) resourceID() ID    { return s.ID }
func (c *Consumer) resourceID() ID       { return ID(c.Username) }
func (c *Credential) resourceID() ID     { return c.ID }
func (g *ConsumerGroup) resourceID() ID  { return g.ID }
func (p *PluginConfig) resourceID() ID   { return p.ID }
func (g *GlobalRule) resourceID() ID     { return g.ID }
func (p *Proto) resourceID() ID          { return p.ID }
func (s *Secret) resourceID() ID         { return s.ID }
func (m *PluginMetadata) resourceID() ID { return "" }

// Inline upstreams carry timestamps too when read back; PUT rejects
// "upstream.create_time" as well.
func clearUpstream(u **Upstream) {
	if *u != nil {
		cp := **u
		cp.Timestamps = Timestamps{}
		*u = &cp
	}
}

func (r *Route) clearTimestamps()       { r.Timestamps = Timestamps{}; clearUpstream(&r.Upstream) }
func (s *Service) clearTimestamps()     { s.Timestamps = Timestamps{}; clearUpstream(&s.Upstream) }
func (s *StreamRoute) clearTimestamps() { s.Timestamps = Timestamps{}; clearUpstream(&s.Upstream) }
