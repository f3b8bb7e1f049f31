package apisixclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/apisixclient"
	"github.com/goplumb/plumb/apisixclient/apisixtest"
)

func TestNewRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  apisixclient.Config
		want string
	}{
		{"negative retries", apisixclient.Config{Retries: -1}, "Config.Retries"},
		{"negative backoff", apisixclient.Config{Backoff: -time.Second}, "Config.Backoff"},
		{"retries with NoRetries", apisixclient.Config{Retries: 2, NoRetries: true}, "NoRetries"},
		{"key with a line break", apisixclient.Config{APIKey: "k\nX-Evil: 1"}, "APIKey"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := apisixclient.New("http://127.0.0.1:9180", tc.cfg)
			assert.Nil(t, c)
			require.ErrorIs(t, err, apisixclient.ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := apisixclient.New("ftp://x", apisixclient.Config{})
	assert.ErrorIs(t, err, apisixclient.ErrInvalid, "a bad base URL is bad input too")
}

// TestConfigDefaults checks the zero Config: 3 retries, and nil
// HTTPClient is a working client (WithHTTPClient(nil) used to be taken as
// http.DefaultClient silently).
func TestConfigDefaults(t *testing.T) {
	srv := apisixtest.NewServer(t, apisixtest.Config{NoAuth: true})
	c, err := apisixclient.New(srv.URL, apisixclient.Config{Backoff: time.Millisecond})
	require.NoError(t, err)
	srv.FailNext(10, 503, "etcd down")
	_, err = c.Routes.List(context.Background(), nil)
	require.Error(t, err)
	assert.Equal(t, 4, srv.Requests()["GET"], "the default is 3 retries")

	srv.FailNext(0, 0, "")
	srv.ResetRequests()
	c, err = apisixclient.New(srv.URL, apisixclient.Config{NoRetries: true})
	require.NoError(t, err)
	srv.FailNext(10, 503, "etcd down")
	_, err = c.Routes.List(context.Background(), nil)
	require.Error(t, err)
	assert.Equal(t, 1, srv.Requests()["GET"], "NoRetries sends once")
}

func TestApisixtestRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]apisixtest.Config{
		"proxy mode":       {ProxyMode: "tcp"},
		"role":             {AdminKeys: []apisixtest.AdminKey{{Key: "k", Role: "root"}}},
		"empty key":        {AdminKeys: []apisixtest.AdminKey{{Role: "admin"}}},
		"version":          {Version: "latest"},
		"2.x version":      {Version: "2.15.0"},
		"no auth and keys": {NoAuth: true, AdminKeys: []apisixtest.AdminKey{{Key: "k", Role: "admin"}}},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := apisixtest.NewHandler(cfg)
			assert.Nil(t, h)
			assert.ErrorIs(t, err, apisixtest.ErrInvalid)
		})
	}
}

// TestStrictDecoding: every answer that is not the v3 envelope is an
// *UnexpectedResponseError, never an empty success.
func TestStrictDecoding(t *testing.T) {
	ctx := context.Background()
	v2list := `{"action":"get","count":"1","node":{"dir":true,"key":"/apisix/routes","nodes":[{"key":"/apisix/routes/1","value":{"uri":"/a","upstream_id":"1"}}]}}`
	v2item := `{"action":"get","node":{"key":"/apisix/routes/1","value":{"uri":"/a","upstream_id":"1"}}}`
	cases := []struct {
		name, body string
		call       string // list, get, delete, put, plugins
		v2         bool
	}{
		{"2.x list", v2list, "list", true},
		{"2.x item", v2item, "get", true},
		{"2.x delete", `{"action":"delete","deleted":"1","key":"/apisix/routes/1","node":{}}`, "delete", true},
		{"2.x put", `{"action":"set","node":{"key":"/apisix/routes/1","value":{"uri":"/a"}}}`, "put", true},
		{"null list", `null`, "list", false},
		{"empty object list", `{}`, "list", false},
		{"string list", `{"total":1,"list":"x"}`, "list", false},
		{"object list with items", `{"total":1,"list":{"1":{"key":"/apisix/routes/1","value":{}}}}`, "list", false},
		{"list without total", `{"list":[]}`, "list", false},
		{"more items than total", `{"total":0,"list":[{"key":"/apisix/routes/1","value":{"uri":"/a"}}]}`, "list", false},
		{"list item without value", `{"total":1,"list":[{"key":"/apisix/routes/1"}]}`, "list", false},
		{"null value", `{"key":"/apisix/routes/1","value":null}`, "get", false},
		{"no key", `{"value":{"uri":"/a"}}`, "get", false},
		{"empty body", ``, "get", false},
		{"html", `<html>login</html>`, "get", false},
		{"delete with html", `<html>ok</html>`, "delete", false},
		{"delete empty", ``, "delete", false},
		{"put with empty object", `{}`, "put", false},
		{"plugins object", `{"echo":{}}`, "plugins", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := apisixclient.New(srv.URL, apisixclient.Config{NoRetries: true})
			require.NoError(t, err)
			switch tc.call {
			case "list":
				_, err = c.Routes.List(ctx, nil)
			case "get":
				_, err = c.Routes.Get(ctx, "1")
			case "delete":
				err = c.Routes.Delete(ctx, "1")
			case "put":
				_, err = c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/a", UpstreamID: "1"})
			case "plugins":
				_, err = c.Plugins.List(ctx, "")
			}
			require.ErrorIs(t, err, apisixclient.ErrUnexpectedResponse)
			var ue *apisixclient.UnexpectedResponseError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, 200, ue.StatusCode)
			assert.Equal(t, tc.v2, ue.V2)
			assert.True(t, strings.HasPrefix(tc.body, string(ue.Body)), "Body holds the first bytes")
			if tc.v2 {
				assert.Contains(t, err.Error(), "APISIX 2.x")
			}
		})
	}
}

