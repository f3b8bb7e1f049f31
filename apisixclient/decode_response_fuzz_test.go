package apisixclient

import (
	"encoding/json"
	"errors"
	"testing"
)

// envelopeOK is an independent statement of the v3 item envelope.
func envelopeOK(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	key, ok := m["key"].(string)
	_, isObj := m["value"].(map[string]any)
	_, v2 := m["node"]
	return ok && key != "" && key[0] == '/' && isObj && !v2
}

// FuzzDecodeResponse: the response decoders never panic, and never return
// a nil error for a body that is not a v3 envelope.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{
		`{"key":"/apisix/routes/1","value":{"uri":"/a","upstream_id":1},"createdIndex":3,"modifiedIndex":4}`,
		`{"total":1,"list":[{"key":"/apisix/routes/1","value":{"uri":"/a"}}]}`,
		`{"total":0,"list":{}}`,
		`{"action":"get","node":{"key":"/apisix/routes","nodes":[]}}`,
		`null`, `{}`, `{"total":1,"list":"x"}`, `{"value":null}`, `<html>`, ``,
	} {
		f.Add([]byte(s), uint8(200))
	}
	f.Fuzz(func(t *testing.T, body []byte, st uint8) {
		resp := &rawResponse{method: "GET", path: "/apisix/admin/routes", status: 200 + int(st%7), body: body}
		var generic any
		jsonErr := json.Unmarshal(body, &generic)

		it, err := decodeItem[Route](resp)
		if err == nil {
			if jsonErr != nil || !envelopeOK(generic) || it == nil {
				t.Fatalf("item decoded from a non-envelope: %q", body)
			}
		} else if !errors.Is(err, ErrUnexpectedResponse) {
			t.Fatalf("item error %v does not wrap ErrUnexpectedResponse", err)
		}

		page, err := decodeList[Route](resp)
		if err == nil {
			m, _ := generic.(map[string]any)
			total, okT := m["total"].(float64)
			list, okL := m["list"].([]any)
			if empty, _ := m["list"].(map[string]any); !okL && empty != nil && len(empty) == 0 && total == 0 {
				okL = true
			}
			if jsonErr != nil || !okT || !okL || float64(len(list)) > total || page == nil || len(page.Items) != len(list) {
				t.Fatalf("list decoded from a non-envelope: %q", body)
			}
			for _, x := range list {
				if !envelopeOK(x) {
					t.Fatalf("list item %v is not an envelope: %q", x, body)
				}
			}
		} else if !errors.Is(err, ErrUnexpectedResponse) {
			t.Fatalf("list error %v does not wrap ErrUnexpectedResponse", err)
		}

		if checkDeleted(resp) == nil {
			m, ok := generic.(map[string]any)
			_, del := m["deleted"]
			_, action := m["action"]
			if jsonErr != nil || !ok || !del || action {
				t.Fatalf("delete accepted %q", body)
			}
		}
	})
}
