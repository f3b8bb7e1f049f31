package txiso

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCasesMatchSpec checks the Go transcription of the Hermitage cases
// against testdata/hermitage-postgres.md (a copy of
// specs/hermitage-postgres.md): same cases, levels, steps, SQL and
// expectations, so Matrix compares against exactly what the spec verified.
func TestCasesMatchSpec(t *testing.T) {
	f, err := os.Open("testdata/hermitage-postgres.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type specCase struct {
		name       string
		levels     string
		deferrable bool
		steps      []step
	}
	var cases []*specCase
	var cur *specCase
	inCases := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "## Cases":
			inCases = true
		case !inCases || strings.HasPrefix(line, "## "):
			inCases = inCases && !strings.HasPrefix(line, "## ")
		case strings.HasPrefix(line, "### "):
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "### "), " — ")
			cur = &specCase{name: name}
			cases = append(cases, cur)
		case cur == nil:
		case strings.HasPrefix(line, "- run at: "):
			cur.levels = strings.TrimPrefix(line, "- run at: ")
		case strings.Contains(line, "deferrable=true"):
			cur.deferrable = true
		case strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| #") && !strings.HasPrefix(line, "|---"):
			line = strings.ReplaceAll(line, `\|`, "\x00")
			parts := strings.Split(strings.Trim(line, "|"), "|")
			if len(parts) != 7 {
				t.Fatalf("%s: bad row %q", cur.name, line)
			}
			for i := range parts {
				parts[i] = strings.ReplaceAll(strings.Trim(strings.TrimSpace(parts[i]), "`"), "\x00", "|")
			}
			n, err := strconv.Atoi(parts[0])
			if err != nil {
				t.Fatalf("%s: bad step number in %q", cur.name, line)
			}
			cur.steps = append(cur.steps, step{n: n, session: parts[1], sql: parts[2],
				exp: [3]string{parts[3], parts[4], parts[5]}, releases: parts[6]})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) != len(hermitage) {
		t.Fatalf("spec has %d cases, hermitage has %d", len(cases), len(hermitage))
	}
	runs := 0
	for i, sc := range cases {
		c := hermitage[i]
		if sc.name != c.name {
			t.Errorf("case %d: got %s, spec has %s", i, c.name, sc.name)
			continue
		}
		var lv []string
		for _, l := range c.levels {
			lv = append(lv, l.String())
		}
		runs += len(c.levels)
		if got := strings.Join(lv, ", "); got != sc.levels {
			t.Errorf("%s: levels %q, spec %q", c.name, got, sc.levels)
		}
		if sc.deferrable != c.deferrable {
			t.Errorf("%s: deferrable %t, spec %t", c.name, c.deferrable, sc.deferrable)
		}
		if len(sc.steps) != len(c.steps) {
			t.Errorf("%s: %d steps, spec has %d", c.name, len(c.steps), len(sc.steps))
			continue
		}
		for j, want := range sc.steps {
			if got := c.steps[j]; got != want {
				t.Errorf("%s step %d:\n got %+v\nwant %+v", c.name, want.n, got, want)
			}
		}
	}
	if runs != 63 {
		t.Errorf("%d case-level runs, the spec verified 63", runs)
	}
}

func TestMatchToken(t *testing.T) {
	for _, tc := range []struct {
		want, got string
		ok        bool
	}{
		{"ok", "ok", true},
		{"ok", "failed", false},
		{"ok|failed", "failed", true},
		{"blocks>err:40P01|n:1", "blocks>n:1", true},
		{"blocks>err:40P01|n:1", "blocks>err:40P01", true},
		{"blocks>err:40P01|n:1", "n:1", false},
		{"blocks>n:1", "n:1", false},
		{"rows:", "rows:", true},
	} {
		if got := matchToken(tc.want, tc.got); got != tc.ok {
			t.Errorf("matchToken(%q, %q) = %t, want %t", tc.want, tc.got, got, tc.ok)
		}
	}
}
