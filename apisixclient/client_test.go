package apisixclient_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/apisixclient"
	"github.com/goplumb/plumb/apisixclient/apisixtest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newClient starts an apisixtest server and a client for it, with fast
// retries.
func newClient(t testing.TB, cfg ...apisixtest.Config) (*apisixclient.Client, *apisixtest.Server) {
	t.Helper()
	var sc apisixtest.Config
	if len(cfg) > 0 {
		sc = cfg[0]
	}
	srv := apisixtest.NewServer(t, sc)
	c, err := apisixclient.New(srv.URL, apisixclient.Config{APIKey: srv.Key, Backoff: time.Millisecond})
	require.NoError(t, err)
	return c, srv
}

func selfSigned(t testing.TB, names ...string) (certPEM, keyPEM string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	require.NoError(t, err)
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}

func upstream(addr string) *apisixclient.Upstream {
	return &apisixclient.Upstream{Type: "roundrobin", Nodes: apisixclient.NodeMap(map[string]int{addr: 1})}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:9180", "ftp://x", "http://", "://bad", "http://[::1"} {
		t.Run(u, func(t *testing.T) {
			c, err := apisixclient.New(u, apisixclient.Config{})
			assert.Nil(t, c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "http://127.0.0.1:9180", "error should show a valid example")
		})
	}
	c, err := apisixclient.New("http://127.0.0.1:9180/apisix/admin/", apisixclient.Config{})
	require.NoError(t, err)
	assert.NotNil(t, c)
}

func TestRoutesCRUD(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)

	r := &apisixclient.Route{Name: "r1", URI: "/hello", Methods: []string{"GET"}, Upstream: upstream("127.0.0.1:8080"),
		Labels: map[string]string{"team": "a"}}
	put, err := c.Routes.Put(ctx, "1", r)
	require.NoError(t, err)
	assert.True(t, put.Created, "first PUT answers 201")
	assert.Equal(t, "/apisix/routes/1", put.Key)
	assert.Equal(t, apisixclient.ID("1"), put.Value.ID)
	assert.NotZero(t, put.Value.CreateTime)
	assert.Empty(t, r.ID, "Put must not modify its argument")

	// A GET value goes straight back into PUT: timestamps are not sent.
	got, err := c.Routes.Get(ctx, "1")
	require.NoError(t, err)
	assert.NotZero(t, got.CreatedIndex)
	assert.Equal(t, "/hello", got.Value.URI)
	assert.Equal(t, "APISIX/"+apisixtest.DefaultVersion, "APISIX/"+c.ServerVersion())
	again, err := c.Routes.Put(ctx, "1", &got.Value)
	require.NoError(t, err)
	assert.False(t, again.Created, "replacing PUT answers 200")

	created, err := c.Routes.Create(ctx, &apisixclient.Route{URI: "/auto", UpstreamID: "", Upstream: upstream("127.0.0.1:8081")})
	require.NoError(t, err)
	assert.True(t, created.Created)
	assert.Len(t, string(created.Value.ID), 20, "POST ids are 20-digit revisions")

	patched, err := c.Routes.Patch(ctx, "1", map[string]any{"desc": "patched", "labels": map[string]any{"team": nil, "env": "prod"}})
	require.NoError(t, err)
	assert.Equal(t, "patched", patched.Value.Desc)
	assert.Equal(t, map[string]string{"env": "prod"}, patched.Value.Labels, "null deletes, objects merge")
	assert.Equal(t, got.Value.CreateTime, patched.Value.CreateTime)

	sub, err := c.Routes.PatchPath(ctx, "1", "methods", []string{"POST", "PUT"})
	require.NoError(t, err)
	assert.Equal(t, []string{"POST", "PUT"}, sub.Value.Methods)
	sub, err = c.Routes.PatchPath(ctx, "1", "upstream/nodes", map[string]int{"127.0.0.2:80": 3})
	require.NoError(t, err)
	assert.Equal(t, []apisixclient.Node{{Host: "127.0.0.2", Port: 80, Weight: 3}}, sub.Value.Upstream.Nodes.List(),
		"a sub-path patch replaces the field whole")
	merged, err := c.Routes.Patch(ctx, "1", map[string]any{"upstream": map[string]any{"nodes": map[string]any{"127.0.0.3:80": 1, "127.0.0.2:80": nil}}})
	require.NoError(t, err)
	assert.Equal(t, []apisixclient.Node{{Host: "127.0.0.3", Port: 80, Weight: 1}}, merged.Value.Upstream.Nodes.List(),
		"a whole-object patch merges map-form nodes per node, null removes one")

	page, err := c.Routes.List(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, page.Total)
	require.NoError(t, c.Routes.Delete(ctx, "1"))
	_, err = c.Routes.Get(ctx, "1")
	assert.True(t, apisixclient.IsNotFound(err), "got %v", err)
	var ae *apisixclient.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "Key not found", ae.Message)
	assert.Equal(t, 1, srv.Len("routes"))
}

