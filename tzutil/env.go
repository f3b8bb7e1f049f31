package tzutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FromTZ interprets value the way the TZ environment variable is
// interpreted by C libraries, including what Go's time package skips:
//
//   - "" is UTC (Info.Source SourceUTC);
//   - a leading ':' is removed (":Asia/Shanghai", ":/etc/localtime");
//   - an absolute path loads that TZif file (SourceFile); under a
//     zoneinfo directory the location is named by its IANA name;
//   - an IANA name loads through Load (cached, with suggestions);
//   - otherwise a valid POSIX rule such as "CST-8" or
//     "EST5EDT,M3.2.0,M11.1.0" (SourcePOSIX; see ParsePOSIX). Info.Note
//     warns when the POSIX sign is likely misread ("UTC+8" is UTC−08:00).
//
// Nothing falls back silently: a value that is none of these returns the
// Load error (with suggestions) joined with the POSIX parse error. FromTZ
// reads no environment itself; pass os.Getenv("TZ") or use LocalInfo.
func FromTZ(value string) (*time.Location, Info, error) { return std.FromTZ(value) }

// FromTZ is the package-level FromTZ on this Loader.
func (l *Loader) FromTZ(value string) (*time.Location, Info, error) {
	v := strings.TrimPrefix(value, ":")
	switch {
	case value == "" || v == "":
		return time.UTC, Info{Name: "UTC", Source: SourceUTC, Note: `TZ="" means UTC`}, nil
	case v == "UTC":
		return time.UTC, Info{Name: "UTC", Source: SourceUTC}, nil
	case strings.HasPrefix(v, "/"):
		data, err := readZoneFile(v)
		if errors.Is(err, errTooLarge) || errors.Is(err, errNotRegular) {
			return nil, Info{}, fmt.Errorf("tzutil: TZ=%q: %w: %w", value, ErrBadData, err)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Info{}, fmt.Errorf("tzutil: TZ=%q: %w: no such zone file (%w)", value, ErrInvalid, err)
		}
		if err != nil {
			return nil, Info{}, fmt.Errorf("tzutil: TZ=%q: %w", value, err)
		}
		name := v
		if i := strings.Index(v, "/zoneinfo/"); i >= 0 {
			name = v[i+len("/zoneinfo/"):]
		} else if real, err := filepath.EvalSymlinks(v); err == nil {
			if i := strings.Index(real, "/zoneinfo/"); i >= 0 {
				name = real[i+len("/zoneinfo/"):]
			}
		}
		loc, err := time.LoadLocationFromTZData(name, data)
		if err != nil {
			return nil, Info{}, fmt.Errorf("tzutil: TZ=%q: %w: %v", value, ErrBadData, err)
		}
		return loc, Info{Name: name, Source: SourceFile, Path: v}, nil
	}
	loc, info, lerr := l.LoadInfo(v)
	if lerr == nil {
		return loc, info, nil
	}
	if errors.Is(lerr, ErrNoTZData) {
		// A POSIX rule needs no data; anything else cannot be served.
		if ploc, r, perr := parsePOSIXInfo(v); perr == nil {
			return ploc, r, nil
		}
		return nil, Info{}, lerr
	}
	ploc, info, perr := parsePOSIXInfo(v)
	if perr == nil {
		return ploc, info, nil
	}
	if errors.Is(lerr, ErrUnknownZone) || errors.Is(lerr, ErrInvalid) {
		return nil, Info{}, fmt.Errorf("tzutil: TZ=%q is neither a zone nor a POSIX rule: %w; as a POSIX rule: %w", value, lerr, perr)
	}
	return nil, Info{}, lerr
}

