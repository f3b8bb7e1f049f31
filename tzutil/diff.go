package tzutil

import (
	"fmt"
	"strings"
	"time"
)

// Unit is a unit of time for differences (Until, Since), rounding (Round,
// Truncate) and ranges (Intervals). The zero Unit is invalid.
type Unit uint8

// The units, smallest first. Day and larger are calendar units whose length
// depends on the zone and date; Hour and smaller are exact.
const (
	Nanosecond Unit = iota + 1
	Microsecond
	Millisecond
	Second
	Minute
	Hour
	Day
	Week
	Month
	Year
)

var unitNames = [...]string{"", "nanosecond", "microsecond", "millisecond", "second", "minute", "hour", "day", "week", "month", "year"}

// String returns the unit's lower-case name ("hour").
func (u Unit) String() string {
	if int(u) < len(unitNames) && u != 0 {
		return unitNames[u]
	}
	return fmt.Sprintf("Unit(%d)", u)
}

// ParseUnit returns the Unit named s, singular or plural, any case
// ("hour", "Hours", "ns", "ms", "us"), for flags and configuration. Anything
// else is an error wrapping ErrInvalid.
func ParseUnit(s string) (Unit, error) {
	switch strings.ToLower(s) {
	case "ns":
		return Nanosecond, nil
	case "us", "µs":
		return Microsecond, nil
	case "ms":
		return Millisecond, nil
	}
	n := strings.TrimSuffix(strings.ToLower(s), "s")
	for u := Nanosecond; u <= Year; u++ {
		if unitNames[u] == n {
			return u, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown unit %q (use nanosecond … hour, day, week, month or year)", ErrInvalid, s)
}

// duration returns the fixed length of a unit up to Hour.
func (u Unit) duration() time.Duration {
	return [...]time.Duration{0, time.Nanosecond, time.Microsecond, time.Millisecond, time.Second, time.Minute, time.Hour}[u]
}

// Until returns the Period from d to e (positive when e is later) in units
// up to largest, which is Day, Week, Month or Year, as Temporal's
// PlainDate.until: the most whole years, then months, such that d's day
// moved by them does not pass e (the day of month counts, before clamping),
// then weeks (only when largest is Week), then days. So 2024-01-31 until
// 2024-03-01 is P1M1D (Jan 31 + 1 month = Feb 29, + 1 day), 2024-01-31
// until 2024-02-29 is P29D (Feb 31 would pass it), and 2024-03-01 until
// 2024-01-31 is -P1M1D. Adding the result to d with Clamp gives e back. It fails for an invalid d or e and another largest (both
// wrapping ErrInvalid).
func (d Date) Until(e Date, largest Unit) (Period, error) {
	if err := d.Validate(); err != nil {
		return Period{}, fmt.Errorf("tzutil: %s until %s: %w", d, e, err)
	}
	if err := e.Validate(); err != nil {
		return Period{}, fmt.Errorf("tzutil: %s until %s: %w", d, e, err)
	}
	if largest < Day || largest > Year {
		return Period{}, fmt.Errorf("%w: Date.Until largest unit %v (use Day, Week, Month or Year)", ErrInvalid, largest)
	}
	return dateDiff(d, e, largest), nil
}

// Since returns the Period from e to d: d.Until(e, largest).Negate(), as
// Temporal's since is the negated until.
func (d Date) Since(e Date, largest Unit) (Period, error) {
	p, err := d.Until(e, largest)
	return p.Negate(), err
}

// dateDiff is Temporal's CalendarDateUntil for the ISO calendar, for
// valid dates: the most whole years, then months, such that d's year, month
// and day moved by them (the day not yet clamped) does not pass e; then the
// days from d plus those months (clamped) to e, as weeks and days when
// largest is Week.
func dateDiff(d, e Date, largest Unit) Period {
	sign := e.Compare(d)
	if sign == 0 {
		return Period{}
	}
	// surpasses reports whether (y, m, d.Day) lies beyond e in direction sign.
	surpasses := func(y int, m time.Month) bool {
		c := 0
		switch {
		case y != e.Year:
			c = cmpInt(y, e.Year)
		case m != e.Month:
			c = cmpInt(int(m), int(e.Month))
		default:
			c = cmpInt(d.Day, e.Day)
		}
		return c == sign
	}
	years, months := 0, 0
	if largest == Year {
		years = e.Year - d.Year
		if surpasses(d.Year+years, d.Month) {
			years -= sign
		}
	}
	if largest >= Month {
		months = (e.Year-d.Year-years)*12 + int(e.Month) - int(d.Month)
		total := int64(d.Year+years)*12 + int64(d.Month-1) + int64(months)
		if surpasses(int(total/12), time.Month(total%12+1)) {
			months -= sign
		}
	}
	from := d
	if n := years*12 + months; n != 0 {
		from, _ = d.AddMonths(n, Clamp)
	}
	p := Period{Years: years, Months: months}
	days := e.DaysSince(from)
	if largest == Week {
		p.Weeks, days = days/7, days%7
	}
	p.Days = days
	return p
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Until returns the Period from a to b (positive when b is later) in units
// up to largest, read in a's location (b is converted to it).
//
// For largest Hour or smaller the difference is exact time, Period{Time:
// b.Sub(a)} (Go's Duration has no separate hours and minutes). For Day and
// larger it is Temporal's ZonedDateTime.until: whole calendar units on the
// wall calendar (a day is from a wall-clock time to the same wall-clock time
// on another date, 23 or 25 hours across DST), then the remaining exact
// time, always of the same sign. So 2024-03-09T12:00 until 2024-03-10T12:00
// in New York is P1D (23 hours), and AddPeriod(a, Until(a, b, u), Clamp,
// Compatible) is b except where a's wall-clock time falls into a gap on the
// way. It fails for an unknown largest (ErrInvalid) and for instants outside
// [MinYear, MaxYear] with a calendar largest (ErrOutOfRange).
func Until(a, b time.Time, largest Unit) (Period, error) {
	if largest < Nanosecond || largest > Year {
		return Period{}, fmt.Errorf("%w: unknown largest unit %v", ErrInvalid, largest)
	}
	if largest <= Hour {
		return Period{Time: b.Sub(a)}, nil
	}
	loc := a.Location()
	b = b.In(loc)
	if a.Equal(b) {
		return Period{}, nil
	}
	start, end := DateTimeOf(a), DateTimeOf(b)
	if err := start.Validate(); err != nil {
		return Period{}, fmt.Errorf("tzutil: until: %w", err)
	}
	if err := end.Validate(); err != nil {
		return Period{}, fmt.Errorf("tzutil: until: %w", err)
	}
	sign := 1
	if b.Before(a) {
		sign = -1
	}
	if start.Date == end.Date {
		// Same calendar date: only time (Temporal's DifferenceZonedDateTime
		// step 7), also when a fold makes b's wall clock earlier than a's.
		return Period{Time: b.Sub(a)}, nil
	}
	// Temporal's DifferenceZonedDateTime: the latest date (searching back
	// from b's date) whose start wall-clock time, as an instant, is not past
	// b; the rest is exact time of the same sign.
	correction := 0
	if tod(end)-tod(start) != 0 && sign*int(sign64(tod(end)-tod(start))) < 0 {
		correction = 1
	}
	var mid time.Time
	var midDate Date
	for ; correction <= 3; correction++ {
		midDate = end.Date.AddDays(-correction * sign)
		if midDate.Compare(start.Date) == -sign {
			// Never step back past a's own date: from there the rest is
			// b − a, of the right sign.
			midDate, mid = start.Date, a
			break
		}
		w := DateTime{Date: midDate, Hour: start.Hour, Minute: start.Minute, Second: start.Second, Nanosecond: start.Nanosecond}
		if w.Validate() != nil {
			continue
		}
		var err error
		if mid, err = at(w, loc, Compatible); err != nil {
			return Period{}, err
		}
		rest := b.Sub(mid)
		if rest == 0 || (rest > 0) == (sign > 0) {
			break
		}
	}
	p := dateDiff(start.Date, midDate, largest)
	p.Time = b.Sub(mid)
	return p, nil
}

// Since returns the Period from b to a: Until(a, b, largest).Negate(), as
// Temporal's since is the negated until (a.since(b) = −a.until(b)).
func Since(a, b time.Time, largest Unit) (Period, error) {
	p, err := Until(a, b, largest)
	return p.Negate(), err
}

// tod returns the nanoseconds since midnight of a wall time.
func tod(dt DateTime) int64 {
	return int64(dt.Hour)*int64(time.Hour) + int64(dt.Minute)*int64(time.Minute) + int64(dt.Second)*int64(time.Second) + int64(dt.Nanosecond)
}

func sign64(x int64) int64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}
