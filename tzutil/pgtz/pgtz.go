// Package pgtz connects tzutil to PostgreSQL through database/sql only (no
// driver import): it reads and sets the session TimeZone on one connection,
// normalises scanned timestamptz values to a chosen zone, scans and binds
// `timestamp without time zone` as a civil tzutil.DateTime, and checks that
// the server's tzdata agrees with the client's for a zone.
//
// Why it is needed (measured with lib/pq against PostgreSQL 15):
//
//   - The Location of a scanned timestamptz depends on the session TimeZone
//     and on the client's tzdata: time.UTC, the named zone, or an unnamed
//     FixedZone("", off) whose AddDate is not DST-aware. ScanIn fixes that.
//   - `timestamp` values come back as wall clocks in FixedZone("", 0), not
//     UTC (lib/pq#329), and a time.Time bound to a `timestamp` parameter
//     keeps its wall clock and drops its offset. LocalTimestamp makes the
//     civil nature explicit.
//   - SET TIME ZONE 'UTC+8' is a POSIX rule and means UTC−8;
//     SET TIME ZONE '+08:00' does too. SetSessionTimeZone sends what the
//     server reads as intended and verifies the result.
//   - On a *sql.DB pool, SET affects one random connection.
//     SetSessionTimeZone takes a *sql.Conn or *sql.Tx and refuses a pool.
//   - In gaps and folds the server applies its own rule; tzutil.PostgreSQL
//     reproduces it (checked against a live server in this package's tests).
package pgtz

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/goplumb/plumb/tzutil"
)

// ErrInvalid is the one sentinel for bad input: a nil connection, location
// or Querier, a *sql.DB where one session is needed (ErrPool), a location
// the server cannot express, an invalid range. Every such error matches it
// with errors.Is. Errors from tzutil (an unknown zone name) match
// tzutil.ErrInvalid instead; errors from the server match neither.
var ErrInvalid = errors.New("pgtz: invalid input")

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// Sentinel errors.
var (
	// ErrPool: a session setting was attempted on a *sql.DB pool. It
	// matches ErrInvalid.
	ErrPool error = &invalidError{"pgtz: session settings need one connection (*sql.Conn from db.Conn, or *sql.Tx), not a *sql.DB pool"}
	// ErrNull: a NULL was scanned into a non-nullable type.
	ErrNull = errors.New("pgtz: NULL value")
	// ErrMismatch: the server's offsets differ from the client's.
	ErrMismatch = errors.New("pgtz: server and client disagree")
	// ErrUnsupported: a value cannot be represented (infinity, BC dates,
	// sub-microsecond precision, a zone the server cannot express).
	ErrUnsupported = errors.New("pgtz: unsupported value")
)

// Conn is one database session: *sql.Conn and *sql.Tx implement it. A
// *sql.DB also does, and is refused with ErrPool.
type Conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Querier runs a query; *sql.DB, *sql.Conn and *sql.Tx implement it.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func checkConn(c Conn) error {
	if _, ok := c.(*sql.DB); ok {
		return ErrPool
	}
	if c == nil {
		return fmt.Errorf("%w: nil connection; pass a *sql.Conn or *sql.Tx", ErrInvalid)
	}
	return nil
}

// SessionTimeZone returns the session's TimeZone setting as the server
// reports it: "Asia/Shanghai", "UTC", or a POSIX form such as "<+08>-08"
// after SET TIME ZONE '+08'.
func SessionTimeZone(ctx context.Context, c Conn) (string, error) {
	if err := checkConn(c); err != nil {
		return "", err
	}
	var tz string
	if err := c.QueryRowContext(ctx, "SELECT current_setting('TimeZone')").Scan(&tz); err != nil {
		return "", fmt.Errorf("pgtz: read TimeZone: %w", err)
	}
	return tz, nil
}

// SessionLocation returns the session's TimeZone as a *time.Location: an
// IANA name through tzutil.Load, a POSIX form ("<+08>-08", "UTC+8")
// through tzutil.ParsePOSIX, so "UTC+8" correctly comes back as UTC−8.
func SessionLocation(ctx context.Context, c Conn) (*time.Location, error) {
	tz, err := SessionTimeZone(ctx, c)
	if err != nil {
		return nil, err
	}
	loc, _, err := tzutil.FromTZ(tz)
	if err == nil {
		return loc, nil
	}
	if loc, ok := numericZone(tz); ok {
		return loc, nil
	}
	return nil, fmt.Errorf("pgtz: session TimeZone %q: %w", tz, err)
}

