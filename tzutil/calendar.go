package tzutil

import (
	"fmt"
	"math"
	"time"
)

// startOf returns the earliest Unix second whose wall clock in loc is at or
// after target (a wall time read as UTC seconds). It walks the zone's
// periods from 26 hours before (offsets lie within −12h…+14h, so the day has
// not begun there): in a period with offset o starting at s, the first
// instant reaching target is max(s, target−o), if that is before the
// period's end. This reproduces every row of the oracle data, including
// skipped midnights, repeated midnights and Pacific/Apia's skipped day.
//
// Arithmetic saturates at the int64 range, so at the extremes of time.Time
// the answer is clamped (see unixIn) instead of wrapping around.
func startOf(loc *time.Location, target int64) int64 {
	if target > maxUnix+14*86400 {
		return math.MaxInt64
	}
	cur := satAdd(target, -26*3600)
	for i := 0; i < maxWalk; i++ {
		off, end := offsetAt(loc, cur)
		c := satAdd(target, -int64(off))
		if c < cur {
			c = cur
		}
		if c < end {
			return c
		}
		cur = end
	}
	// Not reachable with real data; fall back to time.Date's answer.
	return target
}

func locOrUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// StartOfDate returns the first instant whose local date in loc is d (or
// later): local midnight on ordinary days, 01:00 where midnight is skipped
// (America/Sao_Paulo 2018-11-04), the first of two midnights where midnight
// repeats (Atlantic/Azores in October). For a date that never happens
// (Pacific/Apia 2011-12-30) it is the start of the next date. This is
// java.time's atStartOfDay(zone) and Temporal's startOfDay(). It fails
// only for an invalid d (ErrOutOfRange). A nil loc means UTC.
func StartOfDate(d Date, loc *time.Location) (time.Time, error) {
	if err := d.Validate(); err != nil {
		return time.Time{}, fmt.Errorf("tzutil: start of %s: %w", d, err)
	}
	loc = locOrUTC(loc)
	return time.Unix(startOf(loc, d.days()*86400), 0).In(loc), nil
}

// StartOfDay returns the first instant of t's local date in t's location
// (see StartOfDate). Unlike time.Date(y, m, d, 0, 0, 0, 0, loc), it never
// lands on the previous day and never picks the second of two midnights.
func StartOfDay(t time.Time) time.Time {
	loc := t.Location()
	y, m, d := t.Date()
	return unixIn(startOf(loc, daySeconds(Date{y, m, d}.days())), loc)
}

// EndOfDay returns the start of the next date in t's location: the
// exclusive end of t's day. Use it as `ts < EndOfDay(t)`; there is no
// 23:59:59.999 (which is 1 h early on days with a fold at 23:00, and does
// not exist where 23:59:59 is skipped). On the last day that time.Time can
// represent (year 292277024627), whose end cannot be represented, it
// returns the last representable instant, so StartOfDay(t) <= t <=
// EndOfDay(t) holds for every t.
func EndOfDay(t time.Time) time.Time {
	loc := t.Location()
	y, m, d := t.Date()
	return unixIn(startOf(loc, daySeconds(Date{y, m, d}.days()+1)), loc)
}

// EndOfDate returns the exclusive end of date d in loc: the start of the
// next date (see StartOfDate). It fails only for an invalid d.
func EndOfDate(d Date, loc *time.Location) (time.Time, error) {
	_, end, err := DateBounds(d, loc)
	return end, err
}

// DateBounds returns the first instant of date d in loc and the exclusive
// end of that date (the start of the next one); end − start is
// DayLength(d, loc), and start == end for a date that never happens
// (Pacific/Apia 2011-12-30). It fails only for an invalid d (an error
// wrapping ErrOutOfRange). A nil loc means UTC. This is the "start, end
// and length of a day" question asked with a calendar date.
func DateBounds(d Date, loc *time.Location) (start, end time.Time, err error) {
	if err := d.Validate(); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("tzutil: bounds of %s: %w", d, err)
	}
	loc = locOrUTC(loc)
	t := d.days() * 86400
	return time.Unix(startOf(loc, t), 0).In(loc), time.Unix(startOf(loc, t+86400), 0).In(loc), nil
}

// DayBounds returns the start of t's local day and its exclusive end.
func DayBounds(t time.Time) (start, end time.Time) { return StartOfDay(t), EndOfDay(t) }

// DayLength returns how long date d lasts in loc: 24h on ordinary days,
// 23h or 25h on DST days, 23h30m or 24h30m for half-hour shifts, 0 for a
// skipped date. It fails only for an invalid d. A nil loc means UTC.
func DayLength(d Date, loc *time.Location) (time.Duration, error) {
	if err := d.Validate(); err != nil {
		return 0, fmt.Errorf("tzutil: length of %s: %w", d, err)
	}
	loc = locOrUTC(loc)
	t := d.days() * 86400
	return time.Duration(startOf(loc, t+86400)-startOf(loc, t)) * time.Second, nil
}

