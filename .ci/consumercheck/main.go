// Command consumercheck proves that importing one plumb package raises no
// pin of a user's module that the package does not itself need raised.
//
// It serves every module of this repository (read from go.work) at one
// version from a throwaway file:// module proxy, exactly as `go get` would
// fetch them once tagged, and then, for every importable package P:
//
//  1. base: a consumer module that pins the oldest versions users pin
//     (go-redis, lib/pq, pgx, robfig/cron, asynq) and imports only them;
//  2. need: a consumer that imports only P (what P itself needs);
//  3. with: the pinned consumer that also imports P.
//
// After `go mod tidy` in each, a pinned module may be selected in "with" above
// its pin only where P's own non-test imports need it (the module provides a
// package P imports, or is required by one that does), and then no higher
// than "need". Anything else is a pin raised without need, and the check
// fails; other modules of the graph that moved are listed for information. It also prints, per package, the module graph size and
// go.sum lines a user pays for (the "need" consumer), and, when the
// repository has a cmd/plumb module, that `go install .../cmd/plumb@VERSION`
// works (no replace directives, every requirement resolvable).
//
// Usage: go run .ci/consumercheck/main.go [-repo DIR] [-version v0.1.0] [-report]
package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// pins are the oldest versions users pin; the check
// also imports them so that tidy keeps them as direct requirements.
var pins = []struct{ mod, ver, pkg string }{
	{"github.com/redis/go-redis/v9", "v9.7.0", "github.com/redis/go-redis/v9"},
	{"github.com/lib/pq", "v1.10.9", "github.com/lib/pq"},
	{"github.com/jackc/pgx/v5", "v5.5.5", "github.com/jackc/pgx/v5"},
	{"github.com/robfig/cron/v3", "v3.0.0", "github.com/robfig/cron/v3"},
	{"github.com/hibiken/asynq", "v0.25.0", "github.com/hibiken/asynq"},
}

type module struct {
	dir, path string
	gomod     []byte
	pkgs      []string
	nested    []string // dirs (relative to repo) of other modules inside this one
}

func main() {
	repo := flag.String("repo", ".", "repository root (with go.work, or a single go.mod)")
	version := flag.String("version", "v0.1.0", "version every plumb module is served at")
	report := flag.Bool("report", false, "print sizes and raised pins, never fail")
	flag.Parse()
	root, err := filepath.Abs(*repo)
	check(err)

	tmp, err := os.MkdirTemp("", "plumb-consumer-*")
	check(err)
	defer os.RemoveAll(tmp)

	mods := discover(root)
	proxy := filepath.Join(tmp, "proxy")
	for _, m := range mods {
		serve(root, proxy, m, mods, *version)
	}

	// A fresh module cache, so a stale copy of a plumb module is never used;
	// everything else comes from the machine's cache first, then the proxy.
	origCache := strings.TrimSpace(run(root, nil, "go", "env", "GOMODCACHE"))
	origProxy := strings.TrimSpace(run(root, nil, "go", "env", "GOPROXY"))
	env := []string{
		"GOWORK=off", "GOFLAGS=-mod=mod -modcacherw", "GOSUMDB=off", "GOTOOLCHAIN=local",
		"GOMODCACHE=" + filepath.Join(tmp, "modcache"),
		"GOPROXY=file://" + proxy + ",file://" + filepath.Join(origCache, "cache", "download") + "," + origProxy,
	}

	base := consumer(tmp, env, "base", nil, true)
	failed := 0
	fmt.Printf("%-44s %8s %8s   %s\n", "package (alone)", "modules", "go.sum", "pins raised with the user's pins")
	for _, m := range mods {
		for _, p := range m.pkgs {
			imp := []req{{m.path, *version, p}}
			need := consumer(tmp, env, "need", imp, false)
			with := consumer(tmp, env, "with", imp, true)
			uses := usedModules(root, m, p, mods)
			var raised []string
			for mod, v := range with.versions {
				b, ok := base.versions[mod]
				if !ok {
					continue
				}
				// A pin may rise only to what P's own (non-test) imports need:
				// the module of an imported package, or a requirement of one.
				limit := b
				if uses[mod] {
					limit = maxVersion(b, need.versions[mod])
				}
				for _, e := range need.edges {
					if e.to == mod && uses[e.from] && !isPlumb(e.from, mods) {
						limit = maxVersion(limit, e.ver)
					}
				}
				if less(limit, v) {
					raised = append(raised, fmt.Sprintf("%s %s -> %s", mod, b, v))
				}
			}
			sort.Strings(raised)
			var pinned, other []string
			for _, r := range raised {
				if isPin(r) {
					pinned = append(pinned, r)
				} else {
					other = append(other, r)
				}
			}
			msg := "none"
			if len(pinned) > 0 {
				msg = "RAISED WITHOUT NEED: " + strings.Join(pinned, ", ")
				failed++
			}
			if len(other) > 0 {
				msg += " (unpinned modules moved: " + strings.Join(other, ", ") + ")"
			}
			fmt.Printf("%-44s %8d %8d   %s\n", strings.TrimPrefix(p, "github.com/goplumb/plumb/"), len(need.versions), need.sumLines, msg)
		}
	}
	for _, m := range mods {
		if strings.HasSuffix(m.path, "/cmd/plumb") {
			bin := filepath.Join(tmp, "bin")
			out, err := command(tmp, append(env, "GOBIN="+bin, "GOFLAGS=-modcacherw"), "go", "install", m.path+"@"+*version)
			if err != nil {
				fmt.Printf("go install %s@%s: FAILED\n%s\n", m.path, *version, out)
				failed++
			} else {
				fmt.Printf("go install %s@%s: ok\n", m.path, *version)
			}
		}
	}
	if failed > 0 && !*report {
		fmt.Printf("consumer-check: %d failure(s)\n", failed)
		os.Exit(1)
	}
	fmt.Println("consumer-check: ok")
}

