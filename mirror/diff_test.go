package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func jsonResp(status int, body string) Response {
	return Response{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
}

func TestCompareFindsInjectedDifferences(t *testing.T) {
	d, err := NewDiffer(DiffConfig{IgnoreJSONPaths: []string{"meta.now", "items.*.id"}})
	require.NoError(t, err)
	a := jsonResp(200, `{"user":{"name":"alice","age":30},"items":[{"id":1,"v":"x"},{"id":2,"v":"y"}],"meta":{"now":1,"v":1},"gone":true}`)
	b := jsonResp(200, `{"user":{"name":"alice","age":"30"},"items":[{"id":9,"v":"x"},{"id":8,"v":"z"},{"id":7,"v":"w"}],"meta":{"now":2,"v":1},"new":null}`)
	got := map[string]string{}
	for _, x := range d.Compare(a, b) {
		got[x.Path] = x.Kind
	}
	assert.Equal(t, map[string]string{
		"body.user.age":  "type",
		"body.items":     "size",
		"body.items.1.v": "value",
		"body.gone":      "missing",
		"body.new":       "extra",
	}, got, "ids and meta.now ignored")

	// Status, headers, non-JSON bodies.
	x := Response{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("a")}
	y := Response{Status: 503, Header: http.Header{"Content-Type": {"text/html"}}, Body: []byte("b")}
	var fields []string
	for _, diff := range d.Compare(x, y) {
		fields = append(fields, diff.Field)
	}
	assert.Equal(t, []string{"status", "header.Content-Type", "body"}, fields)
	assert.Empty(t, d.Compare(x, x))
	// Equal JSON with different formatting is equal.
	assert.Empty(t, d.Compare(jsonResp(200, `{"a": [1, 2]}`), jsonResp(200, `{"a":[1,2]}`+"\n")))
	// Big numbers compare exactly.
	assert.Len(t, d.Compare(jsonResp(200, `{"n":9007199254740993}`), jsonResp(200, `{"n":9007199254740992}`)), 1)
}

func TestIgnorePathCoversSubtree(t *testing.T) {
	d, err := NewDiffer(DiffConfig{IgnoreJSONPaths: []string{"debug", "*.trace"}})
	require.NoError(t, err)
	a := jsonResp(200, `{"debug":{"a":1},"x":{"trace":"1","k":1}}`)
	b := jsonResp(200, `{"debug":{"a":2,"b":3},"x":{"trace":"2","k":1}}`)
	assert.Empty(t, d.Compare(a, b))
	_, err = NewDiffer(DiffConfig{IgnoreJSONPaths: []string{""}})
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestTemplatePath(t *testing.T) {
	for in, want := range map[string]string{
		"/users/42":                               "/users/{id}",
		"/users/42/orders/9f86d081":               "/users/{id}/orders/{id}",
		"/u/550e8400-e29b-41d4-a716-446655440000": "/u/{id}",
		"/v2/health":                              "/v2/health",
		"/files/report-2024":                      "/files/report-2024",
		"/t/abcDEF1234567890xyz":                  "/t/{id}",
		"/":                                       "/",
	} {
		assert.Equal(t, want, TemplatePath(in), in)
	}
}

func TestNoiseThresholds(t *testing.T) {
	d, err := NewDiffer(DiffConfig{})
	require.NoError(t, err)
	p := jsonResp(200, `{"a":1,"b":1}`)
	for i := range 100 {
		cand := jsonResp(200, `{"a":2,"b":1}`)   // a differs every time: a regression
		second := jsonResp(200, `{"a":1,"b":1}`) // baseline agrees on a
		if i%2 == 0 {
			cand = jsonResp(200, `{"a":2,"b":2}`)   // b differs half the time...
			second = jsonResp(200, `{"a":1,"b":2}`) // ...and so does the baseline: noise
		}
		d.Observe("GET", "/x/1", p, cand, &second)
	}
	s := d.Summary()
	require.Len(t, s.Endpoints, 1)
	assert.Equal(t, "GET /x/{id}", s.Endpoints[0].Endpoint)
	assert.Equal(t, []string{"GET /x/{id} body.a"}, s.Reported())
	for _, f := range s.Endpoints[0].Fields {
		if f.Field == "body.b" {
			assert.Equal(t, 50, f.Raw)
			assert.Equal(t, 50, f.Noise)
			assert.False(t, f.Reported)
		}
	}
}

func TestRecorderWritesRequestsAndResponses(t *testing.T) {
	dir := t.TempDir()
	f, err := CreateGor(filepath.Join(dir, "rec.gor"), FileConfig{Append: true})
	require.NoError(t, err)
	rec, err := NewRecorder(f, RecorderConfig{Responses: true, MaxBodyBytes: 100,
		Filter: func(r *http.Request) bool { return r.URL.Path != "/skip" }})
	require.NoError(t, err)
	front := httptest.NewServer(rec.Handler(vectorServer("primary", nil)))
	defer front.Close()
	c := front.Client()
	get(t, c, front.URL+"/hello")
	resp, err := c.Post(front.URL+"/echo", "application/json", strings.NewReader(`{"user":"alice","n":1}`))
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp, err = c.Post(front.URL+"/echo", "text/plain", strings.NewReader(strings.Repeat("x", 500)))
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = c.Get(front.URL + "/skip")
	require.NoError(t, err)
	resp.Body.Close()
	// A body containing the separator: the primary is served, the record refused.
	resp, err = c.Post(front.URL+"/echo", "text/plain", strings.NewReader("a"+string(GorSeparator)+"b"))
	require.NoError(t, err)
	resp.Body.Close()
	require.NoError(t, rec.Shutdown(context.Background()))
	require.NoError(t, f.Close())
	st := rec.Stats()
	assert.Equal(t, uint64(5), st.Seen)
	assert.Equal(t, uint64(4), st.Written, "2 exchanges × (request + response)")
	assert.Equal(t, uint64(2), st.Skipped, "filtered and body over the cap")
	assert.Equal(t, uint64(1), st.Refused)

	src, err := OpenGor(filepath.Join(dir, "rec.gor"), ReadConfig{Window: 1, Strict: true})
	require.NoError(t, err)
	defer src.Close()
	recs := readAll(t, src)
	require.Len(t, recs, 4)
	assert.Equal(t, "1212", kinds(recs))
	assert.Equal(t, recs[0].ID, recs[1].ID)
	r, err := recs[2].Request()
	require.NoError(t, err)
	b, _ := io.ReadAll(r.Body)
	assert.Equal(t, `{"user":"alice","n":1}`, string(b))
	resp2, err := recs[3].Response(nil)
	require.NoError(t, err)
	assert.Equal(t, `{"method":"POST","len":22,"body":"{\"user\":\"alice\",\"n\":1}"}`+"\n", string(resp2.Body))

	// Replaying what was recorded against the same code shows no diff.
	src2, err := OpenGor(filepath.Join(dir, "rec.gor"), ReadConfig{})
	require.NoError(t, err)
	defer src2.Close()
	same := httptest.NewServer(vectorServer("primary", nil))
	defer same.Close()
	rep, err := Replay(context.Background(), src2, ReplayConfig{Target: same.URL, Unpaced: true, Compare: &DiffConfig{}})
	require.NoError(t, err)
	assert.Empty(t, rep.Diff.Reported())
	assert.Equal(t, 2, rep.Sent)

	_, err = NewRecorder(nil, RecorderConfig{})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = NewRecorder(f, RecorderConfig{MaxBodyBytes: -1})
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorIs(t, rec.Shutdown(context.Background()), ErrClosed)
}

func TestRecordRequestRoundTrip(t *testing.T) {
	req := httptest.NewRequest("PUT", "http://api.example/a/b?x=1", nil)
	req.Header.Set("X-Token", "t")
	rec, err := RecordRequest(req, "", time.Unix(0, 42), []byte("body"))
	require.NoError(t, err)
	assert.Len(t, rec.ID, 24)
	assert.Equal(t, int64(42), rec.Time)
	back, err := rec.Request()
	require.NoError(t, err)
	assert.Equal(t, "PUT", back.Method)
	assert.Equal(t, "/a/b?x=1", back.URL.RequestURI())
	assert.Equal(t, "api.example", back.Host)
	assert.Equal(t, "t", back.Header.Get("X-Token"))
	b, _ := io.ReadAll(back.Body)
	assert.Equal(t, "body", string(b))
	_, err = RecordRequest(nil, "", time.Now(), nil)
	assert.Error(t, err)
	_, err = Record{ID: "x", Payload: []byte("not http")}.Request()
	assert.Error(t, err)
	_, err = Record{ID: "x", Payload: []byte("not http")}.Response(nil)
	assert.Error(t, err)
}

func TestCorruptGorFileReplayKeepsGoing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "corrupt.gor")
	good, err := os.ReadFile(vector(t, "handwritten-200ms.gor"))
	require.NoError(t, err)
	var buf bytes.Buffer
	buf.Write(good[:len(good)/2]) // cut in the middle of a record
	buf.WriteString("\ngarbage line\n" + string(sepLine))
	buf.WriteString("1 id 1700000000000000000 0\nnot an http request" + string(GorSeparator))
	buf.Write(good)
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o600))
	src, err := OpenGor(p, ReadConfig{})
	require.NoError(t, err)
	defer src.Close()
	srv := newArrivalServer(t)
	rep, err := Replay(context.Background(), src, ReplayConfig{Target: srv.URL, Unpaced: true})
	require.NoError(t, err)
	assert.Equal(t, 6+3, rep.Sent, "the 6 good records plus the 3 before the cut")
	assert.GreaterOrEqual(t, rep.Malformed, 1, "the cut record and the non-HTTP payload are reported")
}

