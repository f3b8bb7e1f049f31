package tzutil

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePeriod(t *testing.T) {
	cases := []struct {
		in   string
		want Period
		out  string // String(), "" means in
	}{
		{"P1Y2M10DT2H30M", Period{Years: 1, Months: 2, Days: 10, Time: 2*time.Hour + 30*time.Minute}, ""},
		{"P3W", Period{Weeks: 3}, ""},
		{"P1Y2W", Period{Years: 1, Weeks: 2}, ""},
		{"PT36H", Period{Time: 36 * time.Hour}, ""},
		{"PT90M", Period{Time: 90 * time.Minute}, "PT1H30M"},
		{"PT0.5S", Period{Time: 500 * time.Millisecond}, ""},
		{"PT0,25S", Period{Time: 250 * time.Millisecond}, "PT0.25S"},
		{"PT1.5H", Period{Time: 90 * time.Minute}, "PT1H30M"},
		{"PT0.000000001S", Period{Time: 1}, ""},
		{"-P1D", Period{Days: -1}, ""},
		{"-P1Y2M", Period{Years: -1, Months: -2}, ""},
		{"+P1D", Period{Days: 1}, "P1D"},
		{"P1M-1D", Period{Months: 1, Days: -1}, ""},
		{"P-1M1D", Period{Months: -1, Days: 1}, ""},
		{"-PT1H-30M", Period{Time: -30 * time.Minute}, "-PT30M"},
		{"-PT0.5S", Period{Time: -500 * time.Millisecond}, ""},
		{"p1y2m3dt4h5m6s", Period{Years: 1, Months: 2, Days: 3, Time: 4*time.Hour + 5*time.Minute + 6*time.Second}, "P1Y2M3DT4H5M6S"},
		{"P0D", Period{}, "PT0S"},
		{"PT0S", Period{}, ""},
		{"PT2562047H47M16.854775807S", Period{Time: time.Duration(1<<63 - 1)}, ""},
		{"-PT2562047H47M16.854775808S", Period{Time: time.Duration(-1 << 63)}, ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParsePeriod(c.in)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
			out := c.out
			if out == "" {
				out = c.in
			}
			assert.Equal(t, out, got.String())
			back, err := ParsePeriod(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, back)
		})
	}
	for _, bad := range []string{"", "P", "PT", "1D", "P1", "P1DT", "PD", "P1.5D", "P0.5Y", "P1D1Y", "P1M1M", "PT1S1H", "P1H", "PT1D",
		"PT1.0000000001S", "PT1.S", "P1DT1H.5S", "PT0.5H1M", "P1D ", " P1D", "P1DTT1H", "P--1D", "P1Q", "PT2562047H47M16.854775808S", "P99999999999999999999D", "P3000000000D"} {
		_, err := ParsePeriod(bad)
		assert.ErrorIs(t, err, ErrInvalid, "%q", bad)
		assert.True(t, errors.Is(err, ErrSyntax) || errors.Is(err, ErrOutOfRange), "%q: %v", bad, err)
	}
	var p Period
	require.NoError(t, p.UnmarshalText([]byte("P1W")))
	b, _ := p.MarshalText()
	assert.Equal(t, "P1W", string(b))
	assert.ErrorIs(t, p.UnmarshalText([]byte("P1X")), ErrSyntax)
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"P1Y2M10DT2H30M", "P3W", "-PT0.5S", "P1M-1D", "PT36H", "pt1.5h", "P", "PT", "P1.5D", "-P-1D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("%q: unclassified error %v", s, err)
			}
			return
		}
		out := p.String()
		q, err := ParsePeriod(out)
		if err != nil || q != p {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, p, out, q, err)
		}
		if q.String() != out {
			t.Fatalf("%q: String not stable: %q then %q", s, out, q.String())
		}
	})
}

