package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/subreaper"
	"golang.org/x/sys/unix"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  func(string) string
		want options
	}{
		{"command after --", []string{"--", "go", "test"}, env(),
			options{argv: []string{"go", "test"}, grace: subreaper.DefaultGrace}},
		{"command without --", []string{"go", "-v"}, env(),
			options{argv: []string{"go", "-v"}, grace: subreaper.DefaultGrace}},
		{"flags stop at the command", []string{"-c", "sh", "-c", "exit 1"}, env(),
			options{argv: []string{"sh", "-c", "exit 1"}, grace: subreaper.DefaultGrace, singleChild: true}},
		{"grace with space", []string{"--grace", "500ms", "--", "x"}, env(),
			options{argv: []string{"x"}, grace: 500 * time.Millisecond}},
		{"grace with =", []string{"--grace=1.5s", "x"}, env(),
			options{argv: []string{"x"}, grace: 1500 * time.Millisecond}},
		{"grace in plain seconds", []string{"--grace", "3", "x"}, env(),
			options{argv: []string{"x"}, grace: 3 * time.Second}},
		{"grace zero", []string{"--grace=0", "x"}, env(),
			options{argv: []string{"x"}, grace: 0}},
		{"verbosity counts", []string{"-v", "-v", "x"}, env(),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, verbosity: 2}},
		{"-vv", []string{"-vv", "x"}, env(),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, verbosity: 2}},
		{"verbosity capped", []string{"-vvvv", "x"}, env(),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, verbosity: 2}},
		{"env defaults", []string{"x"}, env("TINIT_GRACE", "250ms", "TINIT_SINGLE_CHILD", "1", "TINIT_NO_PIDFD", "true", "TINIT_VERBOSITY", "1"),
			options{argv: []string{"x"}, grace: 250 * time.Millisecond, singleChild: true, noPidfd: true, verbosity: 1}},
		{"flags beat env", []string{"--grace", "1s", "x"}, env("TINIT_GRACE", "9s"),
			options{argv: []string{"x"}, grace: time.Second}},
		{"-v beats TINIT_VERBOSITY", []string{"-v", "x"}, env("TINIT_VERBOSITY", "2"),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, verbosity: 1}},
		{"TINIT_VERBOSITY without -v", []string{"x"}, env("TINIT_VERBOSITY", "2"),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, verbosity: 2}},
		{"help needs no command", []string{"-h"}, env(),
			options{grace: subreaper.DefaultGrace, help: true}},
		{"version", []string{"--version"}, env(),
			options{grace: subreaper.DefaultGrace, version: true}},
		{"-V", []string{"-V"}, env(),
			options{grace: subreaper.DefaultGrace, version: true}},
		{"peers' flags", []string{"-s", "-w", "-e", "3", "-e", "143", "-p", "USR1", "-r", "TERM:INT", "-r", "20:0", "--leave-leftovers", "x"}, env(),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, logReaped: true, exitZero: []int{3, 143}, pdeathSig: unix.SIGUSR1,
				rewrite: map[unix.Signal]unix.Signal{unix.SIGTERM: unix.SIGINT, unix.SIGTSTP: 0}, leaveLeftovers: true}},
		{"-c then -g", []string{"-c", "-g", "x"}, env(),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace}},
		{"pause needs no command", []string{"-P"}, env(),
			options{grace: subreaper.DefaultGrace, pause: true}},
		{"TINIT_LEAVE_LEFTOVERS", []string{"x"}, env("TINIT_LEAVE_LEFTOVERS", "1"),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, leaveLeftovers: true}},
		{"no-pidfd", []string{"--no-pidfd", "--", "x"}, env(),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, noPidfd: true}},
		{"no-cgroup", []string{"--no-cgroup", "--", "x"}, env(),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, noCgroup: true}},
		{"no-cgroup from env", []string{"x"}, env("TINIT_NO_CGROUP", "yes"),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, noCgroup: true}},
		// A flag wins over its variable, which is then not read at all,
		// and --help and --version read no variable.
		{"--grace beats a bad TINIT_GRACE", []string{"--grace", "1s", "x"}, env("TINIT_GRACE", "forever"),
			options{argv: []string{"x"}, grace: time.Second}},
		{"-c beats a bad TINIT_SINGLE_CHILD", []string{"-c", "x"}, env("TINIT_SINGLE_CHILD", "maybe"),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, singleChild: true}},
		{"-v beats a bad TINIT_VERBOSITY", []string{"-v", "x"}, env("TINIT_VERBOSITY", "lots"),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace, verbosity: 1}},
		{"--help with bad variables", []string{"--help"}, env("TINIT_GRACE", "forever", "TINIT_NO_PIDFD", "maybe"),
			options{grace: subreaper.DefaultGrace, help: true}},
		{"--version with bad variables", []string{"--version"}, env("TINIT_GRACE", "forever"),
			options{grace: subreaper.DefaultGrace, version: true}},
		{"TINIT_ bool off", []string{"x"}, env("TINIT_NO_PIDFD", "off"),
			options{argv: []string{"x"}, grace: subreaper.DefaultGrace}},
		{"grace, fractional seconds", []string{"--grace", "0.25", "x"}, env(),
			options{argv: []string{"x"}, grace: 250 * time.Millisecond}},
		{"grace, composite duration", []string{"--grace", "1m30s", "x"}, env(),
			options{argv: []string{"x"}, grace: 90 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.args, tt.env)
			if err != nil {
				t.Fatalf("parse(%q) error = %v", tt.args, err)
			}
			if !slices.Equal(got.argv, tt.want.argv) || got.grace != tt.want.grace ||
				got.singleChild != tt.want.singleChild || got.noPidfd != tt.want.noPidfd || got.noCgroup != tt.want.noCgroup ||
				got.verbosity != tt.want.verbosity || got.help != tt.want.help || got.version != tt.want.version {
				t.Errorf("parse(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"nothing", nil, env(), "no command given"},
		{"only --", []string{"--"}, env(), "no command given"},
		{"unknown flag", []string{"-x", "cmd"}, env(), "did you forget --"},
		{"grace missing", []string{"--grace"}, env(), "--grace needs a value: --grace DURATION"},
		{"grace bad", []string{"--grace", "soon", "x"}, env(), "invalid duration"},
		{"grace negative", []string{"--grace=-1s", "x"}, env(), "invalid duration"},
		{"grace tiny negative", []string{"--grace=-0.0000000001", "x"}, env(), "invalid duration"},
		{"grace hex float", []string{"--grace=0x1p2", "x"}, env(), "invalid duration"},
		{"grace digit separators", []string{"--grace=1_000", "x"}, env(), "invalid duration"},
		{"grace exponent", []string{"--grace=1e3", "x"}, env(), "invalid duration"},
		{"grace plus", []string{"--grace=+5", "x"}, env(), "invalid duration"},
		{"grace inf", []string{"--grace=inf", "x"}, env(), "invalid duration"},
		{"grace trailing dot", []string{"--grace=5.", "x"}, env(), "invalid duration"},
		{"grace huge seconds", []string{"--grace=99999999", "x"}, env(), "exceeds"},
		{"grace huge", []string{"--grace=1000h", "x"}, env(), "exceeds"},
		{"grace NaN", []string{"--grace=NaN", "x"}, env(), "invalid duration"},
		{"value on a switch", []string{"-c=1", "x"}, env(), "takes no value"},
		{"bad env grace", []string{"x"}, env("TINIT_GRACE", "x"), "TINIT_GRACE"},
		{"bad env bool", []string{"x"}, env("TINIT_NO_PIDFD", "maybe"), "TINIT_NO_PIDFD"},
		{"bad env verbosity", []string{"x"}, env("TINIT_VERBOSITY", "7"), "TINIT_VERBOSITY"},
		{"-e too big", []string{"-e", "256", "x"}, env(), "want an exit code from 0 to 255"},
		{"-e signed", []string{"-e", "+3", "x"}, env(), "want an exit code from 0 to 255"},
		{"-p unknown", []string{"-p", "SIGFOO", "x"}, env(), "-p"},
		{"-r no colon", []string{"-r", "15", "x"}, env(), "want SIGNAL:SIGNAL"},
		{"-r bad target", []string{"-r", "15:NOPE", "x"}, env(), "want SIGNAL:SIGNAL"},
		{"bad env grace, no flag", []string{"x"}, env("TINIT_GRACE", "0x1p2"), "TINIT_GRACE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.args, tt.env)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("parse(%q) error = %v, want a usage error", tt.args, err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("parse(%q) error = %q, want one line containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// FuzzParse checks that no command line crashes the parser, that a usage
// error is always one line, and that a successful parse has a command or a
// reason to need none.
func FuzzParse(f *testing.F) {
	f.Add("--grace\x001s\x00--\x00sh")
	f.Add("-vv\x00-c\x00cmd")
	f.Add("--grace=\x00x")
	f.Add("-\x00-v")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		o, err := parse(args, env())
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("parse(%q) error has several lines: %q", args, err)
			}
			return
		}
		if len(o.argv) == 0 && !o.help && !o.version {
			t.Errorf("parse(%q) succeeded without a command", args)
		}
		if o.grace < 0 || o.grace > maxDuration || o.verbosity < 0 || o.verbosity > maxVerbosity {
			t.Errorf("parse(%q) = %+v out of range", args, o)
		}
	})
}
