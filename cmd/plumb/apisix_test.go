package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goplumb/plumb/apisixclient"
	"github.com/goplumb/plumb/apisixclient/apisixtest"
)

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// selfSigned writes a certificate and key for host and returns their paths.
func selfSigned(t testing.TB, host string) (certPath, keyPath string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "c.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))),
		writeFile(t, "k.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
}

// apisixEnv is the environment pointing plumb at srv.
func apisixEnv(srv *apisixtest.Server) map[string]string {
	return map[string]string{"APISIX_ADMIN_URL": srv.URL, "APISIX_ADMIN_KEY": srv.Key}
}

const stateV1 = `
upstreams:
  - id: web
    type: roundrobin
    nodes: {"10.0.0.1:80": 1}
routes:
  - id: hello
    uri: /hello
    upstream_id: web
`

const stateV2 = `
upstreams:
  - id: web
    type: roundrobin
    nodes: {"10.0.0.1:80": 1, "10.0.0.2:80": 1}
routes:
  - id: hello
    uri: /hello
    upstream_id: web
`

func TestApisixSyncDiffDump(t *testing.T) {
	srv := apisixtest.NewServer(t, apisixtest.Config{})
	env := apisixEnv(srv)
	v1 := writeFile(t, "v1.yaml", stateV1)

	// diff on an empty server: two creates, exit 1.
	r := run(t, env, "apisix", "diff", "-f", v1, "--owner", "team-a")
	wantCode(t, r, exitFailure)
	if !strings.Contains(r.Stdout, "+ upstreams/web") || !strings.Contains(r.Stdout, "+ routes/hello") {
		t.Fatalf("diff:\n%s", r.Stdout)
	}
	// --dry-run writes nothing.
	srv.ResetRequests()
	r = run(t, env, "apisix", "sync", "-f", v1, "--owner", "team-a", "--dry-run")
	wantCode(t, r, 0)
	if r.Stderr != "" {
		t.Fatalf("progress while stdout is not a terminal: %q", r.Stderr)
	}
	if srv.Len("routes") != 0 || srv.Len("upstreams") != 0 || srv.Requests()["PUT"] != 0 {
		t.Fatalf("dry run wrote: %d routes, %d upstreams, %v", srv.Len("routes"), srv.Len("upstreams"), srv.Requests())
	}
	r = runWith(t, env, true, "", "apisix", "sync", "-f", v1, "--owner", "team-a", "-o", "json")
	wantCode(t, r, 0)
	if !strings.Contains(r.Stderr, "apisix: syncing") {
		t.Fatalf("no progress on a terminal: %q", r.Stderr)
	}
	var plan struct {
		Changes []struct{ Action, Kind, ID string }
		Applied int
	}
	if err := json.Unmarshal([]byte(r.Stdout), &plan); err != nil || plan.Applied != 2 {
		t.Fatalf("sync: %v %s", err, r.Stdout)
	}
	if srv.Len("routes") != 1 || srv.Len("upstreams") != 1 {
		t.Fatalf("after sync: %d routes, %d upstreams", srv.Len("routes"), srv.Len("upstreams"))
	}
	// In sync: diff exits 0; a second sync sends only GETs.
	wantCode(t, run(t, env, "apisix", "diff", "-f", v1, "--owner", "team-a"), 0)
	srv.ResetRequests()
	wantCode(t, run(t, env, "apisix", "sync", "-f", v1, "--owner", "team-a"), 0)
	for m, n := range srv.Requests() {
		if m != "GET" && n > 0 {
			t.Fatalf("idempotent sync sent %d %s", n, m)
		}
	}
	// A changed file: diff names the field.
	v2 := writeFile(t, "v2.yaml", stateV2)
	r = run(t, env, "apisix", "diff", "-f", v2, "--owner", "team-a")
	wantCode(t, r, exitFailure)
	if !strings.Contains(r.Stdout, "~ upstreams/web") || !strings.Contains(r.Stdout, "nodes") {
		t.Fatalf("diff v2:\n%s", r.Stdout)
	}

	// dump reads back as a state that is in sync.
	r = run(t, env, "apisix", "dump")
	wantCode(t, r, 0)
	st, err := apisixclient.LoadState([]byte(r.Stdout))
	if err != nil {
		t.Fatalf("dump is not a state: %v\n%s", err, r.Stdout)
	}
	if len(st.Routes) != 1 || st.Routes[0].URI != "/hello" || st.Routes[0].Labels["managed-by"] != "team-a" {
		t.Fatalf("dump routes %+v", st.Routes)
	}
	dumped := writeFile(t, "dump.yaml", r.Stdout)
	wantCode(t, run(t, env, "apisix", "diff", "-f", dumped, "--owner", "team-a"), 0)

	// The key never shows in output.
	for _, out := range []string{r.Stdout, r.Stderr} {
		if strings.Contains(out, srv.Key) {
			t.Fatal("admin key printed")
		}
	}
}

func TestApisixSyncNotOwned(t *testing.T) {
	srv := apisixtest.NewServer(t, apisixtest.Config{})
	env := apisixEnv(srv)
	c, err := apisixclient.New(srv.URL, apisixclient.Config{APIKey: srv.Key})
	if err != nil {
		t.Fatal(err)
	}
	// Someone else's route with the id the file wants.
	if _, err := c.Routes.Put(t.Context(), "hello", &apisixclient.Route{URI: "/theirs",
		Upstream: &apisixclient.Upstream{Type: "roundrobin", Nodes: apisixclient.NodeMap(map[string]int{"10.9.9.9:80": 1})}}); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "apisix", "sync", "-f", writeFile(t, "s.yaml", stateV1), "--owner", "team-a")
	wantCode(t, r, exitFailure)
	oneLineError(t, r, "not owned")
	got, err := c.Routes.Get(t.Context(), "hello")
	if err != nil || got.Value.URI != "/theirs" || srv.Len("upstreams") != 0 {
		t.Fatalf("sync changed someone else's route or wrote: %+v %v, %d upstreams", got, err, srv.Len("upstreams"))
	}
}

