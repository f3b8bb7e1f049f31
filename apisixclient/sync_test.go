package apisixclient_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/apisixclient"
	"github.com/goplumb/plumb/apisixclient/apisixtest"
)

func desiredState() *apisixclient.State {
	return &apisixclient.State{
		Upstreams: []apisixclient.Upstream{{ID: "u1", Type: "roundrobin", Nodes: apisixclient.NodeMap(map[string]int{"10.0.0.1:80": 1})}},
		PluginConfigs: []apisixclient.PluginConfig{{ID: "pc1", Plugins: apisixclient.NewPlugins(
			apisixclient.LimitCount{Count: 100, TimeWindow: 60, Key: "remote_addr"})}},
		Services: []apisixclient.Service{{ID: "s1", UpstreamID: "u1"}},
		Routes: []apisixclient.Route{
			{ID: "r1", URI: "/a", ServiceID: "s1", PluginConfigID: "pc1"},
			{ID: "r2", URI: "/b", UpstreamID: "u1", Labels: map[string]string{"team": "web"}},
		},
	}
}

func TestSyncCreateUpdateDelete(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	// Someone else's resources, without the ownership label.
	_, err := c.Upstreams.Put(ctx, "theirs", upstream("10.9.9.9:80"))
	require.NoError(t, err)
	_, err = c.Routes.Put(ctx, "theirs", &apisixclient.Route{URI: "/theirs", UpstreamID: "theirs"})
	require.NoError(t, err)

	// Dry run: a readable plan, nothing written.
	srv.ResetRequests()
	plan, err := c.Sync(ctx, desiredState(), apisixclient.SyncOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, "+ upstreams/u1\n+ plugin_configs/pc1\n+ services/s1\n+ routes/r1\n+ routes/r2\n5 to create, 0 to update, 0 to delete, 0 unchanged\n", plan.String())
	assert.Equal(t, []string{"GET"}, keys(srv.Requests()))

	// First run creates in dependency order (the server checks references).
	plan, err = c.Sync(ctx, desiredState(), apisixclient.SyncOptions{})
	require.NoError(t, err)
	assert.Equal(t, 5, plan.Applied)
	got, err := c.Routes.Get(ctx, "r2")
	require.NoError(t, err)
	assert.Equal(t, "web", got.Value.Labels["team"])
	assert.Equal(t, "plumb", got.Value.Labels["managed-by"])
	assert.Len(t, got.Value.Labels["managed-by-hash"], 16, "the fingerprint of what Sync wrote")
	assert.Len(t, got.Value.Labels, 3)

	// Second run with no change: only GETs.
	srv.ResetRequests()
	plan, err = c.Sync(ctx, desiredState(), apisixclient.SyncOptions{})
	require.NoError(t, err)
	assert.Empty(t, plan.Changes)
	assert.Equal(t, 5, plan.Unchanged)
	assert.Equal(t, []string{"GET"}, keys(srv.Requests()), "a no-change rerun only lists")

	// Update one route and drop r1, s1 and pc1: r1 goes before s1 and pc1.
	d := desiredState()
	d.Routes = d.Routes[1:]
	d.Routes[0].URI = "/b2"
	d.Services, d.PluginConfigs = nil, nil
	plan, err = c.Sync(ctx, d, apisixclient.SyncOptions{})
	require.NoError(t, err)
	assert.Contains(t, plan.String(), "0 to create, 1 to update, 3 to delete, 1 unchanged")
	assert.Equal(t, []string{"~ routes/r2: uri", "- routes/r1", "- services/s1", "- plugin_configs/pc1"}, changeLines(plan))
	assert.Equal(t, 4, plan.Applied)

	// Unrelated resources are untouched.
	_, err = c.Routes.Get(ctx, "theirs")
	require.NoError(t, err)
	_, err = c.Upstreams.Get(ctx, "theirs")
	require.NoError(t, err)
	assert.Equal(t, 2, srv.Len("routes"))

	// A desired id held by an unowned resource is refused before writing.
	d.Routes = append(d.Routes, apisixclient.Route{ID: "theirs", URI: "/mine", UpstreamID: "u1"})
	srv.ResetRequests()
	_, err = c.Sync(ctx, d, apisixclient.SyncOptions{})
	assert.ErrorIs(t, err, apisixclient.ErrNotOwned)
	assert.Equal(t, []string{"GET"}, keys(srv.Requests()))
}

func TestSyncIgnoresServerFilledFields(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	_, err := c.Sync(ctx, desiredState(), apisixclient.SyncOptions{})
	require.NoError(t, err)
	// A pre-3.14 server writes defaults back; sync must not see a change.
	_, err = c.Routes.Patch(ctx, "r2", map[string]any{"priority": 0, "status": 1})
	require.NoError(t, err)
	_, err = c.Upstreams.Patch(ctx, "u1", map[string]any{"hash_on": "vars", "scheme": "http", "pass_host": "pass"})
	require.NoError(t, err)
	_, err = c.PluginConfigs.PatchPath(ctx, "pc1", "plugins/limit-count/policy", "local")
	require.NoError(t, err)
	plan, err := c.Diff(ctx, desiredState(), apisixclient.SyncOptions{})
	require.NoError(t, err)
	assert.Empty(t, plan.Changes, plan.String())
	// A real drift is seen.
	_, err = c.Routes.PatchPath(ctx, "r2", "methods", []string{"GET"})
	require.NoError(t, err)
	_, err = c.PluginConfigs.Patch(ctx, "pc1", map[string]any{"plugins": map[string]any{"limit-count": map[string]any{"policy": "redis", "redis_host": "127.0.0.1"}}})
	require.NoError(t, err)
	plan, err = c.Diff(ctx, desiredState(), apisixclient.SyncOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"~ plugin_configs/pc1: plugins", "~ routes/r2: methods"}, changeLines(plan))
}

