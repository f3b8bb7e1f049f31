// Command apisix-proxy-mirror configures an HTTP route whose traffic is
// mirrored to a shadow service with APISIX's proxy-mirror plugin, at a
// sample ratio:
//
//  1. the usual mistake, a path inside the mirror host, is refused before
//     any request, with the fix;
//  2. the route is created with host, path and sample_ratio 0.1, read back
//     with the typed plugin config, and the ratio is raised with a
//     sub-path PATCH; an out-of-range ratio gets APISIX's own message;
//  3. everything is removed again.
//
// It runs against an in-process apisixtest server, or against a real APISIX
// when APISIX_ADMIN_URL (and APISIX_ADMIN_KEY) is set.
//
// Usage: go run ./examples/apisix-proxy-mirror
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/goplumb/plumb/apisixclient"
	"github.com/goplumb/plumb/apisixclient/apisixtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "apisix-proxy-mirror:", err)
		os.Exit(1)
	}
}

func connect() (*apisixclient.Client, func(), error) {
	if u := os.Getenv("APISIX_ADMIN_URL"); u != "" {
		fmt.Println("using the APISIX Admin API at", u)
		c, err := apisixclient.New(u, apisixclient.Config{APIKey: os.Getenv("APISIX_ADMIN_KEY")})
		return c, func() {}, err
	}
	h, err := apisixtest.NewHandler(apisixtest.Config{})
	if err != nil {
		return nil, nil, err
	}
	srv := httptest.NewServer(h)
	fmt.Println("using an in-process apisixtest Admin API (set APISIX_ADMIN_URL for a real APISIX)")
	c, err := apisixclient.New(srv.URL, apisixclient.Config{})
	return c, srv.Close, err
}

func run(ctx context.Context) error {
	c, stop, err := connect()
	if err != nil {
		return err
	}
	defer stop()

	up := &apisixclient.Upstream{Type: "roundrobin", Nodes: apisixclient.NodeMap(map[string]int{"10.0.0.10:8080": 1})}
	if _, err := c.Upstreams.Put(ctx, "orders-v1", up); err != nil {
		return err
	}
	defer func() { _ = c.Upstreams.Delete(context.Background(), "orders-v1") }()

	fmt.Println("\n== 1. A path in the mirror host")
	bad := &apisixclient.Route{URI: "/orders/*", UpstreamID: "orders-v1",
		Plugins: apisixclient.NewPlugins(apisixclient.ProxyMirror{Host: "http://10.0.0.20:8080/shadow"})}
	if _, err := c.Routes.Put(ctx, "orders", bad); errors.Is(err, apisixclient.ErrInvalid) {
		say("refused before sending:", err)
	} else {
		return fmt.Errorf("want a validation error, got %v", err)
	}
	bad.ID = "orders"
	for _, f := range apisixclient.Lint(nil, apisixclient.LintInput{Routes: []apisixclient.Route{*bad}}) {
		say("lint:", f)
	}

	fmt.Println("\n== 2. Mirror 10% of /orders/* to the shadow service")
	ratio := 0.1
	route := &apisixclient.Route{
		Name:       "orders",
		URI:        "/orders/*",
		Methods:    []string{"GET", "POST"},
		UpstreamID: "orders-v1",
		Plugins: apisixclient.NewPlugins(apisixclient.ProxyMirror{
			Host:           "http://10.0.0.20:8080",
			Path:           "/shadow",
			PathConcatMode: "prefix", // GET /orders/7?x=1 is mirrored as /shadow/orders/7?x=1
			SampleRatio:    &ratio,
		}),
	}
	it, err := c.Routes.Put(ctx, "orders", route)
	if err != nil {
		return err
	}
	fmt.Printf("PUT %s created=%v\n", it.Key, it.Created)
	defer func() { _ = c.Routes.Delete(context.Background(), "orders") }()

	got, err := c.Routes.Get(ctx, "orders")
	if err != nil {
		return err
	}
	var pm apisixclient.ProxyMirror
	if _, err := got.Value.Plugins.Decode("proxy-mirror", &pm); err != nil {
		return err
	}
	fmt.Printf("GET: proxy-mirror host=%s path=%s mode=%s sample_ratio=%g\n", pm.Host, pm.Path, pm.PathConcatMode, *pm.SampleRatio)

	patched, err := c.Routes.PatchPath(ctx, "orders", "plugins/proxy-mirror/sample_ratio", 0.5)
	if err != nil {
		return err
	}
	if _, err := patched.Value.Plugins.Decode("proxy-mirror", &pm); err != nil {
		return err
	}
	fmt.Printf("PATCH plugins/proxy-mirror/sample_ratio: now %g (host and path kept)\n", *pm.SampleRatio)

	// A sub-path PATCH is checked by the server only: here is its message.
	_, err = c.Routes.PatchPath(ctx, "orders", "plugins/proxy-mirror/sample_ratio", 10)
	var ae *apisixclient.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("want an APIError for sample_ratio 10, got %v", err)
	}
	say("PATCH sample_ratio=10:", fmt.Sprintf("%d %s", ae.StatusCode, ae.Message))

	fmt.Println("\n== 3. Clean up")
	if err := c.Routes.Delete(ctx, "orders"); err != nil {
		return err
	}
	if err := c.Upstreams.Delete(ctx, "orders-v1"); err != nil {
		return err
	}
	fmt.Println("deleted routes/orders and upstreams/orders-v1")
	fmt.Println("\nThe path in the mirror host was refused with its fix before any request; the route mirrored")
	fmt.Println("10% then 50% through a sub-path PATCH that kept host and path, and APISIX's own message")
	fmt.Println("came back for the out-of-range ratio.")
	return nil
}

// say prints prefix and text wrapped at 100 columns, continuation lines
// indented by four spaces.
func say(prefix string, text any) {
	for i, para := range strings.Split(fmt.Sprint(text), "\n") {
		line := strings.TrimRight(prefix, " ")
		if i > 0 {
			line = "   " + para[:len(para)-len(strings.TrimLeft(para, " "))]
		}
		for _, w := range strings.Fields(para) {
			if len(line)+1+len(w) > 100 && strings.TrimSpace(line) != "" {
				fmt.Println(line)
				line = "   "
			}
			if line == "" {
				line = w
			} else {
				line += " " + w
			}
		}
		fmt.Println(line)
	}
}
