package tzutil

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goplumb/plumb/tzutil/internal/embedflag"
)

// Source says where a location's data came from.
type Source uint8

const (
	// SourceUnknown: not loaded by this package (the zero value).
	SourceUnknown Source = iota
	// SourceUTC: "UTC" (or TZ=""), which needs no data.
	SourceUTC
	// SourceZONEINFO: the directory or zip named by the ZONEINFO variable.
	SourceZONEINFO
	// SourceSystem: a system zoneinfo directory such as /usr/share/zoneinfo.
	SourceSystem
	// SourceEmbedded: Go's embedded copy (time/tzdata, linked in by
	// importing tzutil/tzdata).
	SourceEmbedded
	// SourceGOROOT: $GOROOT/lib/time/zoneinfo.zip of the machine that built
	// the binary; present on developer machines, usually absent in images.
	SourceGOROOT
	// SourceFile: an absolute file path (TZ=/path or TZ=:/path).
	SourceFile
	// SourcePOSIX: a POSIX TZ rule such as "CST-8" (see ParsePOSIX).
	SourcePOSIX
)

// String returns a short lower-case name ("system", "embedded", ...).
func (s Source) String() string {
	switch s {
	case SourceUTC:
		return "utc"
	case SourceZONEINFO:
		return "ZONEINFO"
	case SourceSystem:
		return "system"
	case SourceEmbedded:
		return "embedded"
	case SourceGOROOT:
		return "goroot"
	case SourceFile:
		return "file"
	case SourcePOSIX:
		return "posix"
	}
	return "unknown"
}

// Info says how a location was obtained: every fallback is visible here.
type Info struct {
	Name        string // the location's name (Location.String())
	Source      Source
	Path        string // file, directory entry or zip that served it; "" if none
	DataVersion string // tzdata version ("2025b") when the source records one
	Note        string // a caveat worth showing a human, e.g. POSIX sign inversion
}

// DefaultDirs are the system zoneinfo directories, searched in order, as in
// Go's time package on Unix.
var DefaultDirs = []string{
	"/usr/share/zoneinfo/",
	"/usr/share/lib/zoneinfo/",
	"/usr/lib/locale/TZ/",
	"/etc/zoneinfo/",
}

// Loader loads and caches IANA zones, reporting where each came from. Its
// search order is Go's: ZONEINFO, the system directories, the embedded copy
// (if tzutil/tzdata is imported), then the build machine's GOROOT zip.
//
// The zero Loader uses the process environment and DefaultDirs; the fields
// exist for tests and unusual deployments. A Loader must not be copied after
// first use; all methods are safe for concurrent use. Loaded locations are
// cached for the Loader's lifetime (tzdata does not change under a running
// process in any way Go could observe safely); failures are not cached.
type Loader struct {
	// LookupEnv reads ZONEINFO and TZ; nil means os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// Dirs are the system zoneinfo directories; nil means DefaultDirs. A
	// non-nil empty slice means none (simulates an image without tzdata).
	Dirs []string
	// SkipGOROOT ignores $GOROOT/lib/time/zoneinfo.zip, which exists on the
	// build machine but rarely where the binary runs.
	SkipGOROOT bool

	// localtime and timezone are /etc/localtime and /etc/timezone (tests).
	localtime, timezone string

	cache  sync.Map     // canonical name -> *entry
	cached atomic.Int64 // entries in cache, at most maxCached
	zips   sync.Map     // zip path -> map[string]bool of its entries
}

// maxCached bounds a Loader's cache. Names are canonical (validName) and
// only names that loaded are cached, so the cache holds at most one entry
// per zone file the sources hold (about 600 in the IANA database, 1,800 with
// posix/ and right/); the bound is a backstop for directories with more.
// It is a variable only so that a test can lower it.
var maxCached int64 = 4096

// maxZoneFile bounds every zone file read, as Go's time package does: no
// real TZif file comes near it, and a read of /dev/zero must not exhaust
// memory.
const maxZoneFile = 10 << 20

type entry struct {
	loc  *time.Location
	info Info
}

// std is the Loader behind the package-level functions. Its cache holds
// immutable locations only; it has no settings to mutate.
var std Loader

// Load returns the IANA zone name (such as "Asia/Shanghai"), cached after
// the first call, so repeated loads cost a map lookup instead of reading
// and parsing a file (time.LoadLocation does that on every call).
//
// "UTC" returns time.UTC. "", "Local", relative paths and absolute paths
// are refused with a *LoadError whose Reason is ErrInvalid: use time.UTC,
// FromTZ or time.Local explicitly. Other failures are a *LoadError wrapping
// ErrUnknownZone (with suggestions: case, spelling, current names of old
// links, abbreviations; it matches ErrInvalid too), ErrNoTZData (with the
// fix) or ErrBadData.
func Load(name string) (*time.Location, error) { return std.Load(name) }