func TestListPagingFiltersAndAll(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	_, err := c.Services.Put(ctx, "s1", &apisixclient.Service{Upstream: upstream("127.0.0.1:1")})
	require.NoError(t, err)
	for i := 1; i <= 25; i++ {
		r := &apisixclient.Route{URI: "/p" + itoa(i), Name: "route-" + itoa(i), Upstream: upstream("127.0.0.1:80")}
		if i%2 == 0 {
			r.Upstream, r.ServiceID = nil, "s1"
			r.Labels = map[string]string{"even": "yes"}
		}
		_, err := c.Routes.Put(ctx, apisixclient.IntID(int64(i)), r)
		require.NoError(t, err)
	}
	p, err := c.Routes.List(ctx, &apisixclient.ListOptions{Page: 3, PageSize: 10})
	require.NoError(t, err)
	assert.Equal(t, 25, p.Total)
	require.Len(t, p.Items, 5)
	assert.Equal(t, apisixclient.ID("21"), p.Items[0].Value.ID, "paged lists are in creation order")

	p, err = c.Routes.List(ctx, &apisixclient.ListOptions{Label: "even"})
	require.NoError(t, err)
	assert.Equal(t, 12, p.Total)
	p, err = c.Routes.List(ctx, &apisixclient.ListOptions{ServiceID: "s1", Name: "^route-1"})
	require.NoError(t, err)
	assert.Equal(t, 5, p.Total, "10,12,14,16,18")
	p, err = c.Routes.List(ctx, &apisixclient.ListOptions{URI: "^/p2[0-9]$"})
	require.NoError(t, err)
	assert.Equal(t, 6, p.Total)

	srv.ResetRequests()
	var ids []string
	for it, err := range c.Routes.All(ctx, &apisixclient.ListOptions{PageSize: 10}) {
		require.NoError(t, err)
		ids = append(ids, string(it.Value.ID))
	}
	assert.Len(t, ids, 25)
	assert.Equal(t, "1", ids[0])
	assert.Equal(t, 3, srv.Requests()["GET"], "three pages")

	_, err = c.Routes.List(ctx, &apisixclient.ListOptions{PageSize: 5})
	assert.ErrorIs(t, err, apisixclient.ErrInvalid)
}

func TestUpstreamNodesKeepTheirForm(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	_, err := c.Upstreams.Put(ctx, "map", &apisixclient.Upstream{Type: "roundrobin", Nodes: apisixclient.NodeMap(map[string]int{"10.0.0.1:80": 2, "[::1]:81": 1})})
	require.NoError(t, err)
	_, err = c.Upstreams.Put(ctx, "arr", &apisixclient.Upstream{Type: "chash", Key: "remote_addr", Nodes: apisixclient.NodeList(apisixclient.Node{Host: "10.0.0.2", Port: 90, Weight: 1, Priority: 2})})
	require.NoError(t, err)
	m, err := c.Upstreams.Get(ctx, "map")
	require.NoError(t, err)
	a, err := c.Upstreams.Get(ctx, "arr")
	require.NoError(t, err)
	assert.False(t, m.Value.Nodes.IsArray())
	assert.True(t, a.Value.Nodes.IsArray())
	mb, _ := json.Marshal(m.Value.Nodes)
	ab, _ := json.Marshal(a.Value.Nodes)
	assert.JSONEq(t, `{"10.0.0.1:80":2,"[::1]:81":1}`, string(mb))
	assert.JSONEq(t, `[{"host":"10.0.0.2","port":90,"weight":1,"priority":2}]`, string(ab))

	// Deleting an upstream in use is refused, and forced deletion works.
	_, err = c.Routes.Put(ctx, "r", &apisixclient.Route{URI: "/", UpstreamID: "map"})
	require.NoError(t, err)
	err = c.Upstreams.Delete(ctx, "map")
	assert.True(t, apisixclient.IsInUse(err), "got %v", err)
	require.NoError(t, c.Upstreams.Delete(ctx, "map", apisixclient.WithForce()))
}

