// Package apisixtest is an in-process Apache APISIX Admin API (v3) for
// tests of code that configures APISIX, in the spirit of net/http/httptest.
//
//	srv := apisixtest.NewServer(t, apisixtest.Config{}) // closed when t ends
//	c, _ := apisixclient.New(srv.URL, apisixclient.Config{APIKey: srv.Key})
//
// It follows APISIX 3.18.0's own source (apisix/admin/*.lua,
// apisix/schema_def.lua, apisix/plugins/*.lua) and passes every case of its
// conformance file, testdata/apisix-conformance.json, whose cases come from
// APISIX's test suite (t/admin/*.t, t/node/*.t):
//
//   - the v3 envelopes, 201 for a new key and 200 for a replaced one,
//     {"message":"Key not found"} for a missing key, createdIndex and
//     modifiedIndex on GET and lists;
//   - the resource schemas (additionalProperties: false, so unknown fields
//     are rejected), with api7/jsonschema's messages and the
//     "invalid configuration: " prefix where APISIX adds it;
//   - id rules, forbidden create_time/update_time on PUT and POST, the
//     custom checks (upstream nodes, chash keys, certificates, references,
//     plugin schemas for the common plugins), delete checks and ?force=true;
//   - PATCH merge (null deletes, arrays replace) and sub-path PATCH, paging
//     (10..500, total before paging), the name/label/uri/filter filters,
//     TTL, the API key (header, ?api_key=, cookie; viewer role), the 1.5 MiB
//     body limit, stream mode, and SSL keys stripped from reads.
//
// Every plugin bundled with APISIX 3.18 is known (http and stream
// subsystems, priorities, auth plugins' consumer schemas); the common ones
// (proxy-mirror, proxy-rewrite, limit-count/req/conn, key/basic/jwt/hmac
// auth, ip/ua/referer/consumer restriction, cors, redirect, request-id,
// grpc-transcode, response-rewrite, fault-injection, api-breaker, ...) have
// their full schemas with defaults, dependent schemas and the check_schema
// rules that matter for the Admin API; the others accept any object. The
// redis xRPC protocol's conf is checked on stream routes. Config.Version
// from 3.2 to 3.13 writes schema defaults back as those releases did.
//
// It is not APISIX: it proxies no traffic, keeps data in memory, does not
// compile Lua (filter_func, script), regular expressions of plugins or
// protobuf, and visits properties in sorted order where APISIX uses Lua
// hash order, so with several faults in one body the one reported may
// differ.
//
// NewHandler gives the same server as an http.Handler, for use outside tests
// (for example an example program with no APISIX at hand). Requests and
// FailNext help tests count round trips and exercise retries.
package apisixtest
