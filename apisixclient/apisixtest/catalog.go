package apisixtest

// bundled lists every plugin APISIX 3.18 bundles: the files of
// apisix/plugins/ (name and priority from each plugin's _M table) and of
// apisix/stream/plugins/ for the stream subsystem. A plugin without a
// detailed schema in plugins accepts any object, so a conf the real schema
// refuses can pass here, but no bundled plugin is an "unknown plugin".
var bundled = []struct {
	name         string
	priority     int
	http, stream bool
	auth         bool // type = "auth": allowed in credentials
}{
	{"acl", 2410, true, false, false},
	{"ai", 22900, true, false, false},
	{"ai-aliyun-content-moderation", 1029, true, false, false},
	{"ai-aws-content-moderation", 1031, true, false, false},
	{"ai-cache", 1035, true, false, false},
	{"ai-lakera-guard", 1028, true, false, false},
	{"ai-prompt-decorator", 1070, true, false, false},
	{"ai-prompt-guard", 1072, true, false, false},
	{"ai-prompt-template", 1071, true, false, false},
	{"ai-proxy", 1040, true, false, false},
	{"ai-proxy-multi", 1041, true, false, false},
	{"ai-rag", 1060, true, false, false},
	{"ai-rate-limiting", 1030, true, false, false},
	{"ai-request-rewrite", 1073, true, false, false},
	{"api-breaker", 1005, true, false, false},
	{"attach-consumer-label", 2399, true, false, false},
	{"authz-casbin", 2560, true, false, false},
	{"authz-casdoor", 2559, true, false, false},
	{"authz-keycloak", 2000, true, false, false},
	{"aws-lambda", -1899, true, false, false},
	{"azure-functions", -1900, true, false, false},
	{"basic-auth", 2520, true, false, true},
	{"batch-requests", 4010, true, false, false},
	{"body-transformer", 1080, true, false, false},
	{"brotli", 996, true, false, false},
	{"cas-auth", 2597, true, false, false},
	{"chaitin-waf", 2700, true, false, false},
	{"clickhouse-logger", 398, true, false, false},
	{"client-control", 22000, true, false, false},
	{"consumer-restriction", 2400, true, false, false},
	{"cors", 4000, true, false, false},
	{"csrf", 2980, true, false, false},
	{"data-mask", 1500, true, false, false},
	{"datadog", 495, true, false, false},
	{"degraphql", 509, true, false, false},
	{"dingtalk-auth", 2430, true, false, false},
	{"dubbo-proxy", 507, true, false, false},
	{"echo", 412, true, false, false},
	{"elasticsearch-logger", 413, true, false, false},
	{"error-log-logger", 1091, true, false, false},
	{"error-page", 450, true, false, false},
	{"example-plugin", 0, true, false, false},
	{"exit-transformer", 22950, true, false, false},
	{"ext-plugin-post-req", -3000, true, false, false},
	{"ext-plugin-post-resp", -4000, true, false, false},
	{"ext-plugin-pre-req", 12000, true, false, false},
	{"fault-injection", 11000, true, false, false},
	{"feishu-auth", 2420, true, false, false},
	{"file-logger", 399, true, false, false},
	{"forward-auth", 2002, true, false, false},
	{"gm", -43, true, false, false},
	{"google-cloud-logging", 407, true, false, false},
	{"graphql-limit-count", 1004, true, false, false},
	{"graphql-proxy-cache", 1009, true, false, false},
	{"grpc-transcode", 506, true, false, false},
	{"grpc-web", 505, true, false, false},
	{"gzip", 995, true, false, false},
	{"hmac-auth", 2530, true, false, true},
	{"http-dubbo", 504, true, false, false},
	{"http-logger", 410, true, false, false},
	{"inspect", 200, true, false, false},
	{"ip-restriction", 3000, true, true, false},
	{"jwe-decrypt", 2509, true, false, true},
	{"jwt-auth", 2510, true, false, true},
	{"kafka-logger", 403, true, false, false},
	{"kafka-proxy", 508, true, false, false},
	{"key-auth", 2500, true, false, true},
	{"lago", 415, true, false, false},
	{"ldap-auth", 2540, true, false, true},
	{"ldap-auth-advanced", 2541, true, false, true},
	{"limit-conn", 1003, true, true, false},
	{"limit-count", 1002, true, false, false},
	{"limit-req", 1001, true, false, false},
	{"log-rotate", 100, true, false, false},
	{"loggly", 411, true, false, false},
	{"loki-logger", 414, true, false, false},
	{"mcp-bridge", 510, true, false, false},
	{"mocking", 10900, true, false, false},
	{"multi-auth", 2600, true, false, true},
	{"node-status", 1000, true, false, false},
	{"oas-validator", 512, true, false, false},
	{"ocsp-stapling", -44, true, false, false},
	{"opa", 2001, true, false, false},
	{"openfunction", -1902, true, false, false},
	{"openid-connect", 2599, true, false, false},
	{"opentelemetry", 12009, true, false, false},
	{"openwhisk", -1901, true, false, false},
	{"prometheus", 500, true, true, false},
	{"proxy-buffering", 21991, true, false, false},
	{"proxy-cache", 1085, true, false, false},
	{"proxy-control", 21990, true, false, false},
	{"proxy-mirror", 1010, true, false, false},
	{"proxy-rewrite", 1008, true, false, false},
	{"public-api", 501, true, false, false},
	{"real-ip", 23000, true, false, false},
	{"redirect", 900, true, false, false},
	{"referer-restriction", 2990, true, false, false},
	{"request-id", 12015, true, false, false},
	{"request-validation", 2800, true, false, false},
	{"response-rewrite", 899, true, false, false},
	{"rocketmq-logger", 402, true, false, false},
	{"saml-auth", 2598, true, false, false},
	{"server-info", 990, true, false, false},
	{"serverless-post-function", -2000, true, false, false},
	{"serverless-pre-function", 10000, true, false, false},
	{"skywalking", 12010, true, false, false},
	{"skywalking-logger", 408, true, false, false},
	{"sls-logger", 406, true, false, false},
	{"splunk-hec-logging", 409, true, false, false},
	{"syslog", 401, true, true, false},
	{"tcp-logger", 405, true, false, false},
	{"tencent-cloud-cls", 397, true, false, false},
	{"traffic-label", 967, true, false, false},
	{"traffic-split", 966, true, true, false},
	{"ua-restriction", 2999, true, false, false},
	{"udp-logger", 400, true, false, false},
	{"uri-blocker", 2900, true, false, false},
	{"wolf-rbac", 2555, true, false, true},
	{"workflow", 1006, true, false, false},
	{"zipkin", 12011, true, false, false},
	{"mqtt-proxy", 1000, false, true, false},
}

