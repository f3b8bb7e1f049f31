package tzutil

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MinYear and MaxYear bound the years that Date and DateTime accept. The range
// is that of ISO 8601 / RFC 3339 four-digit years; a Date outside it is
// rejected with ErrOutOfRange by every function that takes one.
const (
	MinYear = 1
	MaxYear = 9999
)

// Date is a civil (zone-less) calendar date in the proleptic Gregorian
// calendar, such as a birthday or the `date` column of PostgreSQL. It names a
// day on a wall calendar, not an interval of time: when that day starts and
// how long it lasts depend on a zone (see StartOfDate and DayLength).
//
// The zero Date (0000-00-00) is invalid. Dates are comparable with == and are
// safe to copy and to use concurrently.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateTime is a civil date and wall-clock time without a zone, such as a
// PostgreSQL `timestamp without time zone` or "09:00 on 2024-03-10 wherever
// the user is". Converting it to an instant needs a zone and, because wall
// times can be skipped or repeated by DST, a Policy: see Resolve and
// DateTime.In.
type DateTime struct {
	Date
	Hour, Minute, Second, Nanosecond int
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// DateTimeOf returns the wall-clock date and time of t in t's location.
func DateTimeOf(t time.Time) DateTime {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	return DateTime{Date{y, m, d}, hh, mm, ss, t.Nanosecond()}
}

// daysIn returns the number of days of month m in year y.
func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// Validate reports why d is not a real calendar date in [MinYear, MaxYear],
// as an error wrapping ErrOutOfRange, or nil.
func (d Date) Validate() error {
	switch {
	case d.Year < MinYear || d.Year > MaxYear:
		return fmt.Errorf("%w: year %d outside %d..%d", ErrOutOfRange, d.Year, MinYear, MaxYear)
	case d.Month < time.January || d.Month > time.December:
		return fmt.Errorf("%w: month %d outside 1..12", ErrOutOfRange, int(d.Month))
	case d.Day < 1 || d.Day > daysIn(d.Year, d.Month):
		return fmt.Errorf("%w: day %d outside 1..%d for %04d-%02d", ErrOutOfRange, d.Day, daysIn(d.Year, d.Month), d.Year, int(d.Month))
	}
	return nil
}

// IsValid reports whether d is a real calendar date in [MinYear, MaxYear].
func (d Date) IsValid() bool { return d.Validate() == nil }

// String formats d as YYYY-MM-DD.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText implements encoding.TextMarshaler (YYYY-MM-DD).
func (d Date) MarshalText() ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("tzutil: marshal date: %w", err)
	}
	return []byte(d.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; see ParseDate.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDate parses a YYYY-MM-DD date. It fails with an error wrapping
// ErrSyntax or ErrOutOfRange, never normalising (2023-02-29 is an error).
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("tzutil: parse date %q: %w: want YYYY-MM-DD", s, ErrSyntax)
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	dd, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return Date{}, fmt.Errorf("tzutil: parse date %q: %w: want YYYY-MM-DD", s, ErrSyntax)
	}
	d := Date{y, time.Month(m), dd}
	if err := d.Validate(); err != nil {
		return Date{}, fmt.Errorf("tzutil: parse date %q: %w", s, err)
	}
	return d, nil
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

