package cronx

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// TestDST checks the DST policy documented on Parse on gap and fold days:
// a wall time in a gap runs once at the first instant after the gap, a
// wall time in a fold runs once at its first reading.
func TestDST(t *testing.T) {
	cases := []struct {
		name string
		zone string
		spec string
		from string // wall time in zone, "2006-01-02 15:04"
		want []string
	}{
		{"NewYork gap daily 02:30 runs at 03:00 EDT", "America/New_York", "30 2 * * *", "2024-03-09 12:00",
			[]string{"2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"}},
		{"NewYork gap every 15m of hour 2 runs once", "America/New_York", "*/15 2 * * *", "2024-03-09 12:00",
			[]string{"2024-03-10T03:00:00-04:00", "2024-03-11T02:00:00-04:00", "2024-03-11T02:15:00-04:00"}},
		{"NewYork gap hourly", "America/New_York", "0 * * * *", "2024-03-10 00:30",
			[]string{"2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T04:00:00-04:00"}},
		{"NewYork fold daily 01:30 runs once at EDT", "America/New_York", "30 1 * * *", "2024-11-02 12:00",
			[]string{"2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"}},
		// Wildcard or step hour fields keep their real-time cadence (Vixie cron).
		{"NewYork fold hourly runs both 01:00s", "America/New_York", "0 * * * *", "2024-11-03 00:30",
			[]string{"2024-11-03T01:00:00-04:00", "2024-11-03T01:00:00-05:00", "2024-11-03T02:00:00-05:00"}},
		{"NewYork fold @hourly runs both 01:00s", "America/New_York", "@hourly", "2024-11-03 00:30",
			[]string{"2024-11-03T01:00:00-04:00", "2024-11-03T01:00:00-05:00", "2024-11-03T02:00:00-05:00"}},
		{"NewYork fold every 15m keeps cadence", "America/New_York", "*/15 * * * *", "2024-11-03 00:50",
			[]string{"2024-11-03T01:00:00-04:00", "2024-11-03T01:15:00-04:00", "2024-11-03T01:30:00-04:00", "2024-11-03T01:45:00-04:00",
				"2024-11-03T01:00:00-05:00", "2024-11-03T01:15:00-05:00"}},
		{"NewYork fold every 2h", "America/New_York", "0 */2 * * *", "2024-11-02 23:30",
			[]string{"2024-11-03T00:00:00-04:00", "2024-11-03T02:00:00-05:00", "2024-11-03T04:00:00-05:00"}},
		{"NewYork gap every 15m", "America/New_York", "*/15 * * * *", "2024-03-10 01:40",
			[]string{"2024-03-10T01:45:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T03:15:00-04:00"}},
		{"NewYork gap with seconds every 20m", "America/New_York", "0 */20 * * * *", "2024-03-10 01:30",
			[]string{"2024-03-10T01:40:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T03:20:00-04:00"}},
		{"LordHowe 30-minute fold every 10m keeps cadence", "Australia/Lord_Howe", "*/10 * * * *", "2024-04-07 01:15",
			[]string{"2024-04-07T01:20:00+11:00", "2024-04-07T01:30:00+11:00", "2024-04-07T01:40:00+11:00", "2024-04-07T01:50:00+11:00",
				"2024-04-07T01:30:00+10:30", "2024-04-07T01:40:00+10:30"}},
		{"NewYork midnight on gap day", "America/New_York", "0 0 * * *", "2024-03-09 12:00",
			[]string{"2024-03-10T00:00:00-05:00", "2024-03-11T00:00:00-04:00"}},
		{"London gap daily 01:30 runs at 02:00 BST", "Europe/London", "30 1 * * *", "2024-03-30 12:00",
			[]string{"2024-03-31T02:00:00+01:00", "2024-04-01T01:30:00+01:00"}},
		{"London fold daily 01:30 runs once at BST", "Europe/London", "30 1 * * *", "2024-10-26 12:00",
			[]string{"2024-10-27T01:30:00+01:00", "2024-10-28T01:30:00Z"}},
		{"London fold with seconds", "Europe/London", "0 59 1 * * *", "2024-10-27 00:00",
			[]string{"2024-10-27T01:59:00+01:00", "2024-10-28T01:59:00Z"}},
		{"LordHowe 30-minute gap 02:15 runs at 02:30", "Australia/Lord_Howe", "15 2 * * *", "2024-10-05 12:00",
			[]string{"2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"}},
		{"LordHowe 30-minute fold 01:45 runs once at +11", "Australia/Lord_Howe", "45 1 * * *", "2024-04-06 12:00",
			[]string{"2024-04-07T01:45:00+11:00", "2024-04-08T01:45:00+10:30"}},
		{"LordHowe fold every 10m of hour 1", "Australia/Lord_Howe", "*/10 1 * * *", "2024-04-07 01:25",
			[]string{"2024-04-07T01:30:00+11:00", "2024-04-07T01:40:00+11:00", "2024-04-07T01:50:00+11:00", "2024-04-08T01:00:00+10:30"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			loc := mustLoad(t, tc.zone)
			from, err := time.ParseInLocation("2006-01-02 15:04", tc.from, loc)
			require.NoError(t, err)
			got, err := Validate(tc.spec, loc, from, len(tc.want))
			require.NoError(t, err)
			gotS := make([]string, len(got))
			for i, g := range got {
				gotS[i] = g.In(loc).Format(time.RFC3339)
			}
			assert.Equal(t, tc.want, gotS)
		})
	}
}

