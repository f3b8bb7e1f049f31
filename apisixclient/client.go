package apisixclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// AdminPrefix is the path prefix of every Admin API call (APISIX's
// apisix/admin/init.lua routes /apisix/admin/*).
const AdminPrefix = "/apisix/admin"

// MaxBodySize is the largest request body APISIX accepts (1.5 MiB,
// MAX_REQ_BODY in apisix/admin/init.lua). The client refuses bigger bodies
// before sending them.
const MaxBodySize = 1572864

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrInvalid wraps every client-side validation failure (*ValidationError)
	// and every input the client cannot use (bad Config, YAML, state).
	ErrInvalid = errors.New("apisixclient: invalid input")
	// ErrNotSupported is returned when a method is not offered by APISIX for
	// a resource (for example POST on consumers), without sending a request.
	ErrNotSupported = errors.New("apisixclient: method not supported for this resource")
	// ErrUnexpectedResponse wraps every *UnexpectedResponseError: a 2xx
	// answer that is not the Admin API v3 envelope the call expects (an
	// APISIX 2.x server, a proxy's HTML page, a truncated body).
	ErrUnexpectedResponse = errors.New("apisixclient: unexpected response")
)

// Config holds the optional settings of a Client. The zero value is valid:
// every zero field means the default documented on it.
type Config struct {
	// APIKey is sent as X-API-KEY on every request. Default: none (APISIX
	// with admin_key_required: false).
	APIKey string
	// HTTPClient sends the requests. Default: a client with a 30 s timeout.
	// The Client never closes it or its transport.
	HTTPClient *http.Client
	// Retries is how many times a safe request is retried: GET, PUT, HEAD
	// and DELETE on network errors, 502, 503 and 504; PATCH only on the 503
	// compare-and-swap conflict ("value changed before overwritten"). POST
	// is never retried, since a retry could create a duplicate. Default 3;
	// negative values are refused. Set NoRetries for none.
	Retries int
	// NoRetries turns retries off (Retries must then be 0).
	NoRetries bool
	// Backoff is the first retry delay; it doubles on each retry with up to
	// 25% jitter. Default 100 ms; negative values are refused.
	Backoff time.Duration
	// Logger receives a debug record for each retry. Default: slog.Default();
	// slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
}

// Client talks to one APISIX Admin API (v3). Create it with New. A Client is
// safe for concurrent use; it owns nothing it must close (Config.HTTPClient
// stays the caller's).
type Client struct {
	base    *url.URL
	hc      *http.Client
	key     string
	retries int
	backoff time.Duration
	logger  *slog.Logger
	sleep   func(context.Context, time.Duration) error

	mu      sync.Mutex
	version string

	// Resource services, grouped as in go-github.
	Routes         *Resource[Route]
	Services       *Resource[Service]
	Upstreams      *Resource[Upstream]
	Consumers      *Resource[Consumer]
	Credentials    *CredentialsService
	ConsumerGroups *Resource[ConsumerGroup]
	SSLs           *Resource[SSL]
	GlobalRules    *Resource[GlobalRule]
	PluginConfigs  *Resource[PluginConfig]
	PluginMetadata *Resource[PluginMetadata]
	StreamRoutes   *Resource[StreamRoute]
	Secrets        *Resource[Secret]
	Protos         *Resource[Proto]
	Plugins        *PluginsService
	// Schemas reads resource and plugin schemas and validates values on the
	// server without storing them.
	Schemas *SchemasService
}

