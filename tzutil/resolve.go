package tzutil

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Policy decides which instant a wall-clock time means when a transition
// skipped it (a gap) or repeated it (a fold). Every conversion from wall
// time to an instant in this package takes one; the zero value is
// Compatible. time.Date has no policy: it picks by the sign of the zone's
// offset ("it does not guarantee which"), so west of UTC a skipped midnight
// becomes 23:00 of the previous day.
type Policy uint8

const (
	// Compatible: gap → shifted forward by the gap's length (the offset
	// from before the transition, so 02:30 becomes 03:30); fold → the
	// earlier instant. The default of Temporal, java.time, Python (PEP 495
	// fold=0), Noda Time and jiff, and of RFC 5545.
	Compatible Policy = iota
	// Earlier: gap → the instant before the transition (wall − offset
	// after; 02:30 becomes 01:30); fold → the earlier instant.
	Earlier
	// Later: gap → the instant after the transition (wall − offset before;
	// 02:30 becomes 03:30); fold → the later instant.
	Later
	// Reject: gap → *GapError, fold → *FoldError.
	Reject
	// PostgreSQL reproduces PostgreSQL's DetermineTimeZoneOffsetInternal,
	// used by '<wall>'::timestamptz, timestamp AT TIME ZONE and timestamptz
	// arithmetic: it looks at the first transition after wall−24h; in a gap
	// it uses the offset from before it, in a fold the offset from after it
	// (the later instant). For a single transition that is Later; the test
	// suite checks it against a live server on every gap and fold of the
	// oracle data.
	PostgreSQL
	// StartOfGap: gap → the transition instant itself (the first instant
	// that exists, Noda Time's ReturnStartOfIntervalAfter); fold → the
	// earlier instant.
	StartOfGap
)

// String returns the constant's name.
func (p Policy) String() string {
	switch p {
	case Compatible:
		return "Compatible"
	case Earlier:
		return "Earlier"
	case Later:
		return "Later"
	case Reject:
		return "Reject"
	case PostgreSQL:
		return "PostgreSQL"
	case StartOfGap:
		return "StartOfGap"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// ParsePolicy returns the Policy named s, compared case-insensitively and
// ignoring '-' and '_' ("compatible", "earlier", "later", "reject",
// "postgresql", "start-of-gap"), for command-line flags and configuration
// files. Anything else is an error wrapping ErrInvalid that lists the names.
func ParsePolicy(s string) (Policy, error) {
	n := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s))
	for p := Compatible; p <= StartOfGap; p++ {
		if strings.ToLower(p.String()) == n {
			return p, nil
		}
	}
	if n == "postgres" || n == "pg" {
		return PostgreSQL, nil
	}
	return 0, fmt.Errorf("%w: unknown policy %q (use compatible, earlier, later, reject, postgresql or start-of-gap)", ErrInvalid, s)
}