// TestDSTTickIdentity: ticks computed back from "now" give each fold
// reading its own identity and land on the policy's instants.
func TestDSTTickIdentity(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	s, err := Parse("30 1 * * *", ny)
	require.NoError(t, err)
	firstReading := time.Date(2024, 11, 3, 5, 30, 0, 0, time.UTC) // 01:30 EDT
	got := prevActivation(s, firstReading.Add(2*time.Millisecond))
	assert.True(t, got.Equal(firstReading), "got %v want %v", got, firstReading)
	// During the second 01:30 (EST) the latest activation is still the first one: no second run.
	got = prevActivation(s, firstReading.Add(time.Hour+time.Millisecond))
	assert.True(t, got.Equal(firstReading), "got %v want %v", got, firstReading)

	yearly, err := Parse("@yearly", time.UTC)
	require.NoError(t, err)
	got = prevActivation(yearly, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	assert.Equal(t, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), got.UTC())
}

func TestParseTimeZones(t *testing.T) {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	got, err := Validate("CRON_TZ=Asia/Shanghai 0 9 * * *", nil, from, 1)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC), got[0].UTC())
	got, err = Validate("TZ=Asia/Tokyo\t0 9 * * *", time.UTC, from, 1) // a tab is whitespace too
	require.NoError(t, err)
	assert.Equal(t, time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), got[0].UTC(), "09:00 JST on Jan 1 is 'from' itself; next is strictly after")
	// scheduler-wide location applies without a prefix
	got, err = Validate("0 9 * * *", mustLoad(t, "Europe/Berlin"), from, 1)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC), got[0].UTC())
	// seconds field optional
	got, err = Validate("*/20 * * * * *", nil, from, 2)
	require.NoError(t, err)
	assert.Equal(t, []time.Time{from.Add(20 * time.Second), from.Add(40 * time.Second)}, utcAll(got))
}