// days returns the number of days from 1970-01-01 to d (negative before).
// It is Howard Hinnant's days_from_civil; it accepts any Year and
// normalises out-of-range months and days the way time.Date does.
func (d Date) days() int64 {
	y, m, dd := int64(d.Year), int64(d.Month), int64(d.Day)
	if m < 1 || m > 12 {
		y += (m - 1) / 12
		m = (m-1)%12 + 1
		if m < 1 {
			m += 12
			y--
		}
	}
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + dd - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// dateFromDays is the inverse of Date.days.
func dateFromDays(z int64) Date {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return Date{int(y), time.Month(m), int(d)}
}

// AddDays returns the date n calendar days after d (before, if n < 0). The
// result may fall outside [MinYear, MaxYear]; check it with Validate when n
// comes from input.
func (d Date) AddDays(n int) Date { return dateFromDays(d.days() + int64(n)) }

// AddMonths returns the date n months after d. When the day does not exist
// in the target month, o decides: Clamp (the zero value) gives the month's
// last day (Jan 31 + 1 month = Feb 29 in 2024), Normalize overflows into the
// next month like time.AddDate (= Mar 2), RejectOverflow returns an error
// wrapping ErrOutOfRange. An invalid d (Date{2024, 8, 32}), an unknown o, n
// outside the int32 range (which could overflow the month count) and a
// result outside [MinYear, MaxYear] are errors wrapping ErrInvalid.
func (d Date) AddMonths(n int, o Overflow) (Date, error) {
	if o > RejectOverflow {
		return Date{}, fmt.Errorf("%w: unknown Overflow %d (use Clamp, Normalize or RejectOverflow)", ErrInvalid, o)
	}
	if err := d.Validate(); err != nil {
		// A hand-built Date{2024, 8, 32} must not come back as September.
		return Date{}, fmt.Errorf("tzutil: %s plus %d months: %w", d, n, err)
	}
	if n > math.MaxInt32 || n < math.MinInt32 {
		return Date{}, fmt.Errorf("tzutil: %s plus %d months: %w", d, n, ErrOutOfRange)
	}
	total := int64(d.Year)*12 + int64(d.Month-1) + int64(n)
	y := total / 12
	m := total % 12
	if m < 0 {
		m += 12
		y--
	}
	r := Date{int(y), time.Month(m + 1), d.Day}
	if max := daysIn(r.Year, r.Month); r.Day > max {
		switch o {
		case Clamp:
			r.Day = max
		case Normalize:
			r = dateFromDays(r.days())
		case RejectOverflow:
			return Date{}, fmt.Errorf("tzutil: %s plus %d months: %w: %04d-%02d has %d days", d, n, ErrOutOfRange, r.Year, int(r.Month), max)
		default:
			return Date{}, fmt.Errorf("%w: unknown Overflow %d", ErrInvalid, o)
		}
	}
	if r.Year < MinYear || r.Year > MaxYear {
		return Date{}, fmt.Errorf("tzutil: %s plus %d months: %w: year %d outside %d..%d", d, n, ErrOutOfRange, r.Year, MinYear, MaxYear)
	}
	return r, nil
}

// DaysSince returns the number of calendar days from e to d (d - e).
func (d Date) DaysSince(e Date) int { return int(d.days() - e.days()) }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	w := (d.days() + 4) % 7 // 1970-01-01 was a Thursday
	if w < 0 {
		w += 7
	}
	return time.Weekday(w)
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	a, b := d.days(), e.days()
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.Compare(e) > 0 }

// Overflow says what AddMonths does when the day does not exist in the
// target month. The zero value is Clamp.
type Overflow uint8

const (
	// Clamp moves to the last day of the target month (java.time plusMonths,
	// Temporal overflow "constrain", carbon AddMonthsNoOverflow).
	Clamp Overflow = iota
	// Normalize overflows into the following month, as time.AddDate does
	// (Oct 31 + 1 month = Dec 1).
	Normalize
	// RejectOverflow returns an error wrapping ErrOutOfRange.
	RejectOverflow
)

// String returns the constant's name.
func (o Overflow) String() string {
	switch o {
	case Clamp:
		return "Clamp"
	case Normalize:
		return "Normalize"
	case RejectOverflow:
		return "RejectOverflow"
	}
	return "Overflow(" + strconv.Itoa(int(o)) + ")"
}

// ParseOverflow returns the Overflow named s, case-insensitively and
// ignoring '-' and '_' ("clamp", "normalize", "reject-overflow"; "constrain"
// and "reject", Temporal's names, also work). Anything else is an error
// wrapping ErrInvalid.
func ParseOverflow(s string) (Overflow, error) {
	switch strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s)) {
	case "clamp", "constrain":
		return Clamp, nil
	case "normalize", "normalise":
		return Normalize, nil
	case "rejectoverflow", "reject":
		return RejectOverflow, nil
	}
	return 0, fmt.Errorf("%w: unknown overflow %q (use clamp, normalize or reject-overflow)", ErrInvalid, s)
}

// Validate reports why dt is not a real date and wall-clock time, as an
// error wrapping ErrOutOfRange, or nil. Leap seconds (second 60) are not
// accepted: Go's time package does not represent them.
func (dt DateTime) Validate() error {
	if err := dt.Date.Validate(); err != nil {
		return err
	}
	switch {
	case dt.Hour < 0 || dt.Hour > 23:
		return fmt.Errorf("%w: hour %d outside 0..23", ErrOutOfRange, dt.Hour)
	case dt.Minute < 0 || dt.Minute > 59:
		return fmt.Errorf("%w: minute %d outside 0..59", ErrOutOfRange, dt.Minute)
	case dt.Second < 0 || dt.Second > 59:
		return fmt.Errorf("%w: second %d outside 0..59", ErrOutOfRange, dt.Second)
	case dt.Nanosecond < 0 || dt.Nanosecond > 999999999:
		return fmt.Errorf("%w: nanosecond %d outside 0..999999999", ErrOutOfRange, dt.Nanosecond)
	}
	return nil
}

