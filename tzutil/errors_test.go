package tzutil

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestErrInvalid: every bad-input error matches ErrInvalid (and its
// narrower sentinel); environment errors do not.
func TestErrInvalid(t *testing.T) {
	ny := MustLoad("America/New_York")
	gapWall := DateTime{Date{2024, 3, 10}, 2, 30, 0, 0}
	foldWall := DateTime{Date{2024, 11, 3}, 1, 30, 0, 0}
	call := func(f func() error) error { return f() }
	cases := []struct {
		name   string
		err    error
		narrow error // nil: ErrInvalid itself
	}{
		{"empty name", call(func() error { _, err := Load(""); return err }), nil},
		{"Local", call(func() error { _, err := Load("Local"); return err }), nil},
		{"dotdot", call(func() error { _, err := Load("../etc/passwd"); return err }), nil},
		{"unknown zone", call(func() error { _, err := Load("Asia/Shangai"); return err }), ErrUnknownZone},
		{"bad POSIX", call(func() error { _, err := ParsePOSIX("EST5EDT,M3"); return err }), ErrPOSIX},
		{"bad date", call(func() error { _, err := ParseDate("2023-02-29"); return err }), ErrOutOfRange},
		{"date syntax", call(func() error { _, err := ParseDate("2023/02/28"); return err }), ErrSyntax},
		{"gap", call(func() error { _, err := At(gapWall, ny, Reject); return err }), ErrGap},
		{"fold", call(func() error { _, err := At(foldWall, ny, Reject); return err }), ErrFold},
		{"policy", call(func() error { _, err := At(foldWall, ny, Policy(99)); return err }), nil},
		{"parse policy", call(func() error { _, err := ParsePolicy("latest"); return err }), nil},
		{"overflow", call(func() error { _, err := (Date{2024, 1, 31}).AddMonths(1, Overflow(9)); return err }), nil},
		{"offset policy", call(func() error {
			_, err := ParseRFC9557("2024-01-01T00:00:00+08:00[Asia/Shanghai]", OffsetPolicy(9), Compatible)
			return err
		}), nil},
		{"offset mismatch", call(func() error {
			_, err := ParseRFC9557("2024-01-01T00:00:00+09:00[Asia/Shanghai]", RejectMismatch, Compatible)
			return err
		}), ErrOffsetMismatch},
		{"year", call(func() error { _, err := YearTransitions(ny, 0); return err }), ErrOutOfRange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Error(t, c.err)
			assert.ErrorIs(t, c.err, ErrInvalid, "%v", c.err)
			if c.narrow != nil {
				assert.ErrorIs(t, c.err, c.narrow)
			}
		})
	}
	for _, env := range []error{ErrNoTZData, ErrBadData, ErrUnknownLocal, ErrLocalMismatch} {
		assert.False(t, errors.Is(env, ErrInvalid), "%v is about the environment, not input", env)
	}
	_, err := Load("Local")
	assert.EqualError(t, err, `tzutil: invalid zone name "Local": "Local" is not a zone; use time.Local explicitly, or LocalName/FromTZ to learn what it should be`)
}

func TestParsePolicy(t *testing.T) {
	for p := Compatible; p <= StartOfGap; p++ {
		b, err := p.MarshalText()
		require.NoError(t, err)
		var q Policy
		require.NoError(t, q.UnmarshalText(b))
		assert.Equal(t, p, q)
	}
	for s, want := range map[string]Policy{"later": Later, "START-OF-GAP": StartOfGap, "start_of_gap": StartOfGap, "pg": PostgreSQL, "Reject": Reject} {
		got, err := ParsePolicy(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
	_, err := Policy(42).MarshalText()
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestReportJSON(t *testing.T) {
	ld := &Loader{LookupEnv: func(k string) (string, bool) {
		if k == "TZ" {
			return "Asia/Shanghai", true
		}
		return "", false
	}}
	r := ld.doctor(MustLoad("Asia/Shanghai"), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), []string{"Europe/Berlin", "Asia/Shangai"})
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var got struct {
		TZ    *string
		Zones []struct {
			Name, Source, Error string
			OK                  bool
		}
		Problems []string
		OK       bool
	}
	require.NoError(t, json.Unmarshal(b, &got))
	require.NotNil(t, got.TZ)
	assert.Equal(t, "Asia/Shanghai", *got.TZ)
	require.Len(t, got.Zones, 2)
	assert.True(t, got.Zones[0].OK)
	assert.Equal(t, "system", got.Zones[0].Source)
	assert.False(t, got.Zones[1].OK)
	assert.Contains(t, got.Zones[1].Error, `did you mean "Asia/Shanghai"`)
	assert.False(t, got.OK)
	assert.Len(t, got.Problems, len(r.Problems))
}

func TestParseOverflow(t *testing.T) {
	for s, want := range map[string]Overflow{"clamp": Clamp, "Constrain": Clamp, "normalize": Normalize, "reject-overflow": RejectOverflow, "REJECT": RejectOverflow} {
		got, err := ParseOverflow(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
	_, err := ParseOverflow("wrap")
	assert.ErrorIs(t, err, ErrInvalid)
}
