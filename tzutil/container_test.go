package tzutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type containerReport struct {
	LoadErr    string
	NoTZData   bool
	StdlibErr  string
	LocalName  string
	CheckLocal string
	Mismatch   bool
	POSIXOff   int
	Doctor     string
	DoctorOK   bool
}

// TestContainerChild runs inside TestNoTZDataContainer's subprocess.
func TestContainerChild(t *testing.T) {
	if os.Getenv("TZUTIL_CONTAINER_CHILD") == "" {
		t.Skip("runs only as a subprocess of TestNoTZDataContainer")
	}
	var r containerReport
	_, err := Load("Asia/Shanghai")
	if err != nil {
		r.LoadErr = err.Error()
		r.NoTZData = errors.Is(err, ErrNoTZData)
	}
	if _, err := time.LoadLocation("Asia/Shanghai"); err != nil {
		r.StdlibErr = err.Error()
	}
	r.LocalName, _ = LocalName()
	if err := CheckLocal(); err != nil {
		r.CheckLocal = err.Error()
		r.Mismatch = errors.Is(err, ErrLocalMismatch)
	}
	if loc, _, err := FromTZ("CST-8"); err == nil {
		_, r.POSIXOff = time.Now().In(loc).Zone()
	}
	rep := Doctor("Asia/Shanghai")
	r.Doctor, r.DoctorOK = rep.String(), rep.OK()
	b, _ := json.Marshal(r)
	fmt.Println("CHILD:" + string(b))
}

// TestNoTZDataContainer reproduces a scratch image: it reruns this test
// binary in a private mount namespace with empty tmpfs mounts over
// /usr/share/zoneinfo and $GOROOT/lib/time, TZ=Asia/Shanghai and ZONEINFO
// pointing at an empty directory. Go's time.Local silently becomes UTC;
// tzutil says so, with the fix. Needs unshare(1) and root; skipped without.
func TestNoTZDataContainer(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs unshare(1) and root to hide the zoneinfo directories")
	}
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("unshare -m not permitted here: %v", err)
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	script := `mount -t tmpfs tmpfs /usr/share/zoneinfo`
	if zp := gorootZip(); zp != "" {
		if _, err := os.Stat(zp); err == nil {
			script += ` && mount -t tmpfs tmpfs ` + filepath.Dir(zp)
		}
	}
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script+` && exec "$0" "$@"`, exe, "-test.run=^TestContainerChild$", "-test.v")
	cmd.Env = append(os.Environ(), "TZUTIL_CONTAINER_CHILD=1", "TZ=Asia/Shanghai", "ZONEINFO="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var r containerReport
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "CHILD:"); ok {
			require.NoError(t, json.Unmarshal([]byte(rest), &r))
		}
	}
	require.NotEmpty(t, r.Doctor, "%s", out)
	t.Logf("doctor in the child:\n%s", r.Doctor)
	assert.True(t, r.NoTZData, r.LoadErr)
	assert.Contains(t, r.LoadErr, "tzutil/tzdata")
	assert.Contains(t, r.StdlibErr, "unknown time zone", "Go's own loader fails too")
	assert.Equal(t, "Asia/Shanghai", r.LocalName)
	assert.True(t, r.Mismatch, r.CheckLocal)
	assert.Contains(t, r.CheckLocal, `TZ="Asia/Shanghai" is not usable`)
	assert.Equal(t, 8*3600, r.POSIXOff, "POSIX rules need no tzdata")
	assert.False(t, r.DoctorOK)
	assert.Contains(t, r.Doctor, "system tzdata:    none")
	assert.Contains(t, r.Doctor, "embedded tzdata:  no")
}
