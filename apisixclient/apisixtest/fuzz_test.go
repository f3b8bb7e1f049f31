package apisixtest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzServeHTTP: no request, however malformed, makes the handler panic,
// and every answer has a status.
func FuzzServeHTTP(f *testing.F) {
	f.Add("PUT", "/apisix/admin/routes/1", []byte(`{"uri":"/a","upstream":{"nodes":{"a:1":1}}}`))
	f.Add("PATCH", "/apisix/admin/routes/1/upstream/nodes", []byte(`null`))
	f.Add("POST", "/apisix/admin/schema/validate/routes", []byte(`[]`))
	f.Add("PUT", "/apisix/admin/stream_routes/1", []byte(`{"protocol":{"name":"redis","conf":null},"upstream":{"nodes":[]}}`))
	f.Add("PUT", "/apisix/admin/consumers/jack/credentials/c1", []byte(`{"plugins":{"key-auth":[]}}`))
	f.Add("POST", "/apisix/admin/configs/validate", []byte(`{"routes":[{"id":1}]}`))
	f.Add("GET", "/apisix/admin/plugins/limit-count?schema_type=consumer", []byte(nil))
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if len(path) == 0 || path[0] != '/' {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://x"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		h, err := NewHandler(Config{})
		if err != nil {
			t.Fatal(err)
		}
		// Seed the store so references and sub-paths have something to hit.
		for _, s := range [][2]string{
			{"/apisix/admin/upstreams/1", `{"nodes":{"a:1":1}}`},
			{"/apisix/admin/routes/1", `{"uri":"/a","upstream_id":"1","plugins":{"proxy-mirror":{"host":"http://a"}}}`},
			{"/apisix/admin/consumers/jack", `{"username":"jack"}`},
		} {
			r := httptest.NewRequest("PUT", s[0], bytes.NewReader([]byte(s[1])))
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 100 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
	})
}
