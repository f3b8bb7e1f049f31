package mirror

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
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

func readFile(t testing.TB, name string, cfg ...ReadConfig) ([]Record, ReadStats) {
	t.Helper()
	f, err := os.Open(vector(t, name))
	require.NoError(t, err)
	defer f.Close()
	var c ReadConfig
	if len(cfg) > 0 {
		c = cfg[0]
	}
	r := NewGorReader(f, c)
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
	src, err := OpenGor(vector(t, "loopback-5.gor.gz"), ReadConfig{Window: 1})
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
	r := NewGorReader(f, ReadConfig{Strict: true})
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
	src, err := OpenGor(vector(t, "chunks/requests-20261124_*.gor"), ReadConfig{})
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
	src, err := OpenGor(vector(t, "bad-timestamp.gor"), ReadConfig{})
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
	out := readAll(t, NewGorReader(bytes.NewReader(buf.Bytes()), ReadConfig{Strict: true}))
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
	r := NewGorReader(&buf, ReadConfig{MaxRecordBytes: 1000})
	_, err := r.Next()
	assert.ErrorIs(t, err, ErrRecordTooLarge)
}

// TestReaderHugeLimit: MaxRecordBytes(math.MaxInt) means no practical
// limit; it must not overflow into a panic or a limit below 64 KiB.
func TestReaderHugeLimit(t *testing.T) {
	var buf bytes.Buffer
	w := NewGorWriter(&buf)
	big := bytes.Repeat([]byte("x"), 200<<10)
	require.NoError(t, w.WriteRecord(Record{Kind: KindRequest, ID: "a", Time: 1, Payload: big}))
	require.NoError(t, w.WriteRecord(Record{Kind: KindResponse, ID: "a", Time: 2, Payload: []byte("ok")}))
	require.NoError(t, w.Flush())
	recs := readAll(t, NewGorReader(&buf, ReadConfig{MaxRecordBytes: math.MaxInt, Strict: true}))
	require.Len(t, recs, 2)
	assert.Equal(t, big, recs[0].Payload)
	assert.Equal(t, "ok", string(recs[1].Payload))
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
	src, err := OpenGor(filepath.Join(dir, "requests-*.gor"), ReadConfig{Window: 1})
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
		src, err := OpenGor(tmpl, ReadConfig{Window: 1})
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
	_, err = OpenGor(filepath.Join(dir, "none-*.gor"), ReadConfig{})
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestOpenGorCorruptGzip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.gor.gz")
	require.NoError(t, os.WriteFile(p, []byte("not gzip at all"), 0o600))
	_, err := OpenGor(p, ReadConfig{})
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
		// Same records, errors, offsets and stats as the Scanner-based
		// reader before issue 8, whatever the read sizes and limit.
		checkAgainstOracle(t, data, 1<<20)
		checkAgainstOracle(t, data, 200)
		r := NewGorReader(bytes.NewReader(data), ReadConfig{MaxRecordBytes: 1 << 20})
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
		back := NewGorReader(&buf, ReadConfig{Strict: true})
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
	r := NewGorReader(nil, ReadConfig{})
	_, err := r.Next()
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "nil io.Reader")
	_, err = r.Next()
	assert.ErrorIs(t, err, ErrInvalid, "stays failed")

	w := NewGorWriter(nil)
	err = w.WriteRecord(Record{Kind: KindRequest, ID: "a", Time: 1, Payload: []byte("GET / HTTP/1.1\r\n\r\n")})
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "nil io.Writer")
	assert.ErrorIs(t, w.Flush(), ErrInvalid)
}

// refEvent is one result of a reader's Next: a record (cloned) or an error.
type refEvent struct {
	rec Record
	err error
}

