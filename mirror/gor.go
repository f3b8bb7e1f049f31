package mirror

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"sync"
	"unsafe"
)

// Kind is the type byte that opens a .gor record header.
type Kind byte

// The record kinds GoReplay writes (its proto and output_file code: 1 request,
// 2 original response, 3 replayed response). Other type bytes are read and
// passed on unchanged, as GoReplay does.
const (
	KindRequest          Kind = '1' // a request
	KindResponse         Kind = '2' // the original response to a request (same ID)
	KindReplayedResponse Kind = '3' // a response from a replay or shadow target (same ID)
)

// String returns "request", "response", "replayed-response" or the byte quoted.
func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindResponse:
		return "response"
	case KindReplayedResponse:
		return "replayed-response"
	}
	return strconv.QuoteRune(rune(k))
}

// GorSeparator is the 14-byte record terminator of .gor files: LF, the three
// monkey emoji, LF. It must be LF only; GoReplay reads 0 records from a file
// written with CRLF.
var GorSeparator = []byte("\n\U0001F435\U0001F648\U0001F649\n")

// sepLine is the separator without its leading LF: the line that closes a record.
var sepLine = GorSeparator[1:]

// Sentinel errors of the .gor reader and writer.
var (
	// ErrSeparatorInPayload is returned by writers for a payload that contains
	// the record separator: GoReplay would split such a record in two. It
	// also matches ErrInvalid.
	ErrSeparatorInPayload error = &invalidError{"mirror: payload contains the .gor record separator"}
	// ErrMalformedRecord is wrapped by *FormatError for a record whose header
	// has fewer than 3 space-separated fields.
	ErrMalformedRecord = errors.New("mirror: malformed .gor record")
	// ErrBadTimestamp is wrapped by *FormatError for a record whose timestamp
	// field is not a decimal int64.
	ErrBadTimestamp = errors.New("mirror: bad .gor timestamp")
	// ErrTruncatedTail is wrapped by *FormatError for bytes after the last
	// separator (a record cut short, or a file written with CRLF separators).
	ErrTruncatedTail = errors.New("mirror: .gor file ends without a record separator")
	// ErrRecordTooLarge is returned when a record exceeds the reader's MaxRecordBytes.
	ErrRecordTooLarge = errors.New("mirror: .gor record larger than the reader's limit")
	// ErrInvalidRecord is returned by writers for a record whose header cannot
	// be written (empty ID, ID with a space or LF, Kind that is a space or LF).
	// It also matches ErrInvalid.
	ErrInvalidRecord error = &invalidError{"mirror: invalid .gor record"}
)

// invalidError is a narrower sentinel that also matches ErrInvalid, for
// bad input that callers may want to tell apart. The reader's format
// sentinels (ErrMalformedRecord, ErrBadTimestamp, ErrTruncatedTail,
// ErrRecordTooLarge) describe the data read, not the call, so they do not.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalid }

// FormatError describes one problem found in a .gor stream. Offset is the
// byte offset of the record (in the decompressed stream), Record its 1-based
// position counting every separated chunk.
type FormatError struct {
	Offset int64
	Record int
	Header string // the header line, cut to 80 bytes
	Err    error  // ErrMalformedRecord, ErrBadTimestamp or ErrTruncatedTail
	Hint   string // how to fix it, if known
}