func TestSyncSSLKeyIsWriteOnly(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	cert, key := selfSigned(t, "mysite.com")
	d := &apisixclient.State{SSLs: []apisixclient.SSL{{ID: "c1", Cert: cert, Key: key, SNI: "mysite.com"}}}
	_, err := c.Sync(ctx, d, apisixclient.SyncOptions{})
	require.NoError(t, err)
	srv.ResetRequests()
	plan, err := c.Sync(ctx, d, apisixclient.SyncOptions{})
	require.NoError(t, err)
	assert.Empty(t, plan.Changes, "GET strips the key; that is not a change")
	assert.Equal(t, []string{"GET"}, keys(srv.Requests()))
}

func TestSyncUpstreamWithClientCert(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	cert, key := selfSigned(t, "client")
	up := *upstream("10.0.0.1:443")
	up.ID, up.Scheme, up.TLS = "mtls", "https", &apisixclient.UpstreamTLS{ClientCertID: "cc"}
	d := &apisixclient.State{SSLs: []apisixclient.SSL{{ID: "cc", Type: "client", Cert: cert, Key: key}}, Upstreams: []apisixclient.Upstream{up}}
	plan, err := c.Sync(ctx, d, apisixclient.SyncOptions{})
	require.NoError(t, err, "the SSL must be created before the upstream that refers to it")
	assert.Equal(t, []string{"+ ssls/cc", "+ upstreams/mtls"}, changeLines(plan))
	plan, err = c.Sync(ctx, &apisixclient.State{}, apisixclient.SyncOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"- upstreams/mtls", "- ssls/cc"}, changeLines(plan))
}

func TestSyncStreamModeOff(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t, apisixtest.Config{ProxyMode: "http"})
	plan, err := c.Sync(ctx, desiredState(), apisixclient.SyncOptions{})
	require.NoError(t, err, "no stream routes desired: stream mode off is fine")
	assert.Equal(t, 5, plan.Applied)
	_, err = c.Sync(ctx, &apisixclient.State{StreamRoutes: []apisixclient.StreamRoute{{ID: "s", ServerPort: 9000, UpstreamID: "u1"}}}, apisixclient.SyncOptions{})
	assert.ErrorContains(t, err, "stream mode is disabled")
}

func TestSyncBadInput(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	cases := map[string]*apisixclient.State{
		"missing id":    {Routes: []apisixclient.Route{{URI: "/", UpstreamID: "u"}}},
		"duplicate id":  {Upstreams: []apisixclient.Upstream{*upstream("1.1.1.1:1"), *upstream("1.1.1.1:1")}},
		"invalid route": {Routes: []apisixclient.Route{{ID: "r", URI: "/", URIs: []string{"/x"}, UpstreamID: "u"}}},
	}
	cases["duplicate id"].Upstreams[0].ID, cases["duplicate id"].Upstreams[1].ID = "u", "u"
	for name, st := range cases {
		t.Run(name, func(t *testing.T) {
			srv.ResetRequests()
			_, err := c.Sync(ctx, st, apisixclient.SyncOptions{})
			assert.ErrorIs(t, err, apisixclient.ErrInvalid)
			assert.Empty(t, srv.Requests())
		})
	}
	_, err := c.Sync(ctx, nil, apisixclient.SyncOptions{Owner: "two words"})
	assert.ErrorIs(t, err, apisixclient.ErrInvalid)
}

func TestLoadState(t *testing.T) {
	st, err := apisixclient.LoadState([]byte(`
upstreams:
  - id: u1
    type: roundrobin
    nodes:
      "10.0.0.1:80": 1
routes:
  - id: 7
    uri: /hello
    upstream_id: u1
    plugins:
      proxy-mirror:
        host: http://10.0.0.9:8080
        sample_ratio: 0.1
`))
	require.NoError(t, err)
	require.Len(t, st.Routes, 1)
	assert.Equal(t, apisixclient.ID("7"), st.Routes[0].ID)
	var pm apisixclient.ProxyMirror
	ok, err := st.Routes[0].Plugins.Decode("proxy-mirror", &pm)
	require.True(t, ok)
	require.NoError(t, err)
	assert.Equal(t, 0.1, *pm.SampleRatio)
	assert.False(t, st.Upstreams[0].Nodes.IsArray())

	_, err = apisixclient.LoadState([]byte("routes:\n  - id: 1\n    url: /typo\n"))
	assert.ErrorIs(t, err, apisixclient.ErrInvalid)
	assert.ErrorContains(t, err, "url")
	_, err = apisixclient.LoadState([]byte("routes: [\n"))
	assert.ErrorIs(t, err, apisixclient.ErrInvalid)
	_, err = apisixclient.LoadState([]byte(`{"routes":[{"id":"j","uri":"/j","upstream_id":"u"}]}`))
	assert.NoError(t, err, "JSON is accepted")
}