// refGorRead is the oracle for GorReader: the reader as it was before
// issue 8 made it single-pass (a bufio.Scanner split on the separator with
// bytes.Index, the header split with bytes.Split and numbers parsed with
// strconv), written for clarity, not speed. It returns every event and the
// stats.
func refGorRead(r io.Reader, maxBytes int, strict bool) ([]refEvent, ReadStats) {
	sepLine := GorSeparator[1:]
	tail, adv := false, 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(64<<10, maxBytes)), maxBytes+len(GorSeparator))
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if bytes.HasPrefix(data, sepLine) {
			adv = len(sepLine)
			return adv, data[:0], nil
		}
		if i := bytes.Index(data, GorSeparator); i >= 0 {
			adv = i + len(GorSeparator)
			return adv, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			tail, adv = true, len(data)
			return adv, data, nil
		}
		return 0, nil, nil
	})
	var evs []refEvent
	var st ReadStats
	var off int64 // counts the bytes the split consumed: 13 for a separator line opening a record, not 14
	n := 0
	problem := func(fe *FormatError) {
		if len(st.Problems) < 100 {
			st.Problems = append(st.Problems, fe)
		}
		if strict {
			evs = append(evs, refEvent{err: fe})
		}
	}
	for sc.Scan() {
		tok := sc.Bytes()
		n++
		hdr, payload, hasLF := bytes.Cut(tok, []byte{'\n'})
		header := hdr
		if len(header) > 80 {
			header = header[:80]
		}
		fe := &FormatError{Offset: off, Record: n, Header: string(header)}
		off += int64(adv)
		st.Bytes = off
		if tail {
			st.TruncatedTail = 1
			fe.Err, fe.Hint = ErrTruncatedTail, "the last record was cut short; GoReplay drops it too"
			if bytes.Contains(tok, []byte("\r\n\U0001F435\U0001F648\U0001F649\r\n")) {
				fe.Hint = "the file uses CRLF separators; .gor separators must be LF only (GoReplay reads 0 records from it)"
			}
			problem(fe)
			continue
		}
		fields := bytes.Split(hdr, []byte{' '})
		if len(hdr) == 0 || len(fields) < 3 {
			st.Malformed++
			fe.Err, fe.Hint = ErrMalformedRecord, "a header needs at least: type id timestamp"
			problem(fe)
			continue
		}
		rec := Record{Kind: Kind(hdr[0]), ID: string(fields[1])}
		if hasLF {
			rec.Payload = bytes.Clone(payload)
		}
		for _, f := range fields[min(4, len(fields)):] {
			rec.Extra = append(rec.Extra, string(f))
		}
		ts, err := strconv.ParseInt(string(fields[2]), 10, 64)
		rec.Time = ts
		if len(fields) >= 4 {
			if l, err := strconv.ParseInt(string(fields[3]), 10, 64); err == nil {
				rec.Latency = l // an unparsable latency reads as 0
			}
		}
		if err != nil {
			rec.Time = 0
			st.BadTimestamp++
			fe.Err, fe.Hint = ErrBadTimestamp, "timestamp taken as 0; replay skips gaps longer than ReplayConfig.MaxGap"
			problem(fe)
			if strict {
				continue // the error takes the record's place
			}
		}
		st.Records++
		evs = append(evs, refEvent{rec: rec})
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		evs = append(evs, refEvent{err: ErrRecordTooLarge})
	case err != nil:
		evs = append(evs, refEvent{err: err})
	}
	return evs, st
}

// gorEvents reads r to the end with a GorReader.
func gorEvents(r io.Reader, cfg ReadConfig) ([]refEvent, ReadStats) {
	g := NewGorReader(r, cfg)
	var evs []refEvent
	for i := 0; i < 1<<20; i++ {
		rec, err := g.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			evs = append(evs, refEvent{err: err})
			var fe *FormatError
			if !errors.As(err, &fe) {
				break // a reader error or a record too large ends the stream
			}
			continue
		}
		if rec.Payload != nil {
			rec.Payload = bytes.Clone(rec.Payload)
		}
		evs = append(evs, refEvent{rec: rec})
	}
	return evs, g.Stats()
}

