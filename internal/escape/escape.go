// Package escape makes strings that came from a process (a command name, a
// command line, a path) safe to show: terminal escapes, C0 and C1 control
// characters, format characters such as bidirectional overrides, and bytes
// that are not UTF-8 are written as Go escapes (\x1b, \u009b, \xff), so
// that a test suite cannot retitle, recolour or otherwise drive the
// terminal of whoever reads tinit's log or report.
//
// It does not quote for any syntax (JSON, shell): callers encode as their
// format needs.
package escape

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean reports whether s is valid UTF-8 of printable characters only
// (spaces included; U+FFFD, the replacement character, when really there).
func Clean(s string) bool {
	for i, r := range s {
		if !printableAt(s, i, r) {
			return false
		}
	}
	return true
}

// Printable returns s with everything that is not a printable character
// written as a Go escape; s itself when Clean(s).
func Printable(s string) string {
	if Clean(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case printableAt(s, i, r):
			b.WriteRune(r)
		case r == utf8.RuneError:
			fmt.Fprintf(&b, `\x%02x`, s[i]) // a byte that is not UTF-8
		default:
			b.WriteString(strings.Trim(strconv.QuoteRune(r), "'"))
		}
	}
	return b.String()
}

// printableAt reports whether r, decoded at s[i], is a printable character
// that was really there (not the error value for a bad byte).
func printableAt(s string, i int, r rune) bool {
	if r == utf8.RuneError {
		return strings.HasPrefix(s[i:], "\uFFFD")
	}
	return unicode.IsPrint(r)
}
