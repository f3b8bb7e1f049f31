package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/tzutil"
	"github.com/spf13/cobra"
)

// dstRule is cronx's documented DST behaviour, shown with every schedule in
// a zone that has transitions.
const dstRule = "a wall time skipped by a DST gap runs once, right after the gap; " +
	"one repeated by a fold runs once, at its first reading (robfig/cron skips the first and runs the second twice)"

func (a *app) cronCmd() *cobra.Command {
	f := &redisFlags{}
	cmd := group("cron", "Show cron schedules and the runs recorded across replicas",
		a.cronNextCmd(), a.cronJobsCmd(f), a.cronHistoryCmd(f))
	f.register(cmd, "cronx:", "cronx/redislock Config.Prefix of the jobs (jobs, history)")
	return cmd
}

// nextRun is one activation of a schedule.
type nextRun struct {
	At   time.Time
	Wall string
	Note string `json:",omitempty"` // why a DST transition moved or collapsed it
}

func (a *app) cronNextCmd() *cobra.Command {
	var zone, from string
	var n int
	cmd := &cobra.Command{
		Use:   "next SPEC",
		Short: "List the next activations of a cron spec, with the DST rule",
		Long: `next parses SPEC as cronx does (5 fields, 6 with seconds first, @daily and the
other descriptors, "@every 90s" aligned to the clock, an optional CRON_TZ=Zone
prefix) and lists its next N activations in the zone. Activations moved by a
DST gap, or kept once in a fold, say so. A spec that can never fire
("0 0 30 2 *") is an error.`,
		Example: `  plumb cron next "30 2 * * *" --tz America/New_York --from 2024-03-08T00:00 -n 5
  plumb cron next "@every 90s" -n 3`,
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: fixed("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@every "),
		RunE: func(cmd *cobra.Command, argv []string) error {
			spec := argv[0]
			if n < 1 || n > 10000 {
				return usagef("-n %d: want 1 to 10000", n)
			}
			loc := time.UTC
			if zone != "" {
				var err error
				if loc, err = loadZone(zone); err != nil {
					return err
				}
			}
			// A CRON_TZ= prefix overrides --tz, as in cronx.Parse.
			bare, specZone := splitCronTZ(spec)
			if specZone != "" {
				var err error
				if loc, err = loadZone(specZone); err != nil {
					return err
				}
			}
			start := time.Now().In(loc)
			if from != "" {
				var err error
				if start, err = parseFrom(from, loc); err != nil {
					return err
				}
			}
			sched, err := cronx.Parse(spec, loc)
			if err != nil {
				return usage(err)
			}
			// probe evaluates the spec's fields on a clock with no DST, to
			// tell an activation the spec asks for from one a gap moved.
			probe, err := cronx.Parse(bare, time.UTC)
			if err != nil {
				return usage(err)
			}
			every := strings.HasPrefix(strings.TrimSpace(bare), "@every")
			runs := []nextRun{}
			t := start
			for range n {
				t = sched.Next(t)
				if t.IsZero() {
					break
				}
				t = t.In(loc)
				r := nextRun{At: t, Wall: t.Format("2006-01-02 15:04:05 Mon MST")}
				if !every {
					r.Note = dstNote(t, loc, probe)
				}
				runs = append(runs, r)
			}
			// A zone "has DST" here when an offset changes within a year of
			// the listed activations.
			hasDST := false
			year := 366 * 24 * time.Hour
			if tr, ok := tzutil.NextTransition(loc, start); ok && tr.At.Before(t.Add(year)) {
				hasDST = true
			} else if tr, ok := tzutil.PrevTransition(loc, start); ok && tr.At.After(start.Add(-year)) {
				hasDST = true
			}
			rule := ""
			switch {
			case every:
				rule = "@every counts real time from the Unix epoch: DST does not move it"
			case hasDST:
				rule = dstRule
			default:
				rule = loc.String() + " has no DST transition near these dates"
			}
			if a.isJSON() {
				return a.json(struct {
					Spec, Zone string
					From       time.Time
					DSTRule    string
					Next       []nextRun
				}{spec, loc.String(), start, rule, runs})
			}
			fmt.Fprintf(a.Stdout, "%s in %s\n%s\n\n", spec, loc, wrap("DST: "+rule, 100, "     "))
			tw := a.table()
			fmt.Fprintln(tw, "#\tWALL CLOCK\tUTC\tNOTE")
			for i, r := range runs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", i+1, r.Wall, r.At.UTC().Format(time.RFC3339), r.Note)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&zone, "tz", "", "zone the spec runs in (default UTC; a CRON_TZ= prefix wins)")
	cmd.Flags().IntVarP(&n, "count", "n", 5, "how many activations")
	cmd.Flags().StringVar(&from, "from", "", "start after this time (RFC 3339, or a wall time YYYY-MM-DDTHH:MM in the zone; default now)")
	cmd.RegisterFlagCompletionFunc("tz", completeZones)
	return cmd
}

// splitCronTZ splits a "CRON_TZ=Zone " or "TZ=Zone " prefix off spec.
func splitCronTZ(spec string) (bare, zone string) {
	s := strings.TrimSpace(spec)
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			zone, bare, _ = strings.Cut(rest, " ")
			return strings.TrimSpace(bare), zone
		}
	}
	return s, ""
}

// parseFrom reads --from as RFC 3339 or as a wall time in loc.
func parseFrom(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), nil
	}
	wall, err := tzutil.ParseDateTime(s)
	if err != nil {
		return time.Time{}, usagef("--from %q: want RFC 3339 (2024-03-10T02:30:00Z) or a wall time (2024-03-10T02:30)", s)
	}
	t, err := tzutil.At(wall, loc, tzutil.Compatible)
	if err != nil {
		return time.Time{}, usage(err)
	}
	return t, nil
}

// dstNote explains an activation that a DST transition shaped, or "".
func dstNote(t time.Time, loc *time.Location, probe cronx.Schedule) string {
	wall := tzutil.DateTimeOf(t)
	if tr, ok := tzutil.PrevTransition(loc, t.Add(time.Nanosecond)); ok && tr.At.Equal(t) && tr.IsGap() {
		// Does the spec ask for this wall time itself (say 03:00), or was a
		// skipped one (02:30) moved here?
		asUTC := time.Date(wall.Year, wall.Month, wall.Day, wall.Hour, wall.Minute, wall.Second, 0, time.UTC)
		if !probe.Next(asUTC.Add(-time.Second)).Equal(asUTC) {
			return fmt.Sprintf("DST gap: %s-%s skipped; runs once here", clock(tr.WallBefore()), clock(tr.WallAfter()))
		}
		return ""
	}
	res, err := tzutil.Resolve(wall, loc)
	if err == nil && res.Kind == tzutil.Fold {
		return fmt.Sprintf("DST fold: %s happens twice; runs at %s only, not %s",
			clock(wall), res.Earlier.Format("MST"), res.Later.Format("MST"))
	}
	return ""
}

func clock(d tzutil.DateTime) string {
	return fmt.Sprintf("%02d:%02d", d.Hour, d.Minute)
}
