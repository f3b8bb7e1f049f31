// Package apisixclient is a typed client for the Apache APISIX Admin API
// (v3), with client-side schema checks, a stream-proxy linter and a
// declarative sync.
//
// One Client holds one service per resource, as go-github does:
//
//	c, err := apisixclient.New("http://127.0.0.1:9180", apisixclient.Config{APIKey: key})
//	it, err := c.Routes.Put(ctx, "1", &apisixclient.Route{
//		URI:      "/hello",
//		Upstream: &apisixclient.Upstream{Type: "roundrobin", Nodes: apisixclient.NodeMap(map[string]int{"10.0.0.1:80": 1})},
//	})
//
// Every resource service (Routes, Services, Upstreams, Consumers,
// ConsumerGroups, SSLs, GlobalRules, PluginConfigs, PluginMetadata,
// StreamRoutes, Secrets, Protos) offers Get, List (filters and pages of
// 10–500), All (an iterator over every page), Put, Create (POST, where
// APISIX allows it), Patch (merge), PatchPath (one field), and Delete
// (WithForce skips the reference check). Put, Create and Patch take
// WithTTL; both are values of the per-call Option type. Credentials,
// Plugins and Schemas have their own small services.
//
// What the client takes care of:
//
//   - IDs: the ID type decodes a JSON string or number; APISIX returns both.
//   - Timestamps: create_time and update_time are never sent on Put or
//     Create (APISIX rejects them), so a value read with Get can be put back.
//     SSL keys are stripped by GET: set Key again before a Put.
//   - Upstream nodes keep their map or array form across a round trip, so a
//     later PATCH merges (map) or replaces (array) as it did before.
//   - Plugins: typed configs for common plugins (ProxyMirror, LimitCount,
//     KeyAuth, ...), and any other plugin as a map or json.RawMessage.
//   - Validation: Put and Create check the value against APISIX's schema
//     rules first (uri xor uris, nodes xor discovery, timeouts, enums, ids,
//     proxy-mirror host/path/sample_ratio, lower-case stream sni) and return
//     a *ValidationError (errors.Is ErrInvalid) that says the fix.
//   - Errors: any non-2xx answer is an *APIError carrying the status and
//     APISIX's error_msg, message or plain-text body; IsNotFound,
//     IsConflict and IsInUse classify it.
//   - Strict answers: a 2xx body that is not the v3 envelope the call
//     expects (an APISIX 2.x server, a proxy's login page, "list": "x") is
//     an *UnexpectedResponseError (errors.Is ErrUnexpectedResponse) with
//     the status and the first bytes, never an empty success.
//   - Retries: GET, PUT and DELETE are retried with backoff on transport
//     errors and 502/503/504; PATCH only on the 503 compare-and-swap
//     conflict; POST never, since a retry could create a duplicate.
//
// Lint explains why a stream route can never match, given the stream_proxy
// section of config.yaml (ParseStreamProxy): an SNI route on a port that does
// not terminate TLS, the "- 9333" plus "tls: true" YAML that APISIX ignores,
// no SSL object for the SNI, upper-case SNI, a port nobody listens on, and
// proxy_mode without stream on 3.x. It also flags a proxy-mirror host with a
// path on HTTP routes.
//
// Sync applies a desired State: it lists what the server has, diffs it
// against the desired resources (ignoring server-filled fields), and writes
// only what differs, in dependency order, touching only resources that
// carry the ownership label. A second run with no change sends only GETs.
//
// Dump reads everything into a State (State.YAML renders it), and
// SNIScenario builds the SSL object, stream route and config.yaml section
// for a TLS service routed by SNI, which Lint accepts without findings.
//
// The sub-package apisixtest is an in-process Admin API for tests.
//
// The facts this package relies on come from APISIX 3.18's source
// (apisix/admin/*.lua, apisix/schema_def.lua, apisix/stream/router/ip_port.lua)
// and the Admin API documentation (docs/en/latest/admin-api.md); the
// test server passes a conformance file of cases taken from APISIX's test
// suite (apisixtest/testdata/apisix-conformance.json).
package apisixclient
