package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/goplumb/plumb/txiso"
	_ "github.com/lib/pq" // the "postgres" driver for tx matrix
	"github.com/spf13/cobra"
)

func (a *app) txCmd() *cobra.Command {
	return group("tx", "PostgreSQL transaction isolation, measured on your server", a.txMatrixCmd())
}

func (a *app) txMatrixCmd() *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "matrix [--dsn URL]",
		Short: "Run the Hermitage anomaly cases at every isolation level on a live server",
		Long: `matrix runs txiso.Matrix: the Hermitage test cases (dirty reads, lost
updates, read and write skew, phantoms, deadlock, ...) at every isolation
level on the server of --dsn (default $PLUMB_DATABASE_URL), and shows, per case
and level, whether the anomaly occurred or how it was prevented (snapshot,
blocked, 40001, 40P01). Each case uses its own table in the current schema,
dropped afterwards; an ordinary role with CREATE on it is enough. A cell that
differs from what PostgreSQL documents is marked "!" and makes the exit
status 1.`,
		Example: "  PLUMB_DATABASE_URL=postgres://app@db/app plumb tx matrix\n  plumb tx matrix --dsn postgres://app@db/app -o json",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			url := a.setting(dsn, "PLUMB_DATABASE_URL")
			if url == "" {
				return usagef("no database: pass --dsn URL or set PLUMB_DATABASE_URL")
			}
			db, err := sql.Open("postgres", url)
			if err != nil {
				return usagef("--dsn: not a PostgreSQL URL or DSN")
			}
			defer db.Close()
			ctx := cmd.Context()
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = db.PingContext(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("connect to %s: %w", redact(url), err)
			}
			start := time.Now()
			stop := a.ticker(func() {
				a.progress("tx: running the Hermitage cases at 4 levels (%s)", time.Since(start).Round(time.Second))
			})
			res, err := txiso.Matrix(ctx, db)
			stop()
			if err != nil {
				return err
			}
			mism := res.Mismatches()
			if a.isJSON() {
				type cell struct {
					Case, Phenom, Title, Level, Outcome string
					Expected                            bool
					Error                               string `json:",omitempty"`
				}
				out := struct {
					Server     string
					Cells      []cell
					Mismatches int
				}{Server: res.Server, Cells: []cell{}, Mismatches: len(mism)}
				for _, c := range res.Cells {
					cc := cell{c.Case, c.Phenom, c.Title, c.Level.String(), string(c.Outcome), c.Expected, ""}
					if c.Err != nil {
						cc.Error = c.Err.Error()
					}
					out.Cells = append(out.Cells, cc)
				}
				if err := a.json(out); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.Stdout, "%s\n\n%s", res.Server, res.String())
				for _, c := range mism {
					why := "steps differ from the documented behaviour"
					if c.Err != nil {
						why = c.Err.Error()
					}
					fmt.Fprintf(a.Stdout, "! %s at %s: %s\n", c.Case, c.Level, why)
				}
			}
			if len(mism) > 0 {
				return errFound
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dsn, "dsn", "", "PostgreSQL URL or DSN (default $PLUMB_DATABASE_URL)")
	return cmd
}
