package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/redislock"
	"github.com/spf13/cobra"
)

// cronCoordinator connects to Redis and returns a redislock.Coordinator
// reading the records of --prefix, and the function that closes the client.
func (a *app) cronCoordinator(cmd *cobra.Command, f *redisFlags) (*redislock.Coordinator, func(), error) {
	rdb, err := a.redis(cmd.Context(), f)
	if err != nil {
		return nil, nil, err
	}
	co, err := redislock.New(rdb, redislock.Config{Prefix: f.prefix})
	if err != nil {
		rdb.Close()
		return nil, nil, usage(err)
	}
	return co, func() { rdb.Close() }, nil
}

// runView is a recorded run as plumb prints it.
type runView struct {
	Tick     time.Time
	Replica  string
	Fence    uint64
	Start    time.Time `json:",omitzero"`
	Duration string
	Outcome  string
	Error    string `json:",omitempty"`
	Skip     string `json:",omitempty"`
}

func viewRun(r redislock.Run) runView {
	return runView{Tick: r.Tick, Replica: r.Replica, Fence: r.Fence, Start: r.Start,
		Duration: r.Duration.Round(time.Millisecond).String(), Outcome: string(r.Outcome), Error: r.Error, Skip: string(r.Skip)}
}

func (a *app) cronJobsCmd(f *redisFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "jobs",
		Short: "List the jobs cronx/redislock coordinates: last tick, replica, next tick, last run and failure",
		Long: `jobs reads the coordinator's records in Redis (cronx/redislock, key prefix
--prefix): for every job that any replica ever claimed, the last tick, the
replica that won it and its fencing token, the next tick the claiming
scheduler computed, how the last recorded run ended, and the last failure.`,
		Example: "  PLUMB_REDIS_URL=redis://127.0.0.1:6379/0 plumb cron jobs",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			co, done, err := a.cronCoordinator(cmd, f)
			if err != nil {
				return err
			}
			defer done()
			jobs, err := co.Jobs(cmd.Context())
			if err != nil {
				return err
			}
			type jobView struct {
				Name        string
				LastTick    time.Time `json:",omitzero"`
				Replica     string    `json:",omitempty"`
				Fence       uint64
				Next        time.Time `json:",omitzero"`
				LastRun     *runView  `json:",omitempty"`
				LastFailure *runView  `json:",omitempty"`
			}
			views := []jobView{}
			for _, j := range jobs {
				v := jobView{Name: j.Name, LastTick: j.Last.Tick, Replica: j.Last.Replica, Fence: j.Last.Fence, Next: j.Last.Next}
				if j.LastRun != nil {
					rv := viewRun(*j.LastRun)
					v.LastRun = &rv
				}
				if j.LastFailure != nil {
					rv := viewRun(*j.LastFailure)
					v.LastFailure = &rv
				}
				views = append(views, v)
			}
			if a.isJSON() {
				return a.json(views)
			}
			if len(views) == 0 {
				fmt.Fprintf(a.Stdout, "no cron jobs under prefix %q\n", f.prefix)
				return nil
			}
			tw := a.table()
			fmt.Fprintln(tw, "JOB\tLAST TICK (UTC)\tREPLICA\tNEXT (UTC)\tLAST RUN\tLAST FAILURE")
			for _, v := range views {
				last, failure := "-", "-"
				if v.LastRun != nil {
					last = v.LastRun.Outcome + " in " + v.LastRun.Duration
				}
				if v.LastFailure != nil {
					failure = v.LastFailure.Tick.UTC().Format("01-02 15:04") + " " + cut(v.LastFailure.Error, 30)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, utcShort(v.LastTick), v.Replica, utcShort(v.Next), last, failure)
			}
			return tw.Flush()
		},
	}
}

func utcShort(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func (a *app) cronHistoryCmd(f *redisFlags) *cobra.Command {
	var n int
	cmd := &cobra.Command{
		Use:     "history JOB",
		Short:   "Show a job's recent runs across replicas: tick, replica, duration, outcome, error",
		Example: "  plumb cron history nightly-report -n 10",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if n < 1 || n > 10000 {
				return usagef("-n %d: want 1 to 10000", n)
			}
			co, done, err := a.cronCoordinator(cmd, f)
			if err != nil {
				return err
			}
			defer done()
			ctx := cmd.Context()
			runs, err := co.History(ctx, argv[0], n)
			if err != nil {
				return err
			}
			if len(runs) == 0 {
				if _, err := co.Last(ctx, argv[0]); errors.Is(err, cronx.ErrNotFound) {
					return fmt.Errorf("unknown job %q: no replica ever claimed a tick of it (see plumb cron jobs)", argv[0])
				} else if err != nil {
					return err
				}
			}
			views := []runView{}
			for _, r := range runs {
				views = append(views, viewRun(r))
			}
			if a.isJSON() {
				return a.json(views)
			}
			if len(views) == 0 {
				fmt.Fprintf(a.Stdout, "%s has claims but no recorded run yet\n", argv[0])
				return nil
			}
			tw := a.table()
			fmt.Fprintln(tw, "TICK (UTC)\tREPLICA\tFENCE\tDURATION\tOUTCOME\tERROR")
			for _, v := range views {
				outcome := v.Outcome
				if v.Skip != "" {
					outcome += " (" + v.Skip + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", utcShort(v.Tick), v.Replica, v.Fence, v.Duration, outcome, cut(v.Error, 40))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&n, "count", "n", 20, "how many runs, newest first")
	return cmd
}
