// Command tzutil-days shows what tzutil fixes about days and time zones:
// "midnight today" in Asia/Shanghai without touching time.Local, the start
// and length of DST days where time.Date gets them wrong, the policy
// answers for a skipped and a repeated wall time, and the doctor report.
//
//	go run ./examples/tzutil-days
//
// It needs no server and no arguments.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/goplumb/plumb/tzutil"
	// A main package embeds the tz database so the binary also works in
	// images without /usr/share/zoneinfo; the doctor reports it.
	_ "github.com/goplumb/plumb/tzutil/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tzutil-days:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if err := midnightToday(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := dayTable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := policies(); err != nil {
		return err
	}
	doctor()
	return nil
}

func midnightToday() error {
	fmt.Println("== 1. \"Midnight today\" in Asia/Shanghai")
	fmt.Println()
	// The widespread way: time.Local = time.FixedZone("CST", 8*3600), then
	// time.Date(y, m, d, 0, 0, 0, 0, time.Local). Assigning time.Local is a
	// data race with every goroutine calling time.Now (golang/go#28999), so
	// this program only builds the same FixedZone and never assigns it.
	blog := time.FixedZone("CST", 8*3600)
	now := time.Now().In(blog)
	y, m, d := now.Date()
	blogMidnight := time.Date(y, m, d, 0, 0, 0, 0, blog)

	// tzutil: an explicit zone value, no global.
	sh, err := tzutil.Load("Asia/Shanghai")
	if err != nil {
		return err
	}
	zone := tzutil.Zone{Location: sh}
	right := zone.StartOfToday()
	fmt.Printf("  FixedZone(\"CST\", +8h) + time.Date: %s  unix %d\n", blogMidnight.Format(time.RFC1123), blogMidnight.Unix())
	fmt.Printf("  tzutil.Zone{Asia/Shanghai}.StartOfToday: %s  unix %d\n", right.Format(time.RFC1123), right.Unix())
	fmt.Println("  Same instant today (China has no DST), but the FixedZone value carries the name \"CST\":")
	back, err := time.Parse(time.RFC1123, blogMidnight.Format(time.RFC1123))
	if err != nil {
		return err
	}
	fmt.Printf("    formatted and parsed back by Go:  %s (%s off: Go takes \"CST\" as +0)\n", back.UTC().Format(time.RFC3339), back.Sub(blogMidnight))
	fmt.Println("    parsed by PostgreSQL or in Chicago: US Central Standard Time, -06:00 (14 h off)")
	fmt.Println("  And the same code in a DST zone goes wrong on DST days; see the table.")

	// What the process's own TZ means, without trusting time.Local.
	if err := tzutil.CheckLocal(); err != nil {
		fmt.Println("  CheckLocal:", err)
	} else {
		name, _ := tzutil.LocalName()
		fmt.Printf("  CheckLocal: time.Local agrees with TZ (local zone %q)\n", name)
	}
	fmt.Println()
	return nil
}