// TestNoSilentAllClear: against a 2.x server, Lint, Diff, Sync and Dump
// fail instead of reporting nothing to do.
func TestNoSilentAllClear(t *testing.T) {
	ctx := context.Background()
	var writes int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writes++
		}
		_, _ = w.Write([]byte(`{"action":"get","count":"0","node":{"dir":true,"key":"/apisix/x","nodes":[]}}`))
	}))
	defer srv.Close()
	c, err := apisixclient.New(srv.URL, apisixclient.Config{NoRetries: true})
	require.NoError(t, err)
	st := &apisixclient.State{Upstreams: []apisixclient.Upstream{{ID: "u1", Type: "roundrobin", Nodes: apisixclient.NodeMap(map[string]int{"10.0.0.1:80": 1})}}}
	_, err = c.Lint(ctx, nil)
	assert.ErrorIs(t, err, apisixclient.ErrUnexpectedResponse, "Lint")
	_, err = c.Diff(ctx, st, apisixclient.SyncOptions{})
	assert.ErrorIs(t, err, apisixclient.ErrUnexpectedResponse, "Diff")
	p, err := c.Sync(ctx, st, apisixclient.SyncOptions{})
	assert.ErrorIs(t, err, apisixclient.ErrUnexpectedResponse, "Sync")
	if p != nil {
		assert.Zero(t, p.Applied)
	}
	assert.Zero(t, writes, "Sync wrote to a server it did not understand")
	_, err = c.Dump(ctx)
	assert.ErrorIs(t, err, apisixclient.ErrUnexpectedResponse, "Dump")
}

func TestDumpAndStateYAML(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	_, err := c.Upstreams.Put(ctx, "007", upstream("10.0.0.1:80"))
	require.NoError(t, err)
	_, err = c.Routes.Put(ctx, "r1", &apisixclient.Route{URI: "/a", UpstreamID: "007", Plugins: apisixclient.Plugins{}})
	require.NoError(t, err)
	st, err := c.Dump(ctx)
	require.NoError(t, err)
	require.Len(t, st.Upstreams, 1)
	require.Len(t, st.Routes, 1)
	y, err := st.YAML()
	require.NoError(t, err)
	assert.Contains(t, string(y), `id: "007"`, "ids stay strings")
	back, err := apisixclient.LoadState(y)
	require.NoError(t, err, "%s", y)
	assert.Equal(t, apisixclient.ID("007"), back.Upstreams[0].ID)
	assert.Equal(t, apisixclient.ID("007"), back.Routes[0].UpstreamID)
	assert.Equal(t, st.Routes[0].CreateTime, back.Routes[0].CreateTime)
}

func TestSNIScenario(t *testing.T) {
	cert, key, err := apisixclient.SelfSigned("mysite.com")
	require.NoError(t, err)
	sc := apisixclient.SNIScenario{SNI: "mysite.com", Port: 9333, Upstream: "192.168.1.33:8080", UpstreamTLS: true, Cert: cert, Key: key}
	st, sp, err := sc.Build()
	require.NoError(t, err)
	assert.Empty(t, apisixclient.Lint(sp, st.LintInput()), "the scenario lints clean")
	parsed, err := apisixclient.ParseStreamProxy([]byte(sp.YAML()))
	require.NoError(t, err)
	assert.Empty(t, apisixclient.Lint(parsed, st.LintInput()), "and so does its config.yaml")
	assert.Equal(t, apisixclient.ID("mysite-com"), st.StreamRoutes[0].ID)
	assert.Equal(t, "tls", st.StreamRoutes[0].Upstream.Scheme)

	c, _ := newClient(t)
	p, err := c.Sync(context.Background(), st, apisixclient.SyncOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, p.Applied)

	for name, bad := range map[string]apisixclient.SNIScenario{
		"upper-case sni": {SNI: "MySite.com", Port: 9333, Upstream: "a:1", Cert: cert, Key: key},
		"no port":        {SNI: "mysite.com", Upstream: "a:1", Cert: cert, Key: key},
		"bad upstream":   {SNI: "mysite.com", Port: 9333, Upstream: "a", Cert: cert, Key: key},
		"no cert":        {SNI: "mysite.com", Port: 9333, Upstream: "a:1"},
		"key as cert":    {SNI: "mysite.com", Port: 9333, Upstream: "a:1", Cert: key, Key: key},
	} {
		_, _, err := bad.Build()
		var ve *apisixclient.ValidationError
		assert.True(t, errors.As(err, &ve), "%s: %v", name, err)
	}
}
