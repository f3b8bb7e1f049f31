package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandDocumented walks the command tree: every command has a
// one-line summary and its --help runs with exit status 0; every command
// that does something has an example.
func TestEveryCommandDocumented(t *testing.T) {
	a := &app{Env: Env{Getenv: func(string) string { return "" }}}
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		n++
		path := c.CommandPath()
		if c.Short == "" {
			t.Errorf("%s has no Short", path)
		}
		leaf := !c.HasSubCommands()
		if leaf && c.Example == "" && !strings.HasPrefix(path, "plumb completion") {
			t.Errorf("%s has no Example", path)
		}
		argv := append(strings.Fields(path)[1:], "--help")
		r := run(t, nil, argv...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "Usage:") {
			t.Errorf("%s --help: exit %d\n%s%s", path, r.Code, r.Stdout, r.Stderr)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := a.root()
	root.InitDefaultCompletionCmd()
	walk(root)
	if n < 30 {
		t.Fatalf("walked only %d commands", n)
	}
}

// TestCompletion asks the completion machinery (what the shell scripts
// call) for subcommands and flag values.
func TestCompletion(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{[]string{"__complete", "q"}, "queue"},
		{[]string{"__complete", "queue", "dead", ""}, "requeue"},
		{[]string{"__complete", "tz", "at", "2024-03-10T02:30", "America/New_"}, "America/New_York"},
		{[]string{"__complete", "tz", "at", "x", "UTC", "--policy", ""}, "start-of-gap"},
		{[]string{"__complete", "-o", ""}, "json"},
	} {
		r := run(t, nil, tt.argv...)
		if r.Code != 0 || !strings.Contains(r.Stdout, tt.want) {
			t.Errorf("%v: exit %d, want %q in\n%s", tt.argv, r.Code, tt.want, r.Stdout)
		}
	}
}
