package apisixtest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryBundledPluginIsKnown: no bundled plugin gets a false "unknown
// plugin"; an empty conf either passes or fails on the plugin's own schema.
func TestEveryBundledPluginIsKnown(t *testing.T) {
	h := newHandler(t, Config{})
	require.GreaterOrEqual(t, len(bundled), 115)
	for _, b := range bundled {
		if !b.http {
			continue
		}
		body, _ := json.Marshal(map[string]any{"uri": "/a", "plugins": map[string]any{b.name: map[string]any{}}})
		rec := do(t, h, "PUT", "/apisix/admin/routes/1", body, nil)
		assert.NotContains(t, rec.Body.String(), "unknown plugin", b.name)
	}
	for _, name := range []string{"ip-restriction", "limit-conn", "mqtt-proxy", "prometheus", "syslog", "traffic-split"} {
		assert.True(t, plugins[name].stream, "%s is a stream plugin", name)
	}
	rec := do(t, h, "PUT", "/apisix/admin/stream_routes/1", []byte(`{"server_port":9100,"upstream":{"nodes":{"a:1":1}},"plugins":{"limit-count":{"count":1,"time_window":1}}}`), nil)
	assert.Equal(t, 400, rec.Code)
	assert.Contains(t, rec.Body.String(), "unknown plugin [limit-count]", "limit-count has no stream version")
}

func TestPluginCheckSchemaRules(t *testing.T) {
	h := newHandler(t, Config{})
	cases := []struct{ name, plugins, want string }{
		{"cors credential with default *", `{"cors":{"allow_credential":true}}`, "you can not set '*' for other option when 'allow_credential' is true"},
		{"proxy-rewrite odd regex_uri", `{"proxy-rewrite":{"regex_uri":["^/a","/b","^/c"]}}`, "The length of regex_uri should be an even number"},
		{"limit-count redis without host", `{"limit-count":{"count":1,"time_window":1,"policy":"redis"}}`, "failed to check the configuration of plugin limit-count"},
		{"grpc-transcode missing method", `{"grpc-transcode":{"proto_id":"1","service":"s"}}`, `property \"method\" is required`},
		{"redirect with nothing", `{"redirect":{}}`, "value should match only one schema, but matches none"},
		{"echo with nothing", `{"echo":{}}`, "failed to check the configuration of plugin echo err:"},
		{"kafka-logger without topic", `{"kafka-logger":{"broker_list":{"127.0.0.1":9092}}}`, "value should match only one schema, but matches none"},
		{"loki-logger bad endpoint", `{"loki-logger":{"endpoint_addrs":["loki:3100"]}}`, "failed to match pattern"},
		{"traffic-split bad vars", `{"traffic-split":{"rules":[{"match":[{"vars":[["arg_x","bogus","1"]]}],"weighted_upstreams":[{"weight":1}]}]}}`, "failed to validate the 'vars' expression: invalid operator 'bogus'"},
		{"traffic-split bad inline upstream", `{"traffic-split":{"rules":[{"weighted_upstreams":[{"upstream":{"nodes":{"a:1":1},"scheme":"ftp"},"weight":1}]}]}}`, "matches none of the enum values"},
		{"openid-connect without session", `{"openid-connect":{"client_id":"c","client_secret":"s","discovery":"http://d"}}`, `property \"session.secret\" is required when \"bearer_only\" is false`},
		{"openid-connect bearer without secret", `{"openid-connect":{"client_id":"c","discovery":"http://d","bearer_only":true}}`, `property \"client_secret\" is required`},
		{"http-logger without scheme", `{"http-logger":{"uri":"127.0.0.1"}}`, "failed to match pattern"},
		{"limit-conn redis without host", `{"limit-conn":{"conn":1,"burst":0,"default_conn_delay":0.1,"key":"remote_addr","policy":"redis"}}`, "then clause did not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, "PUT", "/apisix/admin/routes/1", []byte(`{"uri":"/a","upstream":{"nodes":{"a:1":1}},"plugins":`+tc.plugins+`}`), nil)
			assert.Equal(t, 400, rec.Code, "%s", rec.Body)
			assert.Contains(t, rec.Body.String(), tc.want)
		})
	}
	// Confs taken from APISIX's docs and tests pass.
	for i, ok := range []string{
		`{"limit-count":{"count":1,"time_window":1,"policy":"redis","redis_host":"127.0.0.1"}}`,
		`{"kafka-logger":{"broker_list":{"127.0.0.1":9092},"kafka_topic":"test2"}}`,
		`{"clickhouse-logger":{"endpoint_addr":"http://127.0.0.1:8123","user":"default","password":"a","database":"default","logtable":"t"}}`,
		`{"loki-logger":{"endpoint_addrs":["http://127.0.0.1:3100"]}}`,
		`{"traffic-split":{"rules":[{"match":[{"vars":[["arg_name","==","jack"]]}],"weighted_upstreams":[{"upstream":{"type":"roundrobin","nodes":{"127.0.0.1:1981":1}},"weight":3},{"weight":1}]}]}}`,
		`{"openid-connect":{"client_id":"a","client_secret":"b","discovery":"http://d/.well-known/openid-configuration","bearer_only":true}}`,
		`{"echo":{"before_body":"before"}}`,
		`{"redirect":{"http_to_https":true}}`,
		`{"request-id":{"algorithm":"nanoid"}}`,
		`{"grpc-transcode":{"proto_id":"1","service":"helloworld.Greeter","method":"SayHello"}}`,
	} {
		rec := do(t, h, "PUT", "/apisix/admin/routes/ok", []byte(`{"uri":"/a","upstream":{"nodes":{"a:1":1}},"plugins":`+ok+`}`), nil)
		assert.Less(t, rec.Code, 300, "valid conf %d %s: %s", i, ok, rec.Body)
	}
}

