package apisixclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Item is one stored resource as the Admin API returns it.
type Item[T any] struct {
	// Key is the etcd key, e.g. "/apisix/routes/1".
	Key string
	// Value is the resource, with the id and timestamps the server set.
	Value T
	// CreatedIndex and ModifiedIndex are etcd revisions; only GET and List
	// return them (0 after Put, Create and Patch).
	CreatedIndex  int64
	ModifiedIndex int64
	// Created is true when a Put or Create made a new key (HTTP 201) and
	// false when it replaced one (200).
	Created bool
}

// Page is one page of a List call.
type Page[T any] struct {
	// Total counts every item matching the filters, before paging.
	Total int
	Items []Item[T]
}

// ListOptions filters and pages a List (the Admin API's page, page_size,
// name, label, uri and filter parameters). The zero value lists
// everything in etcd key order.
type ListOptions struct {
	// Page and PageSize turn paging on when PageSize is set; PageSize must
	// be 10..500 and Page starts at 1. Paged lists are sorted by creation.
	Page, PageSize int
	// Name keeps items whose name matches this regular expression.
	Name string
	// Label keeps items that carry this label key (any value).
	Label string
	// URI keeps routes whose uri or uris match this regular expression.
	URI string
	// ServiceID and UpstreamID keep routes and stream routes that refer to
	// them (APISIX 3.13+).
	ServiceID, UpstreamID ID
}

func (o *ListOptions) query() (url.Values, error) {
	q := url.Values{}
	if o == nil {
		return q, nil
	}
	if o.PageSize != 0 || o.Page != 0 {
		if o.PageSize < 10 || o.PageSize > 500 {
			return nil, &ValidationError{Kind: "list options", Field: "PageSize", Msg: fmt.Sprintf("%d is out of range", o.PageSize), Fix: "use a page size from 10 to 500, or 0 to list everything"}
		}
		if o.Page < 0 {
			return nil, &ValidationError{Kind: "list options", Field: "Page", Msg: fmt.Sprintf("%d is negative", o.Page), Fix: "pages start at 1"}
		}
		q.Set("page", strconv.Itoa(max(o.Page, 1)))
		q.Set("page_size", strconv.Itoa(o.PageSize))
	}
	if o.Name != "" {
		q.Set("name", o.Name)
	}
	if o.Label != "" {
		q.Set("label", o.Label)
	}
	if o.URI != "" {
		q.Set("uri", o.URI)
	}
	f := url.Values{}
	if o.ServiceID != "" {
		f.Set("service_id", string(o.ServiceID))
	}
	if o.UpstreamID != "" {
		f.Set("upstream_id", string(o.UpstreamID))
	}
	if len(f) > 0 {
		q.Set("filter", f.Encode())
	}
	return q, nil
}

// Option modifies one call: WithTTL for Put, Create and Patch, WithForce
// for Delete. An invalid one (a negative TTL) fails the call with
// ErrInvalid before any request is sent.
type Option func(*callOpts)

type callOpts struct {
	ttl   time.Duration
	force bool
}

// WithTTL makes the written key expire after d (rounded up to whole
// seconds; APISIX's ?ttl=). It applies to Put, Create and Patch.
func WithTTL(d time.Duration) Option { return func(o *callOpts) { o.ttl = d } }

// WithForce makes Delete skip APISIX's reference check (?force=true), so a
// resource still used by others is deleted anyway.
func WithForce() Option { return func(o *callOpts) { o.force = true } }

func (o *callOpts) query(q url.Values) (url.Values, error) {
	if q == nil {
		q = url.Values{}
	}
	if o.ttl < 0 {
		return nil, &ValidationError{Kind: "call options", Field: "ttl", Msg: "negative TTL", Fix: "pass a positive duration to WithTTL"}
	}
	if o.ttl > 0 {
		secs := int64((o.ttl + time.Second - 1) / time.Second)
		q.Set("ttl", strconv.FormatInt(secs, 10))
	}
	if o.force {
		q.Set("force", "true")
	}
	return q, nil
}

