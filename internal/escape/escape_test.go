package escape

import (
	"strings"
	"testing"
	"unicode"
)

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sleep 100", "sleep 100"},
		{"naïve ✓ \"quoted\" back\\slash", "naïve ✓ \"quoted\" back\\slash"},
		{"\x1b]0;pwn\x07", `\x1b]0;pwn\a`},
		{"a\x9bb", `a\x9bb`},             // a bare C1 byte is not UTF-8
		{"a\u009bb", `a\u009bb`},         // CSI as UTF-8
		{"bidi \u202e", `bidi \u202e`},   // a format character
		{"bad \xff\xfe", `bad \xff\xfe`}, // invalid UTF-8
		{"real \uFFFD", "real \uFFFD"},
		{"tab\there", `tab\there`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if Clean(tt.in) != (tt.in == tt.want) {
			t.Errorf("Clean(%q) = %v", tt.in, Clean(tt.in))
		}
	}
}

func FuzzPrintable(f *testing.F) {
	f.Add("\x1b]0;x\a\xc2\x9b\xff")
	f.Fuzz(func(t *testing.T, s string) {
		out := Printable(s)
		if !Clean(out) {
			t.Errorf("Printable(%q) = %q, which is not clean", s, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) {
				t.Errorf("Printable(%q) = %q holds control %U", s, out, r)
			}
		}
		if Clean(s) && out != s {
			t.Errorf("Printable(%q) = %q changed a clean string", s, out)
		}
		if strings.Contains(s, "\x1b") && strings.Contains(out, "\x1b") {
			t.Errorf("ESC came through")
		}
	})
}
