package tzdata_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/tzutil"
	"github.com/goplumb/plumb/tzutil/tzdata"
)

// childReport is what the child process prints as its last line.
type childReport struct {
	SystemEntries int
	Source        string
	Offset        int
	StdlibOK      bool
	Embedded      bool
	SystemDir     string
	Doctor        string
	LoadErr       string
}

// TestChild is the body run inside the subprocess; it is skipped in a
// normal run.
func TestChild(t *testing.T) {
	mode := os.Getenv("TZUTIL_TZDATA_CHILD")
	if mode == "" {
		t.Skip("runs only as a subprocess of TestEmbeddedFallback*")
	}
	var r childReport
	entries, _ := os.ReadDir("/usr/share/zoneinfo")
	r.SystemEntries = len(entries)
	ld := &tzutil.Loader{}
	if mode == "hook" {
		// Cannot hide the system directory without privileges: tell the
		// loader there is none (the documented test hook).
		ld.Dirs = []string{}
	}
	loc, info, err := ld.LoadInfo("Asia/Shanghai")
	if err != nil {
		r.LoadErr = err.Error()
	} else {
		r.Source = info.Source.String()
		_, r.Offset = time.Date(2024, 7, 1, 0, 0, 0, 0, loc).Zone()
	}
	_, serr := time.LoadLocation("Asia/Shanghai")
	r.StdlibOK = serr == nil
	rep := ld.Doctor("Asia/Shanghai")
	r.Embedded, r.SystemDir, r.Doctor = rep.Embedded, rep.SystemDir, rep.String()
	b, _ := json.Marshal(r)
	fmt.Println("CHILD:" + string(b))
}

func runChild(t *testing.T, cmd *exec.Cmd, mode, zoneinfo string) childReport {
	t.Helper()
	cmd.Env = append(os.Environ(), "TZUTIL_TZDATA_CHILD="+mode, "ZONEINFO="+zoneinfo)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "CHILD:"); ok {
			var r childReport
			require.NoError(t, json.Unmarshal([]byte(rest), &r))
			return r
		}
	}
	t.Fatalf("no report from the child:\n%s", out)
	return childReport{}
}

// TestEmbeddedFallback runs this test binary again with ZONEINFO pointing at
// an empty directory and the system directory hidden from the loader (but
// not from Go's time package, which reads it before the embedded copy
// whatever the Loader says): the zone loads, and the reported source is
// where the data really came from.
func TestEmbeddedFallback(t *testing.T) {
	assert.True(t, tzdata.Linked())
	exe, err := os.Executable()
	require.NoError(t, err)
	r := runChild(t, exec.Command(exe, "-test.run=^TestChild$", "-test.v"), "hook", t.TempDir())
	assert.Empty(t, r.LoadErr)
	want := "embedded"
	if _, err := os.Stat("/usr/share/zoneinfo/Asia/Shanghai"); err == nil {
		want = "system" // time.LoadLocation found it there, not in the embedded copy
	}
	assert.Equal(t, want, r.Source)
	assert.Equal(t, 8*3600, r.Offset)
	assert.True(t, r.Embedded)
	assert.Empty(t, r.SystemDir)
	assert.Contains(t, r.Doctor, "embedded tzdata:  yes")
	assert.Contains(t, r.Doctor, "system tzdata:    none")
	assert.Contains(t, r.Doctor, "zone Asia/Shanghai  ok ("+want)
	assert.Contains(t, r.Doctor, "is an empty directory", "the doctor flags the empty ZONEINFO")
}

// TestLoaderReportsRealSource: a Loader told there are no system
// directories must not call data "embedded" that Go's loader read from
// /usr/share/zoneinfo.
func TestLoaderReportsRealSource(t *testing.T) {
	if _, err := os.Stat("/usr/share/zoneinfo/Europe/Paris"); err != nil {
		t.Skip("no system zoneinfo: the embedded copy really is the source")
	}
	if os.Getenv("ZONEINFO") != "" {
		t.Skip("ZONEINFO is set in this process")
	}
	ld := &tzutil.Loader{Dirs: []string{}, SkipGOROOT: true}
	_, info, err := ld.LoadInfo("Europe/Paris")
	require.NoError(t, err)
	assert.Equal(t, tzutil.SourceSystem, info.Source, "%+v", info)
	assert.Equal(t, "/usr/share/zoneinfo/Europe/Paris", info.Path)
	assert.Contains(t, info.Note, "time.LoadLocation")
}

// TestEmbeddedFallbackNoZoneinfo does the same with the system directory
// really hidden (a private mount namespace with an empty tmpfs over
// /usr/share/zoneinfo), so that even Go's own loader has only the embedded
// copy. It needs unshare(1) and root, and is skipped without them.
func TestEmbeddedFallbackNoZoneinfo(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs unshare(1) and root to hide /usr/share/zoneinfo")
	}
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("unshare -m not permitted here: %v", err)
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs tmpfs /usr/share/zoneinfo && exec "$0" "$@"`, exe, "-test.run=^TestChild$", "-test.v")
	r := runChild(t, cmd, "hidden", "")
	assert.Zero(t, r.SystemEntries, "the system directory is hidden")
	assert.True(t, r.StdlibOK, "time.LoadLocation works from time/tzdata")
	assert.Empty(t, r.LoadErr)
	assert.Equal(t, "embedded", r.Source)
	assert.Equal(t, 8*3600, r.Offset)
	assert.Contains(t, r.Doctor, "embedded tzdata:  yes")
	assert.Contains(t, r.Doctor, "problems:         none")
	t.Logf("doctor in the child:\n%s", r.Doctor)
}
