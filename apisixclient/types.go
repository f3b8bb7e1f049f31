package apisixclient

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Timestamps are set by the server on every write. The client never sends
// them on PUT or POST (APISIX rejects them: "the property is forbidden:
// create_time", check_forbidden_properties in apisix/admin/utils.lua).
type Timestamps struct {
	CreateTime int64 `json:"create_time,omitempty"`
	UpdateTime int64 `json:"update_time,omitempty"`
}

func (t *Timestamps) clearTimestamps() { t.CreateTime, t.UpdateTime = 0, 0 }

// Timeout is the connect/send/read timeout in seconds. APISIX requires all
// three, each > 0.
type Timeout struct {
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Read    float64 `json:"read"`
}

// Route is an HTTP route (/apisix/admin/routes).
type Route struct {
	ID              ID                `json:"id,omitempty"`
	Name            string            `json:"name,omitempty"`
	Desc            string            `json:"desc,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	URI             string            `json:"uri,omitempty"`
	URIs            []string          `json:"uris,omitempty"`
	Priority        *int              `json:"priority,omitempty"`
	Methods         []string          `json:"methods,omitempty"`
	Host            string            `json:"host,omitempty"`
	Hosts           []string          `json:"hosts,omitempty"`
	RemoteAddr      string            `json:"remote_addr,omitempty"`
	RemoteAddrs     []string          `json:"remote_addrs,omitempty"`
	Timeout         *Timeout          `json:"timeout,omitempty"`
	Vars            json.RawMessage   `json:"vars,omitempty"`
	FilterFunc      string            `json:"filter_func,omitempty"`
	Script          string            `json:"script,omitempty"`
	ScriptID        ID                `json:"script_id,omitempty"`
	Plugins         Plugins           `json:"plugins,omitzero"`
	PluginConfigID  ID                `json:"plugin_config_id,omitempty"`
	Upstream        *Upstream         `json:"upstream,omitempty"`
	ServiceID       ID                `json:"service_id,omitempty"`
	UpstreamID      ID                `json:"upstream_id,omitempty"`
	EnableWebsocket *bool             `json:"enable_websocket,omitempty"`
	Status          *int              `json:"status,omitempty"`
	Timestamps
}

// Service groups plugins and an upstream shared by routes (/services).
type Service struct {
	ID              ID                `json:"id,omitempty"`
	Name            string            `json:"name,omitempty"`
	Desc            string            `json:"desc,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Plugins         Plugins           `json:"plugins,omitzero"`
	Upstream        *Upstream         `json:"upstream,omitempty"`
	UpstreamID      ID                `json:"upstream_id,omitempty"`
	Script          string            `json:"script,omitempty"`
	EnableWebsocket *bool             `json:"enable_websocket,omitempty"`
	Hosts           []string          `json:"hosts,omitempty"`
	Timestamps
}

