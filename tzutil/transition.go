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

// offsetAt returns the offset at Unix second sec and the end of the period
// that contains it (math.MaxInt64 when the period never ends). The end is
// guarded against golang/go#81583: in leap years served by a TZif footer
// rule, ZoneBounds reports an end of 31 December 00:00 UTC even for instants
// on 31 December, which is not after them; a naive walk loops forever. The
// guard replaces such an end by the next 1 January 00:00 UTC, which is
// inside the same period (rule-based years change offset in the year, not at
// its boundary, and the offset reported at the instant is right).
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
		end = time.Date(y+1, time.January, 1, 0, 0, 0, 0, time.UTC).Unix()
	}
	return off, end
}

// nextTransition returns the first offset change at an instant > sec.
func nextTransition(loc *time.Location, sec int64) (Transition, bool) {
	off0, end := offsetAt(loc, sec)
	for i := 0; i < maxWalk && end != math.MaxInt64; i++ {
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

// NextTransition returns the first offset change strictly after t in loc,
// and false when there is none (fixed zones, or no change in the data). It
// is safe with Go's "slim" zoneinfo (golang/go#81583).
func NextTransition(loc *time.Location, t time.Time) (Transition, bool) {
	if loc == nil {
		loc = time.UTC
	}
	// Transitions fall on whole seconds: the first one > t is the first one
	// > floor(t) unless t is itself before a whole second boundary.
	return nextTransition(loc, floorSec(t))
}

// PrevTransition returns the last offset change at or before t in loc (the
// transition in effect at t), and false when there is none.
func PrevTransition(loc *time.Location, t time.Time) (Transition, bool) {
	if loc == nil {
		loc = time.UTC
	}
	cur := floorSec(t)
	off0, _ := offsetAt(loc, cur)
	for i := 0; i < maxWalk; i++ {
		tt := time.Unix(cur, 0).In(loc)
		s, _ := tt.ZoneBounds()
		if s.IsZero() {
			return Transition{}, false
		}
		start := s.Unix()
		if start > cur { // defensive twin of the #81583 guard
			start = time.Date(tt.UTC().Year(), time.January, 1, 0, 0, 0, 0, time.UTC).Unix()
			if start > cur {
				return Transition{}, false
			}
		}
		prevOff, _ := offsetAt(loc, start-1)
		if prevOff != off0 {
			before, _ := time.Unix(start-1, 0).In(loc).Zone()
			after, _ := time.Unix(start, 0).In(loc).Zone()
			return Transition{At: time.Unix(start, 0).In(loc), OffsetBefore: prevOff, OffsetAfter: off0, NameBefore: before, NameAfter: after}, true
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
		cur := floorSec(from) - 1
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
	from := time.Unix(startOf(loc, Date{year, time.January, 1}.days()*86400), 0)
	to := time.Unix(startOf(loc, Date{year + 1, time.January, 1}.days()*86400), 0)
	var out []Transition
	for tr := range Transitions(loc, from, to) {
		out = append(out, tr)
	}
	return out, nil
}

func floorSec(t time.Time) int64 { return t.Unix() }