// diffEvents says how got differs from the oracle's want, or "".
func diffEvents(got, want []refEvent, gotSt, wantSt ReadStats) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if (g.err == nil) != (w.err == nil) {
			return fmt.Sprintf("event %d: got err %v, want err %v", i, g.err, w.err)
		}
		if w.err != nil {
			var gfe, wfe *FormatError
			if errors.As(w.err, &wfe) {
				if !errors.As(g.err, &gfe) || *gfe != *wfe {
					return fmt.Sprintf("event %d: got %#v, want %#v", i, g.err, wfe)
				}
			} else if errors.Is(w.err, ErrRecordTooLarge) != errors.Is(g.err, ErrRecordTooLarge) ||
				!strings.Contains(g.err.Error(), w.err.Error()) {
				return fmt.Sprintf("event %d: got error %q, want one wrapping %q", i, g.err, w.err)
			}
			continue
		}
		gr, wr := g.rec, w.rec
		if gr.Kind != wr.Kind || gr.ID != wr.ID || gr.Time != wr.Time || gr.Latency != wr.Latency ||
			strings.Join(gr.Extra, "|") != strings.Join(wr.Extra, "|") || len(gr.Extra) != len(wr.Extra) ||
			!bytes.Equal(gr.Payload, wr.Payload) || (gr.Payload == nil) != (wr.Payload == nil) {
			return fmt.Sprintf("event %d: got record %+v, want %+v", i, gr, wr)
		}
	}
	type counts struct {
		records, malformed, badTS, tail int
		bytes                           int64
	}
	gs := counts{gotSt.Records, gotSt.Malformed, gotSt.BadTimestamp, gotSt.TruncatedTail, gotSt.Bytes}
	ws := counts{wantSt.Records, wantSt.Malformed, wantSt.BadTimestamp, wantSt.TruncatedTail, wantSt.Bytes}
	if gs != ws {
		return fmt.Sprintf("got stats %+v, want %+v", gs, ws)
	}
	if len(gotSt.Problems) != len(wantSt.Problems) {
		return fmt.Sprintf("got %d problems, want %d", len(gotSt.Problems), len(wantSt.Problems))
	}
	for i := range wantSt.Problems {
		if *gotSt.Problems[i] != *wantSt.Problems[i] {
			return fmt.Sprintf("problem %d: got %#v, want %#v", i, gotSt.Problems[i], wantSt.Problems[i])
		}
	}
	return ""
}

// checkAgainstOracle reads data with GorReader through whole, one-byte and
// half-size reads, in both modes, and compares each with refGorRead.
func checkAgainstOracle(t testing.TB, data []byte, maxBytes int) {
	t.Helper()
	for _, strict := range []bool{false, true} {
		want, wantSt := refGorRead(bytes.NewReader(data), maxBytes, strict)
		opts := ReadConfig{MaxRecordBytes: maxBytes, Strict: strict}
		for name, r := range map[string]io.Reader{
			"whole":    bytes.NewReader(data),
			"one-byte": iotest.OneByteReader(bytes.NewReader(data)),
			"half":     iotest.HalfReader(bytes.NewReader(data)),
		} {
			got, gotSt := gorEvents(r, opts)
			if d := diffEvents(got, want, gotSt, wantSt); d != "" {
				t.Fatalf("strict=%v, %s reads, max %d, input %q: %s", strict, name, maxBytes, data, d)
			}
		}
	}
}