// numericZone reads the form PostgreSQL reports after SET TIME ZONE with
// a number of hours that is not whole, "<-03:30>+03:30" or
// "<+05:45>-05:45": POSIX with a quoted name holding ':', which POSIX (and
// so tzutil.ParsePOSIX) does not allow. The offset after the name is in
// POSIX sign (west positive); the name must say the same in ISO sign.
func numericZone(tz string) (*time.Location, bool) {
	if !strings.HasPrefix(tz, "<") {
		return nil, false
	}
	end := strings.IndexByte(tz, '>')
	if end < 0 {
		return nil, false
	}
	name, rest := tz[1:end], tz[end+1:]
	iso, ok := parseHMS(name)
	if !ok {
		return nil, false
	}
	posix, ok := parseHMS(rest)
	if !ok || posix != -iso {
		return nil, false
	}
	return time.FixedZone(tz, iso), true
}

// parseHMS parses "+05:45", "-03:30", "+8", "-05:45:30" into seconds.
func parseHMS(s string) (int, bool) {
	if len(s) < 2 {
		return 0, false
	}
	sign := 1
	switch s[0] {
	case '-':
		sign = -1
		s = s[1:]
	case '+':
		s = s[1:]
	default:
		// POSIX allows an unsigned offset (west).
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return 0, false
	}
	total := 0
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p == "" || len(p) > 2 || (i > 0 && n > 59) {
			return 0, false
		}
		total += n * []int{3600, 60, 1}[i]
	}
	if total > 24*3600 {
		return 0, false
	}
	return sign * total, true
}

// SetSessionTimeZone sets the TimeZone of this one session to loc and
// verifies, by asking the server for its offsets over ±1 year, that the
// server now agrees with loc. IANA-named locations are sent by name;
// fixed-offset locations (time.FixedZone, POSIX "CST-8") as a number of
// hours, which the server reads with ISO sign (never as POSIX "UTC+8",
// which it would read as UTC−8). "Local" is refused: pass a named zone.
// On a verification failure the session keeps the new setting and the
// error wraps ErrMismatch. The connection stays the caller's.
func SetSessionTimeZone(ctx context.Context, c Conn, loc *time.Location) error {
	if err := checkConn(c); err != nil {
		return err
	}
	if loc == nil {
		loc = time.UTC
	}
	value, err := serverValue(loc)
	if err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "SELECT set_config('TimeZone', $1, false)", value); err != nil {
		return fmt.Errorf("pgtz: set TimeZone to %q: %w", value, err)
	}
	now := time.Now().UTC().Truncate(time.Hour)
	for _, at := range []time.Time{now.AddDate(-1, 0, 0), now.AddDate(0, -6, 0), now, now.AddDate(0, 6, 0), now.AddDate(1, 0, 0)} {
		var got int
		if err := c.QueryRowContext(ctx, "SELECT extract(timezone FROM $1::timestamptz)::int", at).Scan(&got); err != nil {
			return fmt.Errorf("pgtz: verify TimeZone %q: %w", value, err)
		}
		if _, want := at.In(loc).Zone(); got != want {
			return fmt.Errorf("%w: after SET TimeZone %q the server's offset at %s is %s, %s has %s",
				ErrMismatch, value, at.Format(time.RFC3339), tzutil.FormatOffset(got), loc, tzutil.FormatOffset(want))
		}
	}
	return nil
}

// serverValue chooses what to send for loc.
func serverValue(loc *time.Location) (string, error) {
	name := loc.String()
	switch name {
	case "UTC":
		return "UTC", nil
	case "Local":
		return "", fmt.Errorf("%w: %w: time.Local has no portable name; pass tzutil.Load(name) or the location from tzutil.LocalInfo", ErrInvalid, ErrUnsupported)
	}
	if named, err := tzutil.Load(name); err == nil && sameOffsets(named, loc) {
		return name, nil
	}
	if off, ok := fixedOffset(loc); ok {
		if off%36 != 0 {
			return "", fmt.Errorf("%w: %w: offset %s is not a whole number of hundredths of an hour", ErrInvalid, ErrUnsupported, tzutil.FormatOffset(off))
		}
		return strconv.FormatFloat(float64(off)/3600, 'f', -1, 64), nil
	}
	if r, err := tzutil.ParsePOSIXRule(name); err == nil {
		return r.String(), nil // PostgreSQL reads POSIX rules with the same sign
	}
	return "", fmt.Errorf("%w: %w: location %q is neither an IANA zone, a fixed offset nor a POSIX rule", ErrInvalid, ErrUnsupported, name)
}