// TestStreamProtocolConf: xrpc.check_schema applies the protocol's own
// schema to protocol.conf (apisix/stream/xrpc/protocols/redis/schema.lua).
func TestStreamProtocolConf(t *testing.T) {
	h := newHandler(t, Config{})
	put := func(conf string) (int, string) {
		rec := do(t, h, "PUT", "/apisix/admin/stream_routes/1", []byte(`{"upstream":{"nodes":{"a:6379":1},"type":"roundrobin"},"protocol":{"name":"redis","conf":`+conf+`}}`), nil)
		return rec.Code, rec.Body.String()
	}
	code, body := put(`{"faults":[{"commands":["get"],"key":"bogus"}]}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, `property \"faults\" validation failed: failed to validate item 1: property \"delay\" is required`)
	code, body = put(`{"faults":[]}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "expect array to have at least 1 items")
	code, body = put(`{"faults":[{"commands":["get"],"key":"bogus","delay":0.1}]}`)
	assert.Equal(t, 201, code, body)
}

// TestDependencyMessages: api7/jsonschema quotes both names
// (t/plugin/ai-rate-limiting.t: property "limit" is required when
// "time_window" is set).
func TestDependencyMessages(t *testing.T) {
	s := mustSchema(`{"type":"object","properties":{"a":{"type":"string"}},"dependencies":{"a":["b"],"c":["d"],"e":{"required":["f"]}}}`)
	assert.Equal(t, `property "b" is required when "a" is set`, s.validate(map[string]any{"a": "x"}))
	assert.Equal(t, `property "d" is required when "c" is set`, s.validate(map[string]any{"c": 1}))
	assert.Equal(t, `failed to validate dependent schema for "e": property "f" is required`, s.validate(map[string]any{"e": 1}))
	assert.Empty(t, s.validate(map[string]any{"a": "x", "b": 1, "c": 1, "d": 1, "e": 1, "f": 1}))
	h := newHandler(t, Config{})
	rec := do(t, h, "PUT", "/apisix/admin/upstreams/1", []byte(`{"nodes":{"a:1":1},"tls":{"client_cert":"`+strings.Repeat("c", 200)+`"}}`), nil)
	assert.Contains(t, rec.Body.String(), `property \"client_key\" is required when \"client_cert\" is set`)
}
