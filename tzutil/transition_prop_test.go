package tzutil

import (
	"archive/zip"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// zoneNames lists the zone names of Go's zoneinfo.zip (every canonical zone
// and link of the IANA database), skipping the test when it is absent.
func zoneNames(t testing.TB) []string {
	t.Helper()
	zr, err := zip.OpenReader(gorootZip())
	if err != nil {
		t.Skipf("no GOROOT zoneinfo.zip: %v", err)
	}
	defer zr.Close()
	var out []string
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/") {
			out = append(out, f.Name)
		}
	}
	sort.Strings(out)
	return out
}

// sweepZones returns every zone, or under -short a representative subset:
// the zones where slim data once misled PrevTransition, zones with :30/:45
// offsets, skipped days and double summer time, and every 25th zone.
func sweepZones(t testing.TB) []string {
	all := zoneNames(t)
	if !testing.Short() {
		return all
	}
	pick := map[string]bool{
		"America/Metlakatla": true, "America/Ciudad_Juarez": true, "America/Indiana/Winamac": true,
		"America/New_York": true, "Europe/London": true, "Australia/Lord_Howe": true, "Asia/Kathmandu": true,
		"Pacific/Apia": true, "America/Sao_Paulo": true, "Europe/Moscow": true, "Africa/Casablanca": true,
		"Asia/Kolkata": true, "Antarctica/Troll": true, "Europe/Dublin": true, "America/St_Johns": true,
	}
	var out []string
	for i, z := range all {
		if pick[z] || i%25 == 0 {
			out = append(out, z)
		}
	}
	return out
}

func offsetOf(loc *time.Location, sec int64) int {
	_, o := time.Unix(sec, 0).In(loc).Zone()
	return o
}

// bruteTransitions finds the offset changes in [from, to) by sampling the
// offset every step and bisecting each change down to the second. It uses
// only Time.Zone, never ZoneBounds, so it shares no code path with the
// functions under test.
func bruteTransitions(loc *time.Location, from, to, step int64) []Transition {
	var out []Transition
	prev := offsetOf(loc, from)
	for s := from; s < to; {
		n := min(s+step, to)
		o := offsetOf(loc, n)
		if o != prev {
			lo, hi := s, n // offset(lo) == prev, offset(hi) != prev
			for hi-lo > 1 {
				mid := lo + (hi-lo)/2
				if offsetOf(loc, mid) == prev {
					lo = mid
				} else {
					hi = mid
				}
			}
			if hi < to {
				out = append(out, Transition{At: time.Unix(hi, 0), OffsetBefore: prev, OffsetAfter: offsetOf(loc, hi)})
			}
			// Resume just after the change: another may follow within step.
			prev, s = offsetOf(loc, hi), hi
			continue
		}
		s = n
	}
	return out
}

func sameTransition(a, b Transition) bool {
	return a.At.Equal(b.At) && a.OffsetBefore == b.OffsetBefore && a.OffsetAfter == b.OffsetAfter
}

func fmtTr(tr Transition, ok bool) string {
	if !ok {
		return "none"
	}
	return fmt.Sprintf("%s %s>%s", tr.At.UTC().Format(time.RFC3339), FormatOffset(tr.OffsetBefore), FormatOffset(tr.OffsetAfter))
}

