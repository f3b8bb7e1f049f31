package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the work failed, or lint/diff found something
	exitUsage   = 2 // bad flags, arguments or input: nothing was done
)

// Env is everything a run of plumb touches outside itself, so tests run the
// command in-process with their own streams and environment.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	TTY    bool // stdout is a terminal: draw progress on stderr
}

// app is the state shared by the commands of one run.
type app struct {
	Env
	output string // "table" or "json"
}

// usageError marks bad input: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// usage marks err (when not nil) as a usage error.
func usage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// errFound is returned by lint and diff when they found something: exit
// status 1 with no extra message (the findings are the output).
var errFound = errors.New("found differences or problems")

// Main runs plumb with args and returns the exit status.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	a := &app{Env: env}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFound):
		return exitFailure
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintln(env.Stderr, "plumb: interrupted")
		return exitFailure
	}
	msg := strings.TrimSpace(err.Error())
	// One line: the first line of the error is what a person needs.
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	fmt.Fprintf(env.Stderr, "plumb: %s\n", msg)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintln(env.Stderr, "Run 'plumb --help' or 'plumb COMMAND --help' for usage.")
		return exitUsage
	}
	return exitFailure
}

// isCobraUsage recognises the errors cobra returns itself for an unknown
// command or flag before any RunE ran.
func isCobraUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "unknown shorthand flag") || strings.Contains(s, "flag needs an argument") ||
		strings.HasPrefix(s, "invalid argument") || strings.HasPrefix(s, "required flag")
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "plumb",
		Short: "Operate streamq queues, cron jobs, time zones, APISIX, .gor traffic and PostgreSQL isolation",
		Long: `plumb is the command line of the plumb packages.

Connection settings come from flags or the environment and are never printed:
  PLUMB_REDIS_URL     redis://[user:password@]host:port/db   (queue, cron, web)
  PLUMB_DATABASE_URL  postgres://user:password@host/db        (tx)
  APISIX_ADMIN_URL    http://127.0.0.1:9180                   (apisix)
  APISIX_ADMIN_KEY    the Admin API key                       (apisix)

Exit status: 0 success, 1 failure (lint and diff also exit 1 when they find
something), 2 usage error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	root.RegisterFlagCompletionFunc("output", fixed("table", "json"))
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if a.output != "table" && a.output != "json" {
			return usagef("-o %q: want table or json", a.output)
		}
		return nil
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usage(err) })
	root.AddCommand(a.tzCmd(), a.cronCmd(), a.gorCmd(), a.apisixCmd(), a.txCmd(), a.queueCmd(), a.webCmd())
	return root
}

// args wraps a cobra argument validator so its errors are usage errors.
func args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error { return usage(v(cmd, a)) }
}

// fixed completes a flag or argument from a fixed list.
func fixed(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// noFiles is the completion of arguments that are not file names.
func noFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// json writes v as indented JSON.
func (a *app) json(v any) error {
	enc := json.NewEncoder(a.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isJSON reports whether -o json was given.
func (a *app) isJSON() bool { return a.output == "json" }

// table returns a tabwriter on stdout; call Flush.
func (a *app) table() *tabwriter.Writer {
	return tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
}

// progress writes a progress line to stderr, only when stdout is a
// terminal; the line is redrawn in place.
func (a *app) progress(format string, args ...any) {
	if !a.TTY {
		return
	}
	fmt.Fprintf(a.Stderr, "\r\033[K"+format, args...)
}

// progressDone ends a progress line.
func (a *app) progressDone() {
	if a.TTY {
		fmt.Fprint(a.Stderr, "\r\033[K")
	}
}

// setting returns the flag value or, when empty, the environment variable.
func (a *app) setting(flag, env string) string {
	if flag != "" {
		return flag
	}
	return a.Getenv(env)
}

// redact returns a URL's scheme and host only, so an error can say which
// server failed without printing its credentials or database.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(the configured server)"
	}
	return u.Scheme + "://" + u.Host
}

// group returns a command that only holds subcommands: with no argument it
// prints its help, with an unknown one it fails as a usage error (cobra
// itself only checks that on the root).
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, argv []string) error {
			if len(argv) > 0 {
				return usagef("unknown command %q for %q", argv[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
		ValidArgsFunction: noFiles,
	}
	cmd.AddCommand(subs...)
	return cmd
}

// ticker calls f every 200ms while stdout is a terminal, until the
// returned stop is called (which also clears the progress line).
func (a *app) ticker(f func()) (stop func()) {
	if !a.TTY {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		f()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		a.progressDone()
	}
}

// newTabTo returns a tabwriter on w.
func newTabTo(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// jsonLine encodes v as one line of JSON.
func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}

// wrap breaks s into lines of at most width columns at spaces, indenting
// continuation lines by indent, for human output that stays readable in an
// 100-column terminal.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	col := 0
	for i, w := range strings.Fields(s) {
		if i > 0 && col+1+len([]rune(w)) > width {
			b.WriteString("\n" + indent)
			col = len(indent)
		} else if i > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len([]rune(w))
	}
	return b.String()
}
