package apisixtest

import "strings"

// The resource schemas below follow apisix/schema_def.lua of APISIX 3.18. Shared definitions are spliced in by name.
var defs = strings.NewReplacer(
	"$ID", `{"anyOf":[{"type":"string","minLength":1,"maxLength":64,"pattern":"^[a-zA-Z0-9-_.]+$"},{"type":"integer","minimum":1}]}`,
	"$HOST", `{"type":"string","pattern":"^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$"}`,
	"$NAME", `{"type":"string","minLength":1,"maxLength":256}`,
	"$DESC", `{"type":"string","maxLength":256}`,
	"$LABELS", `{"type":"object","patternProperties":{".*":{"type":"string","pattern":"^\\S+$","minLength":1,"maxLength":256}}}`,
	"$TS", `{"type":"integer"}`,
	// uri_def in apisix/schema_def.lua.
	"$URI", `{"type":"string","pattern":"^[^\\/]+:\\/\\/([\\da-zA-Z.-]+|\\[[\\da-fA-F:]+\\])(:\\d+)?"}`,
	// get_realm_schema in apisix/schema_def.lua, with its default.
	"$REALM_KEY", `{"type":"string","minLength":1,"maxLength":128,"default":"key"}`,
	"$REALM_BASIC", `{"type":"string","minLength":1,"maxLength":128,"default":"basic"}`,
	"$REALM_JWT", `{"type":"string","minLength":1,"maxLength":128,"default":"jwt"}`,
	"$TIMEOUT", `{"type":"object","properties":{"connect":{"type":"number","exclusiveMinimum":0},"send":{"type":"number","exclusiveMinimum":0},"read":{"type":"number","exclusiveMinimum":0}},"required":["connect","send","read"]}`,
	"$IP", `{"type":"string","anyOf":[{"pattern":"^(\\d{1,3}\\.){3}\\d{1,3}$"},{"pattern":"^(\\d{1,3}\\.){3}\\d{1,3}/\\d{1,2}$"},{"pattern":"^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$"},{"pattern":"^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*/\\d{1,3}$"}]}`,
	"$PLUGINS", `{"type":"object"}`,
	"$CERT", `{"type":"string","minLength":128,"maxLength":65536}`,
	"$KEY", `{"type":"string","minLength":64,"maxLength":65536}`,
	"$COMMON", `"id":$ID,"name":$NAME,"desc":$DESC,"labels":$LABELS,"create_time":$TS,"update_time":$TS`,
)

func build(src string) *schema {
	// Two passes: $COMMON and $UPSTREAM contain further names.
	return mustSchema(defs.Replace(defs.Replace(strings.ReplaceAll(src, "$UPSTREAM", upstreamSrc))))
}

const upstreamSrc = `{"type":"object","additionalProperties":false,
 "properties":{$COMMON,
  "nodes":{"anyOf":[
    {"type":"object","patternProperties":{".*":{"type":"integer","minimum":0}}},
    {"type":"array","items":{"type":"object","properties":{"host":$HOST,"port":{"type":"integer","minimum":1,"maximum":65535},"weight":{"type":"integer","minimum":0},"priority":{"type":"integer"},"metadata":{"type":"object"}},"required":["host","weight"]}}]},
  "retries":{"type":"integer","minimum":0},
  "retry_timeout":{"type":"number","minimum":0},
  "timeout":$TIMEOUT,
  "tls":{"type":"object","properties":{"client_cert_id":$ID,"client_cert":$CERT,"client_key":$KEY,"verify":{"type":"boolean","default":false}},
         "dependencies":{"client_cert":["client_key"],"client_key":["client_cert"]},
         "not":{"required":["client_cert","client_key","client_cert_id"]}},
  "keepalive_pool":{"type":"object","properties":{"size":{"type":"integer","minimum":1,"default":320},"idle_timeout":{"type":"number","minimum":0,"default":60},"requests":{"type":"integer","minimum":1,"default":1000}}},
  "type":{"type":"string","default":"roundrobin"},
  "checks":{"type":"object","anyOf":[{"required":["active"]},{"required":["active","passive"]}]},
  "hash_on":{"type":"string","default":"vars","enum":["vars","header","cookie","consumer","vars_combinations"]},
  "key":{"type":"string"},
  "scheme":{"type":"string","default":"http","enum":["grpc","grpcs","http","https","tcp","tls","udp","kafka"]},
  "discovery_type":{"type":"string"},
  "discovery_args":{"type":"object","properties":{"namespace_id":{"type":"string"},"group_name":{"type":"string"}}},
  "pass_host":{"type":"string","default":"pass","enum":["pass","node","rewrite"]},
  "upstream_host":$HOST,
  "service_name":{"type":"string","minLength":1,"maxLength":256}},
 "oneOf":[{"required":["nodes"]},{"required":["service_name","discovery_type"]}]}`

