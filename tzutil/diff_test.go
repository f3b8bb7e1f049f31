package tzutil

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDateUntil(t *testing.T) {
	d := func(y int, m time.Month, day int) Date { return Date{y, m, day} }
	cases := []struct {
		a, b    Date
		largest Unit
		want    string
	}{
		{d(2024, 1, 31), d(2024, 3, 1), Month, "P1M1D"},
		{d(2024, 3, 1), d(2024, 1, 31), Month, "-P1M1D"},
		{d(2024, 1, 31), d(2024, 2, 29), Month, "P29D"},
		{d(2024, 2, 29), d(2025, 2, 28), Year, "P11M30D"},
		{d(2024, 2, 29), d(2028, 2, 29), Year, "P4Y"},
		{d(2024, 3, 31), d(2024, 2, 29), Month, "-P1M"},
		{d(2024, 2, 29), d(2025, 3, 1), Year, "P1Y1D"},
		{d(2020, 1, 15), d(2024, 3, 14), Year, "P4Y1M28D"},
		{d(2020, 1, 15), d(2024, 3, 14), Month, "P49M28D"},
		{d(2024, 1, 1), d(2024, 3, 1), Week, "P8W4D"},
		{d(2024, 1, 1), d(2024, 3, 1), Day, "P60D"},
		{d(2024, 1, 1), d(2024, 1, 1), Year, "PT0S"},
		{d(2024, 5, 31), d(2024, 6, 30), Month, "P30D"},
		{d(2024, 5, 31), d(2024, 7, 31), Month, "P2M"},
		{d(1900, 1, 1), d(9999, 12, 31), Month, "P97199M30D"},
		{d(2024, 5, 30), d(2024, 6, 30), Month, "P1M"},
	}
	for _, c := range cases {
		p, err := c.a.Until(c.b, c.largest)
		require.NoError(t, err)
		assert.Equal(t, c.want, p.String(), "%s until %s (%v)", c.a, c.b, c.largest)
		back, err := c.a.AddPeriod(p, Clamp)
		require.NoError(t, err)
		assert.Equal(t, c.b, back, "%s + %s", c.a, p)
		s, err := c.a.Since(c.b, c.largest)
		require.NoError(t, err)
		assert.Equal(t, p.Negate(), s)
	}
	_, err := d(2024, 1, 1).Until(d(2024, 2, 1), Hour)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = d(2024, 2, 30).Until(d(2024, 2, 1), Day)
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestDateUntilProperty: over random date pairs, d + d.Until(e) = e, and
// no larger count of the largest unit fits (the months are the most that
// do not pass e).
func TestDateUntilProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	base := Date{1900, 1, 1}.days()
	for range n {
		a := dateFromDays(base + r.Int64N(73000))
		b := dateFromDays(base + r.Int64N(73000))
		if r.IntN(3) == 0 {
			b = dateFromDays(a.days() + r.Int64N(70) - 35)
		}
		for _, u := range []Unit{Day, Week, Month, Year} {
			p, err := a.Until(b, u)
			require.NoError(t, err)
			back, err := a.AddPeriod(p, Clamp)
			require.NoError(t, err)
			require.Equal(t, b, back, "%s + %s (%s until %s by %v)", a, p, a, b, u)
			if u >= Month && p.Years*12+p.Months != 0 || u == Year {
				// One more month would pass e (Temporal's ISODateSurpasses):
				// the month count is the largest that fits.
				sign := b.Compare(a)
				if sign != 0 {
					total := int64(a.Year)*12 + int64(a.Month-1) + int64(p.Years*12+p.Months+sign)
					y, m := int(total/12), time.Month(total%12+1)
					beyond := Date{y, m, a.Day}
					c := 0
					if y != b.Year || m != b.Month {
						c = cmpInt(y*12+int(m), b.Year*12+int(b.Month))
					} else {
						c = cmpInt(a.Day, b.Day)
					}
					require.Equal(t, sign, c, "%s until %s by %v = %s: %s would not pass %s", a, b, u, p, beyond, b)
				}
			}
			if p.sign() == 2 {
				t.Fatalf("%s until %s by %v = %s has mixed signs", a, b, u, p)
			}
		}
	}
}

func TestUntilZoned(t *testing.T) {
	ny := MustLoad("America/New_York")
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v.In(ny)
	}
	cases := []struct {
		a, b    string
		largest Unit
		want    string
	}{
		{"2024-03-09T12:00:00-05:00", "2024-03-10T12:00:00-04:00", Day, "P1D"}, // 23 hours
		{"2024-03-09T12:00:00-05:00", "2024-03-10T12:00:00-04:00", Hour, "PT23H"},
		{"2024-03-09T12:00:00-05:00", "2024-03-10T11:00:00-04:00", Day, "PT22H"},
		{"2024-11-02T12:00:00-04:00", "2024-11-03T12:00:00-05:00", Day, "P1D"}, // 25 hours
		{"2024-11-03T12:00:00-05:00", "2024-11-02T12:00:00-04:00", Day, "-P1D"},
		{"2024-01-31T10:00:00-05:00", "2024-03-01T09:00:00-05:00", Month, "P29DT23H"}, // Feb 31 would pass Feb 29
		{"2024-01-31T10:00:00-05:00", "2024-03-01T10:00:00-05:00", Year, "P1M1D"},
		{"2024-01-31T10:00:00-05:00", "2024-03-01T09:00:00-05:00", Week, "P4W1DT23H"},
		{"2024-03-01T09:00:00-05:00", "2024-01-31T10:00:00-05:00", Month, "-P1MT23H"},
		{"2020-02-29T00:00:00-05:00", "2024-02-29T00:00:00-05:00", Year, "P4Y"},
	}
	for _, c := range cases {
		a, b := at(c.a), at(c.b)
		p, err := Until(a, b, c.largest)
		require.NoError(t, err)
		assert.Equal(t, c.want, p.String(), "%s until %s by %v", c.a, c.b, c.largest)
		back, err := AddPeriod(a, p, Clamp, Compatible)
		require.NoError(t, err)
		assert.True(t, back.Equal(b), "%s + %s = %s, want %s", c.a, p, back, c.b)
		s, err := Since(a, b, c.largest)
		require.NoError(t, err)
		assert.Equal(t, p.Negate(), s)
	}
	_, err := Until(time.Now(), time.Now(), Unit(0))
	assert.ErrorIs(t, err, ErrInvalid)
	for s, want := range map[string]Unit{"hours": Hour, "Day": Day, "ms": Millisecond, "ns": Nanosecond, "us": Microsecond, "months": Month, "YEAR": Year} {
		u, err := ParseUnit(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, u, s)
	}
	_, err = ParseUnit("fortnight")
	assert.ErrorIs(t, err, ErrInvalid)
}