// Error implements error.
func (e *FormatError) Error() string {
	s := fmt.Sprintf("%v: record %d at byte %d (header %q)", e.Err, e.Record, e.Offset, e.Header)
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// Unwrap returns the sentinel.
func (e *FormatError) Unwrap() error { return e.Err }

// Record is one .gor record. Payload is a raw HTTP/1.x message.
type Record struct {
	Kind    Kind
	ID      string   // opaque token; a response shares its request's ID. NewID makes 24 lowercase hex.
	Time    int64    // Unix ns: capture time (types 1, 2) or send time (type 3)
	Latency int64    // ns: GoReplay writes 0, -1, a packet span, or the round trip for type 3
	Extra   []string // header fields after latency; GoReplay ignores them. mirror writes the target name here on type 3.
	Payload []byte
}

// Clone returns a deep copy of r (Payload and Extra included).
func (r Record) Clone() Record {
	c := r
	c.Payload = append([]byte(nil), r.Payload...)
	if r.Extra != nil {
		c.Extra = append([]string(nil), r.Extra...)
	}
	return c
}

// NewID returns a random 24-lowercase-hex record ID (12 bytes), the form
// GoReplay writes.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+ doc)
	return hex.EncodeToString(b[:])
}

// ReadStats counts what a GorReader met so far. Problems keeps the first 100
// problems in detail.
type ReadStats struct {
	Records       int   // records returned
	Bytes         int64 // bytes consumed (decompressed)
	Malformed     int   // records skipped: fewer than 3 header fields
	BadTimestamp  int   // records returned with Time 0 because the timestamp did not parse
	TruncatedTail int   // 1 if the stream ended with bytes after the last separator
	Problems      []*FormatError
}

// ReadConfig configures NewGorReader and OpenGor. Zero values mean the
// documented defaults.
type ReadConfig struct {
	// Strict makes the reader return a *FormatError for a malformed record,
	// a bad timestamp or a truncated tail, instead of skipping or repairing
	// it the way GoReplay does (the default, compatible mode).
	Strict bool
	// MaxRecordBytes is the largest record the reader accepts (default
	// 64 MiB; GoReplay itself cuts payloads at 5 MiB). Negative is an error.
	MaxRecordBytes int
	// Window is OpenGor's look-ahead per file, in records (default 100,
	// GoReplay's): mildly out-of-order records are re-sorted by timestamp
	// within it. 1 keeps file order. Negative is an error. NewGorReader
	// ignores it.
	Window int
}

func (c ReadConfig) validate() error {
	if c.MaxRecordBytes < 0 {
		return fmt.Errorf("%w: ReadConfig.MaxRecordBytes %d is negative (0 means 64 MiB)", ErrInvalid, c.MaxRecordBytes)
	}
	if c.Window < 0 {
		return fmt.Errorf("%w: ReadConfig.Window %d is negative (0 means 100 records, 1 keeps file order)", ErrInvalid, c.Window)
	}
	return nil
}

type readOptions struct {
	strict   bool
	maxBytes int
}

const defaultMaxRecordBytes = 64 << 20

// GorReader reads records from a .gor stream (plain; use OpenGor or wrap in
// gzip.Reader for .gz). In the default compatible mode it reads exactly the
// records GoReplay reads, and counts in Stats what GoReplay hides. It is not
// safe for concurrent use.
//
// It keeps its own buffer rather than a bufio.Scanner: the separator search
// resumes where the last one stopped instead of rescanning a partial record
// after each read, and the common header is parsed in the same buffer with
// one byte loop.
type GorReader struct {
	r      io.Reader
	buf    []byte // buf[start:end] is read and not yet consumed; allocated on first read
	start  int
	end    int
	from   int   // index in buf where the separator search resumes (no separator starts in buf[start:from])
	plain  int   // records left to search with plain bytes.Index after indexSep fell back
	rerr   error // first error from r (io.EOF at the end); data before it is still split
	opts   readOptions
	stats  ReadStats
	off    int64
	n      int
	closed bool
	ids    idArena
	err    error // set by NewGorReader for a nil reader
}

