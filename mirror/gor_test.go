package mirror

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func vector(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join("testdata", "gor", name)
}

func readAll(t testing.TB, r RecordSource) []Record {
	t.Helper()
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out = append(out, rec.Clone())
	}
}

func readFile(t testing.TB, name string, opts ...ReadOption) ([]Record, ReadStats) {
	t.Helper()
	f, err := os.Open(vector(t, name))
	require.NoError(t, err)
	defer f.Close()
	r := NewGorReader(f, opts...)
	recs := readAll(t, r)
	return recs, r.Stats()
}

func kinds(recs []Record) string {
	var b strings.Builder
	for _, r := range recs {
		b.WriteByte(byte(r.Kind))
	}
	return b.String()
}

func TestVectorLoopback5(t *testing.T) {
	recs, st := readFile(t, "loopback-5.gor")
	require.Len(t, recs, 10)
	assert.Equal(t, "1212121212", kinds(recs))
	assert.Zero(t, st.Malformed+st.BadTimestamp+st.TruncatedTail)
	for i := 0; i < 10; i += 2 {
		assert.Equal(t, recs[i].ID, recs[i+1].ID, "response %d shares its request's id", i+1)
		assert.Len(t, recs[i].ID, 24)
		assert.Zero(t, recs[i].Latency)
	}
	assert.Equal(t, "95f846a17f00000153d3af27", recs[0].ID)
	assert.Equal(t, int64(1795544480388641089), recs[0].Time)
	assert.True(t, bytes.HasPrefix(recs[0].Payload, []byte("GET /hello HTTP/1.1\r\nHost: 127.0.0.1:18081\r\n")))
	assert.True(t, bytes.HasSuffix(recs[0].Payload, []byte("\r\n\r\n")), "the LF before the monkeys belongs to the separator")
	assert.True(t, bytes.HasSuffix(recs[1].Payload, []byte("hello from primary\n")))
	assert.True(t, bytes.HasSuffix(recs[2].Payload, []byte(`{"user":"alice","n":1}`)))
	// /slow: 50.4 ms between request and response.
	slow := time.Duration(recs[7].Time - recs[6].Time)
	assert.Equal(t, time.Duration(50414082), slow)
	req, err := recs[2].Request()
	require.NoError(t, err)
	assert.Equal(t, "POST", req.Method)
	assert.Equal(t, "/echo", req.URL.Path)
	body, _ := io.ReadAll(req.Body)
	assert.Equal(t, `{"user":"alice","n":1}`, string(body))
	resp, err := recs[1].Response(nil)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.Status)
	assert.Equal(t, "hello from primary\n", string(resp.Body))
}

func TestVectorGzipMatchesPlain(t *testing.T) {
	plain, _ := readFile(t, "loopback-5.gor")
	src, err := OpenGor(vector(t, "loopback-5.gor.gz"), 1)
	require.NoError(t, err)
	defer src.Close()
	gz := readAll(t, src)
	assert.Equal(t, plain, gz)
}

func TestVectorReplayed(t *testing.T) {
	recs, _ := readFile(t, "loopback-5-replayed.gor")
	require.Len(t, recs, 15)
	assert.Equal(t, "123123123121233", kinds(recs))
	var threes []Record
	for _, r := range recs {
		if r.Kind == KindReplayedResponse {
			threes = append(threes, r)
		}
	}
	require.Len(t, threes, 5)
	for _, r := range threes {
		lat := time.Duration(r.Latency)
		assert.True(t, lat >= 410*time.Microsecond && lat <= 52*time.Millisecond, "latency %v", lat)
	}
	resp, err := threes[0].Response(nil)
	require.NoError(t, err)
	assert.Equal(t, "hello from shadow\n", string(resp.Body))
	// Type 3 arrive out of order: the /slow one after the next request.
	assert.Equal(t, "961846a17f000001092aa4d4", recs[13].ID)
}

