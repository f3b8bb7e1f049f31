package tzutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadCachesAndReportsSource(t *testing.T) {
	ld := &Loader{}
	a, info, err := ld.LoadInfo("Asia/Shanghai")
	require.NoError(t, err)
	b, err := ld.Load("Asia/Shanghai")
	require.NoError(t, err)
	assert.Same(t, a, b, "second load must come from the cache")
	assert.Equal(t, "Asia/Shanghai", a.String())
	assert.Equal(t, SourceSystem, info.Source)
	assert.Equal(t, "/usr/share/zoneinfo/Asia/Shanghai", info.Path)
	assert.NotEmpty(t, info.DataVersion, "Debian ships tzdata.zi with a version line")
	_, off := time.Date(2024, 7, 1, 0, 0, 0, 0, a).Zone()
	assert.Equal(t, 8*3600, off)

	u, info, err := ld.LoadInfo("UTC")
	require.NoError(t, err)
	assert.Same(t, time.UTC, u)
	assert.Equal(t, SourceUTC, info.Source)
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name    string
		reason  error
		suggest []string
	}{
		{"Asia/Shangai", ErrUnknownZone, []string{"Asia/Shanghai"}},
		{"asia/shanghai", ErrUnknownZone, []string{"Asia/Shanghai"}},
		{"ASIA/SHANGHAI", ErrUnknownZone, []string{"Asia/Shanghai"}},
		{"Shanghai", ErrUnknownZone, []string{"Asia/Shanghai"}},
		{"new york", ErrUnknownZone, []string{"America/New_York"}},
		{"America/NewYork", ErrUnknownZone, []string{"America/New_York"}},
		{"asia/calcutta", ErrUnknownZone, []string{"Asia/Calcutta", "Asia/Kolkata"}},
		{"CST", ErrUnknownZone, []string{"America/Chicago", "Asia/Shanghai", "America/Havana"}},
		{"Xyzzy/Nowhere", ErrUnknownZone, nil},
		{"", ErrInvalid, nil},
		{"Local", ErrInvalid, nil},
		{"../etc/passwd", ErrInvalid, nil},
		{"/etc/localtime", ErrInvalid, nil},
		{"Asia/Shang\x00hai", ErrInvalid, nil},
		{"zone.tab", ErrBadData, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loc, err := Load(c.name)
			assert.Nil(t, loc)
			require.Error(t, err)
			assert.ErrorIs(t, err, c.reason)
			var le *LoadError
			require.ErrorAs(t, err, &le)
			assert.Equal(t, c.suggest, le.Suggest)
			assert.Contains(t, err.Error(), "tzutil: ")
		})
	}
	_, err := Load("Asia/Shangai")
	assert.EqualError(t, err, `tzutil: unknown zone "Asia/Shangai" (did you mean "Asia/Shanghai"?)`)
}

func TestLoadSources(t *testing.T) {
	empty := t.TempDir()
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	t.Run("ZONEINFO dir", func(t *testing.T) {
		dir := t.TempDir()
		data, err := os.ReadFile("/usr/share/zoneinfo/Asia/Tokyo")
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "Asia"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "Asia", "Tokyo"), data, 0o644))
		ld := &Loader{LookupEnv: env("ZONEINFO", dir)}
		_, info, err := ld.LoadInfo("Asia/Tokyo")
		require.NoError(t, err)
		assert.Equal(t, SourceZONEINFO, info.Source)
		// Not in ZONEINFO: falls through to the system directory, as Go does.
		_, info, err = ld.LoadInfo("Asia/Seoul")
		require.NoError(t, err)
		assert.Equal(t, SourceSystem, info.Source)
	})
	t.Run("GOROOT zip only", func(t *testing.T) {
		if _, err := os.Stat(gorootZip()); err != nil {
			t.Skip("no GOROOT zip")
		}
		ld := &Loader{Dirs: []string{empty + "/missing"}, LookupEnv: env("ZONEINFO", empty)}
		_, info, err := ld.LoadInfo("Europe/Berlin")
		require.NoError(t, err)
		assert.Equal(t, SourceGOROOT, info.Source)
		assert.Contains(t, info.Note, "GOROOT")
		r := ld.Doctor("Europe/Berlin")
		assert.False(t, r.OK())
		assert.Contains(t, r.String(), "build machine")
	})
	t.Run("no tzdata", func(t *testing.T) {
		ld := &Loader{Dirs: []string{}, SkipGOROOT: true, LookupEnv: env()}
		_, err := ld.Load("Europe/Berlin")
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrNoTZData)
		assert.Contains(t, err.Error(), "tzutil/tzdata")
		// A POSIX TZ still works without any data.
		loc, info, err := ld.FromTZ("CET-1CEST,M3.5.0,M10.5.0/3")
		require.NoError(t, err)
		assert.Equal(t, SourcePOSIX, info.Source)
		_, off := time.Date(2024, 7, 1, 12, 0, 0, 0, loc).Zone()
		assert.Equal(t, 7200, off)
		r := ld.Doctor("Europe/Berlin")
		assert.False(t, r.OK())
		assert.ErrorIs(t, r.Problems[0], ErrNoTZData)
	})
}

