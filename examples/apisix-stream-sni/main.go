// Command apisix-stream-sni walks through the intranet WebSocket case: a
// wss:// service behind APISIX's stream proxy, routed by TLS SNI.
//
//  1. the stream_proxy snippet of config.yaml, linted: the two pitfalls
//     ("tls: true" beside "- 9333", or under it) and the correct form;
//  2. a self-signed certificate for mysite.com uploaded as an SSL object;
//  3. the SNI stream route with a TLS upstream, read back, listed, linted
//     live (and a broken twin on a plain port caught), then deleted.
//
// It runs against an in-process apisixtest server, or against a real APISIX
// when APISIX_ADMIN_URL (and APISIX_ADMIN_KEY) is set.
//
// Usage: go run ./examples/apisix-stream-sni
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
		fmt.Fprintln(os.Stderr, "apisix-stream-sni:", err)
		os.Exit(1)
	}
}

// connect returns a client for APISIX_ADMIN_URL, or for an in-process
// apisixtest server (stopped by the returned func).
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
	fmt.Println("== 1. The stream_proxy section of config.yaml")
	broken := []struct{ title, yaml string }{
		{"tls: true beside the port list (silently ignored by APISIX)", `apisix:
  proxy_mode: http&stream
  stream_proxy:
    tcp:
      - 9333
    tls: true
`},
		{"tls: true indented under - 9333 (not YAML)", `apisix:
  proxy_mode: http&stream
  stream_proxy:
    tcp:
      - 9333
        tls: true
`},
	}
	// The service we want: SNI mysite.com on the TLS listener 9333, sent on
	// over TLS (APISIX re-encrypts to the backend; needs APISIX-Runtime).
	cert, key, err := apisixclient.SelfSigned("mysite.com")
	if err != nil {
		return err
	}
	scenario := apisixclient.SNIScenario{SNI: "mysite.com", Port: 9333, Upstream: "10.0.0.20:443", UpstreamTLS: true,
		Cert: cert, Key: key, ID: "ws-intranet"}
	desired, good, err := scenario.Build()
	if err != nil {
		return err
	}
	route, ssl := desired.StreamRoutes[0], desired.SSLs[0]
	want := desired.LintInput()
	for _, b := range broken {
		fmt.Printf("\n-- %s:\n%s", b.title, b.yaml)
		sp, err := apisixclient.ParseStreamProxy([]byte(b.yaml))
		if err != nil {
			say("lint:", err)
			continue
		}
		for _, f := range apisixclient.Lint(sp, want) {
			say("lint:", f)
		}
	}
	fmt.Printf("\n-- generated, correct form:\n%s", good.YAML())
	sp, err := apisixclient.ParseStreamProxy([]byte(good.YAML()))
	if err != nil {
		return err
	}
	if fs := apisixclient.Lint(sp, want); len(fs) > 0 {
		return fmt.Errorf("the generated config still has findings: %v", fs)
	}
	fmt.Println("lint: no findings")

	fmt.Println("\n== 2. Upload the certificate for mysite.com")
	c, stop, err := connect()
	if err != nil {
		return err
	}
	defer stop()
	put, err := c.SSLs.Put(ctx, ssl.ID, &ssl)
	if err != nil {
		return err
	}
	fmt.Printf("PUT %s created=%v sni=%s\n", put.Key, put.Created, put.Value.SNI)
	defer func() { _ = c.SSLs.Delete(context.Background(), ssl.ID) }()

	fmt.Println("\n== 3. The SNI stream route with a TLS upstream")
	upper := route
	upper.SNI = "MySite.com"
	if _, err := c.StreamRoutes.Put(ctx, "upper", &upper); errors.Is(err, apisixclient.ErrInvalid) {
		say("refused before sending:", err)
	} else {
		return fmt.Errorf("an upper-case SNI should be refused, got %v", err)
	}
	sr, err := c.StreamRoutes.Put(ctx, route.ID, &route)
	if err != nil {
		return err
	}
	fmt.Printf("PUT %s created=%v\n", sr.Key, sr.Created)
	defer func() { _ = c.StreamRoutes.Delete(context.Background(), route.ID) }()

	got, err := c.StreamRoutes.Get(ctx, route.ID)
	if err != nil {
		return err
	}
	fmt.Printf("GET: sni=%s server_port=%d upstream scheme=%s nodes=%v\n", got.Value.SNI, got.Value.ServerPort, got.Value.Upstream.Scheme, got.Value.Upstream.Nodes.List())

	// The classic mistake (pitfall 1, apache/apisix#6006): the same SNI
	// route on a port that is not TLS-terminated.
	twin := route
	twin.ID, twin.ServerPort = "ws-plain", 9400
	if _, err := c.StreamRoutes.Put(ctx, twin.ID, &twin); err != nil {
		return err
	}
	withPlain := &apisixclient.StreamProxy{ProxyMode: "http&stream", TCP: append(good.TCP, apisixclient.StreamListener{Addr: "9400", Port: 9400, Scalar: true})}
	fs, err := c.Lint(ctx, withPlain)
	if err != nil {
		return err
	}
	for _, f := range fs {
		say("live lint:", f)
	}
	if len(fs) != 1 || fs[0].Code != apisixclient.LintSNIOnPlainListener {
		return fmt.Errorf("want one %s finding, got %v", apisixclient.LintSNIOnPlainListener, fs)
	}

	page, err := c.StreamRoutes.List(ctx, nil)
	if err != nil {
		return err
	}
	var ids []string
	for _, it := range page.Items {
		ids = append(ids, string(it.Value.ID))
	}
	fmt.Printf("LIST: %d stream routes: %s\n", page.Total, strings.Join(ids, ", "))

	for _, id := range []apisixclient.ID{twin.ID, route.ID} {
		if err := c.StreamRoutes.Delete(ctx, id); err != nil {
			return err
		}
		fmt.Println("DELETE stream_routes/" + id)
	}
	if _, err := c.StreamRoutes.Get(ctx, route.ID); !apisixclient.IsNotFound(err) {
		return fmt.Errorf("route still there after delete: %v", err)
	}
	if err := c.SSLs.Delete(ctx, ssl.ID); err != nil {
		return err
	}
	fmt.Println("DELETE ssls/" + ssl.ID)
	fmt.Println("\nBoth config.yaml pitfalls and the upper-case SNI were caught before APISIX saw them, the")
	fmt.Println("generated config lints clean, and the live lint found the SNI route on the plain port.")
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
