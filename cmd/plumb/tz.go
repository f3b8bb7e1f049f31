package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goplumb/plumb/tzutil"
	"github.com/spf13/cobra"
)

func (a *app) tzCmd() *cobra.Command {
	return group("tz", "Explain time zones: tzdata health, day bounds, DST transitions, wall times",
		a.tzDoctorCmd(), a.tzDayCmd(), a.tzTransitionsCmd(), a.tzAtCmd())
}

// completeZones completes IANA zone names from the zones tzutil knows.
func completeZones(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, z := range commonZones {
		if strings.HasPrefix(strings.ToLower(z), strings.ToLower(prefix)) {
			out = append(out, z)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// commonZones feeds completion; any IANA name is accepted.
var commonZones = []string{
	"UTC", "Africa/Cairo", "Africa/Johannesburg", "America/Chicago", "America/Denver",
	"America/Los_Angeles", "America/New_York", "America/Santiago", "America/Sao_Paulo",
	"Asia/Kolkata", "Asia/Shanghai", "Asia/Tokyo", "Australia/Lord_Howe", "Australia/Sydney",
	"Europe/Berlin", "Europe/London", "Europe/Moscow", "Europe/Paris", "Pacific/Apia",
	"Pacific/Auckland",
}

// loadZone loads a zone; an unknown name is a usage error with tzutil's
// suggestion.
func loadZone(name string) (*time.Location, error) {
	loc, err := tzutil.Load(name)
	if err != nil {
		if errors.Is(err, tzutil.ErrInvalid) {
			return nil, usage(err)
		}
		return nil, err
	}
	return loc, nil
}

func (a *app) tzDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor [ZONE...]",
		Short: "Check where tzdata comes from, whether TZ and time.Local agree, and load zones",
		Long: `doctor reports the Go version, the TZ and ZONEINFO variables, the system
zoneinfo directory and its tzdata version, whether tzdata is embedded, and
loads each ZONE given. It exits 1 when it found a problem (each with its fix).`,
		Example:           "  plumb tz doctor\n  plumb tz doctor Asia/Shanghai America/New_York",
		ValidArgsFunction: completeZones,
		RunE: func(cmd *cobra.Command, zones []string) error {
			r := tzutil.Doctor(zones...)
			if a.isJSON() {
				type zone struct {
					Name, Source, Path, DataVersion, Note, Error string `json:",omitempty"`
				}
				out := struct {
					GoVersion, TZ, Local, LocalSource, ZONEINFO, SystemDir, SystemVersion, GOROOTZip string
					TZSet, Embedded, OK                                                              bool
					Zones                                                                            []zone
					Problems                                                                         []string
				}{GoVersion: r.GoVersion, TZ: r.TZ, TZSet: r.TZSet, Local: r.Local, LocalSource: r.LocalSource.String(),
					ZONEINFO: r.ZONEINFO, SystemDir: r.SystemDir, SystemVersion: r.SystemVersion,
					Embedded: r.Embedded, GOROOTZip: r.GOROOTZip, OK: r.OK(), Zones: []zone{}, Problems: []string{}}
				for _, z := range r.Zones {
					zz := zone{Name: z.Name, Source: z.Info.Source.String(), Path: z.Info.Path, DataVersion: z.Info.DataVersion, Note: z.Info.Note}
					if z.Err != nil {
						zz.Error = z.Err.Error()
					}
					out.Zones = append(out.Zones, zz)
				}
				for _, p := range r.Problems {
					out.Problems = append(out.Problems, p.Error())
				}
				if err := a.json(out); err != nil {
					return err
				}
			} else {
				fmt.Fprint(a.Stdout, r.String())
				if !strings.HasSuffix(r.String(), "\n") {
					fmt.Fprintln(a.Stdout)
				}
			}
			if !r.OK() {
				return errFound
			}
			return nil
		},
	}
}

func (a *app) tzDayCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "day ZONE [DATE]",
		Short: "Show when a calendar day starts and ends in a zone, and how long it is",
		Long: `day prints the first instant of DATE (YYYY-MM-DD, default today in ZONE),
the first instant of the next day, and the day's length: 23h or 25h on DST
days, and not always from midnight (where midnight is skipped the day starts
at the first instant after the gap).`,
		Example:           "  plumb tz day America/Santiago 2024-09-08\n  plumb tz day Europe/London",
		Args:              args(cobra.RangeArgs(1, 2)),
		ValidArgsFunction: completeZonesFirst,
		RunE: func(cmd *cobra.Command, argv []string) error {
			loc, err := loadZone(argv[0])
			if err != nil {
				return err
			}
			d := tzutil.DateOf(time.Now().In(loc))
			if len(argv) == 2 {
				if d, err = tzutil.ParseDate(argv[1]); err != nil {
					return usage(err)
				}
			}
			start, end, err := tzutil.DateBounds(d, loc)
			if err != nil {
				return usage(err)
			}
			length := end.Sub(start)
			if a.isJSON() {
				return a.json(struct {
					Zone, Date    string
					Start, End    time.Time
					Length        string
					LengthSeconds float64
				}{loc.String(), d.String(), start, end, length.String(), length.Seconds()})
			}
			tw := a.table()
			fmt.Fprintf(tw, "zone\t%s\n", loc)
			fmt.Fprintf(tw, "date\t%s (%s)\n", d, d.Weekday())
			fmt.Fprintf(tw, "start\t%s\n", start.Format(timeLayout))
			fmt.Fprintf(tw, "end\t%s (start of %s)\n", end.Format(timeLayout), d.AddDays(1))
			note := ""
			if length != 24*time.Hour {
				note = " (not 24h: a transition falls on this day)"
			}
			fmt.Fprintf(tw, "length\t%s%s\n", length, note)
			return tw.Flush()
		},
	}
}

