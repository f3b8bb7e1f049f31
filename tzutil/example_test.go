package tzutil_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/goplumb/plumb/tzutil"
)

func ExampleLoad() {
	loc, err := tzutil.Load("Asia/Shanghai")
	fmt.Println(loc, err)
	_, err = tzutil.Load("Asia/Shangai")
	fmt.Println(err)
	_, err = tzutil.Load("CST")
	fmt.Println(err)
	// Output:
	// Asia/Shanghai <nil>
	// tzutil: unknown zone "Asia/Shangai" (did you mean "Asia/Shanghai"?)
	// tzutil: unknown zone "CST" (did you mean "America/Chicago", "Asia/Shanghai" or "America/Havana"?)
}

func ExampleFromTZ() {
	for _, tz := range []string{"CST-8", "UTC+8", ":Asia/Shanghai"} {
		loc, info, err := tzutil.FromTZ(tz)
		if err != nil {
			fmt.Println(err)
			continue
		}
		_, off := time.Date(2024, 7, 1, 0, 0, 0, 0, loc).Zone()
		fmt.Printf("%-15q UTC%s %s\n", tz, tzutil.FormatOffset(off), info.Source)
	}
	// Output:
	// "CST-8"         UTC+08:00 posix
	// "UTC+8"         UTC-08:00 posix
	// ":Asia/Shanghai" UTC+08:00 system
}

func ExampleStartOfDay() {
	sp := tzutil.MustLoad("America/Sao_Paulo")
	t := time.Date(2018, 11, 4, 15, 0, 0, 0, sp) // midnight was skipped that day
	y, m, d := t.Date()
	fmt.Println("time.Date:  ", time.Date(y, m, d, 0, 0, 0, 0, sp))
	fmt.Println("StartOfDay: ", tzutil.StartOfDay(t))
	fmt.Println("EndOfDay:   ", tzutil.EndOfDay(t))
	n, _ := tzutil.DayLength(tzutil.DateOf(t), sp)
	fmt.Println("DayLength:  ", n)
	// Output:
	// time.Date:   2018-11-03 23:00:00 -0300 -03
	// StartOfDay:  2018-11-04 01:00:00 -0200 -02
	// EndOfDay:    2018-11-05 00:00:00 -0200 -02
	// DayLength:   23h0m0s
}

func ExampleResolve() {
	ny := tzutil.MustLoad("America/New_York")
	for _, s := range []string{"2024-03-10T02:30", "2024-11-03T01:30", "2024-07-01T12:00"} {
		wall, _ := tzutil.ParseDateTime(s)
		r, _ := tzutil.Resolve(wall, ny)
		fmt.Printf("%s %-6s earlier %s later %s\n", s, r.Kind, r.Earlier.Format("15:04 MST"), r.Later.Format("15:04 MST"))
	}
	// Output:
	// 2024-03-10T02:30 gap    earlier 01:30 EST later 03:30 EDT
	// 2024-11-03T01:30 fold   earlier 01:30 EDT later 01:30 EST
	// 2024-07-01T12:00 unique earlier 12:00 EDT later 12:00 EDT
}

func ExampleAt() {
	ny := tzutil.MustLoad("America/New_York")
	gap := tzutil.DateTime{Date: tzutil.Date{Year: 2024, Month: time.March, Day: 10}, Hour: 2, Minute: 30}
	for _, p := range []tzutil.Policy{tzutil.Compatible, tzutil.Earlier, tzutil.Later, tzutil.StartOfGap, tzutil.PostgreSQL} {
		t, _ := tzutil.At(gap, ny, p)
		fmt.Printf("%-10s %s\n", p, t.Format(time.RFC3339))
	}
	_, err := tzutil.At(gap, ny, tzutil.Reject)
	var ge *tzutil.GapError
	fmt.Println(errors.As(err, &ge), ge.Transition.UTC().Format(time.RFC3339))
	// Output:
	// Compatible 2024-03-10T03:30:00-04:00
	// Earlier    2024-03-10T01:30:00-05:00
	// Later      2024-03-10T03:30:00-04:00
	// StartOfGap 2024-03-10T03:00:00-04:00
	// PostgreSQL 2024-03-10T03:30:00-04:00
	// true 2024-03-10T07:00:00Z
}

func ExampleTransitions() {
	lon := tzutil.MustLoad("Europe/London")
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for tr := range tzutil.Transitions(lon, from, from.AddDate(1, 0, 0)) {
		fmt.Println(tr.At.UTC().Format(time.RFC3339), tr.NameBefore, "->", tr.NameAfter, tr.WallBefore(), "->", tr.WallAfter())
	}
	// Output:
	// 2024-03-31T01:00:00Z GMT -> BST 2024-03-31T01:00:00 -> 2024-03-31T02:00:00
	// 2024-10-27T01:00:00Z BST -> GMT 2024-10-27T02:00:00 -> 2024-10-27T01:00:00
}