var (
	upstreamSchema = build(`$UPSTREAM`)

	routeSchema = build(`{"type":"object","additionalProperties":false,
 "properties":{$COMMON,
  "uri":{"type":"string","minLength":1,"maxLength":4096},
  "uris":{"type":"array","items":{"type":"string","minLength":1,"maxLength":4096},"minItems":1,"uniqueItems":true},
  "priority":{"type":"integer","default":0},
  "methods":{"type":"array","items":{"type":"string","enum":["GET","POST","PUT","DELETE","PATCH","HEAD","OPTIONS","CONNECT","TRACE","PURGE"]},"uniqueItems":true},
  "host":$HOST,
  "hosts":{"type":"array","items":$HOST,"minItems":1,"uniqueItems":true},
  "remote_addr":$IP,
  "remote_addrs":{"type":"array","items":$IP,"minItems":1,"uniqueItems":true},
  "timeout":$TIMEOUT,
  "vars":{"type":"array"},
  "filter_func":{"type":"string","minLength":10,"pattern":"^function"},
  "script":{"type":"string","minLength":10,"maxLength":102400},
  "script_id":$ID,
  "plugins":$PLUGINS,
  "plugin_config_id":$ID,
  "upstream":$UPSTREAM,
  "service_id":$ID,
  "upstream_id":$ID,
  "enable_websocket":{"type":"boolean"},
  "status":{"type":"integer","enum":[1,0],"default":1}},
 "allOf":[{"oneOf":[{"required":["uri"]},{"required":["uris"]}]},
          {"oneOf":[{"not":{"anyOf":[{"required":["host"]},{"required":["hosts"]}]}},{"required":["host"]},{"required":["hosts"]}]},
          {"oneOf":[{"not":{"anyOf":[{"required":["remote_addr"]},{"required":["remote_addrs"]}]}},{"required":["remote_addr"]},{"required":["remote_addrs"]}]}],
 "anyOf":[{"required":["plugins","uri"]},{"required":["upstream","uri"]},{"required":["upstream_id","uri"]},{"required":["service_id","uri"]},
          {"required":["plugins","uris"]},{"required":["upstream","uris"]},{"required":["upstream_id","uris"]},{"required":["service_id","uris"]},
          {"required":["script","uri"]},{"required":["script","uris"]}],
 "not":{"anyOf":[{"required":["script","plugins"]},{"required":["script","plugin_config_id"]}]}}`)

	serviceSchema = build(`{"type":"object","additionalProperties":false,
 "properties":{$COMMON,"plugins":$PLUGINS,"upstream":$UPSTREAM,"upstream_id":$ID,"script":{"type":"string","minLength":10,"maxLength":102400},
  "enable_websocket":{"type":"boolean"},"hosts":{"type":"array","items":$HOST,"minItems":1,"uniqueItems":true}}}`)

	sslSchema = build(`{"type":"object","additionalProperties":false,
 "properties":{"id":$ID,"desc":$DESC,"labels":$LABELS,"create_time":$TS,"update_time":$TS,
  "type":{"type":"string","enum":["server","client"],"default":"server"},
  "cert":$CERT,"key":$KEY,"sni":$HOST,
  "snis":{"type":"array","items":$HOST,"minItems":1},
  "certs":{"type":"array","items":$CERT},"keys":{"type":"array","items":$KEY},
  "client":{"type":"object","properties":{"ca":$CERT,"depth":{"type":"integer","minimum":0,"default":1},"skip_mtls_uri_regex":{"type":"array","minItems":1,"uniqueItems":true,"items":{"type":"string"}}},"required":["ca"]},
  "status":{"type":"integer","enum":[1,0],"default":1},
  "ssl_protocols":{"type":"array","maxItems":3,"uniqueItems":true,"items":{"enum":["TLSv1.1","TLSv1.2","TLSv1.3"]}}},
 "if":{"anyOf":[{"properties":{"type":{"enum":["server"]}}},{"not":{"required":["type"]}}]},
 "then":{"oneOf":[{"required":["sni","key","cert"]},{"required":["snis","key","cert"]}]},
 "else":{"required":["key","cert"]}}`)

	// Stream routes as of the snapshot plus the post-snapshot snis and
	// tls_passthrough (apache/apisix#13911, #13912), which the test server
	// accepts so users can test clients written for newer servers.
	streamRouteSchema = build(`{"type":"object","additionalProperties":false,
 "properties":{$COMMON,"remote_addr":$IP,"server_addr":$IP,"server_port":{"type":"integer","minimum":1,"maximum":65535},
  "sni":$HOST,"snis":{"type":"array","items":$HOST,"minItems":1},"tls_passthrough":{"type":"boolean"},
  "upstream":$UPSTREAM,"upstream_id":$ID,"service_id":$ID,"plugins":$PLUGINS,
  "protocol":{"type":"object","properties":{"name":{"type":"string"},"superior_id":$ID,"conf":{"type":"object"},"logger":{"type":"array"}},"required":["name"]}},
 "not":{"required":["sni","snis"]}}`)

	consumerSchema = build(`{"type":"object","additionalProperties":false,
 "properties":{"username":{"type":"string","minLength":1,"maxLength":256,"pattern":"^[a-zA-Z0-9_\\-]+$"},"desc":$DESC,"labels":$LABELS,
  "group_id":$ID,"plugins":$PLUGINS,"create_time":$TS,"update_time":$TS},"required":["username"]}`)

	credentialSchema = build(`{"type":"object","additionalProperties":false,
 "properties":{$COMMON,"plugins":{"type":"object","maxProperties":1}}}`)

	groupSchema = build(`{"type":"object","additionalProperties":false,
 "properties":{$COMMON,"plugins":$PLUGINS},"required":["id","plugins"]}`)

	globalRuleSchema = build(`{"type":"object","additionalProperties":false,
 "properties":{"id":$ID,"create_time":$TS,"update_time":$TS,"plugins":$PLUGINS},"required":["id","plugins"]}`)

	protoSchema = build(`{"type":"object","additionalProperties":false,
 "properties":{$COMMON,"content":{"type":"string","minLength":1,"maxLength":1048576}},"required":["content"]}`)

	vaultSchema = build(`{"type":"object",
 "properties":{"id":{"type":"string"},"create_time":$TS,"update_time":$TS,
  "uri":{"type":"string","pattern":"^[^\\/]+:\\/\\/([\\da-zA-Z.-]+|\\[[\\da-fA-F:]+\\])(:\\d+)?"},
  "prefix":{"type":"string"},"token":{"type":"string"},"namespace":{"type":"string"}},"required":["uri","prefix","token"]}`)

	cloudSecretSchema = build(`{"type":"object"}`)
)