func TestEveryResource(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	cert, key := selfSigned(t, "mysite.com")
	ccert, ckey := selfSigned(t, "client")

	steps := []struct {
		name string
		run  func() error
	}{
		{"service", func() error {
			_, err := c.Services.Put(ctx, "1", &apisixclient.Service{Name: "svc", Upstream: upstream("127.0.0.1:1")})
			return err
		}},
		{"ssl server", func() error {
			it, err := c.SSLs.Put(ctx, "1", &apisixclient.SSL{Cert: cert, Key: key, SNI: "mysite.com"})
			if err == nil && it.Value.Key == "" {
				return errors.New("PUT echoes the key")
			}
			g, err := c.SSLs.Get(ctx, "1")
			if err == nil && g.Value.Key != "" {
				return errors.New("GET must strip the key")
			}
			return err
		}},
		{"ssl client", func() error {
			_, err := c.SSLs.Put(ctx, "client", &apisixclient.SSL{Type: "client", Cert: ccert, Key: ckey})
			return err
		}},
		{"upstream with client cert", func() error {
			u := upstream("127.0.0.1:443")
			u.Scheme, u.TLS = "https", &apisixclient.UpstreamTLS{ClientCertID: "client"}
			_, err := c.Upstreams.Put(ctx, "tls", u)
			return err
		}},
		{"consumer group", func() error {
			_, err := c.ConsumerGroups.Put(ctx, "g1", &apisixclient.ConsumerGroup{Plugins: apisixclient.NewPlugins(apisixclient.LimitCount{Count: 10, TimeWindow: 60})})
			return err
		}},
		{"consumer", func() error {
			_, err := c.Consumers.Put(ctx, "jack", &apisixclient.Consumer{Username: "jack", GroupID: "g1"})
			return err
		}},
		{"credential", func() error {
			_, err := c.Credentials.Put(ctx, "jack", "k1", &apisixclient.Credential{Plugins: apisixclient.NewPlugins(apisixclient.KeyAuth{Key: "secret"})})
			if err != nil {
				return err
			}
			p, err := c.Credentials.List(ctx, "jack")
			if err == nil && p.Total != 1 {
				return errors.New("want 1 credential")
			}
			var ka apisixclient.KeyAuth
			g, err := c.Credentials.Get(ctx, "jack", "k1")
			if err != nil {
				return err
			}
			if ok, err := g.Value.Plugins.Decode("key-auth", &ka); !ok || err != nil || ka.Key != "secret" {
				return errors.New("key-auth did not round-trip")
			}
			return c.Credentials.Delete(ctx, "jack", "k1")
		}},
		{"consumer group in use", func() error {
			if err := c.ConsumerGroups.Delete(ctx, "g1"); !apisixclient.IsInUse(err) {
				return errors.New("want in use, got " + errString(err))
			}
			return c.Consumers.Delete(ctx, "jack")
		}},
		{"plugin config", func() error {
			_, err := c.PluginConfigs.Put(ctx, "pc", &apisixclient.PluginConfig{Plugins: apisixclient.NewPlugins(apisixclient.ProxyRewrite{URI: "/x"})})
			return err
		}},
		{"global rule", func() error {
			_, err := c.GlobalRules.Put(ctx, "1", &apisixclient.GlobalRule{Plugins: apisixclient.Plugins{"prometheus": map[string]any{}}})
			if err != nil {
				return err
			}
			_, err = c.GlobalRules.Put(ctx, "2", &apisixclient.GlobalRule{Plugins: apisixclient.Plugins{"prometheus": map[string]any{}}})
			if err == nil || !strings.Contains(err.Error(), "already exists in global rule") {
				return errors.New("want duplicate plugin error, got " + errString(err))
			}
			_, err = c.GlobalRules.Patch(ctx, "1", map[string]any{"plugins": map[string]any{"echo": map[string]any{"body": "hi"}}})
			return err
		}},
		{"plugin metadata", func() error {
			_, err := c.PluginMetadata.Put(ctx, "http-logger", &apisixclient.PluginMetadata{"log_format": map[string]any{"host": "$host"}})
			if err != nil {
				return err
			}
			g, err := c.PluginMetadata.Get(ctx, "http-logger")
			if err == nil && g.Value["log_format"] == nil {
				return errors.New("metadata lost")
			}
			return err
		}},
		{"stream route", func() error {
			_, err := c.StreamRoutes.Put(ctx, "1", &apisixclient.StreamRoute{SNI: "mysite.com", ServerPort: 9100, Upstream: upstream("127.0.0.1:9200")})
			if err != nil {
				return err
			}
			_, err = c.StreamRoutes.Patch(ctx, "1", map[string]any{"sni": "x.com"})
			if !errors.Is(err, apisixclient.ErrNotSupported) {
				return errors.New("stream route PATCH is 405 in APISIX; want ErrNotSupported, got " + errString(err))
			}
			return nil
		}},
		{"proto", func() error {
			it, err := c.Protos.Create(ctx, &apisixclient.Proto{Content: `syntax = "proto3"; message A {}`})
			if err != nil {
				return err
			}
			return c.Protos.Delete(ctx, it.Value.ID)
		}},
		{"secret", func() error {
			_, err := c.Secrets.Put(ctx, "vault/1", &apisixclient.Secret{URI: "http://127.0.0.1:8200", Prefix: "kv/apisix", Token: "root"})
			if err != nil {
				return err
			}
			p, err := c.Secrets.List(ctx, nil)
			if err == nil && (p.Total != 1 || p.Items[0].Value.ID != "vault/1") {
				return errors.New("secret list")
			}
			return err
		}},
		{"service in use", func() error {
			_, err := c.StreamRoutes.Put(ctx, "2", &apisixclient.StreamRoute{ServerPort: 9101, ServiceID: "1"})
			if err != nil {
				return err
			}
			if err := c.Services.Delete(ctx, "1"); !apisixclient.IsInUse(err) {
				return errors.New("want in use, got " + errString(err))
			}
			return nil
		}},
		{"plugins", func() error {
			names, err := c.Plugins.List(ctx, "stream")
			if err != nil {
				return err
			}
			if len(names) == 0 {
				return errors.New("no stream plugins")
			}
			s, err := c.Plugins.Schema(ctx, "proxy-mirror", "")
			if err == nil && !strings.Contains(string(s), "sample_ratio") {
				return errors.New("proxy-mirror schema lacks sample_ratio")
			}
			return err
		}},
	}
	for _, s := range steps {
		require.NoError(t, s.run(), s.name)
	}
	// Methods APISIX refuses are refused before any request.
	_, err := c.Consumers.Create(ctx, &apisixclient.Consumer{Username: "x"})
	assert.ErrorIs(t, err, apisixclient.ErrNotSupported)
	_, err = c.Protos.Patch(ctx, "1", map[string]any{})
	assert.ErrorIs(t, err, apisixclient.ErrNotSupported)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func itoa(i int) string { return apisixclient.IntID(int64(i)).String() }

func TestTTL(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c, _ := newClient(t, apisixtest.Config{Clock: clk.Now})
	_, err := c.Routes.Put(ctx, "t", &apisixclient.Route{URI: "/ttl", Upstream: upstream("127.0.0.1:1")}, apisixclient.WithTTL(1500*time.Millisecond))
	require.NoError(t, err)
	_, err = c.Routes.Get(ctx, "t")
	require.NoError(t, err)
	clk.Add(3 * time.Second)
	_, err = c.Routes.Get(ctx, "t")
	assert.True(t, apisixclient.IsNotFound(err), "got %v", err)
	_, err = c.Routes.Put(ctx, "t", &apisixclient.Route{URI: "/ttl", Upstream: upstream("127.0.0.1:1")}, apisixclient.WithTTL(-time.Second))
	assert.ErrorIs(t, err, apisixclient.ErrInvalid)
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	_, err := c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/", Upstream: upstream("127.0.0.1:1")})
	require.NoError(t, err)

	t.Run("PATCH retried on CAS conflict", func(t *testing.T) {
		srv.FailNext(2, 503, "value changed before overwritten")
		srv.ResetRequests()
		_, err := c.Routes.Patch(ctx, "1", map[string]any{"desc": "x"})
		require.NoError(t, err)
		assert.Equal(t, 3, srv.Requests()["PATCH"])
	})
	t.Run("PATCH not retried on other 503", func(t *testing.T) {
		srv.FailNext(1, 503, "etcd down")
		srv.ResetRequests()
		_, err := c.Routes.Patch(ctx, "1", map[string]any{"desc": "y"})
		require.Error(t, err)
		assert.Equal(t, 1, srv.Requests()["PATCH"])
	})
	t.Run("POST never retried", func(t *testing.T) {
		srv.FailNext(1, 503, "value changed before overwritten")
		srv.ResetRequests()
		_, err := c.Routes.Create(ctx, &apisixclient.Route{URI: "/p", Upstream: upstream("127.0.0.1:1")})
		assert.True(t, apisixclient.IsConflict(err), "got %v", err)
		assert.Equal(t, 1, srv.Requests()["POST"])
		assert.Equal(t, 1, srv.Len("routes"), "nothing was created")
	})
	t.Run("GET and PUT retried on 502-504", func(t *testing.T) {
		srv.FailNext(2, 502, "bad gateway")
		srv.ResetRequests()
		_, err := c.Routes.Get(ctx, "1")
		require.NoError(t, err)
		assert.Equal(t, 3, srv.Requests()["GET"])
		srv.FailNext(10, 504, "timeout")
		_, err = c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/", Upstream: upstream("127.0.0.1:1")})
		var ae *apisixclient.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 504, ae.StatusCode)
		srv.FailNext(0, 0, "")
	})
	t.Run("no retry on 4xx", func(t *testing.T) {
		srv.ResetRequests()
		_, err := c.Routes.Get(ctx, "missing")
		assert.True(t, apisixclient.IsNotFound(err))
		assert.Equal(t, 1, srv.Requests()["GET"])
	})
}