func TestVectorEdgeCases(t *testing.T) {
	recs, st := readFile(t, "edge-cases.gor")
	assert.Len(t, recs, 15)
	assert.Equal(t, 1, st.Malformed, "the 'after' fragment of the split record")
	require.NotEmpty(t, st.Problems)
	assert.Equal(t, "after", st.Problems[0].Header)
	assert.ErrorIs(t, st.Problems[0], ErrMalformedRecord)
	// The first request was cut at the separator inside its body.
	assert.True(t, bytes.HasSuffix(recs[0].Payload, []byte("\r\n\r\nbefore")))
	assert.Contains(t, string(recs[0].Payload), "Content-Length: 25")
	// HEAD got no type-2 record: count the request kinds per id.
	var heads, ka []string
	byID := map[string]string{}
	for _, r := range recs {
		byID[r.ID] += string(rune(r.Kind))
		if r.Kind == KindRequest && bytes.HasPrefix(r.Payload, []byte("HEAD ")) {
			heads = append(heads, r.ID)
		}
	}
	require.Len(t, heads, 1)
	assert.Equal(t, "1", byID[heads[0]])
	for id := range byID {
		if strings.HasPrefix(id, "ca3846a17f000001") {
			ka = append(ka, id)
		}
	}
	assert.Len(t, ka, 3, "three keep-alive requests share the first 16 hex digits")
	// Binary PUT body survives.
	for _, r := range recs {
		if bytes.HasPrefix(r.Payload, []byte("PUT ")) {
			req, err := r.Request()
			require.NoError(t, err)
			b, _ := io.ReadAll(req.Body)
			assert.Len(t, b, 512)
		}
	}
}

func TestVectorHandwritten(t *testing.T) {
	recs, st := readFile(t, "handwritten-200ms.gor")
	require.Len(t, recs, 6)
	assert.Zero(t, st.Malformed+st.BadTimestamp+st.TruncatedTail)
	for i, r := range recs {
		assert.Equal(t, "000000000000000000abc00"+string(rune('0'+i)), r.ID)
		assert.Equal(t, int64(1700000000000000000)+int64(i)*200e6, r.Time)
		req, err := r.Request()
		require.NoError(t, err)
		assert.Equal(t, "/hello?i="+string(rune('0'+i)), req.URL.RequestURI())
	}
}

func TestVectorBadTimestamp(t *testing.T) {
	recs, st := readFile(t, "bad-timestamp.gor")
	var paths []string
	for _, r := range recs {
		req, err := r.Request()
		require.NoError(t, err)
		paths = append(paths, req.URL.Path)
	}
	assert.Equal(t, []string{"/three-fields", "/five-fields", "/short-id", "/out-of-order", "/bad-ts"}, paths)
	assert.Equal(t, []string{"extra"}, recs[1].Extra)
	assert.Equal(t, "shortid", recs[2].ID)
	assert.Zero(t, recs[4].Time, "a bad timestamp reads as 0, as in GoReplay")
	assert.Equal(t, 1, st.Malformed)
	assert.Equal(t, 1, st.BadTimestamp)
	assert.Equal(t, 1, st.TruncatedTail)
	require.Len(t, st.Problems, 3)
	assert.ErrorIs(t, st.Problems[0], ErrMalformedRecord)
	assert.ErrorIs(t, st.Problems[1], ErrBadTimestamp)
	assert.ErrorIs(t, st.Problems[2], ErrTruncatedTail)
	assert.Contains(t, st.Problems[2].Header, "aaaaaaaaaaaaaaaaaaaaaaa7")

	// Strict mode turns each into an error, and reading can continue.
	f, err := os.Open(vector(t, "bad-timestamp.gor"))
	require.NoError(t, err)
	defer f.Close()
	r := NewGorReader(f, Strict())
	var errs []error
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var fe *FormatError
			require.True(t, errors.As(err, &fe), "got %T", err)
			errs = append(errs, err)
			continue
		}
		n++
	}
	assert.Equal(t, 4, n)
	require.Len(t, errs, 3)
	assert.ErrorIs(t, errs[0], ErrMalformedRecord)
	assert.ErrorIs(t, errs[1], ErrBadTimestamp)
	assert.ErrorIs(t, errs[2], ErrTruncatedTail)
}

