package apisixclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Plugins maps plugin names to their configuration. A nil Plugins is left
// out of a request; an empty non-nil one is sent as {}. A value may be one of
// the typed configs of this package (ProxyMirror, LimitCount, KeyAuth, ...),
// any JSON-encodable value (a map, your own struct), or json.RawMessage.
// Decoded plugins are kept as json.RawMessage, so configs of plugins this
// package does not type survive a round trip unchanged; read a typed one
// with Decode.
type Plugins map[string]any

// Plugin is a typed plugin configuration that knows its plugin name.
type Plugin interface {
	PluginName() string
}

// NewPlugins returns Plugins holding the given typed configurations.
func NewPlugins(ps ...Plugin) Plugins {
	out := make(Plugins, len(ps))
	for _, p := range ps {
		out[p.PluginName()] = p
	}
	return out
}

// Set stores a typed plugin configuration under its name.
func (p Plugins) Set(pl Plugin) { p[pl.PluginName()] = pl }

// Decode decodes the configuration of plugin name into v (a pointer, e.g.
// *ProxyMirror). It returns false when the plugin is not set.
func (p Plugins) Decode(name string, v any) (bool, error) {
	raw, ok := p[name]
	if !ok {
		return false, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return true, fmt.Errorf("apisixclient: plugin %s: %w", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("apisixclient: decode plugin %s: %w", name, err)
	}
	return true, nil
}

// Names returns the plugin names, sorted.
func (p Plugins) Names() []string {
	out := make([]string, 0, len(p))
	for k := range p {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// UnmarshalJSON keeps each plugin's configuration as json.RawMessage. An
// empty object gives an empty, non-nil Plugins, which encodes back as {}
// (APISIX stores "plugins": {} and a route may rely on it to satisfy its
// schema); null leaves p nil.
func (p *Plugins) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*p = nil
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		// lua-cjson encodes an empty object as [] in some builds.
		if bytes.Equal(bytes.TrimSpace(b), []byte("[]")) {
			*p = Plugins{}
			return nil
		}
		return fmt.Errorf("apisixclient: plugins must be an object of name → config: %w", err)
	}
	out := make(Plugins, len(m))
	for k, v := range m {
		out[k] = v
	}
	*p = out
	return nil
}

// PluginMeta is the _meta block APISIX accepts in every plugin.
type PluginMeta struct {
	Disable       *bool           `json:"disable,omitempty"`
	ErrorResponse json.RawMessage `json:"error_response,omitempty"`
	Priority      *int            `json:"priority,omitempty"`
	Filter        json.RawMessage `json:"filter,omitempty"`
	PreFunction   string          `json:"pre_function,omitempty"`
}

// ProxyMirror mirrors requests to another host (plugin "proxy-mirror",
// HTTP only). Host is scheme://host[:port] with nothing after it: a path
// goes in Path. SampleRatio is 0.00001..1 (nil means 1, every request).
type ProxyMirror struct {
	Host           string      `json:"host"`
	Path           string      `json:"path,omitempty"`
	PathConcatMode string      `json:"path_concat_mode,omitempty"` // "replace" (default) or "prefix"
	SampleRatio    *float64    `json:"sample_ratio,omitempty"`
	Meta           *PluginMeta `json:"_meta,omitempty"`
}

// PluginName implements Plugin.
func (ProxyMirror) PluginName() string { return "proxy-mirror" }

// ProxyRewrite rewrites the upstream request (plugin "proxy-rewrite").
type ProxyRewrite struct {
	URI      string          `json:"uri,omitempty"`
	RegexURI []string        `json:"regex_uri,omitempty"`
	Method   string          `json:"method,omitempty"`
	Host     string          `json:"host,omitempty"`
	Scheme   string          `json:"scheme,omitempty"`
	Headers  json.RawMessage `json:"headers,omitempty"`
	Meta     *PluginMeta     `json:"_meta,omitempty"`
}

// PluginName implements Plugin.
func (ProxyRewrite) PluginName() string { return "proxy-rewrite" }

// LimitCount limits requests per time window (plugin "limit-count").
// Count and TimeWindow (seconds) are required and > 0.
type LimitCount struct {
	Count                int         `json:"count"`
	TimeWindow           int         `json:"time_window"`
	Key                  string      `json:"key,omitempty"`
	KeyType              string      `json:"key_type,omitempty"` // var, var_combination, constant
	RejectedCode         int         `json:"rejected_code,omitempty"`
	RejectedMsg          string      `json:"rejected_msg,omitempty"`
	Policy               string      `json:"policy,omitempty"` // local, redis, redis-cluster
	Group                string      `json:"group,omitempty"`
	ShowLimitQuotaHeader *bool       `json:"show_limit_quota_header,omitempty"`
	Meta                 *PluginMeta `json:"_meta,omitempty"`
}

// PluginName implements Plugin.
func (LimitCount) PluginName() string { return "limit-count" }

// LimitReq limits the request rate with a leaky bucket (plugin "limit-req").
type LimitReq struct {
	Rate         float64     `json:"rate"`
	Burst        float64     `json:"burst"`
	Key          string      `json:"key"`
	KeyType      string      `json:"key_type,omitempty"`
	RejectedCode int         `json:"rejected_code,omitempty"`
	NoDelay      *bool       `json:"nodelay,omitempty"`
	Meta         *PluginMeta `json:"_meta,omitempty"`
}

// PluginName implements Plugin.
func (LimitReq) PluginName() string { return "limit-req" }

// KeyAuth is the "key-auth" plugin: on a route it enables the check
// (Header/Query name where the key is read); on a consumer or credential
// it holds the Key.
type KeyAuth struct {
	Key             string      `json:"key,omitempty"`
	Header          string      `json:"header,omitempty"`
	Query           string      `json:"query,omitempty"`
	HideCredentials *bool       `json:"hide_credentials,omitempty"`
	Meta            *PluginMeta `json:"_meta,omitempty"`
}

// PluginName implements Plugin.
func (KeyAuth) PluginName() string { return "key-auth" }

// BasicAuth is the "basic-auth" plugin (Username/Password on consumers).
type BasicAuth struct {
	Username        string      `json:"username,omitempty"`
	Password        string      `json:"password,omitempty"`
	HideCredentials *bool       `json:"hide_credentials,omitempty"`
	Meta            *PluginMeta `json:"_meta,omitempty"`
}

// PluginName implements Plugin.
func (BasicAuth) PluginName() string { return "basic-auth" }

// IPRestriction allows or denies client addresses (plugin
// "ip-restriction"); set exactly one of Whitelist and Blacklist.
type IPRestriction struct {
	Whitelist []string    `json:"whitelist,omitempty"`
	Blacklist []string    `json:"blacklist,omitempty"`
	Message   string      `json:"message,omitempty"`
	Meta      *PluginMeta `json:"_meta,omitempty"`
}

// PluginName implements Plugin.
func (IPRestriction) PluginName() string { return "ip-restriction" }