func TestAuth(t *testing.T) {
	ctx := context.Background()
	srv := apisixtest.NewServer(t, apisixtest.Config{})
	for _, key := range []string{"", "wrong"} {
		c, err := apisixclient.New(srv.URL, apisixclient.Config{APIKey: key})
		require.NoError(t, err)
		_, err = c.Routes.List(ctx, nil)
		var ae *apisixclient.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 401, ae.StatusCode)
		assert.Equal(t, "failed to check token", ae.Message)
		assert.Contains(t, []string{"missing apikey", "wrong apikey"}, ae.Description)
	}
}

func TestClientSideValidation(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	ratio := 2.0
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"route uri and uris", func() error {
			_, err := c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/a", URIs: []string{"/b"}, Upstream: upstream("1.1.1.1:1")})
			return err
		}, "exactly one of uri and uris"},
		{"route neither uri", func() error {
			_, err := c.Routes.Put(ctx, "1", &apisixclient.Route{Upstream: upstream("1.1.1.1:1")})
			return err
		}, "exactly one of uri and uris"},
		{"route nothing to serve", func() error {
			_, err := c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/"})
			return err
		}, "set Upstream"},
		{"route bad method", func() error {
			_, err := c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/", Methods: []string{"get"}, Upstream: upstream("1.1.1.1:1")})
			return err
		}, "use upper case"},
		{"route zero timeout", func() error {
			_, err := c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/", Timeout: &apisixclient.Timeout{Connect: 1}, Upstream: upstream("1.1.1.1:1")})
			return err
		}, "each > 0"},
		{"upstream nodes and discovery", func() error {
			u := upstream("1.1.1.1:1")
			u.ServiceName, u.DiscoveryType = "svc", "dns"
			_, err := c.Upstreams.Put(ctx, "1", u)
			return err
		}, "exclusive"},
		{"upstream bad scheme", func() error {
			u := upstream("1.1.1.1:1")
			u.Scheme = "ws"
			_, err := c.Upstreams.Put(ctx, "1", u)
			return err
		}, "use one of grpc"},
		{"upstream chash without key", func() error {
			u := upstream("1.1.1.1:1")
			u.Type = "chash"
			_, err := c.Upstreams.Put(ctx, "1", u)
			return err
		}, "needs a key"},
		{"bad id", func() error {
			_, err := c.Upstreams.Put(ctx, "a b", upstream("1.1.1.1:1"))
			return err
		}, "letters, digits"},
		{"empty id", func() error { _, err := c.Routes.Get(ctx, ""); return err }, "non-empty id"},
		{"id mismatch", func() error {
			u := upstream("1.1.1.1:1")
			u.ID = "2"
			_, err := c.Upstreams.Put(ctx, "1", u)
			return err
		}, "differs"},
		{"mirror host with path", func() error {
			_, err := c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/", Upstream: upstream("1.1.1.1:1"),
				Plugins: apisixclient.NewPlugins(apisixclient.ProxyMirror{Host: "http://10.0.0.5:8080/mirror"})})
			return err
		}, `set host to "http://10.0.0.5:8080" and path to "/mirror"`},
		{"mirror ratio", func() error {
			_, err := c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/", Upstream: upstream("1.1.1.1:1"),
				Plugins: apisixclient.NewPlugins(apisixclient.ProxyMirror{Host: "http://a", SampleRatio: &ratio})})
			return err
		}, "0.00001 to 1"},
		{"mirror path without slash", func() error {
			_, err := c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/", Upstream: upstream("1.1.1.1:1"),
				Plugins: apisixclient.Plugins{"proxy-mirror": map[string]any{"host": "http://a", "path": "a"}}})
			return err
		}, "start the path with '/'"},
		{"stream sni upper case", func() error {
			_, err := c.StreamRoutes.Put(ctx, "1", &apisixclient.StreamRoute{SNI: "MySite.com", Upstream: upstream("1.1.1.1:1")})
			return err
		}, `use "mysite.com"`},
		{"stream bad remote addr", func() error {
			_, err := c.StreamRoutes.Put(ctx, "1", &apisixclient.StreamRoute{RemoteAddr: "localhost", Upstream: upstream("1.1.1.1:1")})
			return err
		}, "not an IP"},
		{"ssl sni and snis missing", func() error {
			_, err := c.SSLs.Put(ctx, "1", &apisixclient.SSL{Cert: "x", Key: "y"})
			return err
		}, "exactly one of sni and snis"},
		{"consumer bad username", func() error {
			_, err := c.Consumers.Put(ctx, "a.b", &apisixclient.Consumer{Username: "a.b"})
			return err
		}, "valid username"},
		{"plugin not an object", func() error {
			_, err := c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/", Plugins: apisixclient.Plugins{"echo": 1}})
			return err
		}, "must be a JSON object"},
		{"oversized body", func() error {
			_, err := c.Protos.Put(ctx, "1", &apisixclient.Proto{Content: strings.Repeat("a", 1<<20)}, apisixclient.WithTTL(0))
			if err != nil {
				return err
			}
			_, err = c.Routes.Put(ctx, "1", &apisixclient.Route{URI: "/", Upstream: upstream("1.1.1.1:1"), Desc: "x", Script: strings.Repeat("s", 1600000)})
			return err
		}, "at most 1572864"},
		{"nil value", func() error { _, err := c.Routes.Put(ctx, "1", nil); return err }, "nil route"},
		{"bad subsystem", func() error { _, err := c.Plugins.List(ctx, "tcp"); return err }, "use \"http\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetRequests()
			err := tc.call()
			require.Error(t, err)
			assert.ErrorIs(t, err, apisixclient.ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
			reqs := srv.Requests()
			delete(reqs, "PUT") // the oversized case stores a legal proto first
			assert.Empty(t, reqs, "nothing may be sent for an invalid call")
		})
	}
}

