package tzutil

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdjusters(t *testing.T) {
	wed := Date{2024, 5, 15}
	require.Equal(t, time.Wednesday, wed.Weekday())
	assert.Equal(t, Date{2024, 5, 20}, wed.Next(time.Monday))
	assert.Equal(t, Date{2024, 5, 22}, wed.Next(time.Wednesday))
	assert.Equal(t, wed, wed.NextOrSame(time.Wednesday))
	assert.Equal(t, Date{2024, 5, 16}, wed.NextOrSame(time.Thursday))
	assert.Equal(t, Date{2024, 5, 13}, wed.Previous(time.Monday))
	assert.Equal(t, Date{2024, 5, 8}, wed.Previous(time.Wednesday))
	assert.Equal(t, wed, wed.PreviousOrSame(time.Wednesday))
	assert.Equal(t, Date{2024, 5, 1}, wed.FirstOfMonth())
	assert.Equal(t, Date{2024, 5, 31}, wed.LastOfMonth())
	assert.Equal(t, Date{2024, 2, 29}, Date{2024, 2, 3}.LastOfMonth())
	assert.Equal(t, Date{2024, 4, 1}, wed.FirstOfQuarter())
	assert.Equal(t, Date{2024, 6, 30}, wed.LastOfQuarter())
	assert.Equal(t, Date{2024, 12, 31}, Date{2024, 11, 2}.LastOfQuarter())
	assert.Equal(t, Date{2024, 1, 1}, Date{2024, 3, 31}.FirstOfQuarter())
	assert.Equal(t, Date{2024, 1, 1}, wed.FirstOfYear())
	assert.Equal(t, Date{2024, 12, 31}, wed.LastOfYear())

	// Weekday adjusters against a brute-force walk, for every start weekday.
	for i := range 14 {
		d := Date{2024, 1, 1}.AddDays(i)
		for w := time.Sunday; w <= time.Saturday; w++ {
			n := d.AddDays(1)
			for n.Weekday() != w {
				n = n.AddDays(1)
			}
			assert.Equal(t, n, d.Next(w))
			p := d.AddDays(-1)
			for p.Weekday() != w {
				p = p.AddDays(-1)
			}
			assert.Equal(t, p, d.Previous(w))
		}
	}

	cases := []struct {
		y    int
		m    time.Month
		n    int
		w    time.Weekday
		want Date // zero: error
	}{
		{2024, time.March, 2, time.Sunday, Date{2024, 3, 10}}, // US DST start
		{2024, time.November, 1, time.Sunday, Date{2024, 11, 3}},
		{2024, time.March, -1, time.Sunday, Date{2024, 3, 31}}, // EU DST start
		{2024, time.May, -1, time.Monday, Date{2024, 5, 27}},   // Memorial Day
		{2024, time.November, 4, time.Thursday, Date{2024, 11, 28}},
		{2024, time.September, 5, time.Monday, Date{2024, 9, 30}},
		{2024, time.February, 5, time.Monday, Date{}},
		{2024, time.February, 0, time.Monday, Date{}},
		{2024, time.February, 6, time.Monday, Date{}},
		{2024, time.Month(13), 1, time.Monday, Date{}},
	}
	for _, c := range cases {
		got, err := NthWeekday(c.y, c.m, c.n, c.w)
		if c.want == (Date{}) {
			assert.ErrorIs(t, err, ErrInvalid, "%d-%d %d %v = %s", c.y, c.m, c.n, c.w, got)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "%d %v %d %v", c.y, c.m, c.n, c.w)
	}
}

