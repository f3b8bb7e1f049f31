package mirrorexpvar_test

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/goplumb/plumb/mirror"
	"github.com/goplumb/plumb/mirror/mirrorexpvar"
)

func TestPublish(t *testing.T) {
	shadow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer shadow.Close()
	m, err := mirror.New(mirror.Config{Targets: []mirror.Target{{Name: "s", URL: shadow.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/a", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/a", nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	name := fmt.Sprintf("mirror-test-%d", time.Now().UnixNano())
	if err := mirrorexpvar.Publish(name, m); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    *mirror.Mirror
	}{{name, m}, {"", m}, {name + "-nil", nil}} {
		if err := mirrorexpvar.Publish(tc.name, tc.m); err == nil || !errors.Is(err, mirror.ErrInvalid) {
			t.Errorf("Publish(%q, %v) = %v, want an error wrapping mirror.ErrInvalid", tc.name, tc.m != nil, err)
		}
	}
	var got struct {
		Seen, Sent uint64
		Dropped    map[string]uint64
		Targets    map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(expvar.Get(name).String()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Seen != 2 || got.Sent != 1 || got.Dropped["method"] != 1 || got.Targets["s"] == nil {
		t.Errorf("published %+v, want Seen 2, Sent 1, Dropped[method] 1 and target s", got)
	}
	// expvar's handler is what importing this package mounts.
	_, pattern := http.DefaultServeMux.Handler(httptest.NewRequest("GET", "/debug/vars", nil))
	if !strings.HasSuffix(pattern, "/debug/vars") {
		t.Errorf("DefaultServeMux pattern for /debug/vars = %q; the doc says expvar mounts it", pattern)
	}
}

// Publish a Mirror's Stats at /debug/vars on an internal address.
func ExamplePublish() {
	m, err := mirror.New(mirror.Config{Targets: []mirror.Target{{URL: "http://shadow.internal:8080"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Shutdown(context.Background())
	if err := mirrorexpvar.Publish("mirror-example", m); err != nil {
		fmt.Println(err)
		return
	}
	// Serve expvar only where operators can reach it, never on the public
	// listener: http.ListenAndServe("127.0.0.1:6060", nil)
	fmt.Println(expvar.Get("mirror-example") != nil)
	// Output: true
}