// TestReaderMatchesOracle pins the single-pass reader of issue 8 to the
// Scanner-based one before it, on the vectors and on inputs built to hit
// the fast parse path's edges, the separator search's resume points and
// the buffer's growth.
func TestReaderMatchesOracle(t *testing.T) {
	sep := string(GorSeparator)
	sl := string(sepLine)
	var cases = map[string]string{
		"empty":                "",
		"only separator":       sep,
		"sep line first":       sl + "1 a 1 0\nx" + sep,
		"two sep lines":        sl + sl + "1 a 1 0\nx" + sep,
		"sep line mid stream":  "1 a 1 0\nx" + sep + sl + "2 a 2 0\ny" + sep,
		"19-digit ts":          "1 a 1795544480388641089 0\nx" + sep,
		"20-digit ts":          "1 a 17955444803886410890 0\nx" + sep,
		"max int64 ts":         "1 a 9223372036854775807 -1\nx" + sep,
		"over int64 ts":        "1 a 9223372036854775808 -1\nx" + sep,
		"min int64 latency":    "1 a 1 -9223372036854775808\nx" + sep,
		"plus sign":            "1 a +5 +7\nx" + sep,
		"minus only":           "1 a 5 -\nx" + sep,
		"trailing space":       "1 a 5 \nx" + sep,
		"double space":         "1  a 5 0\nx" + sep,
		"no payload LF":        "1 a 5 0" + sep,
		"header only LF":       "1 a 5 0\n" + sep,
		"three fields":         "1 a 5\nx" + sep,
		"two fields":           "1 a\nx" + sep,
		"kind two bytes":       "12 a 5 0\nx" + sep,
		"extra fields":         "3 a 5 7 shadow x\nbody" + sep,
		"letters in ts":        "1 a 5x 0\nx" + sep,
		"letters in latency":   "1 a 5 0x\nx" + sep,
		"CR in header":         "1 a 5 0\r\nx" + sep,
		"LF in id":             "1 a\nb 5 0\nx" + sep,
		"tail":                 "1 a 5 0\nx" + sep + "1 b 6 0\ncut",
		"crlf":                 strings.ReplaceAll("1 a 5 0\nx"+sep, "\n", "\r\n"),
		"partial separator":    "1 a 5 0\nx\n\U0001F435\U0001F648\n" + sep,
		"emoji payload":        "1 a 5 0\n" + strings.Repeat("\U0001F435\U0001F648 \n\U0001F435", 40) + sep + "2 a 6 0\nok" + sep,
		"emoji before sep":     "1 a 5 0\n\U0001F435" + sep,
		"separator minus LF":   "1 a 5 0\nx" + sl[:len(sl)-1],
		"LF LF separator":      "1 a 5 0\nx\n" + sep,
		"big record":           "1 a 5 0\n" + strings.Repeat("y", 3000) + sep + "2 a 6 0\nz" + sep,
		"too big record":       "1 a 5 0\n" + strings.Repeat("y", 5000) + sep + "2 a 6 0\nz" + sep,
		"record at the limit":  "1 a 5 0\n" + strings.Repeat("y", 4096-8) + sep + "2 a 6 0\nz" + sep,
		"record over by one":   "1 a 5 0\n" + strings.Repeat("y", 4096-7) + sep + "2 a 6 0\nz" + sep,
		"tail at the limit":    "1 a 5 0\n" + strings.Repeat("y", 4096+len(sep)-8),
		"long header problem":  strings.Repeat("h", 200) + "\nx" + sep,
		"non-ASCII id":         "1 \xf0\x9f\x90 5 0\nx" + sep,
		"separator in header":  "1 a" + sep + " 5 0\nx" + sep,
		"sep line after LF LF": "1 a 5 0\n\n" + sl + "x" + sep,
		"emoji then plain": strings.Repeat("1 a 5 0\n"+strings.Repeat("\U0001F600", 30)+sep, 20) + // the reader switches to
			strings.Repeat("2 b 6 0\nplain\r\n"+sep, 20) + strings.Repeat("1 c 7 0\n\U0001F600x"+sep, 3) + // bytes.Index for 16
			"1 d 8 0\n" + strings.Repeat("\U0001F600", 30) + sep[:9], // records, then back
		// indexSep keys on 0x89, the last byte of 🙉: hits that are not a
		// separator, alone and in runs long enough to make it fall back.
		"key byte payload": "1 a 5 0\n" + strings.Repeat("\U0001F649\n\U0001F648\U0001F649\nÉ\n", 40) + sep + "2 a 6 0\nok" + sep,
		"key byte then sep": strings.Repeat("1 a 5 0\n"+strings.Repeat("\U0001F649", 100)+sep, 20) +
			strings.Repeat("2 b 6 0\nplain"+sep, 20) + "1 d 8 0\n\U0001F435\U0001F648\U0001F649\n" + sep[:13],
		"key byte at start": "\x89\n" + sep + "1 a 5 0\n\x89" + sep,
		"space first":       "  0 0\n" + sep, // found by FuzzGorReader: the ID is the empty 2nd field
		"space kind":        "  a 5 0\nx" + sep,
		"LF first":          "\n 5 6 0\nx" + sep,
	}
	for _, name := range []string{"loopback-5.gor", "loopback-5-replayed.gor", "edge-cases.gor", "bad-timestamp.gor",
		"crlf-separator.gor", "dummy.gor", "handwritten-200ms.gor", "input-tcp-corrupted.gor"} {
		b, err := os.ReadFile(vector(t, name))
		require.NoError(t, err)
		cases["vector "+name] = string(b)
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			checkAgainstOracle(t, []byte(data), 4096)
			checkAgainstOracle(t, []byte(data), 1<<20)
		})
	}
}

// TestReaderMatchesOracleRandom splices headers, payload pieces and
// separator fragments at random (fixed seed) and compares both readers.
func TestReaderMatchesOracleRandom(t *testing.T) {
	sep := string(GorSeparator)
	pieces := []string{sep, sep, sep, string(sepLine), sep[:7], sep[1:9], "\n", "\r\n", " ", "  ", "-", "+",
		"1 ", "2 ", "3 ", "a1b2c3 ", "0 ", "-1", "1795544480388641089", "99999999999999999999", "9223372036854775808",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\U0001F435", "\U0001F648\U0001F649", "\xf0", "x", strings.Repeat("z", 300),
		"\U0001F649\n", "\x89\n", "\x89", "É", sep[5:], sep[:13]}
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range 400 {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		data := []byte(b.String())
		maxBytes := 1 << 20
		if i%4 == 0 {
			maxBytes = 1 + rng.IntN(600)
		}
		checkAgainstOracle(t, data, maxBytes)
	}
}

