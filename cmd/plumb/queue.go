package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goplumb/plumb/cmd/plumb/internal/queues"
	"github.com/goplumb/plumb/streamq"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// redisFlags are the Redis connection settings of queue, cron and web.
type redisFlags struct {
	url    string
	prefix string
}

func (f *redisFlags) register(cmd *cobra.Command, prefixDefault, prefixHelp string) {
	cmd.PersistentFlags().StringVar(&f.url, "redis", "", "Redis URL redis://[user:password@]host:port/db (default $PLUMB_REDIS_URL)")
	cmd.PersistentFlags().StringVar(&f.prefix, "prefix", prefixDefault, prefixHelp)
}

// redis opens a client and checks that the server answers, so that an
// unreachable server is one clear line naming the host only.
func (a *app) redis(ctx context.Context, f *redisFlags) (*redis.Client, error) {
	raw := a.setting(f.url, "PLUMB_REDIS_URL")
	if raw == "" {
		return nil, usagef("no Redis: pass --redis URL or set PLUMB_REDIS_URL")
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, usagef("--redis: not a redis:// URL (want redis://[user:password@]host:port/db)")
	}
	opts.DialTimeout = 3 * time.Second
	opts.MaxRetries = 1
	rdb := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("connect to redis://%s: %w", opts.Addr, err)
	}
	return rdb, nil
}

func (a *app) queueCmd() *cobra.Command {
	f := &redisFlags{}
	cmd := group("queue", "Inspect and repair streamq queues: stats, peek, dead letters, pause/resume, trim",
		a.queueListCmd(f), a.queueStatsCmd(f), a.queuePeekCmd(f), a.queueDeadCmd(f),
		a.queuePauseCmd(f, true), a.queuePauseCmd(f, false), a.queueTrimCmd(f))
	cmd.Aliases = []string{"queues", "q"}
	f.register(cmd, "streamq:", "streamq Config.KeyPrefix of the queues")
	return cmd
}

// openQueue connects and opens QUEUE; an unknown queue is exit status 1.
func (a *app) openQueue(ctx context.Context, f *redisFlags, name string) (*redis.Client, *queues.Queue, error) {
	rdb, err := a.redis(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	q, err := (&queues.Store{RDB: rdb, Prefix: f.prefix}).Open(ctx, name)
	if err != nil {
		rdb.Close()
		if errors.Is(err, streamq.ErrInvalid) {
			return nil, nil, usage(err)
		}
		return nil, nil, err
	}
	return rdb, q, nil
}

// completeQueues completes queue names from the server, when one is
// configured.
func (a *app) completeQueues(f *redisFlags) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, argv []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if len(argv) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		rdb, err := a.redis(ctx, f)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		defer rdb.Close()
		names, _ := (&queues.Store{RDB: rdb, Prefix: f.prefix}).List(ctx)
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, prefix) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func (a *app) queueListCmd(f *redisFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the queues with their length, lag, pending, retries and dead letters",
		Example: "  PLUMB_REDIS_URL=redis://127.0.0.1:6379/0 plumb queue list",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rdb, err := a.redis(ctx, f)
			if err != nil {
				return err
			}
			defer rdb.Close()
			store := &queues.Store{RDB: rdb, Prefix: f.prefix}
			names, err := store.List(ctx)
			if err != nil {
				return err
			}
			sums := []queues.Summary{}
			for _, n := range names {
				q, err := store.Open(ctx, n)
				if err != nil {
					continue // deleted since the scan
				}
				st, err := q.Stats(ctx)
				if err != nil {
					return err
				}
				sums = append(sums, queues.Summarize(st))
			}
			if a.isJSON() {
				return a.json(sums)
			}
			if len(sums) == 0 {
				fmt.Fprintf(a.Stdout, "no queues under prefix %q\n", f.prefix)
				return nil
			}
			tw := a.table()
			fmt.Fprintln(tw, "QUEUE\tLENGTH\tDELAYED\tGROUPS\tPAUSED\tLAG\tPENDING\tRETRIES\tDEAD\tCONSUMERS")
			for _, s := range sums {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d/%d alive\n", s.Queue, s.Length, s.Delayed, s.Groups,
					s.Paused, s.Lag, s.Pending, s.Retries, s.Dead, s.Alive, s.Consumers)
			}
			return tw.Flush()
		},
	}
}