func keys(m map[string]int) []string {
	out := []string{}
	for k, v := range m {
		if v > 0 {
			out = append(out, k)
		}
	}
	return out
}

func changeLines(p *apisixclient.Plan) []string {
	out := []string{}
	for _, ch := range p.Changes {
		out = append(out, ch.String())
	}
	return out
}

// writeBackState uses typed plugins, a plugin the client does not type
// (response-rewrite, whose max_resp_body_size and body_base64 defaults the
// client does not know) and every resource kind that has schema defaults.
func writeBackState(cert, key string) *apisixclient.State {
	return &apisixclient.State{
		SSLs:      []apisixclient.SSL{{ID: "c1", Cert: cert, Key: key, SNI: "wb.test", Client: nil}},
		Upstreams: []apisixclient.Upstream{{ID: "u1", Nodes: apisixclient.NodeMap(map[string]int{"10.0.0.1:80": 1}), KeepalivePool: &apisixclient.KeepalivePool{Size: 10}}},
		Routes: []apisixclient.Route{{ID: "r1", URI: "/a", Methods: []string{"GET"}, UpstreamID: "u1", Plugins: apisixclient.Plugins{
			"limit-count":      apisixclient.LimitCount{Count: 10, TimeWindow: 60},
			"ip-restriction":   apisixclient.IPRestriction{Whitelist: []string{"10.0.0.0/8"}},
			"response-rewrite": map[string]any{"body": "hi"},
		}}},
		StreamRoutes: []apisixclient.StreamRoute{{ID: "s1", SNI: "wb.test", ServerPort: 9333, Upstream: &apisixclient.Upstream{Nodes: apisixclient.NodeMap(map[string]int{"10.0.0.2:443": 1})}}},
	}
}

// TestSyncNoEndlessUpdatesOnWriteBack: APISIX 3.2-3.13 store the schema
// defaults of resources and plugins; a no-change rerun must write nothing,
// a removed field must still be removed, and a hand edit must be seen.
func TestSyncNoEndlessUpdatesOnWriteBack(t *testing.T) {
	for v, writesBack := range map[string]bool{"3.2.0": true, "3.10.0": true, "3.13.0": true, "3.14.0": false, "3.18.0": false} {
		t.Run(v, func(t *testing.T) {
			ctx := context.Background()
			c, srv := newClient(t, apisixtest.Config{Version: v})
			cert, key := selfSigned(t, "wb.test")
			st := writeBackState(cert, key)
			p, err := c.Sync(ctx, st, apisixclient.SyncOptions{})
			require.NoError(t, err)
			require.Equal(t, 4, p.Applied)
			got, err := c.Routes.Get(ctx, "r1")
			require.NoError(t, err)
			var lc map[string]any
			_, err = got.Value.Plugins.Decode("limit-count", &lc)
			require.NoError(t, err)
			if writesBack {
				require.Equal(t, "local", lc["policy"], "the server models write-back")
			} else {
				require.NotContains(t, lc, "policy", "3.14+ stores what it was sent")
			}

			srv.ResetRequests()
			p, err = c.Sync(ctx, writeBackState(cert, key), apisixclient.SyncOptions{})
			require.NoError(t, err)
			assert.Empty(t, p.Changes, p.String())
			assert.Equal(t, []string{"GET"}, keys(srv.Requests()), "no writes on a no-change rerun")

			// Removing a field from the desired state removes it.
			st = writeBackState(cert, key)
			st.Routes[0].Methods = nil
			delete(st.Routes[0].Plugins, "response-rewrite")
			p, err = c.Sync(ctx, st, apisixclient.SyncOptions{})
			require.NoError(t, err)
			assert.Equal(t, []string{"~ routes/r1: methods, plugins"}, changeLines(p))
			got, err = c.Routes.Get(ctx, "r1")
			require.NoError(t, err)
			assert.Nil(t, got.Value.Methods)
			assert.NotContains(t, got.Value.Plugins, "response-rewrite")
			p, err = c.Sync(ctx, st, apisixclient.SyncOptions{})
			require.NoError(t, err)
			assert.Empty(t, p.Changes, "converged: %s", p)

			// A hand edit is drift: a top-level field, and a typed plugin's
			// field away from its default.
			_, err = c.Routes.PatchPath(ctx, "r1", "methods", []string{"POST"})
			require.NoError(t, err)
			_, err = c.Routes.PatchPath(ctx, "r1", "plugins/limit-count/rejected_code", 429)
			require.NoError(t, err)
			p, err = c.Diff(ctx, st, apisixclient.SyncOptions{})
			require.NoError(t, err)
			assert.Equal(t, []string{"~ routes/r1: methods, plugins"}, changeLines(p))
		})
	}
}