// metaSchema is injected as "_meta" into every plugin schema
// (plugin_injected_schema in apisix/schema_def.lua).
const metaSrc = `{"type":"object","additionalProperties":false,"properties":{
 "disable":{"type":"boolean"},"error_response":{"type":["string","object"]},"priority":{"type":"integer"},
 "filter":{"type":"array"},"pre_function":{"type":"string"}}}`

// pluginDef is one plugin the test server knows.
type pluginDef struct {
	priority int
	stream   bool // a stream (L4) plugin
	http     bool
	auth     bool // an authentication plugin (allowed in credentials)
	schema   *schema
	metadata *schema // metadata_schema; nil means the plugin has none
	consumer *schema // consumer_schema of an auth plugin; nil means none
	// check is the plugin's check_schema beyond its JSON schema: the rules
	// that matter for the Admin API. It returns APISIX's message or "".
	check func(conf map[string]any, consumer bool) string
	// precheck runs before the JSON schema, for plugins whose check_schema
	// tests fields first (openid-connect).
	precheck func(conf map[string]any) string
}

func plugin(priority int, http, stream, auth bool, src string) pluginDef {
	s := build(src)
	if s.Properties == nil {
		s.Properties = map[string]*schema{}
	}
	s.Properties["_meta"] = mustSchema(metaSrc)
	return pluginDef{priority: priority, http: http, stream: stream, auth: auth, schema: s}
}

