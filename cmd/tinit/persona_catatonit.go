package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/tinit-dev/tinit/subreaper"
	"golang.org/x/sys/unix"
)

// catatonit 0.1.7's command line, as tinit answers to it under the name
// catatonit (podman's default init, and the pause process of its pods):
// getopt with permuted arguments, -P for pause mode, the command signalled
// alone unless -g, SIGTSTP, SIGTTIN and SIGTTOU not forwarded, always a
// subreaper outside PID 1, everything logged on stderr as "LEVEL
// (catatonit:PID): ...", exit 1 for every mistake and when the command
// cannot be started.
var catatonitPersona = persona{
	name:  "catatonit",
	parse: parseCatatonit,
	failed: func(msg string) stop {
		return stop{stderr: catatonitLine("ERROR", msg), code: 1}
	},
	execFailed: func(e *subreaper.ExecError) stop {
		return stop{stderr: catatonitLine("ERROR", "failed to exec pid1: "+strerror(e.Err)), code: 1}
	},
	head: func(level string) string { return catatonitHead(strings.ToUpper(level)) },
}

// catatonitVersion impersonates tini, as catatonit itself does so that
// docker's `docker info` can parse it.
func catatonitVersion() string { return "tini version 0.1.7_catatonit - tinit " + version + "\n" }

func catatonitHead(level string) string {
	return fmt.Sprintf("%s (catatonit:%d): ", level, os.Getpid())
}

func catatonitLine(level, msg string) string { return catatonitHead(level) + msg + "\n" }

const catatonitUsage = "usage: catatonit [-ghLPV] [--] <progname> [<arguments>...]\n"

var catatonitSpec = getoptSpec{short: "ghLPV", long: []longOption{{name: "version", short: 'V'}}}

func parseCatatonit(argv0 string, args []string, lookup lookupFunc) (options, *stop) {
	o := peerDefaults()
	o.singleChild = true
	o.forward = []unix.Signal{unix.SIGPIPE}
	o.rewrite = map[unix.Signal]unix.Signal{unix.SIGTSTP: 0}
	if _, ok := lookup("CATATONIT_DEBUG"); ok {
		o.verbosity = 2
	}
	if _, ok := lookup("CATATONIT_LOG"); ok {
		return o, &stop{stderr: catatonitLine("ERROR", "CATATONIT_LOG is reserved for future use"), code: 1}
	}
	_, posixly := lookup("POSIXLY_CORRECT")
	items, operands := getoptParse(argv0, args, catatonitSpec, posixly)
	for _, it := range items {
		switch it.opt {
		case 'g':
			o.singleChild = false
		case 'P':
			o.pause = true
		case 'h':
			return o, &stop{stderr: catatonitHelp}
		case 'L':
			return o, &stop{stdout: license("catatonit")}
		case 'V':
			return o, &stop{stdout: catatonitVersion()}
		default:
			return o, &stop{stderr: it.err + "\n" + catatonitUsage, code: 1}
		}
	}
	if len(operands) == 0 && !o.pause {
		return o, &stop{stderr: catatonitLine("ERROR", "missing program name") + catatonitUsage, code: 1}
	}
	o.argv = operands
	return o, nil
}

const catatonitHelp = catatonitUsage + `
tinit under catatonit's name: runs a program as its child, forwards signals
to it, reaps every process below it and ends what it leaves behind.

options:
  -g              Forward signals to the program's process group.
  -h              Print this help page.
  -L              Print license information.
  -P              Pause mode: run no program, reap, exit on SIGINT or SIGTERM.
  -V, --version   Print version information.

tinit's own TINIT_ variables apply as under its own name.
`
