package tzutil

import (
	"fmt"
	"iter"
	"time"
)

// Adjusters on civil dates, after java.time's TemporalAdjusters. They do not
// validate: on a valid Date in the middle of [MinYear, MaxYear] they return
// a valid Date; near the ends the result may leave the range (check it with
// Validate when d comes from input).

// Next returns the first date after d that falls on w (d + 1..7 days).
func (d Date) Next(w time.Weekday) Date {
	n := (int(w) - int(d.Weekday()) + 7) % 7
	if n == 0 {
		n = 7
	}
	return d.AddDays(n)
}

// NextOrSame returns d if it falls on w, else Next(w).
func (d Date) NextOrSame(w time.Weekday) Date {
	return d.AddDays((int(w) - int(d.Weekday()) + 7) % 7)
}

// Previous returns the last date before d that falls on w (d − 1..7 days).
func (d Date) Previous(w time.Weekday) Date {
	n := (int(d.Weekday()) - int(w) + 7) % 7
	if n == 0 {
		n = 7
	}
	return d.AddDays(-n)
}

// PreviousOrSame returns d if it falls on w, else Previous(w).
func (d Date) PreviousOrSame(w time.Weekday) Date {
	return d.AddDays(-((int(d.Weekday()) - int(w) + 7) % 7))
}

// FirstOfMonth returns the first day of d's month.
func (d Date) FirstOfMonth() Date { return Date{d.Year, d.Month, 1} }

// LastOfMonth returns the last day of d's month (28 to 31).
func (d Date) LastOfMonth() Date { return Date{d.Year, d.Month, daysIn(d.Year, d.Month)} }

// FirstOfQuarter returns the first day of d's calendar quarter (1 January,
// 1 April, 1 July or 1 October).
func (d Date) FirstOfQuarter() Date {
	return Date{d.Year, (d.Month-1)/3*3 + 1, 1}
}

// LastOfQuarter returns the last day of d's calendar quarter.
func (d Date) LastOfQuarter() Date {
	m := (d.Month-1)/3*3 + 3
	return Date{d.Year, m, daysIn(d.Year, m)}
}

// FirstOfYear returns 1 January of d's year.
func (d Date) FirstOfYear() Date { return Date{d.Year, time.January, 1} }

// LastOfYear returns 31 December of d's year.
func (d Date) LastOfYear() Date { return Date{d.Year, time.December, 31} }

// NthWeekday returns the n-th weekday w of a month: n = 1 is the first,
// 2 the second, …, and −1 the last, −2 the one before (java.time's
// dayOfWeekInMonth; "the second Sunday of March" is NthWeekday(y,
// time.March, 2, time.Sunday)). It fails with an error wrapping
// ErrOutOfRange when the month has no such day (a fifth Monday), n is 0 or
// beyond ±5, or year/month are invalid.
func NthWeekday(year int, month time.Month, n int, w time.Weekday) (Date, error) {
	first := Date{year, month, 1}
	if err := first.Validate(); err != nil {
		return Date{}, fmt.Errorf("tzutil: weekday %d of %04d-%02d: %w", n, year, int(month), err)
	}
	if w < time.Sunday || w > time.Saturday {
		return Date{}, fmt.Errorf("tzutil: weekday %d of %04d-%02d: %w: weekday %d", n, year, int(month), ErrOutOfRange, int(w))
	}
	var d Date
	switch {
	case n >= 1 && n <= 5:
		d = first.NextOrSame(w).AddDays(7 * (n - 1))
	case n <= -1 && n >= -5:
		d = first.LastOfMonth().PreviousOrSame(w).AddDays(7 * (n + 1))
	default:
		return Date{}, fmt.Errorf("tzutil: weekday %d of %04d-%02d: %w: n must be 1..5 or -1..-5", n, year, int(month), ErrOutOfRange)
	}
	if d.Month != month || d.Year != year {
		return Date{}, fmt.Errorf("tzutil: weekday %d of %04d-%02d: %w: that month has no such %v", n, year, int(month), ErrOutOfRange, w)
	}
	return d, nil
}

// Dates returns an iterator over from, from+step, from+2×step, … before to,
// each computed from from (from.AddPeriod(k×step, Clamp)), so monthly steps
// from 31 January give 29 February, 31 March, 30 April, not a drifting
// day. step must be positive (no negative field, at least one positive
// date field, no Time); it fails with an error wrapping ErrInvalid
// otherwise, or for invalid dates.
func Dates(from, to Date, step Period) (iter.Seq[Date], error) {
	if err := from.Validate(); err != nil {
		return nil, fmt.Errorf("tzutil: dates from %s: %w", from, err)
	}
	if err := to.Validate(); err != nil {
		return nil, fmt.Errorf("tzutil: dates to %s: %w", to, err)
	}
	if step.Time != 0 || step.sign() != 1 {
		return nil, fmt.Errorf("%w: dates step %s: want a positive period of days, weeks, months or years", ErrInvalid, step)
	}
	return func(yield func(Date) bool) {
		for k := 0; ; k++ {
			p := Period{Years: step.Years * k, Months: step.Months * k, Weeks: step.Weeks * k, Days: step.Days * k}
			d, err := from.addDateParts(p, Clamp)
			if err != nil || !d.Before(to) || !yield(d) {
				return
			}
		}
	}, nil
}

// Intervals returns an iterator over the local days, weeks (starting on
// Monday), months or years that overlap [from, to), in from's location, as
// [start, end) pairs of instants: the first pair is the period containing
// from (its start may be before from), each end is the next start, and a
// day's start is its first instant (see StartOfDate), so a 23-hour day
// yields a 23-hour interval and a skipped date (Pacific/Apia 2011-12-30)
// none. unit must be Day, Week, Month or Year; anything else fails with an
// error wrapping ErrInvalid.
//
//	for start, end := range days { … } // days, _ := tzutil.Intervals(a, b, tzutil.Day)
func Intervals(from, to time.Time, unit Unit) (iter.Seq2[time.Time, time.Time], error) {
	if unit < Day || unit > Year {
		return nil, fmt.Errorf("%w: Intervals unit %v (use Day, Week, Month or Year)", ErrInvalid, unit)
	}
	loc := from.Location()
	to = to.In(loc)
	first := DateOf(from)
	switch unit {
	case Week:
		first = first.PreviousOrSame(time.Monday)
	case Month:
		first = first.FirstOfMonth()
	case Year:
		first = first.FirstOfYear()
	}
	step := Period{Days: 1}
	switch unit {
	case Week:
		step = Period{Weeks: 1}
	case Month:
		step = Period{Months: 1}
	case Year:
		step = Period{Years: 1}
	}
	return func(yield func(time.Time, time.Time) bool) {
		d := first
		start := unixIn(startOf(loc, daySeconds(d.days())), loc)
		for start.Before(to) {
			next, err := d.addDateParts(step, Clamp)
			if err != nil {
				next = dateFromDays(d.days() + 1) // past MaxYear: end at the next day
				if unit != Day {
					return
				}
			}
			end := unixIn(startOf(loc, daySeconds(next.days())), loc)
			if end.After(start) && !yield(start, end) {
				return
			}
			d, start = next, end
		}
	}, nil
}
