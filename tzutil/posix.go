package tzutil

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// POSIXRule is a parsed POSIX TZ rule (IEEE Std 1003.1 §8.3, with the
// RFC 8536 §3.3.1 extension allowing rule times from −167 to 167 hours).
// Offsets are seconds east of UTC, the usual sign, not POSIX's inverted one.
type POSIXRule struct {
	Std       string // "EST", or "+08" for "<+08>"
	StdOffset int    // −18000 for "EST5"
	Dst       string // "" when the rule has no daylight saving time
	DstOffset int    // StdOffset+3600 when omitted
	// Start and End are the DST rules ("M3.2.0/2" etc.) as written, with
	// Go's default ",M3.2.0,M11.1.0" filled in when DST has no rule.
	Start, End string
}

// ParsePOSIXRule parses and validates a POSIX TZ rule such as "CST-8",
// "EST5EDT,M3.2.0,M11.1.0" or "<+0545>-5:45". It is stricter than Go's
// internal parser, which silently ignores what it cannot read: names are
// 3+ letters or <3+ alphanumerics, + or ->; offsets are at most 24:59:59;
// rules are Jn (1–365), n (0–365) or Mm.w.d with an optional /time; both
// rules or none; nothing may follow. Errors wrap ErrPOSIX and point at the
// offending position.
func ParsePOSIXRule(s string) (POSIXRule, error) {
	p := posixParser{s: s}
	r, err := p.parse()
	if err != nil {
		return POSIXRule{}, fmt.Errorf("%w %q: %s", ErrPOSIX, s, err.Error())
	}
	return r, nil
}

type posixParser struct {
	s string
	i int
}

type posixErr string

func (e posixErr) Error() string { return string(e) }

func (p *posixParser) fail(format string, args ...any) error {
	return posixErr(fmt.Sprintf("at byte %d: ", p.i) + fmt.Sprintf(format, args...))
}

func (p *posixParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *posixParser) parse() (POSIXRule, error) {
	var r POSIXRule
	if len(p.s) == 0 {
		return r, posixErr("empty rule")
	}
	if len(p.s) > 128 {
		return r, posixErr("longer than 128 bytes")
	}
	var err error
	if r.Std, err = p.name(); err != nil {
		return r, err
	}
	off, err := p.offset(24, "standard-time offset (e.g. 5 in EST5, -8 in CST-8)")
	if err != nil {
		return r, err
	}
	r.StdOffset = -off
	if p.i == len(p.s) {
		return r, nil
	}
	if p.peek() == ',' {
		return r, p.fail("rules given without a daylight-time name")
	}
	if r.Dst, err = p.name(); err != nil {
		return r, err
	}
	r.DstOffset = r.StdOffset + 3600
	if c := p.peek(); c != ',' && c != 0 {
		off, err := p.offset(24, "daylight-time offset")
		if err != nil {
			return r, err
		}
		r.DstOffset = -off
	}
	if p.i == len(p.s) {
		r.Start, r.End = "M3.2.0", "M11.1.0" // tzcode's and Go's default
		return r, nil
	}
	if p.peek() != ',' {
		return r, p.fail("want ',' before the DST start rule")
	}
	p.i++
	if r.Start, err = p.rule(); err != nil {
		return r, err
	}
	if p.peek() != ',' {
		return r, p.fail("want ',' and the DST end rule")
	}
	p.i++
	if r.End, err = p.rule(); err != nil {
		return r, err
	}
	if p.i != len(p.s) {
		return r, p.fail("unexpected %q after the end rule", p.s[p.i:])
	}
	return r, nil
}

func isAlpha(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *posixParser) name() (string, error) {
	start := p.i
	if p.peek() == '<' {
		p.i++
		for p.i < len(p.s) && p.s[p.i] != '>' {
			c := p.s[p.i]
			if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' {
				return "", p.fail("invalid character %q in <quoted> zone name", c)
			}
			p.i++
		}
		if p.i == len(p.s) {
			return "", posixErr(fmt.Sprintf("at byte %d: unterminated '<'", start))
		}
		n := p.s[start+1 : p.i]
		p.i++
		if len(n) < 3 {
			return "", posixErr(fmt.Sprintf("at byte %d: zone name <%s> shorter than 3 characters", start, n))
		}
		return n, nil
	}
	for p.i < len(p.s) && isAlpha(p.s[p.i]) {
		p.i++
	}
	n := p.s[start:p.i]
	if len(n) < 3 {
		if p.i < len(p.s) && !isDigit(p.s[p.i]) && p.s[p.i] != '+' && p.s[p.i] != '-' && p.s[p.i] != ',' {
			return "", p.fail("invalid character %q in zone name (use <...> for names with digits or signs)", p.s[p.i])
		}
		return "", posixErr(fmt.Sprintf("at byte %d: zone name %q shorter than 3 letters", start, n))
	}
	return n, nil
}

// num reads 1–3 digits in [lo, hi].
func (p *posixParser) num(lo, hi int, what string) (int, error) {
	start := p.i
	n := 0
	for p.i < len(p.s) && isDigit(p.s[p.i]) && p.i-start < 3 {
		n = n*10 + int(p.s[p.i]-'0')
		p.i++
	}
	if p.i == start {
		return 0, p.fail("want %s", what)
	}
	if n < lo || n > hi {
		return 0, posixErr(fmt.Sprintf("at byte %d: %s %d outside %d..%d", start, what, n, lo, hi))
	}
	return n, nil
}