// NewGorReader returns a reader of the .gor records in r, configured by
// cfg. The caller keeps ownership of r. A nil r or an invalid cfg gives a
// reader whose Next returns an error wrapping ErrInvalid (so a reader can
// be built inline, as bufio.NewScanner is).
func NewGorReader(r io.Reader, cfg ReadConfig) *GorReader {
	g := &GorReader{opts: readOptions{strict: cfg.Strict, maxBytes: cfg.MaxRecordBytes}}
	if g.opts.maxBytes == 0 {
		g.opts.maxBytes = defaultMaxRecordBytes
	}
	if err := cfg.validate(); err != nil {
		g.err = fmt.Errorf("NewGorReader: %w", err)
		r = eofReader{}
	}
	if r == nil {
		g.err = fmt.Errorf("%w: NewGorReader: nil io.Reader (pass an *os.File, a gzip.Reader, or use OpenGor)", ErrInvalid)
		r = eofReader{}
	}
	g.r = r
	return g
}

// sepLineStr is sepLine as a constant, so comparing against it compiles to
// plain loads.
const sepLineStr = "\U0001F435\U0001F648\U0001F649\n"

// errTooLong is token's report of a record larger than MaxRecordBytes.
var errTooLong = errors.New("mirror: .gor record too long")

// maxEmptyReads is how many (0, nil) reads in a row count as a stuck
// reader, as in bufio.Scanner.
const maxEmptyReads = 100

// token returns the next separated chunk and the number of bytes it
// consumed, like GoReplay's line reader: a record is everything up to a line
// equal to "🐵🙈🙉\n", minus the LF before it; a separator line at the very
// start of a record gives an empty one. tail is true for the bytes after the
// last separator at the end of the stream. err is io.EOF at the end,
// errTooLong, or the reader's error once the data before it is used up.
func (g *GorReader) token() (tok []byte, adv int, tail bool, err error) {
	for {
		data := g.buf[g.start:g.end]
		if len(data) >= len(sepLineStr) && string(data[:len(sepLineStr)]) == sepLineStr {
			g.start += len(sepLineStr)
			g.from = g.start
			return data[:0], len(sepLineStr), false, nil
		}
		from := max(g.from, g.start)
		var i int
		if g.plain > 0 {
			if i = bytes.Index(g.buf[from:g.end], GorSeparator); i >= 0 {
				i += from
			}
		} else {
			var fellBack bool
			if i, fellBack = indexSep(g.buf[:g.end], from); fellBack {
				// Bodies full of 4-byte UTF-8 (emoji text): skip the
				// 0xF0 search for a while, then try it again.
				g.plain = plainRecords
			}
		}
		if i >= 0 {
			g.plain = max(g.plain-1, 0)
			adv = i - g.start + len(GorSeparator)
			tok = data[:i-g.start]
			g.start = i + len(GorSeparator)
			g.from = g.start
			return tok, adv, false, nil
		}
		// Every separator that fits in buf[:end] has been ruled out; the
		// next search starts where a separator could still be completed.
		g.from = max(g.from, g.start, g.end-len(GorSeparator)+1)
		if g.rerr != nil {
			if len(data) == 0 {
				return nil, 0, false, g.rerr
			}
			g.start, g.from = g.end, g.end
			return data, len(data), true, nil
		}
		if err := g.fill(); err != nil {
			return nil, 0, false, err
		}
	}
}

// fill reads more input after the unconsumed bytes, moving them to the
// front or growing the buffer (up to MaxRecordBytes plus a separator) as
// needed. It returns errTooLong when a full buffer holds no separator; read
// errors are kept in g.rerr.
func (g *GorReader) fill() error {
	limit := g.opts.maxBytes
	if limit <= math.MaxInt-len(GorSeparator) { // MaxRecordBytes(math.MaxInt) must not wrap
		limit += len(GorSeparator)
	}
	if g.buf == nil {
		g.buf = make([]byte, min(64<<10, limit))
	}
	if g.start > 0 && (g.end == len(g.buf) || g.start > len(g.buf)/2) {
		copy(g.buf, g.buf[g.start:g.end])
		g.end -= g.start
		g.from -= g.start
		g.start = 0
	}
	if g.end == len(g.buf) {
		if len(g.buf) >= limit {
			return errTooLong
		}
		nb := make([]byte, min(2*len(g.buf), limit))
		copy(nb, g.buf[g.start:g.end])
		g.end -= g.start
		g.from -= g.start
		g.start = 0
		g.buf = nb
	}
	for empty := 0; ; {
		n, err := g.r.Read(g.buf[g.end:])
		if n < 0 || n > len(g.buf)-g.end {
			g.rerr = fmt.Errorf("reader returned an impossible count %d for a %d-byte buffer", n, len(g.buf)-g.end)
			return nil
		}
		g.end += n
		if err != nil {
			g.rerr = err
			return nil
		}
		if n > 0 {
			return nil
		}
		if empty++; empty > maxEmptyReads {
			g.rerr = io.ErrNoProgress
			return nil
		}
	}
}

