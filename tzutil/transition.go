package tzutil

import (
	"fmt"
	"iter"
	"math"
	"time"
)

// Transition is an instant at which a zone's UTC offset changes. Changes of
// abbreviation or DST flag alone (and the artificial yearly boundaries that
// Time.ZoneBounds reports for rule-based years) are not transitions.
type Transition struct {
	At                        time.Time // first instant with the new offset, in the zone's location
	OffsetBefore, OffsetAfter int       // seconds east of UTC
	NameBefore, NameAfter     string    // abbreviations, e.g. "EST", "EDT"
}

// IsGap reports whether clocks jump forward (wall times are skipped).
func (t Transition) IsGap() bool { return t.OffsetAfter > t.OffsetBefore }

// WallBefore returns the wall clock reached just before the transition.
func (t Transition) WallBefore() DateTime {
	return DateTimeOf(t.At.UTC().Add(time.Duration(t.OffsetBefore) * time.Second))
}

// WallAfter returns the wall clock at the transition.
func (t Transition) WallAfter() DateTime {
	return DateTimeOf(t.At.UTC().Add(time.Duration(t.OffsetAfter) * time.Second))
}

// maxWalk bounds every walk over zone periods. Real zones change at most a
// few times a year, and the artificial yearly boundaries add one a year.
const maxWalk = 1 << 14

// The Unix seconds whose wall clock time.Time shows without wrapping
// around: time.Time counts seconds from year 1 in an int64, so the last
// representable Unix second is 62,135,596,800 short of math.MaxInt64 (year
// 292277024627); and its calendar starts on -292277022400-03-01 UTC, before
// which Time.Date wraps to the far future (two days of margin cover every
// offset).
const (
	unixToInternal = 62135596800
	minUnix        = -9223372028741760000 + 2*86400
	maxUnix        = math.MaxInt64 - unixToInternal
)

// satAdd returns a+b, saturated to the int64 range.
func satAdd(a, b int64) int64 {
	c := a + b
	if b > 0 && c < a {
		return math.MaxInt64
	}
	if b < 0 && c > a {
		return math.MinInt64
	}
	return c
}

// daySeconds returns days*86400 saturated to the int64 range.
func daySeconds(days int64) int64 {
	const lim = math.MaxInt64 / 86400
	if days > lim {
		return math.MaxInt64
	}
	if days < -lim {
		return math.MinInt64
	}
	return days * 86400
}

// unixIn returns the instant at Unix second sec in loc, clamped to the
// instants time.Time can represent (the last one has 999999999 ns), so
// that arithmetic at the extremes saturates instead of wrapping around.
func unixIn(sec int64, loc *time.Location) time.Time {
	if sec > maxUnix {
		return time.Unix(maxUnix, 999999999).In(loc)
	}
	if sec < minUnix {
		return time.Unix(minUnix, 0).In(loc)
	}
	return time.Unix(sec, 0).In(loc)
}

// offsetAt returns the offset at Unix second sec and the end of the period
// that contains it (math.MaxInt64 when the period never ends or its end is
// not representable). The end is guarded against golang/go#81583: in leap
// years served by a TZif footer rule, ZoneBounds reports an end of 31
// December 00:00 UTC even for instants on 31 December, which is not after
// them; a naive walk loops forever. The guard replaces such an end by the
// next 1 January 00:00 UTC, which is inside the same period (rule-based
// years change offset in the year, not at its boundary, and the offset
// reported at the instant is right).
func offsetAt(loc *time.Location, sec int64) (off int, end int64) {
	t := time.Unix(sec, 0).In(loc)
	_, off = t.Zone()
	_, e := t.ZoneBounds()
	if e.IsZero() {
		return off, math.MaxInt64
	}
	end = e.Unix()
	if end <= sec {
		y := t.UTC().Year()
		end = daySeconds(Date{y + 1, time.January, 1}.days())
	}
	if end <= sec || end > maxUnix {
		return off, math.MaxInt64
	}
	return off, end
}

// nextTransitionBefore returns the first offset change at an instant in
// (sec, limit].
func nextTransitionBefore(loc *time.Location, sec, limit int64) (Transition, bool) {
	off0, end := offsetAt(loc, sec)
	for i := 0; i < maxWalk && end != math.MaxInt64 && end <= limit; i++ {
		off, next := offsetAt(loc, end)
		if off != off0 {
			before, _ := time.Unix(end-1, 0).In(loc).Zone()
			after, _ := time.Unix(end, 0).In(loc).Zone()
			return Transition{At: time.Unix(end, 0).In(loc), OffsetBefore: off0, OffsetAfter: off, NameBefore: before, NameAfter: after}, true
		}
		end = next
	}
	return Transition{}, false
}

