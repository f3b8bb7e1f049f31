package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestWidthCheck(t *testing.T) {
	line := func(n int) string { return strings.Repeat("✗", n) + "\n" }
	cases := []struct {
		name   string
		writes []string
		over   int
	}{
		{"100 runes of 3 bytes each pass", []string{line(100)}, 0},
		{"101 runes fail", []string{line(101)}, 1},
		{"a rune split across writes counts once", []string{strings.Repeat("a", 99) + "\xe2\x9c", "\x97\n"}, 0},
		{"a line split across writes counts whole", []string{strings.Repeat("a", 60), strings.Repeat("b", 60) + "\n" + line(3)}, 1},
		{"an unterminated last line counts", []string{line(3) + strings.Repeat("a", 101)}, 1},
	}
	for _, c := range cases {
		var out bytes.Buffer
		w := &widthCheck{w: &out}
		for _, s := range c.writes {
			if _, err := w.Write([]byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		w.endLine()
		if w.over != c.over {
			t.Errorf("%s: %d lines over, want %d", c.name, w.over, c.over)
		}
		if got, want := out.String(), strings.Join(c.writes, ""); got != want {
			t.Errorf("%s: passed through %q, want %q", c.name, got, want)
		}
	}
}
