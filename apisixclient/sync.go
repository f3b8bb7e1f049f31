package apisixclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// State is a desired configuration for Sync: resources by kind, each with
// its id set (a consumer's id is its username). Global rules, plugin
// metadata, secrets and credentials carry no labels in APISIX and are not
// synced.
type State struct {
	Upstreams      []Upstream      `json:"upstreams,omitempty"`
	SSLs           []SSL           `json:"ssls,omitempty"`
	Protos         []Proto         `json:"protos,omitempty"`
	ConsumerGroups []ConsumerGroup `json:"consumer_groups,omitempty"`
	PluginConfigs  []PluginConfig  `json:"plugin_configs,omitempty"`
	Services       []Service       `json:"services,omitempty"`
	Routes         []Route         `json:"routes,omitempty"`
	StreamRoutes   []StreamRoute   `json:"stream_routes,omitempty"`
	Consumers      []Consumer      `json:"consumers,omitempty"`
}

// LoadState decodes a desired State from YAML or JSON (JSON is YAML). Keys
// are the Admin API's field names, grouped under the plural resource names
// ("routes:", "upstreams:", ...). Unknown keys are errors, as APISIX rejects
// unknown fields.
//
// Ids keep their text: "id: 007" is the id "007" and "upstream_id: 0x1F" is
// "0x1F", not the numbers YAML reads there. A stream route's server_port: 0
// is an error (leave the field out to match any port), since APISIX's
// schema has minimum 1 and a dropped 0 would silently widen the route.
func LoadState(src []byte) (*State, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("%w: state: %v", ErrInvalid, err)
	}
	if len(root.Content) == 0 {
		return &State{}, nil
	}
	var buf bytes.Buffer
	if err := yamlToJSON(&buf, root.Content[0], "", 0); err != nil {
		return nil, fmt.Errorf("%w: state: %v", ErrInvalid, err)
	}
	b := buf.Bytes()
	if bytes.Equal(b, []byte("null")) {
		return &State{}, nil
	}
	if err := checkServerPorts(b); err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var s State
	if err := d.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: state: %v (fields use the Admin API's names, e.g. upstream_id, under routes:, upstreams:, ...)", ErrInvalid, err)
	}
	return &s, nil
}

// idFields are the fields whose YAML scalars are ids: kept as text.
var idFields = map[string]bool{"id": true, "upstream_id": true, "service_id": true, "plugin_config_id": true, "group_id": true,
	"script_id": true, "client_cert_id": true, "superior_id": true, "proto_id": true}

// yamlToJSON writes n as JSON. Scalars under an id field are written as
// strings with their source text; other scalars by their resolved tag.
func yamlToJSON(w *bytes.Buffer, n *yaml.Node, key string, depth int) error {
	if depth > 100 {
		return errors.New("nested too deeply")
	}
	switch n.Kind {
	case yaml.AliasNode:
		return yamlToJSON(w, n.Alias, key, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			w.WriteString("null")
			return nil
		}
		return yamlToJSON(w, n.Content[0], key, depth+1)
	case yaml.MappingNode:
		w.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return fmt.Errorf("line %d: use plain string keys", k.Line)
			}
			if i > 0 {
				w.WriteByte(',')
			}
			kb, _ := json.Marshal(k.Value)
			w.Write(kb)
			w.WriteByte(':')
			if err := yamlToJSON(w, n.Content[i+1], k.Value, depth+1); err != nil {
				return err
			}
		}
		w.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		w.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := yamlToJSON(w, c, key, depth+1); err != nil {
				return err
			}
		}
		w.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		if idFields[key] && n.Tag != "!!null" {
			b, _ := json.Marshal(n.Value)
			w.Write(b)
			return nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %v", n.Line, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %v", n.Line, err)
		}
		w.Write(b)
		return nil
	}
	return fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// checkServerPorts refuses stream_routes[].server_port: 0.