// offset reads [+-]hh[:mm[:ss]] with hh ≤ maxH, in POSIX sign (seconds to
// add to local time to get UTC).
func (p *posixParser) offset(maxH int, what string) (int, error) {
	neg := false
	switch p.peek() {
	case '+':
		p.i++
	case '-':
		neg = true
		p.i++
	}
	if !isDigit(p.peek()) {
		return 0, p.fail("want %s", what)
	}
	h, err := p.num(0, maxH, "hours")
	if err != nil {
		return 0, err
	}
	sec := h * 3600
	if p.peek() == ':' {
		p.i++
		m, err := p.num(0, 59, "minutes")
		if err != nil {
			return 0, err
		}
		sec += m * 60
		if p.peek() == ':' {
			p.i++
			s, err := p.num(0, 59, "seconds")
			if err != nil {
				return 0, err
			}
			sec += s
		}
	}
	if neg {
		sec = -sec
	}
	return sec, nil
}

func (p *posixParser) rule() (string, error) {
	start := p.i
	switch c := p.peek(); {
	case c == 'J':
		p.i++
		if _, err := p.num(1, 365, "Julian day (J1..J365)"); err != nil {
			return "", err
		}
	case c == 'M':
		p.i++
		if _, err := p.num(1, 12, "month"); err != nil {
			return "", err
		}
		if p.peek() != '.' {
			return "", p.fail("want '.' in Mm.w.d")
		}
		p.i++
		if _, err := p.num(1, 5, "week"); err != nil {
			return "", err
		}
		if p.peek() != '.' {
			return "", p.fail("want '.' in Mm.w.d")
		}
		p.i++
		if _, err := p.num(0, 6, "weekday"); err != nil {
			return "", err
		}
	case isDigit(c):
		if _, err := p.num(0, 365, "zero-based day"); err != nil {
			return "", err
		}
	default:
		return "", p.fail("want a rule: Jn, n or Mm.w.d")
	}
	if p.peek() == '/' {
		p.i++
		if _, err := p.offset(167, "rule time"); err != nil {
			return "", err
		}
	}
	return p.s[start:p.i], nil
}

// String renders the rule in POSIX form (names quoted when needed).
func (r POSIXRule) String() string {
	q := func(n string) string {
		for i := 0; i < len(n); i++ {
			if !isAlpha(n[i]) {
				return "<" + n + ">"
			}
		}
		return n
	}
	off := func(o int) string { // POSIX sign
		o = -o
		s := ""
		if o < 0 {
			s, o = "-", -o
		}
		s += fmt.Sprint(o / 3600)
		if o%3600 != 0 {
			s += fmt.Sprintf(":%02d", o/60%60)
			if o%60 != 0 {
				s += fmt.Sprintf(":%02d", o%60)
			}
		}
		return s
	}
	s := q(r.Std) + off(r.StdOffset)
	if r.Dst == "" {
		return s
	}
	s += q(r.Dst)
	if r.DstOffset != r.StdOffset+3600 {
		s += off(r.DstOffset)
	}
	return s + "," + r.Start + "," + r.End
}

// ParsePOSIX returns a location that follows the POSIX TZ rule s for every
// year, named s. "CST-8" is UTC+8 all year, "EST5EDT,M3.2.0,M11.1.0" is US
// Eastern from 2007 on. Note the POSIX sign: "UTC+8" means 8 hours WEST of
// UTC. The rule is validated first (see ParsePOSIXRule); the location is
// built by handing Go's own TZif reader a minimal TZif v2 file whose footer
// is the rule, so every lookup uses Go's rule engine.
func ParsePOSIX(s string) (*time.Location, error) {
	r, err := ParsePOSIXRule(s)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocationFromTZData(s, posixTZif(r.Std, r.StdOffset, s))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrPOSIX, s, err)
	}
	// Go ignores a footer it cannot read and then uses the single ttinfo
	// forever. Probe with a sentinel ttinfo to prove Go read the footer.
	probe, err := time.LoadLocationFromTZData(s, posixTZif("tzutil?", 7, s))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrPOSIX, s, err)
	}
	for _, sec := range []int64{0, 1e9, 2e9, 4e9} {
		if name, _ := time.Unix(sec, 0).In(probe).Zone(); name == "tzutil?" {
			return nil, fmt.Errorf("%w %q: Go's time package does not understand this rule", ErrPOSIX, s)
		}
	}
	return loc, nil
}

// posixTZif builds a TZif version 2 file with no transitions, one local
// time type (offset off, abbreviation abbr) and the footer rule.
func posixTZif(abbr string, off int, rule string) []byte {
	var b []byte
	u32 := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	header := func() {
		b = append(b, "TZif2"...)
		b = append(b, make([]byte, 15)...)
		u32(0)                     // isutcnt
		u32(0)                     // isstdcnt
		u32(0)                     // leapcnt
		u32(0)                     // timecnt
		u32(1)                     // typecnt
		u32(uint32(len(abbr) + 1)) // charcnt
	}
	body := func() {
		u32(uint32(int32(off)))
		b = append(b, 0, 0) // isdst, abbrind
		b = append(b, abbr...)
		b = append(b, 0)
	}
	header()
	body()
	header()
	body()
	b = append(b, '\n')
	b = append(b, strings.TrimSpace(rule)...)
	b = append(b, '\n')
	return b
}
