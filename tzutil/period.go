package tzutil

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Period is an amount of calendar time and exact time, such as "1 year, 2
// months, 10 days and 2½ hours" (ISO 8601 P1Y2M10DT2H30M): Temporal's
// Duration, java.time's Period plus Duration. Years, Months, Weeks and Days
// are calendar units whose length depends on where they are added (a month
// is 28 to 31 days, a day 23 to 25 hours across DST); Time is exact elapsed
// time (hours, minutes, seconds and fractions), so PT90M and PT1H30M are the
// same Period.
//
// Fields may have different signs (java.time allows it; Temporal does not):
// AddPeriod applies each one in Temporal's order. The zero Period is empty.
// A Period is a plain comparable value.
type Period struct {
	Years, Months, Weeks, Days int
	Time                       time.Duration
}

// IsZero reports whether p adds nothing.
func (p Period) IsZero() bool { return p == Period{} }

// Negate returns −p. It saturates the impossible −math.MinInt64 Time.
func (p Period) Negate() Period {
	t := -p.Time
	if p.Time == math.MinInt64 {
		t = math.MaxInt64
	}
	return Period{-p.Years, -p.Months, -p.Weeks, -p.Days, t}
}

// sign returns -1, 0 or +1 when every non-zero field is negative, there are
// none, or every one is positive; mixed signs give 2.
func (p Period) sign() int {
	neg, pos := false, false
	for _, v := range []int64{int64(p.Years), int64(p.Months), int64(p.Weeks), int64(p.Days), int64(p.Time)} {
		neg = neg || v < 0
		pos = pos || v > 0
	}
	switch {
	case neg && pos:
		return 2
	case neg:
		return -1
	case pos:
		return 1
	}
	return 0
}

// String formats p in ISO 8601 ("P1Y2M10DT2H30M", "PT0.5S", "-P1M", "PT0S"
// for the zero Period). When all fields are negative the sign leads
// ("-P1Y2D"); mixed signs are written per field as java.time does
// ("P1M-1D"), which ParsePeriod reads back. Time is written as hours,
// minutes and seconds (90 minutes is "PT1H30M").
func (p Period) String() string {
	b := make([]byte, 0, 32)
	s := p.sign()
	allNeg := s == -1
	if allNeg {
		b = append(b, '-')
		p.Years, p.Months, p.Weeks, p.Days = -p.Years, -p.Months, -p.Weeks, -p.Days
	}
	b = append(b, 'P')
	field := func(v int64, unit byte) {
		if v != 0 {
			b = strconv.AppendInt(b, v, 10)
			b = append(b, unit)
		}
	}
	field(int64(p.Years), 'Y')
	field(int64(p.Months), 'M')
	field(int64(p.Weeks), 'W')
	field(int64(p.Days), 'D')
	if p.Time != 0 {
		b = append(b, 'T')
		d := p.Time
		neg := d < 0
		// Work in uint64 so that math.MinInt64 has a magnitude.
		u := uint64(d)
		if neg {
			u = -u
		}
		h, rest := u/uint64(time.Hour), u%uint64(time.Hour)
		m, rest := rest/uint64(time.Minute), rest%uint64(time.Minute)
		sec, ns := rest/uint64(time.Second), rest%uint64(time.Second)
		sgn := func() {
			if neg && !allNeg {
				b = append(b, '-')
			}
		}
		if h != 0 {
			sgn()
			b = strconv.AppendUint(b, h, 10)
			b = append(b, 'H')
		}
		if m != 0 {
			sgn()
			b = strconv.AppendUint(b, m, 10)
			b = append(b, 'M')
		}
		if sec != 0 || ns != 0 {
			sgn()
			b = strconv.AppendUint(b, sec, 10)
			if ns != 0 {
				f := strconv.AppendUint(nil, ns+1e9, 10)[1:] // 9 digits
				for len(f) > 0 && f[len(f)-1] == '0' {
					f = f[:len(f)-1]
				}
				b = append(b, '.')
				b = append(b, f...)
			}
			b = append(b, 'S')
		}
	}
	if len(b) == 1 || (len(b) == 2 && b[0] == '-') {
		return "PT0S"
	}
	return string(b)
}