// MarshalText implements encoding.TextMarshaler with the constant's name.
func (p Policy) MarshalText() ([]byte, error) {
	if p > StartOfGap {
		return nil, fmt.Errorf("%w: unknown Policy %d", ErrInvalid, p)
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParsePolicy.
func (p *Policy) UnmarshalText(b []byte) error {
	v, err := ParsePolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Kind classifies a wall time in a zone.
type Kind uint8

const (
	// Unique: the wall time happens exactly once.
	Unique Kind = iota
	// Gap: the wall time never happens (clocks jumped over it).
	Gap
	// Fold: the wall time happens twice (clocks were set back over it).
	Fold
)

// String returns "unique", "gap" or "fold".
func (k Kind) String() string {
	switch k {
	case Unique:
		return "unique"
	case Gap:
		return "gap"
	case Fold:
		return "fold"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Resolution describes how a wall time maps onto instants in a zone.
//
// Unique: Earlier == Later is the instant, Transition is zero and both
// offsets are the zone's offset. Gap: Earlier = wall − OffsetAfter (before
// the transition), Later = wall − OffsetBefore (after it), neither of which
// reads as the wall time. Fold: Earlier = wall − OffsetBefore and Later =
// wall − OffsetAfter both read as the wall time. Times are in the zone's
// location.
type Resolution struct {
	Kind                      Kind
	Wall                      DateTime
	Earlier, Later            time.Time
	Transition                time.Time // first instant with OffsetAfter; zero when Unique
	OffsetBefore, OffsetAfter int       // seconds east of UTC
}

// resolveWindow bounds the offsets considered: Go accepts TZif offsets up
// to a week (POSIX TZ footers allow 167 hours), so look a week each side.
const resolveWindow = 7*24*3600 + 3600

// Resolve reports whether wall happens once, never or twice in loc, with
// both candidate instants and the transition involved. It is a pure
// function of the zone data; it fails only for an invalid wall time (error
// wrapping ErrOutOfRange). A nil loc means UTC.
func Resolve(wall DateTime, loc *time.Location) (Resolution, error) {
	if err := wall.Validate(); err != nil {
		return Resolution{}, fmt.Errorf("tzutil: resolve %s: %w", wall, err)
	}
	if loc == nil {
		loc = time.UTC
	}
	return resolve(wall, loc), nil
}

func resolve(wall DateTime, loc *time.Location) Resolution {
	w := wall.wallSeconds()
	ns := time.Duration(wall.Nanosecond)
	at := func(sec int64) time.Time { return time.Unix(sec, 0).Add(ns).In(loc) }

	// General walk over every period touching [w − window, w + window].
	type period struct {
		start, end int64
		off        int
	}
	var periods []period
	cur := w - resolveWindow
	for i := 0; i < maxWalk && cur < w+resolveWindow; i++ {
		o, e := offsetAt(loc, cur)
		if n := len(periods); n > 0 && periods[n-1].off == o {
			periods[n-1].end = e
		} else {
			periods = append(periods, period{cur, e, o})
		}
		if e == math.MaxInt64 {
			break
		}
		cur = e
	}
	var valid []int // indexes of periods holding a candidate
	for i, p := range periods {
		c := w - int64(p.off)
		if c >= p.start && c < p.end {
			valid = append(valid, i)
		}
	}
	switch len(valid) {
	case 0:
		// A gap: find the forward transition whose skipped range holds w.
		for i := 1; i < len(periods); i++ {
			ob, oa, T := periods[i-1].off, periods[i].off, periods[i].start
			if oa > ob && T+int64(ob) <= w && w < T+int64(oa) {
				return Resolution{Kind: Gap, Wall: wall, Earlier: at(w - int64(oa)), Later: at(w - int64(ob)),
					Transition: time.Unix(T, 0).In(loc), OffsetBefore: ob, OffsetAfter: oa}
			}
		}
		// Unreachable with consistent data; fall back to time.Date's answer.
		t := time.Date(wall.Year, wall.Month, wall.Day, wall.Hour, wall.Minute, wall.Second, wall.Nanosecond, loc)
		_, o := t.Zone()
		return Resolution{Kind: Unique, Wall: wall, Earlier: t, Later: t, OffsetBefore: o, OffsetAfter: o}
	case 1:
		p := periods[valid[0]]
		t := at(w - int64(p.off))
		return Resolution{Kind: Unique, Wall: wall, Earlier: t, Later: t, OffsetBefore: p.off, OffsetAfter: p.off}
	default:
		first, last := periods[valid[0]], periods[valid[len(valid)-1]]
		return Resolution{Kind: Fold, Wall: wall, Earlier: at(w - int64(first.off)), Later: at(w - int64(last.off)),
			Transition: time.Unix(last.start, 0).In(loc), OffsetBefore: first.off, OffsetAfter: last.off}
	}
}

// Pick applies p to r: the instant p chooses, or *GapError / *FoldError for
// Reject. zone names the location in those errors.
func (r Resolution) pick(p Policy, loc *time.Location) (time.Time, error) {
	switch r.Kind {
	case Unique:
		return r.Earlier, nil
	case Gap:
		switch p {
		case Compatible, Later, PostgreSQL:
			return r.Later, nil
		case Earlier:
			return r.Earlier, nil
		case StartOfGap:
			return r.Transition, nil
		case Reject:
			return time.Time{}, &GapError{Wall: r.Wall, Zone: loc.String(), Transition: r.Transition, OffsetBefore: r.OffsetBefore, OffsetAfter: r.OffsetAfter}
		}
	case Fold:
		switch p {
		case Compatible, Earlier, StartOfGap:
			return r.Earlier, nil
		case Later, PostgreSQL:
			return r.Later, nil
		case Reject:
			return time.Time{}, &FoldError{Wall: r.Wall, Zone: loc.String(), Earlier: r.Earlier, Later: r.Later}
		}
	}
	return time.Time{}, fmt.Errorf("%w: unknown Policy %d (use Compatible, Earlier, Later, Reject, PostgreSQL or StartOfGap)", ErrInvalid, p)
}

// At converts the wall time wall in loc to an instant, resolving a gap or a
// fold with p (see Policy). It fails for an invalid wall time (ErrOutOfRange),
// an unknown policy, and, with Reject, for a gap (*GapError) or fold
// (*FoldError). A nil loc means UTC. The result is in loc.
func At(wall DateTime, loc *time.Location, p Policy) (time.Time, error) {
	if err := wall.Validate(); err != nil {
		return time.Time{}, fmt.Errorf("tzutil: %s: %w", wall, err)
	}
	if p > StartOfGap {
		return time.Time{}, fmt.Errorf("%w: unknown Policy %d (use Compatible, Earlier, Later, Reject, PostgreSQL or StartOfGap)", ErrInvalid, p)
	}
	if loc == nil {
		loc = time.UTC
	}
	return at(wall, loc, p)
}

// at is At for a valid wall time, a known policy and a non-nil loc.
func at(wall DateTime, loc *time.Location, p Policy) (time.Time, error) {
	if p == PostgreSQL {
		return postgresAt(wall, loc), nil
	}
	if t, ok := fastUnique(wall, loc); ok {
		return t, nil
	}
	return resolve(wall, loc).pick(p, loc)
}

// fastUnique answers the common case without building the period list:
// with o the offset at the instant that reads w as UTC, c = w − o is a
// solution, and when one period with offset o covers c ± resolveWindow no
// other can exist (another solution w − o' lies within resolveWindow of c,
// where the offset is o, not o'). Only a period end is used, which Go
// reports exactly even on slim zoneinfo.
func fastUnique(wall DateTime, loc *time.Location) (time.Time, bool) {
	w := wall.wallSeconds()
	p := periodAt(loc, w)
	c := w - int64(p.off)
	if p.start > c-resolveWindow || c+resolveWindow >= p.end {
		// The period cache's range for w does not cover c ± the window;
		// try the period containing c itself.
		p = periodAt(loc, c)
		if c2 := w - int64(p.off); c2 != c || p.start > c-resolveWindow || c+resolveWindow >= p.end {
			return time.Time{}, false
		}
	}
	return time.Unix(c, int64(wall.Nanosecond)).In(loc), true
}

// postgresAt is PostgreSQL's DetermineTimeZoneOffsetInternal (datetime.c):
// find the first transition after wall−24h (read as an instant); if both
// candidates lie on one side of it, that side's offset applies; otherwise a
// spring-forward prefers the offset before, a fall-back the offset after.
func postgresAt(wall DateTime, loc *time.Location) time.Time {
	w := wall.wallSeconds()
	ns := time.Duration(wall.Nanosecond)
	prev := w - 86400
	ob, _ := offsetAt(loc, prev)
	tr, ok := nextTransition(loc, prev)
	off := ob
	if ok {
		T := tr.At.Unix()
		oa := tr.OffsetAfter
		bt, at := w-int64(ob), w-int64(oa)
		switch {
		case bt < T && at < T:
			off = ob
		case bt > T && at >= T:
			off = oa
		case bt > at:
			off = ob
		default:
			off = oa
		}
	}
	return time.Unix(w-int64(off), 0).Add(ns).In(loc)
}