// failingWriter fails every write; blockingWriter holds its first write.
type failingWriter struct{}

func (failingWriter) WriteRecord(Record) error { return errors.New("disk full") }

type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (w *blockingWriter) WriteRecord(Record) error {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return nil
}

// TestRecorderNeverHoldsThePrimary: a writer that fails or blocks costs
// the primary nothing; failures and drops are counted.
func TestRecorderNeverHoldsThePrimary(t *testing.T) {
	t.Run("failing writer", func(t *testing.T) {
		rec, err := NewRecorder(failingWriter{}, RecorderConfig{})
		require.NoError(t, err)
		h := rec.Handler(primaryHandler())
		for i := range 5 {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", fmt.Sprintf("/f/%d", i), nil))
			assert.Equal(t, fmt.Sprintf("primary GET /f/%d 0", i), w.Body.String())
		}
		require.NoError(t, rec.Shutdown(context.Background()))
		st := rec.Stats()
		assert.Equal(t, uint64(5), st.Seen)
		assert.Equal(t, uint64(5), st.Errors)
		assert.Zero(t, st.Written)
	})
	t.Run("blocked writer", func(t *testing.T) {
		bw := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
		rec, err := NewRecorder(bw, RecorderConfig{Queue: 2})
		require.NoError(t, err)
		h := rec.Handler(primaryHandler())
		serve := func(i int) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", fmt.Sprintf("/b/%d", i), nil))
			require.Equal(t, fmt.Sprintf("primary GET /b/%d 0", i), w.Body.String())
		}
		serve(0)
		select { // the writer goroutine now holds record 0
		case <-bw.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("writer never called")
		}
		for i := 1; i < 20; i++ {
			serve(i)
		}
		st := rec.Stats()
		assert.Equal(t, uint64(20), st.Seen)
		assert.Equal(t, uint64(17), st.QueueFull, "1 being written, 2 queued, 17 dropped")
		close(bw.release)
		require.NoError(t, rec.Shutdown(context.Background()))
		assert.Equal(t, uint64(3), rec.Stats().Written)
	})
}