func TestAddPeriod(t *testing.T) {
	ny := MustLoad("America/New_York")
	d := func(y int, m time.Month, day int) Date { return Date{y, m, day} }
	dateCases := []struct {
		from Date
		p    string
		o    Overflow
		want Date // zero: error
	}{
		{d(2024, 1, 31), "P1M", Clamp, d(2024, 2, 29)},
		{d(2024, 1, 31), "P1M", Normalize, d(2024, 3, 2)},
		{d(2024, 1, 31), "P1M", RejectOverflow, Date{}},
		{d(2020, 2, 29), "P1Y", Clamp, d(2021, 2, 28)},
		{d(2024, 1, 30), "P1M2D", Clamp, d(2024, 3, 2)}, // months first, then days (Temporal)
		{d(2023, 1, 31), "P1Y1M", Clamp, d(2024, 2, 29)},
		{d(2024, 3, 31), "-P1M", Clamp, d(2024, 2, 29)},
		{d(2024, 1, 1), "P2W3D", Clamp, d(2024, 1, 18)},
		{d(2024, 1, 1), "PT48H", Clamp, d(2024, 1, 3)},
		{d(2024, 1, 1), "PT1H", Clamp, Date{}},
		{d(9999, 12, 31), "P1D", Clamp, Date{}},
		{d(2024, 2, 30), "P1D", Clamp, Date{}},
	}
	for _, c := range dateCases {
		p, err := ParsePeriod(c.p)
		require.NoError(t, err)
		got, err := c.from.AddPeriod(p, c.o)
		if c.want == (Date{}) {
			assert.ErrorIs(t, err, ErrInvalid, "%s + %s = %s", c.from, c.p, got)
			continue
		}
		require.NoError(t, err, "%s + %s", c.from, c.p)
		assert.Equal(t, c.want, got, "%s + %s", c.from, c.p)
	}

	dt, err := (DateTime{d(2024, 1, 31), 23, 30, 0, 0}).AddPeriod(Period{Months: 1, Time: 45 * time.Minute}, Clamp)
	require.NoError(t, err)
	assert.Equal(t, "2024-03-01T00:15:00", dt.String())
	dt, err = (DateTime{d(2024, 3, 1), 0, 15, 0, 0}).AddPeriod(Period{Time: -45 * time.Minute}, Clamp)
	require.NoError(t, err)
	assert.Equal(t, "2024-02-29T23:30:00", dt.String())

	zoned := []struct {
		from string // in New York
		p    string
		pol  Policy
		want string // RFC 3339, or "error"
	}{
		{"2024-03-09T09:00:00-05:00", "P1D", Compatible, "2024-03-10T09:00:00-04:00"},
		{"2024-03-09T09:00:00-05:00", "PT24H", Compatible, "2024-03-10T10:00:00-04:00"},
		{"2024-03-09T09:00:00-05:00", "P1DT1H", Compatible, "2024-03-10T10:00:00-04:00"},
		{"2024-03-09T02:30:00-05:00", "P1D", Compatible, "2024-03-10T03:30:00-04:00"}, // into the gap
		{"2024-03-09T02:30:00-05:00", "P1D", Earlier, "2024-03-10T01:30:00-05:00"},
		{"2024-03-09T02:30:00-05:00", "P1D", Reject, "error"},
		{"2024-11-02T01:30:00-04:00", "P1D", Compatible, "2024-11-03T01:30:00-04:00"}, // into the fold
		{"2024-11-02T01:30:00-04:00", "P1D", Later, "2024-11-03T01:30:00-05:00"},
		{"2024-01-31T12:00:00-05:00", "P1M", Compatible, "2024-02-29T12:00:00-05:00"},
		{"2024-10-03T01:30:00-04:00", "P1M", Compatible, "2024-11-03T01:30:00-04:00"},
		{"2024-03-10T01:30:00-05:00", "PT1H", Compatible, "2024-03-10T03:30:00-04:00"}, // exact time across the gap
		{"9999-12-31T12:00:00-05:00", "PT24H", Compatible, "error"},
	}
	for _, c := range zoned {
		from, err := time.Parse(time.RFC3339, c.from)
		require.NoError(t, err)
		p, err := ParsePeriod(c.p)
		require.NoError(t, err)
		got, err := AddPeriod(from.In(ny), p, Clamp, c.pol)
		if c.want == "error" {
			assert.ErrorIs(t, err, ErrInvalid, "%s + %s", c.from, c.p)
			continue
		}
		require.NoError(t, err, "%s + %s", c.from, c.p)
		assert.Equal(t, c.want, got.Format(time.RFC3339), "%s + %s %v", c.from, c.p, c.pol)
		assert.Equal(t, ny, got.Location())
	}
	_, err = AddPeriod(time.Now(), Period{Days: 1}, Overflow(7), Compatible)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = AddPeriod(time.Now(), Period{Days: 1}, Clamp, Policy(77))
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestDateTimeAddPeriodProperty: on a civil DateTime, the time part is
// wall-clock arithmetic, which is UTC arithmetic on the same fields.
func TestDateTimeAddPeriodProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		base := time.Unix(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix()+r.Int64N(200*365*86400), r.Int64N(1e9)).UTC()
		dt := DateTimeOf(base)
		p := Period{Days: r.IntN(800) - 400, Time: time.Duration(r.Int64N(int64(1000*time.Hour))) - 500*time.Hour}
		got, err := dt.AddPeriod(p, Clamp)
		require.NoError(t, err)
		want := DateTimeOf(base.AddDate(0, 0, p.Days).Add(p.Time))
		require.Equal(t, want, got, "%s + %s", dt, p)
	}
}
