package tzutil

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/goplumb/plumb/tzutil/internal/embedflag"
)

// ZoneCheck is one zone that Doctor was asked to load.
type ZoneCheck struct {
	Name string
	Info Info  // where it came from, when it loaded
	Err  error // why it did not
}

// Report is what Doctor found: which tzdata sources exist, which one serves
// zones, what TZ says and whether time.Local obeys it. Problems lists every
// issue as an error with the fix; an empty list means healthy.
type Report struct {
	GoVersion     string // runtime.Version()
	TZ            string // the TZ variable
	TZSet         bool   // whether TZ is set at all
	Local         string // IANA name of the local zone (LocalName), or ""
	LocalSource   Source // where the local zone's data comes from
	ZONEINFO      string // the ZONEINFO variable
	SystemDir     string // first system zoneinfo directory that exists, or ""
	SystemVersion string // its tzdata version ("2025b"), or ""
	Embedded      bool   // tzutil/tzdata (time/tzdata) is linked in
	GOROOTZip     string // the build machine's zoneinfo.zip if it exists here
	Zones         []ZoneCheck
	Problems      []error
}

// MarshalJSON renders the report for machines (a `--json` flag, a health
// endpoint): the fields above with sources as their String names and errors
// as their messages.
func (r Report) MarshalJSON() ([]byte, error) {
	type zone struct {
		Name        string `json:"name"`
		OK          bool   `json:"ok"`
		Source      string `json:"source,omitempty"`
		Path        string `json:"path,omitempty"`
		DataVersion string `json:"data_version,omitempty"`
		Note        string `json:"note,omitempty"`
		Error       string `json:"error,omitempty"`
	}
	out := struct {
		GoVersion     string   `json:"go_version"`
		TZ            *string  `json:"tz"` // null when unset
		Local         string   `json:"local,omitempty"`
		LocalSource   string   `json:"local_source"`
		ZONEINFO      string   `json:"zoneinfo,omitempty"`
		SystemDir     string   `json:"system_dir,omitempty"`
		SystemVersion string   `json:"system_version,omitempty"`
		Embedded      bool     `json:"embedded"`
		GOROOTZip     string   `json:"goroot_zip,omitempty"`
		Zones         []zone   `json:"zones"`
		Problems      []string `json:"problems"`
		OK            bool     `json:"ok"`
	}{GoVersion: r.GoVersion, Local: r.Local, LocalSource: r.LocalSource.String(), ZONEINFO: r.ZONEINFO,
		SystemDir: r.SystemDir, SystemVersion: r.SystemVersion, Embedded: r.Embedded, GOROOTZip: r.GOROOTZip,
		Zones: []zone{}, Problems: []string{}, OK: r.OK()}
	if r.TZSet {
		out.TZ = &r.TZ
	}
	for _, z := range r.Zones {
		j := zone{Name: z.Name, OK: z.Err == nil}
		if z.Err != nil {
			j.Error = z.Err.Error()
		} else {
			j.Source, j.Path, j.DataVersion, j.Note = z.Info.Source.String(), z.Info.Path, z.Info.DataVersion, z.Info.Note
		}
		out.Zones = append(out.Zones, j)
	}
	for _, p := range r.Problems {
		out.Problems = append(out.Problems, p.Error())
	}
	return json.Marshal(out)
}

// OK reports whether there are no problems.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// String renders the report as an aligned, human-readable block.
func (r Report) String() string {
	var b strings.Builder
	yes := map[bool]string{true: "yes", false: "no"}
	or := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	tz := "(unset)"
	if r.TZSet {
		tz = fmt.Sprintf("%q", r.TZ)
	}
	fmt.Fprintf(&b, "go:               %s\n", r.GoVersion)
	fmt.Fprintf(&b, "TZ:               %s\n", tz)
	fmt.Fprintf(&b, "local zone:       %s (%s)\n", or(r.Local, "unknown"), r.LocalSource)
	fmt.Fprintf(&b, "ZONEINFO:         %s\n", or(r.ZONEINFO, "(unset)"))
	fmt.Fprintf(&b, "system tzdata:    %s\n", or(strings.TrimSpace(r.SystemDir+" "+r.SystemVersion), "none"))
	fmt.Fprintf(&b, "embedded tzdata:  %s\n", yes[r.Embedded])
	fmt.Fprintf(&b, "GOROOT zip:       %s\n", or(r.GOROOTZip, "none"))
	for _, z := range r.Zones {
		if z.Err != nil {
			fmt.Fprintf(&b, "zone %-12s  FAIL %v\n", z.Name, z.Err)
			continue
		}
		v := ""
		if z.Info.DataVersion != "" {
			v = " " + z.Info.DataVersion
		}
		fmt.Fprintf(&b, "zone %-12s  ok (%s%s)\n", z.Name, z.Info.Source, v)
	}
	if len(r.Problems) == 0 {
		b.WriteString("problems:         none\n")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "problem:          %v\n", p)
	}
	return b.String()
}

