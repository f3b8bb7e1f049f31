package apisixtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Behaviour of the spec that the conformance file does not cover.
func TestHandlerSpecBehaviour(t *testing.T) {
	up := `{"nodes":{"127.0.0.1:80":1},"type":"roundrobin"}`
	cases := []struct {
		name       string
		cfg        Config
		setup      [][3]string // method, path, body
		hdr        map[string]string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string // substring
	}{
		{name: "HEAD liveness", method: "HEAD", path: "/apisix/admin", wantStatus: 200},
		{name: "unknown route field", method: "PUT", path: "/apisix/admin/routes/1", body: `{"uri":"/","upstream":` + up + `,"url":"/x"}`,
			wantStatus: 400, wantBody: "additional properties forbidden, found url"},
		{name: "unknown stream route field", method: "PUT", path: "/apisix/admin/stream_routes/1", body: `{"server_port":1,"upstream":` + up + `,"port":1}`,
			wantStatus: 400, wantBody: "additional properties forbidden, found port"},
		{name: "unknown upstream field", method: "PUT", path: "/apisix/admin/upstreams/1", body: `{"nodes":{},"timeout_ms":1}`,
			wantStatus: 400, wantBody: "found timeout_ms"},
		{name: "ssl has no name", method: "PUT", path: "/apisix/admin/ssls/1", body: `{"name":"x"}`, wantStatus: 400, wantBody: "found name"},
		{name: "PUT without body", method: "PUT", path: "/apisix/admin/routes/1", wantStatus: 400, wantBody: "missing configurations"},
		{name: "PUT without id", method: "PUT", path: "/apisix/admin/routes", body: `{"uri":"/","upstream":` + up + `}`, wantStatus: 400, wantBody: "missing route id"},
		{name: "bad JSON echoes req_body", method: "PUT", path: "/apisix/admin/routes/1", body: `{"uri":`, wantStatus: 400, wantBody: `"req_body":"{\"uri\":"`},
		{name: "ttl not a number, even on GET", method: "GET", path: "/apisix/admin/routes?ttl=abc", wantStatus: 400, wantBody: "invalid argument ttl: should be a number"},
		{name: "PATCH missing key", method: "PATCH", path: "/apisix/admin/routes/9", body: `{"desc":"x"}`, wantStatus: 404, wantBody: `{"message":"Key not found"}`},
		{name: "PATCH empty body", setup: [][3]string{{"PUT", "/apisix/admin/routes/1", `{"uri":"/","upstream":` + up + `}`}},
			method: "PATCH", path: "/apisix/admin/routes/1", wantStatus: 400, wantBody: "missing new configuration"},
		{name: "PATCH sub-path through a scalar", setup: [][3]string{{"PUT", "/apisix/admin/routes/1", `{"uri":"/","upstream":` + up + `}`}},
			method: "PATCH", path: "/apisix/admin/routes/1/uri/x", body: `"y"`, wantStatus: 400, wantBody: "invalid sub-path: /uri/x"},
		{name: "PATCH non-object without sub-path", setup: [][3]string{{"PUT", "/apisix/admin/routes/1", `{"uri":"/","upstream":` + up + `}`}},
			method: "PATCH", path: "/apisix/admin/routes/1", body: `[1]`, wantStatus: 400, wantBody: "invalid configuration"},
		{name: "PATCH result is checked", setup: [][3]string{{"PUT", "/apisix/admin/routes/1", `{"uri":"/","upstream":` + up + `}`}},
			method: "PATCH", path: "/apisix/admin/routes/1", body: `{"uris":["/a"]}`, wantStatus: 400, wantBody: "allOf 1 failed"},
		{name: "stream route PATCH is 405", method: "PATCH", path: "/apisix/admin/stream_routes/1", body: `{}`, wantStatus: 405, wantBody: "not supported `PATCH` method for stream route"},
		{name: "global rule POST is 405", method: "POST", path: "/apisix/admin/global_rules", body: `{}`, wantStatus: 405, wantBody: "for global rule"},
		{name: "credential for a missing consumer", method: "PUT", path: "/apisix/admin/consumers/jack/credentials/c1", body: `{"plugins":{"key-auth":{"key":"k"}}}`,
			wantStatus: 404, wantBody: "consumer not found"},
		{name: "credential list of a missing consumer", method: "GET", path: "/apisix/admin/consumers/jack/credentials", wantStatus: 404, wantBody: "Key not found"},
		{name: "credential takes auth plugins only", setup: [][3]string{{"PUT", "/apisix/admin/consumers", `{"username":"jack"}`}},
			method: "PUT", path: "/apisix/admin/consumers/jack/credentials/c1", body: `{"plugins":{"limit-count":{"count":1,"time_window":1}}}`,
			wantStatus: 400, wantBody: "only supports auth type plugins in consumer credential"},
		{name: "deleting a consumer removes its credentials", setup: [][3]string{
			{"PUT", "/apisix/admin/consumers", `{"username":"jack"}`},
			{"PUT", "/apisix/admin/consumers/jack/credentials/c1", `{"plugins":{"key-auth":{"key":"k"}}}`},
			{"DELETE", "/apisix/admin/consumers/jack", ``},
			{"PUT", "/apisix/admin/consumers", `{"username":"jack"}`},
		}, method: "GET", path: "/apisix/admin/consumers/jack/credentials", wantStatus: 200, wantBody: `"total":0`},
		{name: "consumer username mismatch", method: "PUT", path: "/apisix/admin/consumers/jack", body: `{"username":"rose"}`, wantStatus: 400, wantBody: "wrong username"},
		{name: "consumer plugin error prefix", method: "PUT", path: "/apisix/admin/consumers", body: `{"username":"jack","plugins":{"nope":{}}}`,
			wantStatus: 400, wantBody: "invalid plugins configuration: unknown plugin [nope]"},
		{name: "plugin conf not an object", method: "PUT", path: "/apisix/admin/routes/1", body: `{"uri":"/","plugins":{"echo":1}}`,
			wantStatus: 400, wantBody: "invalid plugin conf 1 for plugin [echo]"},
		{name: "http plugin on a stream route", method: "PUT", path: "/apisix/admin/stream_routes/1", body: `{"server_port":1,"plugins":{"proxy-mirror":{"host":"http://a"}}}`,
			wantStatus: 400, wantBody: "unknown plugin [proxy-mirror]"},
		{name: "stream sni and snis exclusive", method: "PUT", path: "/apisix/admin/stream_routes/1", body: `{"sni":"a.com","snis":["b.com"],"upstream":` + up + `}`,
			wantStatus: 400, wantBody: "value wasn't supposed to match schema"},
		{name: "pass_host rewrite needs upstream_host", method: "PUT", path: "/apisix/admin/upstreams/1", body: `{"nodes":{},"pass_host":"rewrite"}`,
			wantStatus: 400, wantBody: "`upstream_host` can't be empty when `pass_host` is `rewrite`"},
		{name: "map node with a bad port", method: "PUT", path: "/apisix/admin/upstreams/1", body: `{"nodes":{"a:70000":1}}`, wantStatus: 400, wantBody: "invalid port 70000"},
		{name: "bare IPv6 array node", method: "PUT", path: "/apisix/admin/upstreams/1", body: `{"nodes":[{"host":"::1","port":80,"weight":1}]}`,
			wantStatus: 400, wantBody: "IPv6 address must be enclosed with '[' and ']'"},
		{name: "nodes and discovery exclusive", method: "PUT", path: "/apisix/admin/upstreams/1", body: `{"nodes":{},"service_name":"a","discovery_type":"dns"}`,
			wantStatus: 400, wantBody: "value should match only one schema, but matches both schemas 1 and 2"},
		{name: "plugin metadata for an unknown plugin", method: "PUT", path: "/apisix/admin/plugin_metadata/nope", body: `{"a":1}`, wantStatus: 400, wantBody: "invalid plugin name"},
		{name: "bad secret manager", method: "PUT", path: "/apisix/admin/secrets/hashicorp/1", body: `{}`, wantStatus: 400, wantBody: "invalid secret manager: hashicorp"},
		{name: "plugin list by subsystem", method: "GET", path: "/apisix/admin/plugins/list?subsystem=stream", wantStatus: 200, wantBody: `"mqtt-proxy"`},
		{name: "bad subsystem is plain text", method: "GET", path: "/apisix/admin/plugins/list?subsystem=tcp", wantStatus: 400, wantBody: "invalid subsystem passed"},
		{name: "plugin not in subsystem", method: "GET", path: "/apisix/admin/plugins/proxy-mirror?subsystem=stream", wantStatus: 404, wantBody: "plugin not found in subsystem stream"},
		{name: "plugins reload", method: "PUT", path: "/apisix/admin/plugins/reload", wantStatus: 200, wantBody: "done"},
		{name: "schema validate ok", method: "POST", path: "/apisix/admin/schema/validate/routes", body: `{"uri":"/","upstream_id":"9"}`, wantStatus: 200},
		{name: "schema unknown", method: "GET", path: "/apisix/admin/schema/nope", wantStatus: 400, wantBody: "not found schema: nope"},
		{name: "name filter", setup: [][3]string{
			{"PUT", "/apisix/admin/upstreams/1", `{"name":"alpha","nodes":{}}`}, {"PUT", "/apisix/admin/upstreams/2", `{"name":"beta","nodes":{}}`}, {"PUT", "/apisix/admin/upstreams/3", `{"nodes":{}}`},
		}, method: "GET", path: "/apisix/admin/upstreams?name=^b", wantStatus: 200, wantBody: `"total":1`},
		{name: "empty label matches nothing", setup: [][3]string{{"PUT", "/apisix/admin/upstreams/1", `{"labels":{"a":"b"},"nodes":{}}`}},
			method: "GET", path: "/apisix/admin/upstreams?label=", wantStatus: 200, wantBody: `"total":0`},
		{name: "viewer may read", cfg: Config{AdminKeys: []AdminKey{AdminKey{Key: "v", Role: "viewer"}}}, hdr: map[string]string{"X-API-KEY": "v"},
			method: "GET", path: "/apisix/admin/routes", wantStatus: 200},
		{name: "viewer may not write", cfg: Config{AdminKeys: []AdminKey{AdminKey{Key: "v", Role: "viewer"}}}, hdr: map[string]string{"X-API-KEY": "v"},
			method: "PUT", path: "/apisix/admin/routes/1", body: `{}`, wantStatus: 401, wantBody: "invalid method for role viewer"},
		{name: "key as query parameter", cfg: Config{AdminKeys: []AdminKey{AdminKey{Key: "k", Role: "admin"}}},
			method: "GET", path: "/apisix/admin/routes?api_key=k", wantStatus: 200},
		{name: "stream GET with stream mode off", cfg: Config{ProxyMode: "http"}, method: "GET", path: "/apisix/admin/stream_routes", wantStatus: 400, wantBody: "stream mode is disabled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(t, tc.cfg)
			for _, s := range tc.setup {
				rec := do(t, h, s[0], s[1], []byte(s[2]), tc.hdr)
				require.Less(t, rec.Code, 300, "setup %v: %s", s, rec.Body)
			}
			rec := do(t, h, tc.method, tc.path, []byte(tc.body), tc.hdr)
			assert.Equal(t, tc.wantStatus, rec.Code, "body %s", rec.Body)
			assert.Contains(t, rec.Body.String(), tc.wantBody)
			assert.Equal(t, "APISIX/"+DefaultVersion, rec.Header().Get("Server"))
		})
	}
}

