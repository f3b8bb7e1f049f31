package mirror

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// TestImportRegistersNothing: importing mirror must not mount handlers on
// http.DefaultServeMux (a blank import of a package that imports expvar
// serves /debug/vars, the process's command line included).
func TestImportRegistersNothing(t *testing.T) {
	for _, path := range []string{"/debug/vars", "/debug/pprof/", "/"} {
		_, pattern := http.DefaultServeMux.Handler(httptest.NewRequest("GET", path, nil))
		if pattern != "" {
			t.Errorf("http.DefaultServeMux has a handler for %s (pattern %q) in the mirror test binary", path, pattern)
		}
	}
	// The test binary links test-only imports too; the package's own
	// import graph must not hold expvar or net/http/pprof at all.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found; the DefaultServeMux check above still ran")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "expvar" || dep == "net/http/pprof" {
			t.Errorf("package mirror depends on %s, which registers handlers on http.DefaultServeMux at init", dep)
		}
	}
}
