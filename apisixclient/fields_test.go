package apisixclient_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/apisixclient"
)

// TestEmptyPluginsRoundTrip: APISIX stores "plugins": {} and a route with
// only a uri and plugins {} is valid; GET then PUT must work and keep it.
func TestEmptyPluginsRoundTrip(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	r := &apisixclient.Route{URI: "/a", Plugins: apisixclient.Plugins{}}
	require.NoError(t, r.Validate(), "plugins: {} satisfies the route schema")
	_, err := c.Routes.Put(ctx, "r1", r)
	require.NoError(t, err)
	got, err := c.Routes.Get(ctx, "r1")
	require.NoError(t, err)
	require.NotNil(t, got.Value.Plugins, "plugins: {} decodes as an empty, non-nil Plugins")
	b, err := json.Marshal(&got.Value)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"plugins":{}`)
	_, err = c.Routes.Put(ctx, "r1", &got.Value)
	require.NoError(t, err, "GET then PUT")

	var none apisixclient.Route
	require.NoError(t, json.Unmarshal([]byte(`{"uri":"/a","plugins":null}`), &none))
	assert.Nil(t, none.Plugins, "null is no plugins")
	assert.Error(t, (&apisixclient.Route{URI: "/a", Script: "return 1 end", Plugins: apisixclient.Plugins{}}).Validate(), "script with plugins {} is refused as APISIX does")
}

func TestLoadStateServerPortZero(t *testing.T) {
	_, err := apisixclient.LoadState([]byte("stream_routes:\n  - id: s1\n    server_port: 0\n    upstream_id: u1\n"))
	require.ErrorIs(t, err, apisixclient.ErrInvalid)
	assert.Contains(t, err.Error(), "server_port")
	assert.Contains(t, err.Error(), "leave server_port out")
	st, err := apisixclient.LoadState([]byte("stream_routes:\n  - id: s1\n    server_port: 9333\n    upstream_id: u1\n"))
	require.NoError(t, err)
	assert.Equal(t, 9333, st.StreamRoutes[0].ServerPort)
}

func TestLoadStateKeepsIDText(t *testing.T) {
	st, err := apisixclient.LoadState([]byte(`
upstreams:
  - id: 007
    nodes: {"10.0.0.1:80": 1}
  - id: 0x1F
    nodes: {"10.0.0.2:80": 0x10}
routes:
  - id: 1e3
    uri: /a
    upstream_id: 007
`))
	require.NoError(t, err)
	assert.Equal(t, apisixclient.ID("007"), st.Upstreams[0].ID)
	assert.Equal(t, apisixclient.ID("0x1F"), st.Upstreams[1].ID)
	assert.Equal(t, 16, st.Upstreams[1].Nodes.List()[0].Weight, "other numbers are still numbers")
	assert.Equal(t, apisixclient.ID("1e3"), st.Routes[0].ID)
	assert.Equal(t, apisixclient.ID("007"), st.Routes[0].UpstreamID)
	_, err = apisixclient.LoadState([]byte("routes:\n  - id: r1\n    uri: /a\n    bogus: 1\n"))
	assert.ErrorIs(t, err, apisixclient.ErrInvalid, "unknown fields are still refused")
}

func TestLintTopLevelStreamProxy(t *testing.T) {
	sp := mustParse(t, `
apisix:
  proxy_mode: http&stream
stream_proxy:
  tcp:
    - addr: 9333
      tls: true
`)
	require.NotNil(t, sp.Misplaced)
	assert.Empty(t, sp.TCP, "APISIX sees no listener")
	in := apisixclient.LintInput{StreamRoutes: []apisixclient.StreamRoute{{ID: "s1", ServerPort: 9333, UpstreamID: "u1"}}}
	fs := apisixclient.Lint(sp, in)
	assert.Equal(t, []string{"config.yaml " + apisixclient.LintStreamProxyTopLevel}, codes(fs))
	for _, f := range fs {
		assert.NotContains(t, f.Fix, "add 9333 to stream_proxy.tcp")
		assert.True(t, strings.Contains(f.Fix, "under apisix:"), f.Fix)
	}
}