func (a *app) queueStatsCmd(f *redisFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "stats QUEUE",
		Short:             "Show a queue's length and, per group, lag, pending, oldest age, retries, dead letters and consumers",
		Example:           "  plumb queue stats orders\n  plumb queue stats orders -o json",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeQueues(f),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			rdb, q, err := a.openQueue(ctx, f, argv[0])
			if err != nil {
				return err
			}
			defer rdb.Close()
			st, err := q.Stats(ctx)
			if err != nil {
				return err
			}
			if a.isJSON() {
				return a.json(st)
			}
			fmt.Fprintf(a.Stdout, "queue %s: %d entries, %d delayed, %d dropped by MaxLen\n\n", st.Queue, st.Length, st.Delayed, st.Dropped)
			if len(st.Groups) == 0 {
				fmt.Fprintln(a.Stdout, "no consumer groups")
				return nil
			}
			tw := a.table()
			fmt.Fprintln(tw, "GROUP\tSTATE\tLAG\tPENDING\tOLDEST PENDING\tRETRY WAIT\tRETRY RUNNING\tDEAD\tCONSUMERS")
			for _, g := range st.Groups {
				alive := 0
				for _, c := range g.Consumers {
					if c.Alive {
						alive++
					}
				}
				lag := fmt.Sprint(g.Lag)
				if g.Lag < 0 {
					lag = "?"
				}
				state := "running"
				if g.Paused {
					state = "paused since " + g.PausedAt.UTC().Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d/%d alive\n", g.Name, state, lag, g.Pending,
					g.OldestPendingAge.Round(time.Millisecond), g.RetryScheduled, g.RetryPending, g.DeadLetters, alive, len(g.Consumers))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, g := range st.Groups {
				if len(g.Consumers) == 0 {
					continue
				}
				fmt.Fprintf(a.Stdout, "\n%s consumers:\n", g.Name)
				tw := a.table()
				fmt.Fprintln(tw, "  NAME\tPENDING\tIDLE\tALIVE\tLAST HEARTBEAT")
				for _, c := range g.Consumers {
					hb := "-"
					if !c.LastHeartbeat.IsZero() {
						hb = c.LastHeartbeat.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "  %s\t%d\t%s\t%v\t%s\n", c.Name, c.Pending, c.Idle.Round(time.Millisecond), c.Alive, hb)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func (a *app) queueTrimCmd(f *redisFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "trim QUEUE",
		Short: "Remove the stream entries every group has acknowledged, and say which group pins the rest",
		Long: `trim runs streamq's ack-aware trim once: it removes only entries every
consumer group has acknowledged. A stale or abandoned group pins the stream:
trim names it and the age of the oldest entry it holds back.`,
		Example:           "  plumb queue trim orders",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeQueues(f),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			rdb, q, err := a.openQueue(ctx, f, argv[0])
			if err != nil {
				return err
			}
			defer rdb.Close()
			res, err := q.Trim(ctx)
			if err != nil {
				return err
			}
			if a.isJSON() {
				return a.json(struct {
					streamq.TrimResult
					OldestKeptAge string
				}{res, res.Age(time.Now()).Round(time.Millisecond).String()})
			}
			fmt.Fprintf(a.Stdout, "trimmed %d acknowledged entries", res.Trimmed)
			if res.Dropped > 0 {
				fmt.Fprintf(a.Stdout, ", dropped %d unacknowledged by the MaxLen cap", res.Dropped)
			}
			fmt.Fprintln(a.Stdout)
			if res.PinnedBy != "" {
				fmt.Fprintf(a.Stdout, "oldest kept entry %s (%s old) is held by group %s\n", res.OldestKept,
					res.Age(time.Now()).Round(time.Second), res.PinnedBy)
			}
			return nil
		},
	}
}

func (a *app) queueDeadCmd(f *redisFlags) *cobra.Command {
	var grp string
	cmd := group("dead", "List, requeue and delete a group's dead letters",
		a.queueDeadListCmd(f, &grp), a.queueDeadActCmd(f, &grp, true), a.queueDeadActCmd(f, &grp, false))
	cmd.Aliases = []string{"dlq", "dead-letters"}
	cmd.PersistentFlags().StringVarP(&grp, "group", "g", "", "consumer group (default: the queue's only group)")
	return cmd
}

// resolveGroup picks the group of a dead-letter command.
func resolveGroup(ctx context.Context, q *queues.Queue, grp string) (string, error) {
	st, err := q.Stats(ctx)
	if err != nil {
		return "", err
	}
	g, err := queues.Group(st, grp)
	if err != nil && grp == "" && !errors.Is(err, queues.ErrUnknownGroup) {
		return "", usage(err) // several groups and no --group
	}
	return g, err
}

// deadView is a dead letter as plumb prints it.
type deadView struct {
	ID, OriginalID string
	Attempts       int
	Error          string
	Consumer       string
	DiedAt         time.Time
	Payload        string
}

func (a *app) queueDeadListCmd(f *redisFlags, grp *string) *cobra.Command {
	var after string
	var limit int
	cmd := &cobra.Command{
		Use:               "list QUEUE [--group G]",
		Short:             "List dead letters, oldest first, with their last error and attempts",
		Example:           "  plumb queue dead list orders --group billing --limit 20",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeQueues(f),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if limit < 1 || limit > 10000 {
				return usagef("--limit %d: want 1 to 10000", limit)
			}
			ctx := cmd.Context()
			rdb, q, err := a.openQueue(ctx, f, argv[0])
			if err != nil {
				return err
			}
			defer rdb.Close()
			g, err := resolveGroup(ctx, q, *grp)
			if err != nil {
				return err
			}
			dls, err := q.DeadLetters(ctx, g, after, limit)
			if err != nil {
				return err
			}
			views := []deadView{}
			for _, d := range dls {
				views = append(views, deadView{d.ID, d.OriginalID, d.Attempts, d.Err, d.Consumer, d.DiedAt, string(d.Payload)})
			}
			if a.isJSON() {
				return a.json(views)
			}
			if len(views) == 0 {
				fmt.Fprintf(a.Stdout, "no dead letters in %s/%s\n", q.Name(), g)
				return nil
			}
			tw := a.table()
			fmt.Fprintln(tw, "ID\tDIED\tATTEMPTS\tERROR\tPAYLOAD")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", v.ID, v.DiedAt.UTC().Format("2006-01-02 15:04:05"), v.Attempts, cut(v.Error, 36), cut(v.Payload, 40))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&after, "after", "", "start after this dead-letter ID (paging)")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many")
	return cmd
}

func cut(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func (a *app) queueDeadActCmd(f *redisFlags, grp *string, requeue bool) *cobra.Command {
	var all bool
	verb, done := "delete", "deleted"
	short := "Delete dead letters for good"
	if requeue {
		verb, done = "requeue", "requeued"
		short = "Move dead letters back to their group with a fresh attempt count"
	}
	cmd := &cobra.Command{
		Use:               verb + " QUEUE (ID... | --all) [--group G]",
		Short:             short,
		Example:           fmt.Sprintf("  plumb queue dead %s orders 1700000000000-0 --group billing\n  plumb queue dead %s orders --all", verb, verb),
		Args:              args(cobra.MinimumNArgs(1)),
		ValidArgsFunction: a.completeQueues(f),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ids := argv[1:]
			if all == (len(ids) > 0) {
				return usagef("give dead-letter IDs or --all, not both or neither")
			}
			ctx := cmd.Context()
			rdb, q, err := a.openQueue(ctx, f, argv[0])
			if err != nil {
				return err
			}
			defer rdb.Close()
			g, err := resolveGroup(ctx, q, *grp)
			if err != nil {
				return err
			}
			if all {
				after := ""
				for {
					dls, err := q.DeadLetters(ctx, g, after, 1000)
					if err != nil {
						return err
					}
					for _, d := range dls {
						ids = append(ids, d.ID)
					}
					if len(dls) < 1000 {
						break
					}
					after = dls[len(dls)-1].ID
				}
			}
			n := 0
			for start := 0; start < len(ids); start += 1000 {
				batch := ids[start:min(start+1000, len(ids))]
				var k int
				if requeue {
					k, err = q.RequeueDeadLetters(ctx, g, batch...)
				} else {
					k, err = q.DeleteDeadLetters(ctx, g, batch...)
				}
				n += k
				if err != nil {
					return fmt.Errorf("%s after %d: %w", verb, n, err)
				}
			}
			if n < len(ids) {
				return fmt.Errorf("%s %d of %d: the others are not dead letters of %s/%s", done, n, len(ids), q.Name(), g)
			}
			if a.isJSON() {
				return a.json(map[string]any{done: n, "group": g})
			}
			fmt.Fprintf(a.Stdout, "%s %d of %d dead letters in %s/%s\n", done, n, len(ids), q.Name(), g)
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "every dead letter of the group")
	return cmd
}

func (a *app) queuePeekCmd(f *redisFlags) *cobra.Command {
	var after string
	var limit int
	cmd := &cobra.Command{
		Use:   "peek QUEUE",
		Short: "Show the oldest entries of a queue's stream without delivering them",
		Long: `peek reads entries of the stream, oldest first, without delivering them to
any group (nothing is acknowledged or counted as a delivery). Entries every
group has acknowledged stay until the next trim.`,
		Example:           "  plumb queue peek orders --limit 5\n  plumb queue peek orders --after 1700000000000-0 -o json",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeQueues(f),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if limit < 1 || limit > 10000 {
				return usagef("--limit %d: want 1 to 10000", limit)
			}
			ctx := cmd.Context()
			rdb, q, err := a.openQueue(ctx, f, argv[0])
			if err != nil {
				return err
			}
			defer rdb.Close()
			es, err := q.Peek(ctx, after, limit)
			if err != nil {
				if errors.Is(err, streamq.ErrInvalid) {
					return usage(err)
				}
				return err
			}
			type view struct {
				ID       string
				Enqueued time.Time
				Payload  string
				Error    string `json:",omitempty"`
			}
			views := []view{}
			for _, e := range es {
				v := view{ID: e.ID, Enqueued: e.Enqueued, Payload: string(e.Payload)}
				if e.DecodeErr != nil {
					v.Error = e.DecodeErr.Error()
				}
				views = append(views, v)
			}
			if a.isJSON() {
				return a.json(views)
			}
			if len(views) == 0 {
				fmt.Fprintf(a.Stdout, "%s has no entries after %q\n", q.Name(), after)
				return nil
			}
			tw := a.table()
			fmt.Fprintln(tw, "ID\tENQUEUED\tPAYLOAD")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", v.ID, v.Enqueued.UTC().Format("2006-01-02 15:04:05.000"), cut(v.Payload, 60))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&after, "after", "", "start after this entry ID (paging)")
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many")
	return cmd
}

func (a *app) queuePauseCmd(f *redisFlags, pause bool) *cobra.Command {
	var grp string
	verb, short := "resume", "Let a paused group's consumers read again"
	if pause {
		verb, short = "pause", "Stop every consumer of a group, in every process, from taking new messages"
	}
	cmd := &cobra.Command{
		Use:   verb + " QUEUE [--group G]",
		Short: short,
		Long: short + `.
Pause is kept in Redis until resume: consumers stop reading within a second,
running handlers finish and are acknowledged, consumers started later stay
paused, and messages added meanwhile wait in the stream.`,
		Example:           fmt.Sprintf("  plumb queue %s orders --group billing", verb),
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeQueues(f),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			rdb, q, err := a.openQueue(ctx, f, argv[0])
			if err != nil {
				return err
			}
			defer rdb.Close()
			g, err := resolveGroup(ctx, q, grp)
			if err != nil {
				return err
			}
			if pause {
				err = q.Pause(ctx, g)
			} else {
				err = q.Resume(ctx, g)
			}
			if err != nil {
				return err
			}
			gs, err := q.GroupStats(ctx, g)
			if err != nil {
				return err
			}
			if a.isJSON() {
				return a.json(map[string]any{"queue": q.Name(), "group": g, "paused": gs.Paused, "paused_at": gs.PausedAt})
			}
			if gs.Paused {
				fmt.Fprintf(a.Stdout, "%s/%s paused since %s\n", q.Name(), g, gs.PausedAt.UTC().Format(time.RFC3339))
			} else {
				fmt.Fprintf(a.Stdout, "%s/%s running\n", q.Name(), g)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&grp, "group", "g", "", "consumer group (default: the queue's only group)")
	return cmd
}
