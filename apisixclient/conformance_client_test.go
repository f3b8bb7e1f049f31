package apisixclient_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/apisixclient"
)

// TestClientAcceptsWhatAPISIXAccepts decodes every body APISIX accepts in
// the conformance file (setups and 2xx cases) into the typed resources: the
// client's validation must not refuse any of them, and the typed round trip
// must keep every field.
func TestClientAcceptsWhatAPISIXAccepts(t *testing.T) {
	raw, err := os.ReadFile("apisixtest/testdata/apisix-conformance.json")
	require.NoError(t, err)
	type req struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Body   json.RawMessage `json:"body"`
	}
	var cases []struct {
		ID           string `json:"id"`
		Resource     string `json:"resource"`
		ExpectStatus int    `json:"expect_status"`
		req
		Setup []req `json:"setup"`
	}
	require.NoError(t, json.Unmarshal(raw, &cases))
	checked := 0
	for _, c := range cases {
		bodies := c.Setup
		if c.ExpectStatus < 300 {
			bodies = append(bodies, c.req)
		}
		for _, r := range bodies {
			if (r.Method != "PUT" && r.Method != "POST") || len(r.Body) == 0 || r.Body[0] != '{' {
				continue
			}
			var v interface{ Validate() error }
			switch {
			case strings.Contains(r.Path, "/stream_routes"):
				v = &apisixclient.StreamRoute{}
			case strings.Contains(r.Path, "/routes"):
				v = &apisixclient.Route{}
			case strings.Contains(r.Path, "/upstreams"):
				v = &apisixclient.Upstream{}
			case strings.Contains(r.Path, "/services"):
				v = &apisixclient.Service{}
			case strings.Contains(r.Path, "/ssls"):
				v = &apisixclient.SSL{}
			default:
				continue
			}
			require.NoError(t, json.Unmarshal(r.Body, v), "%s: decode %s", c.ID, r.Body)
			assert.NoError(t, v.Validate(), "%s: %s %s", c.ID, r.Method, r.Path)
			back, err := json.Marshal(v)
			require.NoError(t, err)
			var want, got map[string]any
			require.NoError(t, json.Unmarshal(r.Body, &want))
			require.NoError(t, json.Unmarshal(back, &got))
			delete(want, "id")
			delete(got, "id")
			idsAsStrings(want) // the client always sends ids as strings
			assert.Equal(t, want, got, "%s: typed round trip", c.ID)
			checked++
		}
	}
	assert.Greater(t, checked, 30)

	// Schema faults the client promises to catch before sending.
	caught := map[string]bool{}
	for _, id := range []string{"route-invalid-method", "route-host-and-hosts", "route-remote-addr-and-addrs", "route-bad-remote-addrs-empty",
		"route-chash-missing-key", "route-script-and-plugins", "route-bad-host-pattern-2", "route-invalid-upstream-id",
		"upstream-retries-negative", "upstream-retry-timeout-negative", "upstream-bad-hash-on", "upstream-timeout-zero",
		"upstream-node-weight-negative", "upstream-array-node-port-zero", "ssl-missing-sni", "ssl-missing-cert-key",
		"mirror-no-scheme", "mirror-host-with-path", "mirror-bad-port", "mirror-sample-ratio-too-big", "mirror-path-no-slash"} {
		caught[id] = true
	}
	for _, c := range cases {
		if !caught[c.ID] {
			continue
		}
		delete(caught, c.ID)
		var v interface{ Validate() error }
		switch c.Resource {
		case "routes":
			v = &apisixclient.Route{}
		case "upstreams":
			v = &apisixclient.Upstream{}
		case "ssls":
			v = &apisixclient.SSL{}
		}
		if err := json.Unmarshal(c.Body, v); err != nil {
			continue // a type error is caught by decoding already
		}
		err := v.Validate()
		assert.ErrorIs(t, err, apisixclient.ErrInvalid, "%s: APISIX answers %d; the client should refuse it first", c.ID, c.ExpectStatus)
	}
	assert.Empty(t, caught, "case ids missing from the conformance file")
}

func idsAsStrings(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case float64:
			if k == "id" || len(k) > 3 && k[len(k)-3:] == "_id" {
				m[k] = json.Number(fmt.Sprint(x)).String()
			}
		case map[string]any:
			idsAsStrings(x)
		}
	}
}
