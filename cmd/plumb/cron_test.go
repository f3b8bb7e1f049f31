package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type cronNextOut struct {
	Zone, DSTRule string
	Next          []nextRun
}

func cronNext(t *testing.T, argv ...string) cronNextOut {
	t.Helper()
	r := run(t, nil, append([]string{"cron", "next", "-o", "json"}, argv...)...)
	wantCode(t, r, 0)
	var out cronNextOut
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	return out
}

func TestCronNextDST(t *testing.T) {
	// 02:30 does not exist in New York on 2024-03-10: cronx runs it once at 03:00 EDT.
	out := cronNext(t, "30 2 * * *", "--tz", "America/New_York", "--from", "2024-03-09T12:00", "-n", "2")
	if len(out.Next) != 2 || !out.Next[0].At.Equal(time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC)) ||
		!strings.Contains(out.Next[0].Note, "DST gap") || out.Next[1].Note != "" {
		t.Fatalf("gap: %+v", out.Next)
	}
	if !strings.Contains(out.DSTRule, "runs once, right after the gap") {
		t.Fatalf("rule %q", out.DSTRule)
	}
	// 03:00 itself is asked for by "0 3": no note.
	out = cronNext(t, "0 3 * * *", "--tz", "America/New_York", "--from", "2024-03-09T12:00", "-n", "1")
	if out.Next[0].Note != "" {
		t.Fatalf("03:00 on the gap day noted: %q", out.Next[0].Note)
	}
	// 01:30 happens twice on 2024-11-03: one run, at the EDT reading.
	out = cronNext(t, "30 1 * * *", "--tz", "America/New_York", "--from", "2024-11-02T12:00", "-n", "2")
	if !out.Next[0].At.Equal(time.Date(2024, 11, 3, 5, 30, 0, 0, time.UTC)) || !strings.Contains(out.Next[0].Note, "DST fold") ||
		!out.Next[1].At.Equal(time.Date(2024, 11, 4, 6, 30, 0, 0, time.UTC)) {
		t.Fatalf("fold: %+v", out.Next)
	}
	// A CRON_TZ= prefix wins over --tz; Shanghai has no DST.
	out = cronNext(t, "CRON_TZ=Asia/Shanghai 0 9 * * *", "--tz", "America/New_York", "--from", "2024-03-09T00:00:00Z", "-n", "1")
	if out.Zone != "Asia/Shanghai" || !out.Next[0].At.Equal(time.Date(2024, 3, 9, 1, 0, 0, 0, time.UTC)) || strings.Contains(out.DSTRule, "gap") {
		t.Fatalf("CRON_TZ: %+v", out)
	}
	out = cronNext(t, "@every 90s", "--from", "2024-01-01T00:00:00Z", "-n", "2")
	if !out.Next[1].At.Equal(time.Date(2024, 1, 1, 0, 3, 0, 0, time.UTC)) || !strings.Contains(out.DSTRule, "real time") {
		t.Fatalf("@every: %+v", out)
	}
	tbl := run(t, nil, "cron", "next", "30 2 * * *", "--tz", "America/New_York", "--from", "2024-03-09T12:00", "-n", "1")
	wantCode(t, tbl, 0)
	if !strings.Contains(tbl.Stdout, "DST: ") || !strings.Contains(tbl.Stdout, "2024-03-10 03:00:00 Sun EDT") {
		t.Fatalf("table:\n%s", tbl.Stdout)
	}
}

func TestCronNextBadInput(t *testing.T) {
	for _, tt := range []struct {
		name     string
		argv     []string
		contains string
	}{
		{"never fires", []string{"0 0 30 2 *"}, "can never fire"},
		{"bad field", []string{"61 * * * *"}, "invalid spec"},
		{"bad zone", []string{"0 3 * * *", "--tz", "Europe/Pari"}, "unknown zone"},
		{"bad count", []string{"0 3 * * *", "-n", "0"}, "-n 0"},
		{"bad from", []string{"0 3 * * *", "--from", "tomorrow"}, "--from"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, append([]string{"cron", "next"}, tt.argv...)...)
			wantCode(t, r, exitUsage)
			oneLineError(t, r, tt.contains)
		})
	}
}
