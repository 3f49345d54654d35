package main

import (
	"fmt"
	"strings"
)

// getopt reads a command line the way the GNU C library's getopt_long(3)
// does, so that tinit under a peer's name (see persona.go) takes exactly
// the command lines the peer takes and refuses the others with the same
// words. The peers are C programs, and what their users rely on is glibc's
// behaviour, quirks included:
//
//   - short options cluster (-sv, -vvv) and one taking a value takes the
//     rest of its word or, when that is empty, the next word whatever it
//     looks like (-e3, -e 3, -p -s);
//   - by default the words are permuted: options after the command are
//     still options (tini ls -l runs tini's -l), unless the option string
//     starts with '+' or POSIXLY_CORRECT is set, which stop at the first
//     word that is not an option; "--" ends the options either way, and "-"
//     is not an option;
//   - a long option may be abbreviated to any unique prefix (--vers), and
//     takes its value after '=' or as the next word; without long options
//     (getopt(3)), "--version" is the short options '-', 'v', 'e'...;
//   - errors are written by getopt itself, prefixed with argv[0] as given,
//     and parsing goes on after them (the programs stop at the first); an
//     option character is printed as the byte it is, not as a rune (a
//     byte above 0x7f is not UTF-8 on its own).
type getoptSpec struct {
	// short is getopt's option string: letters, each followed by ':' when
	// it takes a value; a leading '+' stops at the first non-option.
	short string
	long  []longOption
}

// longOption is a --name option and the short option it stands for.
type longOption struct {
	name   string
	hasArg bool
	short  byte
}

// optItem is one option read, or one error. opt is the short option
// letter (long options map to theirs); err, when set, is the line getopt
// writes to stderr (no newline), and opt is then '?'.
type optItem struct {
	opt byte
	arg string
	err string
}

// getoptParse returns the options and errors of args (argv without
// argv[0]) in the order getopt returns them, and the operands: the words
// that are not options, in their order, the command first.
func getoptParse(argv0 string, args []string, spec getoptSpec, posixlyCorrect bool) (items []optItem, operands []string) {
	short, inOrder := spec.short, posixlyCorrect
	if s, ok := strings.CutPrefix(short, "+"); ok {
		short, inOrder = s, true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return items, append(operands, args[i+1:]...)
		case len(a) < 2 || a[0] != '-':
			if inOrder {
				return items, append(operands, args[i:]...)
			}
			operands = append(operands, a)
		case a[1] == '-' && spec.long != nil:
			item, used := spec.longOpt(argv0, a[2:], args[i+1:])
			items = append(items, item)
			i += used
		default:
			more, used := shortOpts(argv0, short, a[1:], args[i+1:])
			items = append(items, more...)
			i += used
		}
	}
	return items, operands
}

// shortOpts reads one word of clustered short options (without its '-')
// and returns what it read and how many of the following words it took.
func shortOpts(argv0, short, word string, rest []string) ([]optItem, int) {
	var items []optItem
	for j := 0; j < len(word); j++ {
		c := word[j]
		k := strings.IndexByte(short, c)
		if k < 0 || c == ':' || c == ';' {
			items = append(items, optItem{opt: '?', err: fmt.Sprintf("%s: invalid option -- '%s'", argv0, word[j:j+1])})
			continue
		}
		if k+1 >= len(short) || short[k+1] != ':' {
			items = append(items, optItem{opt: c})
			continue
		}
		switch {
		case j+1 < len(word):
			return append(items, optItem{opt: c, arg: word[j+1:]}), 0
		case len(rest) > 0:
			return append(items, optItem{opt: c, arg: rest[0]}), 1
		}
		return append(items, optItem{opt: '?', err: fmt.Sprintf("%s: option requires an argument -- '%s'", argv0, word[j:j+1])}), 0
	}
	return items, 0
}

// longOpt reads one --name or --name=value (without its "--") and
// returns what it read and how many of the following words it took.
func (s getoptSpec) longOpt(argv0, word string, rest []string) (optItem, int) {
	name, value, hasValue := strings.Cut(word, "=")
	var found *longOption
	var matches []*longOption
	for k := range s.long {
		o := &s.long[k]
		if o.name == name {
			found, matches = o, nil
			break
		}
		if strings.HasPrefix(o.name, name) {
			matches = append(matches, o)
		}
	}
	if found == nil {
		switch {
		case len(matches) == 0:
			return optItem{opt: '?', err: fmt.Sprintf("%s: unrecognized option '--%s'", argv0, word)}, 0
		case ambiguous(matches):
			var b strings.Builder
			fmt.Fprintf(&b, "%s: option '--%s' is ambiguous; possibilities:", argv0, word)
			for _, m := range matches {
				fmt.Fprintf(&b, " '--%s'", m.name)
			}
			return optItem{opt: '?', err: b.String()}, 0
		}
		found = matches[0]
	}
	switch {
	case !found.hasArg && hasValue:
		return optItem{opt: '?', err: fmt.Sprintf("%s: option '--%s' doesn't allow an argument", argv0, found.name)}, 0
	case !found.hasArg:
		return optItem{opt: found.short}, 0
	case hasValue:
		return optItem{opt: found.short, arg: value}, 0
	case len(rest) > 0:
		return optItem{opt: found.short, arg: rest[0]}, 1
	}
	return optItem{opt: '?', err: fmt.Sprintf("%s: option '--%s' requires an argument", argv0, found.name)}, 0
}

// ambiguous reports whether prefix matches name options that differ: glibc
// accepts an abbreviation matching several entries that all mean the same.
func ambiguous(matches []*longOption) bool {
	for _, m := range matches[1:] {
		if m.short != matches[0].short || m.hasArg != matches[0].hasArg {
			return true
		}
	}
	return false
}
