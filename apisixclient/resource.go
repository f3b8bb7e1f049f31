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

// ListOptions filters and pages a List (spec §2.1). The zero value lists
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

// CallOption modifies one write or delete call.
type CallOption func(*callOpts)

type callOpts struct {
	ttl   time.Duration
	force bool
}

// WithTTL makes the written key expire after d (rounded up to whole
// seconds; APISIX's ?ttl=). It applies to Put, Create and Patch.
func WithTTL(d time.Duration) CallOption { return func(o *callOpts) { o.ttl = d } }

// WithForce makes Delete skip APISIX's reference check (?force=true), so a
// resource still used by others is deleted anyway.
func WithForce() CallOption { return func(o *callOpts) { o.force = true } }

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

func collect(opts []CallOption) callOpts {
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
	// request (spec §5) and returns a *ValidationError saying how to fix it.
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
func (r *Resource[T]) Put(ctx context.Context, id ID, v *T, opts ...CallOption) (*Item[T], error) {
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
func (r *Resource[T]) Create(ctx context.Context, v *T, opts ...CallOption) (*Item[T], error) {
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
func (r *Resource[T]) Patch(ctx context.Context, id ID, patch any, opts ...CallOption) (*Item[T], error) {
	return r.PatchPath(ctx, id, "", patch, opts...)
}

// PatchPath replaces one field of the stored resource (PATCH
// /{id}/{path}), e.g. PatchPath(ctx, "1", "methods", []string{"GET"}) or
// PatchPath(ctx, "1", "upstream/nodes", nodes). Missing parent objects are
// created. An empty path behaves as Patch.
func (r *Resource[T]) PatchPath(ctx context.Context, id ID, path string, value any, opts ...CallOption) (*Item[T], error) {
	if !r.patch {
		return nil, fmt.Errorf("%w: PATCH on %s (APISIX answers 405); use Put with the whole resource", ErrNotSupported, r.path)
	}
	p, err := r.itemPath(id)
	if err != nil {
		return nil, err
	}
	path = strings.Trim(path, "/")
	if path != "" {
		for _, seg := range strings.Split(path, "/") {
			if seg == "" {
				return nil, &ValidationError{Kind: r.kind, Field: "path", Msg: fmt.Sprintf("empty segment in sub-path %q", path), Fix: "use a path like \"upstream/nodes\""}
			}
		}
		p += "/" + path
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
func (r *Resource[T]) Delete(ctx context.Context, id ID, opts ...CallOption) error {
	p, err := r.itemPath(id)
	if err != nil {
		return err
	}
	_, err = r.c.send(ctx, http.MethodDelete, p, nil, opts)
	return err
}

// send makes one call with the query that opts ask for (ttl, force).
func (c *Client) send(ctx context.Context, method, path string, body []byte, opts []CallOption) (*rawResponse, error) {
	o := collect(opts)
	q, err := o.query(nil)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, method, path, q, body)
}

// writeItem sends a write (PUT, POST, PATCH) and decodes the stored item.
func writeItem[T any](ctx context.Context, c *Client, method, path string, body []byte, opts []CallOption) (*Item[T], error) {
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
	Key           string          `json:"key"`
	Value         json.RawMessage `json:"value"`
	CreatedIndex  int64           `json:"createdIndex"`
	ModifiedIndex int64           `json:"modifiedIndex"`
}

func decodeItem[T any](resp *rawResponse) (*Item[T], error) {
	var ri rawItem
	if err := json.Unmarshal(resp.body, &ri); err != nil {
		return nil, fmt.Errorf("%w: %d with body %q: %v", ErrBadResponse, resp.status, truncate(string(resp.body), 200), err)
	}
	if len(ri.Value) == 0 {
		return nil, fmt.Errorf("%w: %d with no value in %q", ErrBadResponse, resp.status, truncate(string(resp.body), 200))
	}
	it := &Item[T]{Key: ri.Key, CreatedIndex: ri.CreatedIndex, ModifiedIndex: ri.ModifiedIndex, Created: resp.status == http.StatusCreated}
	if err := json.Unmarshal(ri.Value, &it.Value); err != nil {
		return nil, fmt.Errorf("%w: decode %s: %v", ErrBadResponse, ri.Key, err)
	}
	return it, nil
}

// rawList accepts "list": [] and the "list": {} of old lua-cjson builds.
type rawList struct {
	Total json.Number     `json:"total"`
	List  json.RawMessage `json:"list"`
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
	var rl rawList
	if err := json.Unmarshal(resp.body, &rl); err != nil {
		return nil, fmt.Errorf("%w: list %s: %q: %v", ErrBadResponse, path, truncate(string(resp.body), 200), err)
	}
	var items []rawItem
	if l := bytes.TrimSpace(rl.List); len(l) > 0 && l[0] == '[' {
		if err := json.Unmarshal(l, &items); err != nil {
			return nil, fmt.Errorf("%w: list %s: %v", ErrBadResponse, path, err)
		}
	}
	total, _ := strconv.Atoi(rl.Total.String())
	page := &Page[T]{Total: total, Items: make([]Item[T], 0, len(items))}
	for _, ri := range items {
		it := Item[T]{Key: ri.Key, CreatedIndex: ri.CreatedIndex, ModifiedIndex: ri.ModifiedIndex}
		if err := json.Unmarshal(ri.Value, &it.Value); err != nil {
			return nil, fmt.Errorf("%w: decode %s: %v", ErrBadResponse, ri.Key, err)
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
func (s *CredentialsService) Put(ctx context.Context, username string, id ID, v *Credential, opts ...CallOption) (*Item[Credential], error) {
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
	_, err = s.c.do(ctx, http.MethodDelete, p, nil, nil)
	return err
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
	if err := json.Unmarshal(resp.body, &names); err != nil {
		return nil, fmt.Errorf("%w: plugin list %q: %v", ErrBadResponse, truncate(string(resp.body), 200), err)
	}
	return names, nil
}

// Schema returns the JSON schema of a plugin in subsystem ("" for http).
func (s *PluginsService) Schema(ctx context.Context, name, subsystem string) (json.RawMessage, error) {
	if err := checkSubsystem(subsystem); err != nil {
		return nil, err
	}
	if name == "" || strings.ContainsAny(name, "/?#") {
		return nil, &ValidationError{Kind: "plugins", Field: "name", Msg: fmt.Sprintf("bad plugin name %q", name), Fix: "pass a plugin name such as \"proxy-mirror\""}
	}
	q := url.Values{}
	if subsystem != "" {
		q.Set("subsystem", subsystem)
	}
	resp, err := s.c.do(ctx, http.MethodGet, "/plugins/"+name, q, nil)
	if err != nil {
		return nil, err
	}
	if !json.Valid(resp.body) {
		return nil, fmt.Errorf("%w: plugin schema %q is not JSON", ErrBadResponse, truncate(string(resp.body), 200))
	}
	return json.RawMessage(resp.body), nil
}
