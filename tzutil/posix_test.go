package tzutil

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPOSIXTwins: a POSIX rule and the IANA zone it describes agree at
// every half hour over ten years (about 175,000 instants per pair), both through
// ParsePOSIX and through FromTZ.
func TestPOSIXTwins(t *testing.T) {
	twins := []struct {
		rule, zone string
		from       int // first year (rules are those in force from then on)
	}{
		{"EST5EDT,M3.2.0,M11.1.0", "America/New_York", 2015},
		{"PST8PDT,M3.2.0,M11.1.0", "America/Los_Angeles", 2015},
		{"CET-1CEST,M3.5.0,M10.5.0/3", "Europe/Berlin", 2015},
		{"GMT0BST,M3.5.0/1,M10.5.0", "Europe/London", 2015},
		{"IST-1GMT0,M10.5.0,M3.5.0/1", "Europe/Dublin", 2015}, // negative DST
		{"AEST-10AEDT,M10.1.0,M4.1.0/3", "Australia/Sydney", 2015},
		{"NZST-12NZDT,M9.5.0,M4.1.0/3", "Pacific/Auckland", 2015},
		{"<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", "Pacific/Chatham", 2015},
		{"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "America/Nuuk", 2024}, // negative rule time
		{"CST-8", "Asia/Shanghai", 2015},
		{"JST-9", "Asia/Tokyo", 2015},
		{"IST-5:30", "Asia/Kolkata", 2015},
		{"<+0545>-5:45", "Asia/Kathmandu", 2015},
		{"<-03>3", "America/Sao_Paulo", 2020},
		{"CST6", "America/Mexico_City", 2023},
		{"MST7", "America/Phoenix", 2015},
	}
	for _, tw := range twins {
		t.Run(tw.rule, func(t *testing.T) {
			iana := MustLoad(tw.zone)
			posix, err := ParsePOSIX(tw.rule)
			require.NoError(t, err)
			viaTZ, info, err := FromTZ(tw.rule)
			require.NoError(t, err)
			assert.Equal(t, SourcePOSIX, info.Source)
			start := time.Date(tw.from, 1, 1, 0, 0, 0, 0, time.UTC)
			end := start.AddDate(10, 0, 0)
			n, bad := 0, 0
			for at := start; at.Before(end); at = at.Add(30 * time.Minute) {
				_, want := at.In(iana).Zone()
				_, got := at.In(posix).Zone()
				_, got2 := at.In(viaTZ).Zone()
				n++
				if got != want || got2 != want {
					bad++
					if bad < 5 {
						t.Errorf("%s: %s gives %d, %s gives %d", at, tw.rule, got, tw.zone, want)
					}
				}
			}
			assert.Equal(t, int(end.Sub(start)/(30*time.Minute)), n, "ten years of half hours")
			assert.Zero(t, bad)
			// Day starts and transitions agree too (the #81583 guard matters:
			// every year of a POSIX location is served by the footer rule).
			for d := (Date{tw.from, 1, 1}); d.Year < tw.from+10; d = d.AddDays(1) {
				a, _ := StartOfDate(d, iana)
				b, _ := StartOfDate(d, posix)
				if !a.Equal(b) {
					t.Fatalf("%s: start %s vs %s", d, a, b)
				}
			}
			var ta, tb []int64
			for tr := range Transitions(iana, start, end) {
				ta = append(ta, tr.At.Unix())
			}
			for tr := range Transitions(posix, start, end) {
				tb = append(tb, tr.At.Unix())
			}
			assert.Equal(t, ta, tb)
		})
	}
}

func TestParsePOSIXRule(t *testing.T) {
	r, err := ParsePOSIXRule("EST5EDT")
	require.NoError(t, err)
	assert.Equal(t, POSIXRule{Std: "EST", StdOffset: -5 * 3600, Dst: "EDT", DstOffset: -4 * 3600, Start: "M3.2.0", End: "M11.1.0"}, r)
	assert.Equal(t, "EST5EDT,M3.2.0,M11.1.0", r.String())
	r, err = ParsePOSIXRule("<+0545>-5:45")
	require.NoError(t, err)
	assert.Equal(t, "+0545", r.Std)
	assert.Equal(t, 5*3600+45*60, r.StdOffset)
	assert.Equal(t, "<+0545>-5:45", r.String())

	bad := map[string]string{
		"":                           "empty",
		"CST":                        "want standard-time offset",
		"ES5":                        "shorter than 3",
		"EST25":                      "outside 0..24",
		"EST5EDT,M3.2.0":             "DST end rule",
		"EST5EDT,M13.2.0,M11.1.0":    "month 13",
		"EST5EDT,M3.6.0,M11.1.0":     "week 6",
		"EST5EDT,M3.2.7,M11.1.0":     "weekday 7",
		"EST5EDT,J0,J365":            "Julian day",
		"EST5EDT,366,1":              "zero-based day 366",
		"EST5EDT,M3.2.0/200,M11.1.0": "outside 0..167",
		"EST5,M3.2.0,M11.1.0":        "without a daylight-time name",
		"EST5EDT,M3.2.0,M11.1.0x":    "unexpected",
		"<+08-8":                     "unterminated",
		"<+8>-8":                     "shorter than 3",
		"<+0 8>-8":                   "invalid character",
		"EST5:60":                    "minutes 60",
		"asia/shanghai":              "standard-time offset",
		"UTC+8 ":                     "",
	}
	for in, want := range bad {
		_, err := ParsePOSIXRule(in)
		if assert.Error(t, err, "%q", in) {
			assert.ErrorIs(t, err, ErrPOSIX)
			assert.Contains(t, err.Error(), want, "%q", in)
		}
		_, err = ParsePOSIX(in)
		assert.ErrorIs(t, err, ErrPOSIX, "%q", in)
	}
}