// IsValid reports whether dt is a real date and wall-clock time.
func (dt DateTime) IsValid() bool { return dt.Validate() == nil }

// String formats dt as YYYY-MM-DDTHH:MM:SS with a fractional second only
// when Nanosecond is not zero (trailing zeros trimmed).
func (dt DateTime) String() string {
	s := fmt.Sprintf("%sT%02d:%02d:%02d", dt.Date, dt.Hour, dt.Minute, dt.Second)
	if dt.Nanosecond != 0 {
		f := fmt.Sprintf("%09d", dt.Nanosecond)
		for f[len(f)-1] == '0' {
			f = f[:len(f)-1]
		}
		s += "." + f
	}
	return s
}

// MarshalText implements encoding.TextMarshaler (see String).
func (dt DateTime) MarshalText() ([]byte, error) {
	if err := dt.Validate(); err != nil {
		return nil, fmt.Errorf("tzutil: marshal datetime: %w", err)
	}
	return []byte(dt.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; see ParseDateTime.
func (dt *DateTime) UnmarshalText(b []byte) error {
	v, err := ParseDateTime(string(b))
	if err != nil {
		return err
	}
	*dt = v
	return nil
}

// ParseDateTime parses "YYYY-MM-DDTHH:MM[:SS[.fraction]]"; a space may
// replace the T (PostgreSQL's text form). A zone or offset suffix is an
// error: a DateTime has none, and silently dropping one loses information.
// Errors wrap ErrSyntax or ErrOutOfRange.
func ParseDateTime(s string) (DateTime, error) {
	bad := func(why string) (DateTime, error) {
		return DateTime{}, fmt.Errorf("tzutil: parse datetime %q: %w: %s", s, ErrSyntax, why)
	}
	if len(s) < 16 || (s[10] != 'T' && s[10] != ' ' && s[10] != 't') || s[13] != ':' {
		return bad("want YYYY-MM-DDTHH:MM[:SS[.fffffffff]]")
	}
	d, err := ParseDate(s[:10])
	if err != nil {
		return DateTime{}, err
	}
	hh, ok1 := digits(s[11:13])
	mm, ok2 := digits(s[14:16])
	if !ok1 || !ok2 {
		return bad("want HH:MM")
	}
	dt := DateTime{Date: d, Hour: hh, Minute: mm}
	rest := s[16:]
	if rest != "" {
		if len(rest) < 3 || rest[0] != ':' {
			return bad("want :SS after HH:MM, and no zone or offset")
		}
		ss, ok := digits(rest[1:3])
		if !ok {
			return bad("want :SS")
		}
		dt.Second = ss
		rest = rest[3:]
		if rest != "" {
			if rest[0] != '.' && rest[0] != ',' || len(rest) < 2 || len(rest) > 10 {
				return bad("want .fraction of 1 to 9 digits and no zone or offset")
			}
			f, ok := digits(rest[1:])
			if !ok {
				return bad("a zone or offset is not allowed in a civil datetime")
			}
			for i := len(rest) - 1; i < 9; i++ {
				f *= 10
			}
			dt.Nanosecond = f
		}
	}
	if err := dt.Validate(); err != nil {
		return DateTime{}, fmt.Errorf("tzutil: parse datetime %q: %w", s, err)
	}
	return dt, nil
}

// Compare returns -1, 0 or +1 as dt is before, equal to or after e.
func (dt DateTime) Compare(e DateTime) int {
	a, b := dt.wallSeconds(), e.wallSeconds()
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case dt.Nanosecond < e.Nanosecond:
		return -1
	case dt.Nanosecond > e.Nanosecond:
		return 1
	}
	return 0
}

// wallSeconds returns the wall clock read as if it were UTC, in Unix seconds.
func (dt DateTime) wallSeconds() int64 {
	return dt.Date.days()*86400 + int64(dt.Hour)*3600 + int64(dt.Minute)*60 + int64(dt.Second)
}

// In converts dt to an instant in loc, resolving skipped (gap) and repeated
// (fold) wall times with p. It is At(dt, loc, p).
func (dt DateTime) In(loc *time.Location, p Policy) (time.Time, error) { return At(dt, loc, p) }
