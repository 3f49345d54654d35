package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tinit-dev/tinit/signals"
	"github.com/tinit-dev/tinit/subreaper"
	"golang.org/x/sys/unix"
)

const usage = `Usage: tinit [flags] [--] COMMAND [ARGS...]

Runs COMMAND as its child, reaps every process below it, forwards signals
to the child's process group, and when the child exits ends whatever it left
behind (SIGTERM, a grace period, SIGKILL). Exits with the child's status, or
128+n if signal n killed it.

Flags (each has an environment variable, for runtimes that pass no flags;
a flag wins over its variable):
      --grace DURATION   time leftovers get between SIGTERM and SIGKILL,
                         a Go duration (500ms, 10s) or plain seconds (3,
                         0.5); default 2s; TINIT_GRACE
  -c, --single-child     forward signals to the child alone, not to its
                         process group (TINIT_SINGLE_CHILD=1)
      --no-pidfd         signal by pid instead of pidfd, as tinit does where
                         pidfds are unavailable (TINIT_NO_PIDFD=1)
      --no-cgroup        do not put the run in a cgroup of its own; find
                         leftovers by walking /proc only (TINIT_NO_CGROUP=1)
      --timeout DURATION end a run that takes longer: a diagnosis, SIGQUIT
                         to Go programs (goroutine dumps), SIGTERM, grace,
                         SIGKILL; exit 124 (TINIT_TIMEOUT)
      --timeout-signal SIG  signal the whole tree gets at a timeout instead
                         of SIGQUIT for Go programs and SIGTERM
                         (TINIT_TIMEOUT_SIGNAL)
      --diagnose-on-stop diagnose on the first SIGINT or SIGTERM, before
                         forwarding it; on by default where CI=true and no
                         terminal (TINIT_DIAGNOSE_ON_STOP=1|0)
      --stall DURATION   diagnose once when the whole tree has used no CPU
                         for that long (TINIT_STALL)
      --fail-on-leak     exit 86 when the command succeeded but left
                         processes behind (TINIT_FAIL_ON_LEAK=1)
      --report FILE      write a JSON report of the run (TINIT_REPORT)
      --junit FILE       write a JUnit XML report of the run (TINIT_JUNIT)
      --log-format FMT   json, console or auto: console on a terminal
                         (TINIT_LOG_FORMAT)
  -v, --verbose          log more: -v info, -vv debug; default warnings
                         and errors only (TINIT_VERBOSITY=0|1|2)
      --leave-leftovers  when the command exits, leave what it left behind
                         running, as the peers do (TINIT_LEAVE_LEFTOVERS=1)
  -V, --version          print the version and exit
  -h, --help             print this help and exit

The peers' flags, also taken under tinit's own name:
  -s                     be a subreaper (tinit always is)
  -g                     signal the child's process group (the default)
  -w                     log "Reaped zombie process with pid=N" at warn
  -e CODE                exit 0 when the child exits with CODE (0-255);
                         repeatable, applied after the 128+n mapping
  -p SIGNAL              the signal tinit gets when its parent dies
  -r, --rewrite FROM:TO  forward signal FROM as TO (names or numbers; TO 0
                         drops it); repeatable
  -P                     pause: run no command, exit 0 on SIGINT or SIGTERM
      --personality NAME  (first argument only) answer as tini, tini-static,
                         docker-init, dumb-init or catatonit (also
                         TINIT_PERSONALITY, or the name tinit runs under)

Exit codes: the child's own; 128+n when signal n killed it; 124 timeout;
86 leak with --fail-on-leak; 127 command not found; 126 command not
executable; 125 tinit itself failed; 2 usage error.
`

// maxVerbosity is -vv: debug.
const maxVerbosity = 2

// options is the parsed command line.
type options struct {
	argv          []string
	grace         time.Duration
	singleChild   bool
	noPidfd       bool
	noCgroup      bool
	timeout       time.Duration
	timeoutSignal unix.Signal
	// diagnoseOnStop is set from the flag or its variable; diagnoseSet
	// says whether either was given (else CI=true decides).
	diagnoseOnStop, diagnoseSet bool
	stall                       time.Duration
	failOnLeak                  bool
	report, junit               string
	logFormat                   string // "json", "console", "auto"; "peer" for a peer's own
	verbosity                   int    // -1 errors only, 0 warnings, 1 info, 2 debug
	help                        bool
	version                     bool

	// What the peers' flags ask for (see persona.go), also taken under
	// tinit's own name where they do not clash with its flags.
	noSubreaper    bool // tini without -s
	setsid         bool // dumb-init's default
	rewrite        map[unix.Signal]unix.Signal
	forward        []unix.Signal
	suspendOnJob   bool
	logReaped      bool // -w
	leaveLeftovers bool
	exitSignal     unix.Signal
	passInherited  bool
	exitZero       []int       // -e
	pdeathSig      unix.Signal // -p
	pause          bool        // -P
	tiniWarning    bool        // tini's warning when neither PID 1 nor a subreaper
}