// plainRecords is how many records the reader searches with bytes.Index
// after indexSep had to fall back to it.
const plainRecords = 16

// sepKey is the index in GorSeparator of the byte indexSep looks for: 0x89,
// the last byte of 🙉, just before the closing LF. HTTP heads never contain
// it, and UTF-8 text rarely does: it is a continuation byte of 1 emoji in
// 64 (😀 is F0 9F 98 80), of É and щ, of no common Latin or Cyrillic letter.
// The separator's first emoji byte (0xF0) starts every emoji, so an
// emoji-heavy body made each record a run of false hits.
const sepKey = len(gorSepStr) - 2

// gorSepStr is GorSeparator as a constant.
const gorSepStr = "\n" + sepLineStr

// indexSep returns the index of the first GorSeparator in s at or after
// from, or -1. It looks for GorSeparator[sepKey] with IndexByte and checks
// the bytes around each hit, so a typical record costs one IndexByte run
// instead of a stop at every LF as in bytes.Index; after many false hits
// it hands the rest to bytes.Index and reports fellBack.
func indexSep(s []byte, from int) (i int, fellBack bool) {
	const n = len(gorSepStr)
	q := from + sepKey // candidate position of the key byte
	fails := 0
	for q+2 <= len(s) {
		j := bytes.IndexByte(s[q:len(s)-1], gorSepStr[sepKey])
		if j < 0 {
			return -1, false
		}
		q += j
		if s[q+1] == '\n' && string(s[q-sepKey:q-sepKey+n]) == gorSepStr {
			return q - sepKey, false
		}
		q++
		if fails++; fails > 4+(q-from)>>4 {
			// Separators starting before q-sepKey are ruled out.
			if k := bytes.Index(s[q-sepKey:], GorSeparator); k >= 0 {
				return q - sepKey + k, true
			}
			return -1, true
		}
	}
	return -1, false
}