func TestVectorCRLF(t *testing.T) {
	recs, st := readFile(t, "crlf-separator.gor")
	assert.Empty(t, recs, "GoReplay reads 0 records too")
	assert.Equal(t, 1, st.TruncatedTail)
	require.Len(t, st.Problems, 1)
	assert.Contains(t, st.Problems[0].Error(), "CRLF")
}

func TestVectorDummy(t *testing.T) {
	recs, _ := readFile(t, "dummy.gor")
	require.Len(t, recs, 4)
	assert.Equal(t, "1212", kinds(recs))
	for i, r := range recs {
		want := int64(-1)
		if i%2 == 1 {
			want = 1
		}
		assert.Equal(t, want, r.Latency)
	}
	req, err := recs[0].Request()
	require.NoError(t, err)
	assert.Equal(t, "www.w3.org", req.Host)
}

func TestVectorChunks(t *testing.T) {
	plain, _ := readFile(t, "loopback-5.gor")
	counts := []int{4, 4, 2}
	for i, n := range counts {
		recs, _ := readFile(t, filepath.Join("chunks", "requests-20261124_"+string(rune('0'+i))+".gor"))
		assert.Len(t, recs, n)
	}
	src, err := OpenGor(vector(t, "chunks/requests-20261124_*.gor"), 0)
	require.NoError(t, err)
	defer src.Close()
	merged := readAll(t, src)
	assert.Equal(t, plain, merged, "chunks merged by timestamp give the original file")
}

func TestVectorInputTCPCorrupted(t *testing.T) {
	recs, _ := readFile(t, "input-tcp-corrupted.gor")
	require.Len(t, recs, 6)
	for _, r := range recs {
		assert.Equal(t, "000000000000000000abc005", r.ID)
		assert.True(t, bytes.HasSuffix(r.Payload, []byte("\r\n\r\n\n")), "extra LF before SEP")
	}
}

func TestOpenGorMergesOutOfOrder(t *testing.T) {
	recs, _ := readFile(t, "bad-timestamp.gor")
	// bad-timestamp.gor has /out-of-order (ts +50ms) after /short-id (+200ms)
	// and /bad-ts (ts 0) last: the window re-sorts them.
	src, err := OpenGor(vector(t, "bad-timestamp.gor"), 0)
	require.NoError(t, err)
	defer src.Close()
	sorted := readAll(t, src)
	require.Len(t, sorted, len(recs))
	for i := 1; i < len(sorted); i++ {
		assert.LessOrEqual(t, sorted[i-1].Time, sorted[i].Time)
	}
	st := src.Stats()
	assert.Equal(t, 1, st.BadTimestamp)
}

