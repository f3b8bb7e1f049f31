package tzutil

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The brute-force oracle below reads offsets with Time.Zone only: no
// Resolve, no ZoneBounds, no period cache.

// nearOffsets returns the offsets loc uses within two days of Unix second
// w, sampled every 3 hours (no real zone period is shorter).
func nearOffsets(loc *time.Location, w int64) []int {
	var out []int
	for k := int64(-16); k <= 16; k++ {
		o := offsetOf(loc, w+k*3*3600)
		if !containsInt(out, o) {
			out = append(out, o)
		}
	}
	return out
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// bruteResolve returns the instants (Unix seconds) whose wall clock in loc
// is w (wall time read as UTC seconds), earliest first, and for a gap the
// offsets before and after it.
func bruteResolve(loc *time.Location, w int64) (valid []int64, gapBefore, gapAfter int, gap bool) {
	offs := nearOffsets(loc, w)
	for _, o := range offs {
		if c := w - int64(o); offsetOf(loc, c) == o {
			valid = append(valid, c)
		}
	}
	for i := 1; i < len(valid); i++ { // sort (at most a few)
		for j := i; j > 0 && valid[j] < valid[j-1]; j-- {
			valid[j], valid[j-1] = valid[j-1], valid[j]
		}
	}
	if len(valid) > 0 {
		return valid, 0, 0, false
	}
	for _, ob := range offs {
		for _, oa := range offs {
			if oa > ob && offsetOf(loc, w-int64(oa)) == ob && offsetOf(loc, w-int64(ob)) == oa {
				return nil, ob, oa, true
			}
		}
	}
	return nil, 0, 0, false
}

// bruteCompatible is the Compatible reading of wall time w in loc.
func bruteCompatible(t testing.TB, loc *time.Location, w int64) int64 {
	valid, ob, _, gap := bruteResolve(loc, w)
	switch {
	case len(valid) > 0:
		return valid[0]
	case gap:
		return w - int64(ob)
	}
	t.Fatalf("%s: wall %s neither exists nor lies in a gap", loc, time.Unix(w, 0).UTC())
	return 0
}

// propProbes returns instants of loc to test: half an hour and a day each
// side of up to 60 transitions between 1900 and 2100, plus random ones.
func propProbes(loc *time.Location, r *rand.Rand) []time.Time {
	from := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC)
	var trs []Transition
	for tr := range Transitions(loc, from, to) {
		trs = append(trs, tr)
	}
	r.Shuffle(len(trs), func(i, j int) { trs[i], trs[j] = trs[j], trs[i] })
	var out []time.Time
	for i, tr := range trs {
		if i == 60 {
			break
		}
		for _, d := range []time.Duration{-30 * time.Minute, 30 * time.Minute, -24 * time.Hour, 23*time.Hour + 31*time.Minute} {
			out = append(out, tr.At.Add(d).In(loc))
		}
	}
	span := to.Unix() - from.Unix()
	for range 20 {
		out = append(out, time.Unix(from.Unix()+r.Int64N(span), r.Int64N(1e9)).In(loc))
	}
	return out
}

// TestCalendarPropertiesBruteForce checks AddPeriod, At (through it),
// Round, Truncate, Until and Intervals against the brute-force oracle for
// every zone of Go's slim zoneinfo.zip and the system tzdata, at instants
// around transitions from 1900 to 2100 (a representative subset of zones
// under -short).
func TestCalendarPropertiesBruteForce(t *testing.T) {
	zones := sweepZones(t)
	for _, src := range []struct {
		name string
		ld   *Loader
	}{{"slim", slimLoader(t)}, {"system", &Loader{SkipGOROOT: true}}} {
		t.Run(src.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 11))
			checked := 0
			for _, z := range zones {
				loc, err := src.ld.Load(z)
				if err != nil {
					continue
				}
				for _, tt := range propProbes(loc, r) {
					checkCalendarAt(t, z, loc, tt)
					checked++
					if t.Failed() {
						return
					}
				}
			}
			t.Logf("%d zones, %d instants", len(zones), checked)
			require.Positive(t, checked)
		})
	}
}