func fixedOffset(loc *time.Location) (int, bool) {
	t := time.Date(2000, 1, 1, 0, 0, 0, 0, loc)
	start, end := t.ZoneBounds()
	_, off := t.Zone()
	if !start.IsZero() || !end.IsZero() {
		// A POSIX rule without DST has bounds only at artificial years.
		if _, ok := tzutil.NextTransition(loc, time.Unix(-1<<40, 0)); ok {
			return 0, false
		}
	}
	return off, true
}

func sameOffsets(a, b *time.Location) bool {
	for y := 1990; y <= 2040; y++ {
		for _, m := range []time.Month{time.January, time.April, time.July, time.October} {
			t := time.Date(y, m, 15, 12, 0, 0, 0, time.UTC)
			_, oa := t.In(a).Zone()
			_, ob := t.In(b).Zone()
			if oa != ob {
				return false
			}
		}
	}
	return true
}

// DSNWithTimeZone returns dsn with a runtime parameter timezone=zone, so that
// every connection a pool opens starts in that zone (lib/pq and pgx both
// send unknown DSN keys as startup parameters). zone must load with
// tzutil.Load. Both URL ("postgres://…") and key=value DSNs are accepted.
func DSNWithTimeZone(dsn, zone string) (string, error) {
	if _, err := tzutil.Load(zone); err != nil {
		return "", fmt.Errorf("pgtz: %w", err)
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("pgtz: parse DSN: %w", err)
		}
		q := u.Query()
		q.Set("timezone", zone)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return strings.TrimSpace(dsn) + " timezone='" + zone + "'", nil
}

// Normalize returns t in loc. Use it (or ScanIn) on every scanned
// timestamptz: depending on the session TimeZone and the client's tzdata,
// drivers return the same instant in time.UTC, a named zone or an unnamed
// FixedZone, and calendar arithmetic on a FixedZone ignores DST.
func Normalize(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc)
}

// ScanIn returns a sql.Scanner that stores a timestamptz into *dst in loc:
//
//	rows.Scan(pgtz.ScanIn(&created, shanghai))
//
// It accepts time.Time and PostgreSQL's text form ("2024-03-10
// 20:00:00.5+08"); NULL is an error wrapping ErrNull (scan into
// sql.NullTime and Normalize when NULL is expected). A nil dst makes every
// Scan fail with an error rather than panic.
func ScanIn(dst *time.Time, loc *time.Location) sql.Scanner {
	return &scanIn{dst: dst, loc: loc}
}

type scanIn struct {
	dst *time.Time
	loc *time.Location
}

func (s *scanIn) Scan(src any) error {
	if s.dst == nil {
		return fmt.Errorf("%w: ScanIn(nil, ...): no destination; pass a *time.Time", ErrInvalid)
	}
	var t time.Time
	switch v := src.(type) {
	case time.Time:
		t = v
	case string:
		p, err := parseTimestamptz(v)
		if err != nil {
			return err
		}
		t = p
	case []byte:
		p, err := parseTimestamptz(string(v))
		if err != nil {
			return err
		}
		t = p
	case nil:
		return fmt.Errorf("%w: timestamptz is NULL; scan into sql.NullTime instead", ErrNull)
	default:
		return fmt.Errorf("pgtz: cannot scan %T into a timestamptz", src)
	}
	*s.dst = Normalize(t, s.loc)
	return nil
}

func parseTimestamptz(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07:00:00", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("pgtz: %w: timestamptz %q (infinity and BC are not supported)", ErrUnsupported, s)
}

// LocalTimestamp is a `timestamp without time zone` value as what it is: a
// civil date and wall-clock time, not an instant and not "UTC". Scan
// accepts time.Time (whose wall clock is taken as is, whatever its
// location) and the text form; Value sends the text form, which the server
// stores unchanged whatever the session TimeZone. Convert to an instant
// with In and an explicit tzutil.Policy.
type LocalTimestamp struct {
	tzutil.DateTime
}