func collect(opts []Option) callOpts {
	var o callOpts
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// resourceValue is what every resource type provides to the client.
type resourceValue interface {
	resourceID() ID
	// Validate checks the resource against APISIX's schema rules before any
	// request (apisix/schema_def.lua) and returns a *ValidationError saying
	// how to fix it.
	Validate() error
}

// Resource is the typed client for one kind of resource, such as
// Client.Routes. It is safe for concurrent use.
type Resource[T any] struct {
	c       *Client
	path    string // e.g. "routes"
	kind    string // e.g. "route"
	post    bool   // POST (auto id) is supported
	patch   bool   // PATCH is supported
	idCheck func(ID) error
}

func newResource[T any](c *Client, path, kind string, post, patch bool) *Resource[T] {
	return &Resource[T]{c: c, path: path, kind: kind, post: post, patch: patch, idCheck: ID.Validate}
}

func (r *Resource[T]) itemPath(id ID) (string, error) {
	if err := r.idCheck(id); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.Kind = r.kind
		}
		return "", err
	}
	return "/" + r.path + "/" + escapeID(id), nil
}

func escapeID(id ID) string {
	parts := strings.Split(string(id), "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Get returns the resource with that id. A missing one gives an *APIError
// for which IsNotFound is true.
func (r *Resource[T]) Get(ctx context.Context, id ID) (*Item[T], error) {
	p, err := r.itemPath(id)
	if err != nil {
		return nil, err
	}
	resp, err := r.c.do(ctx, http.MethodGet, p, nil, nil)
	if err != nil {
		return nil, err
	}
	return decodeItem[T](resp)
}

// List returns one page (or, with nil options, all) of the resources
// matching opts.
func (r *Resource[T]) List(ctx context.Context, opts *ListOptions) (*Page[T], error) {
	return listPath[T](ctx, r.c, "/"+r.path, opts)
}

// All iterates over every resource matching opts, fetching pages of
// opts.PageSize (default 500) in creation order. It stops at the first
// error, which it yields.
func (r *Resource[T]) All(ctx context.Context, opts *ListOptions) iter.Seq2[Item[T], error] {
	return allPath[T](ctx, r.c, "/"+r.path, opts)
}

// Put creates or replaces the resource with that id (PUT). v is validated
// first; its id, when set, must equal id. The timestamps of v (and of an
// inline upstream) are never sent: APISIX rejects them. v is not modified.
func (r *Resource[T]) Put(ctx context.Context, id ID, v *T, opts ...Option) (*Item[T], error) {
	p, err := r.itemPath(id)
	if err != nil {
		return nil, err
	}
	body, err := r.encodeWrite(v, id)
	if err != nil {
		return nil, err
	}
	return writeItem[T](ctx, r.c, http.MethodPut, p, body, opts)
}

// Create stores v under an id the server picks (POST); the id is in the
// returned Value. v must have no id. Create is never retried, since a
// retry could create a duplicate. It returns ErrNotSupported for
// resources APISIX cannot POST (consumers, global rules, ...).
func (r *Resource[T]) Create(ctx context.Context, v *T, opts ...Option) (*Item[T], error) {
	if !r.post {
		return nil, fmt.Errorf("%w: POST on %s (APISIX answers 405); use Put with an id", ErrNotSupported, r.path)
	}
	body, err := r.encodeWrite(v, "")
	if err != nil {
		return nil, err
	}
	return writeItem[T](ctx, r.c, http.MethodPost, "/"+r.path, body, opts)
}

// Patch merges patch into the stored resource (PATCH): objects merge
// recursively, arrays are replaced whole, and a nil value (JSON null) in a
// map deletes that key. patch is any JSON-encodable value, typically a
// map[string]any or a partial struct. The merged result is checked by the
// server. Patch is retried on the 503 compare-and-swap conflict only.
func (r *Resource[T]) Patch(ctx context.Context, id ID, patch any, opts ...Option) (*Item[T], error) {
	return r.PatchPath(ctx, id, "", patch, opts...)
}

// PatchPath replaces one field of the stored resource (PATCH
// /{id}/{path}), e.g. PatchPath(ctx, "1", "methods", []string{"GET"}) or
// PatchPath(ctx, "1", "upstream/nodes", nodes). Missing parent objects are
// created. An empty path behaves as Patch.
func (r *Resource[T]) PatchPath(ctx context.Context, id ID, path string, value any, opts ...Option) (*Item[T], error) {
	if !r.patch {
		return nil, fmt.Errorf("%w: PATCH on %s (APISIX answers 405); use Put with the whole resource", ErrNotSupported, r.path)
	}
	p, err := r.itemPath(id)
	if err != nil {
		return nil, err
	}
	path = strings.Trim(path, "/")
	if path != "" {
		segs := strings.Split(path, "/")
		for i, seg := range segs {
			dec, err := url.PathUnescape(seg)
			switch {
			case seg == "":
				return nil, &ValidationError{Kind: r.kind, Field: "path", Msg: fmt.Sprintf("empty segment in sub-path %q", path), Fix: "use a path like \"upstream/nodes\""}
			case err != nil || dec == "." || dec == ".." || strings.Contains(dec, "/") || dec != seg:
				return nil, &ValidationError{Kind: r.kind, Field: "path", Msg: fmt.Sprintf("segment %q of sub-path %q would be rewritten by nginx's path normalisation (dots, percent-encoding)", seg, path),
					Fix: "name fields plainly, e.g. \"plugins/proxy-mirror/sample_ratio\", or PATCH the whole object with Patch"}
			}
			segs[i] = url.PathEscape(seg)
		}
		p += "/" + strings.Join(segs, "/")
	} else if value == nil {
		return nil, &ValidationError{Kind: r.kind, Field: "patch", Msg: "nil patch", Fix: "pass a map or struct with the fields to change"}
	}
	body, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("apisixclient: encode patch for %s %s: %w", r.kind, id, err)
	}
	if path == "" && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		return nil, &ValidationError{Kind: r.kind, Field: "patch", Msg: "a whole-object patch must be a JSON object, got " + truncate(string(body), 40), Fix: "pass a map or struct, or use PatchPath for a single field"}
	}
	return writeItem[T](ctx, r.c, http.MethodPatch, p, body, opts)
}