func ExampleDaysBetween() {
	ny := tzutil.MustLoad("America/New_York")
	a := time.Date(2024, 3, 10, 0, 0, 0, 0, ny)
	b := time.Date(2024, 3, 11, 0, 0, 0, 0, ny)
	fmt.Println(b.Sub(a), int(b.Sub(a)/(24*time.Hour)), tzutil.DaysBetween(a, b, ny))
	// Output: 23h0m0s 0 1
}

func ExampleAddDays() {
	ny := tzutil.MustLoad("America/New_York")
	sat := time.Date(2024, 3, 9, 9, 0, 0, 0, ny)
	sun, _ := tzutil.AddDays(sat, 1, tzutil.Compatible)
	fmt.Println(sun)
	fmt.Println(sat.Add(24 * time.Hour))
	// Output:
	// 2024-03-10 09:00:00 -0400 EDT
	// 2024-03-10 10:00:00 -0400 EDT
}

func ExampleZone() {
	z := tzutil.Zone{
		Location: tzutil.MustLoad("Asia/Shanghai"),
		Now:      func() time.Time { return time.Date(2024, 3, 9, 20, 0, 0, 0, time.UTC) },
	}
	fmt.Println(z.Today(), z.StartOfToday(), z.StartOfToday().Unix())
	// Output: 2024-03-10 2024-03-10 00:00:00 +0800 CST 1710000000
}

func ExampleDoctor() {
	r := tzutil.Doctor("Asia/Shanghai", "Asia/Shangai")
	fmt.Println(r.OK())
	fmt.Println(r.Zones[1].Err)
	// Output:
	// false
	// tzutil: unknown zone "Asia/Shangai" (did you mean "Asia/Shanghai"?)
}

func ExampleAddPeriod() {
	ny := tzutil.MustLoad("America/New_York")
	sat := time.Date(2024, 3, 9, 9, 0, 0, 0, ny) // the day before DST starts
	for _, s := range []string{"P1D", "PT24H", "P1M", "P1Y2M10DT2H30M"} {
		p, _ := tzutil.ParsePeriod(s)
		t, _ := tzutil.AddPeriod(sat, p, tzutil.Clamp, tzutil.Compatible)
		fmt.Printf("%-15s %s\n", p, t.Format(time.RFC3339))
	}
	// Output:
	// P1D             2024-03-10T09:00:00-04:00
	// PT24H           2024-03-10T10:00:00-04:00
	// P1M             2024-04-09T09:00:00-04:00
	// P1Y2M10DT2H30M  2025-05-19T11:30:00-04:00
}

func ExampleUntil() {
	ny := tzutil.MustLoad("America/New_York")
	a := time.Date(2024, 1, 31, 10, 0, 0, 0, ny)
	b := time.Date(2024, 3, 10, 12, 0, 0, 0, ny) // DST started at 02:00
	for _, u := range []tzutil.Unit{tzutil.Hour, tzutil.Day, tzutil.Week, tzutil.Month} {
		p, _ := tzutil.Until(a, b, u)
		fmt.Printf("%-5v %s\n", u, p)
	}
	// Output:
	// hour  PT937H
	// day   P39DT2H
	// week  P5W4DT2H
	// month P1M10DT2H
}

func ExampleRound() {
	ktm := tzutil.MustLoad("Asia/Kathmandu") // UTC+05:45
	t := time.Date(2024, 5, 1, 10, 37, 0, 0, ktm)
	r, _ := tzutil.Round(t, tzutil.Hour, 1, tzutil.HalfExpand)
	tr, _ := tzutil.Truncate(t, tzutil.Hour)
	fmt.Println(r.Format("15:04"), tr.Format("15:04"), t.Round(time.Hour).Format("15:04"))
	// Output: 11:00 10:00 10:45
}

func ExampleIntervals() {
	ny := tzutil.MustLoad("America/New_York")
	days, _ := tzutil.Intervals(time.Date(2024, 3, 9, 12, 0, 0, 0, ny), time.Date(2024, 3, 12, 0, 0, 0, 0, ny), tzutil.Day)
	for start, end := range days {
		fmt.Println(tzutil.DateOf(start), end.Sub(start))
	}
	// Output:
	// 2024-03-09 24h0m0s
	// 2024-03-10 23h0m0s
	// 2024-03-11 24h0m0s
}

func ExampleNthWeekday() {
	d, _ := tzutil.NthWeekday(2024, time.March, 2, time.Sunday)       // US DST starts
	last, _ := tzutil.NthWeekday(2024, time.October, -1, time.Sunday) // EU DST ends
	fmt.Println(d, last, d.Next(time.Friday), d.LastOfQuarter())
	// Output: 2024-03-10 2024-10-27 2024-03-15 2024-03-31
}

func ExampleYearTransitions() {
	trs, _ := tzutil.YearTransitions(tzutil.MustLoad("Australia/Lord_Howe"), 2024)
	for _, tr := range trs {
		fmt.Println(tr.WallBefore(), "->", tr.WallAfter())
	}
	// Output:
	// 2024-04-07T02:00:00 -> 2024-04-07T01:30:00
	// 2024-10-06T02:00:00 -> 2024-10-06T02:30:00
}
