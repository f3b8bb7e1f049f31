package apisixclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// ID is a resource id. APISIX accepts a string matching ^[a-zA-Z0-9-_.]+$
// (1–64 chars) or an integer ≥ 1, and returns ids as strings, except an id
// that came only from a PUT body, which keeps its JSON type. ID
// decodes both and always encodes as a JSON string.
type ID string

// IntID returns the ID for an integer id.
func IntID(n int64) ID { return ID(strconv.FormatInt(n, 10)) }

// String returns the id.
func (id ID) String() string { return string(id) }

// UnmarshalJSON accepts a JSON string or number.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*id = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("apisixclient: id must be a string or number, got %s", b)
	}
	*id = ID(n.String())
	return nil
}

// idChars reports whether s matches ^[a-zA-Z0-9-_.]+$ (a loop: ids are
// checked on every call, and a regexp showed in Sync's profile).
func idChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Validate checks the id_schema rule of APISIX (apisix/schema_def.lua),
// and refuses "." and "..", which the schema allows but nginx resolves in
// the request path before APISIX sees it.
func (id ID) Validate() error {
	if id == "" {
		return &ValidationError{Kind: "id", Field: "id", Msg: "empty id", Fix: "pass a non-empty id such as \"1\" or \"my-route\""}
	}
	if len(id) > 64 {
		return &ValidationError{Kind: "id", Field: "id", Msg: fmt.Sprintf("%q is %d chars long", id, len(id)), Fix: "use at most 64 characters"}
	}
	if !idChars(string(id)) {
		return &ValidationError{Kind: "id", Field: "id", Msg: fmt.Sprintf("%q does not match ^[a-zA-Z0-9-_.]+$", id), Fix: "use only letters, digits, '-', '_' and '.'"}
	}
	if id == "." || id == ".." {
		return &ValidationError{Kind: "id", Field: "id", Msg: fmt.Sprintf("%q is a path segment nginx resolves before APISIX routes the request, so it would address another resource (\"..\" under a consumer's credentials is the consumer itself)", id),
			Fix: "use an id with at least one letter, digit, '-' or '_'"}
	}
	return nil
}

// checkSecretID checks a secret id "<manager>/<id>".
func checkSecretID(id ID) error {
	s := string(id)
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			m := s[:i]
			if m != "vault" && m != "aws" && m != "gcp" {
				return &ValidationError{Kind: "secret", Field: "id", Msg: fmt.Sprintf("unknown secret manager %q", m), Fix: "use vault/<id>, aws/<id> or gcp/<id>"}
			}
			return ID(s[i+1:]).Validate()
		}
	}
	return &ValidationError{Kind: "secret", Field: "id", Msg: fmt.Sprintf("%q has no manager", s), Fix: "secret ids are \"<manager>/<id>\", e.g. \"vault/1\""}
}