// StartOfWeek returns the start of the first day of t's local week, where
// weeks begin on first (time.Monday for ISO 8601, time.Sunday in the US).
// A first outside Sunday..Saturday is taken modulo 7.
func StartOfWeek(t time.Time, first time.Weekday) time.Time {
	loc := t.Location()
	d := DateOf(t)
	back := (int(d.Weekday()) - int(first%7) + 7) % 7
	return unixIn(startOf(loc, daySeconds(d.days()-int64(back))), loc)
}

// StartOfMonth returns the start of the first day of t's local month.
func StartOfMonth(t time.Time) time.Time {
	loc := t.Location()
	y, m, _ := t.Date()
	return unixIn(startOf(loc, daySeconds(Date{y, m, 1}.days())), loc)
}

// EndOfMonth returns the start of the first day of the next month: the
// exclusive end of t's local month.
func EndOfMonth(t time.Time) time.Time {
	loc := t.Location()
	y, m, _ := t.Date()
	return unixIn(startOf(loc, daySeconds(Date{y, m + 1, 1}.days())), loc)
}

// StartOfYear returns the start of 1 January of t's local year.
func StartOfYear(t time.Time) time.Time {
	loc := t.Location()
	return unixIn(startOf(loc, daySeconds(Date{t.Year(), time.January, 1}.days())), loc)
}

// DaysBetween returns the number of calendar days from a's local date to
// b's local date in loc (negative when b is earlier). Midnight to midnight
// across a 23-hour day is 1, where (b−a)/24h is 0. A nil loc means UTC.
func DaysBetween(a, b time.Time, loc *time.Location) int {
	loc = locOrUTC(loc)
	return DateOf(b.In(loc)).DaysSince(DateOf(a.In(loc)))
}

// AddDays returns the instant n calendar days after t with the same wall
// clock in t's location ("same time tomorrow"), resolving a gap or fold on
// the target day with p. This differs from t.Add(n*24*time.Hour), which
// keeps the elapsed time and shifts the wall clock across DST, and from
// t.AddDate, which picks gap/fold answers by the sign of the offset. It
// fails for Reject in a gap or fold, for an unknown policy, and when the
// result leaves [MinYear, MaxYear].
func AddDays(t time.Time, n int, p Policy) (time.Time, error) {
	if n > math.MaxInt32 || n < math.MinInt32 {
		return time.Time{}, fmt.Errorf("tzutil: add %d days: %w", n, ErrOutOfRange)
	}
	wall := DateTimeOf(t)
	wall.Date = wall.Date.AddDays(n)
	return At(wall, t.Location(), p)
}

// AddMonths returns the instant n months after t with the same wall clock
// in t's location; o handles a day missing from the target month (Clamp:
// Jan 31 + 1 month = Feb 28/29) and p a gap or fold on the target day.
func AddMonths(t time.Time, n int, o Overflow, p Policy) (time.Time, error) {
	if n > math.MaxInt32 || n < math.MinInt32 {
		return time.Time{}, fmt.Errorf("tzutil: add %d months: %w", n, ErrOutOfRange)
	}
	wall := DateTimeOf(t)
	d, err := wall.Date.AddMonths(n, o)
	if err != nil {
		return time.Time{}, err
	}
	wall.Date = d
	return At(wall, t.Location(), p)
}

// Zone bundles a location, a default policy and a clock for "today"
// questions, so that code asks a value instead of the global time.Local.
// The zero Zone is UTC, Compatible, time.Now. It is a plain value: copy it
// freely, and use it from any goroutine if Now is safe to call concurrently.
type Zone struct {
	Location *time.Location   // nil means UTC
	Policy   Policy           // used by At; zero is Compatible
	Now      func() time.Time // nil means time.Now; inject a fixed clock in tests
}

func (z Zone) loc() *time.Location { return locOrUTC(z.Location) }

// Time returns the current instant in the zone's location.
func (z Zone) Time() time.Time {
	now := time.Now
	if z.Now != nil {
		now = z.Now
	}
	return now().In(z.loc())
}

// Today returns the current local date in the zone.
func (z Zone) Today() Date { return DateOf(z.Time()) }

// StartOfToday returns the first instant of today in the zone: "midnight
// today" done right (see StartOfDate). Its Unix() is the timestamp people
// compute with time.Date(y, m, d, 0, 0, 0, 0, loc).Unix().
func (z Zone) StartOfToday() time.Time { return StartOfDay(z.Time()) }

// At converts a wall time in the zone to an instant with the zone's Policy.
func (z Zone) At(wall DateTime) (time.Time, error) { return At(wall, z.loc(), z.Policy) }