// Scan implements sql.Scanner. NULL is an error wrapping ErrNull (use
// NullLocalTimestamp).
func (l *LocalTimestamp) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		l.DateTime = tzutil.DateTimeOf(v)
		return nil
	case string:
		return l.parse(v)
	case []byte:
		return l.parse(string(v))
	case nil:
		return fmt.Errorf("%w: timestamp is NULL; scan into pgtz.NullLocalTimestamp", ErrNull)
	}
	return fmt.Errorf("pgtz: cannot scan %T into a LocalTimestamp", src)
}

func (l *LocalTimestamp) parse(s string) error {
	dt, err := tzutil.ParseDateTime(s)
	if err != nil {
		return fmt.Errorf("pgtz: %w: timestamp %q: %w", ErrUnsupported, s, err)
	}
	l.DateTime = dt
	return nil
}

// Value implements driver.Valuer with the text form "2006-01-02
// 15:04:05.999999". Sub-microsecond precision, which PostgreSQL would
// round away, is an error wrapping ErrInvalid and ErrUnsupported.
func (l LocalTimestamp) Value() (driver.Value, error) {
	if err := l.DateTime.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if l.Nanosecond%1000 != 0 {
		return nil, fmt.Errorf("%w: %w: %s has sub-microsecond precision, which PostgreSQL would round", ErrInvalid, ErrUnsupported, l.DateTime)
	}
	return strings.Replace(l.DateTime.String(), "T", " ", 1), nil
}

// In converts the wall time to an instant in loc, resolving a gap or fold
// with p (see tzutil.At). tzutil.PostgreSQL gives what the server computes
// for `ts AT TIME ZONE zone` or `ts::timestamptz` in that session zone.
func (l LocalTimestamp) In(loc *time.Location, p tzutil.Policy) (time.Time, error) {
	return tzutil.At(l.DateTime, loc, p)
}

// NullLocalTimestamp is a LocalTimestamp that may be NULL.
type NullLocalTimestamp struct {
	LocalTimestamp
	Valid bool // false for NULL
}

// Scan implements sql.Scanner.
func (n *NullLocalTimestamp) Scan(src any) error {
	if src == nil {
		*n = NullLocalTimestamp{}
		return nil
	}
	n.Valid = true
	return n.LocalTimestamp.Scan(src)
}

// Value implements driver.Valuer (nil for NULL).
func (n NullLocalTimestamp) Value() (driver.Value, error) {
	if !n.Valid {
		return nil, nil
	}
	return n.LocalTimestamp.Value()
}

// Mismatch is an instant where the server and the client give a zone
// different UTC offsets (seconds east of UTC).
type Mismatch struct {
	At             time.Time
	Server, Client int
}

// maxSamples caps CheckSkew's work.
const maxSamples = 1_000_000

