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
		name, value, hasValue := strings.Cut(a, "=")
		switch name {
		case "-h", "--help":
			o.help = true
		case "--version":
			o.version = true
		case "-c", "--single-child":
			o.singleChild = true
		case "--no-pidfd":
			o.noPidfd = true
		case "--no-cgroup":
			o.noCgroup = true
		case "--verbose":
			o.verbosity++
		case "--grace":
			if !hasValue {
				if i+1 >= len(args) {
					return o, usagef("--grace needs a duration, e.g. --grace 5s")
				}
				i++
				value = args[i]
			}
			d, err := parseGrace(value)
			if err != nil {
				return o, usagef("--grace: %v", err)
			}
			o.grace = d
			continue
		default:
			if n := strings.Count(name, "v"); n == len(name)-1 && name[0] == '-' && n > 0 {
				o.verbosity += n // -v, -vv, -vvv
				break
			}
			return o, usagef("unknown flag %q (did you forget -- before the command?)", a)
		}
		if hasValue {
			return o, usagef("flag %s takes no value", name)
		}
	}
	o.verbosity = min(o.verbosity, maxVerbosity)
	if len(o.argv) == 0 && !o.help && !o.version {
		return o, usagef("no command given; usage: tinit [flags] -- COMMAND [ARGS...]")
	}
	return o, nil
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
		return false, usagef("%s: want 1 or 0, got %q", key, v)
	}
}