// checkTransitionsBothWays compares Transitions, NextTransition and
// PrevTransition with the brute-force scan over 1900-2100 and returns the
// number of disagreements (reporting the first few).
func checkTransitionsBothWays(t *testing.T, zone string, loc *time.Location) int {
	from := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	to := time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	want := bruteTransitions(loc, from, to, 6*3600)
	bad := 0
	report := func(format string, args ...any) {
		bad++
		if bad <= 3 {
			t.Errorf(zone+": "+format, args...)
		}
	}
	var got []Transition
	for tr := range Transitions(loc, time.Unix(from, 0), time.Unix(to, 0)) {
		got = append(got, tr)
	}
	if len(got) != len(want) {
		report("Transitions found %d, brute force %d", len(got), len(want))
	}
	for i := 0; i < min(len(got), len(want)); i++ {
		if !sameTransition(got[i], want[i]) {
			report("Transitions #%d = %s, brute force %s", i, fmtTr(got[i], true), fmtTr(want[i], true))
			break
		}
	}
	for i, w := range want {
		at := w.At.Unix()
		if tr, ok := NextTransition(loc, time.Unix(at-1, 0)); !ok || !sameTransition(tr, w) {
			report("NextTransition(%s − 1s) = %s, want %s", w.At.UTC(), fmtTr(tr, ok), fmtTr(w, true))
		}
		if tr, ok := PrevTransition(loc, time.Unix(at, 0)); !ok || !sameTransition(tr, w) {
			report("PrevTransition(%s) = %s, want %s", w.At.UTC(), fmtTr(tr, ok), fmtTr(w, true))
		}
		end := to
		if i+1 < len(want) {
			end = want[i+1].At.Unix()
		}
		for _, probe := range []int64{at + (end-at)/2, end - 1} {
			if tr, ok := PrevTransition(loc, time.Unix(probe, 0)); !ok || !sameTransition(tr, w) {
				report("PrevTransition(%s) = %s, want %s", time.Unix(probe, 0).UTC(), fmtTr(tr, ok), fmtTr(w, true))
			}
		}
		if i+1 < len(want) {
			if tr, ok := NextTransition(loc, time.Unix(at, 0)); !ok || !sameTransition(tr, want[i+1]) {
				report("NextTransition(%s) = %s, want %s", w.At.UTC(), fmtTr(tr, ok), fmtTr(want[i+1], true))
			}
		}
	}
	return bad
}

// TestTransitionsBruteForce checks, for every zone of the system tzdata and
// of Go's slim zoneinfo.zip (where golang/go#81583 and the footer-rule year
// start live), both directions of the transition API against a brute-force
// scan from 1900 to 2100. Under -short it checks a representative subset.
func TestTransitionsBruteForce(t *testing.T) {
	zones := sweepZones(t)
	sys := &Loader{SkipGOROOT: true}
	for _, src := range []struct {
		name string
		ld   *Loader
	}{{"slim", slimLoader(t)}, {"system", sys}} {
		t.Run(src.name, func(t *testing.T) {
			bad, n := 0, 0
			for _, z := range zones {
				loc, err := src.ld.Load(z)
				if err != nil {
					if src.name == "system" {
						continue // older system data may lack a newer zone
					}
					require.NoError(t, err)
				}
				n++
				bad += checkTransitionsBothWays(t, z, loc)
			}
			t.Logf("%d zones, %d disagreements", n, bad)
			require.Positive(t, n)
		})
	}
}

// TestPrevTransitionSlimRegressions pins the three cases where slim data
// made PrevTransition report a transition that never happened.
func TestPrevTransitionSlimRegressions(t *testing.T) {
	ld := slimLoader(t)
	cases := []struct {
		zone string
		at   string // the real transition
	}{
		{"America/Metlakatla", "2019-01-20T10:00:00Z"},
		{"America/Ciudad_Juarez", "2022-11-30T06:00:00Z"},
		{"America/Indiana/Winamac", "2007-03-11T08:00:00Z"},
	}
	for _, c := range cases {
		loc, err := ld.Load(c.zone)
		require.NoError(t, err)
		want, err := time.Parse(time.RFC3339, c.at)
		require.NoError(t, err)
		for _, d := range []time.Duration{0, time.Hour, 24 * time.Hour} {
			tr, ok := PrevTransition(loc, want.Add(d))
			if !ok || !tr.At.Equal(want) {
				t.Errorf("%s: PrevTransition(%s) = %s, want %s", c.zone, want.Add(d).UTC(), fmtTr(tr, ok), c.at)
			}
		}
	}
}