func dayTable() error {
	fmt.Println("== 2. Start and length of DST days: time.Date(y, m, d, 0, 0, 0, 0, loc) vs tzutil")
	fmt.Println()
	days := []struct {
		zone, date, why string
	}{
		{"America/New_York", "2024-03-10", "spring forward 02:00"},
		{"America/New_York", "2024-11-03", "fall back 02:00"},
		{"Europe/London", "2024-03-31", "spring forward 01:00"},
		{"America/Sao_Paulo", "2018-11-04", "midnight skipped"},
		{"America/Havana", "2024-03-10", "midnight skipped"},
		{"America/Havana", "2024-11-03", "midnight happens twice"},
		{"Asia/Beirut", "2024-03-31", "midnight skipped (east of UTC)"},
		{"Atlantic/Azores", "2024-10-27", "midnight happens twice"},
		{"Australia/Lord_Howe", "2024-04-07", "30-minute shift"},
		{"Pacific/Apia", "2011-12-30", "the whole day skipped"},
	}
	// Two tables, so that each fits in 100 columns: what the day is, then
	// what each way of computing its midnight returns.
	what := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', 0)
	fmt.Fprintln(what, "  zone\tdate\twhat happens\ttzutil.DayLength")
	w := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', 0)
	fmt.Fprintln(w, "  zone\tdate\ttime.Date midnight\tPostgreSQL\ttzutil.StartOfDate")
	for _, d := range days {
		loc, err := tzutil.Load(d.zone)
		if err != nil {
			return err
		}
		date, err := tzutil.ParseDate(d.date)
		if err != nil {
			return err
		}
		start, err := tzutil.StartOfDate(date, loc)
		if err != nil {
			return err
		}
		n, err := tzutil.DayLength(date, loc)
		if err != nil {
			return err
		}
		naive := time.Date(date.Year, date.Month, date.Day, 0, 0, 0, 0, loc)
		// What '<date>'::timestamp AT TIME ZONE '<zone>' returns on the
		// server (tzutil.PostgreSQL is checked against a live server).
		pg, err := tzutil.At(tzutil.DateTime{Date: date}, loc, tzutil.PostgreSQL)
		if err != nil {
			return err
		}
		mark := func(t time.Time) string {
			if t.Equal(start) {
				return "  " + t.Format("01-02 15:04 -07:00")
			}
			return "✗ " + t.Format("01-02 15:04 -07:00")
		}
		fmt.Fprintf(what, "  %s\t%s\t%s\t%s\n", d.zone, d.date, d.why, n)
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t  %s\n", d.zone, d.date, mark(naive), mark(pg), start.Format("01-02 15:04 -07:00"))
	}
	if err := what.Flush(); err != nil {
		return err
	}
	fmt.Println()
	fmt.Println("  The first instant of each of those days:")
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Println("  ✗ = not the first instant of the day. jinzhu/now and carbon call time.Date;")
	fmt.Println("      PostgreSQL's date::timestamp AT TIME ZONE takes the later of two midnights.")
	ny := tzutil.MustLoad("America/New_York")
	a := time.Date(2024, 3, 10, 0, 0, 0, 0, ny)
	b := time.Date(2024, 3, 11, 0, 0, 0, 0, ny)
	fmt.Printf("  Days from %s to %s: (b-a)/24h = %d, tzutil.DaysBetween = %d\n", a.Format("Jan 2"), b.Format("Jan 2"), int(b.Sub(a)/(24*time.Hour)), tzutil.DaysBetween(a, b, ny))
	fmt.Println()
	return nil
}

func policies() error {
	fmt.Println("== 3. One wall time, several instants: policies in America/New_York")
	fmt.Println()
	ny := tzutil.MustLoad("America/New_York")
	w := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', 0)
	var rejected []string
	for _, s := range []string{"2024-03-10T02:30", "2024-11-03T01:30"} {
		wall, err := tzutil.ParseDateTime(s)
		if err != nil {
			return err
		}
		r, err := tzutil.Resolve(wall, ny)
		if err != nil {
			return err
		}
		naive := time.Date(wall.Year, wall.Month, wall.Day, wall.Hour, wall.Minute, 0, 0, ny)
		fmt.Fprintf(w, "  %s\t%s at %s\n", s, r.Kind, r.Transition.UTC().Format("15:04Z"))
		fmt.Fprintf(w, "    time.Date\t%s\t(\"does not guarantee which\")\n", naive.Format(time.RFC3339))
		for _, p := range []tzutil.Policy{tzutil.Compatible, tzutil.Earlier, tzutil.Later, tzutil.StartOfGap, tzutil.PostgreSQL, tzutil.Reject} {
			t, err := tzutil.At(wall, ny, p)
			if err != nil {
				fmt.Fprintf(w, "    %s\terror (below)\n", p)
				rejected = append(rejected, wrap("  "+p.String()+" at "+s+":", err))
				continue
			}
			fmt.Fprintf(w, "    %s\t%s\n", p, t.Format(time.RFC3339))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, r := range rejected {
		fmt.Print(r)
	}
	fmt.Println()
	return nil
}

func doctor() {
	fmt.Println("== 4. tzutil.Doctor(\"Asia/Shanghai\", \"America/New_York\")")
	fmt.Println()
	r := tzutil.Doctor("Asia/Shanghai", "America/New_York")
	for _, line := range splitLines(r.String()) {
		fmt.Println("  " + line)
	}
	_, err := tzutil.Load("Asia/Shangai")
	fmt.Println("  and a typo:", err)
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// wrap returns prefix and text as lines of at most 100 columns (a word
// longer than that stands alone), continuation lines indented by four
// spaces, each ending in a newline.
func wrap(prefix string, text any) string {
	var b strings.Builder
	line := prefix
	for _, w := range strings.Fields(fmt.Sprint(text)) {
		switch {
		case strings.TrimSpace(line) == "": // only indentation so far
			line += w
		case len(line)+1+len(w) > 100:
			b.WriteString(line + "\n")
			line = "    " + w
		default:
			if !strings.HasSuffix(line, " ") {
				line += " "
			}
			line += w
		}
	}
	b.WriteString(line + "\n")
	return b.String()
}