// Doctor inspects the process's time zone setup and loads names (for
// example the zones a service's configuration uses), returning a Report.
// It reads the environment and the file system, never changes anything, and
// is safe to call concurrently. Typical use: log it at start-up, or fail a
// container health check when !r.OK().
func Doctor(names ...string) Report { return std.doctor(time.Local, time.Now(), names) }

// Doctor is the package-level Doctor on this Loader.
func (l *Loader) Doctor(names ...string) Report { return l.doctor(time.Local, time.Now(), names) }

func (l *Loader) doctor(local *time.Location, now time.Time, names []string) Report {
	r := Report{GoVersion: runtime.Version(), Embedded: embedflag.Linked()}
	r.TZ, r.TZSet = l.lookupEnv("TZ")
	r.ZONEINFO, _ = l.lookupEnv("ZONEINFO")
	for _, d := range l.dirs() {
		if usableDir(d) {
			r.SystemDir = d
			r.SystemVersion = dirVersion(d)
			break
		}
	}
	if zp := gorootZip(); zp != "" && !l.SkipGOROOT {
		if _, err := os.Stat(zp); err == nil {
			r.GOROOTZip = zp
		}
	}
	if r.ZONEINFO != "" {
		if st, err := os.Stat(r.ZONEINFO); err != nil {
			r.Problems = append(r.Problems, fmt.Errorf("ZONEINFO=%q does not exist; unset it or point it at a zoneinfo directory or zip", r.ZONEINFO))
		} else if st.IsDir() && !usableDir(r.ZONEINFO) {
			r.Problems = append(r.Problems, fmt.Errorf("ZONEINFO=%q is an empty directory; unset it or point it at a zoneinfo directory or zip", r.ZONEINFO))
		}
	}
	if r.SystemDir == "" && !r.Embedded {
		if r.GOROOTZip != "" {
			r.Problems = append(r.Problems, fmt.Errorf("%w: zones load only from the build machine's %s, which a deployed image will not have; install tzdata or import _ \"github.com/goplumb/plumb/tzutil/tzdata\"", ErrNoTZData, r.GOROOTZip))
		} else {
			r.Problems = append(r.Problems, fmt.Errorf("%w: no system zoneinfo and no embedded copy; install tzdata or import _ \"github.com/goplumb/plumb/tzutil/tzdata\"", ErrNoTZData))
		}
	}
	if name, err := l.LocalName(); err == nil {
		r.Local = name
	}
	if _, info, err := l.LocalInfo(); err == nil {
		r.LocalSource = info.Source
		if info.Source == SourcePOSIX && strings.HasPrefix(info.Note, "POSIX sign") {
			r.Problems = append(r.Problems, fmt.Errorf("TZ=%q: %s", r.TZ, info.Note))
		}
	}
	if err := l.checkLocal(local, now); err != nil {
		r.Problems = append(r.Problems, err)
	}
	for _, n := range names {
		_, info, err := l.LoadInfo(n)
		r.Zones = append(r.Zones, ZoneCheck{Name: n, Info: info, Err: err})
		if err != nil {
			r.Problems = append(r.Problems, err)
		} else if info.Source == SourceGOROOT {
			r.Problems = append(r.Problems, fmt.Errorf("zone %q loads only from the build machine's GOROOT (%s); a deployed image will not have it", n, info.Path))
		}
	}
	return r
}
