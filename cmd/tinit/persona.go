package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/tinit-dev/tinit/subreaper"
	"golang.org/x/sys/unix"
)

// A persona is a name tinit answers to: the command line, defaults,
// messages and exit codes of tini (also as docker-init, the name docker
// --init runs it under), dumb-init or catatonit, so that tinit drops into
// an image, a Dockerfile or a script written for one of them unchanged; or
// tinit's own. The personas differ from their peers on purpose in a few
// ways, the same under every name (see the README): tinit writes no log
// line to stdout, ends what the command left behind unless
// TINIT_LEAVE_LEFTOVERS is set, survives the fault signals a peer dies of,
// and starts the command with an empty signal mask and default
// dispositions.
type persona struct {
	name string
	// parse reads the command line after argv[0]; lookup reads the
	// environment. It returns the options, or the output and exit code
	// of a program that stops at once (help, version, a usage error).
	parse func(argv0 string, args []string, lookup lookupFunc) (options, *stop)
	// failed is the message and exit code for an error of tinit's own
	// (not the command's), such as a bad TINIT_ variable.
	failed func(msg string) stop
	// execFailed is the message and exit code when the command cannot
	// be started.
	execFailed func(e *subreaper.ExecError) stop
	// head is the start of a log line at a level ("error", "warn",
	// "info", "debug").
	head func(level string) string
}

// lookupFunc is os.LookupEnv, or a test's stand-in.
type lookupFunc func(string) (string, bool)

// stop is what a program prints before it exits with code.
type stop struct {
	stdout, stderr string
	code           int
}

// personas by the names tinit answers to.
var personas = map[string]*persona{
	"tinit":       &tinitPersona,
	"tini":        &tiniPersona,
	"tini-static": &tiniPersona,
	"docker-init": &tiniPersona,
	"dumb-init":   &dumbInitPersona,
	"catatonit":   &catatonitPersona,
}

// personaNames lists the names for messages.
const personaNames = "tinit, tini, tini-static, docker-init, dumb-init or catatonit"

// choosePersona picks the persona: `--personality NAME` as the first
// argument, else TINIT_PERSONALITY, else the name tinit was run under
// (argv[0]'s last element); a name that is none of the peers' is tinit's
// own. Under a peer's name, `--personality` is not tinit's: the peer's
// command line has no such option, and the peer's parser refuses it as the
// peer does. It returns the arguments left.
func choosePersona(argv0 string, args []string, lookup lookupFunc) (*persona, []string, error) {
	name, from := "", ""
	byName, peerName := personas[filepath.Base(argv0)]
	peerName = peerName && byName != &tinitPersona
	if len(args) > 0 && !peerName {
		switch v, ok := strings.CutPrefix(args[0], "--personality="); {
		case ok:
			name, from, args = v, "--personality", args[1:]
		case args[0] == "--personality" && len(args) > 1:
			name, from, args = args[1], "--personality", args[2:]
		case args[0] == "--personality":
			return nil, nil, errors.New("--personality needs a value: --personality NAME")
		}
	}
	if from == "" {
		if v, ok := lookup("TINIT_PERSONALITY"); ok && v != "" {
			name, from = v, "TINIT_PERSONALITY"
		}
	}
	if from == "" {
		if byName != nil {
			return byName, args, nil
		}
		return &tinitPersona, args, nil
	}
	p, ok := personas[name]
	if !ok {
		return nil, nil, fmt.Errorf("%s: unknown personality %q (want %s)", from, name, personaNames)
	}
	return p, args, nil
}

// exitCode applies -e (tini's exit-code remap) to the code of the
// command's own exit or exec failure.
func (o options) exitCode(code int) int {
	for _, c := range o.exitZero {
		if c == code {
			return 0
		}
	}
	return code
}

// strerror is the C library's text for an error number, which the peers
// print and scripts match (Go's own texts are in lower case).
func strerror(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	switch errno {
	case unix.ENOENT:
		return "No such file or directory"
	case unix.EACCES:
		return "Permission denied"
	case unix.ENOEXEC:
		return "Exec format error"
	case unix.ELOOP:
		return "Too many levels of symbolic links"
	case unix.ENAMETOOLONG:
		return "File name too long"
	case unix.ENOTDIR:
		return "Not a directory"
	case unix.ETXTBSY:
		return "Text file busy"
	case unix.EPERM:
		return "Operation not permitted"
	case unix.E2BIG:
		return "Argument list too long"
	case unix.ENOMEM:
		return "Cannot allocate memory"
	case unix.EAGAIN:
		return "Resource temporarily unavailable"
	case unix.ELIBBAD:
		return "Accessing a corrupted shared library"
	}
	s := errno.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// license is what -l (tini) and -L (catatonit) print: tinit is neither,
// and says so rather than print another program's license.
func license(peer string) string {
	return fmt.Sprintf("This is tinit %s answering to %s's command line; it is not %s, and its\nlicense comes with its source.\n", version, peer, peer)
}