// peerDefaults are the options a peer's persona starts from: tinit's
// defaults, the peer's way of logging, and what every peer does unlike
// tinit's own persona: the command inherits the descriptors tinit did, and
// a stop signal is passed on without a diagnosis where CI=true (a peer
// prints nothing then; TINIT_DIAGNOSE_ON_STOP=1 asks for it).
func peerDefaults() options {
	return options{grace: subreaper.DefaultGrace, logFormat: "peer", passInherited: true, diagnoseSet: true}
}

// usageError is a mistake on the command line or in a TINIT_ variable.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagDef is one flag and the environment variable that stands in for it.
type flagDef struct {
	names []string
	env   string // "" for none
	// arg names the flag's value in messages; "" for a flag without one.
	arg string
	// set applies the flag's value ("" for a flag without one); fromEnv,
	// when set, applies the variable's value instead of set.
	set, fromEnv func(o *options, v string) error
}

// flagDefs are tinit's flags.
var flagDefs = []flagDef{
	{names: []string{"--grace"}, env: "TINIT_GRACE", arg: "DURATION", set: func(o *options, v string) (err error) {
		o.grace, err = parseDuration(v)
		return err
	}},
	{names: []string{"-c", "--single-child"}, env: "TINIT_SINGLE_CHILD", set: setBool(func(o *options) *bool { return &o.singleChild })},
	{names: []string{"--no-pidfd"}, env: "TINIT_NO_PIDFD", set: setBool(func(o *options) *bool { return &o.noPidfd })},
	{names: []string{"--no-cgroup"}, env: "TINIT_NO_CGROUP", set: setBool(func(o *options) *bool { return &o.noCgroup })},
	{names: []string{"--timeout"}, env: "TINIT_TIMEOUT", arg: "DURATION", set: func(o *options, v string) (err error) {
		o.timeout, err = parseLongDuration(v)
		if err == nil && o.timeout == 0 {
			err = fmt.Errorf("a timeout of %q would end the run at once", v)
		}
		return err
	}},
	{names: []string{"--timeout-signal"}, env: "TINIT_TIMEOUT_SIGNAL", arg: "SIGNAL", set: func(o *options, v string) (err error) {
		o.timeoutSignal, err = signals.Parse(v)
		return err
	}},
	{names: []string{"--diagnose-on-stop"}, env: "TINIT_DIAGNOSE_ON_STOP", set: func(o *options, v string) (err error) {
		o.diagnoseSet = true
		return setBool(func(o *options) *bool { return &o.diagnoseOnStop })(o, v)
	}},
	{names: []string{"--stall"}, env: "TINIT_STALL", arg: "DURATION", set: func(o *options, v string) (err error) {
		o.stall, err = parseLongDuration(v)
		if err == nil && o.stall == 0 {
			err = fmt.Errorf("a stall of %q is no stall", v)
		}
		return err
	}},
	{names: []string{"--fail-on-leak"}, env: "TINIT_FAIL_ON_LEAK", set: setBool(func(o *options) *bool { return &o.failOnLeak })},
	{names: []string{"--report"}, env: "TINIT_REPORT", arg: "FILE", set: setPath(func(o *options) *string { return &o.report })},
	{names: []string{"--junit"}, env: "TINIT_JUNIT", arg: "FILE", set: setPath(func(o *options) *string { return &o.junit })},
	{names: []string{"--log-format"}, env: "TINIT_LOG_FORMAT", arg: "FORMAT", set: func(o *options, v string) error {
		if v != "json" && v != "console" && v != "auto" {
			return fmt.Errorf("want json, console or auto, got %q", v)
		}
		o.logFormat = v
		return nil
	}},
	{names: []string{"-v", "--verbose"}, env: "TINIT_VERBOSITY",
		set: func(o *options, _ string) error { o.verbosity++; return nil },
		fromEnv: func(o *options, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxVerbosity {
				return fmt.Errorf("want 0, 1 or 2, got %q", v)
			}
			o.verbosity = n
			return nil
		}},
	{names: []string{"--leave-leftovers"}, env: "TINIT_LEAVE_LEFTOVERS", set: setBool(func(o *options) *bool { return &o.leaveLeftovers })},
	{names: []string{"-V", "--version"}, set: setBool(func(o *options) *bool { return &o.version })},
	{names: []string{"-h", "--help"}, set: setBool(func(o *options) *bool { return &o.help })},

	// The peers' flags tinit takes under its own name too.
	{names: []string{"-s"}, set: func(*options, string) error { return nil }}, // tinit is always a subreaper
	{names: []string{"-g"}, set: func(o *options, _ string) error { o.singleChild = false; return nil }},
	{names: []string{"-w"}, set: setBool(func(o *options) *bool { return &o.logReaped })},
	{names: []string{"-e"}, arg: "CODE", set: func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 255 || !allDigits(v) {
			return fmt.Errorf("want an exit code from 0 to 255, got %q", v)
		}
		o.exitZero = append(o.exitZero, n)
		return nil
	}},
	{names: []string{"-p"}, arg: "SIGNAL", set: func(o *options, v string) (err error) {
		o.pdeathSig, err = signals.Parse(v)
		return err
	}},
	{names: []string{"-r", "--rewrite"}, arg: "FROM:TO", set: func(o *options, v string) error {
		from, to, ok := strings.Cut(v, ":")
		f, ferr := signals.Parse(from)
		t, terr := signals.Parse(to)
		if to == "0" {
			t, terr = 0, nil
		}
		if !ok || ferr != nil || terr != nil {
			return fmt.Errorf("want SIGNAL:SIGNAL (TERM:INT, 15:2; 0 to drop), got %q", v)
		}
		if o.rewrite == nil {
			o.rewrite = map[unix.Signal]unix.Signal{}
		}
		o.rewrite[f] = t
		return nil
	}},
	{names: []string{"-P"}, set: setBool(func(o *options) *bool { return &o.pause })},
}

