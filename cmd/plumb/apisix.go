package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/goplumb/plumb/apisixclient"
	"github.com/spf13/cobra"
)

// apisixFlags are the Admin API connection settings.
type apisixFlags struct {
	admin, key string
	timeout    time.Duration
}

func (f *apisixFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.admin, "admin", "", "Admin API base URL (default $APISIX_ADMIN_URL)")
	cmd.PersistentFlags().StringVar(&f.key, "admin-key", "", "Admin API key (default $APISIX_ADMIN_KEY; prefer the variable: flags show in ps)")
	cmd.PersistentFlags().DurationVar(&f.timeout, "timeout", 10*time.Second, "limit per Admin API request")
}

// client builds the Admin API client; required says whether a URL must be
// configured.
func (a *app) apisixClient(f *apisixFlags) (*apisixclient.Client, error) {
	base := a.setting(f.admin, "APISIX_ADMIN_URL")
	if base == "" {
		return nil, usagef("no Admin API: pass --admin URL or set APISIX_ADMIN_URL")
	}
	if f.timeout <= 0 {
		return nil, usagef("--timeout %s: want a positive duration", f.timeout)
	}
	cfg := apisixclient.Config{
		APIKey:     a.setting(f.key, "APISIX_ADMIN_KEY"),
		HTTPClient: &http.Client{Timeout: f.timeout},
		Retries:    1,
		Logger:     slog.New(slog.DiscardHandler),
	}
	c, err := apisixclient.New(base, cfg)
	if err != nil {
		return nil, usage(err)
	}
	return c, nil
}

func (a *app) apisixCmd() *cobra.Command {
	f := &apisixFlags{}
	cmd := group("apisix", "Lint, dump, diff and sync APISIX through its Admin API; build SNI stream setups",
		a.apisixLintCmd(f), a.apisixDumpCmd(f), a.apisixDiffCmd(f, false), a.apisixDiffCmd(f, true), a.apisixSNICmd())
	f.register(cmd)
	return cmd
}

