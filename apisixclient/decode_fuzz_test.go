package apisixclient_test

import (
	"encoding/json"
	"testing"

	"github.com/goplumb/plumb/apisixclient"
)

// FuzzDecodeRoute feeds Admin API values to the ID, Nodes and Plugins
// decoders: they must not panic, and what decodes must re-encode to a value
// that decodes to the same thing (the round trip sync relies on).
func FuzzDecodeRoute(f *testing.F) {
	f.Add([]byte(`{"id":1,"uri":"/a","upstream":{"nodes":{"127.0.0.1:80":1,"[::1]:81":2}},"plugins":{"echo":{}}}`))
	f.Add([]byte(`{"id":"r-1","uris":["/a"],"upstream":{"nodes":[{"host":"a","port":1,"weight":0,"priority":-1}]},"plugins":[]}`))
	f.Add([]byte(`{"id":null,"upstream":{"nodes":{}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r apisixclient.Route
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		_ = r.Validate()
		enc, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var back apisixclient.Route
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("own encoding does not decode: %v\n%s", err, enc)
		}
		enc2, err := json.Marshal(&back)
		if err != nil {
			t.Fatal(err)
		}
		if string(enc) != string(enc2) {
			t.Fatalf("round trip changed:\n%s\n%s", enc, enc2)
		}
		if r.Upstream != nil && back.Upstream != nil && r.Upstream.Nodes.IsArray() != back.Upstream.Nodes.IsArray() {
			t.Fatalf("nodes form changed")
		}
	})
}