// New returns a Client for the Admin API at baseURL, e.g.
// "http://127.0.0.1:9180", with the settings in cfg (the zero Config for
// the defaults). A trailing "/apisix/admin" is accepted and stripped. It
// fails with an error wrapping ErrInvalid on a URL that is not absolute
// http(s) and on out-of-range Config fields.
func New(baseURL string, cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("%w: base URL %q: %v (want e.g. http://127.0.0.1:9180)", ErrInvalid, baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: base URL %q: want an absolute http:// or https:// URL such as http://127.0.0.1:9180", ErrInvalid, baseURL)
	}
	switch {
	case cfg.Retries < 0:
		return nil, fmt.Errorf("%w: Config.Retries is %d: use 0 for the default (3), a positive count, or NoRetries: true for none", ErrInvalid, cfg.Retries)
	case cfg.NoRetries && cfg.Retries != 0:
		return nil, fmt.Errorf("%w: Config.NoRetries is set with Retries %d: set one of them", ErrInvalid, cfg.Retries)
	case cfg.Backoff < 0:
		return nil, fmt.Errorf("%w: Config.Backoff is %v: use 0 for the default (100ms) or a positive duration", ErrInvalid, cfg.Backoff)
	case strings.ContainsAny(cfg.APIKey, "\r\n"):
		return nil, fmt.Errorf("%w: Config.APIKey contains a line break: pass the key alone", ErrInvalid)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), AdminPrefix)
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	c := &Client{
		base:    u,
		hc:      cfg.HTTPClient,
		key:     cfg.APIKey,
		retries: cfg.Retries,
		backoff: cfg.Backoff,
		logger:  cfg.Logger,
		sleep:   sleepCtx,
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if c.retries == 0 && !cfg.NoRetries {
		c.retries = 3
	}
	if c.backoff == 0 {
		c.backoff = 100 * time.Millisecond
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	c.Routes = newResource[Route](c, "routes", "route", true, true)
	c.Services = newResource[Service](c, "services", "service", true, true)
	c.Upstreams = newResource[Upstream](c, "upstreams", "upstream", true, true)
	c.Consumers = newResource[Consumer](c, "consumers", "consumer", false, false)
	c.Consumers.idCheck = func(id ID) error { return checkUsername(string(id)) }
	c.Credentials = &CredentialsService{c: c}
	c.ConsumerGroups = newResource[ConsumerGroup](c, "consumer_groups", "consumer group", false, true)
	c.SSLs = newResource[SSL](c, "ssls", "ssl", true, true)
	c.GlobalRules = newResource[GlobalRule](c, "global_rules", "global rule", false, true)
	c.PluginConfigs = newResource[PluginConfig](c, "plugin_configs", "plugin config", false, true)
	c.PluginMetadata = newResource[PluginMetadata](c, "plugin_metadata", "plugin_metadata", false, false)
	c.PluginMetadata.idCheck = checkPluginName
	c.StreamRoutes = newResource[StreamRoute](c, "stream_routes", "stream route", true, false)
	c.Secrets = newResource[Secret](c, "secrets", "secret", false, true)
	c.Secrets.idCheck = checkSecretID
	c.Protos = newResource[Proto](c, "protos", "proto", true, false)
	c.Plugins = &PluginsService{c: c}
	c.Schemas = &SchemasService{c: c}
	return c, nil
}

// ServerVersion returns the APISIX version read from the Server header
// ("APISIX/3.18.0" gives "3.18.0") of the last response, or "" when no
// response has been seen or enable_server_tokens is false.
func (c *Client) ServerVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// Ping sends HEAD /apisix/admin (APISIX's liveness probe) and returns the
// server version from the Server header ("" if hidden).
func (c *Client) Ping(ctx context.Context) (string, error) {
	if _, err := c.do(ctx, http.MethodHead, "", nil, nil); err != nil {
		return "", err
	}
	return c.ServerVersion(), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rawResponse is a 2xx HTTP answer.
type rawResponse struct {
	method string
	path   string // request path, e.g. /apisix/admin/routes/1
	status int
	body   []byte
}

// unexpected returns the *UnexpectedResponseError for r.
func (r *rawResponse) unexpected(reason string) error {
	return newUnexpected(r.method, r.path, r.status, r.body, reason)
}

// do sends one Admin API request (with retries where safe) and returns the
// body of a 2xx answer, or an *APIError.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, payload []byte) (*rawResponse, error) {
	if ctx == nil {
		return nil, errors.New("apisixclient: nil context")
	}
	if len(payload) > MaxBodySize {
		return nil, fmt.Errorf("%w: request body is %d bytes; APISIX accepts at most %d (1.5 MiB): split the resource or move large content (scripts, protos) elsewhere", ErrInvalid, len(payload), MaxBodySize)
	}
	u := *c.base
	// path arrives escaped (escapeID); keep that form on the wire.
	raw := strings.TrimSuffix(c.base.EscapedPath(), "/") + AdminPrefix + path
	unesc, err := url.PathUnescape(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: path %q: %v", ErrInvalid, path, err)
	}
	u.Path, u.RawPath = unesc, raw
	if q != nil {
		u.RawQuery = q.Encode()
	}
	attempts := 1
	if method == http.MethodGet || method == http.MethodPut || method == http.MethodDelete || method == http.MethodHead || method == http.MethodPatch {
		attempts += c.retries
	}
	delay := c.backoff
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			d := delay + time.Duration(rand.Int64N(int64(delay)/4+1))
			c.logger.LogAttrs(ctx, slog.LevelDebug, "apisixclient: retrying", slog.String("method", method), slog.String("path", path), slog.Int("attempt", i+1), slog.Any("err", lastErr))
			if err := c.sleep(ctx, d); err != nil {
				return nil, errors.Join(lastErr, err)
			}
			delay *= 2
		}
		resp, err := c.once(ctx, method, u.String(), payload)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if !retryable(method, err) || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, lastErr
}

func retryable(method string, err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		// Transport error. Never for POST; PATCH only on CAS conflicts.
		return method != http.MethodPost && method != http.MethodPatch
	}
	if method == http.MethodPatch {
		return ae.IsConflict()
	}
	if method == http.MethodPost {
		return false
	}
	return ae.StatusCode == http.StatusBadGateway || ae.StatusCode == http.StatusServiceUnavailable || ae.StatusCode == http.StatusGatewayTimeout
}

func (c *Client) once(ctx context.Context, method, u string, payload []byte) (*rawResponse, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("apisixclient: %s %s: %w", method, u, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.key != "" {
		req.Header.Set("X-API-KEY", c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("apisixclient: %s %s: %w", method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	if s := resp.Header.Get("Server"); strings.HasPrefix(s, "APISIX") {
		v := strings.TrimPrefix(strings.TrimPrefix(s, "APISIX"), "/")
		c.mu.Lock()
		c.version = v
		c.mu.Unlock()
	}
	// Responses are small; cap them to defend against a misrouted URL.
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("apisixclient: %s %s: read body: %w", method, req.URL.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newAPIError(method, req.URL.Path, resp.StatusCode, b)
	}
	return &rawResponse{method: method, path: req.URL.Path, status: resp.StatusCode, body: b}, nil
}
