package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/tinit-dev/tinit/subreaper"
	"golang.org/x/sys/unix"
)

// tini 0.19's command line, as tinit answers to it under the names tini,
// tini-static and docker-init. What follows is tini's behaviour, checked
// against the real binary (tests/persona_test.go): getopt with permuted
// arguments, --version only as the sole argument, the TINI_ variables read
// after the flags and set by being present at all, exit 1 for every
// mistake, and the command signalled alone unless -g.
var tiniPersona = persona{
	name:  "tini",
	parse: parseTini,
	failed: func(msg string) stop {
		return stop{stderr: tiniLine("FATAL", msg), code: 1}
	},
	execFailed: func(e *subreaper.ExecError) stop {
		// tini's codes: 127 not found, 126 not executable, 1 for the rest.
		code := 1
		switch {
		case errors.Is(e.Err, unix.ENOENT):
			code = 127
		case errors.Is(e.Err, unix.EACCES):
			code = 126
		}
		return stop{stderr: tiniLine("FATAL", fmt.Sprintf("exec %s failed: %s", e.Cmd, strerror(e.Err))), code: code}
	},
	head: func(level string) string { return tiniHead(tiniLevels[level]) },
}

// tiniVersion is what --version prints: tini's own first words, which
// docker parses for `docker info` ("tini version X - ..."), and tinit's.
func tiniVersion() string { return "tini version 0.19.0 - tinit " + version + "\n" }

var tiniLevels = map[string]string{"error": "FATAL", "warn": "WARN", "info": "INFO", "debug": "DEBUG"}

func tiniHead(level string) string {
	return fmt.Sprintf("[%-5s tini (%d)] ", level, os.Getpid())
}

func tiniLine(level, msg string) string { return tiniHead(level) + msg + "\n" }

// tiniWarning is tini's warning when it is neither PID 1 nor a subreaper,
// word for word.
const tiniWarning = "Tini is not running as PID 1 and isn't registered as a child subreaper.\n" +
	"Zombie processes will not be re-parented to Tini, so zombie reaping won't work.\n" +
	"To fix the problem, use the -s option or set the environment variable TINI_SUBREAPER to register Tini as a child subreaper, or run Tini as PID 1."

var tiniSpec = getoptSpec{short: "p:hvwgle:s"}

func parseTini(argv0 string, args []string, lookup lookupFunc) (options, *stop) {
	o := peerDefaults()
	o.singleChild, o.noSubreaper = true, true
	o.forward = []unix.Signal{unix.SIGPIPE}
	level := 1 // tini's default verbosity: warnings
	if len(args) == 1 && args[0] == "--version" {
		return o, &stop{stdout: tiniVersion()}
	}
	_, posixly := lookup("POSIXLY_CORRECT")
	items, operands := getoptParse(argv0, args, tiniSpec, posixly)
	for _, it := range items {
		switch it.opt {
		case 'h':
			return o, &stop{stdout: tiniUsage(argv0)}
		case 's':
			o.noSubreaper = false
		case 'p':
			sig, ok := tiniSignals[it.arg]
			if !ok {
				return o, &stop{stderr: tiniLine("FATAL", "Not a valid option for -p: "+it.arg), code: 1}
			}
			o.pdeathSig = sig
		case 'v':
			level++
		case 'w':
			o.logReaped = true
		case 'g':
			o.singleChild = false
		case 'e':
			code, ok := strtolStatus(it.arg)
			if !ok {
				return o, &stop{stderr: tiniLine("FATAL", "Not a valid option for -e: "+it.arg), code: 1}
			}
			o.exitZero = append(o.exitZero, code)
		case 'l':
			return o, &stop{stdout: license("tini")}
		default:
			return o, &stop{stderr: it.err + "\n" + tiniUsage(argv0), code: 1}
		}
	}
	if len(operands) == 0 {
		return o, &stop{stderr: tiniUsage(argv0), code: 1}
	}
	o.argv = operands
	if _, ok := lookup("TINI_SUBREAPER"); ok {
		o.noSubreaper = false
	}
	if _, ok := lookup("TINI_KILL_PROCESS_GROUP"); ok {
		o.singleChild = false
	}
	if v, ok := lookup("TINI_VERBOSITY"); ok {
		level = atoiLevel(v)
	}
	// tini's levels: 0 fatal errors only, 1 warnings, 2 info, 3 debug, 4
	// trace (tinit's debug too).
	o.verbosity = min(level, 3) - 1
	o.tiniWarning = level >= 1
	return o, nil
}