func TestBadResponses(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/apisix/admin/routes/html":
			w.WriteHeader(200)
			_, _ = w.Write([]byte("<html>proxy login</html>"))
		case "/apisix/admin/routes/forbidden":
			w.WriteHeader(403)
			_, _ = w.Write([]byte("<html><body>403 Forbidden</body></html>"))
		case "/apisix/admin/routes":
			_, _ = w.Write([]byte(`{"total":0,"list":{}}`))
		default:
			w.WriteHeader(400)
			_, _ = w.Write([]byte("page_size must be between 10 and 500"))
		}
	}))
	defer srv.Close()
	c, err := apisixclient.New(srv.URL, apisixclient.Config{NoRetries: true})
	require.NoError(t, err)
	_, err = c.Routes.Get(ctx, "html")
	assert.ErrorIs(t, err, apisixclient.ErrUnexpectedResponse)
	_, err = c.Routes.Get(ctx, "forbidden")
	var ae *apisixclient.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 403, ae.StatusCode)
	assert.Contains(t, ae.Message, "403 Forbidden")
	p, err := c.Routes.List(ctx, nil)
	require.NoError(t, err, "lua-cjson's empty {} list decodes as empty")
	assert.Empty(t, p.Items)
	_, err = c.Routes.Get(ctx, "x")
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "page_size must be between 10 and 500", ae.Message)
}

func TestIDDecodesStringOrNumber(t *testing.T) {
	var v struct{ A, B apisixclient.ID }
	require.NoError(t, json.Unmarshal([]byte(`{"A":1,"B":"x-1"}`), &v))
	assert.Equal(t, apisixclient.ID("1"), v.A)
	assert.Equal(t, apisixclient.ID("x-1"), v.B)
	assert.Error(t, json.Unmarshal([]byte(`{"A":true}`), &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	assert.JSONEq(t, `{"A":"1","B":"x-1"}`, string(b))
}
