package tzutil

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"
)

// zonePeriod is a range of Unix seconds [start, end) over which loc's
// offset is off. The range may be narrower than the zone's real period, never
// wider.
type zonePeriod struct {
	loc        *time.Location
	start, end int64
	off        int
}

// periodCache memoises the last period seen per location (direct-mapped by
// the location's address), so that rounding and wall-time conversions in
// the same period cost no zone lookup. It holds no settings, only results
// of a pure function of immutable zone data; entries are replaced whole
// through atomic pointers, so it is safe for concurrent use.
// Each slot keeps the two most recently computed periods, so that work
// going back and forth between two periods of a zone (a date and the same
// date a month later, across DST) does not thrash.
var periodCache [64][2]atomic.Pointer[zonePeriod]

func cacheSlot(loc *time.Location) *[2]atomic.Pointer[zonePeriod] {
	return &periodCache[(uintptr(unsafe.Pointer(loc))>>4)%uintptr(len(periodCache))]
}

// periodAt returns the offset of loc at Unix second sec and a range around
// sec with that offset. The end comes from offsetAt (exact, guarded against
// golang/go#81583); the start is the last transition at or before sec
// (PrevTransition, exact on slim data), so no instant in the range has
// another offset.
func periodAt(loc *time.Location, sec int64) zonePeriod {
	slot := cacheSlot(loc)
	for i := range slot {
		if p := slot[i].Load(); p != nil && p.loc == loc && p.start <= sec && sec < p.end {
			return *p
		}
	}
	off, end := offsetAt(loc, sec)
	start := int64(math.MinInt64)
	if tr, ok := PrevTransition(loc, time.Unix(sec, 0)); ok {
		start = tr.At.Unix()
	}
	if start > sec { // cannot happen; stay correct if it does
		start = sec
	}
	p := &zonePeriod{loc: loc, start: start, end: end, off: off}
	slot[1].Store(slot[0].Load())
	slot[0].Store(p)
	return *p
}

// wallOf returns t's wall-clock date and time in its location and its
// offset, using the period cache instead of Time.Date and Time.Clock (two
// zone lookups).
func wallOf(t time.Time) (DateTime, int) {
	sec := t.Unix()
	if sec < minUnix+86400 || sec > maxUnix-86400 {
		_, off := t.Zone()
		return DateTimeOf(t), off
	}
	p := periodAt(t.Location(), sec)
	w := sec + int64(p.off)
	days := w / 86400
	sod := w % 86400
	if sod < 0 {
		sod += 86400
		days--
	}
	return dateTimeOfDay(dateFromDays(days), sod*int64(time.Second)+int64(t.Nanosecond())), p.off
}