// MarshalText implements encoding.TextMarshaler (see String).
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (see ParsePeriod).
func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParsePeriod parses an ISO 8601 duration: "P1Y2M10DT2H30M", "P3W",
// "PT36H", "PT0.5S", "-P1D" (the whole period negative), "P1M-1D" (a field
// negative, as java.time writes mixed signs). Designators may be lower
// case; weeks may be combined with other units (ISO 8601-2, Temporal). The
// last time element may have a fraction of up to 9 digits ("PT1.5H",
// "PT0,25S"); calendar elements may not (a fraction of a month has no
// length). Every element is optional but at least one must be present, and
// a 'T' must be followed by one. Errors wrap ErrSyntax (and so ErrInvalid),
// or ErrOutOfRange when a value overflows (Time holds about ±292 years).
func ParsePeriod(s string) (Period, error) {
	bad := func(why string) (Period, error) {
		return Period{}, fmt.Errorf("tzutil: parse period %q: %w: %s (want ISO 8601 like P1Y2M10DT2H30M)", s, ErrSyntax, why)
	}
	i := 0
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	if i >= len(s) || (s[i] != 'P' && s[i] != 'p') {
		return bad("missing P")
	}
	i++
	var p Period
	inTime := false
	elements := 0
	order := 0 // position of the last designator, to enforce Y M W D order
	timeElems := 0
	fractionSeen := false
	for i < len(s) {
		c := s[i]
		if c == 'T' || c == 't' {
			if inTime {
				return bad("second T")
			}
			inTime = true
			order = 0
			i++
			if i >= len(s) {
				return bad("T without a time element")
			}
			continue
		}
		if fractionSeen {
			return bad("only the last element may have a fraction")
		}
		fieldNeg := false
		if c == '-' || c == '+' {
			fieldNeg = c == '-'
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return bad(fmt.Sprintf("expected a number at byte %d", start))
		}
		digits := s[start:i]
		frac := ""
		if i < len(s) && (s[i] == '.' || s[i] == ',') {
			i++
			fs := i
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			frac = s[fs:i]
			if frac == "" || len(frac) > 9 {
				return bad("a fraction needs 1 to 9 digits")
			}
			fractionSeen = true
		}
		if i >= len(s) {
			return bad("number without a designator")
		}
		unit := s[i] | 0x20 // lower case
		i++
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return Period{}, fmt.Errorf("tzutil: parse period %q: %w: %s is too large", s, ErrOutOfRange, digits)
		}
		if fieldNeg != neg {
			n = -n
		}
		elements++
		if !inTime {
			pos := strings.IndexByte("ymwd", unit) + 1
			if pos == 0 {
				return bad(fmt.Sprintf("unknown date designator %q (use Y, M, W, D, or T before H, M, S)", s[i-1]))
			}
			if pos <= order {
				return bad("date elements must be in the order Y, M, W, D, each once")
			}
			order = pos
			if frac != "" {
				return bad("calendar units (Y, M, W, D) cannot have a fraction")
			}
			if n > math.MaxInt32 || n < math.MinInt32 {
				return Period{}, fmt.Errorf("tzutil: parse period %q: %w: %d%c does not fit in 32 bits", s, ErrOutOfRange, n, unit)
			}
			switch unit {
			case 'y':
				p.Years = int(n)
			case 'm':
				p.Months = int(n)
			case 'w':
				p.Weeks = int(n)
			case 'd':
				p.Days = int(n)
			}
			continue
		}
		pos := strings.IndexByte("hms", unit) + 1
		if pos == 0 {
			return bad(fmt.Sprintf("unknown time designator %q (use H, M, S)", s[i-1]))
		}
		if pos <= order {
			return bad("time elements must be in the order H, M, S, each once")
		}
		order = pos
		timeElems++
		unitNs := [...]int64{int64(time.Hour), int64(time.Minute), int64(time.Second)}[pos-1]
		v, ok := mulAdd(n, unitNs, 0)
		if ok && frac != "" {
			f, _ := strconv.ParseInt(frac, 10, 64)
			scale := int64(1)
			for range 9 - len(frac) {
				scale *= 10
			}
			// unitNs/1e9 is a whole number of seconds, so this is exact.
			fn := f * scale * (unitNs / 1e9)
			if fieldNeg != neg {
				fn = -fn
			}
			v, ok = mulAdd(v, 1, fn)
		}
		if !ok {
			return Period{}, fmt.Errorf("tzutil: parse period %q: %w: the time part exceeds about 292 years", s, ErrOutOfRange)
		}
		if t, ok := mulAdd(int64(p.Time), 1, v); ok {
			p.Time = time.Duration(t)
		} else {
			return Period{}, fmt.Errorf("tzutil: parse period %q: %w: the time part exceeds about 292 years", s, ErrOutOfRange)
		}
	}
	if elements == 0 {
		return bad("no elements")
	}
	if inTime && timeElems == 0 {
		return bad("T without a time element")
	}
	return p, nil
}