func TestListOrderAndPaging(t *testing.T) {
	h := newHandler(t, Config{})
	for _, id := range []string{"2", "10", "1"} {
		rec := do(t, h, "PUT", "/apisix/admin/upstreams/"+id, []byte(`{"nodes":{}}`), nil)
		require.Equal(t, http.StatusCreated, rec.Code)
	}
	keysOf := func(path string) []string {
		rec := do(t, h, "GET", path, nil, nil)
		require.Equal(t, 200, rec.Code)
		var out []string
		for _, it := range decode(t, rec.Body.Bytes()).(map[string]any)["list"].([]any) {
			out = append(out, it.(map[string]any)["key"].(string))
		}
		return out
	}
	assert.Equal(t, []string{"/apisix/upstreams/1", "/apisix/upstreams/10", "/apisix/upstreams/2"}, keysOf("/apisix/admin/upstreams"), "byte-wise key order")
	assert.Equal(t, []string{"/apisix/upstreams/2", "/apisix/upstreams/10", "/apisix/upstreams/1"}, keysOf("/apisix/admin/upstreams?page=0&page_size=10"), "creation order; page<1 is 1")
}

func TestFailNextAndRequests(t *testing.T) {
	h := newHandler(t, Config{})
	h.FailNext(1, 503, "value changed before overwritten")
	rec := do(t, h, "GET", "/apisix/admin/routes", nil, nil)
	assert.Equal(t, 503, rec.Code)
	assert.True(t, strings.Contains(rec.Body.String(), "value changed before overwritten"))
	rec = do(t, h, "GET", "/apisix/admin/routes", nil, nil)
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, map[string]int{"GET": 2}, h.Requests())
}