// LoadInfo is Load that also reports where the data came from.
func LoadInfo(name string) (*time.Location, Info, error) { return std.LoadInfo(name) }

// MustLoad is Load for names fixed at compile time; it panics on failure
// (programmer error), which is the only panic in this package.
func MustLoad(name string) *time.Location {
	l, err := std.Load(name)
	if err != nil {
		panic(err)
	}
	return l
}

func (l *Loader) lookupEnv(k string) (string, bool) {
	if l.LookupEnv != nil {
		return l.LookupEnv(k)
	}
	return os.LookupEnv(k)
}

func (l *Loader) dirs() []string {
	if l.Dirs != nil {
		return l.Dirs
	}
	return DefaultDirs
}

// Load is the package-level Load on this Loader.
func (l *Loader) Load(name string) (*time.Location, error) {
	if v, ok := l.cache.Load(name); ok {
		return v.(*entry).loc, nil
	}
	loc, _, err := l.load(name, true)
	return loc, err
}

// LoadInfo is the package-level LoadInfo on this Loader.
func (l *Loader) LoadInfo(name string) (*time.Location, Info, error) {
	if v, ok := l.cache.Load(name); ok {
		e := v.(*entry)
		return e.loc, e.info, nil
	}
	return l.load(name, true)
}

func validName(name string) error {
	switch {
	case name == "":
		return &LoadError{Name: name, Reason: ErrInvalid, Detail: `empty name; use "UTC" for UTC, or FromTZ for TZ semantics`}
	case name == "Local":
		return &LoadError{Name: name, Reason: ErrInvalid, Detail: `"Local" is not a zone; use time.Local explicitly, or LocalName/FromTZ to learn what it should be`}
	case len(name) > 255:
		return &LoadError{Name: name[:32] + "...", Reason: ErrInvalid, Detail: "longer than 255 bytes"}
	case strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`):
		return &LoadError{Name: name, Reason: ErrInvalid, Detail: "absolute paths are not zone names; use FromTZ for TZ=/path semantics"}
	case strings.Contains(name, ".."):
		return &LoadError{Name: name, Reason: ErrInvalid, Detail: `".." is not allowed in a zone name`}
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." {
			// "Asia/./Shanghai" and "Asia//Shanghai" would load the same
			// file under another name: an alias in the cache and in
			// FormatRFC9557 output.
			le := &LoadError{Name: name, Reason: ErrInvalid, Detail: `empty and "." path segments are not allowed in a zone name`}
			if c := path.Clean(name); c != "." && c != "/" && !strings.HasPrefix(c, "/") {
				le.Suggest = []string{c}
			}
			return le
		}
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '\\' || r == ':' {
			return &LoadError{Name: name, Reason: ErrInvalid, Detail: "contains a control character, backslash or colon"}
		}
	}
	return nil
}

// load searches the sources; withSuggest adds suggestions to an
// ErrUnknownZone (verified by loads without suggestions, so no recursion).
func (l *Loader) load(name string, withSuggest bool) (*time.Location, Info, error) {
	if err := validName(name); err != nil {
		return nil, Info{}, err
	}
	if name == "UTC" {
		return time.UTC, Info{Name: "UTC", Source: SourceUTC}, nil
	}
	var tried []string
	anyData := false
	var badErr error
	try := func(src Source, path string, data []byte, err error) (*time.Location, Info, bool) {
		if errors.Is(err, errTooLarge) || errors.Is(err, errNotRegular) {
			badErr = err
			return nil, Info{}, false
		}
		if err != nil {
			return nil, Info{}, false
		}
		loc, lerr := time.LoadLocationFromTZData(name, data)
		if lerr != nil {
			badErr = fmt.Errorf("%s: %w", path, lerr)
			return nil, Info{}, false
		}
		return loc, Info{Name: name, Source: src, Path: path}, true
	}
	store := func(loc *time.Location, info Info) (*time.Location, Info, error) {
		if (info.Source == SourceZONEINFO || info.Source == SourceSystem) && strings.HasSuffix(info.Path, name) {
			info.DataVersion = dirVersion(filepath.Dir(strings.TrimSuffix(info.Path, name)))
		}
		if l.cached.Load() >= maxCached {
			return loc, info, nil // served, not cached
		}
		v, loaded := l.cache.LoadOrStore(name, &entry{loc, info})
		if !loaded {
			l.cached.Add(1)
		}
		e := v.(*entry)
		return e.loc, e.info, nil
	}

	if zi, ok := l.lookupEnv("ZONEINFO"); ok && zi != "" {
		tried = append(tried, "ZONEINFO="+zi)
		if st, err := os.Stat(zi); err == nil && (!st.IsDir() || usableDir(zi)) {
			anyData = true
			if st.IsDir() {
				p := filepath.Join(zi, name)
				data, err := readZoneFile(p)
				if loc, info, ok := try(SourceZONEINFO, p, data, err); ok {
					return store(loc, info)
				}
			} else {
				data, err := l.readZip(zi, name)
				if loc, info, ok := try(SourceZONEINFO, zi, data, err); ok {
					return store(loc, info)
				}
			}
		}
	}
	for _, d := range l.dirs() {
		if !usableDir(d) {
			continue
		}
		anyData = true
		tried = append(tried, d)
		p := filepath.Join(d, name)
		data, err := readZoneFile(p)
		if loc, info, ok := try(SourceSystem, p, data, err); ok {
			return store(loc, info)
		}
	}
	if embedflag.Linked() {
		anyData = true
		tried = append(tried, "embedded time/tzdata")
		// Go's loader reaches the embedded copy after ZONEINFO and the
		// system directories, which were searched above.
		if loc, err := time.LoadLocation(name); err == nil {
			return store(loc, goSourceInfo(name))
		}
	}
	if zp := gorootZip(); zp != "" && !l.SkipGOROOT {
		if _, err := os.Stat(zp); err == nil {
			anyData = true
			tried = append(tried, zp)
			data, err := l.readZip(zp, name)
			if loc, info, ok := try(SourceGOROOT, zp, data, err); ok {
				info.Note = "from the build machine's GOROOT; absent in most images"
				return store(loc, info)
			}
		}
	}
	if !anyData {
		return nil, Info{}, &LoadError{Name: name, Reason: ErrNoTZData, Tried: tried,
			Detail: `ZONEINFO unset or empty, no system zoneinfo directory, no embedded copy; install tzdata in the image or import _ "github.com/goplumb/plumb/tzutil/tzdata"`}
	}
	if badErr != nil {
		return nil, Info{}, &LoadError{Name: name, Reason: ErrBadData, Tried: tried, Detail: badErr.Error()}
	}
	le := &LoadError{Name: name, Reason: ErrUnknownZone, Tried: tried}
	if withSuggest {
		le.Suggest = l.suggest(name)
	}
	return nil, Info{}, le
}

// goSourceInfo says where time.LoadLocation found name. It searches the
// process's ZONEINFO and the platform directories before the embedded copy,
// whatever this Loader's LookupEnv and Dirs say, so a Loader told to skip
// the system directory can still be served from it: report that, not
// "embedded".
func goSourceInfo(name string) Info {
	if zi := os.Getenv("ZONEINFO"); zi != "" {
		if st, err := os.Stat(zi); err == nil {
			p := zi
			if st.IsDir() {
				p = filepath.Join(zi, name)
			}
			if _, err := os.Stat(p); err == nil {
				return Info{Name: name, Source: SourceZONEINFO, Path: p, Note: "served by time.LoadLocation, which reads the process's ZONEINFO before the embedded copy"}
			}
		}
	}
	for _, d := range goPlatformDirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return Info{Name: name, Source: SourceSystem, Path: p, DataVersion: dirVersion(d),
				Note: "served by time.LoadLocation, which reads the system directories before the embedded copy (this Loader's Dirs exclude it)"}
		}
	}
	return Info{Name: name, Source: SourceEmbedded, Note: "Go's embedded tzdata (version not recorded)"}
}

// goPlatformDirs are the directories Go's time package reads on Unix
// (time/zoneinfo_unix.go platformZoneSources), whatever a Loader's Dirs.
var goPlatformDirs = []string{"/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/", "/etc/zoneinfo"}

var (
	errTooLarge   = errors.New("larger than 10 MB, which no zoneinfo file is")
	errNotRegular = errors.New("not a regular file")
)

// readZoneFile reads a zone file of at most maxZoneFile bytes. A directory
// or a missing file is fs.ErrNotExist (the next source is tried); a device,
// FIFO or socket is refused without being opened (reading /dev/zero would
// never end, opening a FIFO could block).
func readZoneFile(p string) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fs.ErrNotExist
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", p, errNotRegular)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxZoneFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxZoneFile {
		return nil, fmt.Errorf("%s: %w", p, errTooLarge)
	}
	return data, nil
}

// usableDir reports whether d is a non-empty directory (an empty tmpfs or
// volume mounted over /usr/share/zoneinfo holds no data).
func usableDir(d string) bool {
	f, err := os.Open(d)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) > 0
}

// gorootZip is where Go's time package looks last. runtime.GOROOT is
// deprecated for general use, but it is exactly the value time uses here.
func gorootZip() string {
	//lint:ignore SA1019 mirrors time's own fallback, see above.
	g := runtime.GOROOT()
	if g == "" {
		return ""
	}
	return filepath.Join(g, "lib", "time", "zoneinfo.zip")
}

// readZip reads name from the zip at path. The zip's entry list is read
// once per Loader, so a name the zip lacks costs a map lookup, not a parse
// of its central directory (about 0.5 ms for Go's zoneinfo.zip).
func (l *Loader) readZip(path, name string) ([]byte, error) {
	var names map[string]bool
	if v, ok := l.zips.Load(path); ok {
		names = v.(map[string]bool)
	} else {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return nil, err
		}
		names = make(map[string]bool, len(zr.File))
		for _, f := range zr.File {
			names[f.Name] = true
		}
		zr.Close()
		l.zips.Store(path, names)
	}
	if !names[name] {
		return nil, fs.ErrNotExist
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	f, err := zr.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.IsDir() {
		return nil, fs.ErrNotExist
	}
	data, err := io.ReadAll(io.LimitReader(f, maxZoneFile+1))
	if err == nil && len(data) > maxZoneFile {
		return nil, fmt.Errorf("%s: %s: %w", path, name, errTooLarge)
	}
	return data, err
}

// dirVersion reads "# version 2025b" from dir/tzdata.zi, or returns "".
func dirVersion(dir string) string {
	f, err := os.Open(filepath.Join(dir, "tzdata.zi"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# version "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// abbreviations maps common ambiguous abbreviations to what people mean.
var abbreviations = map[string][]string{
	"CST":  {"America/Chicago", "Asia/Shanghai", "America/Havana"},
	"IST":  {"Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"},
	"PST":  {"America/Los_Angeles"},
	"PDT":  {"America/Los_Angeles"},
	"CDT":  {"America/Chicago"},
	"EDT":  {"America/New_York"},
	"MDT":  {"America/Denver"},
	"BST":  {"Europe/London"},
	"CEST": {"Europe/Berlin"},
	"JST":  {"Asia/Tokyo"},
	"KST":  {"Asia/Seoul"},
	"AEST": {"Australia/Sydney"},
	"AEDT": {"Australia/Sydney"},
	"SGT":  {"Asia/Singapore"},
	"HKT":  {"Asia/Hong_Kong"},
	"BJT":  {"Asia/Shanghai"},
}

// zoneCand is a known zone or link name; lower is its normalised form.
type zoneCand struct{ name, target, lower, city string }

// knownIndex parses knownNames once; it is immutable afterwards.
var knownIndex = sync.OnceValue(func() []zoneCand {
	var all []zoneCand
	for _, line := range strings.Split(knownNames, "\n") {
		n, target, _ := strings.Cut(line, ">")
		c := zoneCand{name: n, target: target, lower: normName(n)}
		if i := strings.LastIndexByte(c.lower, '/'); i >= 0 {
			c.city = c.lower[i+1:]
		}
		all = append(all, c)
	}
	return all
})

func normName(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "_")) }

// suggest returns up to three names the caller probably meant: the right
// capitalisation (and the current name when that is an old backward link),
// the zone of a bare city, the meanings of an ambiguous abbreviation, or
// the nearest names by edit distance. Each suggestion is verified to load.
func (l *Loader) suggest(name string) []string {
	all := knownIndex()
	canon := func(c zoneCand) string {
		if c.target != "" {
			return c.target // current name of an old (backward) link
		}
		return c.name
	}
	var out []string
	add := func(s string) {
		if s == name {
			return
		}
		for _, o := range out {
			if o == s {
				return
			}
		}
		if len(out) < 3 {
			if _, _, err := l.load(s, false); err == nil {
				out = append(out, s)
			}
		}
	}
	if a, ok := abbreviations[strings.ToUpper(name)]; ok {
		for _, s := range a {
			add(s)
		}
		return out
	}
	n := normName(name)
	for _, c := range all { // case-insensitive exact match
		if c.lower == n {
			add(c.name)
			if c.target != "" {
				add(c.target)
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, c := range all { // city only: "shanghai" → "Asia/Shanghai"
		if c.city != "" && c.city == n {
			add(canon(c))
		}
	}
	if len(out) > 0 {
		return out
	}
	limit := min(1+len(n)/6, 3)
	bestD := limit + 1
	var best []string
	buf := make([]int, 2*(len(n)+64))
	for _, c := range all {
		d := editDistance(c.lower, n, bestD, buf)
		if d < bestD {
			bestD, best = d, []string{canon(c)}
		} else if d == bestD && d <= limit {
			best = append(best, canon(c))
		}
	}
	for _, s := range best {
		add(s)
	}
	return out
}

// editDistance is the Levenshtein distance of a and b, or limit+1 when it
// exceeds limit (cheap early exit). buf is scratch space, reused if large
// enough.
func editDistance(a, b string, limit int, buf []int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	if len(buf) < 2*(len(b)+1) {
		buf = make([]int, 2*(len(b)+1))
	}
	prev, cur := buf[:len(b)+1], buf[len(b)+1:2*(len(b)+1)]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
