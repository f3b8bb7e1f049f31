package tzutil

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RoundingMode says which way Round goes, as Temporal's roundingMode. The
// zero value is HalfExpand, Temporal's default for round.
type RoundingMode uint8

const (
	// HalfExpand: to the nearest; a tie goes away from zero (later).
	HalfExpand RoundingMode = iota
	// Ceil: towards the later boundary.
	Ceil
	// Floor: towards the earlier boundary.
	Floor
	// Expand: away from zero; for wall times, which are positive, Ceil.
	Expand
	// Trunc: towards zero; for wall times, Floor. Truncate uses it.
	Trunc
	// HalfCeil: to the nearest; a tie goes later.
	HalfCeil
	// HalfFloor: to the nearest; a tie goes earlier.
	HalfFloor
	// HalfTrunc: to the nearest; a tie goes towards zero (earlier).
	HalfTrunc
	// HalfEven: to the nearest; a tie goes to the even multiple.
	HalfEven
)

var modeNames = [...]string{"HalfExpand", "Ceil", "Floor", "Expand", "Trunc", "HalfCeil", "HalfFloor", "HalfTrunc", "HalfEven"}

// String returns the constant's name.
func (m RoundingMode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "RoundingMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseRoundingMode returns the mode named s, case-insensitively and
// ignoring '-' and '_' ("halfExpand", "half-even", "floor"). Anything else
// is an error wrapping ErrInvalid.
func ParseRoundingMode(s string) (RoundingMode, error) {
	n := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s))
	for i, name := range modeNames {
		if strings.ToLower(name) == n {
			return RoundingMode(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown rounding mode %q (use %s)", ErrInvalid, s, strings.Join(modeNames[:], ", "))
}

// roundNonNeg rounds x >= 0 to a multiple of q > 0 with mode m.
func roundNonNeg(x, q int64, m RoundingMode) int64 {
	quot, rem := x/q, x%q
	down := x - rem
	if rem == 0 {
		return x
	}
	up := down + q
	switch m {
	case Floor, Trunc:
		return down
	case Ceil, Expand:
		return up
	}
	switch {
	case 2*rem < q:
		return down
	case 2*rem > q:
		return up
	}
	switch m {
	case HalfFloor, HalfTrunc:
		return down
	case HalfEven:
		if quot%2 == 0 {
			return down
		}
	}
	return up
}

// maxIncrement is what each unit's increment must divide (Temporal).
var maxIncrement = [...]int64{Nanosecond: 1000, Microsecond: 1000, Millisecond: 1000, Second: 60, Minute: 60, Hour: 24}

// Round rounds t to a multiple of increment units of t's local wall clock,
// in t's location, as Temporal's ZonedDateTime.round: 10:37+05:45 rounds to
// 11:00+05:45 by the hour (time.Time.Round rounds on UTC and gives
// 10:45+05:45). increment 0 means 1.
//
// For Hour and smaller, the wall-clock time of day is rounded (increment
// must divide 24 hours, 60 minutes or seconds, or 1000 of the sub-second
// units, and be smaller than it) and converted back keeping t's offset when
// it is valid there (in a fold the result stays on t's side), otherwise
// with Compatible (a rounded time in a gap moves forward by the gap). For
// Day, Week (weeks start on Monday), Month and Year (increment 1) the result
// is the start of t's local day, week, month or year or the start of the
// next one, chosen by the elapsed fraction of that (23-, 24- or 25-hour,
// 28- to 31-day) interval, as Temporal rounds days.
//
// It fails with an error wrapping ErrInvalid for an unknown unit or mode, a
// bad increment, or a result outside [MinYear, MaxYear].
func Round(t time.Time, unit Unit, increment int, mode RoundingMode) (time.Time, error) {
	if mode > HalfEven {
		return time.Time{}, fmt.Errorf("%w: unknown RoundingMode %d", ErrInvalid, mode)
	}
	if increment == 0 {
		increment = 1
	}
	switch {
	case unit >= Nanosecond && unit <= Hour:
		max := maxIncrement[unit]
		if increment < 0 || int64(increment) >= max || max%int64(increment) != 0 {
			return time.Time{}, fmt.Errorf("%w: rounding increment %d %v: it must divide %d and be smaller", ErrInvalid, increment, unit, max)
		}
		return roundClock(t, int64(unit.duration())*int64(increment), mode)
	case unit >= Day && unit <= Year:
		if increment != 1 {
			return time.Time{}, fmt.Errorf("%w: rounding increment %d %v: only 1 is supported for calendar units", ErrInvalid, increment, unit)
		}
		return roundCalendar(t, unit, mode)
	}
	return time.Time{}, fmt.Errorf("%w: unknown unit %v", ErrInvalid, unit)
}

// Truncate is Round with Trunc: the start of t's local hour, minute, day,
// week (Monday), month or year. It fails only for an unknown unit.
func Truncate(t time.Time, unit Unit) (time.Time, error) { return Round(t, unit, 1, Trunc) }

const nsPerDay = int64(24 * time.Hour)

func roundClock(t time.Time, q int64, mode RoundingMode) (time.Time, error) {
	u := t.Unix()
	if u < minUnix+86400 || u > maxUnix-86400 {
		return time.Time{}, fmt.Errorf("tzutil: round %s: %w", t.Format(time.RFC3339Nano), ErrOutOfRange)
	}
	loc := t.Location()
	p := periodAt(loc, u)
	off := p.off
	sec := u + int64(off)
	sod := sec % 86400
	if sod < 0 {
		sod += 86400
	}
	ns := sod*int64(time.Second) + int64(t.Nanosecond())
	r := roundNonNeg(ns, q, mode)
	if r == ns {
		return t, nil
	}
	// Fast path: the same offset is valid at the rounded wall time, because
	// the rounded instant lies in the same period.
	cu := u - sod + r/int64(time.Second)
	c := time.Unix(cu, r%int64(time.Second)).In(loc)
	if p.start <= cu && cu < p.end {
		return checkYear(c)
	}
	if _, o := c.Zone(); o == off {
		return checkYear(c)
	}
	wall := DateTimeOf(t)
	d := wall.Date
	if r == nsPerDay {
		d, r = d.AddDays(1), 0
	}
	w := dateTimeOfDay(d, r)
	if err := w.Validate(); err != nil {
		return time.Time{}, fmt.Errorf("tzutil: round %s: %w", t.Format(time.RFC3339Nano), err)
	}
	res := resolve(w, loc)
	if res.Kind == Fold {
		// Temporal's offset "prefer": keep t's offset when the fold has it.
		if _, o := res.Later.Zone(); o == off {
			return res.Later, nil
		}
		return res.Earlier, nil
	}
	return res.pick(Compatible, loc)
}

func roundCalendar(t time.Time, unit Unit, mode RoundingMode) (time.Time, error) {
	var start, end time.Time
	switch unit {
	case Day:
		start, end = StartOfDay(t), EndOfDay(t)
	case Week:
		start = StartOfWeek(t, time.Monday)
		d := DateOf(start)
		end = unixIn(startOf(t.Location(), daySeconds(d.days()+7)), t.Location())
	case Month:
		start, end = StartOfMonth(t), EndOfMonth(t)
	case Year:
		start = StartOfYear(t)
		end = unixIn(startOf(t.Location(), daySeconds(Date{t.Year() + 1, time.January, 1}.days())), t.Location())
	}
	length, progress := end.Sub(start), t.Sub(start)
	if progress <= 0 || length <= 0 {
		return checkYear(start)
	}
	if roundNonNeg(int64(progress), int64(length), mode) == 0 {
		return checkYear(start)
	}
	return checkYear(end)
}

// Unix seconds of 0001-01-01 and 10000-01-01 UTC, with two days of margin
// for offsets: checkYear computes the year only near those ends.
const (
	unixYear1     = -62135596800 + 2*86400
	unixYear10000 = 253402300800 - 2*86400
)

func checkYear(t time.Time) (time.Time, error) {
	if u := t.Unix(); u > unixYear1 && u < unixYear10000 {
		return t, nil
	}
	if y := t.Year(); y < MinYear || y > MaxYear {
		return time.Time{}, fmt.Errorf("tzutil: round: %w: year %d outside %d..%d", ErrOutOfRange, y, MinYear, MaxYear)
	}
	return t, nil
}