// Next returns the next record, or io.EOF at the end. Payload aliases the
// reader's buffer and is valid only until the next call to Next: use
// Record.Clone to keep it (this saves a copy per record; OpenGor's sources
// return clones). ID and Extra are ordinary strings that stay valid. In
// compatible mode malformed records and a truncated tail are skipped and
// counted; in Strict mode they are returned as *FormatError (reading may
// continue after a malformed record or bad timestamp). A read error from
// the underlying reader is returned, wrapped, after the records before it.
func (g *GorReader) Next() (Record, error) {
	if g.err != nil {
		return Record{}, g.err
	}
	for {
		if g.closed {
			return Record{}, io.EOF
		}
		tok, adv, tail, err := g.token()
		if err != nil {
			g.closed = true
			switch {
			case err == io.EOF:
				return Record{}, io.EOF
			case err == errTooLong:
				return Record{}, fmt.Errorf("%w (%d bytes) at byte %d: raise it with ReadConfig.MaxRecordBytes", ErrRecordTooLarge, g.opts.maxBytes, g.off)
			}
			return Record{}, fmt.Errorf("mirror: read .gor: %w", err)
		}
		off := g.off
		g.off += int64(adv)
		g.stats.Bytes = g.off
		g.n++
		if tail {
			g.stats.TruncatedTail = 1
			fe := &FormatError{Offset: off, Record: g.n, Header: headerOf(tok), Err: ErrTruncatedTail,
				Hint: "the last record was cut short; GoReplay drops it too"}
			if bytes.Contains(tok, []byte("\r\n\U0001F435\U0001F648\U0001F649\r\n")) {
				fe.Hint = "the file uses CRLF separators; .gor separators must be LF only (GoReplay reads 0 records from it)"
			}
			g.problem(fe)
			if g.opts.strict {
				return Record{}, fe
			}
			continue
		}
		if idEnd, ts, lat, body, ok := parseFast(tok); ok {
			rec := Record{Kind: Kind(tok[0]), ID: g.ids.str(tok[2:idEnd]), Time: ts, Latency: lat}
			if body >= 0 {
				rec.Payload = tok[body:]
			}
			g.stats.Records++
			return rec, nil
		}
		var rec Record
		if perr := parseGeneral(tok, &rec, &g.ids); perr != nil {
			if perr == ErrMalformedRecord {
				g.stats.Malformed++
				fe := &FormatError{Offset: off, Record: g.n, Header: headerOf(tok), Err: ErrMalformedRecord,
					Hint: "a header needs at least: type id timestamp"}
				g.problem(fe)
				if g.opts.strict {
					return Record{}, fe
				}
				continue
			}
			// bad timestamp: GoReplay uses 0; we do too, and report it.
			g.stats.BadTimestamp++
			fe := &FormatError{Offset: off, Record: g.n, Header: headerOf(tok), Err: ErrBadTimestamp,
				Hint: "timestamp taken as 0; replay skips gaps longer than ReplayConfig.MaxGap"}
			g.problem(fe)
			if g.opts.strict {
				return Record{}, fe
			}
		}
		g.stats.Records++
		return rec, nil
	}
}

func (g *GorReader) problem(fe *FormatError) {
	if len(g.stats.Problems) < 100 {
		g.stats.Problems = append(g.stats.Problems, fe)
	}
}

// Stats returns what the reader has counted so far (a copy).
func (g *GorReader) Stats() ReadStats {
	s := g.stats
	s.Problems = append([]*FormatError(nil), g.stats.Problems...)
	return s
}

func headerOf(tok []byte) string {
	h := tok
	if i := bytes.IndexByte(h, '\n'); i >= 0 {
		h = h[:i]
	}
	if len(h) > 80 {
		h = h[:80]
	}
	return string(h)
}

// parseFast reads the common header "K id ts [lat]\n" with plain decimal
// numbers in one byte loop over the chunk (no search for the LF first, no
// copies). It returns the end of the ID (which starts at 2), the numbers,
// and the start of the payload (-1 if the chunk has no LF). ok is false for
// anything else (extra fields, signs, empty fields, numbers of 20 digits or
// more): parseGeneral, which defines the semantics, reads those. Returning
// plain ints keeps Record assembly in Next, on its stack.
func parseFast(tok []byte) (idEnd int, ts, lat int64, body int, ok bool) {
	n := len(tok)
	// tok[0] is the whole first field only if it is not itself a separator.
	if n < 5 || tok[1] != ' ' || tok[0] == ' ' || tok[0] == '\n' {
		return 0, 0, 0, 0, false
	}
	i := fieldEnd(tok, 2)
	if i == 2 || i == n || tok[i] != ' ' {
		return 0, 0, 0, 0, false
	}
	idEnd = i
	if ts, i, ok = digits(tok, i+1); !ok {
		return 0, 0, 0, 0, false
	}
	if i < n && tok[i] == ' ' {
		neg := i+1 < n && tok[i+1] == '-'
		if neg {
			i++
		}
		if lat, i, ok = digits(tok, i+1); !ok {
			return 0, 0, 0, 0, false
		}
		if neg {
			lat = -lat
		}
	}
	if i == n {
		return idEnd, ts, lat, -1, true
	}
	if tok[i] != '\n' {
		return 0, 0, 0, 0, false
	}
	return idEnd, ts, lat, i + 1, true
}