func TestWriterRoundTrip(t *testing.T) {
	in := []Record{
		{Kind: KindRequest, ID: NewID(), Time: 1, Latency: 0, Payload: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{Kind: KindResponse, ID: "abc", Time: 2, Latency: -1, Payload: []byte("HTTP/1.1 200 OK\r\n\r\nline\n")},
		{Kind: KindReplayedResponse, ID: "abc", Time: 3, Latency: 99, Extra: []string{"shadow"}, Payload: []byte{}},
		{Kind: '9', ID: "x", Time: -5, Payload: []byte("\x00\xff binary \n\n")},
		{Kind: KindRequest, ID: "y", Time: 4, Payload: []byte("🐵🙈🙉 not alone on its line")},
	}
	var buf bytes.Buffer
	w := NewGorWriter(&buf)
	for _, r := range in {
		require.NoError(t, w.WriteRecord(r))
	}
	require.NoError(t, w.Flush())
	assert.True(t, bytes.HasSuffix(buf.Bytes(), GorSeparator))
	out := readAll(t, NewGorReader(bytes.NewReader(buf.Bytes()), Strict()))
	require.Len(t, out, len(in))
	for i := range in {
		assert.Equal(t, in[i].Kind, out[i].Kind)
		assert.Equal(t, in[i].ID, out[i].ID)
		assert.Equal(t, in[i].Time, out[i].Time)
		assert.Equal(t, in[i].Latency, out[i].Latency)
		assert.Equal(t, in[i].Extra, out[i].Extra)
		assert.Equal(t, string(in[i].Payload), string(out[i].Payload))
	}
	written, refused := w.Counts()
	assert.Equal(t, 5, written)
	assert.Zero(t, refused)
}

func TestWriterRefusesSeparator(t *testing.T) {
	sep := string(GorSeparator)
	cases := map[string]string{
		"inside":     "before" + sep + "after",
		"at start":   string(sepLine) + "x",
		"at end":     "x" + sep[:len(sep)-1],
		"only emoji": sep[1 : len(sep)-1],
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewGorWriter(&buf)
			err := w.WriteRecord(Record{Kind: KindRequest, ID: "a", Payload: []byte(p)})
			assert.ErrorIs(t, err, ErrSeparatorInPayload)
			require.NoError(t, w.Flush())
			assert.Zero(t, buf.Len(), "nothing written")
		})
	}
	var buf bytes.Buffer
	w := NewGorWriter(&buf)
	assert.ErrorIs(t, w.WriteRecord(Record{Kind: KindRequest, ID: "has space"}), ErrInvalidRecord)
	assert.ErrorIs(t, w.WriteRecord(Record{Kind: KindRequest, ID: ""}), ErrInvalidRecord)
	assert.ErrorIs(t, w.WriteRecord(Record{Kind: ' ', ID: "a"}), ErrInvalidRecord)
	assert.ErrorIs(t, w.WriteRecord(Record{Kind: KindRequest, ID: "a", Extra: []string{"a b"}}), ErrInvalidRecord)
}

func TestReaderTooLarge(t *testing.T) {
	var buf bytes.Buffer
	w := NewGorWriter(&buf)
	require.NoError(t, w.WriteRecord(Record{Kind: KindRequest, ID: "a", Payload: bytes.Repeat([]byte("x"), 5000)}))
	require.NoError(t, w.Flush())
	r := NewGorReader(&buf, MaxRecordBytes(1000))
	_, err := r.Next()
	assert.ErrorIs(t, err, ErrRecordTooLarge)
}

func TestCreateGorChunksNeverOverwrite(t *testing.T) {
	dir := t.TempDir()
	now := func() time.Time { return time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) }
	tmpl := filepath.Join(dir, "requests-%Y%m%d.gor")
	write := func(n int) {
		f, err := CreateGor(tmpl, FileConfig{ChunkRecords: 4, Now: now})
		require.NoError(t, err)
		for i := range n {
			require.NoError(t, f.WriteRecord(Record{Kind: KindRequest, ID: NewID(), Time: int64(i), Payload: []byte("GET / HTTP/1.1\r\n\r\n")}))
		}
		require.NoError(t, f.Close())
	}
	write(10)
	write(3) // a restart continues numbering
	names, _ := filepath.Glob(filepath.Join(dir, "*.gor"))
	sortChunkNames(names)
	var base []string
	for _, n := range names {
		base = append(base, filepath.Base(n))
	}
	assert.Equal(t, []string{"requests-20261124_0.gor", "requests-20261124_1.gor", "requests-20261124_2.gor", "requests-20261124_3.gor"}, base)
	src, err := OpenGor(filepath.Join(dir, "requests-*.gor"), 1)
	require.NoError(t, err)
	defer src.Close()
	assert.Len(t, readAll(t, src), 13)
}

