package apisixclient_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/apisixclient"
)

func mustParse(t testing.TB, y string) *apisixclient.StreamProxy {
	t.Helper()
	sp, err := apisixclient.ParseStreamProxy([]byte(y))
	require.NoError(t, err)
	return sp
}

func codes(fs []apisixclient.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Resource+" "+f.Code)
	}
	return out
}

const goodConfig = `
apisix:
  proxy_mode: http&stream
  stream_proxy:
    tcp:
      - addr: 9333
        tls: true
      - 9400
`

func TestParseStreamProxy(t *testing.T) {
	sp := mustParse(t, goodConfig)
	assert.Equal(t, "http&stream", sp.ProxyMode)
	assert.Equal(t, []apisixclient.StreamListener{{Addr: "9333", Port: 9333, TLS: true}, {Addr: "9400", Port: 9400, Scalar: true}}, sp.TCP)

	// Pitfall 2 as a sibling key: parses, but the tls is recorded as stray.
	sp = mustParse(t, "stream_proxy:\n  tcp:\n    - 9333\n  tls: true\n")
	assert.True(t, sp.StrayTLS)
	assert.False(t, sp.TCP[0].TLS)

	sp = mustParse(t, "tcp:\n  - 9333\n  - tls: true\nudp:\n  - \"127.0.0.1:9200\"\n")
	assert.Equal(t, 1, sp.ItemsWithoutAddr)
	assert.Equal(t, 9200, sp.UDP[0].Port)

	// Pitfall 2 indented under the item is a YAML error; say the fix.
	_, err := apisixclient.ParseStreamProxy([]byte("stream_proxy:\n  tcp:\n    - 9333\n      tls: true\n"))
	require.Error(t, err)
	assert.ErrorIs(t, err, apisixclient.ErrInvalid)
	assert.Contains(t, err.Error(), "- addr: 9333")

	for _, bad := range []string{"- 1\n- 2\n", "tcp: 9333\n", "tcp:\n  - [1]\n", "tcp:\n  - addr: 1\n    tls: maybe\n"} {
		_, err := apisixclient.ParseStreamProxy([]byte(bad))
		assert.ErrorIs(t, err, apisixclient.ErrInvalid, "input %q", bad)
	}
	// The generated snippet parses back to the same listeners.
	sp = mustParse(t, goodConfig)
	back := mustParse(t, sp.YAML())
	assert.Equal(t, sp.ProxyMode, back.ProxyMode)
	assert.Equal(t, []bool{true, false}, []bool{back.TCP[0].TLS, back.TCP[1].TLS})
}

func TestLintRules(t *testing.T) {
	ssl := apisixclient.SSL{SNI: "*.mysite.com", SNIs: nil}
	sslExact := apisixclient.SSL{SNIs: []string{"mysite.com"}}
	up := upstream("10.0.0.1:443")
	f := false
	_ = f
	cases := []struct {
		name   string
		config string
		in     apisixclient.LintInput
		want   []string
	}{
		{"correct setup has no findings", goodConfig, apisixclient.LintInput{
			StreamRoutes: []apisixclient.StreamRoute{{ID: "1", SNI: "mysite.com", ServerPort: 9333, Upstream: up}, {ID: "2", ServerPort: 9400, Upstream: up}},
			SSLs:         []apisixclient.SSL{sslExact},
		}, []string{}},
		{"sni without server_port is fine with a TLS listener", goodConfig, apisixclient.LintInput{
			StreamRoutes: []apisixclient.StreamRoute{{ID: "1", SNI: "a.mysite.com", Upstream: up}},
			SSLs:         []apisixclient.SSL{ssl},
		}, []string{}},
		{"pitfall 1: sni route on a plain port (apisix#6006)", goodConfig, apisixclient.LintInput{
			StreamRoutes: []apisixclient.StreamRoute{{ID: "1", SNI: "mysite.com", ServerPort: 9400, Upstream: up}},
			SSLs:         []apisixclient.SSL{sslExact},
		}, []string{"stream_routes/1 sni-on-plain-listener"}},
		{"pitfall 2: tls beside tcp is ignored", "apisix:\n  proxy_mode: http&stream\n  stream_proxy:\n    tcp:\n      - 9333\n    tls: true\n", apisixclient.LintInput{
			StreamRoutes: []apisixclient.StreamRoute{{ID: "1", SNI: "mysite.com", ServerPort: 9333, Upstream: up}},
			SSLs:         []apisixclient.SSL{sslExact},
		}, []string{"config.yaml tls-outside-item", "stream_routes/1 sni-on-plain-listener"}},
		{"pitfall 2: tls as its own item", "apisix:\n  proxy_mode: stream\n  stream_proxy:\n    tcp:\n      - 9333\n      - tls: true\n", apisixclient.LintInput{
			StreamRoutes: []apisixclient.StreamRoute{{ID: "1", SNI: "mysite.com", Upstream: up}},
			SSLs:         []apisixclient.SSL{sslExact},
		}, []string{"config.yaml tcp-item-without-addr", "stream_routes/1 sni-on-plain-listener"}},
		{"sni route on a udp port", goodConfig + "    udp:\n      - 9500\n", apisixclient.LintInput{
			StreamRoutes: []apisixclient.StreamRoute{{ID: "1", SNI: "mysite.com", ServerPort: 9500, Upstream: up}},
			SSLs:         []apisixclient.SSL{sslExact},
		}, []string{"stream_routes/1 sni-on-plain-listener"}},
		{"no ssl for the sni", goodConfig, apisixclient.LintInput{
			StreamRoutes: []apisixclient.StreamRoute{{ID: "1", SNI: "other.com", ServerPort: 9333, Upstream: up}},
			SSLs:         []apisixclient.SSL{ssl, {Type: "client", SNI: "other.com"}},
		}, []string{"stream_routes/1 sni-without-ssl"}},
		{"upper-case sni", goodConfig, apisixclient.LintInput{
			StreamRoutes: []apisixclient.StreamRoute{{ID: "1", SNI: "MySite.com", ServerPort: 9333, Upstream: up}},
			SSLs:         []apisixclient.SSL{sslExact},
		}, []string{"stream_routes/1 sni-upper-case"}},
		{"port not listened", goodConfig, apisixclient.LintInput{
			StreamRoutes: []apisixclient.StreamRoute{{ID: "1", ServerPort: 5432, Upstream: up}},
		}, []string{"stream_routes/1 port-not-listened"}},
		{"proxy_mode missing on 3.x", "apisix:\n  stream_proxy:\n    tcp:\n      - addr: 9333\n        tls: true\n", apisixclient.LintInput{
			StreamRoutes: []apisixclient.StreamRoute{{ID: "1", ServerPort: 9333, Upstream: up}},
		}, []string{"config.yaml proxy-mode-without-stream"}},
		{"proxy_mode not needed on 2.x", "apisix:\n  stream_proxy:\n    tcp:\n      - addr: 9333\n        tls: true\n", apisixclient.LintInput{
			StreamRoutes: []apisixclient.StreamRoute{{ID: "1", ServerPort: 9333, Upstream: up}}, Version: "2.12.0",
		}, []string{}},
		{"mirror host with a path", goodConfig, apisixclient.LintInput{
			Routes: []apisixclient.Route{
				{ID: "m", URI: "/", Plugins: apisixclient.Plugins{"proxy-mirror": map[string]any{"host": "http://10.0.0.9:80/copy"}}},
				{ID: "ok", URI: "/", Plugins: apisixclient.NewPlugins(apisixclient.ProxyMirror{Host: "http://10.0.0.9:80", Path: "/copy"})},
			},
		}, []string{"routes/m mirror-host-with-path"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := apisixclient.Lint(mustParse(t, tc.config), tc.in)
			assert.Equal(t, tc.want, codes(fs))
			for _, f := range fs {
				assert.NotEmpty(t, f.Fix, "every finding says the fix")
				assert.NotEmpty(t, f.Problem)
			}
		})
	}
}