// Upstream is a set of backend nodes and how to balance them (/upstreams,
// or inline in a route, service or stream route).
type Upstream struct {
	ID            ID                `json:"id,omitempty"`
	Name          string            `json:"name,omitempty"`
	Desc          string            `json:"desc,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Type          string            `json:"type,omitempty"`
	Nodes         *Nodes            `json:"nodes,omitempty"`
	Retries       *int              `json:"retries,omitempty"`
	RetryTimeout  *float64          `json:"retry_timeout,omitempty"`
	Timeout       *Timeout          `json:"timeout,omitempty"`
	TLS           *UpstreamTLS      `json:"tls,omitempty"`
	KeepalivePool *KeepalivePool    `json:"keepalive_pool,omitempty"`
	Checks        json.RawMessage   `json:"checks,omitempty"`
	HashOn        string            `json:"hash_on,omitempty"`
	Key           string            `json:"key,omitempty"`
	Scheme        string            `json:"scheme,omitempty"`
	DiscoveryType string            `json:"discovery_type,omitempty"`
	DiscoveryArgs map[string]any    `json:"discovery_args,omitempty"`
	PassHost      string            `json:"pass_host,omitempty"`
	UpstreamHost  string            `json:"upstream_host,omitempty"`
	ServiceName   string            `json:"service_name,omitempty"`
	Timestamps
}

// UpstreamTLS is the client certificate APISIX presents to the upstream.
type UpstreamTLS struct {
	ClientCertID ID     `json:"client_cert_id,omitempty"`
	ClientCert   string `json:"client_cert,omitempty"`
	ClientKey    string `json:"client_key,omitempty"`
	Verify       *bool  `json:"verify,omitempty"`
}

// KeepalivePool tunes upstream connection reuse.
type KeepalivePool struct {
	Size        int     `json:"size,omitempty"`
	IdleTimeout float64 `json:"idle_timeout,omitempty"`
	Requests    int     `json:"requests,omitempty"`
}

// Node is one upstream node.
type Node struct {
	Host     string         `json:"host"`
	Port     int            `json:"port,omitempty"`
	Weight   int            `json:"weight"`
	Priority int            `json:"priority,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Nodes is an upstream's node set. APISIX accepts a map {"host:port":
// weight} or an array of Node; Nodes remembers which form it was decoded
// from (or built with) and encodes the same form, so a PATCH merge keeps
// its semantics (map form merges per node, array form is replaced whole).
type Nodes struct {
	list    []Node
	isArray bool
}

// NodeMap returns map-form nodes from {"host:port": weight}.
func NodeMap(m map[string]int) *Nodes {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := &Nodes{}
	for _, k := range keys {
		host, port := splitHostPort(k)
		n.list = append(n.list, Node{Host: host, Port: port, Weight: m[k]})
	}
	return n
}

// NodeList returns array-form nodes.
func NodeList(nodes ...Node) *Nodes {
	return &Nodes{list: append([]Node(nil), nodes...), isArray: true}
}

// IsArray reports whether the nodes use the array form.
func (n *Nodes) IsArray() bool { return n != nil && n.isArray }

// List returns the nodes (for the map form, sorted by "host:port").
func (n *Nodes) List() []Node {
	if n == nil {
		return nil
	}
	return append([]Node(nil), n.list...)
}

// Len returns the number of nodes.
func (n *Nodes) Len() int {
	if n == nil {
		return 0
	}
	return len(n.list)
}

func splitHostPort(k string) (string, int) {
	i := strings.LastIndexByte(k, ':')
	if i < 0 || strings.HasSuffix(k, "]") {
		return k, 0
	}
	p, err := strconv.Atoi(k[i+1:])
	if err != nil {
		return k, 0
	}
	return k[:i], p
}

func nodeKey(nd Node) string {
	if nd.Port == 0 {
		return nd.Host
	}
	return nd.Host + ":" + strconv.Itoa(nd.Port)
}

// MarshalJSON encodes the form the nodes were built or decoded with.
func (n Nodes) MarshalJSON() ([]byte, error) {
	if n.isArray {
		if n.list == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(n.list)
	}
	m := make(map[string]int, len(n.list))
	for _, nd := range n.list {
		m[nodeKey(nd)] = nd.Weight
	}
	return json.Marshal(m)
}

// UnmarshalJSON accepts the map or the array form.
func (n *Nodes) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, "[") {
		var l []Node
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("apisixclient: upstream nodes: %w", err)
		}
		*n = Nodes{list: l, isArray: true}
		return nil
	}
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("apisixclient: upstream nodes: want {\"host:port\": weight} or [{host, port, weight}]: %w", err)
	}
	*n = *NodeMap(m)
	return nil
}

