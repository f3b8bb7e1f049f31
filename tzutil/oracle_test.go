package tzutil

import (
	"encoding/csv"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The oracle: testdata/day_starts.csv and testdata/transitions.csv, copied
// from shared/testdata/tz (computed with PostgreSQL without trusting either
// side's gap rules; see that README).

type dayRow struct {
	zone   string
	date   Date
	start  time.Time
	length time.Duration
}

type trRow struct {
	zone                  string
	at                    time.Time
	before, after         int
	wallBefore, wallAfter DateTime
}

func readCSV(t testing.TB, name string) [][]string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(recs), 1)
	return recs[1:]
}

func loadDays(t testing.TB) []dayRow {
	t.Helper()
	var rows []dayRow
	for _, r := range readCSV(t, "day_starts.csv") {
		d, err := ParseDate(r[1])
		require.NoError(t, err)
		st, err := time.Parse(time.RFC3339, r[2])
		require.NoError(t, err)
		n, err := strconv.Atoi(r[3])
		require.NoError(t, err)
		rows = append(rows, dayRow{r[0], d, st, time.Duration(n) * time.Second})
	}
	return rows
}

func loadTransitions(t testing.TB) []trRow {
	t.Helper()
	var rows []trRow
	for _, r := range readCSV(t, "transitions.csv") {
		at, err := time.Parse(time.RFC3339, r[1])
		require.NoError(t, err)
		ob, err1 := strconv.Atoi(r[2])
		oa, err2 := strconv.Atoi(r[3])
		require.NoError(t, err1)
		require.NoError(t, err2)
		wb, err := ParseDateTime(r[4])
		require.NoError(t, err)
		wa, err := ParseDateTime(r[5])
		require.NoError(t, err)
		rows = append(rows, trRow{r[0], at, ob, oa, wb, wa})
	}
	return rows
}

// oracleLoc loads a zone for the oracle tests. ZONEINFO (e.g. Go's slim
// lib/time/zoneinfo.zip) is honoured, which is how golang/go#81583 gets
// exercised: see TestOracleSlimData.
func oracleLoc(t testing.TB, ld *Loader, cache map[string]*time.Location, name string) *time.Location {
	t.Helper()
	if l, ok := cache[name]; ok {
		return l
	}
	l, err := ld.Load(name)
	require.NoError(t, err)
	cache[name] = l
	return l
}

func checkDayStarts(t *testing.T, ld *Loader) {
	rows := loadDays(t)
	require.Len(t, rows, 54780)
	locs := map[string]*time.Location{}
	bad := 0
	for _, r := range rows {
		loc := oracleLoc(t, ld, locs, r.zone)
		got, err := StartOfDate(r.date, loc)
		require.NoError(t, err)
		n, err := DayLength(r.date, loc)
		require.NoError(t, err)
		if !got.Equal(r.start) || n != r.length {
			bad++
			if bad < 20 {
				t.Errorf("%s %s: start %s length %v, want %s %v", r.zone, r.date, got.UTC().Format(time.RFC3339), n, r.start.Format(time.RFC3339), r.length)
			}
			continue
		}
		assert.Equal(t, loc, got.Location())
		// StartOfDay/DayBounds from an instant inside the day (when it exists).
		if r.length > 0 {
			mid := r.start.Add(r.length / 2).In(loc)
			s, e := DayBounds(mid)
			if !s.Equal(r.start) || e.Sub(s) != r.length {
				bad++
				t.Errorf("%s %s: DayBounds(%s) = %s..%s", r.zone, r.date, mid, s, e)
			}
		}
	}
	assert.Zero(t, bad, "rows differing from the oracle")
}

func TestOracleDayStarts(t *testing.T) { checkDayStarts(t, &std) }

// slimLoader serves zones from Go's own "slim" zoneinfo.zip, whose
// rule-based years trigger golang/go#81583.
func slimLoader(t *testing.T) *Loader {
	zp := gorootZip()
	if _, err := os.Stat(zp); err != nil {
		t.Skipf("no GOROOT zoneinfo.zip at %q", zp)
	}
	return &Loader{Dirs: []string{}, LookupEnv: func(k string) (string, bool) {
		if k == "ZONEINFO" {
			return zp, true
		}
		return "", false
	}}
}

// TestOracleSlimData runs the whole oracle against Go's slim data, after
// proving that the data really has the golang/go#81583 defect.
func TestOracleSlimData(t *testing.T) {
	ld := slimLoader(t)
	ny, info, err := ld.LoadInfo("America/New_York")
	require.NoError(t, err)
	require.Equal(t, SourceZONEINFO, info.Source)
	probe := time.Date(2024, 12, 31, 12, 0, 0, 0, time.UTC).In(ny)
	_, end := probe.ZoneBounds()
	if end.After(probe) {
		t.Logf("this Go's ZoneBounds no longer shows golang/go#81583 (end %s)", end)
	} else {
		t.Logf("golang/go#81583 present: ZoneBounds(%s) end = %s", probe, end)
	}
	tr, ok := NextTransition(ny, probe)
	require.True(t, ok)
	assert.Equal(t, time.Date(2025, 3, 9, 7, 0, 0, 0, time.UTC), tr.At.UTC())
	t.Run("day_starts", func(t *testing.T) { checkDayStarts(t, ld) })
	t.Run("transitions", func(t *testing.T) { checkTransitions(t, ld) })
}