// fieldEnd returns the index of the first ' ' or '\n' in b at or after i,
// or len(b). It tests 8 bytes per step (a 24-hex ID in 3 or 4) with the
// has-zero-byte trick: (y - 0x01..) &^ y & 0x80.. flags the lowest zero
// byte of y exactly (bytes above it may be flagged falsely, below never),
// so the lowest flag of either mask is the first match.
func fieldEnd(b []byte, i int) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		sp, lf := x^(lo*' '), x^(lo*'\n')
		if m := ((sp - lo) &^ sp & hi) | ((lf - lo) &^ lf & hi); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b) && b[i] != ' ' && b[i] != '\n'; i++ {
	}
	return i
}

// digits reads 1 to 19 decimal digits from b[i:] and returns their value
// and the index after them; ok is false for no digit or a value above
// MaxInt64.
func digits(b []byte, i int) (v int64, end int, ok bool) {
	var u uint64
	d := i
	for ; i < len(b) && i-d < 19; i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		u = u*10 + uint64(c)
	}
	if i == d || u > 1<<63-1 {
		return 0, i, false
	}
	return int64(u), i, true
}

// parseGeneral parses one separated chunk with the semantics GoReplay's
// header split gives: fields separated by single spaces (a double space
// gives an empty field), at least three of them, Kind the first byte. It
// returns ErrMalformedRecord (rec not usable) or ErrBadTimestamp (rec with
// Time 0). ids, if not nil, stores the ID string.
func parseGeneral(tok []byte, rec *Record, ids *idArena) error {
	hdr, payload := tok, []byte(nil)
	if i := bytes.IndexByte(tok, '\n'); i >= 0 {
		hdr, payload = tok[:i], tok[i+1:]
	}
	var fields [4][]byte
	nf := 0
	var extra []string
	start := 0
	for i := 0; i <= len(hdr); i++ {
		if i < len(hdr) && hdr[i] != ' ' {
			continue
		}
		f := hdr[start:i]
		if nf < 4 {
			fields[nf] = f
		} else {
			extra = append(extra, string(f))
		}
		nf++
		start = i + 1
	}
	if nf < 3 || len(hdr) == 0 {
		return ErrMalformedRecord
	}
	*rec = Record{Kind: Kind(hdr[0]), Extra: extra, Payload: payload}
	if ids != nil {
		rec.ID = ids.str(fields[1])
	} else {
		rec.ID = string(fields[1])
	}
	var err error
	if ts, ok := parseInt(fields[2]); ok {
		rec.Time = ts
	} else {
		err = ErrBadTimestamp
	}
	if nf >= 4 {
		if l, ok := parseInt(fields[3]); ok {
			rec.Latency = l
		}
	}
	return err
}

