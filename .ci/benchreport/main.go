// Command benchreport turns `go test -bench` output (several -count runs) into
// BENCHMARKS.md: medians per benchmark, and for every comparison the ratio of
// each anchor to plumb.
//
// Convention (see each package's *_bench_test.go): a comparison is one
// top-level benchmark whose last name element is the variant, "plumb" (or
// "plumb-something") for ours and the anchor's name for the others, e.g.
// BenchmarkConsume/plumb and BenchmarkConsume/raw-go-redis. The ratio is
// anchor ns/op ÷ plumb ns/op: above 1 means plumb is faster.
//
// Usage: go run .ci/benchreport/main.go < bench.out > BENCHMARKS.md
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

type bench struct {
	pkg, name string
	metrics   map[string][]float64 // unit -> samples
	units     []string             // in first-seen order
}

var procSuffix = regexp.MustCompile(`-\d+$`)

func main() {
	var (
		order   []string
		benches = map[string]*bench{}
		pkg     string
		cpu     string
		goos    string
	)
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(line, "pkg: ")
		case strings.HasPrefix(line, "cpu: "):
			cpu = strings.TrimPrefix(line, "cpu: ")
		case strings.HasPrefix(line, "goos: "):
			goos = strings.TrimPrefix(line, "goos: ")
		case strings.HasPrefix(line, "Benchmark"):
			f := strings.Fields(line)
			if len(f) < 4 || len(f)%2 != 0 {
				continue
			}
			if _, err := strconv.Atoi(f[1]); err != nil {
				continue
			}
			name := procSuffix.ReplaceAllString(f[0], "")
			key := pkg + " " + name
			b := benches[key]
			if b == nil {
				b = &bench{pkg: pkg, name: name, metrics: map[string][]float64{}}
				benches[key] = b
				order = append(order, key)
			}
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					continue
				}
				unit := f[i+1]
				if _, ok := b.metrics[unit]; !ok {
					b.units = append(b.units, unit)
				}
				b.metrics[unit] = append(b.metrics[unit], v)
			}
		}
	}

	fmt.Println("# Benchmarks")
	fmt.Println()
	fmt.Printf("Written by `make bench` (`go test -run '^$' -bench . -benchmem -count=%s ./...` in every module, then\n", benchCount())
	fmt.Println("`.ci/benchreport`). Values are medians of the runs. A ratio is anchor ns/op ÷ plumb")
	fmt.Println("ns/op from the same run: above 1 means plumb is faster. Servers (redis-server,")
	fmt.Println("PostgreSQL) run on loopback on the same machine, so absolute numbers include them.")
	fmt.Println()
	fmt.Println("| | |")
	fmt.Println("| --- | --- |")
	fmt.Printf("| date | %s |\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Printf("| machine | %s, %d cores (%s) |\n", cpu, runtime.NumCPU(), goos)
	fmt.Printf("| Go | %s |\n", goVersion())
	fmt.Printf("| commit | %s |\n", gitHead())
	fmt.Println()

	byPkg := map[string][]*bench{}
	var pkgs []string
	for _, k := range order {
		b := benches[k]
		if _, ok := byPkg[b.pkg]; !ok {
			pkgs = append(pkgs, b.pkg)
		}
		byPkg[b.pkg] = append(byPkg[b.pkg], b)
	}
	for _, p := range pkgs {
		fmt.Printf("## %s\n\n", strings.TrimPrefix(p, "github.com/goplumb/plumb/"))
		ratios(byPkg[p])
		fmt.Println("| benchmark | runs | medians |")
		fmt.Println("| --- | --- | --- |")
		for _, b := range byPkg[p] {
			var parts []string
			for _, u := range b.units {
				parts = append(parts, fmt.Sprintf("%s %s", num(median(b.metrics[u])), u))
			}
			fmt.Printf("| %s | %d | %s |\n", b.name, len(b.metrics["ns/op"]), strings.Join(parts, ", "))
		}
		fmt.Println()
	}
}

// ratios prints, for each group of siblings, anchor ns/op ÷ plumb ns/op.
func ratios(bs []*bench) {
	groups := map[string][]*bench{}
	var keys []string
	for _, b := range bs {
		i := strings.LastIndex(b.name, "/")
		if i < 0 {
			continue
		}
		g := b.name[:i]
		if _, ok := groups[g]; !ok {
			keys = append(keys, g)
		}
		groups[g] = append(groups[g], b)
	}
	var rows []string
	for _, g := range keys {
		var ours, anchors []*bench
		for _, b := range groups[g] {
			if strings.HasPrefix(variant(b), "plumb") {
				ours = append(ours, b)
			} else {
				anchors = append(anchors, b)
			}
		}
		for _, o := range ours {
			on := median(o.metrics["ns/op"])
			for _, a := range anchors {
				an := median(a.metrics["ns/op"])
				if on == 0 || an == 0 {
					continue
				}
				rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s / %s | **%.2f×** |",
					g, variant(o), variant(a), num(an), num(on), an/on))
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Println("| comparison | plumb | anchor | anchor / plumb ns/op | ratio |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Println(r)
	}
	fmt.Println()
}

func variant(b *bench) string { return b.name[strings.LastIndex(b.name, "/")+1:] }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func goVersion() string {
	out, err := exec.Command("go", "version").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}

func gitHead() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// benchCount is the -count make bench ran with (BENCHCOUNT, default 5).
func benchCount() string {
	if c := os.Getenv("BENCHCOUNT"); c != "" {
		return c
	}
	return "5"
}