// CheckSkew compares the UTC offsets of loc (on the client) with those the
// server's tzdata gives the zone named loc.String(), at every step in
// [from, to) (step 0 means one hour), in one query. It returns the
// mismatching instants (nil when the two tzdata copies agree over the range),
// or an error when the server does not know the zone. Different tzdata
// versions disagree on future dates of zones whose rules changed (e.g.
// Asia/Almaty 2024, America/Asuncion 2024): run it at start-up for the zones
// the service uses.
//
// For a name that PostgreSQL also knows as an abbreviation (CET, EET, MET,
// WET, EST, …), `AT TIME ZONE 'CET'` means the fixed abbreviation offset,
// not the zone (PostgreSQL docs, section 8.5.3), so CheckSkew reads the zone
// through the session TimeZone instead, which always means the zone file:
// it sets TimeZone on one session for the query and restores it afterwards
// (set_config with is_local on a *sql.Tx; on a *sql.DB a connection of its
// own, discarded if the restore fails). q must then be a *sql.DB, *sql.Conn
// or *sql.Tx; another Querier is an error wrapping ErrInvalid.
func CheckSkew(ctx context.Context, q Querier, loc *time.Location, from, to time.Time, step time.Duration) ([]Mismatch, error) {
	if loc == nil {
		return nil, fmt.Errorf("%w: CheckSkew: nil location", ErrInvalid)
	}
	if q == nil {
		return nil, fmt.Errorf("%w: CheckSkew: nil Querier (pass a *sql.DB, *sql.Conn or *sql.Tx)", ErrInvalid)
	}
	if step <= 0 {
		step = time.Hour
	}
	if step%time.Second != 0 || !from.Before(to) || to.Sub(from)/step > maxSamples {
		return nil, fmt.Errorf("%w: CheckSkew range %s..%s step %s: want from < to, whole-second step, at most %d samples", ErrInvalid, from, to, step, maxSamples)
	}
	name := loc.String()
	abbrev, err := isAbbrev(ctx, q, name)
	if err != nil {
		return nil, fmt.Errorf("pgtz: CheckSkew %s: %w", name, err)
	}
	args := []any{from.UTC(), to.UTC(), int64(step / time.Second)}
	if !abbrev {
		rows, err := q.QueryContext(ctx, `SELECT extract(epoch FROM t)::bigint,
	       extract(epoch FROM (t AT TIME ZONE $4) - (t AT TIME ZONE 'UTC'))::int
	FROM generate_series($1::timestamptz, $2::timestamptz, make_interval(secs => $3)) AS t
	WHERE t < $2::timestamptz`, append(args, name)...)
		if err != nil {
			return nil, fmt.Errorf("pgtz: CheckSkew %s: %w", name, err)
		}
		out, err := compareOffsets(rows, loc)
		if err != nil {
			return nil, fmt.Errorf("pgtz: CheckSkew %s: %w", name, err)
		}
		return out, nil
	}
	var out []Mismatch
	err = inSessionZone(ctx, q, name, func(s session) error {
		rows, err := s.QueryContext(ctx, `SELECT extract(epoch FROM t)::bigint, extract(timezone FROM t)::int
	FROM generate_series($1::timestamptz, $2::timestamptz, make_interval(secs => $3)) AS t
	WHERE t < $2::timestamptz`, args...)
		if err != nil {
			return err
		}
		out, err = compareOffsets(rows, loc)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgtz: CheckSkew %s: %w", name, err)
	}
	return out, nil
}

// isAbbrev reports whether the server reads name in AT TIME ZONE as a
// time zone abbreviation (which it tries before zone names).
func isAbbrev(ctx context.Context, q Querier, name string) (bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_timezone_abbrevs WHERE upper(abbrev) = upper($1))", name)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	var ok bool
	if rows.Next() {
		if err := rows.Scan(&ok); err != nil {
			return false, err
		}
	}
	return ok, rows.Err()
}

// session is one database session: *sql.Conn and *sql.Tx.
type session interface {
	Querier
	Conn
}

// inSessionZone runs f on one session whose TimeZone is zone, and restores
// the previous TimeZone afterwards.
func inSessionZone(ctx context.Context, q Querier, zone string, f func(session) error) error {
	local := false
	var s session
	var dbConn *sql.Conn
	switch v := q.(type) {
	case *sql.DB:
		c, err := v.Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		s, dbConn = c, c
	case *sql.Conn:
		s = v
	case *sql.Tx:
		s, local = v, true
	default:
		return fmt.Errorf("%w: %q is also a time zone abbreviation on the server, so the zone can only be read through the session TimeZone: pass a *sql.DB, *sql.Conn or *sql.Tx, not a %T", ErrInvalid, zone, q)
	}
	var old string
	if err := s.QueryRowContext(ctx, "SELECT current_setting('TimeZone')").Scan(&old); err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, "SELECT set_config('TimeZone', $1, $2)", zone, local); err != nil {
		return err
	}
	ferr := f(s)
	// Restore even when ctx is done: the session outlives this call.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.ExecContext(rctx, "SELECT set_config('TimeZone', $1, $2)", old, local); err != nil {
		if dbConn != nil {
			// Never hand a connection in the wrong zone back to the pool.
			_ = dbConn.Raw(func(any) error { return driver.ErrBadConn })
			return errors.Join(ferr, fmt.Errorf("restore TimeZone: %w (connection discarded)", err))
		}
		return errors.Join(ferr, fmt.Errorf("restore TimeZone %q: %w; the session's TimeZone is still %q", old, err, zone))
	}
	return ferr
}

// compareOffsets reads (epoch, offset) rows and returns the instants where
// loc disagrees. It closes rows.
func compareOffsets(rows *sql.Rows, loc *time.Location) ([]Mismatch, error) {
	defer rows.Close()
	var out []Mismatch
	for rows.Next() {
		var sec int64
		var off int
		if err := rows.Scan(&sec, &off); err != nil {
			return nil, err
		}
		at := time.Unix(sec, 0).UTC()
		if _, c := at.In(loc).Zone(); c != off {
			out = append(out, Mismatch{At: at, Server: off, Client: c})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
