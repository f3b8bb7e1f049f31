package tzutil

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalid is the one sentinel for bad input: every error that a caller
// can fix by passing something else matches it with errors.Is, so an HTTP
// handler can map it to 400 in one place. The narrower sentinels below that
// describe bad input (ErrUnknownZone, ErrSyntax, ErrOutOfRange, ErrPOSIX,
// ErrOffsetMismatch, ErrGap, ErrFold) match ErrInvalid as well; the ones that
// describe the environment (ErrNoTZData, ErrBadData, ErrUnknownLocal,
// ErrLocalMismatch) do not. A malformed zone name ("", "Local", "../x", an
// absolute path given to Load) is a *LoadError whose Reason is ErrInvalid.
var ErrInvalid = errors.New("tzutil: invalid input")

// invalidError is a narrower bad-input sentinel: errors.Is(e, ErrInvalid)
// holds for it and for every error that wraps it.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(msg string) error { return &invalidError{msg} }

// Sentinel errors. Callers branch on them with errors.Is; the returned
// errors wrap them with what was wrong and how to fix it.
var (
	// ErrUnknownZone: the name is well formed but no tzdata source knows it
	// (a typo, or a zone newer than the tzdata in use). It matches
	// ErrInvalid: the caller fixes it by passing another name.
	ErrUnknownZone = invalid("tzutil: unknown zone")
	// ErrNoTZData: no tzdata source is reachable at all (no ZONEINFO, no
	// system zoneinfo directory, no embedded copy, no GOROOT zip), which is
	// the usual state of scratch and distroless images.
	ErrNoTZData = errors.New("tzutil: no tzdata available")
	// ErrBadData: a zoneinfo file exists but is not valid TZif data (or is
	// larger than any real one).
	ErrBadData = errors.New("tzutil: invalid zoneinfo data")
	// ErrPOSIX: a POSIX TZ rule (such as "EST5EDT,M3.2.0,M11.1.0") is
	// malformed. It matches ErrInvalid.
	ErrPOSIX = invalid("tzutil: invalid POSIX TZ rule")
	// ErrOutOfRange: a date, time or argument is outside its valid range,
	// or a result would be. It matches ErrInvalid.
	ErrOutOfRange = invalid("tzutil: out of range")
	// ErrSyntax: a date, datetime or period string is malformed. It
	// matches ErrInvalid.
	ErrSyntax = invalid("tzutil: syntax error")
	// ErrGap: a wall time does not exist in the zone (see *GapError). It
	// matches ErrInvalid: the Reject policy asked for wall times to be
	// validated.
	ErrGap = invalid("tzutil: wall time does not exist (DST gap)")
	// ErrFold: a wall time happens twice in the zone (see *FoldError). It
	// matches ErrInvalid.
	ErrFold = invalid("tzutil: wall time is ambiguous (DST fold)")
	// ErrLocalMismatch: time.Local is not the zone that TZ asks for (see
	// *LocalMismatchError).
	ErrLocalMismatch = errors.New("tzutil: time.Local does not match TZ")
	// ErrUnknownLocal: the IANA name of the process's local zone cannot be
	// determined.
	ErrUnknownLocal = errors.New("tzutil: local zone name unknown")
)

// LoadError explains a failed load. Reason is one of ErrInvalid (a name
// that can never be a zone name), ErrUnknownZone, ErrNoTZData or ErrBadData
// (errors.Is works on the LoadError itself). Suggest lists names the caller probably meant, best
// first; Tried lists the sources consulted, in order.
type LoadError struct {
	Name    string
	Reason  error
	Detail  string   // extra explanation, may be empty
	Suggest []string // e.g. ["Asia/Shanghai"]
	Tried   []string // e.g. ["ZONEINFO=/x", "/usr/share/zoneinfo/"]
}

// Error renders `tzutil: unknown zone "Asia/Shangai" (did you mean "Asia/Shanghai"?)`.
func (e *LoadError) Error() string {
	var b strings.Builder
	if e.Reason == ErrInvalid {
		b.WriteString("tzutil: invalid zone name")
	} else {
		b.WriteString(e.Reason.Error())
	}
	fmt.Fprintf(&b, " %q", e.Name)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if len(e.Suggest) > 0 {
		b.WriteString(" (did you mean ")
		for i, s := range e.Suggest {
			if i > 0 {
				if i == len(e.Suggest)-1 {
					b.WriteString(" or ")
				} else {
					b.WriteString(", ")
				}
			}
			fmt.Fprintf(&b, "%q", s)
		}
		b.WriteString("?)")
	}
	return b.String()
}