// runnerVars are the TINIT_ variables read under every persona: tinit's
// settings that no peer has (a peer's own flags and variables stand in for
// the others).
var runnerVars = []string{
	"TINIT_GRACE", "TINIT_NO_PIDFD", "TINIT_NO_CGROUP", "TINIT_TIMEOUT", "TINIT_TIMEOUT_SIGNAL",
	"TINIT_DIAGNOSE_ON_STOP", "TINIT_STALL", "TINIT_FAIL_ON_LEAK", "TINIT_REPORT", "TINIT_JUNIT",
	"TINIT_LOG_FORMAT", "TINIT_LEAVE_LEFTOVERS",
}

// setBool sets a boolean field: to true for the flag, to the value of its
// variable (see parseBool) from the environment.
func setBool(field func(o *options) *bool) func(o *options, v string) error {
	return func(o *options, v string) (err error) {
		if v == "" {
			*field(o) = true
			return nil
		}
		*field(o), err = parseBool(v)
		return err
	}
}

// setPath sets a file name: not empty, and in a directory that exists
// (checked now, so that the report does not fail at the end of a run).
func setPath(field func(o *options) *string) func(o *options, v string) error {
	return func(o *options, v string) error {
		if v == "" {
			return errors.New("an empty file name")
		}
		if st, err := os.Stat(filepath.Dir(v)); err != nil || !st.IsDir() {
			return fmt.Errorf("%q: no such directory", filepath.Dir(v))
		}
		*field(o) = v
		return nil
	}
}

// parse reads the flags, then the TINIT_ environment variables of the
// flags not given: a flag wins over its variable, which is then not even
// read, and --help and --version read none. Flags end at "--" or at the
// first argument that is not a flag.
func parse(args []string, getenv func(string) string) (options, error) {
	o := options{grace: subreaper.DefaultGrace, logFormat: "auto"}
	given := map[*flagDef]bool{}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		used, err := o.flag(a, args[i+1:], given)
		if err != nil {
			return o, err
		}
		i += used
	}
	o.argv = args[i:]
	o.verbosity = min(o.verbosity, maxVerbosity)
	if o.help || o.version {
		return o, nil
	}
	if err := o.readEnv(getenv, func(d *flagDef) bool { return !given[d] }); err != nil {
		return o, err
	}
	if len(o.argv) == 0 && o.pause {
		return o, nil
	}
	if len(o.argv) == 0 {
		return o, usagef("no command given; usage: tinit [flags] -- COMMAND [ARGS...]")
	}
	return o, nil
}