type req struct{ mod, ver, pkg string }

type result struct {
	versions map[string]string
	edges    []edge // go mod graph: from requires to@ver
	sumLines int
}

type edge struct{ from, to, ver string }

// usedModules is the set of modules that provide a package p imports,
// directly or not, outside tests: what p itself needs.
func usedModules(root string, m *module, p string, _ []*module) map[string]bool {
	used := map[string]bool{}
	out := run(filepath.Join(root, m.dir), nil, "go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", p)
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			used[l] = true
		}
	}
	return used
}

// isPin reports whether a "mod old -> new" line is about one of the pins.
func isPin(line string) bool {
	for _, p := range pins {
		if strings.HasPrefix(line, p.mod+" ") {
			return true
		}
	}
	return false
}

func isPlumb(path string, mods []*module) bool {
	for _, m := range mods {
		if m.path == path {
			return true
		}
	}
	return false
}

// consumer makes a module that requires and imports reqs (plus the pins when
// pinned), tidies it and returns the selected version of every module.
func consumer(tmp string, env []string, name string, reqs []req, pinned bool) result {
	dir, err := os.MkdirTemp(tmp, name+"-*")
	check(err)
	defer os.RemoveAll(dir)
	if pinned {
		for _, p := range pins {
			reqs = append(reqs, req{p.mod, p.ver, p.pkg})
		}
	}
	var gomod, src bytes.Buffer
	fmt.Fprintf(&gomod, "module example.com/consumer\n\ngo 1.25\n\nrequire (\n")
	fmt.Fprintf(&src, "package main\n\nimport (\n")
	for _, r := range reqs {
		fmt.Fprintf(&gomod, "\t%s %s\n", r.mod, r.ver)
		fmt.Fprintf(&src, "\t_ %q\n", r.pkg)
	}
	fmt.Fprintf(&gomod, ")\n")
	fmt.Fprintf(&src, ")\n\nfunc main() {}\n")
	check(os.WriteFile(filepath.Join(dir, "go.mod"), gomod.Bytes(), 0o644))
	check(os.WriteFile(filepath.Join(dir, "main.go"), src.Bytes(), 0o644))
	if out, err := command(dir, env, "go", "mod", "tidy"); err != nil {
		fmt.Fprintf(os.Stderr, "consumer-check: go mod tidy for %v failed:\n%s\n", reqs, out)
		os.Exit(1)
	}
	res := result{versions: map[string]string{}}
	for _, line := range strings.Split(run(dir, env, "go", "list", "-m", "all"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			res.versions[f[0]] = f[1]
		}
	}
	for _, line := range strings.Split(run(dir, env, "go", "mod", "graph"), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		from, _, _ := strings.Cut(f[0], "@")
		to, ver, _ := strings.Cut(f[1], "@")
		res.edges = append(res.edges, edge{from, to, ver})
	}
	if sum, err := os.ReadFile(filepath.Join(dir, "go.sum")); err == nil {
		res.sumLines = bytes.Count(sum, []byte("\n"))
	}
	return res
}