func parsePOSIXInfo(v string) (*time.Location, Info, error) {
	r, err := ParsePOSIXRule(v)
	if err != nil {
		return nil, Info{}, err
	}
	loc, err := ParsePOSIX(v)
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{Name: v, Source: SourcePOSIX}
	up := strings.ToUpper(r.Std)
	if r.StdOffset != 0 && (up == "UTC" || up == "GMT" || up == "UT") {
		info.Note = fmt.Sprintf("POSIX sign: %q is UTC%s (%d hours %s of UTC); for the opposite write %q or use an IANA name",
			v, FormatOffset(r.StdOffset), abs(r.StdOffset)/3600, map[bool]string{true: "east", false: "west"}[r.StdOffset > 0],
			POSIXRule{Std: r.Std, StdOffset: -r.StdOffset}.String())
	} else if r.Dst == "" {
		info.Note = fmt.Sprintf("fixed offset UTC%s all year (no DST)", FormatOffset(r.StdOffset))
	}
	return loc, info, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// LocalInfo interprets the process's TZ variable with FromTZ. When TZ is
// unset it reads /etc/localtime and names the zone by LocalName, so the IANA
// name is kept (time.Local calls it "Local"). It never changes time.Local.
func LocalInfo() (*time.Location, Info, error) { return std.LocalInfo() }

// LocalInfo is the package-level LocalInfo on this Loader.
func (l *Loader) LocalInfo() (*time.Location, Info, error) {
	if tz, ok := l.lookupEnv("TZ"); ok {
		return l.FromTZ(tz)
	}
	name, err := l.LocalName()
	if err == nil && name != "UTC" {
		if loc, info, err := l.LoadInfo(name); err == nil {
			return loc, info, nil
		}
	}
	lt := l.localtimePath()
	data, rerr := readZoneFile(lt)
	if rerr != nil {
		return time.UTC, Info{Name: "UTC", Source: SourceUTC, Note: "TZ unset and " + lt + " missing: UTC, as Go does"}, nil
	}
	if name == "" {
		name = "Local"
	}
	loc, lerr := time.LoadLocationFromTZData(name, data)
	if lerr != nil {
		return nil, Info{}, fmt.Errorf("tzutil: %s: %w: %v", lt, ErrBadData, lerr)
	}
	return loc, Info{Name: name, Source: SourceFile, Path: lt}, nil
}

func (l *Loader) localtimePath() string {
	if l.localtime != "" {
		return l.localtime
	}
	return "/etc/localtime"
}

// LocalName returns the IANA name of the process's local zone ("Asia/Shanghai"),
// which time.Local hides behind "Local": from TZ (":" and a zoneinfo path
// are understood), else from the /etc/localtime symlink, else from
// /etc/timezone. A name from TZ or /etc/timezone is returned only if it
// loads (or, with no tzdata at all, is at least a well-formed zone name),
// and a valid POSIX TZ rule is returned as is; anything else ("Asia/Shangai",
// "../../etc/passwd") fails with an error wrapping ErrUnknownLocal and the
// load error, with its suggestions. It also fails with ErrUnknownLocal when
// none of the sources names a zone.
func LocalName() (string, error) { return std.LocalName() }

// LocalName is the package-level LocalName on this Loader.
func (l *Loader) LocalName() (string, error) {
	if tz, ok := l.lookupEnv("TZ"); ok {
		v := strings.TrimPrefix(tz, ":")
		if v == "" {
			return "UTC", nil
		}
		if strings.HasPrefix(v, "/") {
			if n := zoneinfoSuffix(v); n != "" && validName(n) == nil {
				return n, nil
			}
			return "", fmt.Errorf("%w: TZ=%q is a file outside any zoneinfo directory", ErrUnknownLocal, tz)
		}
		if err := l.checkName(v); err != nil {
			if _, perr := ParsePOSIXRule(v); perr == nil {
				return v, nil
			}
			return "", fmt.Errorf("%w: TZ=%q: %w", ErrUnknownLocal, tz, err)
		}
		return v, nil
	}
	lt := l.localtimePath()
	if n := zoneinfoSuffix(lt); n != "" && validName(n) == nil {
		return n, nil
	}
	tzf := l.timezone
	if tzf == "" {
		tzf = "/etc/timezone"
	}
	if b, err := readZoneFile(tzf); err == nil {
		if n := strings.TrimSpace(string(b)); n != "" {
			if err := l.checkName(n); err != nil {
				return "", fmt.Errorf("%w: %s says %q: %w", ErrUnknownLocal, tzf, n, err)
			}
			return n, nil
		}
	}
	if _, err := os.Stat(lt); err != nil {
		return "UTC", nil // what Go uses without TZ and /etc/localtime
	}
	return "", fmt.Errorf("%w: TZ unset, %s is not a link into a zoneinfo directory and %s is absent", ErrUnknownLocal, lt, tzf)
}

// checkName reports why name is not a zone this Loader can serve: it must
// load, or, when no tzdata is reachable at all, be well formed.
func (l *Loader) checkName(name string) error {
	_, err := l.Load(name)
	if errors.Is(err, ErrNoTZData) {
		return validName(name)
	}
	return err
}

// zoneinfoSuffix resolves symlinks in p and returns the part after
// ".../zoneinfo/", or "".
func zoneinfoSuffix(p string) string {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		real = p
	}
	for _, c := range []string{real, p} {
		if i := strings.LastIndex(c, "/zoneinfo/"); i >= 0 {
			n := c[i+len("/zoneinfo/"):]
			n = strings.TrimPrefix(n, "posix/")
			if n != "" && n != "localtime" {
				return n
			}
		}
	}
	return ""
}

// CheckLocal reports whether Go's time.Local is the zone that TZ asks for.
// Go's time package silently uses UTC when TZ is misspelled, lower-case, a
// POSIX rule ("CST-8") or when no tzdata is reachable; CheckLocal returns a
// *LocalMismatchError then (errors.Is ErrLocalMismatch), comparing offsets
// over ±2 years around now and at every transition in that range. It
// returns nil when TZ is unset (Go then follows /etc/localtime, or UTC). Run
// it at start-up; it never changes time.Local.
func CheckLocal() error { return std.checkLocal(time.Local, time.Now()) }

func (l *Loader) checkLocal(local *time.Location, now time.Time) error {
	tz, ok := l.lookupEnv("TZ")
	if !ok {
		return nil
	}
	want, _, err := l.FromTZ(tz)
	if err != nil {
		return &LocalMismatchError{TZ: tz, Reason: err}
	}
	from, to := now.AddDate(-2, 0, 0), now.AddDate(2, 0, 0)
	var samples []time.Time
	for t := from; t.Before(to); t = t.Add(15 * 24 * time.Hour) {
		samples = append(samples, t)
	}
	for tr := range Transitions(want, from, to) {
		samples = append(samples, tr.At, tr.At.Add(-time.Second))
	}
	for tr := range Transitions(local, from, to) {
		samples = append(samples, tr.At, tr.At.Add(-time.Second))
	}
	for _, t := range samples {
		_, g := t.In(local).Zone()
		_, w := t.In(want).Zone()
		if g != w {
			return &LocalMismatchError{TZ: tz, Want: want, At: t, Got: g, WantOf: w}
		}
	}
	return nil
}
