package main

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func lookupOf(kv ...string) lookupFunc {
	return func(key string) (string, bool) {
		for _, e := range kv {
			if k, v, _ := strings.Cut(e, "="); k == key {
				return v, true
			}
		}
		return "", false
	}
}

// parseAs runs the persona chosen for argv0 over args and env.
func parseAs(t *testing.T, argv0 string, args []string, env ...string) (*persona, options, *stop) {
	t.Helper()
	p, rest, err := choosePersona(argv0, args, lookupOf(env...))
	if err != nil {
		t.Fatalf("choosePersona(%q, %q): %v", argv0, args, err)
	}
	o, st := p.parse(argv0, rest, lookupOf(env...))
	return p, o, st
}

func TestChoosePersona(t *testing.T) {
	for _, tc := range []struct {
		argv0 string
		args  []string
		env   []string
		want  string
	}{
		{argv0: "/usr/bin/tini", want: "tini"},
		{argv0: "tini-static", want: "tini"},
		{argv0: "/sbin/docker-init", want: "tini"},
		{argv0: "/usr/bin/dumb-init", want: "dumb-init"},
		{argv0: "/usr/libexec/podman/catatonit", want: "catatonit"},
		{argv0: "/run/podman-init", want: "tinit"},
		{argv0: "/bin/tinit", want: "tinit"},
		{argv0: "tini", args: []string{"--personality", "catatonit"}, want: "tini"}, // tini's to refuse
		{argv0: "dumb-init", args: []string{"--personality=tinit"}, want: "dumb-init"},
		{argv0: "tinit", args: []string{"--personality", "catatonit"}, want: "catatonit"},
		{argv0: "tinit", args: []string{"--personality=dumb-init"}, want: "dumb-init"},
		{argv0: "tinit", env: []string{"TINIT_PERSONALITY=tini"}, want: "tini"},
		{argv0: "dumb-init", env: []string{"TINIT_PERSONALITY=tinit"}, want: "tinit"},
		{argv0: "tinit", args: []string{"--personality", "tinit"}, env: []string{"TINIT_PERSONALITY=tini"}, want: "tinit"},
		{argv0: "tinit", env: []string{"TINIT_PERSONALITY="}, want: "tinit"},
	} {
		p, _, err := choosePersona(tc.argv0, tc.args, lookupOf(tc.env...))
		if err != nil || p.name != tc.want {
			t.Errorf("%s %q %q: got %v %v, want %s", tc.argv0, tc.args, tc.env, p, err, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		env  []string
	}{
		{args: []string{"--personality"}},
		{args: []string{"--personality", "bash"}},
		{args: []string{"--personality="}},
		{env: []string{"TINIT_PERSONALITY=systemd"}},
	} {
		if p, _, err := choosePersona("tinit", tc.args, lookupOf(tc.env...)); err == nil {
			t.Errorf("%q %q: got persona %s, want an error", tc.args, tc.env, p.name)
		}
	}
}

func TestTiniOptions(t *testing.T) {
	_, o, st := parseAs(t, "tini", []string{"-s", "-g", "-w", "-vv", "-e", "3", "-e", "143", "-p", "SIGUSR1", "--", "cmd", "-x"})
	if st != nil {
		t.Fatalf("stopped: %+v", st)
	}
	if o.noSubreaper || o.singleChild || !o.logReaped || o.pdeathSig != unix.SIGUSR1 || !slices.Equal(o.exitZero, []int{3, 143}) || !slices.Equal(o.argv, []string{"cmd", "-x"}) {
		t.Errorf("options %+v", o)
	}
	_, o, _ = parseAs(t, "tini", []string{"cmd"})
	if !o.noSubreaper || !o.singleChild || !o.tiniWarning || !o.passInherited || o.verbosity != 0 {
		t.Errorf("tini's defaults: %+v", o)
	}
	_, o, _ = parseAs(t, "tini", []string{"cmd"}, "TINI_SUBREAPER=", "TINI_KILL_PROCESS_GROUP=", "TINI_VERBOSITY=0")
	if o.noSubreaper || o.singleChild || o.tiniWarning || o.verbosity != -1 {
		t.Errorf("tini's variables: %+v", o)
	}
	for _, args := range [][]string{{}, {"-x", "cmd"}, {"-e", "256", "cmd"}, {"-e", "x", "cmd"}, {"-p", "KILL", "cmd"}, {"-p"}} {
		if _, _, st := parseAs(t, "tini", args); st == nil || st.code != 1 || st.stderr == "" || st.stdout != "" {
			t.Errorf("tini %q: %+v, want exit 1 with a message on stderr", args, st)
		}
	}
	if _, _, st := parseAs(t, "tini", []string{"--version"}); st == nil || st.code != 0 || !strings.HasPrefix(st.stdout, "tini version 0.19.0 - tinit ") {
		t.Errorf("tini --version: %+v", st)
	}
}

func TestDumbInitOptions(t *testing.T) {
	_, o, st := parseAs(t, "dumb-init", []string{"-r", "15:10", "--rewrite", "20:0", "cmd", "-c"})
	if st != nil {
		t.Fatalf("stopped: %+v", st)
	}
	if !o.setsid || o.singleChild || o.rewrite[unix.SIGTERM] != unix.SIGUSR1 || o.rewrite[unix.SIGTSTP] != 0 ||
		o.rewrite[unix.SIGTTIN] != unix.SIGSTOP || o.exitSignal != unix.SIGUSR1 || !o.suspendOnJob || !slices.Equal(o.argv, []string{"cmd", "-c"}) {
		t.Errorf("options %+v", o)
	}
	for _, tc := range []struct {
		args []string
		env  []string
	}{{args: []string{"-c", "cmd"}}, {args: []string{"cmd"}, env: []string{"DUMB_INIT_SETSID=0"}}} {
		_, o, _ := parseAs(t, "dumb-init", tc.args, tc.env...)
		if o.setsid || !o.singleChild || len(o.rewrite) != 0 {
			t.Errorf("%q %q: want child-only without rewrites: %+v", tc.args, tc.env, o)
		}
	}
	_, o, _ = parseAs(t, "dumb-init", []string{"cmd"}, "DUMB_INIT_DEBUG=1")
	if o.verbosity != 2 {
		t.Errorf("DUMB_INIT_DEBUG=1: verbosity %d", o.verbosity)
	}
	for _, bad := range []string{"", "0:1", "32:1", "1:32", "1", "x:y"} {
		if _, _, st := parseAs(t, "dumb-init", []string{"-r", bad, "cmd"}); st == nil || st.code != 1 || !strings.HasPrefix(st.stderr, "Usage: -r option takes <signum>:<signum>") {
			t.Errorf("-r %q: %+v", bad, st)
		}
	}
	if _, _, st := parseAs(t, "dumb-init", []string{"-V"}); st == nil || st.code != 0 || !strings.HasPrefix(st.stderr, "dumb-init v1.2.5 (tinit ") {
		t.Errorf("-V: %+v", st)
	}
}

func TestCatatonitOptions(t *testing.T) {
	_, o, st := parseAs(t, "catatonit", []string{"cmd", "-g"})
	if st != nil || o.singleChild || !slices.Equal(o.argv, []string{"cmd"}) {
		t.Errorf("catatonit cmd -g (options permute): %+v %+v", o, st)
	}
	_, o, st = parseAs(t, "catatonit", []string{"-P"})
	if st != nil || !o.pause {
		t.Errorf("-P: %+v %+v", o, st)
	}
	if _, _, st := parseAs(t, "catatonit", []string{"cmd"}, "CATATONIT_LOG="); st == nil || st.code != 1 || !strings.Contains(st.stderr, "CATATONIT_LOG is reserved") {
		t.Errorf("CATATONIT_LOG: %+v", st)
	}
	if _, _, st := parseAs(t, "catatonit", nil); st == nil || st.code != 1 || !strings.Contains(st.stderr, "missing program name") {
		t.Errorf("no program: %+v", st)
	}
}

// FuzzPersona: no command line, under any name, crashes a parser; each
// stops with 0, 1 or 2 and says why on one stream, or yields a command.
func FuzzPersona(f *testing.F) {
	for _, seed := range []string{"tini\x00-e\x00256", "dumb-init\x00-r\x0015:0\x00x", "catatonit\x00-P", "tinit\x00--personality\x00tini\x00-s", "tini\x00--version", "dumb-init\x00--v"} {
		f.Add(seed, "TINI_VERBOSITY=-3")
	}
	f.Fuzz(func(t *testing.T, line, env string) {
		words := strings.Split(line, "\x00")
		p, rest, err := choosePersona(words[0], words[1:], lookupOf(strings.Split(env, "\x00")...))
		if err != nil {
			return
		}
		o, st := p.parse(words[0], rest, lookupOf(strings.Split(env, "\x00")...))
		if st == nil {
			if len(o.argv) == 0 && !o.pause && !o.help && !o.version {
				t.Fatalf("%q: no command and no stop", words)
			}
			return
		}
		if st.code < 0 || st.code > 2 {
			t.Fatalf("%q: exit code %d", words, st.code)
		}
		if (st.stdout == "") == (st.stderr == "") {
			t.Fatalf("%q: want output on exactly one stream: %+v", words, st)
		}
	})
}

func TestCNumber(t *testing.T) {
	for _, tc := range []struct {
		in     string
		mag    uint64
		neg    bool
		digits bool
		rest   string
	}{
		{"42", 42, false, true, ""},
		{" \t-7x", 7, true, true, "x"},
		{"+", 0, false, false, ""},
		{"", 0, false, false, ""},
		{"99999999999999999999999", 1<<63 - 1, false, true, ""},
		{"9223372036854775807", 1<<63 - 1, false, true, ""},
		{"4611686018427387903", 4611686018427387903, false, true, ""},
		{"15:9", 15, false, true, ":9"},
		{"-9223372036854775807", 1<<63 - 1, true, true, ""},
		{"-9223372036854775808", 1 << 63, true, true, ""},
		{"-99999999999999999999", 1 << 63, true, true, ""},
		{"9223372036854775808", 1<<63 - 1, false, true, ""},
	} {
		mag, neg, digits, rest := cNumber(tc.in)
		if mag != tc.mag || neg != tc.neg || digits != tc.digits || rest != tc.rest {
			t.Errorf("cNumber(%q) = %d %v %v %q, want %d %v %v %q", tc.in, mag, neg, digits, rest, tc.mag, tc.neg, tc.digits, tc.rest)
		}
	}
}

// TestCIntegers: TINI_VERBOSITY through atoi(3) into an unsigned int, and
// dumb-init's -r through sscanf(3)'s %d, as glibc reads them: strtol
// saturated at LONG_MIN and LONG_MAX, then its low 32 bits.
func TestCIntegers(t *testing.T) {
	for in, want := range map[string]int{
		"": 0, "abc": 0, "2": 2, " 3x": 3, "-1": 1<<32 - 1, "4294967296": 0, "4294967297": 1,
		"-4294967296": 0, "2147483648": 1 << 31, "99999999999999999999": 1<<32 - 1, "-99999999999999999999": 0,
	} {
		if got := atoiLevel(in); got != want {
			t.Errorf("atoiLevel(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string][2]int{
		"15:0": {15, 0}, "4294967311:1": {15, 1}, "-9223372036854775807:1": {1, 1},
		"-9223372036854775808:1": {0, 1}, "1:-99999999999999999999": {1, 0}, "99999999999999999999:2": {-1, 2},
	} {
		from, to, ok := scanRewrite(in)
		if !ok || from != want[0] || to != want[1] {
			t.Errorf("scanRewrite(%q) = %d %d %v, want %d %d", in, from, to, ok, want[0], want[1])
		}
	}
}

// TestTiniUsageName: tini's usage names it by GNU basename(3) of argv[0],
// which is empty after a trailing slash.
func TestTiniUsageName(t *testing.T) {
	for argv0, want := range map[string]string{"tini": "tini", "/usr/bin/tini": "tini", "./docker-init": "docker-init", "/a/tini/": "", "tini//": ""} {
		if got, _, _ := strings.Cut(tiniUsage(argv0), " ("); got != want {
			t.Errorf("tiniUsage(%q) names %q, want %q", argv0, got, want)
		}
	}
}

// TestPeerDiagnoseOnStop: under a peer's name, CI=true does not turn on
// the diagnosis of a stop signal (the peer prints nothing then); the
// runner's variable does.
func TestPeerDiagnoseOnStop(t *testing.T) {
	for _, name := range []string{"tini", "dumb-init", "catatonit"} {
		for _, tc := range []struct {
			env  []string
			want bool
		}{
			{[]string{"CI=true"}, false},
			{[]string{"CI=true", "TINIT_DIAGNOSE_ON_STOP=1"}, true},
			{[]string{"TINIT_DIAGNOSE_ON_STOP=1"}, true},
			{[]string{"CI=true", "TINIT_DIAGNOSE_ON_STOP=0"}, false},
		} {
			_, o, st := parseAs(t, name, []string{"true"}, tc.env...)
			if st != nil {
				t.Fatalf("%s %q: stopped: %+v", name, tc.env, st)
			}
			getenv := getenvOf(lookupOf(tc.env...))
			if err := o.readRunnerEnv(getenv); err != nil {
				t.Fatal(err)
			}
			if got := o.config(getenv).DiagnoseOnStop; got != tc.want {
				t.Errorf("%s %q: DiagnoseOnStop %v, want %v", name, tc.env, got, tc.want)
			}
		}
	}
}
