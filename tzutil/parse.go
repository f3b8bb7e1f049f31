package tzutil

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ParseInZone parses a wall-clock string with a layout that has no zone or
// offset ("2006-01-02 15:04") and converts it to an instant in loc with
// policy p. time.ParseInLocation does the same with time.Date's rule
// (golang/go#35508: "2019-03-10" in America/Havana parses as 23:00 on the
// 9th). A layout with a zone or offset element is refused: the string's
// offset would contradict loc; use ParseRFC9557 or time.Parse for those.
func ParseInZone(layout, s string, loc *time.Location, p Policy) (time.Time, error) {
	for _, z := range []string{"MST", "Z07", "-07", "Z0700", "-0700"} {
		if strings.Contains(layout, z) {
			return time.Time{}, fmt.Errorf("tzutil: ParseInZone layout %q has a zone or offset element (%s); use ParseRFC9557 or time.Parse", layout, z)
		}
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("tzutil: %w: %w", ErrSyntax, err)
	}
	return At(DateTimeOf(t), loc, p)
}

// OffsetPolicy says what ParseRFC9557 does when a string carries both a
// UTC offset and a zone name, like Temporal's "offset" option. The zero
// value is RejectMismatch (Temporal's default when parsing).
type OffsetPolicy uint8

const (
	// RejectMismatch: the offset must be one the zone has at that wall
	// time, or the parse fails with an error wrapping ErrOffsetMismatch.
	// It also settles a fold (the offset says which reading).
	RejectMismatch OffsetPolicy = iota
	// UseOffset: the offset fixes the instant; the zone only sets the
	// location of the result (wall time may differ from the string).
	UseOffset
	// IgnoreOffset: the wall time and zone decide, resolved with the Policy.
	IgnoreOffset
	// PreferOffset: use the offset if the zone has it at that wall time
	// (settling a fold), otherwise resolve wall time and zone with the Policy.
	PreferOffset
)

// ErrOffsetMismatch: an RFC 9557 string's offset is not valid for its zone
// at that wall time (for instance after a tzdata change moved the rule). It
// matches ErrInvalid.
var ErrOffsetMismatch = invalid("tzutil: offset does not match the zone")

// ParseRFC9557 parses an RFC 9557 (Internet Extended Date/Time Format)
// string such as "2024-11-03T01:30:00-05:00[America/New_York]". The
// bracketed zone is required and is loaded with Load; an offset-only
// annotation ("[+08:00]") is accepted; further annotations ("[u-ca=iso8601]")
// are ignored unless marked critical with "!", which is an error. The offset
// may be omitted ("2024-11-03T01:30:00[America/New_York]"), in which case the
// wall time is resolved with p. op decides when both are present. "Z"
// ("2024-01-01T00:00:00Z[Asia/Shanghai]") is not an offset of the zone but
// the exact instant, as RFC 9557 and Temporal read it: the result is that
// instant in the zone, whatever op says.
func ParseRFC9557(s string, op OffsetPolicy, p Policy) (time.Time, error) {
	i := strings.IndexByte(s, '[')
	if i < 0 || !strings.HasSuffix(s, "]") {
		return time.Time{}, fmt.Errorf("tzutil: parse %q: %w: want <RFC 3339 date-time>[<zone>]", s, ErrSyntax)
	}
	dt, ann := s[:i], s[i:]
	var zone string
	for n := 0; ann != ""; n++ {
		end := strings.IndexByte(ann, ']')
		if ann[0] != '[' || end < 0 {
			return time.Time{}, fmt.Errorf("tzutil: parse %q: %w: malformed annotation", s, ErrSyntax)
		}
		a := ann[1:end]
		ann = ann[end+1:]
		critical := strings.HasPrefix(a, "!")
		a = strings.TrimPrefix(a, "!")
		if n == 0 && !strings.Contains(a, "=") {
			zone = a
			continue
		}
		if critical {
			return time.Time{}, fmt.Errorf("tzutil: parse %q: %w: critical annotation [!%s] is not supported", s, ErrSyntax, a)
		}
	}
	if zone == "" {
		return time.Time{}, fmt.Errorf("tzutil: parse %q: %w: missing [zone]", s, ErrSyntax)
	}
	var loc *time.Location
	if zone[0] == '+' || zone[0] == '-' {
		t, err := time.Parse("-07:00", zone)
		if err != nil {
			return time.Time{}, fmt.Errorf("tzutil: parse %q: %w: bad offset zone [%s]", s, ErrSyntax, zone)
		}
		_, off := t.Zone()
		loc = time.FixedZone(zone, off)
	} else {
		l, err := Load(zone)
		if err != nil {
			return time.Time{}, err
		}
		loc = l
	}
	// Without an offset: a wall time in the zone.
	if wall, err := ParseDateTime(dt); err == nil {
		return At(wall, loc, p)
	}
	if strings.HasSuffix(dt, "z") {
		dt = dt[:len(dt)-1] + "Z" // RFC 3339 allows a lower-case z; time.Parse does not
	}
	t, err := time.Parse(time.RFC3339Nano, dt)
	if err != nil {
		return time.Time{}, fmt.Errorf("tzutil: parse %q: %w: %w", s, ErrSyntax, err)
	}
	wall := DateTimeOf(t)
	_, off := t.Zone()
	if op == UseOffset || isZulu(dt) {
		// "Z" is the exact instant with no claim about the local offset
		// (RFC 9557 section 2, Temporal's ZonedDateTime.from): every
		// OffsetPolicy keeps the instant and takes the zone from the
		// annotation.
		return t.In(loc), nil
	}
	r, err := Resolve(wall, loc)
	if err != nil {
		return time.Time{}, err
	}
	valid := r.Kind != Gap && (t.Equal(r.Earlier) || t.Equal(r.Later))
	switch op {
	case RejectMismatch:
		if !valid {
			return time.Time{}, fmt.Errorf("%w: %s has offset %s but %s has %s at that wall time", ErrOffsetMismatch, s, FormatOffset(off), loc, offsetsOf(r))
		}
		return t.In(loc), nil
	case PreferOffset:
		if valid {
			return t.In(loc), nil
		}
		return r.pick(p, loc)
	case IgnoreOffset:
		return r.pick(p, loc)
	}
	return time.Time{}, fmt.Errorf("%w: unknown OffsetPolicy %d", ErrInvalid, op)
}

