package apisixclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// APIError is a non-2xx answer from the Admin API. Message holds error_msg,
// or message (APISIX's 404 "Key not found"), or the plain-text body
// ("page_size must be between 10 and 500"), so nothing the server said is
// lost.
type APIError struct {
	Method      string // HTTP method of the request
	Path        string // request path, e.g. /apisix/admin/routes/1
	StatusCode  int    // HTTP status
	Message     string // error_msg, message or plain-text body
	Description string // 401 reason ("missing apikey", "wrong apikey")
	Body        []byte // raw body as received
}

// Error implements error.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	if e.Description != "" {
		msg += " (" + e.Description + ")"
	}
	return fmt.Sprintf("apisixclient: %s %s: %d %s", e.Method, e.Path, e.StatusCode, msg)
}

// IsNotFound reports whether the resource does not exist (404).
func (e *APIError) IsNotFound() bool { return e != nil && e.StatusCode == http.StatusNotFound }

// IsConflict reports a lost compare-and-swap race (503 "value changed
// before overwritten"): retrying the PATCH is safe.
func (e *APIError) IsConflict() bool {
	return e != nil && e.StatusCode == http.StatusServiceUnavailable && strings.Contains(e.Message, "value changed before overwritten")
}

// IsInUse reports a delete refused because another resource still refers
// to this one (400 "... is still using it now"). Delete the referrer first
// or pass WithForce.
func (e *APIError) IsInUse() bool {
	return e != nil && e.StatusCode == http.StatusBadRequest && strings.Contains(e.Message, "still using")
}

func newAPIError(method, path string, status int, body []byte) *APIError {
	e := &APIError{Method: method, Path: path, StatusCode: status, Body: body}
	var env struct {
		ErrorMsg    string `json:"error_msg"`
		Message     string `json:"message"`
		Description string `json:"description"`
	}
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "{") && json.Unmarshal(body, &env) == nil {
		e.Message = env.ErrorMsg
		if e.Message == "" {
			e.Message = env.Message
		}
		e.Description = env.Description
	} else {
		if len(trimmed) > 512 {
			trimmed = trimmed[:512] + "..."
		}
		e.Message = trimmed
	}
	return e
}

// IsNotFound reports whether err is an *APIError with status 404.
func IsNotFound(err error) bool {
	e, ok := asAPIError(err)
	return ok && e.IsNotFound()
}

// IsConflict reports whether err is a 503 compare-and-swap conflict.
func IsConflict(err error) bool {
	e, ok := asAPIError(err)
	return ok && e.IsConflict()
}

// IsInUse reports whether err is a delete refused because of references.
func IsInUse(err error) bool {
	e, ok := asAPIError(err)
	return ok && e.IsInUse()
}

// UnexpectedResponseError is a 2xx answer the client did not understand:
// not JSON, not the Admin API v3 envelope the call expects (for a GET
// {"key": ..., "value": {...}}, for a list {"total": n, "list": [...]}), or
// an APISIX 2.x envelope ({"action": ..., "node": ...}). The client never
// treats such an answer as success, so Lint, Diff and Sync cannot report an
// all-clear they did not see. It wraps ErrUnexpectedResponse.
type UnexpectedResponseError struct {
	Method     string // HTTP method of the request
	Path       string // request path, e.g. /apisix/admin/routes
	StatusCode int    // HTTP status (2xx)
	// Reason says what is wrong, e.g. "no \"list\" array".
	Reason string
	// V2 is true when the body is an APISIX 2.x envelope: this client speaks
	// the v3 Admin API (APISIX 3.0 and later) only.
	V2 bool
	// Body holds the first 512 bytes of the body.
	Body []byte
}

// Error implements error.
func (e *UnexpectedResponseError) Error() string {
	what := e.Reason
	if e.V2 {
		what = "an APISIX 2.x Admin API envelope (" + e.Reason + "); this client speaks the v3 Admin API of APISIX 3.0 and later: upgrade APISIX or use a 2.x client"
	}
	return fmt.Sprintf("apisixclient: %s %s: unexpected %d response: %s; body starts %q", e.Method, e.Path, e.StatusCode, what, e.Body)
}

// Unwrap returns ErrUnexpectedResponse.
func (e *UnexpectedResponseError) Unwrap() error { return ErrUnexpectedResponse }

func newUnexpected(method, path string, status int, body []byte, reason string) *UnexpectedResponseError {
	e := &UnexpectedResponseError{Method: method, Path: path, StatusCode: status, Reason: reason, V2: isV2(body)}
	if len(body) > 512 {
		body = body[:512]
	}
	e.Body = append([]byte(nil), body...)
	return e
}

// ValidationError is a client-side schema failure found before any request
// is sent. It wraps ErrInvalid.
type ValidationError struct {
	Kind  string // resource kind, e.g. "stream route"
	Field string // JSON field path, e.g. "sni" or "plugins.proxy-mirror.host"
	Msg   string // what is wrong
	Fix   string // how to fix it
}

// Error implements error.
func (e *ValidationError) Error() string {
	s := fmt.Sprintf("apisixclient: invalid %s: %s: %s", e.Kind, e.Field, e.Msg)
	if e.Fix != "" {
		s += " (fix: " + e.Fix + ")"
	}
	return s
}

// Unwrap returns ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// isV2 reports an APISIX 2.x envelope: {"action": "get", "node": {...}}.
func isV2(body []byte) bool {
	var env map[string]json.RawMessage
	if json.Unmarshal(body, &env) != nil {
		return false
	}
	_, node := env["node"]
	_, action := env["action"]
	return node || action
}

func asAPIError(err error) (*APIError, bool) {
	var e *APIError
	ok := errors.As(err, &e)
	return e, ok
}