// TestOracleTransitions: Transitions over each covered year equals the rows
// exactly, and every policy answers as the README's formulas say at the
// start, middle and last second of every gap and fold.
func TestOracleTransitions(t *testing.T) { checkTransitions(t, &std) }

func checkTransitions(t *testing.T, ld *Loader) {
	rows := loadTransitions(t)
	require.Len(t, rows, 195)
	locs := map[string]*time.Location{}
	zones := map[string]bool{}
	for _, r := range loadDays(t) {
		zones[r.zone] = true
	}
	want := map[string][]trRow{}
	for _, r := range rows {
		want[r.zone] = append(want[r.zone], r)
	}
	years := []int{2011, 2018, 2019, 2023, 2024}
	for z := range zones {
		loc := oracleLoc(t, ld, locs, z)
		var got []Transition
		for _, y := range years {
			from, _ := StartOfDate(Date{y, 1, 1}, loc)
			to, _ := StartOfDate(Date{y + 1, 1, 1}, loc)
			for tr := range Transitions(loc, from, to) {
				got = append(got, tr)
			}
		}
		w := want[z]
		if !assert.Len(t, got, len(w), z) {
			continue
		}
		for i := range w {
			assert.True(t, got[i].At.Equal(w[i].at), "%s #%d at %s want %s", z, i, got[i].At.UTC(), w[i].at)
			assert.Equal(t, w[i].before, got[i].OffsetBefore, z)
			assert.Equal(t, w[i].after, got[i].OffsetAfter, z)
			assert.Equal(t, w[i].wallBefore, got[i].WallBefore(), z)
			assert.Equal(t, w[i].wallAfter, got[i].WallAfter(), z)
		}
	}
	for _, r := range rows {
		checkPolicies(t, oracleLoc(t, ld, locs, r.zone), r)
	}
}

// probes returns wall times inside the gap or fold of r: its first second,
// its middle and its last second.
func probes(r trRow) []DateTime {
	lo, hi := r.wallBefore, r.wallAfter
	if r.after < r.before {
		lo, hi = r.wallAfter, r.wallBefore
	}
	a, b := lo.wallSeconds(), hi.wallSeconds()
	var out []DateTime
	for _, s := range []int64{a, (a + b) / 2, b - 1} {
		out = append(out, DateTimeOf(time.Unix(s, 0).UTC()))
	}
	return out
}

func checkPolicies(t *testing.T, loc *time.Location, r trRow) {
	t.Helper()
	gap := r.after > r.before
	for _, w := range probes(r) {
		res, err := Resolve(w, loc)
		require.NoError(t, err)
		ws := w.wallSeconds()
		minusBefore := time.Unix(ws-int64(r.before), 0)
		minusAfter := time.Unix(ws-int64(r.after), 0)
		name := r.zone + " " + w.String()
		if !assert.True(t, res.Transition.Equal(r.at), "%s transition %s", name, res.Transition) {
			continue
		}
		assert.Equal(t, r.before, res.OffsetBefore, name)
		assert.Equal(t, r.after, res.OffsetAfter, name)
		expect := map[Policy]time.Time{}
		if gap {
			assert.Equal(t, Gap, res.Kind, name)
			assert.True(t, res.Earlier.Equal(minusAfter), name)
			assert.True(t, res.Later.Equal(minusBefore), name)
			expect[Compatible] = minusBefore
			expect[Earlier] = minusAfter
			expect[Later] = minusBefore
			expect[PostgreSQL] = minusBefore
			expect[StartOfGap] = r.at
		} else {
			assert.Equal(t, Fold, res.Kind, name)
			assert.True(t, res.Earlier.Equal(minusBefore), name)
			assert.True(t, res.Later.Equal(minusAfter), name)
			expect[Compatible] = minusBefore
			expect[Earlier] = minusBefore
			expect[Later] = minusAfter
			expect[PostgreSQL] = minusAfter
			expect[StartOfGap] = minusBefore
		}
		for p, want := range expect {
			got, err := At(w, loc, p)
			if assert.NoError(t, err, name) {
				assert.True(t, got.Equal(want), "%s %v: got %s want %s", name, p, got.UTC(), want.UTC())
			}
		}
		_, err = At(w, loc, Reject)
		if gap {
			var ge *GapError
			if assert.ErrorAs(t, err, &ge, name) {
				assert.ErrorIs(t, err, ErrGap)
				assert.True(t, ge.Transition.Equal(r.at))
				assert.Equal(t, w, ge.Wall)
			}
		} else {
			var fe *FoldError
			if assert.ErrorAs(t, err, &fe, name) {
				assert.ErrorIs(t, err, ErrFold)
				assert.True(t, fe.Earlier.Equal(minusBefore) && fe.Later.Equal(minusAfter), name)
			}
		}
		// Just outside: the second before the range and the end are unique.
		for _, s := range []int64{probes(r)[0].wallSeconds() - 1, probes(r)[2].wallSeconds() + 1} {
			out := DateTimeOf(time.Unix(s, 0).UTC())
			res, err := Resolve(out, loc)
			require.NoError(t, err)
			assert.Equal(t, Unique, res.Kind, "%s %s just outside", r.zone, out)
		}
	}
}