func checkServerPorts(b []byte) error {
	var doc struct {
		StreamRoutes []map[string]json.RawMessage `json:"stream_routes"`
	}
	if json.Unmarshal(b, &doc) != nil {
		return nil // the typed decode reports the real error
	}
	for i, sr := range doc.StreamRoutes {
		if p, ok := sr["server_port"]; ok && string(bytes.TrimSpace(p)) == "0" {
			id := strings.Trim(string(sr["id"]), `"`)
			return &ValidationError{Kind: "stream route", Field: fmt.Sprintf("stream_routes[%d] (id %s).server_port", i, id), Msg: "0 is not a port: APISIX refuses it, and a dropped 0 would match every port",
				Fix: "set the listener port (1-65535), or leave server_port out to match any port"}
		}
	}
	return nil
}

// SyncOptions configures Diff and Sync.
type SyncOptions struct {
	// Label is the ownership label key (default "managed-by") and Owner its
	// value (default "plumb"). Sync adds it to every desired resource and
	// deletes only live resources that carry it; others are never touched.
	// Sync also writes the label Label+"-hash" (default "managed-by-hash"),
	// a fingerprint of what it wrote, so that defaults a 3.2-3.13 server
	// writes back are not mistaken for changes; do not set it yourself.
	Label, Owner string
	// DryRun computes the plan without writing.
	DryRun bool
}

func (o *SyncOptions) defaults() (string, string) {
	l, v := o.Label, o.Owner
	if l == "" {
		l = "managed-by"
	}
	if v == "" {
		v = "plumb"
	}
	return l, v
}

// Action is what Sync does to one resource.
type Action string

// Actions.
const (
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
)

// Change is one planned write.
type Change struct {
	Action Action `json:"action"`
	Kind   string `json:"kind"` // plural resource name, e.g. "routes"
	ID     ID     `json:"id"`
	// Fields lists the top-level fields that differ, for updates.
	Fields []string `json:"fields,omitempty"`
}

// String renders the change as a plan line: "+ kind/id", "- kind/id" or
// "~ kind/id: changed, fields".
func (ch Change) String() string {
	switch ch.Action {
	case Create:
		return fmt.Sprintf("+ %s/%s", ch.Kind, ch.ID)
	case Delete:
		return fmt.Sprintf("- %s/%s", ch.Kind, ch.ID)
	}
	return fmt.Sprintf("~ %s/%s: %s", ch.Kind, ch.ID, strings.Join(ch.Fields, ", "))
}

// Plan is the outcome of a diff: the changes in the order Sync applies
// them (creates and updates with dependencies first, then deletes with
// dependents first).
type Plan struct {
	Changes []Change `json:"changes"`
	// Unchanged counts desired resources that already match.
	Unchanged int `json:"unchanged"`
	// Applied counts changes Sync made (0 for DryRun and Diff).
	Applied int `json:"applied"`
}

// String renders the plan for a person: one line per change and a summary.
func (p *Plan) String() string {
	var b strings.Builder
	n := map[Action]int{}
	for _, ch := range p.Changes {
		b.WriteString(ch.String())
		b.WriteByte('\n')
		n[ch.Action]++
	}
	fmt.Fprintf(&b, "%d to create, %d to update, %d to delete, %d unchanged\n", n[Create], n[Update], n[Delete], p.Unchanged)
	return b.String()
}

// ErrNotOwned is returned when a desired resource's id is taken on the
// server by a resource without the ownership label: Sync will not take it
// over. Delete it, label it, or pick another id.
var ErrNotOwned = errors.New("apisixclient: resource exists but is not owned by this sync")

// kindSync is the per-kind machinery of Sync, built by syncKindOf.
type kindSync struct {
	name    string
	desired []desiredItem
	list    func(ctx context.Context) (map[ID]map[string]any, error)
	put     func(ctx context.Context, i int) error
	del     func(ctx context.Context, id ID) error
	// writeOnly fields are not returned by GET (SSL keys) and not diffed.
	writeOnly []string
}