func TestFromTZ(t *testing.T) {
	at := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		tz     string
		source Source
		name   string
		off    int // at 2024-07-01 12:00Z
		note   string
	}{
		{"", SourceUTC, "UTC", 0, "UTC"},
		{":", SourceUTC, "UTC", 0, "UTC"},
		{"UTC", SourceUTC, "UTC", 0, ""},
		{"Asia/Shanghai", SourceSystem, "Asia/Shanghai", 8 * 3600, ""},
		{":Asia/Shanghai", SourceSystem, "Asia/Shanghai", 8 * 3600, ""},
		{"/usr/share/zoneinfo/Asia/Shanghai", SourceFile, "Asia/Shanghai", 8 * 3600, ""},
		{":/usr/share/zoneinfo/America/New_York", SourceFile, "America/New_York", -4 * 3600, ""},
		{"PRC", SourceSystem, "PRC", 8 * 3600, ""},
		{"EST5EDT", SourceSystem, "EST5EDT", -4 * 3600, ""},
		{"CST-8", SourcePOSIX, "CST-8", 8 * 3600, "fixed offset UTC+08:00"},
		{"UTC+8", SourcePOSIX, "UTC+8", -8 * 3600, "8 hours west"},
		{"GMT-5:30", SourcePOSIX, "GMT-5:30", 5*3600 + 1800, "east"},
		{"EST5EDT,M3.2.0,M11.1.0", SourcePOSIX, "EST5EDT,M3.2.0,M11.1.0", -4 * 3600, ""},
		{"<+0545>-5:45", SourcePOSIX, "<+0545>-5:45", 5*3600 + 45*60, ""},
		{"AEST-10AEDT,M10.1.0,M4.1.0/3", SourcePOSIX, "AEST-10AEDT,M10.1.0,M4.1.0/3", 10 * 3600, ""},
	}
	for _, c := range cases {
		t.Run(c.tz, func(t *testing.T) {
			loc, info, err := FromTZ(c.tz)
			require.NoError(t, err)
			assert.Equal(t, c.source, info.Source)
			assert.Equal(t, c.name, loc.String())
			_, off := at.In(loc).Zone()
			assert.Equal(t, c.off, off)
			if c.note != "" {
				assert.Contains(t, info.Note, c.note)
			}
		})
	}
	for _, bad := range []string{"Asia/Shangai", "asia/shanghai", "CST", "EST5EDT,M3.2.0", "Foo+", "/nonexistent/zone", "UTC+25"} {
		t.Run("bad "+bad, func(t *testing.T) {
			loc, _, err := FromTZ(bad)
			assert.Nil(t, loc)
			require.Error(t, err)
			if bad == "Asia/Shangai" || bad == "asia/shanghai" {
				assert.Contains(t, err.Error(), `did you mean "Asia/Shanghai"`)
				assert.ErrorIs(t, err, ErrUnknownZone)
				assert.ErrorIs(t, err, ErrPOSIX)
			}
		})
	}
}

