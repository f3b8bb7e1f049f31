package cronx

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/robfig/cron/v3"
)

// Schedule is the time-table of a job. Next returns the first activation
// strictly after t, or the zero time if there is none. It must be pure and
// fast: it runs on robfig/cron's loop goroutine and inside tick computation.
// Every schedule returned by [Parse] is a Schedule; any robfig cron.Schedule
// whose activations depend only on the wall clock also is.
type Schedule interface {
	Next(t time.Time) time.Time
}

// DefaultParseOptions are the fields [Parse] accepts: 5 fields (minute
// first) or 6 (second first), and the @descriptors.
const DefaultParseOptions = cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor

// Parser parses specs with a robfig/cron field layout (cron.ParseOption)
// and cronx's semantics: errors instead of panics, specs that never fire
// refused, "@every" aligned to the epoch, CRON_TZ= prefixes and the DST
// policy documented on [Parse]. Set it as Config.Parser to port code that
// used robfig's cron.WithParser. A Parser is immutable and safe for
// concurrent use.
type Parser struct {
	p    cron.Parser
	opts cron.ParseOption
}

var defaultParser = &Parser{p: cron.NewParser(DefaultParseOptions), opts: DefaultParseOptions}

// NewParser returns a Parser for the fields in opts, as robfig's
// cron.NewParser (for example cron.Second | cron.Minute | cron.Hour |
// cron.Dom | cron.Month | cron.Dow for six mandatory fields). Options that
// robfig would panic on (more than one optional field, no field at all)
// are an error wrapping ErrInvalid.
func NewParser(opts cron.ParseOption) (p *Parser, err error) {
	fields := opts &^ cron.Descriptor
	if fields == 0 {
		return nil, fmt.Errorf("%w: NewParser(%d): no field is enabled; use e.g. cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow", ErrInvalid, opts)
	}
	if opts&cron.SecondOptional != 0 && opts&cron.DowOptional != 0 {
		return nil, fmt.Errorf("%w: NewParser: cron.SecondOptional and cron.DowOptional together are ambiguous; robfig/cron allows one optional field", ErrInvalid)
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%w: NewParser(%d): %v", ErrInvalid, opts, r)
		}
	}()
	return &Parser{p: cron.NewParser(opts), opts: opts}, nil
}

// Parse parses spec into a Schedule evaluated in loc (nil means UTC), like
// the package-level [Parse] but with p's fields.
func (p *Parser) Parse(spec string, loc *time.Location) (Schedule, error) {
	return p.parseAt(spec, loc, time.Now())
}

// hourIsWildcard reports whether the hour field of fields (a spec without
// prefix or descriptor, split on spaces) is "*", "?" or a step of them.
// robfig fills a field that p does not parse with "0" (second, minute,
// hour) or "*".
func (p *Parser) hourIsWildcard(fields []string) bool {
	type place struct {
		opt      cron.ParseOption
		optional bool
	}
	places := []place{{cron.Second, false}, {cron.SecondOptional, true}, {cron.Minute, false}, {cron.Hour, false},
		{cron.Dom, false}, {cron.Month, false}, {cron.Dow, false}, {cron.DowOptional, true}}
	required := 0
	for _, pl := range places {
		if p.opts&pl.opt != 0 && !pl.optional {
			required++
		}
	}
	i := 0
	for _, pl := range places {
		if p.opts&pl.opt == 0 || (pl.optional && len(fields) <= required) {
			continue
		}
		if pl.opt == cron.Hour {
			return i < len(fields) && (strings.HasPrefix(fields[i], "*") || strings.HasPrefix(fields[i], "?"))
		}
		i++
	}
	return false
}

// Parse parses a cron spec into a [Schedule] evaluated in loc (nil means UTC).
//
// Accepted: 5 fields ("30 2 * * *"), 6 fields with seconds first
// ("*/5 * * * * *"), the descriptors @yearly, @annually, @monthly, @weekly,
// @daily, @midnight, @hourly, and "@every <duration>" (at least one second).
// A "CRON_TZ=Zone " or "TZ=Zone " prefix overrides loc for this spec.
//
// Differences from robfig/cron's parser, which does the field parsing:
//   - Parse never panics (robfig panics on "CRON_TZ=UTC" with nothing after
//     it, robfig/cron#470) and returns errors wrapping [ErrInvalidSpec].
//   - A spec that can never fire ("0 0 30 2 *", February 30) is an error
//     instead of an entry that silently never runs.
//   - "@every d" is aligned to the Unix epoch: activations are the multiples
//     of d, so every replica computes the same ticks (robfig counts from
//     when the entry was added).
//   - Daylight saving time, as Vixie cron (the cron of most Linux systems)
//     does it. A wall-clock time that does not exist (it falls in a
//     spring-forward gap) runs once, at the first instant after the gap
//     (02:30 in New York on 2024-03-10 runs at 03:00 EDT). For a job whose
//     hour field is fixed ("30 1 * * *", "*/15 2 * * *", @daily), a
//     wall-clock time that occurs twice (fall-back fold) runs once, at its
//     FIRST reading (01:30 EDT, not 01:30 EST). A job whose hour field is a
//     wildcard or a step of one ("*/15 * * * *", "0 */2 * * *", @hourly)
//     keeps its real-time cadence instead: it runs at both readings of the
//     repeated hour (01:00, 01:15 ... 01:45 EDT, then 01:00 EST ...), so a
//     fold leaves no hole in it. robfig skips gap times and runs every fold
//     time twice, whatever the fields.
func Parse(spec string, loc *time.Location) (Schedule, error) {
	return defaultParser.parseAt(spec, loc, time.Now())
}