func checkCalendarAt(t *testing.T, zone string, loc *time.Location, tt time.Time) {
	t.Helper()
	ns := int64(tt.Nanosecond())
	wall := DateTimeOf(tt)
	_, off := tt.Zone()

	// AddPeriod with days and months: the wall date moves, the wall clock
	// stays, a gap or fold is resolved Compatible.
	for _, p := range []Period{{Days: 1}, {Days: -1}, {Weeks: 1}, {Months: 1}, {Years: -1, Months: 2, Days: 3}} {
		got, err := AddPeriod(tt, p, Clamp, Compatible)
		require.NoError(t, err)
		target := wall
		d, err := wall.Date.AddPeriod(p, Clamp)
		require.NoError(t, err)
		target.Date = d
		want := bruteCompatible(t, loc, target.wallSeconds())
		if got.Unix() != want || int64(got.Nanosecond()) != ns {
			t.Errorf("%s: AddPeriod(%s, %s) = %s, brute force %s", zone, tt.Format(time.RFC3339Nano), p, got.Format(time.RFC3339), time.Unix(want, 0).In(loc).Format(time.RFC3339))
		}
	}

	// Round and Truncate on the wall clock: keep t's offset where it is
	// valid at the rounded wall time, else Compatible.
	for _, c := range []struct {
		unit Unit
		inc  int
		mode RoundingMode
	}{{Hour, 1, Trunc}, {Hour, 1, HalfExpand}, {Minute, 15, HalfExpand}, {Hour, 6, Ceil}} {
		got, err := Round(tt, c.unit, c.inc, c.mode)
		require.NoError(t, err)
		q := int64(c.unit.duration()) * int64(c.inc)
		todNs := tod(wall)
		rn := roundNonNeg(todNs, q, c.mode)
		w := wall.Date.days()*86400 + rn/1e9
		var want int64
		if offsetOf(loc, w-int64(off)) == off {
			want = w - int64(off)
		} else {
			want = bruteCompatible(t, loc, w)
		}
		wantNs := rn % 1e9
		if rn == todNs {
			want, wantNs = tt.Unix(), ns
		}
		if got.Unix() != want || int64(got.Nanosecond()) != wantNs {
			t.Errorf("%s: Round(%s, %d %v, %v) = %s, brute force %s", zone, tt.Format(time.RFC3339Nano), c.inc, c.unit, c.mode, got.Format(time.RFC3339Nano), time.Unix(want, wantNs).In(loc).Format(time.RFC3339Nano))
		}
	}

	// Until then AddPeriod comes back, whenever t's wall clock exists once
	// on every date near the end (otherwise Temporal's own round trip is
	// not exact either).
	// Another instant 0 to 90 days later, chosen by a hash of t.
	h := (uint64(tt.Unix()) * 0x9E3779B97F4A7C15) >> 40
	other := tt.Add(time.Duration(h%(90*24))*time.Hour + 37*time.Minute)
	unique := true
	for k := -3; k <= 3; k++ {
		w := wall
		w.Date = DateOf(other).AddDays(k)
		if v, _, _, _ := bruteResolve(loc, w.wallSeconds()); len(v) != 1 {
			unique = false
		}
	}
	for _, u := range []Unit{Day, Week, Month, Year} {
		p, err := Until(tt, other, u)
		require.NoError(t, err)
		if p.sign() == 2 {
			t.Errorf("%s: Until(%s, %s, %v) = %s has mixed signs", zone, tt, other, u, p)
		}
		if p.Time >= 48*time.Hour || p.Time <= -48*time.Hour {
			t.Errorf("%s: Until(%s, %s, %v) = %s leaves more than a day of time", zone, tt, other, u, p)
		}
		if unique {
			back, err := AddPeriod(tt, p, Clamp, Compatible)
			require.NoError(t, err)
			if !back.Equal(other) {
				t.Errorf("%s: %s + Until(…, %s, %v) = %s + %s = %s", zone, tt.Format(time.RFC3339), other.Format(time.RFC3339), u, tt.Format(time.RFC3339), p, back.Format(time.RFC3339))
			}
		}
	}

	// Truncate to calendar units: the first instant of t's local day,
	// week, month or year, at or before t.
	for _, u := range []Unit{Day, Week, Month, Year} {
		got, err := Truncate(tt, u)
		require.NoError(t, err)
		d := DateOf(got)
		want := DateOf(tt)
		switch u {
		case Week:
			want = want.PreviousOrSame(time.Monday)
		case Month:
			want = want.FirstOfMonth()
		case Year:
			want = want.FirstOfYear()
		}
		// The period's first date may be skipped (Apia 2011-12-30), then it
		// starts on a later date; never on an earlier one.
		if got.After(tt) || d.Before(want) || DateOf(got.Add(-time.Second)) == d {
			t.Errorf("%s: Truncate(%s, %v) = %s, want the first instant of %s", zone, tt.Format(time.RFC3339), u, got.Format(time.RFC3339), want)
		}
	}

	// Intervals of days around t: each start is the first instant of its
	// date, each end the next start.
	days, err := Intervals(tt.Add(-36*time.Hour), tt.Add(36*time.Hour), Day)
	require.NoError(t, err)
	var prevEnd time.Time
	for s, e := range days {
		d := DateOf(s)
		if !prevEnd.IsZero() && !prevEnd.Equal(s) {
			t.Errorf("%s: day intervals not contiguous at %s", zone, s)
		}
		if DateOf(s.Add(-time.Second)) == d || DateOf(e) == d || !e.After(s) {
			t.Errorf("%s: day %s = [%s, %s) is not the span of its date", zone, d, s, e)
		}
		prevEnd = e
	}
}