func TestApisixLint(t *testing.T) {
	srv := apisixtest.NewServer(t, apisixtest.Config{})
	env := apisixEnv(srv)
	c, err := apisixclient.New(srv.URL, apisixclient.Config{APIKey: srv.Key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StreamRoutes.Put(t.Context(), "db", &apisixclient.StreamRoute{SNI: "db.example.com", ServerPort: 9333,
		Upstream: &apisixclient.Upstream{Type: "roundrobin", Nodes: apisixclient.NodeMap(map[string]int{"10.0.0.5:5432": 1})}}); err != nil {
		t.Fatal(err)
	}
	// The seed's mistake: "tls: true" under a scalar item is ignored.
	bad := writeFile(t, "config.yaml", "apisix:\n  proxy_mode: http&stream\n  stream_proxy:\n    tcp:\n      - 9333\n    tls: true\n")
	r := run(t, env, "apisix", "lint", "-f", bad, "-o", "json")
	wantCode(t, r, exitFailure)
	var findings []apisixclient.Finding
	if err := json.Unmarshal([]byte(r.Stdout), &findings); err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, f := range findings {
		codes[f.Code] = true
	}
	if !codes[apisixclient.LintStrayTLS] || !codes[apisixclient.LintSNIOnPlainListener] || !codes[apisixclient.LintSNIWithoutSSL] {
		t.Fatalf("findings %+v", findings)
	}
	// Without a server only config.yaml is checked.
	r = run(t, nil, "apisix", "lint", "-f", bad)
	wantCode(t, r, exitFailure)
	if !strings.Contains(r.Stdout, apisixclient.LintStrayTLS) || strings.Contains(r.Stdout, "stream_routes/db") {
		t.Fatalf("config-only lint:\n%s", r.Stdout)
	}
	good := writeFile(t, "good.yaml", "apisix:\n  proxy_mode: http&stream\n  stream_proxy:\n    tcp:\n      - addr: 9333\n        tls: true\n")
	state := writeFile(t, "st.yaml", "routes:\n  - id: r\n    uri: /x\n    upstream: {type: roundrobin, nodes: {\"10.0.0.1:80\": 1}}\n")
	r = run(t, nil, "apisix", "lint", "-f", good, "--state", state)
	wantCode(t, r, 0)
	if strings.TrimSpace(r.Stdout) != "no findings" {
		t.Fatalf("good lint:\n%s", r.Stdout)
	}
}

func TestApisixSNI(t *testing.T) {
	cert, key := selfSigned(t, "db.example.com")
	r := run(t, nil, "apisix", "sni", "--sni", "DB.example.com", "--cert", cert, "--key", key,
		"--upstream", "10.0.0.5:5432", "--port", "9100", "-o", "json")
	wantCode(t, r, 0)
	var out struct {
		State      json.RawMessage `json:"state"`
		ConfigYAML string          `json:"config_yaml"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatal(err)
	}
	st, err := apisixclient.LoadState(out.State)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.StreamRoutes) != 1 || st.StreamRoutes[0].SNI != "db.example.com" || st.StreamRoutes[0].ServerPort != 9100 || len(st.SSLs) != 1 {
		t.Fatalf("state %+v", st)
	}
	sp, err := apisixclient.ParseStreamProxy([]byte(out.ConfigYAML))
	if err != nil || len(sp.TCP) != 1 || !sp.TCP[0].TLS {
		t.Fatalf("config %v %+v\n%s", err, sp, out.ConfigYAML)
	}
	// The printed setup syncs to a server and lints clean there.
	srv := apisixtest.NewServer(t, apisixtest.Config{})
	env := apisixEnv(srv)
	stFile := writeFile(t, "sni.json", string(out.State))
	wantCode(t, run(t, env, "apisix", "sync", "-f", stFile, "--owner", "sni"), 0)
	if srv.Len("stream_routes") != 1 || srv.Len("ssls") != 1 {
		t.Fatalf("synced %d stream routes, %d ssls", srv.Len("stream_routes"), srv.Len("ssls"))
	}
	cfg := writeFile(t, "config.yaml", out.ConfigYAML)
	wantCode(t, run(t, env, "apisix", "lint", "-f", cfg), 0)
}

func TestApisixBadInputAndFaults(t *testing.T) {
	srv := apisixtest.NewServer(t, apisixtest.Config{})
	v1 := writeFile(t, "v1.yaml", stateV1)
	for _, tt := range []struct {
		name     string
		env      map[string]string
		argv     []string
		code     int
		contains string
	}{
		{"no admin", nil, []string{"apisix", "dump"}, 2, "APISIX_ADMIN_URL"},
		{"bad admin URL", map[string]string{"APISIX_ADMIN_URL": "localhost:9180"}, []string{"apisix", "dump"}, 2, "apisixclient"},
		{"unreachable", map[string]string{"APISIX_ADMIN_URL": "http://127.0.0.1:1"}, []string{"apisix", "diff", "-f", v1}, 1, "127.0.0.1:1"},
		{"wrong key", map[string]string{"APISIX_ADMIN_URL": srv.URL, "APISIX_ADMIN_KEY": "nope"}, []string{"apisix", "sync", "-f", v1}, 1, "401"},
		{"missing -f", apisixEnv(srv), []string{"apisix", "sync"}, 2, "-f state.yaml is required"},
		{"bad state", apisixEnv(srv), []string{"apisix", "sync", "-f", writeFile(t, "bad.yaml", "routes:\n  - id: x\n    urix: /a\n")}, 2, "urix"},
		{"invalid route", apisixEnv(srv), []string{"apisix", "sync", "-f", writeFile(t, "inv.yaml", "routes:\n  - id: x\n    uri: /a\n")}, 2, "upstream"},
		{"missing config", nil, []string{"apisix", "lint", "-f", "/nonexistent/config.yaml"}, 2, "no such file"},
		{"sni missing flags", nil, []string{"apisix", "sni", "--sni", "a.example.com"}, 2, "required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, tt.argv...)
			wantCode(t, r, tt.code)
			oneLineError(t, r, tt.contains)
			if srv.Len("routes") != 0 || srv.Len("upstreams") != 0 {
				t.Fatal("a failed command wrote to the server")
			}
			if strings.Contains(r.Stderr, srv.Key) {
				t.Fatal("key printed")
			}
		})
	}
}