// Delete removes the resource. APISIX refuses (IsInUse) while another
// resource refers to it unless WithForce is given. A missing resource gives
// an error for which IsNotFound is true.
func (r *Resource[T]) Delete(ctx context.Context, id ID, opts ...Option) error {
	p, err := r.itemPath(id)
	if err != nil {
		return err
	}
	resp, err := r.c.send(ctx, http.MethodDelete, p, nil, opts)
	if err != nil {
		return err
	}
	return checkDeleted(resp)
}

// send makes one call with the query that opts ask for (ttl, force).
func (c *Client) send(ctx context.Context, method, path string, body []byte, opts []Option) (*rawResponse, error) {
	o := collect(opts)
	q, err := o.query(nil)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, method, path, q, body)
}

// writeItem sends a write (PUT, POST, PATCH) and decodes the stored item.
func writeItem[T any](ctx context.Context, c *Client, method, path string, body []byte, opts []Option) (*Item[T], error) {
	resp, err := c.send(ctx, method, path, body, opts)
	if err != nil {
		return nil, err
	}
	return decodeItem[T](resp)
}

// encodeWrite validates v and encodes it for PUT/POST without timestamps.
func (r *Resource[T]) encodeWrite(v *T, id ID) ([]byte, error) {
	if v == nil {
		return nil, &ValidationError{Kind: r.kind, Field: "value", Msg: "nil " + r.kind, Fix: "pass the resource to write"}
	}
	cp := *v
	if ts, ok := any(&cp).(interface{ clearTimestamps() }); ok {
		ts.clearTimestamps()
	}
	if rv, ok := any(&cp).(resourceValue); ok {
		if err := rv.Validate(); err != nil {
			return nil, err
		}
		bid := rv.resourceID()
		switch {
		case id == "" && bid != "":
			return nil, &ValidationError{Kind: r.kind, Field: "id", Msg: fmt.Sprintf("id %q set on a Create", bid), Fix: "leave the id empty for Create (the server picks one), or use Put"}
		case id != "" && bid != "" && bid != id:
			return nil, &ValidationError{Kind: r.kind, Field: "id", Msg: fmt.Sprintf("body id %q differs from %q", bid, id), Fix: "make the value's ID equal the id argument, or leave it empty"}
		}
	}
	b, err := json.Marshal(&cp)
	if err != nil {
		return nil, fmt.Errorf("apisixclient: encode %s: %w", r.kind, err)
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

type rawItem struct {
	Key           string
	Value         json.RawMessage
	CreatedIndex  int64
	ModifiedIndex int64
}

// object decodes b as a JSON object, or says why it is not one.
func object(b []byte) (map[string]json.RawMessage, string) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, "empty body"
	}
	if t[0] != '{' {
		return nil, "not a JSON object"
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, "invalid JSON: " + err.Error()
	}
	return m, ""
}

func isObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

// parseItem checks one v3 item envelope: {"key": "/apisix/...", "value":
// {...}, "createdIndex": n, "modifiedIndex": n}; the indexes are optional.
func parseItem(m map[string]json.RawMessage) (rawItem, string) {
	var ri rawItem
	if _, ok := m["node"]; ok {
		return ri, `has "node"`
	}
	if err := json.Unmarshal(m["key"], &ri.Key); err != nil || !strings.HasPrefix(ri.Key, "/") {
		return ri, `no "key" string`
	}
	ri.Value = m["value"]
	if !isObject(ri.Value) {
		return ri, `"value" is not an object`
	}
	for name, dst := range map[string]*int64{"createdIndex": &ri.CreatedIndex, "modifiedIndex": &ri.ModifiedIndex} {
		if raw, ok := m[name]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return ri, fmt.Sprintf("%q is not an integer", name)
			}
		}
	}
	return ri, ""
}

func decodeItem[T any](resp *rawResponse) (*Item[T], error) {
	m, why := object(resp.body)
	if why != "" {
		return nil, resp.unexpected(why)
	}
	ri, why := parseItem(m)
	if why != "" {
		return nil, resp.unexpected(why)
	}
	it := &Item[T]{Key: ri.Key, CreatedIndex: ri.CreatedIndex, ModifiedIndex: ri.ModifiedIndex, Created: resp.status == http.StatusCreated}
	if err := json.Unmarshal(ri.Value, &it.Value); err != nil {
		return nil, resp.unexpected(fmt.Sprintf("value of %s does not decode: %v", ri.Key, err))
	}
	return it, nil
}

// checkDeleted checks a delete answer: {"deleted": "1", "key": ...}.
func checkDeleted(resp *rawResponse) error {
	m, why := object(resp.body)
	if why != "" {
		return resp.unexpected(why)
	}
	if _, ok := m["action"]; ok {
		return resp.unexpected(`has "action"`)
	}
	if _, ok := m["deleted"]; !ok {
		return resp.unexpected(`no "deleted" field`)
	}
	return nil
}

func listPath[T any](ctx context.Context, c *Client, path string, opts *ListOptions) (*Page[T], error) {
	q, err := opts.query()
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return nil, err
	}
	return decodeList[T](resp)
}