type desiredItem struct {
	id   ID
	norm map[string]any // without the fingerprint label
	hash string         // fingerprint of norm, stored in the label Label+"-hash"
}

// fingerprint is a short hash of a normalised resource: encoding/json
// sorts map keys, so equal values give equal text.
func fingerprint(norm map[string]any) (string, error) {
	b, err := json.Marshal(norm)
	if err != nil {
		return "", fmt.Errorf("apisixclient: fingerprint: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// hashLabel is the label that holds the fingerprint of what Sync wrote.
func hashLabel(label string) string { return label + "-hash" }

type labeled interface {
	resourceValue
	labelMap() *map[string]string
}

func (r *Route) labelMap() *map[string]string         { return &r.Labels }
func (s *Service) labelMap() *map[string]string       { return &s.Labels }
func (u *Upstream) labelMap() *map[string]string      { return &u.Labels }
func (s *SSL) labelMap() *map[string]string           { return &s.Labels }
func (s *StreamRoute) labelMap() *map[string]string   { return &s.Labels }
func (c *Consumer) labelMap() *map[string]string      { return &c.Labels }
func (g *ConsumerGroup) labelMap() *map[string]string { return &g.Labels }
func (p *PluginConfig) labelMap() *map[string]string  { return &p.Labels }
func (p *Proto) labelMap() *map[string]string         { return &p.Labels }

func syncKindOf[T any, P interface {
	*T
	labeled
}](r *Resource[T], items []T, label, owner string, writeOnly ...string) (*kindSync, error) {
	hashKey := hashLabel(label)
	ks := &kindSync{name: r.path, writeOnly: writeOnly}
	vals := make([]T, len(items))
	seen := map[ID]bool{}
	for i := range items {
		vals[i] = items[i]
		p := P(&vals[i])
		id := p.resourceID()
		if err := r.idCheck(id); err != nil {
			return nil, fmt.Errorf("state %s[%d]: %w", r.path, i, err)
		}
		if seen[id] {
			return nil, &ValidationError{Kind: r.kind, Field: "id", Msg: fmt.Sprintf("%q appears twice in the state", id), Fix: "give each resource its own id"}
		}
		seen[id] = true
		lm := p.labelMap()
		nl := make(map[string]string, len(*lm)+1)
		for k, v := range *lm {
			nl[k] = v
		}
		nl[label] = owner
		delete(nl, hashKey)
		*lm = nl
		if ts, ok := any(p).(interface{ clearTimestamps() }); ok {
			ts.clearTimestamps()
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("state %s/%s: %w", r.path, id, err)
		}
		norm, err := normalize(p)
		if err != nil {
			return nil, err
		}
		h, err := fingerprint(norm)
		if err != nil {
			return nil, err
		}
		nl[hashKey] = h // vals[i] now carries it: Put writes it
		ks.desired = append(ks.desired, desiredItem{id: id, norm: norm, hash: h})
	}
	ks.list = func(ctx context.Context) (map[ID]map[string]any, error) {
		out := map[ID]map[string]any{}
		for it, err := range r.All(ctx, nil) {
			if err != nil {
				return nil, err
			}
			v := it.Value
			id := P(&v).resourceID()
			norm, err := normalize(P(&v))
			if err != nil {
				return nil, err
			}
			out[id] = norm
		}
		return out, nil
	}
	ks.put = func(ctx context.Context, i int) error {
		// Validated above; encode once and check only the envelope of the
		// answer (Sync does not need the stored value decoded).
		b, err := json.Marshal(&vals[i])
		if err != nil {
			return fmt.Errorf("apisixclient: encode %s: %w", r.kind, err)
		}
		p, err := r.itemPath(ks.desired[i].id)
		if err != nil {
			return err
		}
		resp, err := r.c.do(ctx, http.MethodPut, p, nil, b)
		if err != nil {
			return err
		}
		m, why := object(resp.body)
		if why == "" {
			_, why = parseItem(m)
		}
		if why != "" {
			return resp.unexpected(why)
		}
		return nil
	}
	ks.del = func(ctx context.Context, id ID) error { return r.Delete(ctx, id) }
	return ks, nil
}

// normalize turns a resource into a comparable map: JSON field names,
// without id and timestamps.
func normalize(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("apisixclient: encode for diff: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("apisixclient: decode for diff: %w", err)
	}
	for _, k := range []string{"id", "create_time", "update_time"} {
		delete(m, k)
	}
	if up, ok := m["upstream"].(map[string]any); ok {
		delete(up, "create_time")
		delete(up, "update_time")
	}
	return m, nil
}

// defTree holds the defaults a pre-3.14 server writes into an object: a
// scalar value is a field's default, a nested defTree the defaults inside
// an object field.
type defTree map[string]any

var upstreamDefaults = defTree{"type": "roundrobin", "hash_on": "vars", "scheme": "http", "pass_host": "pass",
	"tls": defTree{"verify": false}, "keepalive_pool": defTree{"size": 320.0, "idle_timeout": 60.0, "requests": 1000.0}}

// kindDefaults are the resource schema defaults of apisix/schema_def.lua
// that APISIX 3.2-3.13 stored (apache/apisix#12603 stopped it in 3.14).
var kindDefaults = map[string]defTree{
	"routes":        {"priority": 0.0, "status": 1.0, "upstream": upstreamDefaults},
	"services":      {"upstream": upstreamDefaults},
	"upstreams":     upstreamDefaults,
	"ssls":          {"type": "server", "status": 1.0, "client": defTree{"depth": 1.0}},
	"stream_routes": {"upstream": upstreamDefaults},
}

// changedFields decides whether the live value got needs an update to
// become d, and names the top-level fields that differ.
//
// Servers before 3.14 write schema defaults back into what they store, for
// the resource and for every plugin. The resource defaults and those of
// the plugins this package types are known (kindDefaults, pluginDefaults):
// a live field missing from d that holds its default is no change. No
// client knows the defaults of every plugin, so Sync also stores a
// fingerprint of what it wrote in the label Label+"-hash". While the live
// fingerprint equals the desired one, the desired state has not changed
// since Sync wrote it, and a plugin field with no known default that only
// the server has is taken for a default. Everything else that differs is
// a change: a field set by hand (top-level, or a plugin field with a known
// default), a plugin added by hand, a desired field changed or removed.
func changedFields(kind string, d desiredItem, got map[string]any, hashKey string, writeOnly []string) []string {
	liveHash := ""
	if l, ok := got["labels"].(map[string]any); ok {
		liveHash, _ = l[hashKey].(string)
		cp := make(map[string]any, len(got))
		for k, v := range got {
			cp[k] = v
		}
		ls := make(map[string]any, len(l))
		for k, v := range l {
			if k != hashKey {
				ls[k] = v
			}
		}
		cp["labels"] = ls
		got = cp
	}
	lenient := liveHash == d.hash
	defs := kindDefaults[kind]
	var out []string
	for k := range union(d.norm, got) {
		if contains(writeOnly, k) {
			continue
		}
		w, wok := d.norm[k]
		g, gok := got[k]
		var same bool
		if k == "plugins" {
			same = samePlugins(w, wok, g, gok, lenient)
		} else {
			same = sameWithDefaults(w, wok, g, gok, defs[k], false)
		}
		if !same {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// sameWithDefaults compares a desired value (w, present when wok) with a
// live one. A live-only value equal to its default is the same; with
// lenient, so is a live-only value that has no known default.
func sameWithDefaults(w any, wok bool, g any, gok bool, def any, lenient bool) bool {
	switch {
	case !wok && !gok:
		return true
	case wok && !gok:
		return false
	case !wok:
		if dt, ok := def.(defTree); ok {
			gm, ok := g.(map[string]any)
			if !ok {
				return false
			}
			for k, gv := range gm {
				if !sameWithDefaults(nil, false, gv, true, dt[k], lenient) {
					return false
				}
			}
			return true
		}
		if def == nil {
			return lenient
		}
		return reflect.DeepEqual(def, g)
	}
	wm, wIsMap := w.(map[string]any)
	gm, gIsMap := g.(map[string]any)
	if wIsMap && gIsMap {
		dt, _ := def.(defTree)
		for k := range union(wm, gm) {
			wv, wok := wm[k]
			gv, gok := gm[k]
			if !sameWithDefaults(wv, wok, gv, gok, dt[k], lenient) {
				return false
			}
		}
		return true
	}
	wa, wIsArr := w.([]any)
	ga, gIsArr := g.([]any)
	if wIsArr && gIsArr {
		if len(wa) != len(ga) {
			return false
		}
		for i := range wa {
			if !sameWithDefaults(wa[i], true, ga[i], true, nil, lenient) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(w, g)
}

// samePlugins compares plugin maps: the same plugin names, each config the
// same up to its defaults.
func samePlugins(w any, wok bool, g any, gok bool, lenient bool) bool {
	wm, _ := w.(map[string]any)
	gm, _ := g.(map[string]any)
	if wok != gok && len(wm)+len(gm) > 0 {
		return false
	}
	if len(wm) != len(gm) {
		return false
	}
	for name, wc := range wm {
		gc, ok := gm[name]
		if !ok {
			return false
		}
		var dt defTree
		if d, ok := pluginDefaults[name]; ok {
			dt = defTree(d)
		}
		if !sameWithDefaults(wc, true, gc, true, dt, lenient) {
			return false
		}
	}
	return true
}

// pluginDefaults are the schema defaults APISIX before 3.14 wrote into
// stored plugin configurations, for the plugins this package types (read
// from apisix/plugins/<name>.lua).
var pluginDefaults = map[string]map[string]any{
	"proxy-mirror": {"path_concat_mode": "replace", "sample_ratio": 1.0},
	"limit-count": {"key": "remote_addr", "key_type": "var", "rejected_code": 503.0, "policy": "local", "show_limit_quota_header": true,
		"allow_degradation": false, "window_type": "fixed"},
	"limit-req":      {"key_type": "var", "rejected_code": 503.0, "nodelay": false, "allow_degradation": false, "policy": "local"},
	"key-auth":       {"header": "apikey", "query": "apikey", "hide_credentials": false},
	"basic-auth":     {"hide_credentials": false},
	"ip-restriction": {"message": "Your IP address is not allowed", "response_code": 403.0},
	"proxy-rewrite":  {"use_real_request_uri_unsafe": false},
}

func union(a, b map[string]any) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func (c *Client) syncKinds(desired *State, opts SyncOptions) ([]*kindSync, error) {
	if desired == nil {
		desired = &State{}
	}
	label, owner := opts.defaults()
	if !labelValue.MatchString(owner) {
		return nil, &ValidationError{Kind: "sync options", Field: "Owner", Msg: fmt.Sprintf("%q", owner), Fix: "use a label value without spaces"}
	}
	var ks []*kindSync
	add := func(k *kindSync, err error) error {
		if err != nil {
			return err
		}
		ks = append(ks, k)
		return nil
	}
	// Dependency order for creates: what others refer to comes first.
	for _, err := range []error{
		// SSLs first: an upstream's tls.client_cert_id refers to one.
		add(syncKindOf(c.SSLs, desired.SSLs, label, owner, "key", "keys")),
		add(syncKindOf(c.Upstreams, desired.Upstreams, label, owner)),
		add(syncKindOf(c.Protos, desired.Protos, label, owner)),
		add(syncKindOf(c.ConsumerGroups, desired.ConsumerGroups, label, owner)),
		add(syncKindOf(c.PluginConfigs, desired.PluginConfigs, label, owner)),
		add(syncKindOf(c.Services, desired.Services, label, owner)),
		add(syncKindOf(c.Routes, desired.Routes, label, owner)),
		add(syncKindOf(c.StreamRoutes, desired.StreamRoutes, label, owner)),
		add(syncKindOf(c.Consumers, desired.Consumers, label, owner)),
	} {
		if err != nil {
			return nil, err
		}
	}
	return ks, nil
}

type plannedChange struct {
	Change
	kind *kindSync
	idx  int // index into kind.desired for create/update
}

func (c *Client) plan(ctx context.Context, desired *State, opts SyncOptions) (*Plan, []plannedChange, error) {
	kinds, err := c.syncKinds(desired, opts)
	if err != nil {
		return nil, nil, err
	}
	label, owner := opts.defaults()
	p := &Plan{}
	var writes, deletes []plannedChange
	for _, k := range kinds {
		live, err := k.list(ctx)
		if err != nil {
			if k.name == "stream_routes" && len(k.desired) == 0 && streamDisabled(err) {
				// Stream mode is off: there is nothing to own there.
				continue
			}
			return nil, nil, fmt.Errorf("list %s: %w", k.name, err)
		}
		want := map[ID]bool{}
		for i, d := range k.desired {
			want[d.id] = true
			got, ok := live[d.id]
			if !ok {
				writes = append(writes, plannedChange{Change{Action: Create, Kind: k.name, ID: d.id}, k, i})
				continue
			}
			if !ownedBy(got, label, owner) {
				return nil, nil, fmt.Errorf("%w: %s/%s has no label %s=%s; delete or label it, or choose another id", ErrNotOwned, k.name, d.id, label, owner)
			}
			if f := changedFields(k.name, d, got, hashLabel(label), k.writeOnly); len(f) > 0 {
				writes = append(writes, plannedChange{Change{Action: Update, Kind: k.name, ID: d.id, Fields: f}, k, i})
			} else {
				p.Unchanged++
			}
		}
		ids := make([]string, 0, len(live))
		for id := range live {
			ids = append(ids, string(id))
		}
		sort.Strings(ids)
		var dels []plannedChange
		for _, id := range ids {
			if !want[ID(id)] && ownedBy(live[ID(id)], label, owner) {
				dels = append(dels, plannedChange{Change{Action: Delete, Kind: k.name, ID: ID(id)}, k, -1})
			}
		}
		// Deletes run dependents first: prepend each kind's deletes.
		deletes = append(dels, deletes...)
	}
	all := append(writes, deletes...)
	for _, ch := range all {
		p.Changes = append(p.Changes, ch.Change)
	}
	return p, all, nil
}

func ownedBy(v map[string]any, label, owner string) bool {
	l, _ := v["labels"].(map[string]any)
	return l[label] == owner
}

// Diff compares desired with the server and returns the plan Sync would
// apply. It only reads (GET).
func (c *Client) Diff(ctx context.Context, desired *State, opts SyncOptions) (*Plan, error) {
	p, _, err := c.plan(ctx, desired, opts)
	return p, err
}

// Sync makes the server match desired for the resources it owns: it
// validates desired, lists each kind, and then creates and updates (PUT)
// in dependency order (SSLs, upstreams, protos, consumer groups, plugin
// configs and services before routes, stream routes and consumers) and
// deletes owned resources missing from desired in the reverse order.
// Resources without the ownership label are never modified or deleted; a
// desired id held by one fails with ErrNotOwned before any write. A run
// with nothing to change sends only GETs. With opts.DryRun nothing is
// written. On error the returned Plan says how many changes were applied.
func (c *Client) Sync(ctx context.Context, desired *State, opts SyncOptions) (*Plan, error) {
	p, changes, err := c.plan(ctx, desired, opts)
	if err != nil || opts.DryRun {
		return p, err
	}
	for _, ch := range changes {
		var err error
		if ch.Action == Delete {
			err = c.deleteRetryInUse(ctx, ch.kind, ch.ID)
		} else {
			err = ch.kind.put(ctx, ch.idx)
		}
		if err != nil {
			return p, fmt.Errorf("sync %s: %w", ch.Change, err)
		}
		p.Applied++
	}
	return p, nil
}

// deleteRetryInUse retries a delete refused as "still using": APISIX's
// reference check reads a worker cache that may lag a delete made just
// before (apache/apisix#11612).
func (c *Client) deleteRetryInUse(ctx context.Context, k *kindSync, id ID) error {
	delay := c.backoff
	var err error
	for i := 0; i <= c.retries; i++ {
		if err = k.del(ctx, id); err == nil || !IsInUse(err) {
			return err
		}
		if i < c.retries {
			if serr := c.sleep(ctx, delay); serr != nil {
				return errors.Join(err, serr)
			}
			delay *= 2
		}
	}
	return err
}

// LintInput returns the desired stream routes, SSL objects and routes for
// Lint, so a State can be linted before it is synced.
func (s *State) LintInput() LintInput {
	if s == nil {
		return LintInput{}
	}
	return LintInput{StreamRoutes: s.StreamRoutes, SSLs: s.SSLs, Routes: s.Routes}
}

// Dump reads every resource of the kinds a State holds (upstreams, SSLs,
// protos, consumer groups, plugin configs, services, routes, stream routes,
// consumers) from the server, whoever owns them, in etcd key order. SSL
// objects come without key and keys, which GET strips: set them again
// before syncing a dumped State. On a server with stream mode off,
// StreamRoutes is empty. Any answer Dump does not understand is an error.
func (c *Client) Dump(ctx context.Context) (*State, error) {
	st := &State{}
	var err error
	if st.Upstreams, err = dumpAll(ctx, c.Upstreams); err != nil {
		return nil, err
	}
	if st.SSLs, err = dumpAll(ctx, c.SSLs); err != nil {
		return nil, err
	}
	if st.Protos, err = dumpAll(ctx, c.Protos); err != nil {
		return nil, err
	}
	if st.ConsumerGroups, err = dumpAll(ctx, c.ConsumerGroups); err != nil {
		return nil, err
	}
	if st.PluginConfigs, err = dumpAll(ctx, c.PluginConfigs); err != nil {
		return nil, err
	}
	if st.Services, err = dumpAll(ctx, c.Services); err != nil {
		return nil, err
	}
	if st.Routes, err = dumpAll(ctx, c.Routes); err != nil {
		return nil, err
	}
	if st.StreamRoutes, err = dumpAll(ctx, c.StreamRoutes); err != nil && !streamDisabled(err) {
		return nil, err
	}
	if st.Consumers, err = dumpAll(ctx, c.Consumers); err != nil {
		return nil, err
	}
	return st, nil
}

func dumpAll[T any](ctx context.Context, r *Resource[T]) ([]T, error) {
	var out []T
	for it, err := range r.All(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", r.path, err)
		}
		out = append(out, it.Value)
	}
	return out, nil
}

// streamDisabled reports APISIX's answer to /stream_routes when
// apisix.proxy_mode has no stream.
func streamDisabled(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && strings.Contains(ae.Message, "stream mode is disabled")
}

// YAML renders the state as YAML that LoadState reads back: the Admin API's
// field names in their declared order, ids as strings.
func (s *State) YAML() ([]byte, error) {
	if s == nil {
		s = &State{}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("apisixclient: encode state: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	n, err := jsonToYAML(d)
	if err != nil {
		return nil, fmt.Errorf("apisixclient: encode state: %w", err)
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("apisixclient: encode state: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("apisixclient: encode state: %w", err)
	}
	return out.Bytes(), nil
}

// jsonToYAML converts the next JSON value of d into a YAML node, keeping
// object key order.
func jsonToYAML(d *json.Decoder) (*yaml.Node, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if t == '[' {
			n = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		}
		for d.More() {
			if t == '{' {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kt.(string)})
			}
			v, err := jsonToYAML(d)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
		}
		if _, err := d.Token(); err != nil { // closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: t}, nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(t.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}
