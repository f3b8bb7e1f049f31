// Package web is plumb's dashboard for streamq queues and cronx jobs as an
// http.Handler: server-rendered pages (html/template, assets embedded, no
// JavaScript) showing every queue's length, lag, pending, oldest pending
// age, retries, dead letters and consumers, a throughput chart, and, when
// writes are allowed, buttons that requeue or delete dead letters and pause
// or resume a group; and every cron job that cronx/redislock coordinates,
// with its next tick and its last runs across replicas.
//
// `plumb web` serves it; mount it in your own server to get the same pages
// behind your own authentication:
//
//	h, err := web.New(rdb, web.Config{AllowWrites: true})
//	if err != nil { ... }
//	mux.Handle("/ops/queues/", http.StripPrefix("/ops/queues", h))
//
// Links are relative, so the handler works under any prefix. It does no
// authentication of its own: whoever reaches it can read every queue's
// payloads, and with AllowWrites change dead letters. Writes are POSTs
// checked by net/http's CrossOriginProtection (Go 1.25), so another site
// cannot make a visitor's browser send them.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/goplumb/plumb/cmd/plumb/internal/queues"
	"github.com/goplumb/plumb/cronx"
	"github.com/goplumb/plumb/cronx/redislock"
	"github.com/redis/go-redis/v9"
)

//go:embed assets
var assets embed.FS

// ErrInvalid is wrapped by every error New returns for bad arguments.
var ErrInvalid = errors.New("web: invalid input")

// Config holds the optional settings of a Handler. The zero value is a
// read-only dashboard of the queues under streamq's default key prefix.
type Config struct {
	// Prefix is the streamq Config.KeyPrefix of the queues (default
	// "streamq:").
	Prefix string
	// AllowWrites shows the requeue, delete, pause and resume buttons and accepts their
	// POSTs. Without it the pages are read-only and POSTs get 403.
	AllowWrites bool
	// DeadLetters is how many dead letters a queue page shows per group
	// (default 50, at most 1000).
	DeadLetters int
	// Logger receives errors met while serving (Redis failures are also
	// shown on the page). Nil means slog.Default().
	Logger *slog.Logger
	// CronPrefix is the cronx/redislock Config.Prefix of the cron jobs the
	// Cron jobs pages show (default "cronx:").
	CronPrefix string
	// Now is the clock of the throughput samples (default time.Now).
	Now func() time.Time
}

// Handler serves the dashboard. It is safe for concurrent use. The Redis
// client stays the caller's: the Handler never closes it.
type Handler struct {
	store *queues.Store
	cron  *redislock.Coordinator
	cfg   Config
	mux   *http.ServeMux
	cop   *http.CrossOriginProtection
	pages map[string]*template.Template

	mu      sync.Mutex
	samples map[string][]sample // per queue, oldest first
}

// sample is one observation of a queue for the throughput chart.
type sample struct {
	at        time.Time
	delivered int64 // Σ EntriesRead over groups
}

const maxSamples = 60