func tiniUsage(argv0 string) string {
	// tini names itself with GNU basename(3): what follows the last
	// slash, empty when argv[0] ends in one.
	name := argv0[strings.LastIndexByte(argv0, '/')+1:]
	return fmt.Sprintf(`%s (%s)
Usage: %s [OPTIONS] PROGRAM -- [ARGS] | --version

Runs PROGRAM under tinit, which takes tini's command line under this name.

Command line options:

  --version: Show the version and exit.
  -h: Show this help message and exit.
  -s: Register as a process subreaper.
  -p SIGNAL: Send SIGNAL to tinit when its parent dies, e.g. "-p SIGKILL".
  -v: More verbose output; repeat for more.
  -w: Print a warning for every process reaped.
  -g: Send signals to the child's process group.
  -e EXIT_CODE: Exit 0 when the child exits with EXIT_CODE (0 to 255); repeatable.
  -l: Show the license and exit.

Environment variables:

  TINI_SUBREAPER: Register as a process subreaper.
  TINI_VERBOSITY: Set the verbosity level (default: 1).
  TINI_KILL_PROCESS_GROUP: Send signals to the child's process group.
  TINIT_*: tinit's own settings (timeout, report, grace...), as under its own name.

`, name, strings.TrimSuffix(tiniVersion(), "\n"), name)
}

// tiniSignals are the names -p takes, exactly as tini spells them.
var tiniSignals = map[string]unix.Signal{
	"SIGHUP": unix.SIGHUP, "SIGINT": unix.SIGINT, "SIGQUIT": unix.SIGQUIT, "SIGILL": unix.SIGILL,
	"SIGTRAP": unix.SIGTRAP, "SIGABRT": unix.SIGABRT, "SIGBUS": unix.SIGBUS, "SIGFPE": unix.SIGFPE,
	"SIGKILL": unix.SIGKILL, "SIGUSR1": unix.SIGUSR1, "SIGSEGV": unix.SIGSEGV, "SIGUSR2": unix.SIGUSR2,
	"SIGPIPE": unix.SIGPIPE, "SIGALRM": unix.SIGALRM, "SIGTERM": unix.SIGTERM, "SIGCHLD": unix.SIGCHLD,
	"SIGCONT": unix.SIGCONT, "SIGSTOP": unix.SIGSTOP, "SIGTSTP": unix.SIGTSTP, "SIGTTIN": unix.SIGTTIN,
	"SIGTTOU": unix.SIGTTOU, "SIGURG": unix.SIGURG, "SIGXCPU": unix.SIGXCPU, "SIGXFSZ": unix.SIGXFSZ,
	"SIGVTALRM": unix.SIGVTALRM, "SIGPROF": unix.SIGPROF, "SIGWINCH": unix.SIGWINCH, "SIGSYS": unix.SIGSYS,
}

// strtolStatus reads -e's value as tini does, with strtol(3) in base 10
// and nothing after the number: leading white space and a sign are taken,
// an empty string is 0 (strtol reads no digits and stops at its end),
// and the result must be 0 to 255.
func strtolStatus(s string) (int, bool) {
	mag, neg, digits, rest := cNumber(s)
	if !digits { // strtol points back at the start
		return 0, s == ""
	}
	if rest != "" || neg && mag != 0 || mag > 255 {
		return 0, false
	}
	return int(mag), true
}

// atoiLevel reads TINI_VERBOSITY as tini does, with atoi(3) into an
// unsigned int: glibc's atoi is strtol(3) (leading white space, a sign,
// the digits up to the first other character, 0 for none, saturated at
// LONG_MIN and LONG_MAX) cut to an int, so a negative level wraps around
// to the most verbose and 4294967296 is 0, as in tini.
func atoiLevel(s string) int {
	return int(uint32(int32(strtol(s))))
}

// strtol is the value strtol(3) in base 10 gives for s.
func strtol(s string) int64 {
	mag, neg, _, _ := cNumber(s)
	if neg {
		return int64(-mag) // mag is at most 1<<63: LONG_MIN wraps to itself
	}
	return int64(mag)
}

// cNumber reads a decimal number as the C library's strtol(3) and
// atoi(3) do: leading white space, an optional sign, the digits up to the
// first other character. It returns the magnitude (saturated as strtol
// saturates: at LONG_MAX, or at -LONG_MIN when negative), the sign,
// whether any digit was read, and what follows.
func cNumber(s string) (mag uint64, neg, digits bool, rest string) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	limit := uint64(1<<63 - 1) // LONG_MAX
	if neg {
		limit++ // -LONG_MIN
	}
	start := i
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if mag <= (limit-d)/10 {
			mag = mag*10 + d
		} else {
			mag = limit // strtol saturates
		}
	}
	return mag, neg, i > start, s[i:]
}

func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}