// TestReaderReadError: records before a read error are returned, then the
// error itself, wrapped, and io.EOF after it, as with the Scanner before.
func TestReaderReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	data := "1 a 5 0\nx" + string(GorSeparator) + "2 a 6 0\ny" + string(GorSeparator) + "1 b 7 0\ncut"
	r := NewGorReader(io.MultiReader(strings.NewReader(data), iotest.ErrReader(boom)), ReadConfig{Strict: true})
	rec, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, "x", string(rec.Payload))
	rec, err = r.Next()
	require.NoError(t, err)
	assert.Equal(t, "y", string(rec.Payload))
	_, err = r.Next()
	assert.ErrorIs(t, err, ErrTruncatedTail, "the bytes before the error are a cut record")
	_, err = r.Next()
	assert.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, "mirror: read .gor")
	_, err = r.Next()
	assert.Equal(t, io.EOF, err)
	st := r.Stats()
	assert.Equal(t, int64(len(data)), st.Bytes, "every byte read is counted")

	// A reader stuck returning (0, nil) is reported, not looped on.
	_, err = NewGorReader(stuckReader{}, ReadConfig{}).Next()
	assert.ErrorIs(t, err, io.ErrNoProgress)
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

// TestReaderOffsets: Offset and Stats.Bytes count the bytes each record
// took, including a separator line opening a record (13 bytes, no LF).
func TestReaderOffsets(t *testing.T) {
	sep := string(GorSeparator)
	data := string(sepLine) + "x\n" + sep + "1 a 5 0\nbody" + sep + "junk"
	r := NewGorReader(strings.NewReader(data), ReadConfig{})
	rec, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, "body", string(rec.Payload))
	_, err = r.Next()
	assert.Equal(t, io.EOF, err)
	st := r.Stats()
	require.Len(t, st.Problems, 3)
	assert.Equal(t, int64(0), st.Problems[0].Offset, "the empty record before the separator line")
	assert.Equal(t, int64(len(sepLine)), st.Problems[1].Offset, `"x" follows the 13-byte separator line`)
	assert.Equal(t, int64(len(data)-len("junk")), st.Problems[2].Offset, "the tail")
	assert.Equal(t, int64(len(data)), st.Bytes)
}

// TestFieldEnd checks the 8-bytes-at-a-time scan against the byte loop it
// replaces: every length up to 40, every start, a ' ' or '\n' (or none) at
// every position, among bytes that trip naive has-zero tricks (0x00, 0x01,
// 0x80, bytes one off ' ' and '\n', 0xff).
func TestFieldEnd(t *testing.T) {
	naive := func(b []byte, i int) int {
		for ; i < len(b) && b[i] != ' ' && b[i] != '\n'; i++ {
		}
		return i
	}
	fill := []byte{0x00, 0x01, 0x0b, 0x1f, 0x21, 0x80, 0x8a, 0xa0, 0xff, 'a'}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 41 {
		for pos := -1; pos < n; pos++ {
			for _, c := range []byte{' ', '\n'} {
				b := make([]byte, n)
				for k := range b {
					b[k] = fill[rng.IntN(len(fill))]
				}
				if pos >= 0 {
					b[pos] = c
					if pos+1 < n && rng.IntN(2) == 0 {
						b[pos+1+rng.IntN(n-pos-1)] = ' ' // a later match must not win
					}
				}
				for start := 0; start <= n; start++ {
					if got, want := fieldEnd(b, start), naive(b, start); got != want {
						t.Fatalf("fieldEnd(%q, %d) = %d, want %d", b, start, got, want)
					}
				}
			}
		}
	}
}

// TestReaderMatchesOracleIDLengths runs the fast path over IDs of every
// length around the 8-byte steps, with an LF or a second space at each
// place in them.
func TestReaderMatchesOracleIDLengths(t *testing.T) {
	sep := string(GorSeparator)
	var b strings.Builder
	for n := 1; n <= 33; n++ {
		id := strings.Repeat("f", n)
		b.WriteString("1 " + id + " 1795544480388641089 0\nGET / HTTP/1.1\r\n\r\n" + sep)
		for k := 0; k < n; k++ {
			b.WriteString("2 " + id[:k] + "\n" + id[k:] + " 5 0\nx" + sep)
			b.WriteString("2 " + id[:k] + " " + id[k:] + " 5 0\nx" + sep)
		}
	}
	checkAgainstOracle(t, []byte(b.String()), 1<<20)
}
