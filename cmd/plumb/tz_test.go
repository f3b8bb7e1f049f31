package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestTzAtGapAndFold(t *testing.T) {
	tests := []struct {
		name, wall, policy string
		wantUTC            string
		wantKind           string
	}{
		{"gap compatible", "2024-03-10T02:30", "compatible", "2024-03-10T07:30:00Z", "gap"},
		{"gap earlier", "2024-03-10T02:30", "earlier", "2024-03-10T06:30:00Z", "gap"},
		{"gap start-of-gap", "2024-03-10T02:30", "start-of-gap", "2024-03-10T07:00:00Z", "gap"},
		{"fold compatible", "2024-11-03 01:30", "compatible", "2024-11-03T05:30:00Z", "fold"},
		{"fold later", "2024-11-03 01:30", "later", "2024-11-03T06:30:00Z", "fold"},
		{"unique", "2024-07-01T12:00", "reject", "2024-07-01T16:00:00Z", "unique"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, "tz", "at", tt.wall, "America/New_York", "--policy", tt.policy, "-o", "json")
			wantCode(t, r, 0)
			var got struct {
				Kind    string
				Instant time.Time
			}
			if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
				t.Fatalf("json: %v\n%s", err, r.Stdout)
			}
			if got.Kind != tt.wantKind || got.Instant.UTC().Format(time.RFC3339) != tt.wantUTC {
				t.Fatalf("got %s %s, want %s %s", got.Kind, got.Instant.UTC().Format(time.RFC3339), tt.wantKind, tt.wantUTC)
			}
			table := run(t, nil, "tz", "at", tt.wall, "America/New_York", "--policy", tt.policy)
			wantCode(t, table, 0)
			if !strings.Contains(table.Stdout, tt.wantUTC) {
				t.Fatalf("table output lacks %s:\n%s", tt.wantUTC, table.Stdout)
			}
		})
	}
}

func TestTzAtRejectFails(t *testing.T) {
	r := run(t, nil, "tz", "at", "2024-03-10T02:30", "America/New_York", "--policy", "reject")
	wantCode(t, r, 1)
	if !strings.Contains(r.Stdout, "does not exist") || !strings.Contains(r.Stderr, "plumb: tzutil:") {
		t.Fatalf("want the gap explained and tzutil's error:\n%s\n%s", r.Stdout, r.Stderr)
	}
}

func TestTzBadInput(t *testing.T) {
	tests := []struct {
		name     string
		argv     []string
		contains string
	}{
		{"unknown zone", []string{"tz", "day", "Asia/Shangai"}, `did you mean "Asia/Shanghai"`},
		{"bad date", []string{"tz", "day", "UTC", "2024-02-30"}, "2024-02-30"},
		{"bad year", []string{"tz", "transitions", "UTC", "20x4"}, "year"},
		{"bad policy", []string{"tz", "at", "2024-03-10T02:30", "UTC", "--policy", "soon"}, "--policy"},
		{"bad wall", []string{"tz", "at", "yesterday", "UTC"}, "yesterday"},
		{"missing args", []string{"tz", "at", "2024-03-10T02:30"}, "accepts 2 arg"},
		{"unknown subcommand", []string{"tz", "nope"}, `unknown command "nope"`},
		{"bad output", []string{"tz", "day", "UTC", "-o", "yaml"}, "want table or json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, tt.argv...)
			wantCode(t, r, exitUsage)
			oneLineError(t, r, tt.contains)
		})
	}
}

func TestTzDay(t *testing.T) {
	r := run(t, nil, "tz", "day", "America/Santiago", "2024-09-08", "-o", "json")
	wantCode(t, r, 0)
	var got struct {
		Start, End    time.Time
		LengthSeconds float64
	}
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatal(err)
	}
	// Chile skipped midnight on 2024-09-08: the day starts at 01:00 and lasts 23h.
	if got.Start.Hour() != 1 || got.LengthSeconds != 23*3600 || got.End.Sub(got.Start) != 23*time.Hour {
		t.Fatalf("got start %s, length %vs", got.Start, got.LengthSeconds)
	}
	r = run(t, nil, "tz", "day", "Europe/London", "2024-10-27")
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, "25h0m0s") {
		t.Fatalf("want a 25h day:\n%s", r.Stdout)
	}
}

func TestTzTransitions(t *testing.T) {
	r := run(t, nil, "tz", "transitions", "America/New_York", "2024", "-o", "json")
	wantCode(t, r, 0)
	var got struct {
		Transitions []struct {
			At   time.Time
			Kind string
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Transitions) != 2 || got.Transitions[0].Kind != "gap" || got.Transitions[1].Kind != "fold" ||
		!got.Transitions[0].At.Equal(time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC)) {
		t.Fatalf("got %+v", got.Transitions)
	}
	r = run(t, nil, "tz", "transitions", "Asia/Shanghai", "2024")
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, "no offset change in 2024") {
		t.Fatalf("got %s", r.Stdout)
	}
}

func TestTzDoctor(t *testing.T) {
	r := run(t, nil, "tz", "doctor", "Asia/Shanghai", "-o", "json")
	var got struct {
		OK    bool
		Zones []struct{ Name, Error string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, r.Stdout)
	}
	if len(got.Zones) != 1 || got.Zones[0].Name != "Asia/Shanghai" || got.Zones[0].Error != "" {
		t.Fatalf("zones %+v", got.Zones)
	}
	if (r.Code == 0) != got.OK {
		t.Fatalf("exit status %d but OK=%v", r.Code, got.OK)
	}
	r = run(t, nil, "tz", "doctor", "Mars/Olympus")
	wantCode(t, r, exitFailure)
	if !strings.Contains(r.Stdout, "Mars/Olympus") {
		t.Fatalf("doctor does not report the zone:\n%s", r.Stdout)
	}
}