// decodeList checks the v3 list envelope {"total": n, "list": [...]}. An
// empty "list": {} (lua-cjson's empty table) is accepted with total 0.
func decodeList[T any](resp *rawResponse) (*Page[T], error) {
	m, why := object(resp.body)
	if why != "" {
		return nil, resp.unexpected(why)
	}
	if _, ok := m["node"]; ok {
		return nil, resp.unexpected(`has "node"`)
	}
	var total int
	if err := json.Unmarshal(m["total"], &total); err != nil || total < 0 {
		return nil, resp.unexpected(`no "total" count`)
	}
	l := bytes.TrimSpace(m["list"])
	var items []map[string]json.RawMessage
	switch {
	case bytes.Equal(l, []byte("{}")) && total == 0:
	case len(l) > 0 && l[0] == '[':
		if err := json.Unmarshal(l, &items); err != nil {
			return nil, resp.unexpected(`"list" is not an array of objects`)
		}
	default:
		return nil, resp.unexpected(`no "list" array`)
	}
	if len(items) > total {
		return nil, resp.unexpected(fmt.Sprintf("%d items but total %d", len(items), total))
	}
	page := &Page[T]{Total: total, Items: make([]Item[T], 0, len(items))}
	for i, im := range items {
		ri, why := parseItem(im)
		if why != "" {
			return nil, resp.unexpected(fmt.Sprintf("list item %d: %s", i+1, why))
		}
		it := Item[T]{Key: ri.Key, CreatedIndex: ri.CreatedIndex, ModifiedIndex: ri.ModifiedIndex}
		if err := json.Unmarshal(ri.Value, &it.Value); err != nil {
			return nil, resp.unexpected(fmt.Sprintf("value of %s does not decode: %v", ri.Key, err))
		}
		page.Items = append(page.Items, it)
	}
	return page, nil
}