func parseAt(spec string, loc *time.Location, now time.Time) (Schedule, error) {
	return defaultParser.parseAt(spec, loc, now)
}

func (p *Parser) parseAt(spec string, loc *time.Location, now time.Time) (sch Schedule, err error) {
	if loc == nil {
		loc = time.UTC
	}
	orig := spec
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("%w: empty spec (want 5 or 6 fields, e.g. \"*/5 * * * *\", or a descriptor like \"@hourly\")", ErrInvalidSpec)
	}
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if !strings.HasPrefix(spec, p) {
			continue
		}
		rest := spec[len(p):]
		i := strings.IndexFunc(rest, unicode.IsSpace)
		if i < 0 {
			return nil, fmt.Errorf("%w: %q: the %s prefix must be followed by a zone name, whitespace and the schedule fields (e.g. \"%sEurope/Berlin 0 3 * * *\")", ErrInvalidSpec, orig, p, p)
		}
		zone := rest[:i]
		if zone == "" {
			return nil, fmt.Errorf("%w: %q: empty zone name after %s", ErrInvalidSpec, orig, p)
		}
		l, lerr := time.LoadLocation(zone)
		if lerr != nil {
			return nil, fmt.Errorf("%w: %q: unknown time zone %q: %v", ErrInvalidSpec, orig, zone, lerr)
		}
		loc = l
		spec = strings.TrimSpace(rest[i:])
		break
	}
	if strings.HasPrefix(spec, "@") && p.opts&cron.Descriptor == 0 {
		return nil, fmt.Errorf("%w: %q: this parser does not accept descriptors (add cron.Descriptor to its options)", ErrInvalidSpec, orig)
	}
	if strings.HasPrefix(spec, "@every") {
		arg := strings.TrimSpace(strings.TrimPrefix(spec, "@every"))
		d, derr := time.ParseDuration(arg)
		if derr != nil {
			return nil, fmt.Errorf("%w: %q: bad duration after @every: %v", ErrInvalidSpec, orig, derr)
		}
		if d < time.Second {
			return nil, fmt.Errorf("%w: %q: @every needs a duration of at least 1s, got %v", ErrInvalidSpec, orig, d)
		}
		return Every(d), nil
	}
	defer func() {
		if r := recover(); r != nil { // robfig/cron has panicked on odd input (#470, #554)
			sch, err = nil, fmt.Errorf("%w: %q: %v", ErrInvalidSpec, orig, r)
		}
	}()
	s, perr := p.p.Parse(spec)
	if perr != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidSpec, orig, perr)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("%w: %q: unsupported schedule type %T", ErrInvalidSpec, orig, s)
	}
	civil := *ss
	civil.Location = time.UTC
	w := &wallSchedule{civil: &civil, loc: loc}
	switch spec {
	case "@hourly":
		w.cadence = true
	case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight":
	default:
		w.cadence = p.hourIsWildcard(strings.Fields(spec))
	}
	if w.Next(now).IsZero() {
		return nil, fmt.Errorf("%w: %q can never fire (no matching date within five years, e.g. February 30)", ErrInvalidSpec, orig)
	}
	return w, nil
}

// Every returns a schedule firing at every multiple of d since the Unix
// epoch, so replicas agree on ticks. d below one second is raised to one
// second.
func Every(d time.Duration) Schedule {
	if d < time.Second {
		d = time.Second
	}
	return everySchedule(d)
}

type everySchedule time.Duration

func (e everySchedule) Next(t time.Time) time.Time {
	d := int64(e)
	n := t.UnixNano()
	q := n / d
	if n < 0 && n%d != 0 {
		q--
	}
	return time.Unix(0, (q+1)*d).In(t.Location())
}

// wallSchedule evaluates cron fields against the wall clock of loc, with the
// DST policy documented on Parse. civil is the same spec in UTC, used as a
// calendar without transitions.
type wallSchedule struct {
	civil *cron.SpecSchedule
	loc   *time.Location
	// cadence: the hour field is a wildcard or a step of one, so the job
	// keeps its real-time cadence through both readings of a repeated
	// hour (as Vixie cron does for such jobs).
	cadence bool
}