// New returns a dashboard of the queues in rdb (a *redis.Client or any
// redis.UniversalClient, a cluster client included).
func New(rdb redis.UniversalClient, cfg Config) (*Handler, error) {
	if rdb == nil {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalid)
	}
	switch {
	case cfg.DeadLetters < 0 || cfg.DeadLetters > 1000:
		return nil, fmt.Errorf("%w: Config.DeadLetters %d: want 0 (default 50) to 1000", ErrInvalid, cfg.DeadLetters)
	case cfg.DeadLetters == 0:
		cfg.DeadLetters = 50
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	co, err := redislock.New(rdb, redislock.Config{Prefix: cfg.CronPrefix, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("%w: Config.CronPrefix: %v", ErrInvalid, err)
	}
	h := &Handler{store: &queues.Store{RDB: rdb, Prefix: cfg.Prefix}, cron: co, cfg: cfg, samples: map[string][]sample{},
		cop: http.NewCrossOriginProtection()}
	funcs := template.FuncMap{
		"pathEscape": url.PathEscape,
		"dur":        func(d time.Duration) string { return d.Round(time.Millisecond).String() },
		"utc": func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.UTC().Format("2006-01-02 15:04:05")
		},
	}
	h.pages = map[string]*template.Template{}
	for _, p := range []string{"index", "queue", "cron", "job"} {
		t, err := template.New(p).Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+p+".html")
		if err != nil {
			return nil, err // a bug in the embedded templates
		}
		h.pages[p] = t
	}
	static, _ := fs.Sub(assets, "assets")
	h.mux = http.NewServeMux()
	h.mux.Handle("GET /static/style.css", http.StripPrefix("/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET /q/{queue}", h.queue)
	h.mux.HandleFunc("POST /q/{queue}", h.queueAction)
	h.mux.HandleFunc("GET /cron", h.cronJobs)
	h.mux.HandleFunc("GET /cron/{job}", h.cronJob)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

// page is what every template gets.
type page struct {
	Title, Root       string
	Writable          bool
	Refresh           int
	Flash, FlashError string
	Prefix            string
	Summaries         []queues.Summary
	Stats             any
	Chart             chart
	Dead              []deadGroup
	CronPrefix        string
	Jobs              []redislock.Job
	Job               string
	Last              *redislock.LastClaim
	Runs              []redislock.Run
}

func (h *Handler) newPage(r *http.Request, title, root string) page {
	p := page{Title: title, Root: root, Writable: h.cfg.AllowWrites, Flash: r.URL.Query().Get("done"),
		FlashError: r.URL.Query().Get("error"), Prefix: h.store.Prefix}
	if p.Prefix == "" {
		p.Prefix = "streamq:"
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("refresh")); err == nil && n >= 1 && n <= 3600 {
		p.Refresh = n
	}
	return p
}

func (h *Handler) render(w http.ResponseWriter, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.pages[name].ExecuteTemplate(w, "layout", p); err != nil {
		h.cfg.Logger.Error("plumb web: render", "page", name, "err", err)
	}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	h.cfg.Logger.Warn("plumb web: request failed", "path", r.URL.Path, "err", err)
	http.Error(w, err.Error(), status)
}

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	names, err := h.store.List(ctx)
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, fmt.Errorf("list queues: %w", err))
		return
	}
	p := h.newPage(r, "Queues", "./")
	p.Summaries = []queues.Summary{}
	for _, n := range names {
		q, err := h.store.Open(ctx, n)
		if err != nil {
			continue // deleted since the scan
		}
		st, err := q.Stats(ctx)
		if err != nil {
			h.fail(w, r, http.StatusBadGateway, fmt.Errorf("stats of %s: %w", n, err))
			return
		}
		h.observe(n, st.Groups)
		p.Summaries = append(p.Summaries, queues.Summarize(st))
	}
	h.render(w, "index", p)
}

// deadGroup is one group's dead letters on a queue page.
type deadGroup struct {
	Group   string
	Total   int64
	Letters any
	More    bool
}

func (h *Handler) queue(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("queue")
	q, err := h.store.Open(ctx, name)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, queues.ErrUnknownQueue) {
			status = http.StatusNotFound
		}
		h.fail(w, r, status, err)
		return
	}
	st, err := q.Stats(ctx)
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, err)
		return
	}
	p := h.newPage(r, "Queue "+name, "../")
	p.Stats = st
	p.Chart = h.observe(name, st.Groups)
	for _, g := range st.Groups {
		dls, err := q.DeadLetters(ctx, g.Name, "", h.cfg.DeadLetters)
		if err != nil {
			h.fail(w, r, http.StatusBadGateway, err)
			return
		}
		p.Dead = append(p.Dead, deadGroup{Group: g.Name, Total: g.DeadLetters, Letters: dls, More: g.DeadLetters > int64(len(dls))})
	}
	h.render(w, "queue", p)
}

