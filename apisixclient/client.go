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

// AdminPrefix is the path prefix of every Admin API call (spec §1).
const AdminPrefix = "/apisix/admin"

// MaxBodySize is the largest request body APISIX accepts (1.5 MiB, spec §1).
// The client refuses bigger bodies before sending them.
const MaxBodySize = 1572864

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrInvalid wraps every client-side validation failure (*ValidationError)
	// and every input the client cannot use (bad options, YAML, state).
	ErrInvalid = errors.New("apisixclient: invalid input")
	// ErrNotSupported is returned when a method is not offered by APISIX for
	// a resource (for example POST on consumers), without sending a request.
	ErrNotSupported = errors.New("apisixclient: method not supported for this resource")
	// ErrBadResponse wraps a response the client cannot decode (non-JSON body
	// on a 2xx answer, wrong envelope).
	ErrBadResponse = errors.New("apisixclient: unexpected response")
)

// Client talks to one APISIX Admin API (v3). Create it with New. A Client is
// safe for concurrent use; it owns nothing it must close (the *http.Client
// passed with WithHTTPClient stays the caller's).
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
}

// Option configures a Client in New.
type Option func(*Client)

// WithAPIKey sets the X-API-KEY header sent on every request. Default: none
// (APISIX with admin_key_required: false).
func WithAPIKey(key string) Option { return func(c *Client) { c.key = key } }

// WithHTTPClient makes the Client send requests through hc. Default: a
// client with a 30 s timeout. The Client never closes hc or its transport.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithRetries sets how many times a safe request is retried (default 3):
// GET, PUT and DELETE on network errors, 502, 503 and 504; PATCH only on the
// 503 compare-and-swap conflict ("value changed before overwritten"). POST
// is never retried, since a retry could create a duplicate (spec §11).
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(n, 0) } }

// WithBackoff sets the first retry delay (default 100 ms); it doubles on each
// retry with up to 25% jitter.
func WithBackoff(d time.Duration) Option { return func(c *Client) { c.backoff = d } }

// WithLogger sets a logger for retries (nil, the default, discards).
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.logger = l } }

// New returns a Client for the Admin API at baseURL, e.g.
// "http://127.0.0.1:9180". A trailing "/apisix/admin" is accepted and
// stripped. It fails on a URL that is not absolute http(s).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("apisixclient: invalid base URL %q: %w (want e.g. http://127.0.0.1:9180)", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("apisixclient: invalid base URL %q: want an absolute http:// or https:// URL such as http://127.0.0.1:9180", baseURL)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), AdminPrefix)
	u.RawQuery, u.Fragment = "", ""
	c := &Client{
		base:    u,
		hc:      &http.Client{Timeout: 30 * time.Second},
		retries: 3,
		backoff: 100 * time.Millisecond,
		sleep:   sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
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

// rawResponse is a decoded HTTP answer.
type rawResponse struct {
	status int
	body   []byte
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
	u.Path = u.Path + AdminPrefix + path
	u.RawPath = ""
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
	return &rawResponse{status: resp.StatusCode, body: b}, nil
}