func (w *wallSchedule) Next(t time.Time) time.Time {
	if w.cadence {
		return w.nextCadence(t)
	}
	t = t.In(w.loc)
	c := civilOf(t)
	// Bounded: in a fold every candidate of the repeated hour is visited once.
	for range 200000 {
		c = w.civil.Next(c)
		if c.IsZero() {
			return time.Time{}
		}
		if inst := resolveWall(c, w.loc); inst.After(t) {
			return inst
		}
	}
	return time.Time{}
}

// nextCadence is Next for cadence schedules: every instant whose wall
// reading matches runs, so both readings of a fold do; wall times in a gap
// run once, at the end of the gap. It walks the zone's periods (constant
// offset) from t: within one, wall time and instant move together.
func (w *wallSchedule) nextCadence(t time.Time) time.Time {
	lo := t.In(w.loc).Add(time.Nanosecond) // inclusive lower bound
	for range 10000 {                      // periods; a zone has at most a few per year
		_, off := lo.Zone()
		_, end := lo.ZoneBounds()
		c := w.civil.Next(civilOf(lo).Add(-time.Nanosecond)) // first match at or after lo's wall reading
		if c.IsZero() {
			return time.Time{}
		}
		inst := time.Unix(c.Unix()-int64(off), int64(c.Nanosecond())).In(w.loc)
		if end.IsZero() || inst.Before(end) {
			return inst
		}
		if _, noff := end.Zone(); noff > off && c.Before(civilOf(end)) {
			return end // a wall time skipped by the gap runs when the gap ends
		}
		lo = end
	}
	return time.Time{}
}

// civilOf returns t's wall-clock reading as a UTC time (a civil date-time).
func civilOf(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// resolveWall returns the first instant whose wall clock in loc reads c; if
// c falls in a gap, the first instant after the gap.
func resolveWall(c time.Time, loc *time.Location) time.Time {
	y, mo, d := c.Date()
	h, mi, s := c.Clock()
	t := time.Date(y, mo, d, h, mi, s, c.Nanosecond(), loc)
	got := civilOf(t)
	if got.Equal(c) {
		// Maybe a fold: is there an earlier reading in the previous zone period?
		_, off := t.Zone()
		start, _ := t.ZoneBounds()
		if !start.IsZero() {
			_, poff := start.Add(-time.Nanosecond).Zone()
			if poff > off {
				e := time.Unix(c.Unix()-int64(poff), int64(c.Nanosecond())).In(loc)
				if e.Before(start) && civilOf(e).Equal(c) {
					return e
				}
			}
		}
		return t
	}
	start, end := t.ZoneBounds()
	if got.After(c) {
		return start // normalised forward past the gap: the gap ends where t's zone period starts
	}
	if end.IsZero() {
		return t
	}
	return end
}

// prevActivation returns the latest activation of s at or before now, or the
// zero time if none is found within ten years. It relies on Next being
// non-decreasing: the answer is the smallest x with Next(x) > now.
func prevActivation(s Schedule, now time.Time) time.Time {
	hi := now // Next(hi) > now always
	lo := time.Time{}
	for w := time.Second; w <= 10*366*24*time.Hour; w *= 2 {
		x := now.Add(-w)
		n := s.Next(x)
		if !n.IsZero() && !n.After(now) {
			if m := s.Next(n); m.IsZero() || m.After(now) {
				return n // fast path: the window holds exactly one activation
			}
			lo = x
			break
		}
	}
	if lo.IsZero() {
		return time.Time{}
	}
	// Invariant: Next(lo) <= now < Next(hi).
	for hi.Sub(lo) > time.Nanosecond {
		mid := lo.Add(hi.Sub(lo) / 2)
		n := s.Next(mid)
		if !n.IsZero() && !n.After(now) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return s.Next(lo)
}

// Validate parses spec like [Parse] and returns its next n activations after
// from, for showing users what a spec means before adding it.
func Validate(spec string, loc *time.Location, from time.Time, n int) ([]time.Time, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: Validate: n is %d; ask for 0 or more activations", ErrInvalid, n)
	}
	s, err := parseAt(spec, loc, from)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, n)
	t := from
	for range n {
		t = s.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out, nil
}

// windowSchedule limits inner to activations in [start, end] (zero: open).
type windowSchedule struct {
	inner      Schedule
	start, end time.Time
}

func (w windowSchedule) Next(t time.Time) time.Time {
	if !w.start.IsZero() && t.Before(w.start) {
		t = w.start.Add(-time.Nanosecond)
	}
	n := w.inner.Next(t)
	if !w.end.IsZero() && n.After(w.end) {
		return time.Time{}
	}
	return n
}

// onceSchedule fires once, at at.
type onceSchedule struct{ at time.Time }

func (o onceSchedule) Next(t time.Time) time.Time {
	if t.Before(o.at) {
		return o.at
	}
	return time.Time{}
}
