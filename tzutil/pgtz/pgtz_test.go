package pgtz_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"os"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/internal/testenv"
	"github.com/goplumb/plumb/tzutil"
	"github.com/goplumb/plumb/tzutil/pgtz"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func conn(t *testing.T, db *sql.DB) *sql.Conn {
	c, err := db.Conn(ctxT(t))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func readCSV(t *testing.T, name string) [][]string {
	f, err := os.Open("../testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return recs[1:]
}

// wallProbes returns, for every gap and fold in transitions.csv, the first
// second, the middle and the last second inside it plus one second on
// either side.
func wallProbes(t *testing.T) (zones, walls []string) {
	for _, r := range readCSV(t, "transitions.csv") {
		wb, err := tzutil.ParseDateTime(r[4])
		require.NoError(t, err)
		wa, err := tzutil.ParseDateTime(r[5])
		require.NoError(t, err)
		lo, hi := wb, wa
		if hi.Compare(lo) < 0 {
			lo, hi = hi, lo
		}
		a := time.Date(lo.Year, lo.Month, lo.Day, lo.Hour, lo.Minute, lo.Second, 0, time.UTC)
		b := time.Date(hi.Year, hi.Month, hi.Day, hi.Hour, hi.Minute, hi.Second, 0, time.UTC)
		for _, p := range []time.Time{a.Add(-time.Second), a, a.Add(b.Sub(a) / 2).Truncate(time.Second), b.Add(-time.Second), b} {
			zones = append(zones, r[0])
			walls = append(walls, p.Format("2006-01-02 15:04:05"))
		}
	}
	return zones, walls
}

// checkAgainstServer compares tzutil.At(wall, zone, PostgreSQL) with the
// server's answers (Unix seconds), row by row.
func checkAgainstServer(t *testing.T, zones, walls []string, server []int64) {
	t.Helper()
	require.Len(t, server, len(walls))
	locs := map[string]*time.Location{}
	bad := 0
	for i := range walls {
		loc, ok := locs[zones[i]]
		if !ok {
			var err error
			loc, err = tzutil.Load(zones[i])
			require.NoError(t, err)
			locs[zones[i]] = loc
		}
		wall, err := tzutil.ParseDateTime(walls[i])
		require.NoError(t, err)
		got, err := tzutil.At(wall, loc, tzutil.PostgreSQL)
		require.NoError(t, err)
		if got.Unix() != server[i] {
			bad++
			if bad < 10 {
				t.Errorf("%s %s: tzutil.PostgreSQL %s, server %s", zones[i], walls[i], got.UTC().Format(time.RFC3339), time.Unix(server[i], 0).UTC().Format(time.RFC3339))
			}
		}
	}
	assert.Zero(t, bad)
}

// TestPostgreSQLPolicyMatchesServer: for every gap and fold of the oracle,
// '<wall>'::timestamp AT TIME ZONE '<zone>' on a live server equals
// tzutil.PostgreSQL, in one batched query. The same for the midnight of
// every zone-day of day_starts.csv (where the server's answer is one hour
// late on repeated midnights, and tzutil.PostgreSQL reproduces that too).
func TestPostgreSQLPolicyMatchesServer(t *testing.T) {
	env := testenv.Postgres(t)
	ctx := ctxT(t)
	query := func(zones, walls []string) []int64 {
		rows, err := env.DB.QueryContext(ctx, `SELECT extract(epoch FROM (u.w::timestamp AT TIME ZONE u.z))::bigint
			FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(z, w, n) ORDER BY u.n`, pq.Array(zones), pq.Array(walls))
		require.NoError(t, err)
		defer rows.Close()
		var out []int64
		for rows.Next() {
			var s int64
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		return out
	}
	t.Run("gaps and folds", func(t *testing.T) {
		zones, walls := wallProbes(t)
		require.Len(t, walls, 195*5)
		server := query(zones, walls)
		checkAgainstServer(t, zones, walls, server)
		// The comparison discriminates: the Compatible policy (fold →
		// earlier) differs from the server inside every fold.
		differ := 0
		for i := range walls {
			wall, _ := tzutil.ParseDateTime(walls[i])
			got, err := tzutil.At(wall, tzutil.MustLoad(zones[i]), tzutil.Compatible)
			require.NoError(t, err)
			if got.Unix() != server[i] {
				differ++
			}
		}
		t.Logf("Compatible differs from the server on %d of %d probes", differ, len(walls))
		assert.Positive(t, differ)
	})
	t.Run("midnights", func(t *testing.T) {
		var zones, walls []string
		wrongStart := 0
		for _, r := range readCSV(t, "day_starts.csv") {
			zones = append(zones, r[0])
			walls = append(walls, r[1]+" 00:00:00")
		}
		server := query(zones, walls)
		checkAgainstServer(t, zones, walls, server)
		for i, r := range readCSV(t, "day_starts.csv") {
			st, err := time.Parse(time.RFC3339, r[2])
			require.NoError(t, err)
			if st.Unix() != server[i] {
				wrongStart++
			}
		}
		t.Logf("date::timestamp AT TIME ZONE differs from the true start of day on %d of %d rows", wrongStart, len(walls))
		assert.Equal(t, 9, wrongStart, "PostgreSQL's repeated-midnight answer is the later one")
	})
	t.Run("::timestamptz in the session zone", func(t *testing.T) {
		zones, walls := wallProbes(t)
		c := conn(t, env.DB)
		byZone := map[string][]int{}
		var order []string
		for i, z := range zones {
			if _, ok := byZone[z]; !ok {
				order = append(order, z)
			}
			byZone[z] = append(byZone[z], i)
		}
		server := make([]int64, len(walls))
		for _, z := range order {
			loc, err := tzutil.Load(z)
			require.NoError(t, err)
			require.NoError(t, pgtz.SetSessionTimeZone(ctx, c, loc))
			var ws []string
			for _, i := range byZone[z] {
				ws = append(ws, walls[i])
			}
			rows, err := c.QueryContext(ctx, `SELECT extract(epoch FROM u.w::timestamptz)::bigint FROM unnest($1::text[]) WITH ORDINALITY AS u(w, n) ORDER BY u.n`, pq.Array(ws))
			require.NoError(t, err)
			k := 0
			for rows.Next() {
				require.NoError(t, rows.Scan(&server[byZone[z][k]]))
				k++
			}
			require.NoError(t, rows.Err())
			rows.Close()
		}
		checkAgainstServer(t, zones, walls, server)
	})
}

func TestSessionTimeZone(t *testing.T) {
	env := testenv.Postgres(t)
	ctx := ctxT(t)
	c := conn(t, env.DB)
	noon := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	shanghai := tzutil.MustLoad("Asia/Shanghai")

	assert.ErrorIs(t, pgtz.SetSessionTimeZone(ctx, env.DB, shanghai), pgtz.ErrPool)
	_, err := pgtz.SessionTimeZone(ctx, env.DB)
	assert.ErrorIs(t, err, pgtz.ErrPool)

	// Named zone: lib/pq then returns values in the named location.
	require.NoError(t, pgtz.SetSessionTimeZone(ctx, c, shanghai))
	tz, err := pgtz.SessionTimeZone(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, "Asia/Shanghai", tz)
	var got time.Time
	var text string
	require.NoError(t, c.QueryRowContext(ctx, "SELECT $1::timestamptz, $1::timestamptz::text", noon).Scan(&got, &text))
	assert.Equal(t, "2024-03-10 20:00:00+08", text)
	assert.True(t, got.Equal(noon))
	assert.Equal(t, "Asia/Shanghai", got.Location().String(), "lib/pq attaches the session zone")

	// '+08' (numeric, ISO sign): the server reports a POSIX form and lib/pq
	// hands back an unnamed fixed zone; ScanIn normalises it.
	_, err = c.ExecContext(ctx, "SET TIME ZONE '+08'")
	require.NoError(t, err)
	tz, err = pgtz.SessionTimeZone(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, "<+08>-08", tz)
	loc, err := pgtz.SessionLocation(ctx, c)
	require.NoError(t, err)
	_, off := noon.In(loc).Zone()
	assert.Equal(t, 8*3600, off)
	require.NoError(t, c.QueryRowContext(ctx, "SELECT $1::timestamptz", noon).Scan(&got))
	assert.Equal(t, "", got.Location().String(), "unnamed FixedZone from lib/pq")
	var norm time.Time
	require.NoError(t, c.QueryRowContext(ctx, "SELECT $1::timestamptz", noon).Scan(pgtz.ScanIn(&norm, shanghai)))
	assert.Equal(t, shanghai, norm.Location())
	assert.True(t, norm.Equal(noon))

	// 'UTC+8' is POSIX: eight hours WEST of UTC.
	_, err = c.ExecContext(ctx, "SET TIME ZONE 'UTC+8'")
	require.NoError(t, err)
	require.NoError(t, c.QueryRowContext(ctx, "SELECT $1::timestamptz::text", noon).Scan(&text))
	assert.Equal(t, "2024-03-10 04:00:00-08", text)
	loc, err = pgtz.SessionLocation(ctx, c)
	require.NoError(t, err)
	_, off = noon.In(loc).Zone()
	assert.Equal(t, -8*3600, off, "SessionLocation reads UTC+8 the way the server does")

	// A FixedZone("CST", +8h), the blog's pattern, is sent as a number of
	// hours, so the server ends up at +08 (not US Central, not UTC−8).
	require.NoError(t, pgtz.SetSessionTimeZone(ctx, c, time.FixedZone("CST", 8*3600)))
	require.NoError(t, c.QueryRowContext(ctx, "SELECT $1::timestamptz::text", noon).Scan(&text))
	assert.Equal(t, "2024-03-10 20:00:00+08", text)
	require.NoError(t, pgtz.SetSessionTimeZone(ctx, c, time.FixedZone("", 5*3600+45*60)))
	require.NoError(t, c.QueryRowContext(ctx, "SELECT $1::timestamptz::text", noon).Scan(&text))
	assert.Equal(t, "2024-03-10 17:45:00+05:45", text)
	// Half- and quarter-hour offsets: the server reports "<-03:30>+03:30",
	// which is not POSIX (':' in a quoted name); SessionLocation reads it.
	for _, off := range []int{-(3*3600 + 1800), 5*3600 + 45*60, 9*3600 + 30*60, -(9*3600 + 30*60)} {
		require.NoError(t, pgtz.SetSessionTimeZone(ctx, c, time.FixedZone("", off)))
		loc, err := pgtz.SessionLocation(ctx, c)
		if assert.NoError(t, err, off) {
			_, got := noon.In(loc).Zone()
			assert.Equal(t, off, got)
			tz, _ := pgtz.SessionTimeZone(ctx, c)
			assert.Equal(t, tz, loc.String())
		}
	}
	// A POSIX location with DST is sent as the rule.
	posix, err := tzutil.ParsePOSIX("EST5EDT,M3.2.0,M11.1.0")
	require.NoError(t, err)
	require.NoError(t, pgtz.SetSessionTimeZone(ctx, c, posix))
	require.NoError(t, c.QueryRowContext(ctx, "SELECT $1::timestamptz::text", noon).Scan(&text))
	assert.Equal(t, "2024-03-10 08:00:00-04", text)

	err = pgtz.SetSessionTimeZone(ctx, c, time.Local)
	assert.ErrorIs(t, err, pgtz.ErrUnsupported)
	assert.ErrorIs(t, err, pgtz.ErrInvalid)

	// Per connection: another connection of the pool is unaffected.
	c2 := conn(t, env.DB)
	tz, err = pgtz.SessionTimeZone(ctx, c2)
	require.NoError(t, err)
	assert.NotEqual(t, "EST5EDT,M3.2.0,M11.1.0", tz)

	// Transactions are sessions too.
	tx, err := c2.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, pgtz.SetSessionTimeZone(ctx, tx, tzutil.MustLoad("America/Sao_Paulo")))
	require.NoError(t, tx.Rollback())

	// The DSN route: every connection of a pool starts in the zone.
	dsn, err := pgtz.DSNWithTimeZone(env.DSN, "Asia/Kathmandu")
	require.NoError(t, err)
	db2, err := sql.Open("postgres", dsn)
	require.NoError(t, err)
	defer db2.Close()
	require.NoError(t, db2.QueryRowContext(ctx, "SELECT current_setting('TimeZone')").Scan(&tz))
	assert.Equal(t, "Asia/Kathmandu", tz)
	_, err = pgtz.DSNWithTimeZone(env.DSN, "Asia/Shangai")
	assert.ErrorContains(t, err, `did you mean "Asia/Shanghai"`)
	kv, err := pgtz.DSNWithTimeZone("host=x dbname=y", "UTC")
	require.NoError(t, err)
	assert.Equal(t, "host=x dbname=y timezone='UTC'", kv)
}

func TestLocalTimestamp(t *testing.T) {
	env := testenv.Postgres(t)
	ctx := ctxT(t)
	c := conn(t, env.DB)
	_, err := c.ExecContext(ctx, "CREATE TABLE ts (id int, v timestamp, n timestamp)")
	require.NoError(t, err)
	wall, err := tzutil.ParseDateTime("2024-03-10T02:30:00.123456")
	require.NoError(t, err)
	// Written under one session zone, read under another: the wall clock
	// is unchanged (it is civil time).
	require.NoError(t, pgtz.SetSessionTimeZone(ctx, c, tzutil.MustLoad("Asia/Shanghai")))
	_, err = c.ExecContext(ctx, "INSERT INTO ts VALUES (1, $1, $2)", pgtz.LocalTimestamp{DateTime: wall}, pgtz.NullLocalTimestamp{})
	require.NoError(t, err)
	require.NoError(t, pgtz.SetSessionTimeZone(ctx, c, tzutil.MustLoad("America/New_York")))
	var lt pgtz.LocalTimestamp
	var nlt pgtz.NullLocalTimestamp
	var text string
	require.NoError(t, c.QueryRowContext(ctx, "SELECT v, n, v::text FROM ts WHERE id = 1").Scan(&lt, &nlt, &text))
	assert.Equal(t, wall, lt.DateTime)
	assert.False(t, nlt.Valid)
	assert.Equal(t, "2024-03-10 02:30:00.123456", text)
	// 02:30 does not exist in New York that day: the server's cast picks
	// one instant, and In(…, tzutil.PostgreSQL) agrees with it.
	var server time.Time
	require.NoError(t, c.QueryRowContext(ctx, "SELECT v::timestamptz FROM ts WHERE id = 1").Scan(&server))
	mine, err := lt.In(tzutil.MustLoad("America/New_York"), tzutil.PostgreSQL)
	require.NoError(t, err)
	assert.True(t, mine.Equal(server), "%s vs %s", mine, server)
	_, err = lt.In(tzutil.MustLoad("America/New_York"), tzutil.Reject)
	assert.ErrorIs(t, err, tzutil.ErrGap)
	// Text scanning, NULL and precision.
	require.NoError(t, c.QueryRowContext(ctx, "SELECT v::text FROM ts").Scan(&lt))
	assert.Equal(t, wall, lt.DateTime)
	assert.ErrorIs(t, c.QueryRowContext(ctx, "SELECT n FROM ts").Scan(&lt), pgtz.ErrNull)
	wall.Nanosecond = 1
	_, err = pgtz.LocalTimestamp{DateTime: wall}.Value()
	assert.ErrorIs(t, err, pgtz.ErrUnsupported)
	assert.Error(t, c.QueryRowContext(ctx, "SELECT 'infinity'::timestamp::text").Scan(&lt))
}

func TestCheckSkew(t *testing.T) {
	env := testenv.Postgres(t)
	ctx := ctxT(t)
	from := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, z := range []string{"America/New_York", "Europe/Berlin", "Asia/Shanghai", "Australia/Lord_Howe", "America/Sao_Paulo"} {
		ms, err := pgtz.CheckSkew(ctx, env.DB, tzutil.MustLoad(z), from, to, 0)
		require.NoError(t, err, z)
		assert.Empty(t, ms, z)
	}
	// A client whose "America/New_York" has Chicago's data: every sample differs.
	data, err := os.ReadFile("/usr/share/zoneinfo/America/Chicago")
	require.NoError(t, err)
	fake, err := time.LoadLocationFromTZData("America/New_York", data)
	require.NoError(t, err)
	ms, err := pgtz.CheckSkew(ctx, env.DB, fake, from, from.AddDate(0, 0, 10), 0)
	require.NoError(t, err)
	require.Equal(t, 240, len(ms), "ten days of hours")
	assert.Equal(t, -5*3600, ms[0].Server)
	assert.Equal(t, -6*3600, ms[0].Client)
	// Names PostgreSQL also reads as abbreviations: AT TIME ZONE 'CET' is a
	// fixed +01, but the zone CET has summer time. Both sides read the same
	// zone files, so CheckSkew must find no mismatch, on a pool, on one
	// connection and in a transaction, and leave the session as it was.
	y2024, y2025 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var summer int
	require.NoError(t, env.DB.QueryRowContext(ctx, `SELECT extract(epoch FROM ('2024-07-01 12:00Z'::timestamptz AT TIME ZONE 'CET') - ('2024-07-01 12:00Z'::timestamptz AT TIME ZONE 'UTC'))::int`).Scan(&summer))
	require.Equal(t, 3600, summer, "the server reads CET in AT TIME ZONE as the fixed abbreviation")
	c := conn(t, env.DB)
	_, err = c.ExecContext(ctx, "SET TIME ZONE 'Asia/Kathmandu'")
	require.NoError(t, err)
	for _, z := range []string{"CET", "EET", "MET", "WET", "EST", "MST", "HST"} {
		loc := tzutil.MustLoad(z)
		for _, q := range []pgtz.Querier{env.DB, c} {
			ms, err := pgtz.CheckSkew(ctx, q, loc, y2024, y2025, 0)
			require.NoError(t, err, z)
			assert.Empty(t, ms, "%s: %d of 8784 hours flagged", z, len(ms))
		}
		tx, err := c.BeginTx(ctx, nil)
		require.NoError(t, err)
		ms, err := pgtz.CheckSkew(ctx, tx, loc, y2024, y2025, 0)
		require.NoError(t, err, z)
		assert.Empty(t, ms, z)
		tz, err := pgtz.SessionTimeZone(ctx, tx)
		require.NoError(t, err)
		assert.Equal(t, "Asia/Kathmandu", tz, "restored inside the transaction")
		require.NoError(t, tx.Rollback())
	}
	tz, err := pgtz.SessionTimeZone(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, "Asia/Kathmandu", tz, "CheckSkew restores the session TimeZone")
	// The abbreviation path still finds real skew: a "CET" with Moscow's data.
	msk, err := os.ReadFile("/usr/share/zoneinfo/Europe/Moscow")
	require.NoError(t, err)
	fakeCET, err := time.LoadLocationFromTZData("CET", msk)
	require.NoError(t, err)
	ms, err = pgtz.CheckSkew(ctx, env.DB, fakeCET, y2024, y2024.AddDate(0, 0, 1), 0)
	require.NoError(t, err)
	assert.Len(t, ms, 24)
	// Unknown on the server.
	_, err = pgtz.CheckSkew(ctx, env.DB, time.FixedZone("Nowhere/Zone", 0), from, to, 0)
	assert.Error(t, err)
	_, err = pgtz.CheckSkew(ctx, env.DB, time.UTC, to, from, 0)
	assert.ErrorIs(t, err, pgtz.ErrInvalid)
}

func TestScanIn(t *testing.T) {
	sh := tzutil.MustLoad("Asia/Shanghai")
	var got time.Time
	s := pgtz.ScanIn(&got, sh)
	require.NoError(t, s.Scan("2024-03-10 20:00:00.5+08"))
	assert.Equal(t, "2024-03-10T20:00:00.5+08:00", got.Format(time.RFC3339Nano))
	require.NoError(t, s.Scan([]byte("2024-03-10 12:00:00+05:45")))
	assert.Equal(t, "2024-03-10T14:15:00+08:00", got.Format(time.RFC3339))
	assert.ErrorIs(t, s.Scan(nil), pgtz.ErrNull)
	assert.ErrorIs(t, s.Scan("infinity"), pgtz.ErrUnsupported)
	assert.Error(t, s.Scan(42))
	// A nil destination or Querier is an error, not a panic.
	err := pgtz.ScanIn(nil, sh).Scan(time.Now())
	assert.ErrorContains(t, err, "no destination")
	assert.ErrorIs(t, err, pgtz.ErrInvalid)
	_, err = pgtz.CheckSkew(context.Background(), nil, sh, time.Now(), time.Now().Add(time.Hour), 0)
	assert.ErrorContains(t, err, "nil Querier")
	assert.ErrorIs(t, err, pgtz.ErrInvalid)
	_, err = pgtz.CheckSkew(context.Background(), nil, nil, time.Now(), time.Now().Add(time.Hour), 0)
	assert.ErrorIs(t, err, pgtz.ErrInvalid)
	// Bad input to the session functions fails before any I/O.
	assert.ErrorIs(t, pgtz.SetSessionTimeZone(context.Background(), nil, sh), pgtz.ErrInvalid)
	assert.ErrorIs(t, pgtz.SetSessionTimeZone(context.Background(), (*sql.DB)(nil), sh), pgtz.ErrPool)
	assert.ErrorIs(t, pgtz.ErrPool, pgtz.ErrInvalid)
	_, err = pgtz.LocalTimestamp{DateTime: tzutil.DateTime{Date: tzutil.Date{Year: 2024, Month: 1, Day: 1}, Nanosecond: 1}}.Value()
	assert.ErrorIs(t, err, pgtz.ErrInvalid)
	_, err = pgtz.LocalTimestamp{}.Value()
	assert.ErrorIs(t, err, pgtz.ErrInvalid)
	assert.ErrorIs(t, err, tzutil.ErrOutOfRange)
}