// parseInt is strconv.ParseInt(s, 10, 64) without the string conversion
// for up to 19 digits (every Unix-ns timestamp).
func parseInt(b []byte) (int64, bool) {
	neg := false
	d := b
	if len(d) > 0 && (d[0] == '-' || d[0] == '+') {
		neg = d[0] == '-'
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 19 {
		v, err := strconv.ParseInt(string(b), 10, 64)
		return v, err == nil
	}
	var v uint64 // 19 digits fit in uint64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// idArena stores record IDs in shared append-only chunks: one allocation
// per ~4 KiB of IDs instead of one per record. Bytes written are never
// changed, so the strings stay immutable; a chunk lives as long as any ID
// in it.
type idArena struct{ buf []byte }

func (a *idArena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 256 {
		return string(b)
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, 4096)
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}

// RecordWriter is what recorders, shadows and replays write records to.
// *GorWriter and *GorFile implement it; implementations must be safe for
// concurrent use.
type RecordWriter interface {
	WriteRecord(Record) error
}

// GorWriter writes records in GoReplay's byte format to an io.Writer through
// a buffer. It is safe for concurrent use. The caller owns the underlying
// writer; call Flush before closing it.
type GorWriter struct {
	mu      sync.Mutex
	bw      *bufio.Writer
	hdr     []byte
	refused int
	written int
	bytes   int64
	err     error // set by NewGorWriter for a nil writer
}

// NewGorWriter returns a writer of .gor records to w. A nil w gives a
// writer whose WriteRecord and Flush return an error wrapping ErrInvalid.
func NewGorWriter(w io.Writer) *GorWriter {
	if w == nil {
		return &GorWriter{err: fmt.Errorf("%w: NewGorWriter: nil io.Writer (pass an *os.File or use CreateGor)", ErrInvalid)}
	}
	return &GorWriter{bw: bufio.NewWriterSize(w, 64<<10)}
}

// eofReader is the reader behind a GorReader made with a nil io.Reader.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// WriteRecord writes rec as `type id time latency [extra...]\n payload SEP`.
// It returns ErrSeparatorInPayload (and writes nothing) for a payload that
// GoReplay would read differently, and ErrInvalidRecord for an unwritable
// header. The record may sit in the buffer until Flush.
func (w *GorWriter) WriteRecord(rec Record) error {
	if w.err != nil {
		return w.err
	}
	if err := validateRecord(rec); err != nil {
		w.mu.Lock()
		w.refused++
		w.mu.Unlock()
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hdr = appendHeader(w.hdr[:0], rec)
	n1, err := w.bw.Write(w.hdr)
	if err != nil {
		return fmt.Errorf("mirror: write .gor: %w", err)
	}
	n2, err := w.bw.Write(rec.Payload)
	if err != nil {
		return fmt.Errorf("mirror: write .gor: %w", err)
	}
	n3, err := w.bw.Write(GorSeparator)
	if err != nil {
		return fmt.Errorf("mirror: write .gor: %w", err)
	}
	w.written++
	w.bytes += int64(n1 + n2 + n3)
	return nil
}

// Flush writes buffered records to the underlying writer.
func (w *GorWriter) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("mirror: flush .gor: %w", err)
	}
	return nil
}

// Counts returns the number of records written and refused so far.
func (w *GorWriter) Counts() (written, refused int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written, w.refused
}

func appendHeader(b []byte, rec Record) []byte {
	b = append(b, byte(rec.Kind), ' ')
	b = append(b, rec.ID...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, rec.Time, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, rec.Latency, 10)
	for _, e := range rec.Extra {
		b = append(b, ' ')
		b = append(b, e...)
	}
	return append(b, '\n')
}

// validateRecord refuses what would not read back as the same record.
func validateRecord(rec Record) error {
	if rec.Kind == ' ' || rec.Kind == '\n' || rec.Kind == 0 {
		return fmt.Errorf("%w: kind %q (use KindRequest, KindResponse or KindReplayedResponse)", ErrInvalidRecord, byte(rec.Kind))
	}
	if rec.ID == "" || bytes.ContainsAny([]byte(rec.ID), " \n") {
		return fmt.Errorf("%w: id %q must be non-empty without spaces or newlines (NewID makes one)", ErrInvalidRecord, rec.ID)
	}
	for _, e := range rec.Extra {
		if e == "" || bytes.ContainsAny([]byte(e), " \n") {
			return fmt.Errorf("%w: extra header field %q must be non-empty without spaces or newlines", ErrInvalidRecord, e)
		}
	}
	p := rec.Payload
	// On disk the payload sits between the header's LF and the separator, so
	// it must not contain SEP, start with the separator line, or end with
	// the separator minus its last LF.
	if bytes.Contains(p, GorSeparator) || bytes.HasPrefix(p, sepLine) ||
		bytes.HasSuffix(p, GorSeparator[:len(GorSeparator)-1]) ||
		bytes.Equal(p, GorSeparator[1:len(GorSeparator)-1]) {
		return ErrSeparatorInPayload
	}
	return nil
}