// SSL is a certificate object (/ssls). GET strips key and keys (APISIX
// 3.17+, apisix/admin/ssl.lua), so
// never PUT back an SSL read with Get without setting Key again.
type SSL struct {
	ID           ID                `json:"id,omitempty"`
	Desc         string            `json:"desc,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Type         string            `json:"type,omitempty"`
	Cert         string            `json:"cert,omitempty"`
	Key          string            `json:"key,omitempty"`
	SNI          string            `json:"sni,omitempty"`
	SNIs         []string          `json:"snis,omitempty"`
	Certs        []string          `json:"certs,omitempty"`
	Keys         []string          `json:"keys,omitempty"`
	Client       *SSLClient        `json:"client,omitempty"`
	Status       *int              `json:"status,omitempty"`
	SSLProtocols []string          `json:"ssl_protocols,omitempty"`
	Timestamps
}

// SSLClient configures mTLS towards downstream clients.
type SSLClient struct {
	CA               string   `json:"ca"`
	Depth            *int     `json:"depth,omitempty"`
	SkipMTLSURIRegex []string `json:"skip_mtls_uri_regex,omitempty"`
}

// StreamRoute is a TCP/UDP route (/stream_routes). It matches on sni (only
// on TLS-terminating listeners), remote_addr, server_addr and server_port;
// see Lint for the ways a stream route can silently never match.
type StreamRoute struct {
	ID         ID                `json:"id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Desc       string            `json:"desc,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	RemoteAddr string            `json:"remote_addr,omitempty"`
	ServerAddr string            `json:"server_addr,omitempty"`
	ServerPort int               `json:"server_port,omitempty"`
	SNI        string            `json:"sni,omitempty"`
	// SNIs and TLSPassthrough exist only after apache/apisix#13911 and
	// #13912 (merged 2026-09-02); older servers reject them.
	SNIs           []string        `json:"snis,omitempty"`
	TLSPassthrough *bool           `json:"tls_passthrough,omitempty"`
	Upstream       *Upstream       `json:"upstream,omitempty"`
	UpstreamID     ID              `json:"upstream_id,omitempty"`
	ServiceID      ID              `json:"service_id,omitempty"`
	Plugins        Plugins         `json:"plugins,omitzero"`
	Protocol       *StreamProtocol `json:"protocol,omitempty"`
	Timestamps
}

// StreamProtocol is an xRPC protocol on a stream route.
type StreamProtocol struct {
	Name       string          `json:"name"`
	SuperiorID ID              `json:"superior_id,omitempty"`
	Conf       map[string]any  `json:"conf,omitempty"`
	Logger     json.RawMessage `json:"logger,omitempty"`
}

// Consumer is an API consumer (/consumers/{username}); it has no id.
type Consumer struct {
	Username string            `json:"username"`
	Desc     string            `json:"desc,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	GroupID  ID                `json:"group_id,omitempty"`
	Plugins  Plugins           `json:"plugins,omitzero"`
	Timestamps
}

// Credential is one auth credential of a consumer (APISIX 3.11+).
type Credential struct {
	ID      ID                `json:"id,omitempty"`
	Name    string            `json:"name,omitempty"`
	Desc    string            `json:"desc,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Plugins Plugins           `json:"plugins,omitzero"`
	Timestamps
}

// ConsumerGroup shares plugins among consumers (/consumer_groups).
type ConsumerGroup struct {
	ID      ID                `json:"id,omitempty"`
	Name    string            `json:"name,omitempty"`
	Desc    string            `json:"desc,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Plugins Plugins           `json:"plugins"`
	Timestamps
}

// PluginConfig is a reusable plugin set referenced by routes (/plugin_configs).
type PluginConfig struct {
	ID      ID                `json:"id,omitempty"`
	Name    string            `json:"name,omitempty"`
	Desc    string            `json:"desc,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Plugins Plugins           `json:"plugins"`
	Timestamps
}

// GlobalRule runs plugins on every request (/global_rules). A plugin may
// appear in only one global rule.
type GlobalRule struct {
	ID      ID      `json:"id,omitempty"`
	Plugins Plugins `json:"plugins"`
	Timestamps
}

// Proto is a protobuf definition for grpc-transcode (/protos).
type Proto struct {
	ID      ID                `json:"id,omitempty"`
	Name    string            `json:"name,omitempty"`
	Desc    string            `json:"desc,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Content string            `json:"content"`
	Timestamps
}

// Secret is a secret manager configuration (/secrets/{manager}/{id}); its
// ID is "<manager>/<id>", e.g. "vault/1". Vault uses URI, Prefix, Token and
// Namespace; AWS and GCP use the other fields.
type Secret struct {
	ID              ID     `json:"id,omitempty"`
	URI             string `json:"uri,omitempty"`
	Prefix          string `json:"prefix,omitempty"`
	Token           string `json:"token,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	SessionToken    string `json:"session_token,omitempty"`
	Region          string `json:"region,omitempty"`
	EndpointURL     string `json:"endpoint_url,omitempty"`
	AuthFile        string `json:"auth_file,omitempty"`
	AuthConfig      any    `json:"auth_config,omitempty"`
	Timestamps
}

// PluginMetadata is the free-form metadata of one plugin
// (/plugin_metadata/{plugin_name}); the id is the plugin name.
type PluginMetadata map[string]any

func (m *PluginMetadata) clearTimestamps() {
	delete(*m, "create_time")
	delete(*m, "update_time")
}