// readEnv applies the variables of the flags that want reads, in the
// table's order.
func (o *options) readEnv(getenv func(string) string, want func(*flagDef) bool) error {
	for k := range flagDefs {
		d := &flagDefs[k]
		if d.env == "" || !want(d) {
			continue
		}
		v := getenv(d.env)
		if v == "" {
			continue
		}
		apply := d.set
		if d.fromEnv != nil {
			apply = d.fromEnv
		}
		if err := apply(o, v); err != nil {
			return usagef("%s: %v", d.env, err)
		}
	}
	return nil
}

// readRunnerEnv applies the runnerVars, for a peer's persona.
func (o *options) readRunnerEnv(getenv func(string) string) error {
	return o.readEnv(getenv, func(d *flagDef) bool { return slices.Contains(runnerVars, d.env) })
}

// flag applies one flag and returns how many of the following arguments
// it took as its value.
func (o *options) flag(a string, rest []string, given map[*flagDef]bool) (int, error) {
	name, value, hasValue := strings.Cut(a, "=")
	if n := strings.Count(name, "v"); n > 1 && n == len(name)-1 && name[0] == '-' && name[1] == 'v' {
		// -vv, -vvv: -v that many times.
		d := lookupFlag("-v")
		given[d] = true
		o.verbosity += n
		if hasValue {
			return 0, usagef("flag %s takes no value", name)
		}
		return 0, nil
	}
	d := lookupFlag(name)
	if d == nil {
		return 0, usagef("unknown flag %q (did you forget -- before the command?)", a)
	}
	given[d] = true
	used := 0
	switch {
	case d.arg == "" && hasValue:
		return 0, usagef("flag %s takes no value", name)
	case d.arg != "" && !hasValue:
		if len(rest) == 0 {
			return 0, usagef("%s needs a value: %s %s", name, name, d.arg)
		}
		value, used = rest[0], 1
	}
	if err := d.set(o, value); err != nil {
		return 0, usagef("%s: %v", name, err)
	}
	return used, nil
}

func lookupFlag(name string) *flagDef {
	for k := range flagDefs {
		if slices.Contains(flagDefs[k].names, name) {
			return &flagDefs[k]
		}
	}
	return nil
}

// maxDuration keeps a typo from turning into a hang of days: the most a
// grace period can be; a timeout or a stall can be a week.
const (
	maxDuration     = 24 * time.Hour
	maxLongDuration = 7 * 24 * time.Hour
)

// parseDuration reads a Go duration ("1.5s", "300ms", "1m30s") or a plain
// decimal number of seconds ("10", "0.5"). Nothing else: no sign, no
// exponent, no hexadecimal, no digit separators, nothing above a day.
func parseDuration(v string) (time.Duration, error) { return parseDurationMax(v, maxDuration) }

// parseLongDuration is parseDuration up to a week.
func parseLongDuration(v string) (time.Duration, error) { return parseDurationMax(v, maxLongDuration) }

func parseDurationMax(v string, maxDuration time.Duration) (time.Duration, error) {
	var d time.Duration
	switch {
	case v == "" || v[0] == '+' || v[0] == '-':
		return 0, fmt.Errorf("invalid duration %q: want e.g. 500ms, 10s or 3", v)
	case plainSeconds(v):
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs > maxDuration.Seconds() {
			return 0, fmt.Errorf("duration %q exceeds %v", v, maxDuration)
		}
		d = time.Duration(secs * float64(time.Second))
	default:
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("invalid duration %q: want e.g. 500ms, 10s or 3", v)
		}
	}
	if d > maxDuration {
		return 0, fmt.Errorf("duration %q exceeds %v", v, maxDuration)
	}
	return d, nil
}

// plainSeconds reports whether v is digits, optionally a dot and more
// digits.
func plainSeconds(v string) bool {
	whole, frac, dot := strings.Cut(v, ".")
	return whole != "" && allDigits(whole) && (!dot || frac != "" && allDigits(frac))
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(s) <= 12
}

// parseBool reads a boolean variable.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "0", "false", "no", "off":
		return false, nil
	case "1", "true", "yes", "on":
		return true, nil
	}
	return false, fmt.Errorf("want 1, true, yes, on or 0, false, no, off; got %q", v)
}
