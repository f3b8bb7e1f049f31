package tzutil

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRound(t *testing.T) {
	at := func(zone, s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v.In(MustLoad(zone))
	}
	cases := []struct {
		zone, in string
		unit     Unit
		inc      int
		mode     RoundingMode
		want     string
	}{
		{"Asia/Kathmandu", "2024-05-01T10:37:00+05:45", Hour, 1, HalfExpand, "2024-05-01T11:00:00+05:45"},
		{"Asia/Kathmandu", "2024-05-01T10:37:00+05:45", Hour, 1, Trunc, "2024-05-01T10:00:00+05:45"},
		{"Asia/Kolkata", "2024-05-01T23:50:00+05:30", Hour, 1, HalfExpand, "2024-05-02T00:00:00+05:30"},
		{"Asia/Kolkata", "2024-05-01T10:07:00+05:30", Minute, 15, HalfExpand, "2024-05-01T10:00:00+05:30"},
		{"Asia/Kolkata", "2024-05-01T10:08:00+05:30", Minute, 15, HalfExpand, "2024-05-01T10:15:00+05:30"},
		{"Asia/Kolkata", "2024-05-01T10:08:00+05:30", Hour, 6, Floor, "2024-05-01T06:00:00+05:30"},
		// Into a gap: 02:00 does not exist, Compatible moves it to 03:00.
		{"America/New_York", "2024-03-10T01:45:00-05:00", Hour, 1, HalfExpand, "2024-03-10T03:00:00-04:00"},
		{"America/New_York", "2024-03-10T03:10:00-04:00", Hour, 1, Trunc, "2024-03-10T03:00:00-04:00"},
		// In the fold the result stays on t's side.
		{"America/New_York", "2024-11-03T01:20:00-04:00", Hour, 1, Trunc, "2024-11-03T01:00:00-04:00"},
		{"America/New_York", "2024-11-03T01:20:00-05:00", Hour, 1, Trunc, "2024-11-03T01:00:00-05:00"},
		{"America/New_York", "2024-11-03T01:40:00-04:00", Hour, 1, HalfExpand, "2024-11-03T02:00:00-05:00"},
		{"America/New_York", "2024-11-03T01:40:00-05:00", Hour, 1, HalfExpand, "2024-11-03T02:00:00-05:00"},
		{"America/New_York", "2024-11-03T01:40:00-05:00", Minute, 30, Floor, "2024-11-03T01:30:00-05:00"},
		// Modes at a tie (10:30) and off it.
		{"UTC", "2024-05-01T10:30:00Z", Hour, 1, HalfExpand, "2024-05-01T11:00:00Z"},
		{"UTC", "2024-05-01T10:30:00Z", Hour, 1, HalfCeil, "2024-05-01T11:00:00Z"},
		{"UTC", "2024-05-01T10:30:00Z", Hour, 1, HalfFloor, "2024-05-01T10:00:00Z"},
		{"UTC", "2024-05-01T10:30:00Z", Hour, 1, HalfTrunc, "2024-05-01T10:00:00Z"},
		{"UTC", "2024-05-01T10:30:00Z", Hour, 1, HalfEven, "2024-05-01T10:00:00Z"},
		{"UTC", "2024-05-01T11:30:00Z", Hour, 1, HalfEven, "2024-05-01T12:00:00Z"},
		{"UTC", "2024-05-01T10:01:00Z", Hour, 1, Ceil, "2024-05-01T11:00:00Z"},
		{"UTC", "2024-05-01T10:01:00Z", Hour, 1, Expand, "2024-05-01T11:00:00Z"},
		{"UTC", "2024-05-01T10:59:00Z", Hour, 1, Floor, "2024-05-01T10:00:00Z"},
		{"UTC", "1969-12-31T23:59:59.5Z", Second, 1, Trunc, "1969-12-31T23:59:59Z"},
		{"UTC", "2024-05-01T10:00:00.123456789Z", Millisecond, 10, HalfExpand, "2024-05-01T10:00:00.12Z"},
		// Calendar units by the elapsed fraction of the real interval.
		{"America/New_York", "2024-03-10T12:00:00-04:00", Day, 1, HalfExpand, "2024-03-10T00:00:00-05:00"}, // 11 of 23 h
		{"America/New_York", "2024-03-10T12:30:00-04:00", Day, 1, HalfExpand, "2024-03-11T00:00:00-04:00"}, // 11.5 of 23 h
		{"America/Sao_Paulo", "2018-11-04T12:00:00-02:00", Day, 1, Trunc, "2018-11-04T01:00:00-02:00"},     // midnight skipped
		{"Europe/Berlin", "2024-05-16T13:00:00+02:00", Week, 1, Trunc, "2024-05-13T00:00:00+02:00"},
		{"Europe/Berlin", "2024-05-16T13:00:00+02:00", Month, 1, HalfExpand, "2024-06-01T00:00:00+02:00"},
		{"Europe/Berlin", "2024-05-16T11:00:00+02:00", Month, 1, HalfExpand, "2024-05-01T00:00:00+02:00"},
		{"Europe/Berlin", "2024-05-16T11:00:00+02:00", Year, 1, Ceil, "2025-01-01T00:00:00+01:00"},
		{"Europe/Berlin", "2024-01-01T00:00:00+01:00", Year, 1, Ceil, "2024-01-01T00:00:00+01:00"},
	}
	for _, c := range cases {
		in := at(c.zone, c.in)
		got, err := Round(in, c.unit, c.inc, c.mode)
		require.NoError(t, err, "%s %v %d %v", c.in, c.unit, c.inc, c.mode)
		assert.Equal(t, c.want, got.Format(time.RFC3339Nano), "%s %s by %d %v %v", c.zone, c.in, c.inc, c.unit, c.mode)
		assert.Equal(t, in.Location(), got.Location())
	}
	ny := MustLoad("America/New_York")
	tr, err := Truncate(time.Date(2024, 7, 4, 15, 4, 5, 6, ny), Month)
	require.NoError(t, err)
	assert.Equal(t, "2024-07-01T00:00:00-04:00", tr.Format(time.RFC3339))
	for _, bad := range []struct {
		unit Unit
		inc  int
		mode RoundingMode
	}{{Hour, 7, HalfExpand}, {Hour, 24, HalfExpand}, {Minute, -1, HalfExpand}, {Day, 2, HalfExpand}, {Unit(0), 1, HalfExpand}, {Hour, 1, RoundingMode(42)}} {
		_, err := Round(time.Now(), bad.unit, bad.inc, bad.mode)
		assert.ErrorIs(t, err, ErrInvalid, "%+v", bad)
	}
	_, err = Round(time.Date(9999, 12, 31, 23, 59, 0, 0, time.UTC), Hour, 1, Ceil)
	assert.ErrorIs(t, err, ErrOutOfRange)
	for i, name := range modeNames {
		m, err := ParseRoundingMode(name)
		require.NoError(t, err)
		assert.Equal(t, RoundingMode(i), m)
	}
	m, err := ParseRoundingMode("half-even")
	require.NoError(t, err)
	assert.Equal(t, HalfEven, m)
	_, err = ParseRoundingMode("bankers")
	assert.ErrorIs(t, err, ErrInvalid)
}