// timeLayout shows an instant with its offset and abbreviation.
const timeLayout = "2006-01-02 15:04:05 -07:00 MST"

func completeZonesFirst(cmd *cobra.Command, argv []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(argv) == 0 {
		return completeZones(cmd, argv, prefix)
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

func (a *app) tzTransitionsCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "transitions ZONE [YEAR]",
		Short:             "List a zone's UTC offset changes in a year (default this year)",
		Example:           "  plumb tz transitions America/New_York 2024",
		Args:              args(cobra.RangeArgs(1, 2)),
		ValidArgsFunction: completeZonesFirst,
		RunE: func(cmd *cobra.Command, argv []string) error {
			loc, err := loadZone(argv[0])
			if err != nil {
				return err
			}
			year := time.Now().In(loc).Year()
			if len(argv) == 2 {
				if year, err = strconv.Atoi(argv[1]); err != nil || year < 1 || year > 9999 {
					return usagef("year %q: want a number from 1 to 9999", argv[1])
				}
			}
			trs, err := tzutil.YearTransitions(loc, year)
			if err != nil {
				return usage(err)
			}
			type row struct {
				At                        time.Time
				Kind                      string // "gap" or "fold"
				WallBefore, WallAfter     string
				OffsetBefore, OffsetAfter string
				NameBefore, NameAfter     string
			}
			rows := []row{}
			for _, tr := range trs {
				kind := "fold"
				if tr.IsGap() {
					kind = "gap"
				}
				rows = append(rows, row{tr.At, kind, tr.WallBefore().String(), tr.WallAfter().String(),
					tzutil.FormatOffset(tr.OffsetBefore), tzutil.FormatOffset(tr.OffsetAfter), tr.NameBefore, tr.NameAfter})
			}
			if a.isJSON() {
				return a.json(struct {
					Zone        string
					Year        int
					Transitions []row
				}{loc.String(), year, rows})
			}
			if len(rows) == 0 {
				fmt.Fprintf(a.Stdout, "%s has no offset change in %d\n", loc, year)
				return nil
			}
			tw := a.table()
			fmt.Fprintln(tw, "AT (UTC)\tKIND\tWALL CLOCK\tOFFSET\tNAME")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s -> %s\t%s -> %s\t%s -> %s\n", r.At.UTC().Format("2006-01-02 15:04:05"),
					r.Kind, r.WallBefore, r.WallAfter, r.OffsetBefore, r.OffsetAfter, r.NameBefore, r.NameAfter)
			}
			return tw.Flush()
		},
	}
}

