package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/goplumb/plumb/mirror"
)

// Shadow 5% of GET traffic to a new version, the same users every time.
func ExampleNew() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	m, err := mirror.New(mirror.Config{
		Targets:   []mirror.Target{{Name: "v2", URL: "http://10.0.0.7:8080", Timeout: time.Second}},
		Sample:    0.05,
		SampleKey: mirror.HeaderKey("X-User-Id"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx) // waits for in-flight copies up to the deadline
	}()
	// m.Stats() is JSON-ready; mirrorexpvar.Publish("mirror", m) serves it
	// at /debug/vars (read that package's doc first: expvar serves the
	// process's command line too).
	srv := &http.Server{Addr: ":8080", Handler: m.Handler(app)}
	_ = srv // srv.ListenAndServe()
}

// Mirror what a reverse proxy forwards, writes included.
func ExampleMirror_RoundTripper() {
	m, err := mirror.New(mirror.Config{
		Targets: []mirror.Target{{URL: "http://shadow.internal:8080/v2", PathMode: mirror.PathPrefix}},
		Methods: []string{"GET", "POST"},
		Host:    mirror.HostShadowSuffix, // Host: api-shadow, so the shadow knows
	})
	if err != nil {
		log.Fatal(err)
	}
	origin, _ := url.Parse("http://api.internal:8080")
	proxy := httputil.NewSingleHostReverseProxy(origin)
	proxy.Transport = m.RoundTripper(http.DefaultTransport)
	_ = proxy
}

// Every copy is accounted for, whatever happened to it.
func ExampleMirror_Stats() {
	shadow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer shadow.Close()
	m, err := mirror.New(mirror.Config{Targets: []mirror.Target{{Name: "shadow", URL: shadow.URL}}})
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/a", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("DELETE", "/a", nil)) // writes are off by default
	_ = m.Shutdown(context.Background())
	s := m.Stats()
	fmt.Println("seen", s.Seen, "sent", s.Sent, "dropped (method)", s.Dropped[mirror.DropMethod], "balanced", s.Balanced())
	// Output: seen 2 sent 1 dropped (method) 1 balanced true
}

func ExampleNewGorReader() {
	gor := "1 000000000000000000abc000 1700000000000000000 0\n" +
		"GET /hello HTTP/1.1\r\nHost: example.test\r\n\r\n" + string(mirror.GorSeparator) +
		"2 000000000000000000abc000 1700000000050000000 0\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" + string(mirror.GorSeparator) +
		"1 broken\n" + string(mirror.GorSeparator)
	r := mirror.NewGorReader(strings.NewReader(gor), mirror.ReadConfig{})
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Kind, rec.ID[18:], rec.Time)
	}
	st := r.Stats()
	fmt.Println("records", st.Records, "malformed", st.Malformed)
	// Output:
	// request abc000 1700000000000000000
	// response abc000 1700000000050000000
	// records 2 malformed 1
}

func ExampleGorWriter() {
	var buf bytes.Buffer
	w := mirror.NewGorWriter(&buf)
	req := httptest.NewRequest("GET", "http://example.test/hello", nil)
	rec, _ := mirror.RecordRequest(req, "000000000000000000abc000", time.Unix(1700000000, 0), nil)
	fmt.Println(w.WriteRecord(rec))
	bad := mirror.Record{Kind: mirror.KindRequest, ID: "x", Payload: []byte("a" + string(mirror.GorSeparator) + "b")}
	fmt.Println(errors.Is(w.WriteRecord(bad), mirror.ErrSeparatorInPayload))
	_ = w.Flush()
	fmt.Println(strings.SplitN(buf.String(), "\n", 2)[0])
	// Output:
	// <nil>
	// true
	// 1 000000000000000000abc000 1700000000000000000 0
}

// Replay a capture twice as fast as recorded and print the report.
func ExampleReplay() {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	var recs []mirror.Record
	for i := range 3 {
		req := httptest.NewRequest("GET", fmt.Sprintf("/item/%d", i), nil)
		rec, _ := mirror.RecordRequest(req, "", time.Unix(0, int64(i)*int64(10*time.Millisecond)), nil)
		recs = append(recs, rec)
	}
	rep, err := mirror.Replay(context.Background(), mirror.Records(recs), mirror.ReplayConfig{Target: target.URL, Speed: 2})
	if err != nil {
		log.Fatal(err)
	}
	// rep.WriteText(os.Stdout) prints the status histogram and the latency
	// and schedule-lag percentiles (timings vary, so not shown here).
	fmt.Println("sent", rep.Sent, "200s", rep.Status[200], "lag measured for", rep.ScheduleLag.Count)
	// Output: sent 3 200s 3 lag measured for 3
}