func TestDatesAndIntervals(t *testing.T) {
	seq, err := Dates(Date{2024, 1, 31}, Date{2024, 6, 1}, Period{Months: 1})
	require.NoError(t, err)
	assert.Equal(t, []Date{{2024, 1, 31}, {2024, 2, 29}, {2024, 3, 31}, {2024, 4, 30}, {2024, 5, 31}}, slices.Collect(seq))
	seq, err = Dates(Date{2024, 1, 1}, Date{2024, 1, 22}, Period{Weeks: 1})
	require.NoError(t, err)
	assert.Equal(t, []Date{{2024, 1, 1}, {2024, 1, 8}, {2024, 1, 15}}, slices.Collect(seq))
	for _, bad := range []Period{{}, {Days: -1}, {Months: 1, Days: -1}, {Time: time.Hour}} {
		_, err := Dates(Date{2024, 1, 1}, Date{2024, 2, 1}, bad)
		assert.ErrorIs(t, err, ErrInvalid, "%v", bad)
	}
	n := 0
	seq, _ = Dates(Date{2024, 1, 1}, Date{2025, 1, 1}, Period{Days: 1})
	for range seq {
		n++
		if n == 10 {
			break
		}
	}
	assert.Equal(t, 10, n, "the iterator stops when asked")

	ny := MustLoad("America/New_York")
	from := time.Date(2024, 3, 9, 15, 0, 0, 0, ny)
	days, err := Intervals(from, time.Date(2024, 3, 12, 0, 0, 0, 0, ny), Day)
	require.NoError(t, err)
	var got []string
	for s, e := range days {
		got = append(got, s.Format("01-02T15:04Z07:00")+" "+e.Sub(s).String())
	}
	assert.Equal(t, []string{"03-09T00:00-05:00 24h0m0s", "03-10T00:00-05:00 23h0m0s", "03-11T00:00-04:00 24h0m0s"}, got)

	apia := MustLoad("Pacific/Apia")
	days, _ = Intervals(time.Date(2011, 12, 29, 12, 0, 0, 0, apia), time.Date(2012, 1, 1, 0, 0, 0, 0, apia), Day)
	got = nil
	for s := range days {
		got = append(got, DateOf(s).String())
	}
	assert.Equal(t, []string{"2011-12-29", "2011-12-31"}, got, "the skipped date yields nothing")

	months, _ := Intervals(time.Date(2024, 1, 15, 0, 0, 0, 0, ny), time.Date(2024, 4, 1, 0, 0, 0, 0, ny), Month)
	got = nil
	for s, e := range months {
		got = append(got, DateOf(s).String()+"/"+DateOf(e).String())
	}
	assert.Equal(t, []string{"2024-01-01/2024-02-01", "2024-02-01/2024-03-01", "2024-03-01/2024-04-01"}, got)
	weeks, _ := Intervals(time.Date(2024, 5, 15, 0, 0, 0, 0, ny), time.Date(2024, 5, 21, 0, 0, 0, 0, ny), Week)
	got = nil
	for s := range weeks {
		got = append(got, DateOf(s).String())
	}
	assert.Equal(t, []string{"2024-05-13", "2024-05-20"}, got)
	_, err = Intervals(from, from, Hour)
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestNthWeekdayBruteForce compares NthWeekday with a scan of the days of
// every month from 1900 to 2100.
func TestNthWeekdayBruteForce(t *testing.T) {
	for y := 1900; y <= 2100; y++ {
		for m := time.January; m <= time.December; m++ {
			var byDay [7][]Date
			for d := 1; d <= daysIn(y, m); d++ {
				date := Date{y, m, d}
				byDay[date.Weekday()] = append(byDay[date.Weekday()], date)
			}
			for w := time.Sunday; w <= time.Saturday; w++ {
				all := byDay[w]
				for n := 1; n <= 5; n++ {
					got, err := NthWeekday(y, m, n, w)
					if n <= len(all) {
						require.NoError(t, err)
						require.Equal(t, all[n-1], got)
						last, err := NthWeekday(y, m, -n, w)
						require.NoError(t, err)
						require.Equal(t, all[len(all)-n], last)
					} else {
						require.ErrorIs(t, err, ErrOutOfRange, "%d-%02d %d %v = %s", y, m, n, w, got)
					}
				}
			}
			first := Date{y, m, 1}
			require.Equal(t, byDay[first.Weekday()][0], first)
			require.Equal(t, Date{y, m, daysIn(y, m)}, first.LastOfMonth())
		}
	}
}