// newHandler returns a Handler for cfg or fails t.
func newHandler(t testing.TB, cfg Config) *Handler {
	t.Helper()
	h, err := NewHandler(cfg)
	require.NoError(t, err)
	return h
}

// TestDotIDsRefusedByServer: the server refuses paths nginx would
// normalise into another resource, and ".." ids in a body, instead of
// storing them.
func TestDotIDsRefusedByServer(t *testing.T) {
	h := newHandler(t, Config{})
	rec := do(t, h, "PUT", "/apisix/admin/consumers/jack", []byte(`{"username":"jack"}`), nil)
	require.Equal(t, 201, rec.Code)
	for _, tc := range []struct{ method, path, body string }{
		{"DELETE", "/apisix/admin/consumers/jack/credentials/..", ""},
		{"PUT", "/apisix/admin/consumers/jack/credentials/.", `{"plugins":{"key-auth":{"key":"k"}}}`},
		{"PUT", "/apisix/admin/routes/%2e%2e", `{"uri":"/a","upstream":{"nodes":{}}}`},
		{"PUT", "/apisix/admin/routes/a%2Fb", `{"uri":"/a","upstream":{"nodes":{}}}`},
		{"GET", "/apisix/admin//routes", ""},
		{"PUT", "/apisix/admin/upstreams", `{"id":"..","nodes":{}}`},
		{"PUT", "/apisix/admin/secrets/vault/..", `{"uri":"http://v:8200","prefix":"p","token":"t"}`},
	} {
		rec := do(t, h, tc.method, tc.path, []byte(tc.body), nil)
		assert.Equal(t, 400, rec.Code, "%s %s: %s", tc.method, tc.path, rec.Body)
		assert.Contains(t, rec.Body.String(), "normalised path", "%s %s", tc.method, tc.path)
	}
	assert.Equal(t, 1, h.Len("consumers"), "jack is still there")
	assert.Zero(t, h.Len("upstreams"))
	assert.Zero(t, h.Len("routes"))
}

// TestNilBody: a request built by hand with a nil Body must not panic.
func TestNilBody(t *testing.T) {
	h := newHandler(t, Config{})
	for _, m := range []string{"GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"} {
		req := httptest.NewRequest(m, "/apisix/admin/routes/1", nil)
		req.Body = nil
		rec := httptest.NewRecorder()
		assert.NotPanics(t, func() { h.ServeHTTP(rec, req) }, m)
		assert.NotZero(t, rec.Code)
	}
}
