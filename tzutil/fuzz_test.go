package tzutil

import (
	"errors"
	"testing"
	"time"
)

func FuzzLoad(f *testing.F) {
	for _, s := range []string{"Asia/Shanghai", "asia/shanghai", "Asia/Shangai", "", "Local", "UTC", "../x", "/etc/localtime", "CST", "America/Argentina/Buenos_Aires", "Etc/GMT+8", "zone.tab", "a\x00b"} {
		f.Add(s)
	}
	ld := &Loader{}
	f.Fuzz(func(t *testing.T, name string) {
		loc, info, err := ld.LoadInfo(name)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("%q: error %v is not a *LoadError", name, err)
			}
			if !errors.Is(err, ErrUnknownZone) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrBadData) && !errors.Is(err, ErrNoTZData) {
				t.Fatalf("%q: unclassified error %v", name, err)
			}
			if loc != nil {
				t.Fatalf("%q: location with error", name)
			}
			return
		}
		if loc == nil || loc.String() != name || info.Source == SourceUnknown {
			t.Fatalf("%q: loaded %v %+v", name, loc, info)
		}
	})
}

func FuzzParsePOSIX(f *testing.F) {
	for _, s := range []string{"CST-8", "EST5EDT,M3.2.0,M11.1.0", "<+0545>-5:45", "UTC+8", "IST-1GMT0,M10.5.0,M3.5.0/1", "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "EST5EDT,J60/2,300/-3", "AAA24BBB,M12.5.6/167,J1/-167", "EST5,", "<+08"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePOSIXRule(s)
		loc, lerr := ParsePOSIX(s)
		if (err == nil) != (lerr == nil) {
			t.Fatalf("%q: rule err %v, location err %v", s, err, lerr)
		}
		if err != nil {
			if !errors.Is(err, ErrPOSIX) || !errors.Is(lerr, ErrPOSIX) {
				t.Fatalf("%q: unclassified %v / %v", s, err, lerr)
			}
			return
		}
		// The canonical form parses back to the same rule.
		r2, err := ParsePOSIXRule(r.String())
		if err != nil || r2 != r {
			t.Fatalf("%q: String %q reparsed to %+v, %v", s, r.String(), r2, err)
		}
		// Every instant gets the standard or the daylight offset and name.
		for _, sec := range []int64{-1e9, 0, 1.7e9, 1.72e9, 1.73e9, 4e9} {
			name, off := time.Unix(sec, 0).In(loc).Zone()
			okStd := name == r.Std && off == r.StdOffset
			okDst := r.Dst != "" && name == r.Dst && off == r.DstOffset
			if !okStd && !okDst {
				t.Fatalf("%q at %d: %s %d not in %+v", s, sec, name, off, r)
			}
		}
	})
}

func FuzzParseDateTime(f *testing.F) {
	for _, s := range []string{"2024-03-10T02:30", "2024-03-10 02:30:15.5", "2024-02-30T00:00", "2024-03-10T02:30+08:00", "9999-12-31T23:59:59.999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dt, err := ParseDateTime(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("%q: unclassified %v", s, err)
			}
			return
		}
		back, err := ParseDateTime(dt.String())
		if err != nil || back != dt {
			t.Fatalf("%q: %v reparsed as %v, %v", s, dt, back, err)
		}
		// Every valid wall time resolves in a DST zone without error.
		loc := MustLoad("America/Sao_Paulo")
		for _, p := range []Policy{Compatible, Earlier, Later, PostgreSQL, StartOfGap} {
			if _, err := At(dt, loc, p); err != nil {
				t.Fatalf("%q %v: %v", s, p, err)
			}
		}
	})
}