// withConsumer sets the consumer_schema of an auth plugin.
func withConsumer(p pluginDef, src string) pluginDef {
	p.consumer = build(src)
	return p
}

// plugins lists the plugins the test server accepts, with the schema parts
// the client and its users rely on. Plugins not listed answer "unknown plugin
// [name]" as a disabled plugin does in APISIX.
var plugins = map[string]pluginDef{
	"proxy-mirror": plugin(1010, true, false, false, `{"type":"object","properties":{
  "host":{"type":"string","pattern":"^(http(s)?|grpc(s)?):\\/\\/([\\da-zA-Z.-]+|\\[[\\da-fA-F:]+\\])(:\\d+)?$"},
  "path":{"type":"string","pattern":"^/[^?&]+$"},
  "path_concat_mode":{"type":"string","enum":["replace","prefix"],"default":"replace"},
  "sample_ratio":{"type":"number","minimum":0.00001,"maximum":1,"default":1}},"required":["host"]}`),
	"proxy-rewrite": plugin(1008, true, false, false, `{"type":"object","properties":{
  "uri":{"type":"string","minLength":1,"maxLength":4096,"pattern":"^\\/.*"},"regex_uri":{"type":"array","minItems":2},
  "method":{"type":"string"},"host":{"type":"string"},"scheme":{"type":"string","enum":["http","https"]},"headers":{"type":"object"},
  "use_real_request_uri_unsafe":{"type":"boolean","default":false}}}`),
	"limit-count": plugin(1002, true, true, false, `{"type":"object","properties":{
  "count":{"oneOf":[{"type":"integer","exclusiveMinimum":0},{"type":"string"}]},"time_window":{"oneOf":[{"type":"integer","exclusiveMinimum":0},{"type":"string"}]},
  "window_type":{"type":"string","enum":["fixed","sliding"],"default":"fixed"},
  "rules":{"type":"array","items":{"type":"object","properties":{"count":{"oneOf":[{"type":"integer","exclusiveMinimum":0},{"type":"string"}]},
    "time_window":{"oneOf":[{"type":"integer","exclusiveMinimum":0},{"type":"string"}]},"key":{"type":"string"},"header_prefix":{"type":"string"}},"required":["count","time_window","key"]}},
  "group":{"type":"string"},"key":{"type":"string","default":"remote_addr"},"key_type":{"type":"string","enum":["var","var_combination","constant"],"default":"var"},
  "rejected_code":{"type":"integer","minimum":200,"maximum":599,"default":503},"rejected_msg":{"type":"string","minLength":1},
  "policy":{"type":"string","enum":["local","redis","redis-cluster","redis-sentinel"],"default":"local"},"allow_degradation":{"type":"boolean","default":false},
  "show_limit_quota_header":{"type":"boolean","default":true},"sync_interval":{"type":"number"},
  "redis_host":{"type":"string","minLength":2},"redis_port":{"type":"integer","minimum":1},"redis_password":{"type":"string"},"redis_database":{"type":"integer","minimum":0},
  "redis_timeout":{"type":"integer","minimum":1},"redis_cluster_nodes":{"type":"array","minItems":1,"items":{"type":"string","minLength":2,"maxLength":100}},
  "redis_cluster_name":{"type":"string"},"redis_sentinels":{"type":"array","minItems":1},"redis_master_name":{"type":"string","minLength":1}},
 "oneOf":[{"required":["count","time_window"]},{"required":["rules"]}],
 "if":{"properties":{"policy":{"enum":["redis"]}}},"then":{"required":["redis_host"]},
 "else":{"if":{"properties":{"policy":{"enum":["redis-cluster"]}}},"then":{"required":["redis_cluster_nodes","redis_cluster_name"]},
   "else":{"if":{"properties":{"policy":{"enum":["redis-sentinel"]}}},"then":{"required":["redis_sentinels","redis_master_name"]}}}}`),
	"limit-req": plugin(1001, true, false, false, `{"type":"object","properties":{
  "rate":{"type":"number","exclusiveMinimum":0},"burst":{"type":"number","minimum":0},"key":{"type":"string"},
  "key_type":{"type":"string","enum":["var","var_combination"],"default":"var"},"rejected_code":{"type":"integer","minimum":200,"maximum":599,"default":503},
  "policy":{"type":"string","enum":["local","redis","redis-cluster"],"default":"local"},"rejected_msg":{"type":"string","minLength":1},
  "nodelay":{"type":"boolean","default":false},"allow_degradation":{"type":"boolean","default":false}},"required":["rate","burst","key"]}`),
	"limit-conn": plugin(1003, true, true, false, `{"type":"object","properties":{
  "conn":{"oneOf":[{"type":"integer","exclusiveMinimum":0},{"type":"string"}]},"burst":{"oneOf":[{"type":"integer","minimum":0},{"type":"string"}]},
  "default_conn_delay":{"type":"number","exclusiveMinimum":0},"only_use_default_delay":{"type":"boolean","default":false},
  "key":{"type":"string"},"key_type":{"type":"string","enum":["var","var_combination"],"default":"var"},
  "policy":{"type":"string","enum":["redis","redis-cluster","local"],"default":"local"},"rejected_code":{"type":"integer","minimum":200,"maximum":599,"default":503},
  "rejected_msg":{"type":"string","minLength":1},"allow_degradation":{"type":"boolean","default":false},
  "rules":{"type":"array","items":{"type":"object","properties":{"conn":{"oneOf":[{"type":"integer","exclusiveMinimum":0},{"type":"string"}]},
    "burst":{"oneOf":[{"type":"integer","minimum":0},{"type":"string"}]},"key":{"type":"string"}},"required":["conn","burst","key"]}},
  "redis_host":{"type":"string","minLength":2},"redis_port":{"type":"integer","minimum":1},"redis_cluster_nodes":{"type":"array","minItems":1},"redis_cluster_name":{"type":"string"}},
 "oneOf":[{"required":["conn","burst","default_conn_delay","key"]},{"required":["default_conn_delay","rules"]}],
 "if":{"properties":{"policy":{"enum":["redis"]}}},"then":{"required":["redis_host"]},
 "else":{"if":{"properties":{"policy":{"enum":["redis-cluster"]}}},"then":{"required":["redis_cluster_nodes","redis_cluster_name"]}}}`),
	"key-auth": withConsumer(plugin(2500, true, false, true, `{"type":"object","properties":{"header":{"type":"string","default":"apikey"},"query":{"type":"string","default":"apikey"},
  "hide_credentials":{"type":"boolean","default":false},"anonymous_consumer":{"type":"string","minLength":1},"realm":$REALM_KEY}}`),
		`{"type":"object","properties":{"key":{"type":"string"}},"required":["key"]}`),
	"basic-auth": withConsumer(plugin(2520, true, false, true, `{"type":"object","properties":{"hide_credentials":{"type":"boolean","default":false},
  "anonymous_consumer":{"type":"string","minLength":1},"realm":$REALM_BASIC}}`),
		`{"type":"object","properties":{"username":{"type":"string"},"password":{"type":"string"}},"required":["username","password"]}`),
	"jwt-auth": withConsumer(plugin(2510, true, false, true, `{"type":"object","properties":{"header":{"type":"string","default":"authorization"},
  "query":{"type":"string","default":"jwt"},"cookie":{"type":"string","default":"jwt"},"hide_credentials":{"type":"boolean","default":false},
  "key_claim_name":{"type":"string","default":"key","minLength":1},"store_in_ctx":{"type":"boolean","default":false},"realm":$REALM_JWT,
  "anonymous_consumer":{"type":"string","minLength":1},"claims_to_verify":{"type":"array","items":{"type":"string","enum":["exp","nbf"]},"uniqueItems":true}}}`),
		`{"type":"object","properties":{"key":{"type":"string","minLength":1},"secret":{"type":"string","minLength":1},
  "algorithm":{"type":"string","enum":["HS256","HS384","HS512","RS256","RS384","RS512","ES256","ES384","ES512","PS256","PS384","PS512","EdDSA"],"default":"HS256"},
  "exp":{"type":"integer","minimum":1,"default":86400},"base64_secret":{"type":"boolean","default":false},"lifetime_grace_period":{"type":"integer","minimum":0,"default":0}},
 "dependencies":{"algorithm":{"oneOf":[{"properties":{"algorithm":{"enum":["HS256","HS384","HS512"],"default":"HS256"}}},
   {"properties":{"public_key":{"type":"string","minLength":1},"algorithm":{"enum":["RS256","RS384","RS512","ES256","ES384","ES512","PS256","PS384","PS512","EdDSA"]}},"required":["public_key"]}]}},
 "required":["key"]}`),
	"ip-restriction": plugin(3000, true, true, false, `{"type":"object","properties":{"whitelist":{"type":"array","minItems":1,"items":$IP},"blacklist":{"type":"array","minItems":1,"items":$IP},"message":{"type":"string","minLength":1,"maxLength":1024,"default":"Your IP address is not allowed"},"response_code":{"type":"integer","minimum":403,"maximum":404,"default":403}},
  "oneOf":[{"required":["whitelist"]},{"required":["blacklist"]}]}`),
	"cors": plugin(4000, true, false, false, `{"type":"object"}`),
	"response-rewrite": plugin(899, true, false, false, `{"type":"object","properties":{"max_resp_body_size":{"type":"integer","minimum":1,"default":67108864},
  "status_code":{"type":"integer","minimum":200,"maximum":598},"body":{"type":"string"},"body_base64":{"type":"boolean","default":false},"headers":{"type":"object"},"vars":{"type":"array"},
  "filters":{"type":"array","minItems":1,"items":{"type":"object","required":["regex","replace"],"properties":{"regex":{"type":"string","minLength":1},"scope":{"type":"string","enum":["once","global"],"default":"once"},"replace":{"type":"string"},"options":{"type":"string","default":"jo"}}}}},
 "dependencies":{"body":{"not":{"required":["filters"]}},"filters":{"not":{"required":["body"]}}}}`),
	"prometheus": plugin(500, true, true, false, `{"type":"object","properties":{"prefer_name":{"type":"boolean","default":false}}}`),
	"echo": plugin(412, true, false, false, `{"type":"object","properties":{"before_body":{"type":"string"},"body":{"type":"string"},
  "after_body":{"type":"string"},"headers":{"type":"object","minProperties":1}},
 "anyOf":[{"required":["before_body"]},{"required":["body"]},{"required":["after_body"]}],"minProperties":1}`),
	"serverless-pre-function": plugin(10000, true, false, false, `{"type":"object","properties":{"phase":{"type":"string"},"functions":{"type":"array","minItems":1,"items":{"type":"string"}}},"required":["functions"]}`),
	"traffic-split": plugin(966, true, false, false, `{"type":"object","properties":{"rules":{"type":"array","items":{"type":"object","properties":{
  "vars":{"type":"array"},"weighted_upstreams":{"type":"array","minItems":1,"items":{"type":"object","properties":{"upstream_id":$ID,"upstream":{"type":"object"},"weight":{"type":"integer","minimum":0}}}}}}}}}`),
	"mqtt-proxy": plugin(1000, false, true, false, `{"type":"object","properties":{"protocol_name":{"type":"string"},"protocol_level":{"type":"integer"}},"required":["protocol_name","protocol_level"]}`),
	"syslog":     plugin(401, true, true, false, `{"type":"object","properties":{"host":{"type":"string"},"port":{"type":"integer"}},"required":["host","port"]}`),
	"http-logger": func() pluginDef {
		p := plugin(410, true, false, false, `{"type":"object","properties":{"uri":{"type":"string","pattern":"^[^\\/]+:\\/\\/([\\da-zA-Z.-]+|\\[[\\da-fA-F:]+\\])(:\\d+)?"},
  "auth_header":{"type":"string"},"timeout":{"type":"integer","minimum":1,"default":3},"log_format":{"type":"object"},"log_format_extra":{"type":"object"},
  "include_req_body":{"type":"boolean","default":false},"include_req_body_expr":{"type":"array","minItems":1,"items":{"type":"array"}},
  "include_resp_body":{"type":"boolean","default":false},"include_resp_body_expr":{"type":"array","minItems":1,"items":{"type":"array"}},
  "max_req_body_bytes":{"type":"integer","minimum":1,"default":524288},"max_resp_body_bytes":{"type":"integer","minimum":1,"default":524288},
  "concat_method":{"type":"string","default":"json","enum":["json","new_line"]},"ssl_verify":{"type":"boolean","default":false}},"required":["uri"]}`)
		p.metadata = build(`{"type":"object","properties":{"log_format":{"type":"object"},"log_format_extra":{"type":"object"}}}`)
		return p
	}(),
}
