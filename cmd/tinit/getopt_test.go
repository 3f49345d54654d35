package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinit-dev/tinit/internal/testenv"
)

// The peers' option specifications, as getopt sees them.
var peerSpecs = map[string]getoptSpec{"tini": tiniSpec, "dumb-init": dumbInitSpec, "catatonit": catatonitSpec}

// getoptWords are what random command lines are made of: options of every
// peer, clusters, values, operands, and the odd cases ("-", "--", "---",
// "-:", abbreviations, values glued on with '=').
var getoptWords = []string{
	"-s", "-v", "-vvv", "-sv", "-e", "-e3", "-e", "143", "-p", "SIGKILL", "-pSIGUSR1", "-g", "-w", "-l", "-h",
	"-c", "-r", "15:2", "-r15:0", "-V", "-P", "-L", "-x", "-sx", "-ve", "--", "-", "---", "-:", "-;",
	"--help", "--help=x", "--he", "--v", "--ver", "--vers", "--version", "--verbose", "--rewrite", "--rewrite=1:2",
	"--rewrite=", "--single", "--single-child", "--bogus", "--bogus=1", "--=x", "--h",
	"ls", "true", "x", "y", "sh", "-ld", "/", "-\xff", "-s\xe9", "--\xff",
}

// TestGetoptMatchesTheCLibrary runs thousands of random command lines
// through getoptParse and through the C library's getopt_long, built from
// testdata/getopt.c, for each peer's option specification, with and
// without POSIXLY_CORRECT: the options, their values, the messages and the
// operands must be the same, in the same order.
func TestGetoptMatchesTheCLibrary(t *testing.T) {
	cc, err := exec.LookPath("cc")
	testenv.Need(t, "cc", err)
	bin := filepath.Join(t.TempDir(), "getopt")
	if out, err := exec.Command(cc, "-O2", "-Wall", "-Werror", "-o", bin, "testdata/getopt.c").CombinedOutput(); err != nil {
		t.Fatalf("cc testdata/getopt.c: %v\n%s", err, out)
	}
	for name, spec := range peerSpecs {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(name))))
			var cases [][]string
			var posix []bool
			for range 3000 {
				words := make([]string, rng.IntN(7))
				for i := range words {
					words[i] = getoptWords[rng.IntN(len(getoptWords))]
				}
				cases, posix = append(cases, words), append(posix, rng.IntN(4) == 0)
			}
			want := runCGetopt(t, bin, spec, cases, posix)
			for i, words := range cases {
				if got := goGetopt(spec, words, posix[i]); got != want[i] {
					t.Fatalf("%q (POSIXLY_CORRECT %v):\n got %q\nwant %q", words, posix[i], got, want[i])
				}
			}
		})
	}
}

// goGetopt renders getoptParse's answer as testdata/getopt.c prints it.
func goGetopt(spec getoptSpec, words []string, posix bool) string {
	items, operands := getoptParse("prog", words, spec, posix)
	var b strings.Builder
	for _, it := range items {
		switch {
		case it.err != "":
			fmt.Fprintf(&b, "%s\n?\n", it.err)
		case it.arg != "" || optTakesValue(spec, it.opt):
			fmt.Fprintf(&b, "opt %c %s\n", it.opt, it.arg)
		default:
			fmt.Fprintf(&b, "opt %c\n", it.opt)
		}
	}
	for _, w := range operands {
		fmt.Fprintf(&b, "arg %s\n", w)
	}
	return b.String()
}

func optTakesValue(spec getoptSpec, c byte) bool {
	k := strings.IndexByte(strings.TrimPrefix(spec.short, "+"), c)
	short := strings.TrimPrefix(spec.short, "+")
	return k >= 0 && k+1 < len(short) && short[k+1] == ':'
}

// runCGetopt runs every case through the C harness in one process.
func runCGetopt(t *testing.T, bin string, spec getoptSpec, cases [][]string, posix []bool) []string {
	args := []string{spec.short}
	for _, l := range spec.long {
		colon := ""
		if l.hasArg {
			colon = ":"
		}
		args = append(args, fmt.Sprintf("%s%s=%c", l.name, colon, l.short))
	}
	var in bytes.Buffer
	for i, words := range cases {
		if posix[i] {
			in.WriteString("P")
		} else {
			in.WriteString("-")
		}
		in.WriteString(strings.Join(words, "\x01"))
		in.WriteString("\n")
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("getopt harness: %v", err)
	}
	var results []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if sc.Text() == "end" {
			results = append(results, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(sc.Text() + "\n")
	}
	if len(results) != len(cases) {
		t.Fatalf("harness answered %d cases of %d", len(results), len(cases))
	}
	return results
}

// TestGetoptExamples pins the cases the peers' users meet, in words.
func TestGetoptExamples(t *testing.T) {
	tests := []struct {
		spec  string
		words []string
		posix bool
		want  string
	}{
		{"tini", []string{"ls", "-l", "/"}, false, "opt l\narg ls\narg /\n"},
		{"tini", []string{"-s", "ls", "--", "-ld", "/"}, false, "opt s\narg ls\narg -ld\narg /\n"},
		{"tini", []string{"-s", "ls", "-ld", "/"}, true, "opt s\narg ls\narg -ld\narg /\n"},
		{"tini", []string{"-e3", "-e", "143", "x"}, false, "opt e 3\nopt e 143\narg x\n"},
		{"tini", []string{"-p"}, false, "prog: option requires an argument -- 'p'\n?\n"},
		{"dumb-init", []string{"true", "-V"}, false, "arg true\narg -V\n"},
		{"dumb-init", []string{"--vers"}, false, "opt V\n"},
		{"dumb-init", []string{"--v"}, false, "prog: option '--v' is ambiguous; possibilities: '--verbose' '--version'\n?\n"},
		{"dumb-init", []string{"--rewrite=15:0", "x"}, false, "opt r 15:0\narg x\n"},
		{"dumb-init", []string{"--help=1"}, false, "prog: option '--help' doesn't allow an argument\n?\n"},
		{"catatonit", []string{"ls", "-g", "/"}, false, "opt g\narg ls\narg /\n"},
		{"catatonit", []string{"--help"}, false, "prog: unrecognized option '--help'\n?\n"},
	}
	for _, tt := range tests {
		if got := goGetopt(peerSpecs[tt.spec], tt.words, tt.posix); got != tt.want {
			t.Errorf("%s %q: got %q, want %q", tt.spec, tt.words, got, tt.want)
		}
	}
}