// policyNames are the names tzutil.ParsePolicy accepts, for help and
// completion.
func policyNames() []string {
	return []string{"compatible", "earlier", "later", "reject", "postgresql", "start-of-gap"}
}

func (a *app) tzAtCmd() *cobra.Command {
	var policy string
	cmd := &cobra.Command{
		Use:   "at WALL ZONE",
		Short: "Turn a wall-clock time into an instant, saying whether it is skipped (gap) or repeated (fold)",
		Long: `at resolves WALL (YYYY-MM-DDTHH:MM[:SS], a space also separates date and
time) in ZONE. A wall time skipped by a DST gap or repeated by a fold has no
single instant: --policy picks one (compatible, the default of Temporal,
java.time and RFC 5545: gap -> after the gap, fold -> the earlier instant;
earlier; later; reject, which fails; postgresql, what PostgreSQL's
timestamptz input does; start-of-gap).`,
		Example: "  plumb tz at 2024-03-10T02:30 America/New_York\n  plumb tz at '2024-11-03 01:30' America/New_York --policy later",
		Args:    args(cobra.ExactArgs(2)),
		ValidArgsFunction: func(cmd *cobra.Command, argv []string, p string) ([]string, cobra.ShellCompDirective) {
			if len(argv) == 1 {
				return completeZones(cmd, argv, p)
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, argv []string) error {
			p, err := tzutil.ParsePolicy(policy)
			if err != nil {
				return usage(fmt.Errorf("--policy: %w", err))
			}
			wall, err := tzutil.ParseDateTime(argv[0])
			if err != nil {
				return usage(err)
			}
			loc, err := loadZone(argv[1])
			if err != nil {
				return err
			}
			res, err := tzutil.Resolve(wall, loc)
			if err != nil {
				return usage(err)
			}
			t, atErr := tzutil.At(wall, loc, p)
			var explain string
			switch res.Kind {
			case tzutil.Gap:
				explain = fmt.Sprintf("%s does not exist in %s: clocks jumped from %s to %s at %s", wall, loc,
					tzutil.FormatOffset(res.OffsetBefore), tzutil.FormatOffset(res.OffsetAfter), res.Transition.Format(timeLayout))
			case tzutil.Fold:
				explain = fmt.Sprintf("%s happens twice in %s: at %s and at %s", wall, loc,
					res.Earlier.Format(timeLayout), res.Later.Format(timeLayout))
			default:
				explain = fmt.Sprintf("%s happens once in %s", wall, loc)
			}
			if a.isJSON() {
				out := struct {
					Wall, Zone, Kind, Policy string
					Instant                  *time.Time `json:",omitempty"`
					Earlier, Later           time.Time
					Explanation              string
					Error                    string `json:",omitempty"`
				}{Wall: wall.String(), Zone: loc.String(), Kind: res.Kind.String(), Policy: strings.ToLower(policy),
					Earlier: res.Earlier, Later: res.Later, Explanation: explain}
				if atErr == nil {
					out.Instant = &t
				} else {
					out.Error = atErr.Error()
				}
				if err := a.json(out); err != nil {
					return err
				}
				if atErr != nil {
					return errFound
				}
				return nil
			}
			fmt.Fprintln(a.Stdout, wrap(explain, 100, "  "))
			if atErr != nil {
				return atErr
			}
			fmt.Fprintf(a.Stdout, "%s (%s, policy %s)\n", t.Format(timeLayout), t.UTC().Format(time.RFC3339), strings.ToLower(policy))
			return nil
		},
	}
	cmd.Flags().StringVar(&policy, "policy", "compatible", "gap/fold policy: "+strings.Join(policyNames(), ", "))
	cmd.RegisterFlagCompletionFunc("policy", fixed(policyNames()...))
	return cmd
}
