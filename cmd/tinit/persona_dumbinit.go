package main

import (
	"fmt"

	"github.com/tinit-dev/tinit/subreaper"
	"golang.org/x/sys/unix"
)

// dumb-init 1.2.5's command line, as tinit answers to it under the name
// dumb-init: getopt_long stopping at the command, the command in a
// session of its own and the whole group signalled (setsid mode) unless
// -c or DUMB_INIT_SETSID=0, signals rewritten with -r, SIGTSTP, SIGTTIN
// and SIGTTOU sent as SIGSTOP in setsid mode and followed by tinit
// stopping itself, everything it prints on stderr, exit 2 when the command
// cannot be started and 1 for every mistake.
var dumbInitPersona = persona{
	name:  "dumb-init",
	parse: parseDumbInit,
	failed: func(msg string) stop {
		return stop{stderr: "[dumb-init] " + msg + "\n", code: 1}
	},
	execFailed: func(e *subreaper.ExecError) stop {
		return stop{stderr: fmt.Sprintf("[dumb-init] %s: %s\n", e.Cmd, strerror(e.Err)), code: 2}
	},
	head: func(string) string { return "[dumb-init] " },
}

func dumbInitVersion() string { return "dumb-init v1.2.5 (tinit " + version + ")\n" }

var dumbInitSpec = getoptSpec{short: "+hvVcr:", long: []longOption{
	{name: "help", short: 'h'},
	{name: "single-child", short: 'c'},
	{name: "rewrite", hasArg: true, short: 'r'},
	{name: "verbose", short: 'v'},
	{name: "version", short: 'V'},
}}

// dumbInitMaxSig is the highest signal -r rewrites, as dumb-init.
const dumbInitMaxSig = 31

func parseDumbInit(argv0 string, args []string, lookup lookupFunc) (options, *stop) {
	o := peerDefaults()
	o.setsid, o.suspendOnJob = true, true
	o.forward = []unix.Signal{unix.SIGPIPE, unix.SIGTTIN, unix.SIGTTOU, unix.SIGABRT}
	o.rewrite = map[unix.Signal]unix.Signal{}
	items, operands := getoptParse(argv0, args, dumbInitSpec, false)
	for _, it := range items {
		switch it.opt {
		case 'h':
			return o, &stop{stderr: dumbInitHelp(argv0)}
		case 'v':
			o.verbosity = 2
		case 'V':
			return o, &stop{stderr: dumbInitVersion()}
		case 'c':
			o.setsid = false
		case 'r':
			from, to, ok := scanRewrite(it.arg)
			if !ok || from < 1 || from > dumbInitMaxSig || to < 0 || to > dumbInitMaxSig {
				return o, &stop{stderr: fmt.Sprintf("Usage: -r option takes <signum>:<signum>, where <signum> is between 1 and %d.\n"+
					"This option can be specified multiple times.\nUse --help for full usage.\n", dumbInitMaxSig), code: 1}
			}
			o.rewrite[unix.Signal(from)] = unix.Signal(to)
		default:
			return o, &stop{stderr: it.err + "\n", code: 1}
		}
	}
	if len(operands) == 0 {
		return o, &stop{stderr: fmt.Sprintf("Usage: %s [option] program [args]\nTry %s --help for full usage.\n", argv0, argv0), code: 1}
	}
	o.argv = operands
	if v, _ := lookup("DUMB_INIT_DEBUG"); v == "1" {
		o.verbosity = 2
	}
	if v, _ := lookup("DUMB_INIT_SETSID"); v == "0" {
		o.setsid = false
	}
	if o.setsid {
		for _, sig := range []unix.Signal{unix.SIGTSTP, unix.SIGTTOU, unix.SIGTTIN} {
			if _, set := o.rewrite[sig]; !set {
				o.rewrite[sig] = unix.SIGSTOP
			}
		}
	}
	o.singleChild = !o.setsid
	// dumb-init's one SIGTERM when the command exits, should leftovers
	// be left (TINIT_LEAVE_LEFTOVERS); it goes through the rewrites.
	o.exitSignal = unix.SIGTERM
	if as, set := o.rewrite[unix.SIGTERM]; set {
		o.exitSignal = as
	}
	return o, nil
}

// scanRewrite reads "s:r" as sscanf(3) with "%d:%d" does: each number
// after optional white space and a sign, the colon right after the first,
// anything after the second ignored. glibc converts each with strtol(3)
// (saturating at LONG_MIN and LONG_MAX) and stores its low 32 bits.
func scanRewrite(s string) (from, to int, ok bool) {
	from, rest, ok := scanInt(s)
	if !ok || len(rest) == 0 || rest[0] != ':' {
		return 0, 0, false
	}
	to, _, ok = scanInt(rest[1:])
	return from, to, ok
}

func scanInt(s string) (int, string, bool) {
	_, _, digits, rest := cNumber(s)
	if !digits {
		return 0, s, false
	}
	return int(int32(strtol(s))), rest, true
}

func dumbInitHelp(argv0 string) string {
	return fmt.Sprintf(`%sUsage: %s [option] command [[arg] ...]

tinit under dumb-init's name: runs a command as its child, forwards signals
to it, reaps every process below it and ends what it leaves behind.

Optional arguments:
   -c, --single-child   Run in single-child mode: signals go to the direct
                        child alone, not to its process group.
   -r, --rewrite s:r    Forward the signal s as r; r 0 forwards nothing.
                        Repeatable.
   -v, --verbose        Print debugging information to stderr.
   -h, --help           Print this help message and exit.
   -V, --version        Print the version and exit.

DUMB_INIT_SETSID=0 is -c; DUMB_INIT_DEBUG=1 is -v; tinit's own TINIT_
variables apply as under its own name.
`, dumbInitVersion(), argv0)
}
