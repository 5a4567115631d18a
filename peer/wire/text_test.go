package wire

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain", "plain"},
		{"two\nlines\t\x1b[2J", "two lines  [2J"},
		{"bad \xff byte", "bad ? byte"},
		{strings.Repeat("é", 10), "ééééééé..."}, // 20 bytes cut to 17 without splitting a rune
	} {
		got := CleanText(tt.in, 17)
		if got != tt.want || !Printable(got) || len(got) > 17 || !utf8.ValidString(got) {
			t.Errorf("CleanText(%q, 17) = %q, want %q (printable, at most 17 bytes)", tt.in, got, tt.want)
		}
	}
}