func TestLocalNameAndCheckLocal(t *testing.T) {
	dir := t.TempDir()
	zi := filepath.Join(dir, "zoneinfo", "Asia")
	require.NoError(t, os.MkdirAll(zi, 0o755))
	data, err := os.ReadFile("/usr/share/zoneinfo/Asia/Shanghai")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(zi, "Shanghai"), data, 0o644))
	link := filepath.Join(dir, "localtime")
	require.NoError(t, os.Symlink(filepath.Join(zi, "Shanghai"), link))
	env := func(tz string, set bool) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == "TZ" {
				return tz, set
			}
			return "", false
		}
	}
	ld := &Loader{LookupEnv: env("", false), localtime: link, timezone: filepath.Join(dir, "none")}
	name, err := ld.LocalName()
	require.NoError(t, err)
	assert.Equal(t, "Asia/Shanghai", name, "IANA name recovered from the /etc/localtime link")
	loc, info, err := ld.LocalInfo()
	require.NoError(t, err)
	assert.Equal(t, "Asia/Shanghai", loc.String())
	assert.Equal(t, SourceSystem, info.Source)

	ld = &Loader{LookupEnv: env(":/usr/share/zoneinfo/Europe/Berlin", true)}
	name, err = ld.LocalName()
	require.NoError(t, err)
	assert.Equal(t, "Europe/Berlin", name)

	shanghai := MustLoad("Asia/Shanghai")
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		tz     string
		set    bool
		local  *time.Location
		wantOK bool
	}{
		{"", false, time.UTC, true},             // TZ unset: Go follows /etc/localtime
		{"Asia/Shanghai", true, shanghai, true}, // obeyed
		{"CST-8", true, time.UTC, false},        // POSIX: Go fell back to UTC
		{"CST-8", true, shanghai, true},         // same offsets all the time
		{"Asia/Shangai", true, time.UTC, false}, // typo: Go fell back to UTC
		{"EST5EDT,M3.2.0,M11.1.0", true, time.UTC, false},
		{"EST5EDT,M3.2.0,M11.1.0", true, MustLoad("America/New_York"), true},
		{"UTC0", true, time.UTC, true},
	}
	for _, c := range cases {
		err := (&Loader{LookupEnv: env(c.tz, c.set)}).checkLocal(c.local, now)
		if c.wantOK {
			assert.NoError(t, err, c.tz)
			continue
		}
		require.Error(t, err, c.tz)
		assert.ErrorIs(t, err, ErrLocalMismatch, c.tz)
		var me *LocalMismatchError
		require.True(t, errors.As(err, &me))
		assert.Equal(t, c.tz, me.TZ)
	}
	err = (&Loader{LookupEnv: env("Asia/Shangai", true)}).checkLocal(time.UTC, now)
	assert.Contains(t, err.Error(), `did you mean "Asia/Shanghai"`)
}

// TestLoadCanonicalNames: names with empty or "." segments are refused
// with the canonical name as the suggestion, so the cache holds one entry
// per zone and no alias reaches Location.String().
func TestLoadCanonicalNames(t *testing.T) {
	ld := &Loader{}
	for _, n := range []string{"Asia/./Shanghai", "Asia//Shanghai", "Asia/Shanghai/", "./Asia/Shanghai", "Asia/Shanghai/.", "Asia/././Shanghai"} {
		loc, err := ld.Load(n)
		assert.Nil(t, loc, n)
		assert.ErrorIs(t, err, ErrInvalid, n)
		var le *LoadError
		if assert.ErrorAs(t, err, &le, n) {
			assert.Equal(t, []string{"Asia/Shanghai"}, le.Suggest, n)
		}
	}
	// 20,000 distinct aliases of one zone used to be 20,000 cache entries.
	for i := 0; i < 20000; i++ {
		_, _ = ld.Load(strings.Repeat("./", i%50+1) + "Asia/Shanghai" + strings.Repeat("/.", i/50))
	}
	loc, err := ld.Load("Asia/Shanghai")
	require.NoError(t, err)
	assert.Equal(t, "Asia/Shanghai", loc.String())
	assert.Equal(t, int64(1), ld.cached.Load(), "one cache entry per zone")
	n := 0
	ld.cache.Range(func(k, v any) bool { n++; return true })
	assert.Equal(t, 1, n)
}

