package apisixtest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/goplumb/plumb/apisixclient/apisixtest"
)

func ExampleNewHandler() {
	h, err := apisixtest.NewHandler(apisixtest.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	put := func(path, body string) {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(b)))
	}
	// An unknown field is rejected as APISIX rejects it.
	put("/apisix/admin/upstreams/1", `{"nodes":{"10.0.0.1:80":1},"weight":3}`)
	// A stream route with sni but no server_port is valid.
	put("/apisix/admin/stream_routes/1", `{"sni":"mysite.com","upstream_id":"9"}`)
	// Output:
	// 400 {"error_msg":"invalid configuration: additional properties forbidden, found weight"}
	// 400 {"error_msg":"failed to fetch upstream info by upstream id [9], response code: 404"}
}

func ExampleHandler_Requests() {
	h, err := apisixtest.NewHandler(apisixtest.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range 3 {
		resp, err := http.Get(srv.URL + "/apisix/admin/routes")
		if err == nil {
			resp.Body.Close()
		}
	}
	fmt.Println(h.Requests()["GET"])
	// Output:
	// 3
}
