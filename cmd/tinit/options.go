package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tinit-dev/tinit/subreaper"
)

const usage = `Usage: tinit [flags] [--] COMMAND [ARGS...]

Runs COMMAND as its child, reaps every process below it, forwards signals
to the child's process group, and when the child exits ends whatever it left
behind (SIGTERM, a grace period, SIGKILL). Exits with the child's status, or
128+n if signal n killed it.

Flags (each has an environment variable, for runtimes that pass no flags):
      --grace DURATION   time leftovers get between SIGTERM and SIGKILL,
                         e.g. 500ms, 10s, or seconds as a plain number
                         (default 2s; TINIT_GRACE)
  -c, --single-child     forward signals to the child alone, not to its
                         process group (TINIT_SINGLE_CHILD=1)
      --no-pidfd         signal by pid instead of pidfd, as tinit does where
                         pidfds are unavailable (TINIT_NO_PIDFD=1)
      --no-cgroup        do not put the run in a cgroup of its own; find
                         leftovers by walking /proc only (TINIT_NO_CGROUP=1)
  -v, --verbose          log more: -v info, -vv debug; default warnings
                         and errors only (TINIT_VERBOSITY=0|1|2)
      --version          print the version and exit
  -h, --help             print this help and exit

Exit codes: the child's own; 128+n when signal n killed it; 127 command not
found; 126 command not executable; 125 tinit itself failed; 2 usage error.
`

// maxVerbosity is -vv: debug.
const maxVerbosity = 2

// options is the parsed command line.
type options struct {
	argv        []string
	grace       time.Duration
	singleChild bool
	noPidfd     bool
	noCgroup    bool
	verbosity   int
	help        bool
	version     bool
}

// usageError is a mistake on the command line or in a TINIT_ variable.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// parse reads the TINIT_ environment variables, then the flags, which win.
// Flags end at "--" or at the first argument that is not a flag.
func parse(args []string, getenv func(string) string) (options, error) {
	o := options{grace: subreaper.DefaultGrace}
	if err := o.fromEnv(getenv); err != nil {
		return o, err
	}
	verbose := -1 // from -v flags; -1 leaves TINIT_VERBOSITY in force
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.argv = args[i+1:]
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			o.argv = args[i:]
			break
		}
		used, err := o.flag(a, args[i+1:], &verbose)
		if err != nil {
			return o, err
		}
		i += used
	}
	if verbose >= 0 {
		o.verbosity = verbose
	}
	o.verbosity = min(o.verbosity, maxVerbosity)
	if len(o.argv) == 0 && !o.help && !o.version {
		return o, usagef("no command given; usage: tinit [flags] -- COMMAND [ARGS...]")
	}
	return o, nil
}

// flag applies one flag and returns how many of the following arguments
// it took as its value.
func (o *options) flag(a string, rest []string, verbose *int) (int, error) {
	name, value, hasValue := strings.Cut(a, "=")
	switch {
	case name == "-h" || name == "--help":
		o.help = true
	case name == "--version":
		o.version = true
	case name == "-c" || name == "--single-child":
		o.singleChild = true
	case name == "--no-pidfd":
		o.noPidfd = true
	case name == "--no-cgroup":
		o.noCgroup = true
	case name == "--grace":
		return o.graceFlag(value, hasValue, rest)
	case name == "--verbose" || isShortVerbose(name):
		n := strings.Count(name, "v")
		if name == "--verbose" {
			n = 1
		}
		*verbose = max(*verbose, 0) + n
	default:
		return 0, usagef("unknown flag %q (did you forget -- before the command?)", a)
	}
	if hasValue {
		return 0, usagef("flag %s takes no value", name)
	}
	return 0, nil
}

func (o *options) graceFlag(value string, hasValue bool, rest []string) (int, error) {
	used := 0
	if !hasValue {
		if len(rest) == 0 {
			return 0, usagef("--grace needs a duration, e.g. --grace 5s")
		}
		value, used = rest[0], 1
	}
	d, err := parseGrace(value)
	if err != nil {
		return 0, usagef("--grace: %v", err)
	}
	o.grace = d
	return used, nil
}

// isShortVerbose matches -v, -vv, -vvv...
func isShortVerbose(name string) bool {
	return len(name) > 1 && name[0] == '-' && strings.Count(name, "v") == len(name)-1
}

func (o *options) fromEnv(getenv func(string) string) error {
	var err error
	if v := getenv("TINIT_GRACE"); v != "" {
		if o.grace, err = parseGrace(v); err != nil {
			return usagef("TINIT_GRACE: %v", err)
		}
	}
	if o.singleChild, err = envBool(getenv, "TINIT_SINGLE_CHILD"); err != nil {
		return err
	}
	if o.noPidfd, err = envBool(getenv, "TINIT_NO_PIDFD"); err != nil {
		return err
	}
	if o.noCgroup, err = envBool(getenv, "TINIT_NO_CGROUP"); err != nil {
		return err
	}
	if v := getenv("TINIT_VERBOSITY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxVerbosity {
			return usagef("TINIT_VERBOSITY: want 0, 1 or 2, got %q", v)
		}
		o.verbosity = n
	}
	return nil
}

// parseGrace reads a Go duration ("1.5s", "300ms") or a plain number of
// seconds ("10").
func parseGrace(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || secs != secs || secs > maxGrace.Seconds() {
			return 0, fmt.Errorf("invalid duration %q", v)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", v)
	}
	if d > maxGrace {
		return 0, fmt.Errorf("duration %q exceeds %v", v, maxGrace)
	}
	return d, nil
}

// maxGrace keeps a typo from turning into a hang of days.
const maxGrace = 24 * time.Hour

func envBool(getenv func(string) string, key string) (bool, error) {
	switch v := getenv(key); strings.ToLower(v) {
	case "", "0", "false", "no", "off":
		return false, nil
	case "1", "true", "yes", "on":
		return true, nil
	default:
		return false, usagef("%s: want 1, true, yes, on or 0, false, no, off; got %q", key, v)
	}
}