func allPath[T any](ctx context.Context, c *Client, path string, opts *ListOptions) iter.Seq2[Item[T], error] {
	return func(yield func(Item[T], error) bool) {
		o := ListOptions{}
		if opts != nil {
			o = *opts
		}
		if o.PageSize == 0 {
			o.PageSize = 500
		}
		o.Page = max(o.Page, 1)
		seen := 0
		for {
			p, err := listPath[T](ctx, c, path, &o)
			if err != nil {
				yield(Item[T]{}, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			seen += len(p.Items)
			if len(p.Items) < o.PageSize || seen >= p.Total {
				return
			}
			o.Page++
		}
	}
}

// CredentialsService manages consumer credentials
// (/consumers/{username}/credentials/{id}, APISIX 3.11+). Only PUT, GET and
// DELETE exist for them.
type CredentialsService struct{ c *Client }

func (s *CredentialsService) path(username string, id ID) (string, error) {
	if err := checkUsername(username); err != nil {
		return "", err
	}
	p := "/consumers/" + url.PathEscape(username) + "/credentials"
	if id != "" {
		if err := id.Validate(); err != nil {
			return "", err
		}
		p += "/" + url.PathEscape(string(id))
	}
	return p, nil
}

// Get returns one credential of a consumer.
func (s *CredentialsService) Get(ctx context.Context, username string, id ID) (*Item[Credential], error) {
	if id == "" {
		return nil, ID("").Validate()
	}
	p, err := s.path(username, id)
	if err != nil {
		return nil, err
	}
	resp, err := s.c.do(ctx, http.MethodGet, p, nil, nil)
	if err != nil {
		return nil, err
	}
	return decodeItem[Credential](resp)
}

// List returns the credentials of a consumer. APISIX answers 404 when the
// consumer has none (apache/apisix#12193); List returns an empty page then.
func (s *CredentialsService) List(ctx context.Context, username string) (*Page[Credential], error) {
	p, err := s.path(username, "")
	if err != nil {
		return nil, err
	}
	page, err := listPath[Credential](ctx, s.c, p, nil)
	if IsNotFound(err) {
		return &Page[Credential]{Items: []Item[Credential]{}}, nil
	}
	return page, err
}

// Put creates or replaces a credential. The consumer must exist.
func (s *CredentialsService) Put(ctx context.Context, username string, id ID, v *Credential, opts ...Option) (*Item[Credential], error) {
	if id == "" {
		return nil, ID("").Validate()
	}
	p, err := s.path(username, id)
	if err != nil {
		return nil, err
	}
	r := &Resource[Credential]{c: s.c, kind: "credential"}
	body, err := r.encodeWrite(v, id)
	if err != nil {
		return nil, err
	}
	return writeItem[Credential](ctx, s.c, http.MethodPut, p, body, opts)
}

// Delete removes a credential.
func (s *CredentialsService) Delete(ctx context.Context, username string, id ID) error {
	if id == "" {
		return ID("").Validate()
	}
	p, err := s.path(username, id)
	if err != nil {
		return err
	}
	resp, err := s.c.do(ctx, http.MethodDelete, p, nil, nil)
	if err != nil {
		return err
	}
	return checkDeleted(resp)
}

// PluginsService reads the plugins a server offers.
type PluginsService struct{ c *Client }

func checkSubsystem(s string) error {
	if s != "" && s != "http" && s != "stream" {
		return &ValidationError{Kind: "plugins", Field: "subsystem", Msg: fmt.Sprintf("unknown subsystem %q", s), Fix: "use \"http\", \"stream\" or \"\" (http)"}
	}
	return nil
}

// List returns the names of the enabled plugins of subsystem ("http",
// "stream", or "" for http), highest priority first.
func (s *PluginsService) List(ctx context.Context, subsystem string) ([]string, error) {
	if err := checkSubsystem(subsystem); err != nil {
		return nil, err
	}
	q := url.Values{}
	if subsystem != "" {
		q.Set("subsystem", subsystem)
	}
	resp, err := s.c.do(ctx, http.MethodGet, "/plugins/list", q, nil)
	if err != nil {
		return nil, err
	}
	var names []string
	if t := bytes.TrimSpace(resp.body); len(t) == 0 || t[0] != '[' || json.Unmarshal(t, &names) != nil {
		return nil, resp.unexpected("not a JSON array of plugin names")
	}
	return names, nil
}

// Schema returns the JSON schema of a plugin's configuration in subsystem
// ("http", "stream", or "" for http): GET /plugins/{name}.
func (s *PluginsService) Schema(ctx context.Context, name, subsystem string) (json.RawMessage, error) {
	return s.schema(ctx, name, subsystem, "")
}

// ConsumerSchema returns the schema of what an auth plugin keeps on a
// consumer or credential (GET /plugins/{name}?schema_type=consumer); APISIX
// answers 400 "not found schema" for a plugin without one.
func (s *PluginsService) ConsumerSchema(ctx context.Context, name string) (json.RawMessage, error) {
	return s.schema(ctx, name, "", "consumer")
}

func (s *PluginsService) schema(ctx context.Context, name, subsystem, schemaType string) (json.RawMessage, error) {
	if err := checkSubsystem(subsystem); err != nil {
		return nil, err
	}
	if err := checkSchemaName("plugins", "name", name); err != nil {
		return nil, err
	}
	q := url.Values{}
	if subsystem != "" {
		q.Set("subsystem", subsystem)
	}
	if schemaType != "" {
		q.Set("schema_type", schemaType)
	}
	resp, err := s.c.do(ctx, http.MethodGet, "/plugins/"+name, q, nil)
	if err != nil {
		return nil, err
	}
	return schemaBody(resp)
}

// Reload makes every APISIX worker reload its plugins from config.yaml
// (PUT /plugins/reload). APISIX answers once the reload is broadcast, not
// when the workers are done.
func (s *PluginsService) Reload(ctx context.Context) error {
	resp, err := s.c.do(ctx, http.MethodPut, "/plugins/reload", nil, nil)
	if err != nil {
		return err
	}
	if t := bytes.TrimSpace(resp.body); !bytes.Equal(t, []byte("done")) && !bytes.Equal(t, []byte(`"done"`)) {
		return resp.unexpected(`want "done"`)
	}
	return nil
}

var schemaNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// checkSchemaName refuses names that would change the request path.
func checkSchemaName(kind, field, name string) error {
	if !schemaNamePattern.MatchString(name) {
		return &ValidationError{Kind: kind, Field: field, Msg: fmt.Sprintf("%q is not a plugin or resource name", name), Fix: "use a lower-case name such as \"proxy-mirror\" or \"route\""}
	}
	return nil
}

func schemaBody(resp *rawResponse) (json.RawMessage, error) {
	if _, why := object(resp.body); why != "" {
		return nil, resp.unexpected(why + " (want a JSON schema object)")
	}
	return json.RawMessage(bytes.TrimSpace(resp.body)), nil
}

// SchemasService reads the schemas APISIX checks values against and
// validates values without storing them (/apisix/admin/schema/...).
type SchemasService struct{ c *Client }

// Get returns the JSON schema of a resource, by its singular name in
// APISIX's apisix/schema_def.lua: "route", "service", "upstream", "ssl",
// "stream_route", "consumer", "consumer_group", "plugin_config",
// "global_rule", "proto", "credential" (GET /schema/{name}).
func (s *SchemasService) Get(ctx context.Context, name string) (json.RawMessage, error) {
	if err := checkSchemaName("schema", "name", name); err != nil {
		return nil, err
	}
	resp, err := s.c.do(ctx, http.MethodGet, "/schema/"+name, nil, nil)
	if err != nil {
		return nil, err
	}
	return schemaBody(resp)
}

// Plugin returns the schema of an HTTP plugin (GET /schema/plugins/{name},
// the same answer as Plugins.Schema).
func (s *SchemasService) Plugin(ctx context.Context, name string) (json.RawMessage, error) {
	if err := checkSchemaName("schema", "name", name); err != nil {
		return nil, err
	}
	resp, err := s.c.do(ctx, http.MethodGet, "/schema/plugins/"+name, nil, nil)
	if err != nil {
		return nil, err
	}
	return schemaBody(resp)
}

// Validate checks v against the schema of resource (the plural path name:
// "routes", "upstreams", ...) on the server without storing it (POST
// /schema/validate/{resource}). Only the JSON schema is applied, not the
// checks APISIX runs on a write (references, certificates, plugin
// schemas). It returns nil when v conforms and an *APIError with APISIX's
// message when it does not.
func (s *SchemasService) Validate(ctx context.Context, resource string, v any) error {
	if err := checkSchemaName("schema", "resource", resource); err != nil {
		return err
	}
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: encode value to validate: %v", ErrInvalid, err)
	}
	resp, err := s.c.do(ctx, http.MethodPost, "/schema/validate/"+resource, nil, body)
	if err != nil {
		return err
	}
	if t := bytes.TrimSpace(resp.body); len(t) > 0 {
		if _, why := object(t); why != "" {
			return resp.unexpected(why)
		}
	}
	return nil
}

// ConfigProblem is one resource that POST /configs/validate refused.
type ConfigProblem struct {
	ResourceType string `json:"resource_type"` // e.g. "routes"
	ResourceID   string `json:"resource_id,omitempty"`
	Index        int    `json:"index"` // 0-based position in its list
	Error        string `json:"error"`
}

// String renders the problem as "routes[0] (id r1): message".
func (p ConfigProblem) String() string {
	s := fmt.Sprintf("%s[%d]", p.ResourceType, p.Index)
	if p.ResourceID != "" {
		s += " (id " + p.ResourceID + ")"
	}
	return s + ": " + p.Error
}

// ValidateConfig asks the server to check a whole declarative
// configuration without storing it (POST /configs/validate, APISIX 3.17+):
// every resource's schema and its plugins' check_schema rules, and
// duplicate ids, but not references between resources. It returns the
// problems found (none: nil, nil); err is set only when the check itself
// failed (transport, auth, an older server's 404).
func (c *Client) ValidateConfig(ctx context.Context, st *State) ([]ConfigProblem, error) {
	if st == nil {
		st = &State{}
	}
	body, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("%w: encode state: %v", ErrInvalid, err)
	}
	resp, err := c.do(ctx, http.MethodPost, "/configs/validate", nil, body)
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusBadRequest {
		var out struct {
			Errors []ConfigProblem `json:"errors"`
		}
		if json.Unmarshal(ae.Body, &out) == nil && len(out.Errors) > 0 {
			return out.Errors, nil
		}
		return []ConfigProblem{{Error: ae.Message}}, nil
	}
	if err != nil {
		return nil, err
	}
	if _, why := object(resp.body); why != "" {
		return nil, resp.unexpected(why)
	}
	return nil, nil
}
