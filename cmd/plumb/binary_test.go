package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryExitStatus runs the built plumb: the exit statuses scripts and
// CI see, and that stderr holds exactly one line on failure (go-redis's own
// dial logging silenced).
func TestBinaryExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := binary(t)
	for _, tt := range []struct {
		name      string
		argv      []string
		env       []string
		code      int
		stdout    string
		errLines  int
		errSubstr string
	}{
		{"help", []string{"--help"}, nil, 0, "plumb [command]", 0, ""},
		{"subcommand help", []string{"queue", "dead", "requeue", "--help"}, nil, 0, "--all", 0, ""},
		{"completion", []string{"completion", "bash"}, nil, 0, "__plumb_", 0, ""},
		{"completion zsh", []string{"completion", "zsh"}, nil, 0, "compdef", 0, ""},
		{"unknown command", []string{"qeueu"}, nil, 2, "", 2, `unknown command "qeueu"`},
		{"unknown flag", []string{"tz", "day", "UTC", "--zone"}, nil, 2, "", 2, "unknown flag: --zone"},
		{"bad spec", []string{"cron", "next", "61 * * * *"}, nil, 2, "", 2, "invalid spec"},
		{"ok", []string{"tz", "day", "UTC", "2024-01-01"}, nil, 0, "24h0m0s", 0, ""},
		{"unreachable redis", []string{"queue", "list"}, []string{"PLUMB_REDIS_URL=redis://:pw@127.0.0.1:1/0"}, 1, "", 1, "connect to redis://127.0.0.1:1"},
		{"lint finding", []string{"apisix", "lint", "-f", writeFile(t, "c.yaml", "stream_proxy:\n  tcp:\n    - 9333\n  tls: true\n")}, nil, 1, "tls-outside-item", 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.argv...)
			cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, tt.env...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !strings.Contains(out.String(), tt.stdout) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			lines := 0
			if s := strings.TrimRight(errb.String(), "\n"); s != "" {
				lines = len(strings.Split(s, "\n"))
			}
			if lines != tt.errLines || !strings.Contains(errb.String(), tt.errSubstr) {
				t.Fatalf("stderr has %d lines, want %d containing %q:\n%s", lines, tt.errLines, tt.errSubstr, errb.String())
			}
			if strings.Contains(errb.String(), ":pw@") {
				t.Fatal("password printed")
			}
		})
	}
}