func utcAll(ts []time.Time) []time.Time {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = t.UTC()
	}
	return out
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		spec string
		want string // substring of the message
	}{
		{"", "empty spec"},
		{"   ", "empty spec"},
		{"0 0 30 2 *", "can never fire"},
		{"0 0 31 4 *", "can never fire"},
		{"CRON_TZ=UTC", "must be followed by a zone name"},
		{"TZ=", "must be followed by a zone name"},
		{"TZ=0", "must be followed by a zone name"},
		{"TZ= 0 * * * *", "empty zone name"},
		{"CRON_TZ=Asia/Shangai 0 * * * *", "unknown time zone"},
		{"@every", "bad duration"},
		{"@every 500ms", "at least 1s"},
		{"@every -5s", "at least 1s"},
		{"* * *", "expected"},
		{"61 * * * *", "above maximum"},
		{"@fortnightly", "unrecognized descriptor"},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := Parse(tc.spec, nil)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.True(t, errors.Is(err, ErrInvalidSpec), "error %v should wrap ErrInvalidSpec", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := Validate("* * * * *", nil, time.Now(), -1)
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestEveryAligned(t *testing.T) {
	s, err := Parse("@every 1m", nil)
	require.NoError(t, err)
	for _, from := range []time.Time{
		time.Date(2025, 3, 1, 12, 0, 3, 0, time.UTC),
		time.Date(2025, 3, 1, 12, 0, 59, 999, time.UTC),
	} {
		assert.Equal(t, time.Date(2025, 3, 1, 12, 1, 0, 0, time.UTC), s.Next(from).UTC())
		assert.Equal(t, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), prevActivation(s, from).UTC())
	}
	// exactly on a tick: Next is strictly after
	on := time.Date(2025, 3, 1, 12, 1, 0, 0, time.UTC)
	assert.Equal(t, on.Add(time.Minute), s.Next(on).UTC())
	assert.Equal(t, on, prevActivation(s, on).UTC())
}

// TestPrevActivationProperty: prev <= now < Next(prev), for random specs
// and instants, including DST zones.
func TestPrevActivationProperty(t *testing.T) {
	specs := []string{"* * * * *", "*/7 * * * * *", "30 2 * * *", "0 */5 * * 1-5", "@monthly", "@every 90s",
		"CRON_TZ=America/New_York 30 1 * * *", "CRON_TZ=Australia/Lord_Howe */10 1,2 * * *", "CRON_TZ=Europe/London 0 * * * *"}
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, spec := range specs {
		s, err := Parse(spec, nil)
		require.NoError(t, err, spec)
		for range 200 {
			now := base.Add(time.Duration(r.Int64N(int64(366 * 24 * time.Hour))))
			p := prevActivation(s, now)
			require.False(t, p.IsZero(), "%s at %v", spec, now)
			require.False(t, p.After(now), "%s: prev %v after now %v", spec, p, now)
			require.True(t, s.Next(p).After(now), "%s: Next(prev %v)=%v not after now %v", spec, p, s.Next(p), now)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"* * * * *", "CRON_TZ=UTC", "TZ=0", "TZ=UTC\t0 * * * *", "@every 1s", "0 0 30 2 *", "*/5 * * * * *", "@yearly"} {
		f.Add(s)
	}
	from := time.Date(2024, 11, 3, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		if strings.Contains(spec, "TZ=") && len(spec) > 200 {
			return // zone loading of huge names is slow and uninteresting
		}
		s, err := parseAt(spec, nil, from)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("error %v does not wrap ErrInvalidSpec", err)
			}
			return
		}
		n := s.Next(from)
		if n.IsZero() || !n.After(from) {
			t.Fatalf("accepted %q but Next(%v) = %v", spec, from, n)
		}
	})
}

func TestNewParser(t *testing.T) {
	for name, opts := range map[string]cron.ParseOption{
		"no fields":      cron.Descriptor,
		"two optionals":  cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.DowOptional,
		"nothing at all": 0,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewParser(opts)
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
	// Which field is the hour depends on the parser's options; a wildcard
	// hour makes the schedule keep its cadence in a fold.
	for _, tc := range []struct {
		opts cron.ParseOption
		spec string
		want bool
	}{
		{DefaultParseOptions, "0 * * * *", true},
		{DefaultParseOptions, "0 0 * * * *", true},
		{DefaultParseOptions, "0 */2 * * *", true},
		{DefaultParseOptions, "0 2 * * *", false},
		{DefaultParseOptions, "* 2 * * *", false},
		{DefaultParseOptions, "0 0 */3 * * *", true},
		{DefaultParseOptions, "* 0 2 * * *", false},
		{cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow, "0 0 * * * *", true},
		{cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.DowOptional, "0 * * *", true},
		{cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.DowOptional, "0 3 * * 1", false},
		{cron.Minute | cron.Dom | cron.Month | cron.Dow, "0 * * *", false}, // no hour field: robfig fills in 0
	} {
		p, err := NewParser(tc.opts)
		require.NoError(t, err)
		s, err := p.Parse(tc.spec, time.UTC)
		require.NoError(t, err, tc.spec)
		assert.Equal(t, tc.want, s.(*wallSchedule).cadence, "%q", tc.spec)
	}
}
