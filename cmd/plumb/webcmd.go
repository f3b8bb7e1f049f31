package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/goplumb/plumb/cmd/plumb/web"
	"github.com/spf13/cobra"
)

func (a *app) webCmd() *cobra.Command {
	f := &redisFlags{}
	var addr, token, cronPrefix string
	var allowWrites bool
	cmd := &cobra.Command{
		Use:   "web [--redis URL] [--addr 127.0.0.1:8080]",
		Short: "Serve a dashboard of the queues and cron jobs in a browser",
		Long: `web serves server-rendered pages of every streamq queue (length, lag,
pending, oldest pending age, retries, dead letters, consumers, paused groups
and a throughput chart) and of every cron job cronx/redislock coordinates
(next tick, last runs across replicas with their outcome, history). It is
read-only unless --allow-writes, which adds requeue and delete buttons for
dead letters and pause/resume per group. It binds to loopback by default; binding any other
address needs --token (or $PLUMB_WEB_TOKEN): browsers then open
http://HOST:PORT/?token=TOKEN once and keep it in a cookie, scripts send
"Authorization: Bearer TOKEN". The same pages are the http.Handler of the
package github.com/goplumb/plumb/cmd/plumb/web, to mount in your own server.`,
		Example: "  plumb web --redis redis://127.0.0.1:6379/0\n  PLUMB_WEB_TOKEN=$(openssl rand -hex 16) plumb web --addr 0.0.0.0:8080 --allow-writes",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			token = a.setting(token, "PLUMB_WEB_TOKEN")
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return usagef("--addr %q: want host:port", addr)
			}
			if !isLoopback(host) && token == "" {
				return usagef("--addr %s is not loopback: pass --token (or set PLUMB_WEB_TOKEN) so that only you can see the queues", addr)
			}
			ctx := cmd.Context()
			rdb, err := a.redis(ctx, f)
			if err != nil {
				return err
			}
			defer rdb.Close()
			logger := slog.New(slog.NewTextHandler(a.Stderr, nil))
			h, err := web.New(rdb, web.Config{Prefix: f.prefix, CronPrefix: cronPrefix, AllowWrites: allowWrites, Logger: logger})
			if err != nil {
				return usage(err)
			}
			var handler http.Handler = h
			if token != "" {
				handler = tokenAuth(token, h)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
			mode := "read-only"
			if allowWrites {
				mode = "writes allowed"
			}
			fmt.Fprintf(a.Stdout, "plumb web: serving http://%s/ (%s); Ctrl-C stops\n", ln.Addr(), mode)
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return err
			}
			if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	f.register(cmd, "streamq:", "streamq Config.KeyPrefix of the queues")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address; anything but loopback needs --token")
	cmd.Flags().StringVar(&token, "token", "", "access token (default $PLUMB_WEB_TOKEN; required off loopback)")
	cmd.Flags().BoolVar(&allowWrites, "allow-writes", false, "allow requeue/delete of dead letters and pause/resume of groups")
	cmd.Flags().StringVar(&cronPrefix, "cron-prefix", "cronx:", "cronx/redislock Config.Prefix of the cron jobs")
	return cmd
}

// isLoopback reports whether host names only loopback interfaces.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// tokenAuth admits requests carrying the token as a bearer header, a
// cookie, or ?token= (which sets the cookie and redirects to the same page
// without it, so the token does not stay in the address bar or history).
func tokenAuth(token string, next http.Handler) http.Handler {
	ok := func(s string) bool { return subtle.ConstantTimeCompare([]byte(s), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bearer, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found && ok(bearer) {
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie("plumb_token"); err == nil && ok(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		if q := r.URL.Query(); q.Has("token") && ok(q.Get("token")) {
			http.SetCookie(w, &http.Cookie{Name: "plumb_token", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="plumb"`)
		http.Error(w, "plumb web: token required (open /?token=TOKEN once, or send Authorization: Bearer TOKEN)", http.StatusUnauthorized)
	})
}
