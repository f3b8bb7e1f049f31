package tzutil

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDate(t *testing.T) {
	d, err := ParseDate("2024-02-29")
	require.NoError(t, err)
	assert.Equal(t, Date{2024, time.February, 29}, d)
	assert.Equal(t, time.Thursday, d.Weekday())
	assert.Equal(t, Date{2024, time.March, 1}, d.AddDays(1))
	assert.Equal(t, Date{2023, time.December, 31}, (Date{2024, 1, 1}).AddDays(-1))
	assert.Equal(t, 366, Date{2025, 1, 1}.DaysSince(Date{2024, 1, 1}))
	assert.Equal(t, time.Thursday, Date{1970, 1, 1}.Weekday())
	assert.Equal(t, time.Sunday, Date{1, 1, 7}.Weekday())
	for _, s := range []string{"2023-02-29", "2024-13-01", "2024-00-10", "0000-01-01", "2024-1-01", "20240101", "2024-01-32"} {
		_, err := ParseDate(s)
		assert.Error(t, err, s)
	}
	// days() and dateFromDays() agree with time over a long range.
	for z := int64(-800000); z < 800000; z += 997 {
		tt := time.Unix(z*86400, 0).UTC()
		want := DateOf(tt)
		assert.Equal(t, want, dateFromDays(z))
		assert.Equal(t, z, want.days())
		assert.Equal(t, tt.Weekday(), want.Weekday())
	}
	jan31 := Date{2024, 1, 31}
	for o, want := range map[Overflow]Date{Clamp: {2024, 2, 29}, Normalize: {2024, 3, 2}} {
		got, err := jan31.AddMonths(1, o)
		require.NoError(t, err)
		assert.Equal(t, want, got, o.String())
	}
	_, err = jan31.AddMonths(1, RejectOverflow)
	assert.ErrorIs(t, err, ErrOutOfRange)
	// An unknown Overflow is refused even when the day exists.
	_, err = Date{2024, 1, 15}.AddMonths(1, Overflow(9))
	assert.ErrorContains(t, err, "unknown Overflow")
	_, err = AddMonths(time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC), 1, Overflow(9), Compatible)
	assert.ErrorContains(t, err, "unknown Overflow")
	_, err = Date{2024, 1, 15}.AddMonths(1<<40, Clamp)
	assert.ErrorIs(t, err, ErrOutOfRange)
	got, err := Date{2024, 3, 15}.AddMonths(-15, Clamp)
	require.NoError(t, err)
	assert.Equal(t, Date{2022, 12, 15}, got)
	b, err := Date{2024, 3, 10}.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "2024-03-10", string(b))
}