func TestCreateGorAppendNeverTruncates(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.gor", "a.gor.gz"} {
		tmpl := filepath.Join(dir, name)
		for run := 0; run < 2; run++ {
			f, err := CreateGor(tmpl, FileConfig{Append: true})
			require.NoError(t, err)
			for i := range 3 {
				require.NoError(t, f.WriteRecord(Record{Kind: KindRequest, ID: NewID(), Time: int64(i), Payload: []byte("GET / HTTP/1.1\r\n\r\n")}))
			}
			require.NoError(t, f.Close())
		}
		src, err := OpenGor(tmpl, 1)
		require.NoError(t, err)
		assert.Len(t, readAll(t, src), 6, "%s: two runs of 3 records, nothing truncated", name)
		src.Close()
	}
	// The .gz file holds two gzip members and is valid gzip.
	f, err := os.Open(filepath.Join(dir, "a.gor.gz"))
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, zr)
	assert.NoError(t, err)
}

func TestCreateGorTemplateTokens(t *testing.T) {
	dir := t.TempDir()
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC) }
	f, err := CreateGor(filepath.Join(dir, "%Y-%m-%d_%H%M%S-%t-%r.gor"), FileConfig{Append: true, Now: now})
	require.NoError(t, err)
	require.NoError(t, f.WriteRecord(Record{Kind: KindRequest, ID: "abc", Payload: []byte("x")}))
	assert.Equal(t, filepath.Join(dir, "2026-01-02_030405-1-abc.gor"), f.Name())
	require.NoError(t, f.Close())
	assert.Error(t, f.WriteRecord(Record{Kind: KindRequest, ID: "abc"}), "closed")

	_, err = CreateGor(filepath.Join(dir, "missing", "x.gor"), FileConfig{})
	assert.Error(t, err)
	_, err = CreateGor("", FileConfig{})
	assert.Error(t, err)
	_, err = OpenGor(filepath.Join(dir, "none-*.gor"), 0)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestOpenGorCorruptGzip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.gor.gz")
	require.NoError(t, os.WriteFile(p, []byte("not gzip at all"), 0o600))
	_, err := OpenGor(p, 0)
	assert.ErrorContains(t, err, "gzip")
}

func FuzzGorReader(f *testing.F) {
	for _, name := range []string{"loopback-5.gor", "bad-timestamp.gor", "crlf-separator.gor", "dummy.gor", "handwritten-200ms.gor"} {
		b, err := os.ReadFile(vector(f, name))
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(string(sepLine) + "1 a 1 0\nx" + string(GorSeparator)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewGorReader(bytes.NewReader(data), MaxRecordBytes(1<<20))
		var recs []Record
		for i := 0; i < 10000; i++ {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
			recs = append(recs, rec.Clone())
		}
		st := r.Stats()
		if st.Records != len(recs) {
			t.Fatalf("stats say %d records, got %d", st.Records, len(recs))
		}
		// Whatever we read, we can write and read back identically (unless
		// the writer refuses it).
		var buf bytes.Buffer
		w := NewGorWriter(&buf)
		var kept []Record
		for _, rec := range recs {
			if err := w.WriteRecord(rec); err == nil {
				kept = append(kept, rec)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		back := NewGorReader(&buf, Strict())
		for i := range kept {
			got, err := back.Next()
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if got.ID != kept[i].ID || !bytes.Equal(got.Payload, kept[i].Payload) || got.Time != kept[i].Time {
				t.Fatalf("record %d changed: %+v vs %+v", i, got, kept[i])
			}
		}
		if _, err := back.Next(); err != io.EOF {
			t.Fatalf("extra data after round trip: %v", err)
		}
	})
}

// TestNilReaderWriter: a nil io.Reader or io.Writer is an error from the
// first call, not a panic.
func TestNilReaderWriter(t *testing.T) {
	r := NewGorReader(nil)
	_, err := r.Next()
	assert.ErrorIs(t, err, ErrInvalidConfig)
	assert.ErrorContains(t, err, "nil io.Reader")
	_, err = r.Next()
	assert.ErrorIs(t, err, ErrInvalidConfig, "stays failed")

	w := NewGorWriter(nil)
	err = w.WriteRecord(Record{Kind: KindRequest, ID: "a", Time: 1, Payload: []byte("GET / HTTP/1.1\r\n\r\n")})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	assert.ErrorContains(t, err, "nil io.Writer")
	assert.ErrorIs(t, w.Flush(), ErrInvalidConfig)
}