// Unwrap returns Reason.
func (e *LoadError) Unwrap() error { return e.Reason }

// GapError is returned with the Reject policy for a wall time that a DST
// (or other) transition skipped: clocks jumped from WallBefore to WallAfter
// at Transition. errors.Is(err, ErrGap) is true.
type GapError struct {
	Wall                      DateTime
	Zone                      string
	Transition                time.Time // first instant with the new offset
	OffsetBefore, OffsetAfter int       // seconds east of UTC
}

// Error describes the gap and the two ways out.
func (e *GapError) Error() string {
	return fmt.Sprintf("tzutil: %s does not exist in %s: clocks jumped from %s to %s at %s (offset %s to %s); use Earlier, Later or StartOfGap to pick an instant",
		e.Wall, e.Zone,
		e.Transition.Add(time.Duration(e.OffsetBefore)*time.Second).UTC().Format("15:04:05"),
		e.Transition.Add(time.Duration(e.OffsetAfter)*time.Second).UTC().Format("15:04:05"),
		e.Transition.UTC().Format(time.RFC3339), FormatOffset(e.OffsetBefore), FormatOffset(e.OffsetAfter))
}

// Is makes errors.Is(err, ErrGap) and errors.Is(err, ErrInvalid) true.
func (e *GapError) Is(target error) bool { return target == ErrGap || target == ErrInvalid }

// FoldError is returned with the Reject policy for a wall time that happens
// twice: at Earlier (with the offset from before the transition) and at
// Later. errors.Is(err, ErrFold) is true.
type FoldError struct {
	Wall           DateTime
	Zone           string
	Earlier, Later time.Time
}

// Error describes both readings.
func (e *FoldError) Error() string {
	return fmt.Sprintf("tzutil: %s happens twice in %s, at %s and at %s; use Earlier or Later to pick one",
		e.Wall, e.Zone, e.Earlier.Format(time.RFC3339), e.Later.Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrFold) and errors.Is(err, ErrInvalid) true.
func (e *FoldError) Is(target error) bool { return target == ErrFold || target == ErrInvalid }

// LocalMismatchError reports that the process's time.Local is not what the
// TZ environment variable asks for: Go silently falls back to UTC when TZ is
// misspelled, lower-case, a POSIX rule, or when no tzdata is reachable.
// errors.Is(err, ErrLocalMismatch) is true.
type LocalMismatchError struct {
	TZ     string         // the TZ value
	Want   *time.Location // what TZ means (nil when TZ itself is unusable)
	Reason error          // why TZ is unusable, or nil
	At     time.Time      // an instant where the offsets differ (zero if Reason != nil)
	Got    int            // time.Local's offset at At, seconds east of UTC
	WantOf int            // Want's offset at At
}

// Error says what TZ means and what Go did instead.
func (e *LocalMismatchError) Error() string {
	if e.Reason != nil {
		return fmt.Sprintf("tzutil: TZ=%q is not usable, so Go's time.Local fell back to UTC: %v", e.TZ, e.Reason)
	}
	return fmt.Sprintf("tzutil: TZ=%q means %s (UTC%s at %s) but time.Local has UTC%s; Go's time package ignored TZ (it does not read POSIX rules and falls back to UTC silently). Pass the location from tzutil.FromTZ explicitly",
		e.TZ, e.Want, FormatOffset(e.WantOf), e.At.UTC().Format(time.RFC3339), FormatOffset(e.Got))
}

// Unwrap returns ErrLocalMismatch and Reason.
func (e *LocalMismatchError) Unwrap() []error {
	if e.Reason != nil {
		return []error{ErrLocalMismatch, e.Reason}
	}
	return []error{ErrLocalMismatch}
}

// FormatOffset formats an offset in seconds east of UTC as "+08:00",
// "-03:30" or, with seconds, "+00:19:32".
func FormatOffset(off int) string {
	sign := '+'
	if off < 0 {
		sign = '-'
		off = -off
	}
	if off%60 != 0 {
		return fmt.Sprintf("%c%02d:%02d:%02d", sign, off/3600, off/60%60, off%60)
	}
	return fmt.Sprintf("%c%02d:%02d", sign, off/3600, off/60%60)
}
