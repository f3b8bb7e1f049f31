package mirror

import (
	"bufio"
	"compress/gzip"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RecordSource yields records until io.EOF. *GorReader, *GorSource and the
// value of Records implement it. A record's Payload may be valid only until
// the next call to Next (Record.Clone keeps it).
type RecordSource interface {
	Next() (Record, error)
}

// Resetter is a RecordSource that can start again from the beginning;
// Replay needs it for Loops other than 1.
type Resetter interface {
	Reset() error
}

// Records returns a RecordSource over recs (not copied), resettable for loops.
func Records(recs []Record) RecordSource { return &sliceSource{recs: recs} }

type sliceSource struct {
	recs []Record
	i    int
}

func (s *sliceSource) Next() (Record, error) {
	if s.i >= len(s.recs) {
		return Record{}, io.EOF
	}
	s.i++
	return s.recs[s.i-1], nil
}

func (s *sliceSource) Reset() error { s.i = 0; return nil }

// GorSource reads one or more .gor files (plain or gzip) merged in timestamp
// order, as GoReplay's --input-file does: each file is read through a
// look-ahead window (default 100 records) so mildly out-of-order records are
// re-sorted. It owns the files it opens; Close closes them. Not safe for
// concurrent use.
type GorSource struct {
	paths []string
	depth int
	cfg   ReadConfig
	files []*fileCursor
	stats ReadStats
}

type fileCursor struct {
	f    *os.File
	gz   *gzip.Reader
	r    *GorReader
	win  recHeap
	done bool
	seq  int
}

type seqRec struct {
	Record
	seq int
}

type recHeap []seqRec

func (h recHeap) Len() int { return len(h) }
func (h recHeap) Less(i, j int) bool {
	if h[i].Time != h[j].Time {
		return h[i].Time < h[j].Time
	}
	return h[i].seq < h[j].seq
}
func (h recHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *recHeap) Push(x any)   { *h = append(*h, x.(seqRec)) }
func (h *recHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// OpenGor opens the files matching pattern (a filepath.Glob pattern or a
// plain path), sorted by name with chunk indexes in numeric order. A name
// ending in ".gz", or a file starting with the gzip magic, is decompressed.
// cfg.Window sets the per-file look-ahead (default 100, GoReplay's; 1 keeps
// file order).
func OpenGor(pattern string, cfg ReadConfig) (*GorSource, error) {
	if pattern == "" {
		return nil, fmt.Errorf("%w: OpenGor: empty pattern (want a path or a glob such as \"requests_*.gor\")", ErrInvalid)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("OpenGor: %w", err)
	}
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("mirror: OpenGor %q: %w", pattern, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("mirror: OpenGor %q: no file matches: %w", pattern, os.ErrNotExist)
	}
	sortChunkNames(paths)
	depth := cfg.Window
	if depth == 0 {
		depth = 100
	}
	s := &GorSource{paths: paths, depth: depth, cfg: cfg}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *GorSource) open() error {
	for _, p := range s.paths {
		f, err := os.Open(p)
		if err != nil {
			s.Close()
			return fmt.Errorf("mirror: OpenGor: %w", err)
		}
		fc := &fileCursor{f: f}
		br := bufio.NewReaderSize(f, 64<<10)
		var r io.Reader = br
		magic, _ := br.Peek(2)
		if strings.HasSuffix(p, ".gz") || (len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
			gz, err := gzip.NewReader(br)
			if err != nil {
				f.Close()
				s.Close()
				return fmt.Errorf("mirror: OpenGor %s: gzip: %w", p, err)
			}
			fc.gz = gz
			r = gz
		}
		fc.r = NewGorReader(r, s.cfg)
		s.files = append(s.files, fc)
	}
	return nil
}

// fill tops up a file's window; it returns a reader error other than EOF.
func (s *GorSource) fill(fc *fileCursor) error {
	for !fc.done && len(fc.win) < s.depth {
		rec, err := fc.r.Next()
		if err == io.EOF {
			fc.done = true
			break
		}
		if err != nil {
			return err
		}
		fc.seq++
		heap.Push(&fc.win, seqRec{Record: rec.Clone(), seq: fc.seq})
	}
	return nil
}

// Next returns the earliest record among the files' windows, or io.EOF.
func (s *GorSource) Next() (Record, error) {
	var best *fileCursor
	for _, fc := range s.files {
		if err := s.fill(fc); err != nil {
			return Record{}, err
		}
		if len(fc.win) == 0 {
			continue
		}
		if best == nil || fc.win[0].Time < best.win[0].Time {
			best = fc
		}
	}
	if best == nil {
		return Record{}, io.EOF
	}
	r := heap.Pop(&best.win).(seqRec)
	return r.Record, nil
}

// Stats sums the readers' statistics.
func (s *GorSource) Stats() ReadStats {
	out := s.stats
	for _, fc := range s.files {
		st := fc.r.Stats()
		out.Records += st.Records
		out.Bytes += st.Bytes
		out.Malformed += st.Malformed
		out.BadTimestamp += st.BadTimestamp
		out.TruncatedTail += st.TruncatedTail
		out.Problems = append(out.Problems, st.Problems...)
	}
	return out
}

// Reset reopens the files from the start (used by Replay loops). Counts
// from earlier passes are kept in Stats.
func (s *GorSource) Reset() error {
	s.stats = s.Stats()
	s.Close()
	s.files = nil
	return s.open()
}

// Close closes the files. It is safe to call more than once.
func (s *GorSource) Close() error {
	var first error
	for _, fc := range s.files {
		if fc.gz != nil {
			fc.gz.Close()
		}
		if err := fc.f.Close(); err != nil && first == nil && !errors.Is(err, os.ErrClosed) {
			first = err
		}
	}
	return first
}

// sortChunkNames sorts "x_2.gor" before "x_10.gor", as GoReplay does.
func sortChunkNames(paths []string) {
	key := func(p string) (string, int) {
		ext := filepath.Ext(p)
		base := strings.TrimSuffix(p, ext)
		if ext == ".gz" {
			ext2 := filepath.Ext(base)
			base = strings.TrimSuffix(base, ext2)
		}
		if i := strings.LastIndexByte(base, '_'); i >= 0 {
			if n, err := strconv.Atoi(base[i+1:]); err == nil {
				return base[:i], n
			}
		}
		return base, -1
	}
	sort.SliceStable(paths, func(i, j int) bool {
		bi, ni := key(paths[i])
		bj, nj := key(paths[j])
		if bi != bj {
			return bi < bj
		}
		return ni < nj
	})
}

// FileConfig configures CreateGor. Zero values mean the documented defaults.
type FileConfig struct {
	// Append writes every record to the one file the template names, opened
	// with O_APPEND: a restart continues the file (GoReplay's
	// --output-file-append truncates it). Default false: chunked files.
	Append bool
	// ChunkRecords is the records per chunk in chunked mode (default 256,
	// GoReplay's --output-file-queue-limit); negative means no limit.
	ChunkRecords int
	// ChunkBytes is the bytes per chunk in chunked mode (default 32 MiB);
	// negative means no limit.
	ChunkBytes int64
	// Now is the clock for template tokens (default time.Now).
	Now func() time.Time
}

// GorFile writes records to files named by a GoReplay template. Tokens:
// %Y %m %d %H %M %S (date and time), %NS (nanoseconds), %r (record ID),
// %t (type byte), %i (an 8-letter instance ID fixed at creation). A name
// ending in ".gz" is gzip-compressed. In chunked mode (the default) files are
// named <base>_<N><ext>, numbering continues after existing chunks, so
// nothing is ever overwritten. Safe for concurrent use; Close flushes and
// closes the current file.
type GorFile struct {
	mu       sync.Mutex
	tmpl     string
	cfg      FileConfig
	instance string
	name     string // rendered template of the open file
	f        *os.File
	gz       *gzip.Writer
	w        *GorWriter
	cw       *countWriter
	records  int
	closed   bool
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// CreateGor returns a GorFile for template; the first file is created on
// the first WriteRecord.
func CreateGor(template string, cfg FileConfig) (*GorFile, error) {
	if template == "" {
		return nil, fmt.Errorf("%w: CreateGor: empty file template (want e.g. \"requests-%%Y%%m%%d.gor\")", ErrInvalid)
	}
	if cfg.ChunkRecords == 0 {
		cfg.ChunkRecords = 256
	}
	if cfg.ChunkBytes == 0 {
		cfg.ChunkBytes = 32 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dir := filepath.Dir(template)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: CreateGor %q: directory %q does not exist (create it first)", ErrInvalid, template, dir)
	}
	letters := "abcdefghijklmnopqrstuvwxyz"
	inst := make([]byte, 8)
	for i := range inst {
		inst[i] = letters[rand.IntN(len(letters))]
	}
	return &GorFile{tmpl: template, cfg: cfg, instance: string(inst)}, nil
}

func (g *GorFile) render(rec Record) string {
	now := g.cfg.Now()
	r := strings.NewReplacer(
		"%Y", now.Format("2006"), "%m", now.Format("01"), "%d", now.Format("02"),
		"%H", now.Format("15"), "%M", now.Format("04"), "%S", now.Format("05"),
		"%NS", strconv.Itoa(now.Nanosecond()), "%r", rec.ID, "%t", string(rune(rec.Kind)),
		"%i", g.instance)
	return r.Replace(g.tmpl)
}

// WriteRecord writes rec to the file the template names now, rotating
// chunks as configured. Errors are those of GorWriter.WriteRecord and the
// file system.
func (g *GorFile) WriteRecord(rec Record) error {
	if err := validateRecord(rec); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errors.New("mirror: GorFile is closed")
	}
	name := g.render(rec)
	full := !g.cfg.Append && g.f != nil &&
		((g.cfg.ChunkRecords > 0 && g.records >= g.cfg.ChunkRecords) ||
			(g.cfg.ChunkBytes > 0 && g.cw.n >= g.cfg.ChunkBytes))
	if g.f == nil || name != g.name || full {
		if err := g.closeFile(); err != nil {
			return err
		}
		if err := g.openFile(name); err != nil {
			return err
		}
	}
	if err := g.w.WriteRecord(rec); err != nil {
		return err
	}
	g.records++
	// Flush through to the file so chunk sizes are exact and a crash loses
	// at most the gzip tail.
	if err := g.w.Flush(); err != nil {
		return err
	}
	return nil
}

func (g *GorFile) openFile(name string) error {
	path := name
	if !g.cfg.Append {
		ext := filepath.Ext(name)
		base := strings.TrimSuffix(name, ext)
		if ext == ".gz" {
			e2 := filepath.Ext(base)
			base = strings.TrimSuffix(base, e2)
			ext = e2 + ext
		}
		next := 0
		matches, _ := filepath.Glob(globEscape(base) + "_*" + globEscape(ext))
		for _, m := range matches {
			mid := strings.TrimSuffix(strings.TrimPrefix(m, base+"_"), ext)
			if n, err := strconv.Atoi(mid); err == nil && n >= next {
				next = n + 1
			}
		}
		path = fmt.Sprintf("%s_%d%s", base, next, ext)
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if !g.cfg.Append {
		flags = os.O_CREATE | os.O_WRONLY | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o660)
	if err != nil {
		return fmt.Errorf("mirror: create .gor file: %w", err)
	}
	g.f, g.name, g.records = f, name, 0
	g.cw = &countWriter{w: f}
	var w io.Writer = g.cw
	if strings.HasSuffix(name, ".gz") {
		g.gz = gzip.NewWriter(g.cw)
		w = g.gz
	}
	g.w = NewGorWriter(w)
	return nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

func (g *GorFile) closeFile() error {
	if g.f == nil {
		return nil
	}
	var first error
	if err := g.w.Flush(); err != nil {
		first = err
	}
	if g.gz != nil {
		if err := g.gz.Close(); err != nil && first == nil {
			first = err
		}
		g.gz = nil
	}
	if err := g.f.Close(); err != nil && first == nil {
		first = err
	}
	g.f = nil
	if first != nil {
		return fmt.Errorf("mirror: close .gor file: %w", first)
	}
	return nil
}

// Flush pushes buffered bytes to the current file (and a gzip sync block).
func (g *GorFile) Flush() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.f == nil {
		return nil
	}
	if err := g.w.Flush(); err != nil {
		return err
	}
	if g.gz != nil {
		return g.gz.Flush()
	}
	return nil
}

// Name returns the path of the file currently open ("" before the first write).
func (g *GorFile) Name() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.f == nil {
		return ""
	}
	return g.f.Name()
}

// Close flushes and closes the current file; later writes fail.
func (g *GorFile) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return g.closeFile()
}