// morePlugins are detailed schemas (apisix/plugins/<name>.lua) of common
// plugins beyond those in plugins, with the defaults 3.2-3.13 stored.
var morePlugins = map[string]pluginDef{
	"request-id": plugin(12015, true, false, false, `{"type":"object","properties":{
  "header_name":{"type":"string","default":"X-Request-Id"},"include_in_response":{"type":"boolean","default":true},
  "algorithm":{"type":"string","enum":["uuid","nanoid","range_id","ksuid","uuidv7"],"default":"uuid"},
  "range_id":{"type":"object","properties":{"length":{"type":"integer","minimum":6,"default":16},
    "char_set":{"type":"string","minLength":6,"default":"abcdefghijklmnopqrstuvwxyzABCDEFGHIGKLMNOPQRSTUVWXYZ0123456789"}},
   "default":{"length":16,"char_set":"abcdefghijklmnopqrstuvwxyzABCDEFGHIGKLMNOPQRSTUVWXYZ0123456789"}}}}`),
	"redirect": withCheck(plugin(900, true, false, false, `{"type":"object","properties":{
  "ret_code":{"type":"integer","minimum":200,"default":302},"uri":{"type":"string","minLength":2},
  "regex_uri":{"type":"array","maxItems":2,"minItems":2,"items":{"type":"string"}},"http_to_https":{"type":"boolean"},
  "encode_uri":{"type":"boolean","default":false},"append_query_string":{"type":"boolean","default":false}},
 "oneOf":[{"required":["uri"]},{"required":["regex_uri"]},{"required":["http_to_https"]}]}`),
		func(conf map[string]any, _ bool) string {
			if conf["http_to_https"] == true && conf["append_query_string"] == true {
				return "only one of `http_to_https` and `append_query_string` can be configured."
			}
			return ""
		}),
	"grpc-transcode": plugin(506, true, false, false, `{"type":"object","properties":{
  "max_resp_body_size":{"type":"integer","minimum":1,"default":67108864},"proto_id":$ID,"service":{"type":"string"},"method":{"type":"string"},
  "deadline":{"type":"number","default":0},
  "pb_option":{"type":"array","items":{"type":"string"},"minItems":1,"default":["enum_as_name","int64_as_number","auto_default_values","disable_hooks"]},
  "show_status_in_body":{"type":"boolean","default":false},"status_detail_type":{"type":"string"}},
 "additionalProperties":true,"required":["proto_id","service","method"]}`),
	"cors": withCheck(plugin(4000, true, false, false, `{"type":"object","properties":{
  "allow_origins":{"type":"string","default":"*"},"allow_methods":{"type":"string","default":"*"},"allow_headers":{"type":"string","default":"*"},
  "expose_headers":{"type":"string"},"max_age":{"type":"integer","default":5},"allow_credential":{"type":"boolean","default":false},
  "allow_origins_by_regex":{"type":"array","items":{"type":"string","minLength":1,"maxLength":4096},"minItems":1,"uniqueItems":true},
  "allow_origins_by_metadata":{"type":"array","items":{"type":"string","minLength":1,"maxLength":4096},"minItems":1,"uniqueItems":true},
  "timing_allow_origins":{"type":"string"},
  "timing_allow_origins_by_regex":{"type":"array","items":{"type":"string","minLength":1,"maxLength":4096},"minItems":1,"uniqueItems":true}}}`),
		func(conf map[string]any, _ bool) string {
			if conf["allow_credential"] != true {
				return ""
			}
			// conf has its defaults ("*") applied, as in APISIX.
			for _, k := range []string{"allow_origins", "allow_methods", "allow_headers", "expose_headers", "timing_allow_origins"} {
				if conf[k] == "*" {
					return "you can not set '*' for other option when 'allow_credential' is true"
				}
			}
			return ""
		}),
	"consumer-restriction": plugin(2400, true, false, false, `{"type":"object","properties":{
  "type":{"type":"string","enum":["consumer_name","service_id","route_id","consumer_group_id"],"default":"consumer_name"},
  "blacklist":{"type":"array","minItems":1,"items":{"type":"string"}},"whitelist":{"type":"array","minItems":1,"items":{"type":"string"}},
  "allowed_by_methods":{"type":"array","items":{"type":"object","properties":{"user":{"type":"string"},
    "methods":{"type":"array","minItems":1,"items":{"type":"string","enum":["GET","POST","PUT","DELETE","PATCH","HEAD","OPTIONS","CONNECT","TRACE","PURGE"]}}}}},
  "rejected_code":{"type":"integer","minimum":200,"default":403},"rejected_msg":{"type":"string"}},
 "anyOf":[{"required":["blacklist"]},{"required":["whitelist"]},{"required":["allowed_by_methods"]}]}`),
	"uri-blocker": plugin(2900, true, false, false, `{"type":"object","properties":{
  "block_rules":{"type":"array","items":{"type":"string","minLength":1,"maxLength":4096},"uniqueItems":true},
  "rejected_code":{"type":"integer","minimum":200,"default":403},"rejected_msg":{"type":"string","minLength":1},
  "case_insensitive":{"type":"boolean","default":false}},"required":["block_rules"]}`),
	"ua-restriction": plugin(2999, true, false, false, `{"type":"object","properties":{
  "bypass_missing":{"type":"boolean","default":false},"allowlist":{"type":"array","minItems":1,"items":{"type":"string","minLength":1}},
  "denylist":{"type":"array","minItems":1,"items":{"type":"string","minLength":1}},"message":{"type":"string","minLength":1,"maxLength":1024,"default":"Not allowed"}},
 "oneOf":[{"required":["allowlist"]},{"required":["denylist"]}]}`),
	"referer-restriction": plugin(2990, true, false, false, `{"type":"object","properties":{
  "bypass_missing":{"type":"boolean","default":false},"whitelist":{"type":"array","items":$HOST,"minItems":1},
  "blacklist":{"type":"array","items":$HOST,"minItems":1},"message":{"type":"string","minLength":1,"maxLength":1024,"default":"Your referer host is not allowed"}},
 "oneOf":[{"required":["whitelist"]},{"required":["blacklist"]}]}`),
	"hmac-auth": withConsumer(plugin(2530, true, false, true, `{"type":"object","properties":{
  "allowed_algorithms":{"type":"array","minItems":1,"items":{"type":"string","enum":["hmac-sha1","hmac-sha256","hmac-sha512"]},"default":["hmac-sha1","hmac-sha256","hmac-sha512"]},
  "clock_skew":{"type":"integer","default":300,"minimum":1},"signed_headers":{"type":"array","default":["date"],"items":{"type":"string","minLength":1,"maxLength":50}},
  "validate_request_body":{"type":"boolean","default":false},"max_req_body_size":{"type":"integer","minimum":1,"default":67108864},
  "hide_credentials":{"type":"boolean","default":false},"realm":{"type":"string","minLength":1,"maxLength":128,"default":"hmac"},
  "anonymous_consumer":{"type":"string","minLength":1}}}`),
		`{"type":"object","properties":{"key_id":{"type":"string","minLength":1,"maxLength":256},"secret_key":{"type":"string","minLength":1,"maxLength":256}},
 "required":["key_id","secret_key"]}`),
	"api-breaker": plugin(1005, true, false, false, `{"type":"object","properties":{
  "break_response_code":{"type":"integer","minimum":200,"maximum":599},"break_response_body":{"type":"string"},
  "break_response_headers":{"type":"array","items":{"type":"object","properties":{"key":{"type":"string","minLength":1},"value":{"type":"string","minLength":1}},"required":["key","value"]}},
  "max_breaker_sec":{"type":"integer","minimum":3,"default":300},
  "unhealthy":{"type":"object","properties":{"http_statuses":{"type":"array","minItems":1,"items":{"type":"integer","minimum":500,"maximum":599},"uniqueItems":true,"default":[500]},
    "failures":{"type":"integer","minimum":1,"default":3}},"default":{"http_statuses":[500],"failures":3}},
  "healthy":{"type":"object","properties":{"http_statuses":{"type":"array","minItems":1,"items":{"type":"integer","minimum":200,"maximum":499},"uniqueItems":true,"default":[200]},
    "successes":{"type":"integer","minimum":1,"default":3}},"default":{"http_statuses":[200],"successes":3}}},
 "required":["break_response_code"]}`),
	"fault-injection": plugin(11000, true, false, false, `{"type":"object","properties":{
  "abort":{"type":"object","properties":{"http_status":{"type":"integer","minimum":200},"body":{"type":"string","minLength":0},"headers":{"type":"object","minProperties":1},
    "percentage":{"type":"integer","minimum":0,"maximum":100},"vars":{"type":"array","maxItems":20,"items":{"type":"array"}}},"required":["http_status"]},
  "delay":{"type":"object","properties":{"duration":{"type":"number","minimum":0},"percentage":{"type":"integer","minimum":0,"maximum":100},
    "vars":{"type":"array","maxItems":20,"items":{"type":"array"}}},"required":["duration"]}},
 "minProperties":1}`),
	"tcp-logger": plugin(405, true, false, false, `{"type":"object","properties":{
  "host":{"type":"string"},"port":{"type":"integer","minimum":0},"tls":{"type":"boolean","default":false},"tls_options":{"type":"string"},
  "timeout":{"type":"integer","minimum":1,"default":1000},"log_format":{"type":"object"},"include_req_body":{"type":"boolean","default":false},
  "include_resp_body":{"type":"boolean","default":false}},"required":["host","port"]}`),
	"real-ip": plugin(23000, true, false, false, `{"type":"object","properties":{
  "trusted_addresses":{"type":"array","items":$IP,"minItems":1},"source":{"type":"string","minLength":1},"recursive":{"type":"boolean","default":false}},
 "required":["source"]}`),
	"udp-logger": plugin(400, true, false, false, `{"type":"object","properties":{
  "host":{"type":"string"},"port":{"type":"integer","minimum":0},"timeout":{"type":"integer","minimum":1,"default":3},"log_format":{"type":"object"},
  "include_req_body":{"type":"boolean","default":false},"include_resp_body":{"type":"boolean","default":false},
  "max_req_body_bytes":{"type":"integer","minimum":1,"default":524288},"max_resp_body_bytes":{"type":"integer","minimum":1,"default":524288}},
 "required":["host","port"]}`),
	"zipkin": plugin(12011, true, false, false, `{"type":"object","properties":{
  "endpoint":{"type":"string"},"sample_ratio":{"type":"number","minimum":0.00001,"maximum":1},"service_name":{"type":"string","default":"APISIX"},
  "server_addr":{"type":"string","pattern":"^[0-9]{1,3}.[0-9]{1,3}.[0-9]{1,3}.[0-9]{1,3}$"},"span_version":{"enum":[1,2],"default":2}},
 "required":["endpoint","sample_ratio"]}`),
	"gzip": plugin(995, true, false, false, `{"type":"object","properties":{
  "types":{"anyOf":[{"type":"array","minItems":1,"items":{"type":"string","minLength":1}},{"enum":["*"]}],"default":["text/html"]},
  "min_length":{"type":"integer","minimum":1,"default":20},"comp_level":{"type":"integer","minimum":1,"maximum":9,"default":1},
  "http_version":{"enum":[1.1,1.0],"default":1.1},
  "buffers":{"type":"object","properties":{"number":{"type":"integer","minimum":1,"default":32},"size":{"type":"integer","minimum":1,"default":4096}},
   "default":{"number":32,"size":4096}},"vary":{"type":"boolean"}}}`),
	"mocking": plugin(10900, true, false, false, `{"type":"object","properties":{
  "delay":{"type":"integer","default":0},"response_status":{"type":"integer","default":200,"minimum":100},
  "content_type":{"type":"string","default":"application/json;charset=utf8"},"response_example":{"type":"string"},"response_schema":{"type":"object"},
  "with_mock_header":{"type":"boolean","default":true},"response_headers":{"type":"object","minProperties":1}},
 "anyOf":[{"required":["response_example"]},{"required":["response_schema"]}]}`),
	"forward-auth": plugin(2002, true, false, false, `{"type":"object","properties":{
  "uri":{"type":"string"},"allow_degradation":{"type":"boolean","default":false},"status_on_error":{"type":"integer","minimum":200,"maximum":599,"default":403},
  "ssl_verify":{"type":"boolean","default":true},"request_method":{"type":"string","default":"GET","enum":["GET","POST"]},
  "max_req_body_size":{"type":"integer","minimum":1,"default":67108864},"request_headers":{"type":"array","items":{"type":"string"}},
  "extra_headers":{"type":"object","minProperties":1,"patternProperties":{"^[^:]+$":{"type":"string"}}},
  "upstream_headers":{"type":"array","items":{"type":"string"}},"client_headers":{"type":"array","items":{"type":"string"}},
  "timeout":{"type":"integer","minimum":1,"maximum":60000,"default":3000},"keepalive":{"type":"boolean","default":true},
  "keepalive_timeout":{"type":"integer","minimum":1000,"default":60000},"keepalive_pool":{"type":"integer","minimum":1,"default":5}},
 "required":["uri"]}`),
	"csrf": plugin(2980, true, false, false, `{"type":"object","properties":{
  "key":{"type":"string"},"expires":{"type":"integer","default":7200},"name":{"type":"string","default":"apisix-csrf-token"}},"required":["key"]}`),
	"openid-connect": withPrecheck(plugin(2599, true, false, false, `{"type":"object","properties":{
  "client_id":{"type":"string"},"client_secret":{"type":"string"},"discovery":{"type":"string"},"scope":{"type":"string","default":"openid"},
  "ssl_verify":{"type":"boolean","default":true},"timeout":{"type":"integer","minimum":1,"default":3},
  "introspection_endpoint":{"type":"string"},"bearer_only":{"type":"boolean","default":false},
  "introspection_endpoint_auth_method":{"type":"string","default":"client_secret_basic"},
  "token_endpoint_auth_method":{"type":"string","default":"client_secret_basic"},"use_jwks":{"type":"boolean","default":false},
  "session":{"type":"object","properties":{"secret":{"type":"string","minLength":16}},"required":["secret"]},
  "realm":{"type":"string","default":"apisix"},"logout_path":{"type":"string","default":"/logout"},"redirect_uri":{"type":"string"},
  "public_key":{"type":"string"},"use_pkce":{"type":"boolean","default":false},"unauth_action":{"type":"string","default":"auth","enum":["auth","deny","pass"]}},
 "required":["client_id","discovery"]}`),
		// check_schema of apisix/plugins/openid-connect.lua tests these
		// before the schema.
		func(conf map[string]any) string {
			if conf["bearer_only"] != true && conf["session"] == nil {
				return `property "session.secret" is required when "bearer_only" is false`
			}
			var optional bool
			if conf["bearer_only"] == true {
				optional = conf["public_key"] != nil || conf["use_jwks"] == true || conf["introspection_endpoint_auth_method"] == "private_key_jwt"
			} else {
				optional = conf["token_endpoint_auth_method"] == "private_key_jwt" || conf["use_pkce"] == true
			}
			if !optional && conf["client_secret"] == nil {
				return `property "client_secret" is required`
			}
			return ""
		}),
	"traffic-split": withCheck(plugin(966, true, true, false, `{"type":"object","properties":{"rules":{"type":"array","items":{"type":"object","properties":{
  "match":{"type":"array","items":{"type":"object","properties":{"vars":{"type":"array"}}}},
  "weighted_upstreams":{"type":"array","minItems":1,"maxItems":20,"default":[{"weight":1}],
   "items":{"type":"object","properties":{"upstream_id":$ID,"upstream":$UPSTREAM,"weight":{"type":"integer","default":1,"minimum":0}}}}}}}}}`),
		func(conf map[string]any, _ bool) string {
			rules, _ := conf["rules"].([]any)
			for _, r := range rules {
				rm, _ := r.(map[string]any)
				match, _ := rm["match"].([]any)
				for _, m := range match {
					mm, _ := m.(map[string]any)
					if vars, ok := mm["vars"].([]any); ok {
						if msg := checkVars(vars); msg != "" {
							return "failed to validate the 'vars' expression: " + msg
						}
					}
				}
			}
			return ""
		}),
	"kafka-logger": plugin(403, true, false, false, `{"type":"object","properties":{
  "meta_format":{"type":"string","default":"default","enum":["default","origin"]},"log_format":{"type":"object"},
  "broker_list":{"type":"object","minProperties":1,"patternProperties":{".*":{"type":"integer","minimum":1,"maximum":65535}}},
  "brokers":{"type":"array","minItems":1,"uniqueItems":true,"items":{"type":"object","properties":{"host":{"type":"string"},
    "port":{"type":"integer","minimum":1,"maximum":65535},
    "sasl_config":{"type":"object","properties":{"mechanism":{"type":"string","default":"PLAIN","enum":["PLAIN","SCRAM-SHA-256","SCRAM-SHA-512"]},
      "user":{"type":"string"},"password":{"type":"string"}},"required":["user","password"]}},"required":["host","port"]}},
  "kafka_topic":{"type":"string"},"producer_type":{"type":"string","default":"async","enum":["async","sync"]},
  "required_acks":{"type":"integer","default":1,"enum":[1,-1]},"key":{"type":"string"},"timeout":{"type":"integer","minimum":1,"default":3},
  "include_req_body":{"type":"boolean","default":false},"include_resp_body":{"type":"boolean","default":false}},
 "oneOf":[{"required":["broker_list","kafka_topic"]},{"required":["brokers","kafka_topic"]}]}`),
	"loki-logger": plugin(414, true, false, false, `{"type":"object","properties":{
  "endpoint_addrs":{"type":"array","minItems":1,"items":$URI},"endpoint_uri":{"type":"string","minLength":1,"default":"/loki/api/v1/push"},
  "tenant_id":{"type":"string","default":"fake"},"headers":{"type":"object","patternProperties":{".*":{"type":"string","minLength":1}}},
  "log_labels":{"type":"object","patternProperties":{".*":{"type":"string","minLength":1}},"default":{"job":"apisix"}},
  "ssl_verify":{"type":"boolean","default":false},"timeout":{"type":"integer","minimum":1,"maximum":60000,"default":3000},
  "keepalive":{"type":"boolean","default":true},"keepalive_timeout":{"type":"integer","minimum":1000,"default":60000}},
 "required":["endpoint_addrs"]}`),
	"clickhouse-logger": plugin(398, true, false, false, `{"type":"object","properties":{
  "endpoint_addr":$URI,"endpoint_addrs":{"items":$URI,"type":"array","minItems":1},"user":{"type":"string","default":""},
  "password":{"type":"string","default":""},"database":{"type":"string","default":""},"logtable":{"type":"string","default":""},
  "timeout":{"type":"integer","minimum":1,"default":3},"name":{"type":"string","default":"clickhouse logger"},"ssl_verify":{"type":"boolean","default":true}},
 "oneOf":[{"required":["endpoint_addr","user","password","database","logtable"]},{"required":["endpoint_addrs","user","password","database","logtable"]}]}`),
	"serverless-post-function": plugin(-2000, true, false, false, `{"type":"object","properties":{
  "phase":{"type":"string","default":"access","enum":["rewrite","access","header_filter","body_filter","log","before_proxy"]},
  "functions":{"type":"array","minItems":1,"items":{"type":"string"}}},"required":["functions"]}`),
}