func ExampleDiffer_Compare() {
	d, _ := mirror.NewDiffer(mirror.DiffConfig{IgnoreJSONPaths: []string{"now"}})
	h := http.Header{"Content-Type": {"application/json"}}
	primary := mirror.Response{Status: 200, Header: h, Body: []byte(`{"user":"alice","n":1,"now":1}`)}
	shadow := mirror.Response{Status: 200, Header: h, Body: []byte(`{"user":"bob","n":1,"now":2}`)}
	for _, diff := range d.Compare(primary, shadow) {
		fmt.Println(diff)
	}
	// Output: body.user value: "alice" ≠ "bob"
}

func ExampleTemplatePath() {
	fmt.Println(mirror.TemplatePath("/users/42/orders/550e8400-e29b-41d4-a716-446655440000"))
	// Output: /users/{id}/orders/{id}
}

// Record requests and responses to daily chunked .gor files from a
// goroutine of the recorder, never on the request path.
func ExampleNewRecorder() {
	f, err := mirror.CreateGor(os.TempDir()+"/requests-%Y%m%d.gor", mirror.FileConfig{})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := mirror.NewRecorder(f, mirror.RecorderConfig{Responses: true})
	if err != nil {
		log.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	handler := mirror.Chain(rec.Handler)(app)
	_ = handler
	_ = rec.Shutdown(context.Background())
	_ = f.Close()
}

// Compare a capture with a second recording of the same traffic (new
// record IDs, so requests are joined by method, URI and body).
func ExampleDiffRecordings() {
	record := func(prefix string, plan string) []mirror.Record {
		var out []mirror.Record
		for i, user := range []string{"7", "8", "9"} {
			id := fmt.Sprintf("%s%022d", prefix, i)
			at := time.Unix(1700000000, int64(i)*1e6)
			req, _ := mirror.RecordRequest(httptest.NewRequest("GET", "/users/"+user, nil), id, at, nil)
			body := fmt.Sprintf(`{"id":%s,"plan":%q,"note":"line 1\nline 2"}`, user, "free")
			if user == "9" {
				body = fmt.Sprintf(`{"id":%s,"plan":%q}`, user, plan)
			}
			resp := mirror.RecordResponse(mirror.KindResponse, id, at, 0, mirror.Response{Status: 200,
				Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)})
			out = append(out, req, resp)
		}
		return out
	}
	d, err := mirror.DiffRecordings(mirror.Records(record("aa", "pro")), mirror.Records(record("bb", "professional")),
		mirror.DiffConfig{})
	if err != nil {
		log.Fatal(err)
	}
	_ = d.WriteText(os.Stdout)
	// Output:
	// compared 3 exchanges (0 by id, 3 by request)
	// not compared: 0 only in a, 0 only in b, 0 without a response in a
	// GET /users/{id}: 3 compared, 1 with differences
	//   ! body.plan                      raw 1  noise 0
	//       e.g. body.plan (value)
	//         - "pro"
	//         + "professional"
}

// Count what a capture holds before replaying it.
func ExampleSummarizeRecording() {
	var recs []mirror.Record
	for i, path := range []string{"/users/1", "/users/2", "/health"} {
		at := time.Date(2026, 11, 24, 18, 0, i, 0, time.UTC)
		req, _ := mirror.RecordRequest(httptest.NewRequest("GET", path, nil), "", at, nil)
		recs = append(recs, req, mirror.RecordResponse(mirror.KindResponse, req.ID, at, 0, mirror.Response{Status: 200}))
	}
	s, err := mirror.SummarizeRecording(mirror.Records(recs))
	if err != nil {
		log.Fatal(err)
	}
	_ = s.WriteText(os.Stdout)
	// Output:
	// records: 6, request 3, response 3
	// requests from 2026-11-24T18:00:00Z to 2026-11-24T18:00:02Z (2s)
	// methods: GET 3
	// status (recorded): 200 3
	// endpoints:
	//         2  GET /users/{id}
	//         1  GET /health
}