// nextTransition returns the first offset change at an instant > sec.
func nextTransition(loc *time.Location, sec int64) (Transition, bool) {
	return nextTransitionBefore(loc, sec, maxUnix)
}

// NextTransition returns the first offset change strictly after t in loc,
// and false when there is none (fixed zones, no change in the data, or none
// that time.Time can represent). It is safe with Go's "slim" zoneinfo
// (golang/go#81583).
func NextTransition(loc *time.Location, t time.Time) (Transition, bool) {
	if loc == nil {
		loc = time.UTC
	}
	// Transitions fall on whole seconds: the first one > t is the first one
	// > floor(t).
	return nextTransition(loc, floorSec(t))
}

// PrevTransition returns the last offset change at or before t in loc (the
// transition in effect at t), and false when there is none. It is safe with
// Go's "slim" zoneinfo: there, for an instant after the last transition
// listed in the file, Time.ZoneBounds reports the start of the period
// computed by the footer rule for the whole year, which can lie before that
// last listed transition (America/Metlakatla 2019-01-20 is reported as
// 2019-01-01, America/Indiana/Winamac 2007-03-11 08:00 UTC as 07:00). So the
// start it reports is only a lower bound here: the transition is found by
// walking forward from it, over period ends, which are exact.
func PrevTransition(loc *time.Location, t time.Time) (Transition, bool) {
	if loc == nil {
		loc = time.UTC
	}
	cur := floorSec(t)
	for i := 0; i < maxWalk; i++ {
		tt := time.Unix(cur, 0).In(loc)
		s, _ := tt.ZoneBounds()
		if s.IsZero() {
			return Transition{}, false
		}
		start := s.Unix()
		if start > cur { // defensive twin of the #81583 guard
			start = daySeconds(Date{tt.UTC().Year(), time.January, 1}.days())
			if start > cur {
				return Transition{}, false
			}
		}
		// The last change in [start, cur], if any.
		var last Transition
		found := false
		for from := satAdd(start, -1); ; {
			tr, ok := nextTransitionBefore(loc, from, cur)
			if !ok {
				break
			}
			last, found, from = tr, true, tr.At.Unix()
		}
		if found {
			return last, true
		}
		if start == math.MinInt64 {
			return Transition{}, false
		}
		cur = start - 1
	}
	return Transition{}, false
}

// Transitions yields the offset changes of loc at instants in [from, to), in
// order. It stops early when the consumer stops. It is safe with Go's
// "slim" zoneinfo (golang/go#81583), unlike a naive Time.ZoneBounds walk.
func Transitions(loc *time.Location, from, to time.Time) iter.Seq[Transition] {
	return func(yield func(Transition) bool) {
		if loc == nil {
			return
		}
		cur := satAdd(floorSec(from), -1)
		if from.Nanosecond() != 0 {
			cur = floorSec(from)
		}
		for {
			tr, ok := nextTransition(loc, cur)
			if !ok || !tr.At.Before(to) {
				return
			}
			if !yield(tr) {
				return
			}
			cur = tr.At.Unix()
		}
	}
}

// YearTransitions returns the offset changes of loc during the local year
// (from the start of 1 January to the start of the next 1 January in loc),
// in order: the "when does the clock change this year" question. It fails
// for a year outside [MinYear, MaxYear] (ErrOutOfRange). A nil loc means
// UTC, which has none.
func YearTransitions(loc *time.Location, year int) ([]Transition, error) {
	if year < MinYear || year > MaxYear {
		return nil, fmt.Errorf("tzutil: transitions of %d: %w: year outside %d..%d", year, ErrOutOfRange, MinYear, MaxYear)
	}
	loc = locOrUTC(loc)
	from := unixIn(startOf(loc, Date{year, time.January, 1}.days()*86400), loc)
	to := unixIn(startOf(loc, Date{year + 1, time.January, 1}.days()*86400), loc)
	var out []Transition
	for tr := range Transitions(loc, from, to) {
		out = append(out, tr)
	}
	return out, nil
}

func floorSec(t time.Time) int64 { return t.Unix() }