// queueAction handles the requeue and delete buttons.
func (h *Handler) queueAction(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.AllowWrites {
		http.Error(w, "read-only dashboard (plumb web --allow-writes enables requeue and delete)", http.StatusForbidden)
		return
	}
	if err := h.cop.Check(r); err != nil {
		http.Error(w, "cross-origin request refused: "+err.Error(), http.StatusForbidden)
		return
	}
	ctx := r.Context()
	name := r.PathValue("queue")
	back := func(key, msg string) {
		// Relative to /q/{queue}: the same page, whatever the mount prefix.
		// (http.Redirect would make it absolute from r.URL.Path, which
		// lacks the prefix a StripPrefix mount removed.)
		w.Header().Set("Location", url.PathEscape(name)+"?"+url.Values{key: {msg}}.Encode())
		w.WriteHeader(http.StatusSeeOther)
	}
	q, err := h.store.Open(ctx, name)
	if err != nil {
		h.fail(w, r, http.StatusNotFound, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action, group := r.PostForm.Get("action"), r.PostForm.Get("group")
	st, err := q.Stats(ctx)
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, err)
		return
	}
	if _, err := queues.Group(st, group); err != nil || group == "" {
		http.Error(w, fmt.Sprintf("group %q: not a group of %s", group, name), http.StatusBadRequest)
		return
	}
	switch action {
	case "pause", "resume":
		if action == "pause" {
			err = q.Pause(ctx, group)
		} else {
			err = q.Resume(ctx, group)
		}
		if err != nil {
			back("error", fmt.Sprintf("%s %s: %v", action, group, err))
			return
		}
		h.cfg.Logger.Info("plumb web: group "+action+"d", "queue", name, "group", group)
		back("done", fmt.Sprintf("%sd %s", action, group))
		return
	}
	ids := r.PostForm["id"]
	if r.PostForm.Get("all") == "1" {
		ids = nil
		after := ""
		for {
			dls, err := q.DeadLetters(ctx, group, after, 1000)
			if err != nil {
				h.fail(w, r, http.StatusBadGateway, err)
				return
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
	if len(ids) == 0 {
		back("error", "nothing selected")
		return
	}
	var n int
	switch action {
	case "requeue":
		n, err = batched(ctx, ids, func(ctx context.Context, b []string) (int, error) { return q.RequeueDeadLetters(ctx, group, b...) })
	case "delete":
		n, err = batched(ctx, ids, func(ctx context.Context, b []string) (int, error) { return q.DeleteDeadLetters(ctx, group, b...) })
	default:
		http.Error(w, fmt.Sprintf("action %q: want requeue, delete, pause or resume", action), http.StatusBadRequest)
		return
	}
	if err != nil {
		back("error", fmt.Sprintf("%s: %v (%d done)", action, err, n))
		return
	}
	h.cfg.Logger.Info("plumb web: dead letters changed", "queue", name, "group", group, "action", action, "count", n)
	back("done", fmt.Sprintf("%sd %d of %d dead letters in %s", action, n, len(ids), group))
}

func batched(ctx context.Context, ids []string, f func(context.Context, []string) (int, error)) (int, error) {
	n := 0
	for start := 0; start < len(ids); start += 1000 {
		k, err := f(ctx, ids[start:min(start+1000, len(ids))])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (h *Handler) cronPrefix() string {
	if h.cfg.CronPrefix == "" {
		return "cronx:"
	}
	return h.cfg.CronPrefix
}

// cronJobs lists the jobs cronx/redislock coordinates.
func (h *Handler) cronJobs(w http.ResponseWriter, r *http.Request) {
	jobs, err := h.cron.Jobs(r.Context())
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, err)
		return
	}
	p := h.newPage(r, "Cron jobs", "./")
	p.Jobs, p.CronPrefix = jobs, h.cronPrefix()
	h.render(w, "cron", p)
}

// cronJob shows one job's last claim and recent runs across replicas.
func (h *Handler) cronJob(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	job := r.PathValue("job")
	last, err := h.cron.Last(ctx, job)
	if errors.Is(err, cronx.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, fmt.Errorf("unknown cron job %q", job))
		return
	}
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, err)
		return
	}
	runs, err := h.cron.History(ctx, job, 100)
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, err)
		return
	}
	p := h.newPage(r, "Cron job "+job, "../")
	p.Job, p.Last, p.Runs = job, &last, runs
	h.render(w, "job", p)
}