// xrpcSchemas are the conf schemas of the bundled xRPC protocols.
var xrpcSchemas = map[string]*schema{
	"redis": build(`{"type":"object","properties":{"faults":{"type":"array","minItems":1,"items":{"type":"object","properties":{
  "commands":{"type":"array","minItems":1,"items":{"type":"string"}},"key":{"type":"string","minLength":1},"delay":{"type":"number"}},
  "required":["commands","delay"]}}}}`),
	"dubbo": build(`{"type":"object"}`),
}

// withPrecheck sets check_schema rules that run before the JSON schema.
func withPrecheck(p pluginDef, check func(map[string]any) string) pluginDef {
	p.precheck = check
	return p
}

// withCheck sets a plugin's check_schema rules.
func withCheck(p pluginDef, check func(map[string]any, bool) string) pluginDef {
	p.check = check
	return p
}

func init() {
	for name, p := range morePlugins {
		plugins[name] = p
	}
	// proxy-rewrite's check_schema: regex_uri holds pattern/template pairs.
	pr := plugins["proxy-rewrite"]
	pr.check = func(conf map[string]any, _ bool) string {
		if re, ok := conf["regex_uri"].([]any); ok && len(re)%2 != 0 {
			return "The length of regex_uri should be an even number"
		}
		return ""
	}
	plugins["proxy-rewrite"] = pr
	for _, b := range bundled {
		p, ok := plugins[b.name]
		if !ok {
			p = plugin(b.priority, b.http, b.stream, b.auth, `{"type":"object"}`)
		}
		p.priority, p.http, p.stream, p.auth = b.priority, b.http, b.stream, b.auth
		plugins[b.name] = p
	}
}