func TestDateTime(t *testing.T) {
	for in, want := range map[string]DateTime{
		"2024-03-10T02:30":              {Date{2024, 3, 10}, 2, 30, 0, 0},
		"2024-03-10 02:30:15":           {Date{2024, 3, 10}, 2, 30, 15, 0},
		"2024-03-10T02:30:15.5":         {Date{2024, 3, 10}, 2, 30, 15, 500000000},
		"2024-03-10T02:30:15.123456789": {Date{2024, 3, 10}, 2, 30, 15, 123456789},
	} {
		got, err := ParseDateTime(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	assert.Equal(t, "2024-03-10T02:30:15.5", DateTime{Date{2024, 3, 10}, 2, 30, 15, 500000000}.String())
	for _, in := range []string{"2024-03-10T24:00", "2024-03-10T02:30+08:00", "2024-03-10T02:30:00Z", "2024-03-10", "2024-03-10T02:60", "2024-03-10T02:30:00.1234567890", "2024-03-10T02:30:00 CST"} {
		_, err := ParseDateTime(in)
		assert.Error(t, err, in)
	}
}

func TestDaysBetweenAndAdd(t *testing.T) {
	ny := MustLoad("America/New_York")
	a := time.Date(2024, 3, 10, 0, 0, 0, 0, ny)
	b := time.Date(2024, 3, 11, 0, 0, 0, 0, ny)
	assert.Equal(t, 23*time.Hour, b.Sub(a))
	assert.Equal(t, 1, DaysBetween(a, b, ny), "a 23-hour day is still one calendar day")
	assert.Equal(t, 0, int(b.Sub(a)/(24*time.Hour)), "what Δ/24h (carbon DiffInDays) gives")
	assert.Equal(t, -1, DaysBetween(b, a, ny))

	// Same wall time tomorrow across spring-forward vs adding 24 hours.
	sat := time.Date(2024, 3, 9, 9, 0, 0, 0, ny)
	sun, err := AddDays(sat, 1, Compatible)
	require.NoError(t, err)
	assert.Equal(t, "2024-03-10T09:00:00-04:00", sun.Format(time.RFC3339))
	assert.Equal(t, "2024-03-10T10:00:00-04:00", sat.Add(24*time.Hour).Format(time.RFC3339))

	// 02:30 the day before the gap + 1 day lands in the gap: policy decides.
	before := time.Date(2024, 3, 9, 2, 30, 0, 0, ny)
	for p, want := range map[Policy]string{
		Compatible: "2024-03-10T03:30:00-04:00",
		Earlier:    "2024-03-10T01:30:00-05:00",
		Later:      "2024-03-10T03:30:00-04:00",
		StartOfGap: "2024-03-10T03:00:00-04:00",
		PostgreSQL: "2024-03-10T03:30:00-04:00",
	} {
		got, err := AddDays(before, 1, p)
		require.NoError(t, err)
		assert.Equal(t, want, got.Format(time.RFC3339), p.String())
	}
	_, err = AddDays(before, 1, Reject)
	var ge *GapError
	require.ErrorAs(t, err, &ge)
	assert.Contains(t, err.Error(), "2024-03-10T02:30:00 does not exist in America/New_York")

	// Fold: 01:30 on 2024-11-03 happens twice.
	fold := time.Date(2024, 11, 2, 1, 30, 0, 0, ny)
	e, err := AddDays(fold, 1, Earlier)
	require.NoError(t, err)
	l, err := AddDays(fold, 1, Later)
	require.NoError(t, err)
	assert.Equal(t, time.Hour, l.Sub(e))
	_, err = AddDays(fold, 1, Reject)
	assert.ErrorIs(t, err, ErrFold)

	// Months: clamp keeps the wall time.
	m, err := AddMonths(time.Date(2024, 1, 31, 8, 0, 0, 0, ny), 1, Clamp, Compatible)
	require.NoError(t, err)
	assert.Equal(t, "2024-02-29T08:00:00-05:00", m.Format(time.RFC3339))
	_, err = AddMonths(time.Date(2024, 1, 31, 8, 0, 0, 0, ny), 1, RejectOverflow, Compatible)
	assert.ErrorIs(t, err, ErrOutOfRange)
	_, err = AddDays(time.Date(9999, 12, 31, 0, 0, 0, 0, ny), 1, Compatible)
	assert.ErrorIs(t, err, ErrOutOfRange)
}

func TestBoundaries(t *testing.T) {
	sp := MustLoad("America/Sao_Paulo")
	// Midnight skipped on 2018-11-04: the day starts at 01:00.
	in := time.Date(2018, 11, 4, 15, 0, 0, 0, sp)
	assert.Equal(t, "2018-11-04T01:00:00-02:00", StartOfDay(in).Format(time.RFC3339))
	assert.Equal(t, "2018-11-03T23:00:00-03:00", time.Date(2018, 11, 4, 0, 0, 0, 0, sp).Format(time.RFC3339), "time.Date lands on the previous day")
	assert.Equal(t, "2018-11-05T00:00:00-02:00", EndOfDay(in).Format(time.RFC3339))
	// Week starting Monday and Sunday; month.
	assert.Equal(t, "2018-10-29T00:00:00-03:00", StartOfWeek(in, time.Monday).Format(time.RFC3339))
	assert.Equal(t, "2018-11-04T01:00:00-02:00", StartOfWeek(in, time.Sunday).Format(time.RFC3339))
	assert.Equal(t, "2018-11-01T00:00:00-03:00", StartOfMonth(in).Format(time.RFC3339))
	assert.Equal(t, "2018-12-01T00:00:00-02:00", EndOfMonth(in).Format(time.RFC3339))
	assert.Equal(t, "2018-01-01T00:00:00-02:00", StartOfYear(in).Format(time.RFC3339))
	// December's end is next year's first day; a weekday past Saturday
	// wraps (8 = Monday).
	dec := time.Date(2024, 12, 15, 12, 0, 0, 0, sp)
	assert.Equal(t, "2025-01-01T00:00:00-03:00", EndOfMonth(dec).Format(time.RFC3339))
	assert.Equal(t, StartOfWeek(in, time.Monday), StartOfWeek(in, time.Weekday(8)))
	// Azores, 2024-10-27: midnight happens twice (01:00 → 00:00); first one.
	az := MustLoad("Atlantic/Azores")
	s, err := StartOfDate(Date{2024, 10, 27}, az)
	require.NoError(t, err)
	assert.Equal(t, "2024-10-27T00:00:00Z", s.Format(time.RFC3339))
	n, err := DayLength(Date{2024, 10, 27}, az)
	require.NoError(t, err)
	assert.Equal(t, 25*time.Hour, n)
	// Apia skipped 2011-12-30 entirely.
	apia := MustLoad("Pacific/Apia")
	n, err = DayLength(Date{2011, 12, 30}, apia)
	require.NoError(t, err)
	assert.Zero(t, n)
	r, err := Resolve(DateTime{Date{2011, 12, 30}, 12, 0, 0, 0}, apia)
	require.NoError(t, err)
	assert.Equal(t, Gap, r.Kind)
	assert.Equal(t, 24*time.Hour, r.Later.Sub(r.Earlier))
	// Zone with an injected clock.
	z := Zone{Location: MustLoad("Asia/Shanghai"), Now: func() time.Time { return time.Date(2024, 3, 9, 20, 0, 0, 0, time.UTC) }}
	assert.Equal(t, Date{2024, 3, 10}, z.Today())
	assert.Equal(t, "2024-03-10T00:00:00+08:00", z.StartOfToday().Format(time.RFC3339))
	// Bad input.
	_, err = StartOfDate(Date{2024, 2, 30}, sp)
	assert.ErrorIs(t, err, ErrOutOfRange)
	_, err = DayLength(Date{}, sp)
	assert.ErrorIs(t, err, ErrOutOfRange)
	_, err = Resolve(DateTime{Date{2024, 1, 1}, 25, 0, 0, 0}, sp)
	assert.ErrorIs(t, err, ErrOutOfRange)
	_, err = At(DateTime{Date{2024, 1, 1}, 1, 0, 0, 0}, sp, Policy(99))
	assert.Error(t, err)
}

func TestTransitionsAPI(t *testing.T) {
	ny := MustLoad("America/New_York")
	mid := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	next, ok := NextTransition(ny, mid)
	require.True(t, ok)
	assert.Equal(t, "2024-11-03T06:00:00Z", next.At.UTC().Format(time.RFC3339))
	assert.False(t, next.IsGap())
	assert.Equal(t, "EDT", next.NameBefore)
	assert.Equal(t, "EST", next.NameAfter)
	prev, ok := PrevTransition(ny, mid)
	require.True(t, ok)
	assert.Equal(t, "2024-03-10T07:00:00Z", prev.At.UTC().Format(time.RFC3339))
	assert.True(t, prev.IsGap())
	// Exactly at a transition: Next is strictly after, Prev includes it.
	n2, _ := NextTransition(ny, prev.At)
	assert.True(t, n2.At.Equal(next.At))
	p2, _ := PrevTransition(ny, prev.At)
	assert.True(t, p2.At.Equal(prev.At))
	_, ok = NextTransition(time.UTC, mid)
	assert.False(t, ok)
	_, ok = NextTransition(MustLoad("Asia/Shanghai"), mid)
	assert.False(t, ok)
	// The iterator stops when asked.
	count := 0
	for range Transitions(ny, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		count++
		if count == 3 {
			break
		}
	}
	assert.Equal(t, 3, count)
}

// TestAnchorsOnOracle documents, on the oracle rows, what the common
// anchors get wrong: time.Date(y, m, d, 0, ...) as the start of day (the
// code inside jinzhu/now BeginningOfDay and carbon StartOfDay) and
// Date(d+1)−Date(d) as the day length.
func TestAnchorsOnOracle(t *testing.T) {
	locs := map[string]*time.Location{}
	wrongStart, wrongLen, prevDate := 0, 0, 0
	for _, r := range loadDays(t) {
		loc := oracleLoc(t, &std, locs, r.zone)
		naive := time.Date(r.date.Year, r.date.Month, r.date.Day, 0, 0, 0, 0, loc)
		if !naive.Equal(r.start) {
			wrongStart++
			if DateOf(naive).Before(r.date) {
				prevDate++
			}
		}
		next := time.Date(r.date.Year, r.date.Month, r.date.Day+1, 0, 0, 0, 0, loc)
		if next.Sub(naive) != r.length {
			wrongLen++
		}
	}
	t.Logf("time.Date start of day wrong on %d rows (%d on the previous date); naive day length wrong on %d", wrongStart, prevDate, wrongLen)
	// Exact counts on this oracle (30 zones × 5 years); tzutil gets 0.
	assert.Equal(t, 12, wrongStart)
	assert.Equal(t, 12, prevDate)
	assert.Equal(t, 24, wrongLen)
}

func TestDateBoundsAndYearTransitions(t *testing.T) {
	cases := []struct {
		zone       string
		date       Date
		start, end string
	}{
		{"America/Sao_Paulo", Date{2018, 11, 4}, "2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"},
		{"America/New_York", Date{2024, 11, 3}, "2024-11-03T00:00:00-04:00", "2024-11-04T00:00:00-05:00"},
		{"Pacific/Apia", Date{2011, 12, 30}, "2011-12-31T00:00:00+14:00", "2011-12-31T00:00:00+14:00"},
		{"Asia/Kolkata", Date{2024, 1, 1}, "2024-01-01T00:00:00+05:30", "2024-01-02T00:00:00+05:30"},
	}
	for _, c := range cases {
		loc := MustLoad(c.zone)
		s, e, err := DateBounds(c.date, loc)
		require.NoError(t, err)
		assert.Equal(t, c.start, s.Format(time.RFC3339), c.zone)
		assert.Equal(t, c.end, e.Format(time.RFC3339), c.zone)
		n, _ := DayLength(c.date, loc)
		assert.Equal(t, n, e.Sub(s), c.zone)
		e2, err := EndOfDate(c.date, loc)
		require.NoError(t, err)
		assert.True(t, e2.Equal(e))
	}
	_, _, err := DateBounds(Date{2023, 2, 29}, nil)
	assert.ErrorIs(t, err, ErrOutOfRange)

	trs, err := YearTransitions(MustLoad("Europe/London"), 2024)
	require.NoError(t, err)
	require.Len(t, trs, 2)
	assert.Equal(t, "2024-03-31T01:00:00Z", trs[0].At.UTC().Format(time.RFC3339))
	assert.Equal(t, "2024-10-27T01:00:00Z", trs[1].At.UTC().Format(time.RFC3339))
	// The local year: Apia's 2011 ends at the start of 2012-01-01 in Apia.
	trs, err = YearTransitions(MustLoad("Pacific/Apia"), 2011)
	require.NoError(t, err)
	var got []string
	for _, tr := range trs {
		got = append(got, tr.WallBefore().String()+">"+tr.WallAfter().String())
	}
	assert.Equal(t, []string{"2011-04-02T04:00:00>2011-04-02T03:00:00", "2011-09-24T03:00:00>2011-09-24T04:00:00", "2011-12-30T00:00:00>2011-12-31T00:00:00"}, got)
	trs, err = YearTransitions(nil, 2024)
	require.NoError(t, err)
	assert.Empty(t, trs)
	for _, y := range []int{MinYear, MaxYear} {
		_, err := YearTransitions(MustLoad("America/New_York"), y)
		assert.NoError(t, err, y)
	}
}

// TestExtremesOfTime: at the first and last instants time.Time can
// represent, day boundaries keep their order and transitions never wrap
// around to the other end of time.
func TestExtremesOfTime(t *testing.T) {
	maxT := time.Unix(math.MaxInt64-62135596800, 999999999)
	minT := time.Date(-292277022400, 3, 3, 0, 0, 0, 0, time.UTC) // Time.Date's calendar starts on 03-01
	for _, z := range []string{"UTC", "America/New_York", "Asia/Shanghai", "Australia/Lord_Howe", "Asia/Kathmandu"} {
		loc := MustLoad(z)
		for _, x := range []time.Time{maxT, maxT.Add(-36 * time.Hour), minT, minT.Add(36 * time.Hour)} {
			x = x.In(loc)
			if d := x.Year() - x.UTC().Year(); d < -1 || d > 1 || (x.Unix() < 0) != (x.Year() < 1970) {
				// At the very ends of the range, Go's own Time.Date wraps
				// around for some offsets: there is no wall clock to test.
				continue
			}
			name := z + " " + x.String()
			s, e := DayBounds(x)
			assert.False(t, s.After(x), "%s: StartOfDay %s after t", name, s)
			assert.False(t, e.Before(x), "%s: EndOfDay %s before t", name, e)
			assert.True(t, e.After(s), "%s: EndOfDay %s not after StartOfDay %s", name, e, s)
			for _, b := range []time.Time{StartOfWeek(x, time.Monday), StartOfMonth(x), StartOfYear(x)} {
				assert.False(t, b.After(x), "%s: start %s after t", name, b)
			}
			assert.False(t, EndOfMonth(x).Before(x), "%s: EndOfMonth before t", name)
			if tr, ok := NextTransition(loc, x); ok {
				assert.True(t, tr.At.After(x), "%s: NextTransition %s not after t", name, tr.At)
			}
			if tr, ok := PrevTransition(loc, x); ok {
				assert.False(t, tr.At.After(x), "%s: PrevTransition %s after t", name, tr.At)
			}
			for tr := range Transitions(loc, x.Add(-48*time.Hour), x) {
				assert.True(t, tr.At.Before(x), "%s: Transitions yields %s", name, tr.At)
			}
		}
	}
}

// TestAddMonthsInvalidDate: a Date built by hand that is not a calendar
// date is refused, not normalised into another month.
func TestAddMonthsInvalidDate(t *testing.T) {
	for _, d := range []Date{{2024, 8, 32}, {2024, 9, 0}, {2024, 13, 1}, {2023, 2, 29}, {0, 1, 1}} {
		for _, o := range []Overflow{Clamp, Normalize, RejectOverflow} {
			got, err := d.AddMonths(0, o)
			assert.ErrorIs(t, err, ErrInvalid, "%v.AddMonths(0, %v) = %v", d, o, got)
			assert.ErrorIs(t, err, ErrOutOfRange)
		}
	}
	_, err := (Date{9999, 12, 31}).AddMonths(1, Clamp)
	assert.ErrorIs(t, err, ErrOutOfRange, "the result leaves MinYear..MaxYear")
	got, err := (Date{2024, 1, 31}).AddMonths(1, Clamp)
	require.NoError(t, err)
	assert.Equal(t, Date{2024, 2, 29}, got)
}