func readFile(path string) ([]byte, error) {
	if path == "-" {
		return nil, usagef("-f -: reading stdin is not supported; give a file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usage(err)
	}
	return b, nil
}

func (a *app) apisixLintCmd(f *apisixFlags) *cobra.Command {
	var config, state string
	cmd := &cobra.Command{
		Use:   "lint -f config.yaml [--state state.yaml | --admin URL]",
		Short: "Explain why stream routes can never match, given config.yaml; exit 1 on a finding",
		Long: `lint reads the stream_proxy section of config.yaml and checks the stream
routes, SSL objects and routes of a desired state (--state) or of the live
server (--admin or APISIX_ADMIN_URL): an SNI route on a listener that does not
terminate TLS, "tls: true" where APISIX ignores it, an SNI without an SSL
object, upper-case SNI, a port nobody listens on, proxy_mode without stream,
a proxy-mirror host with a path. With neither, only config.yaml is checked.
It exits 1 when it finds something, for CI.`,
		Example: `  plumb apisix lint -f conf/config.yaml --admin http://127.0.0.1:9180
  plumb apisix lint -f conf/config.yaml --state state.yaml -o json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config == "" {
				return usagef("-f config.yaml is required")
			}
			src, err := readFile(config)
			if err != nil {
				return err
			}
			sp, err := apisixclient.ParseStreamProxy(src)
			if err != nil {
				return usage(err)
			}
			var findings []apisixclient.Finding
			switch {
			case state != "":
				b, err := readFile(state)
				if err != nil {
					return err
				}
				st, err := apisixclient.LoadState(b)
				if err != nil {
					return usage(err)
				}
				findings = apisixclient.Lint(sp, st.LintInput())
			case a.setting(f.admin, "APISIX_ADMIN_URL") != "":
				c, err := a.apisixClient(f)
				if err != nil {
					return err
				}
				if findings, err = c.Lint(cmd.Context(), sp); err != nil {
					return err
				}
			default:
				findings = apisixclient.Lint(sp, apisixclient.LintInput{})
			}
			if a.isJSON() {
				if err := a.json(nonNil(findings)); err != nil {
					return err
				}
			} else if len(findings) == 0 {
				fmt.Fprintln(a.Stdout, "no findings")
			} else {
				for _, fd := range findings {
					fmt.Fprintln(a.Stdout, wrap(fd.String(), 100, "    "))
				}
			}
			if len(findings) > 0 {
				return errFound
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&config, "file", "f", "", "APISIX config.yaml (required)")
	cmd.Flags().StringVar(&state, "state", "", "lint this desired state instead of the live server")
	cmd.MarkFlagFilename("file", "yaml", "yml")
	cmd.MarkFlagFilename("state", "yaml", "yml", "json")
	return cmd
}

func (a *app) apisixDumpCmd(f *apisixFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "dump",
		Short: "Print the server's routes, services, upstreams, SSLs, stream routes, ... as a state file",
		Long: `dump lists every resource sync manages and prints them as YAML (or JSON with
-o json) that diff and sync read back. APISIX strips SSL private keys from
reads: set key again before syncing a dumped SSL.`,
		Example: "  plumb apisix dump --admin http://127.0.0.1:9180 > state.yaml",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.apisixClient(f)
			if err != nil {
				return err
			}
			s, err := c.Dump(cmd.Context())
			if err != nil {
				return err
			}
			if a.isJSON() {
				return a.json(s)
			}
			y, err := s.YAML()
			if err != nil {
				return err
			}
			_, err = a.Stdout.Write(y)
			return err
		},
	}
}

func (a *app) apisixDiffCmd(f *apisixFlags, sync bool) *cobra.Command {
	var file, owner, label string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "diff -f state.yaml [--owner NAME]",
		Short: "Show what sync would change on the server; exit 1 when something differs",
		Long: `diff compares the desired state in -f with the server, for the resources
labelled as owned (--label, default managed-by, = --owner, default plumb),
and prints the plan: + create, ~ update (with the fields), - delete. It only
reads. It exits 1 when the plan is not empty, for CI.`,
		Example: "  plumb apisix diff -f state.yaml --owner team-a",
		Args:    args(cobra.NoArgs),
	}
	if sync {
		cmd.Use = "sync -f state.yaml [--owner NAME] [--dry-run]"
		cmd.Short = "Make the server match a state file for the resources it owns"
		cmd.Long = `sync writes only what differs from the desired state in -f, in dependency
order, and deletes owned resources the file no longer has. Resources without
the ownership label (--label, default managed-by, = --owner, default plumb)
are never modified or deleted; a desired id held by one fails before any
write. --dry-run prints the plan and writes nothing. A second run with no
change sends only reads.`
		cmd.Example = "  plumb apisix sync -f state.yaml --owner team-a --dry-run\n  plumb apisix sync -f state.yaml --owner team-a"
		cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan, write nothing")
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if file == "" {
			return usagef("-f state.yaml is required")
		}
		b, err := readFile(file)
		if err != nil {
			return err
		}
		st, err := apisixclient.LoadState(b)
		if err != nil {
			return usage(err)
		}
		c, err := a.apisixClient(f)
		if err != nil {
			return err
		}
		opts := apisixclient.SyncOptions{Label: label, Owner: owner, DryRun: dryRun}
		var plan *apisixclient.Plan
		if sync {
			verb := "syncing"
			if dryRun {
				verb = "planning"
			}
			stop := a.ticker(func() { a.progress("apisix: %s %s ...", verb, redact(a.setting(f.admin, "APISIX_ADMIN_URL"))) })
			plan, err = c.Sync(cmd.Context(), st, opts)
			stop()
		} else {
			plan, err = c.Diff(cmd.Context(), st, opts)
		}
		if err != nil {
			if errors.Is(err, apisixclient.ErrInvalid) {
				err = usage(err)
			}
			if plan != nil && plan.Applied > 0 {
				return fmt.Errorf("%w (%d of %d changes were applied)", err, plan.Applied, len(plan.Changes))
			}
			return err
		}
		if a.isJSON() {
			type change struct {
				Action, Kind, ID string
				Fields           []string `json:",omitempty"`
			}
			out := struct {
				Changes            []change
				Unchanged, Applied int
				DryRun             bool
			}{Changes: []change{}, Unchanged: plan.Unchanged, Applied: plan.Applied, DryRun: dryRun || !sync}
			for _, ch := range plan.Changes {
				out.Changes = append(out.Changes, change{string(ch.Action), ch.Kind, ch.ID.String(), ch.Fields})
			}
			if err := a.json(out); err != nil {
				return err
			}
		} else {
			fmt.Fprint(a.Stdout, plan.String())
			if s := plan.String(); s != "" && !strings.HasSuffix(s, "\n") {
				fmt.Fprintln(a.Stdout)
			}
		}
		if !sync && len(plan.Changes) > 0 {
			return errFound
		}
		return nil
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "desired state, YAML or JSON (required)")
	cmd.Flags().StringVar(&owner, "owner", "", "ownership label value (default plumb)")
	cmd.Flags().StringVar(&label, "label", "", "ownership label key (default managed-by)")
	cmd.MarkFlagFilename("file", "yaml", "yml", "json")
	return cmd
}

func (a *app) apisixSNICmd() *cobra.Command {
	var sni, certFile, keyFile, id, upstream string
	var port int
	var upstreamTLS bool
	cmd := &cobra.Command{
		Use:   "sni --sni HOST --cert FILE --key FILE --upstream HOST:PORT [--port 9100]",
		Short: "Print the SSL object, stream route and config.yaml that expose a TCP service by SNI",
		Long: `sni prints what APISIX needs to route TLS connections for --sni to a TCP
upstream (apisixclient.SNIScenario): an SSL object with the certificate, a
stream route matching the SNI on --port, and the config.yaml stream_proxy
section with a TLS listener in the form APISIX reads correctly ({addr, tls:
true}; a "- 9100" item with "tls: true" under it is silently plain TCP).
They are linted together first. The state part is what 'plumb apisix sync -f'
reads.`,
		Example: "  plumb apisix sni --sni db.example.com --cert db.crt --key db.key --upstream 10.0.0.5:5432 --port 9100",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sni == "" || certFile == "" || keyFile == "" || upstream == "" {
				return usagef("--sni, --cert, --key and --upstream are required")
			}
			cert, err := readFile(certFile)
			if err != nil {
				return err
			}
			key, err := readFile(keyFile)
			if err != nil {
				return err
			}
			st, sp, err := apisixclient.SNIScenario{SNI: strings.ToLower(sni), Port: port, Upstream: upstream,
				UpstreamTLS: upstreamTLS, Cert: string(cert), Key: string(key), ID: apisixclient.ID(id)}.Build()
			if err != nil {
				return usage(err)
			}
			if findings := apisixclient.Lint(sp, st.LintInput()); len(findings) > 0 {
				return fmt.Errorf("the generated setup would not match: %s", findings[0])
			}
			y, err := st.YAML()
			if err != nil {
				return err
			}
			if a.isJSON() {
				return a.json(struct {
					State      *apisixclient.State `json:"state"`
					ConfigYAML string              `json:"config_yaml"`
				}{st, sp.YAML()})
			}
			fmt.Fprintf(a.Stdout, "# state: plumb apisix sync -f FILE --owner NAME\n%s---\n# config.yaml: merge into conf/config.yaml and restart APISIX\n%s", y, sp.YAML())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&sni, "sni", "", "server name clients send, e.g. db.example.com or *.example.com (required)")
	fl.StringVar(&certFile, "cert", "", "PEM certificate file for the SNI (required)")
	fl.StringVar(&keyFile, "key", "", "PEM private key file (required)")
	fl.StringVar(&upstream, "upstream", "", "backend host:port (required)")
	fl.BoolVar(&upstreamTLS, "upstream-tls", false, "speak TLS to the backend again (default: plain TCP after termination)")
	fl.IntVar(&port, "port", 9100, "stream_proxy TLS listener port (the stream route's server_port)")
	fl.StringVar(&id, "id", "", "id of the SSL object and stream route (default from the SNI)")
	cmd.MarkFlagFilename("cert", "pem", "crt")
	cmd.MarkFlagFilename("key", "pem", "key")
	return cmd
}