// TestCacheBounded: even a directory with more zone files than maxCached
// cannot grow the cache past it; loads beyond it are served uncached.
func TestCacheBounded(t *testing.T) {
	defer func(n int64) { maxCached = n }(maxCached)
	maxCached = 20
	dir := t.TempDir()
	data, err := os.ReadFile("/usr/share/zoneinfo/Asia/Tokyo")
	require.NoError(t, err)
	for i := 0; i < int(maxCached)+10; i++ {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("Z%d", i)), data, 0o644))
	}
	ld := &Loader{Dirs: []string{dir}, SkipGOROOT: true}
	for i := 0; i < int(maxCached)+10; i++ {
		loc, err := ld.Load(fmt.Sprintf("Z%d", i))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("Z%d", i), loc.String())
	}
	assert.Equal(t, maxCached, ld.cached.Load())
}

// TestBoundedReads: a zone "file" that is a device, a FIFO or larger than
// any real zone file fails at once with ErrBadData instead of reading
// forever or blocking (FromTZ("/dev/zero") used to exhaust memory).
func TestBoundedReads(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "Big")
	f, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(maxZoneFile+1)) // sparse: costs no disk
	require.NoError(t, f.Close())
	fifo := filepath.Join(dir, "Fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))

	for _, p := range []string{"/dev/zero", big, fifo} {
		_, _, err := FromTZ(p)
		assert.ErrorIs(t, err, ErrBadData, p)
	}
	ld := &Loader{Dirs: []string{dir}, SkipGOROOT: true}
	for _, n := range []string{"Big", "Fifo"} {
		_, err := ld.Load(n)
		assert.ErrorIs(t, err, ErrBadData, n)
	}
	zi := &Loader{Dirs: []string{}, SkipGOROOT: true, LookupEnv: func(k string) (string, bool) {
		if k == "ZONEINFO" {
			return dir, true
		}
		return "", false
	}}
	_, err = zi.Load("Big")
	assert.ErrorIs(t, err, ErrBadData)
	_, _, err = FromTZ("/nonexistent/zone")
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestLocalNameValidated: LocalName never hands back a TZ or /etc/timezone
// value that is not a zone.
func TestLocalNameValidated(t *testing.T) {
	dir := t.TempDir()
	tzf := filepath.Join(dir, "timezone")
	env := func(tz string, set bool) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == "TZ" {
				return tz, set
			}
			return "", false
		}
	}
	for _, c := range []struct {
		tz, want string // want "" means an error
	}{
		{"Asia/Shanghai", "Asia/Shanghai"},
		{":Asia/Shanghai", "Asia/Shanghai"},
		{"CST-8", "CST-8"}, // a POSIX rule, as documented
		{"EST5EDT,M3.2.0,M11.1.0", "EST5EDT,M3.2.0,M11.1.0"},
		{"Asia/Shangai", ""},
		{"../../etc/passwd", ""},
		{"Asia/./Shanghai", ""},
		{"Local", ""},
	} {
		ld := &Loader{LookupEnv: env(c.tz, true)}
		got, err := ld.LocalName()
		if c.want == "" {
			assert.ErrorIs(t, err, ErrUnknownLocal, "TZ=%q gave %q", c.tz, got)
			assert.Empty(t, got)
			continue
		}
		require.NoError(t, err, c.tz)
		assert.Equal(t, c.want, got)
	}
	_, err := (&Loader{LookupEnv: env("Asia/Shangai", true)}).LocalName()
	assert.ErrorContains(t, err, `did you mean "Asia/Shanghai"`)

	require.NoError(t, os.WriteFile(tzf, []byte("Asia/Shangai\n"), 0o644))
	ld := &Loader{LookupEnv: env("", false), localtime: filepath.Join(dir, "localtime"), timezone: tzf}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "localtime"), []byte("not a link"), 0o644))
	_, err = ld.LocalName()
	assert.ErrorIs(t, err, ErrUnknownLocal)
	require.NoError(t, os.WriteFile(tzf, []byte("Europe/Berlin\n"), 0o644))
	got, err := ld.LocalName()
	require.NoError(t, err)
	assert.Equal(t, "Europe/Berlin", got)
}
