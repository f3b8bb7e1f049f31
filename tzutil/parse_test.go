package tzutil

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseInZone(t *testing.T) {
	havana := MustLoad("America/Havana")
	// golang/go#35508: ParseInLocation puts the start of 2019-03-10 on the 9th.
	std, err := time.ParseInLocation("2006-01-02", "2019-03-10", havana)
	require.NoError(t, err)
	assert.Equal(t, "2019-03-09T23:00:00-05:00", std.Format(time.RFC3339))
	got, err := ParseInZone("2006-01-02", "2019-03-10", havana, Compatible)
	require.NoError(t, err)
	assert.Equal(t, "2019-03-10T01:00:00-04:00", got.Format(time.RFC3339))
	_, err = ParseInZone("2006-01-02", "2019-03-10", havana, Reject)
	assert.ErrorIs(t, err, ErrGap)
	_, err = ParseInZone(time.RFC3339, "2019-03-10T00:00:00Z", havana, Compatible)
	assert.ErrorContains(t, err, "zone or offset")
	_, err = ParseInZone("2006-01-02", "2019-13-10", havana, Compatible)
	assert.ErrorIs(t, err, ErrSyntax)
}

func TestRFC9557(t *testing.T) {
	ny := MustLoad("America/New_York")
	cases := []struct {
		in   string
		op   OffsetPolicy
		p    Policy
		want string // RFC 3339, or "error"
	}{
		{"2024-11-03T01:30:00-04:00[America/New_York]", RejectMismatch, Compatible, "2024-11-03T01:30:00-04:00"},
		{"2024-11-03T01:30:00-05:00[America/New_York]", RejectMismatch, Compatible, "2024-11-03T01:30:00-05:00"}, // offset settles the fold
		{"2024-07-01T12:00:00-05:00[America/New_York]", RejectMismatch, Compatible, "error"},
		{"2024-07-01T12:00:00-05:00[America/New_York]", UseOffset, Compatible, "2024-07-01T13:00:00-04:00"},
		{"2024-07-01T12:00:00-05:00[America/New_York]", IgnoreOffset, Compatible, "2024-07-01T12:00:00-04:00"},
		{"2024-07-01T12:00:00-05:00[America/New_York]", PreferOffset, Compatible, "2024-07-01T12:00:00-04:00"},
		{"2024-11-03T01:30:00-05:00[America/New_York]", PreferOffset, Compatible, "2024-11-03T01:30:00-05:00"},
		{"2024-11-03T01:30:00[America/New_York]", RejectMismatch, Later, "2024-11-03T01:30:00-05:00"},
		{"2024-03-10T02:30:00-05:00[America/New_York]", RejectMismatch, Compatible, "error"}, // in the gap
		{"2024-03-10T08:00:00+08:00[Asia/Shanghai][u-ca=iso8601]", RejectMismatch, Compatible, "2024-03-10T08:00:00+08:00"},
		{"2024-03-10T08:00:00+08:00[!Asia/Shanghai]", RejectMismatch, Compatible, "2024-03-10T08:00:00+08:00"},
		{"2024-03-10T08:00:00+08:00[+08:00]", RejectMismatch, Compatible, "2024-03-10T08:00:00+08:00"},
		{"2024-03-10T08:00:00+08:00[Asia/Shanghai][!u-ca=hebrew]", RejectMismatch, Compatible, "error"},
		{"2024-03-10T08:00:00+08:00[Asia/Shangai]", RejectMismatch, Compatible, "error"},
		{"2024-03-10T08:00:00+08:00", RejectMismatch, Compatible, "error"},
		{"2024-03-10T08:00:00+08:00[]", RejectMismatch, Compatible, "error"},
		// "Z" is the exact instant whatever the offset policy (RFC 9557,
		// Temporal): 8 h off under Prefer/IgnoreOffset before.
		{"2024-03-10T00:00:00Z[Asia/Shanghai]", RejectMismatch, Compatible, "2024-03-10T08:00:00+08:00"},
		{"2024-03-10T00:00:00Z[Asia/Shanghai]", UseOffset, Compatible, "2024-03-10T08:00:00+08:00"},
		{"2024-03-10T00:00:00Z[Asia/Shanghai]", PreferOffset, Compatible, "2024-03-10T08:00:00+08:00"},
		{"2024-03-10T00:00:00Z[Asia/Shanghai]", IgnoreOffset, Compatible, "2024-03-10T08:00:00+08:00"},
		{"2024-03-10T00:00:00z[Asia/Shanghai]", IgnoreOffset, Reject, "2024-03-10T08:00:00+08:00"},
		{"2024-11-03T05:30:00Z[America/New_York]", RejectMismatch, Reject, "2024-11-03T01:30:00-04:00"}, // in the fold
		{"2024-11-03T06:30:00Z[America/New_York]", IgnoreOffset, Reject, "2024-11-03T01:30:00-05:00"},
		{"2024-03-10T07:30:00Z[America/New_York]", RejectMismatch, Reject, "2024-03-10T03:30:00-04:00"},
		{"2024-03-10T00:00:00+00:00[Asia/Shanghai]", RejectMismatch, Compatible, "error"}, // +00:00 is an offset claim
	}
	for _, c := range cases {
		got, err := ParseRFC9557(c.in, c.op, c.p)
		if c.want == "error" {
			assert.Error(t, err, c.in)
			continue
		}
		if assert.NoError(t, err, c.in) {
			assert.Equal(t, c.want, got.Format(time.RFC3339), c.in)
		}
	}
	_, err := ParseRFC9557("2024-07-01T12:00:00-05:00[America/New_York]", RejectMismatch, Compatible)
	assert.ErrorIs(t, err, ErrOffsetMismatch)

	s, err := FormatRFC9557(time.Date(2024, 11, 3, 1, 30, 0, 0, ny).Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, "2024-11-03T01:30:00-05:00[America/New_York]", s)
	back, err := ParseRFC9557(s, RejectMismatch, Compatible)
	require.NoError(t, err)
	assert.Equal(t, s, must(FormatRFC9557(back)))
	_, err = FormatRFC9557(time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	assert.Error(t, err)
	// An alias that time.LoadLocation accepts never reaches the output.
	alias, err := time.LoadLocation("Asia/./Shanghai")
	require.NoError(t, err)
	s, err = FormatRFC9557(time.Date(2024, 1, 1, 0, 0, 0, 0, alias))
	require.NoError(t, err)
	assert.Equal(t, "2024-01-01T00:00:00+08:00[Asia/Shanghai]", s)
	u, err := FormatRFC9557(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, "2024-01-01T00:00:00Z[UTC]", u)
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

func FuzzParseRFC9557(f *testing.F) {
	for _, s := range []string{"2024-11-03T01:30:00-05:00[America/New_York]", "2024-03-10T08:00:00+08:00[+08:00]", "2024-11-03T01:30:00[America/New_York][u-ca=x]", "x[", "[]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, op := range []OffsetPolicy{RejectMismatch, UseOffset, IgnoreOffset, PreferOffset} {
			got, err := ParseRFC9557(s, op, Compatible)
			if err != nil {
				continue
			}
			if got.Location() == nil {
				t.Fatalf("%q: nil location", s)
			}
			if out, err := FormatRFC9557(got); err == nil {
				back, err := ParseRFC9557(out, RejectMismatch, Compatible)
				if err != nil || !back.Equal(got) {
					t.Fatalf("%q: %q reparsed as %v, %v", s, out, back, err)
				}
			}
		}
	})
}