// isZulu reports whether an RFC 3339 date-time ends in "Z" (or "z").
func isZulu(dt string) bool {
	return strings.HasSuffix(dt, "Z") || strings.HasSuffix(dt, "z")
}

func offsetsOf(r Resolution) string {
	switch r.Kind {
	case Gap:
		return "none (a gap)"
	case Fold:
		return FormatOffset(r.OffsetBefore) + " or " + FormatOffset(r.OffsetAfter)
	}
	return FormatOffset(r.OffsetBefore)
}

// FormatRFC9557 formats t as "2024-11-03T01:30:00-05:00[America/New_York]",
// which keeps both the instant and the zone (so DST arithmetic survives a
// round trip). It fails when t's location has no IANA name that Load
// accepts with the same offsets (time.Local, FixedZone, POSIX rules) and
// when the offset has seconds (local mean time); UTC is "[UTC]".
func FormatRFC9557(t time.Time) (string, error) {
	name := t.Location().String()
	if _, off := t.Zone(); off%60 != 0 {
		// Local mean time before 1883 and the like: RFC 3339 offsets have
		// minutes only, and a rounded offset would not parse back.
		return "", fmt.Errorf("tzutil: FormatRFC9557: offset %s has seconds, which RFC 3339 cannot express", FormatOffset(off))
	}
	if name != "UTC" {
		l, err := Load(name)
		var le *LoadError
		if errors.As(err, &le) && le.Reason == ErrInvalid && len(le.Suggest) == 1 {
			// An alias such as "Asia/./Shanghai" (time.LoadLocation accepts
			// it): write the canonical name, never the alias.
			if l2, err2 := Load(le.Suggest[0]); err2 == nil {
				name, l, err = le.Suggest[0], l2, nil
			}
		}
		if err != nil {
			return "", fmt.Errorf("tzutil: FormatRFC9557: location %q is not an IANA zone: %w", name, err)
		}
		_, a := t.Zone()
		_, b := t.In(l).Zone()
		if a != b {
			return "", fmt.Errorf("tzutil: FormatRFC9557: location %q differs from the IANA zone of that name", name)
		}
	}
	return t.Format(time.RFC3339Nano) + "[" + name + "]", nil
}