// discover lists the modules of go.work (or the single root module) with
// their importable packages: not main, not internal, not examples.
func discover(root string) []*module {
	dirs := []string{"."}
	if f, err := os.Open(filepath.Join(root, "go.work")); err == nil {
		dirs = nil
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(line, "use ") {
				line = strings.TrimSpace(strings.TrimPrefix(line, "use "))
			}
			if line == "." || strings.HasPrefix(line, "./") {
				dirs = append(dirs, filepath.Clean(line))
			}
		}
		f.Close()
	}
	var mods []*module
	for _, d := range dirs {
		abs := filepath.Join(root, d)
		gomod, err := os.ReadFile(filepath.Join(abs, "go.mod"))
		check(err)
		var j struct{ Module struct{ Path string } }
		check(json.Unmarshal([]byte(run(abs, nil, "go", "mod", "edit", "-json")), &j))
		m := &module{dir: d, path: j.Module.Path, gomod: gomod}
		// Listed through go.work: cmd/plumb has no replace directives.
		for _, line := range strings.Split(run(abs, nil, "go", "list", "-f", "{{.ImportPath}} {{.Name}}", "./..."), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 || f[1] == "main" || strings.Contains(f[0]+"/", "/internal/") ||
				strings.Contains(f[0], "/examples") {
				continue
			}
			m.pkgs = append(m.pkgs, f[0])
		}
		mods = append(mods, m)
	}
	for _, m := range mods {
		for _, o := range mods {
			if o != m && (m.dir == "." || strings.HasPrefix(o.dir, m.dir+"/")) {
				m.nested = append(m.nested, o.dir)
			}
		}
	}
	return mods
}

// serve writes m at version into a GOPROXY directory: list, .info, .mod and
// a .zip of the files git tracks in the module (nested modules left out).
func serve(root, proxy string, m *module, _ []*module, version string) {
	dir := filepath.Join(proxy, escape(m.path), "@v")
	check(os.MkdirAll(dir, 0o755))
	check(os.WriteFile(filepath.Join(dir, "list"), []byte(version+"\n"), 0o644))
	check(os.WriteFile(filepath.Join(dir, version+".info"), []byte(`{"Version":"`+version+`","Time":"2026-12-01T00:00:00Z"}`), 0o644))
	check(os.WriteFile(filepath.Join(dir, version+".mod"), m.gomod, 0o644))
	zf, err := os.Create(filepath.Join(dir, version+".zip"))
	check(err)
	zw := zip.NewWriter(zf)
	files := strings.Split(run(filepath.Join(root, m.dir), nil, "git", "ls-files", "--cached", "--others", "--exclude-standard", "."), "\n")
	prefix := m.path + "@" + version + "/"
files:
	for _, rel := range files {
		if rel == "" {
			continue
		}
		repoRel := filepath.Join(m.dir, rel)
		for _, n := range m.nested {
			if strings.HasPrefix(repoRel, n+"/") {
				continue files
			}
		}
		full := filepath.Join(root, repoRel)
		st, err := os.Lstat(full)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(full)
		check(err)
		w, err := zw.Create(prefix + filepath.ToSlash(rel))
		check(err)
		_, err = w.Write(data)
		check(err)
	}
	check(zw.Close())
	check(zf.Close())
}

// escape applies the module proxy's case encoding (upper-case letters become
// '!' and the lower-case letter).
func escape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// less compares two semantic versions, pseudo-versions included (their
// timestamp suffix orders them). An empty version is the lowest.
func less(a, b string) bool {
	if a == "" || b == "" {
		return a == "" && b != ""
	}
	pa, ra := split(a)
	pb, rb := split(b)
	for i := range 3 {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	switch {
	case ra == rb:
		return false
	case ra == "":
		return false // a release is above its pre-releases
	case rb == "":
		return true
	}
	return ra < rb
}

func maxVersion(a, b string) string {
	if less(a, b) {
		return b
	}
	return a
}

func split(v string) ([3]int, string) {
	v = strings.TrimPrefix(strings.TrimSuffix(v, "+incompatible"), "v")
	rest := ""
	if i := strings.IndexByte(v, '-'); i >= 0 {
		v, rest = v[:i], v[i+1:]
	}
	var n [3]int
	for i, f := range strings.SplitN(v, ".", 3) {
		n[i], _ = strconv.Atoi(f)
	}
	return n, rest
}

func command(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func run(dir string, env []string, name string, args ...string) string {
	out, err := command(dir, env, name, args...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "consumer-check: %s %s in %s: %v\n%s\n", name, strings.Join(args, " "), dir, err, out)
		os.Exit(1)
	}
	return out
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer-check:", err)
		os.Exit(1)
	}
}