// mulAdd returns a*b+c and whether it fits in an int64.
func mulAdd(a, b, c int64) (int64, bool) {
	if a != 0 {
		m := a * b
		if m/a != b || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
			return 0, false
		}
		a = m
	} else {
		a = 0
	}
	s := a + c
	if (c > 0 && s < a) || (c < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// addDateParts adds years and months (clamping or not with o), then weeks
// and days: Temporal's AddISODate order.
func (d Date) addDateParts(p Period, o Overflow) (Date, error) {
	months := int64(p.Years)*12 + int64(p.Months)
	if months > math.MaxInt32 || months < math.MinInt32 {
		return Date{}, fmt.Errorf("tzutil: %s plus %s: %w", d, p, ErrOutOfRange)
	}
	r := d
	if months != 0 {
		var err error
		if r, err = d.AddMonths(int(months), o); err != nil {
			return Date{}, err
		}
	}
	days := int64(p.Weeks)*7 + int64(p.Days)
	if days != 0 {
		r = dateFromDays(r.days() + days)
		if r.Year < MinYear || r.Year > MaxYear {
			return Date{}, fmt.Errorf("tzutil: %s plus %s: %w: year %d outside %d..%d", d, p, ErrOutOfRange, r.Year, MinYear, MaxYear)
		}
	}
	return r, nil
}

// AddPeriod returns d plus p: years and months first (o handles a day
// missing from the target month: Clamp gives Jan 31 + P1M = Feb 29 in
// 2024), then weeks and days, as Temporal's PlainDate.add does. p.Time must
// be a whole number of days (it is added as days); anything finer needs a
// DateTime. It fails for an invalid d, an unknown o, a result outside
// [MinYear, MaxYear], and with RejectOverflow for a missing day, all
// wrapping ErrInvalid.
func (d Date) AddPeriod(p Period, o Overflow) (Date, error) {
	if err := d.Validate(); err != nil {
		return Date{}, fmt.Errorf("tzutil: %s plus %s: %w", d, p, err)
	}
	if p.Time%(24*time.Hour) != 0 {
		return Date{}, fmt.Errorf("%w: %s plus %s: a Date cannot hold a time of day; use DateTime.AddPeriod", ErrInvalid, d, p)
	}
	p.Days, p.Time = p.Days+int(p.Time/(24*time.Hour)), 0
	return d.addDateParts(p, o)
}

// AddPeriod returns dt plus p on the wall clock: the date parts as
// Date.AddPeriod (years and months, then weeks and days), then p.Time as
// wall-clock time (a DateTime has no zone, so no DST). Errors as
// Date.AddPeriod.
func (dt DateTime) AddPeriod(p Period, o Overflow) (DateTime, error) {
	if err := dt.Validate(); err != nil {
		return DateTime{}, fmt.Errorf("tzutil: %s plus %s: %w", dt, p, err)
	}
	d, err := dt.Date.addDateParts(Period{Years: p.Years, Months: p.Months, Weeks: p.Weeks, Days: p.Days}, o)
	if err != nil {
		return DateTime{}, err
	}
	r := DateTime{Date: d, Hour: dt.Hour, Minute: dt.Minute, Second: dt.Second, Nanosecond: dt.Nanosecond}
	if p.Time == 0 {
		return r, nil
	}
	// Nanoseconds of the day plus Time, carried into days.
	ns := int64(r.Hour)*int64(time.Hour) + int64(r.Minute)*int64(time.Minute) + int64(r.Second)*int64(time.Second) + int64(r.Nanosecond)
	const day = int64(24 * time.Hour)
	carry := int64(p.Time) / day
	ns += int64(p.Time) % day
	if ns < 0 {
		ns += day
		carry--
	} else if ns >= day {
		ns -= day
		carry++
	}
	nd := dateFromDays(r.Date.days() + carry)
	if nd.Year < MinYear || nd.Year > MaxYear {
		return DateTime{}, fmt.Errorf("tzutil: %s plus %s: %w: year %d outside %d..%d", dt, p, ErrOutOfRange, nd.Year, MinYear, MaxYear)
	}
	return dateTimeOfDay(nd, ns), nil
}

// dateTimeOfDay combines a date with nanoseconds since its midnight.
func dateTimeOfDay(d Date, ns int64) DateTime {
	return DateTime{Date: d,
		Hour:       int(ns / int64(time.Hour)),
		Minute:     int(ns / int64(time.Minute) % 60),
		Second:     int(ns / int64(time.Second) % 60),
		Nanosecond: int(ns % int64(time.Second))}
}

// AddPeriod returns t plus p in t's location, in Temporal's order
// (ZonedDateTime.add): years and months on the wall calendar (o handles a
// day missing from the target month), then weeks and days on the wall
// calendar (same wall-clock time; a gap or fold on the target day is
// resolved with pol), then p.Time as exact elapsed time. So P1D from 09:00
// the day before a DST change is 09:00 the next day, and PT24H is 10:00 or
// 08:00. A Period with only Time is t.Add(p.Time). It fails for an unknown
// o or pol, with Reject in a gap or fold, with RejectOverflow for a missing
// day, and when the result leaves [MinYear, MaxYear] (all wrapping
// ErrInvalid).
func AddPeriod(t time.Time, p Period, o Overflow, pol Policy) (time.Time, error) {
	if pol > StartOfGap {
		return time.Time{}, fmt.Errorf("%w: unknown Policy %d", ErrInvalid, pol)
	}
	if o > RejectOverflow {
		return time.Time{}, fmt.Errorf("%w: unknown Overflow %d", ErrInvalid, o)
	}
	r := t
	if p.Years != 0 || p.Months != 0 || p.Weeks != 0 || p.Days != 0 {
		loc := t.Location()
		wall, _ := wallOf(t)
		d, err := wall.Date.addDateParts(Period{Years: p.Years, Months: p.Months, Weeks: p.Weeks, Days: p.Days}, o)
		if err != nil {
			return time.Time{}, err
		}
		wall.Date = d
		if r, err = at(wall, loc, pol); err != nil {
			return time.Time{}, err
		}
	}
	if p.Time != 0 {
		r = r.Add(p.Time)
		if y := r.Year(); y < MinYear || y > MaxYear {
			return time.Time{}, fmt.Errorf("tzutil: %s plus %s: %w: year %d outside %d..%d", t.Format(time.RFC3339), p, ErrOutOfRange, y, MinYear, MaxYear)
		}
	}
	return r, nil
}
