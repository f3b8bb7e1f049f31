// Package tzutil is time-zone handling for backends without surprises: zones
// that load (or fail with the fix), one definition of a day, and an explicit
// choice wherever daylight saving time makes a wall-clock time skipped or
// repeated. It uses the standard library only, has no settings to mutate and
// never writes time.Local.
//
// # Loading
//
// Load("Asia/Shanghai") is time.LoadLocation with a cache (a map lookup
// after the first call) and errors that say what was meant:
//
//	tzutil: unknown zone "Asia/Shangai" (did you mean "Asia/Shanghai"?)
//
// LoadInfo also says where the data came from (ZONEINFO, system directory,
// embedded copy, the build machine's GOROOT). FromTZ reads a TZ value with
// real TZ semantics, including POSIX rules such as "CST-8" and
// "EST5EDT,M3.2.0,M11.1.0" that Go silently turns into UTC; ParsePOSIX
// builds such a zone directly. LocalName recovers the IANA name hidden
// behind time.Local's "Local", CheckLocal detects a TZ that Go ignored, and
// Doctor reports all of it. Import tzutil/tzdata in a main package to embed
// the database for images without /usr/share/zoneinfo.
//
// # Days
//
// A day starts at the first instant whose local date is that day: midnight
// usually, 01:00 where midnight is skipped, the first midnight where it
// repeats. It ends where the next day starts (exclusive). StartOfDay,
// EndOfDay, DayLength, StartOfWeek, StartOfMonth and DaysBetween follow that
// rule and reproduce, row for row, an oracle of 54,780 zone-days computed
// independently; time.Date(y, m, d, 0, 0, 0, 0, loc), used by jinzhu/now and
// carbon, puts some of those days on the previous date.
//
//	start := tzutil.StartOfDay(time.Now().In(loc)) // "midnight today", DST-correct
//
// Date and DateTime are civil (zone-less) values; AddDays and AddMonths keep
// the wall-clock time, where time.Time.Add keeps elapsed time. DateBounds
// gives a date's start and end in a zone, YearTransitions the clock changes
// of a year.
//
// # Periods, differences, rounding and ranges
//
// Period is Temporal's Duration (java.time's Period plus Duration), read
// and written as ISO 8601 by ParsePeriod and String ("P1Y2M10DT2H30M").
// AddPeriod adds one in Temporal's order: years and months on the wall
// calendar, then weeks and days, then exact time, so P1D is "same time
// tomorrow" and PT24H is 24 hours:
//
//	p, _ := tzutil.ParsePeriod("P1M")
//	next, err := tzutil.AddPeriod(t, p, tzutil.Clamp, tzutil.Compatible) // Jan 31 → Feb 29
//
// Until and Since measure in any unit up to a largest one (Temporal's
// largestUnit): P1D for a 23-hour day, P1M1D from 31 January to 1 March.
// Round and Truncate work on the local wall clock with Temporal's rounding
// modes (11:00+05:45, where time.Round gives 10:45+05:45). Dates and
// Intervals iterate dates and the real [start, end) of local days, weeks,
// months and years; Date.Next, NthWeekday and friends are java.time's
// TemporalAdjusters.
//
// # Gaps and folds
//
// Resolve tells whether a wall time in a zone is unique, skipped (Gap) or
// repeated (Fold), with both candidate instants and the transition. Every
// conversion from wall time to an instant takes a Policy: Compatible (the
// default of java.time, Temporal and Python), Earlier, Later, Reject (a
// *GapError or *FoldError), PostgreSQL (what '…'::timestamptz and AT TIME
// ZONE do) or StartOfGap. Transitions iterates offset changes and is safe
// with Go's slim zoneinfo (golang/go#81583).
//
// # PostgreSQL
//
// Package tzutil/pgtz (database/sql only) sets the session TimeZone on one
// connection, normalises scanned timestamptz values, scans `timestamp
// without time zone` as a civil DateTime, and compares the server's tzdata
// with the client's.
//
// # Errors
//
// Every error caused by bad input (a malformed or unknown zone name, a date
// that does not exist, a string that does not parse, an unknown Policy, a
// wall time refused by Reject) matches ErrInvalid with errors.Is; narrower
// sentinels such as ErrUnknownZone or ErrGap say which. Errors about the
// environment (ErrNoTZData, ErrBadData) do not match ErrInvalid.
//
// All functions are safe for concurrent use. Loaded locations are cached
// for the life of the process (by canonical name, bounded), and so are the
// zone periods last used per location, which are pure results of immutable
// zone data.
package tzutil