func TestLintDesiredState(t *testing.T) {
	st := &apisixclient.State{
		StreamRoutes: []apisixclient.StreamRoute{{ID: "ws", SNI: "mysite.com", ServerPort: 9333}},
	}
	assert.Equal(t, []string{"stream_routes/ws sni-without-ssl"}, codes(apisixclient.Lint(mustParse(t, goodConfig), st.LintInput())))
	st.SSLs = []apisixclient.SSL{{ID: "c", SNI: "mysite.com"}}
	assert.Empty(t, apisixclient.Lint(mustParse(t, goodConfig), st.LintInput()))
	assert.Empty(t, (*apisixclient.State)(nil).LintInput().StreamRoutes)
}

func TestLintLive(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	cert, key := selfSigned(t, "mysite.com")
	_, err := c.SSLs.Put(ctx, "1", &apisixclient.SSL{Cert: cert, Key: key, SNI: "mysite.com"})
	require.NoError(t, err)
	_, err = c.StreamRoutes.Put(ctx, "ok", &apisixclient.StreamRoute{SNI: "mysite.com", ServerPort: 9333, Upstream: upstream("10.0.0.1:443")})
	require.NoError(t, err)
	_, err = c.StreamRoutes.Put(ctx, "plain", &apisixclient.StreamRoute{SNI: "mysite.com", ServerPort: 9400, Upstream: upstream("10.0.0.1:443")})
	require.NoError(t, err)
	fs, err := c.Lint(ctx, mustParse(t, goodConfig))
	require.NoError(t, err)
	assert.Equal(t, []string{"stream_routes/plain sni-on-plain-listener"}, codes(fs))
	assert.True(t, strings.Contains(fs[0].String(), "tls: true"), fs[0].String())

	_, err = c.Lint(ctx, nil)
	require.NoError(t, err)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Lint(cancelled, nil)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func FuzzParseStreamProxy(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte("stream_proxy:\n  tcp:\n    - 9333\n      tls: true\n"))
	f.Add([]byte("tcp: [9333, {tls: true}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := apisixclient.ParseStreamProxy(b)
		if err != nil {
			if !errors.Is(err, apisixclient.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, l := range append(sp.TCP, sp.UDP...) {
			if l.Port < 0 || l.Port > 65535 {
				t.Fatalf("port %d out of range", l.Port)
			}
		}
		// Rendering and re-parsing must keep the TLS listeners.
		back, err := apisixclient.ParseStreamProxy([]byte(sp.YAML()))
		if err != nil {
			t.Fatalf("own YAML does not parse: %v\n%s", err, sp.YAML())
		}
		if len(back.TCP) != len(sp.TCP) {
			t.Fatalf("tcp listeners %d, then %d", len(sp.TCP), len(back.TCP))
		}
		for i := range sp.TCP {
			if back.TCP[i].TLS != sp.TCP[i].TLS {
				t.Fatalf("listener %d TLS changed", i)
			}
		}
		_ = apisixclient.Lint(sp, apisixclient.LintInput{StreamRoutes: []apisixclient.StreamRoute{{SNI: "a.b", ServerPort: 1}}})
	})
}
