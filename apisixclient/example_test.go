package apisixclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/goplumb/plumb/apisixclient"
	"github.com/goplumb/plumb/apisixclient/apisixtest"
)

func Example() {
	ctx := context.Background()
	// An in-process Admin API; use your APISIX's URL and key instead.
	h, _ := apisixtest.NewHandler(apisixtest.Config{})
	srv := httptest.NewServer(h)
	defer srv.Close()

	c, err := apisixclient.New(srv.URL, apisixclient.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	it, err := c.Routes.Put(ctx, "hello", &apisixclient.Route{
		URI:      "/hello",
		Methods:  []string{"GET"},
		Upstream: &apisixclient.Upstream{Type: "roundrobin", Nodes: apisixclient.NodeMap(map[string]int{"10.0.0.1:80": 1})},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(it.Key, "created:", it.Created)

	got, err := c.Routes.Get(ctx, "hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.Value.URI, got.Value.Upstream.Nodes.List()[0].Port)
	fmt.Println("server version:", c.ServerVersion())
	// Output:
	// /apisix/routes/hello created: true
	// /hello 80
	// server version: 3.18.0
}

func ExampleValidationError() {
	c, _ := apisixclient.New("http://127.0.0.1:9180", apisixclient.Config{})
	// Rejected before any request: a proxy-mirror host may not carry a path.
	_, err := c.Routes.Put(context.Background(), "1", &apisixclient.Route{
		URI:        "/",
		UpstreamID: "u1",
		Plugins:    apisixclient.NewPlugins(apisixclient.ProxyMirror{Host: "http://10.0.0.9:8080/copy"}),
	})
	fmt.Println(errors.Is(err, apisixclient.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// apisixclient: invalid route: plugins.proxy-mirror.host: "http://10.0.0.9:8080/copy" is not scheme://host[:port] (fix: host must end after the port: set host to "http://10.0.0.9:8080" and path to "/copy")
}

func ExampleAPIError() {
	ctx := context.Background()
	h, _ := apisixtest.NewHandler(apisixtest.Config{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, _ := apisixclient.New(srv.URL, apisixclient.Config{})
	up := &apisixclient.Upstream{Type: "roundrobin", Nodes: apisixclient.NodeMap(map[string]int{"10.0.0.1:80": 1})}
	_, _ = c.Upstreams.Put(ctx, "u1", up)
	_, _ = c.Routes.Put(ctx, "r1", &apisixclient.Route{URI: "/", UpstreamID: "u1"})

	err := c.Upstreams.Delete(ctx, "u1")
	fmt.Println("in use:", apisixclient.IsInUse(err))
	var ae *apisixclient.APIError
	if errors.As(err, &ae) {
		fmt.Println(ae.StatusCode, ae.Message)
	}
	_, err = c.Routes.Get(ctx, "nope")
	fmt.Println("not found:", apisixclient.IsNotFound(err))
	// Output:
	// in use: true
	// 400 can not delete this upstream, route [r1] is still using it now
	// not found: true
}

func ExampleResource_All() {
	ctx := context.Background()
	h, _ := apisixtest.NewHandler(apisixtest.Config{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, _ := apisixclient.New(srv.URL, apisixclient.Config{})
	for i := 1; i <= 12; i++ {
		_, _ = c.Routes.Put(ctx, apisixclient.IntID(int64(i)), &apisixclient.Route{URI: fmt.Sprintf("/r%d", i), UpstreamID: "", Plugins: apisixclient.Plugins{"echo": map[string]any{"body": "hi"}}})
	}
	n := 0
	for it, err := range c.Routes.All(ctx, &apisixclient.ListOptions{PageSize: 10}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		n++
		_ = it
	}
	fmt.Println(n, "routes in two pages")
	// Output:
	// 12 routes in two pages
}

func ExampleSNIScenario() {
	cert, key, _ := apisixclient.SelfSigned("mysite.com")
	st, sp, err := apisixclient.SNIScenario{SNI: "mysite.com", Port: 9333, Upstream: "192.168.1.33:8080", UpstreamTLS: true, Cert: cert, Key: key}.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(sp.YAML())
	r := st.StreamRoutes[0]
	fmt.Println("stream route", r.ID, "sni", r.SNI, "server_port", r.ServerPort, "scheme", r.Upstream.Scheme)
	fmt.Println("findings:", len(apisixclient.Lint(sp, st.LintInput())))
	// Output:
	// apisix:
	//   proxy_mode: http&stream
	//   stream_proxy:
	//     tcp:
	//       - addr: 9333
	//         tls: true
	// stream route mysite-com sni mysite.com server_port 9333 scheme tls
	// findings: 0
}

func ExampleUnexpectedResponseError() {
	// An APISIX 2.x Admin API answers with its own envelope.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"action":"get","count":"0","node":{"dir":true,"key":"/apisix/routes","nodes":[]}}`))
	}))
	defer srv.Close()
	c, _ := apisixclient.New(srv.URL, apisixclient.Config{NoRetries: true})
	_, err := c.Routes.List(context.Background(), nil)
	var ue *apisixclient.UnexpectedResponseError
	if errors.As(err, &ue) {
		fmt.Println(ue.StatusCode, ue.V2, errors.Is(err, apisixclient.ErrUnexpectedResponse))
	}
	// Output:
	// 200 true true
}
