// Command tinit is a minimal init and subreaper for test containers: it runs
// a command, reaps everything below it, forwards signals, and on exit ends
// what the command left behind. See the README for flags and exit codes.
//
// The runtime is told not to size GOMAXPROCS from the cgroup CPU limit nor
// to re-check that limit every second: tinit needs no parallelism, and both
// cost startup time (files opened and kept open before main) and periodic
// work while idle.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"errors"
	"os"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/internal/escape"
	"github.com/tinit-dev/tinit/internal/report"
	"github.com/tinit-dev/tinit/signals"
	"github.com/tinit-dev/tinit/subreaper"
	"golang.org/x/sys/unix"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes of tinit's own (the child's codes pass through untouched).
const (
	exitUsage    = 2
	exitInternal = 125
)

var (
	// reexecErr says why tinit could not re-execute itself where it had to
	// (reexec.go); startLog warns of it.
	reexecErr error
	// earlyClaim is the claim of the early signals (see signals.Early),
	// begun in main and handed on by every path: to the supervisor, to -P,
	// to the sandbox's outer tinit. Unit tests of run leave it nil, and the
	// users begin their own.
	earlyClaim *signals.Early
)

func main() {
	// First of all: a re-execution discards whatever was begun before it.
	reexecErr = reexecIfNeeded()
	earlyClaim = signals.StartEarly()
	os.Exit(run(os.Args[0], os.Args[1:], os.LookupEnv))
}

// tinitPersona is tinit's own command line (options.go).
var tinitPersona = persona{
	name: "tinit",
	parse: func(_ string, args []string, lookup lookupFunc) (options, *stop) {
		o, err := parse(args, getenvOf(lookup))
		switch {
		case err != nil:
			return o, &stop{stderr: "tinit: " + escape.Printable(err.Error()) + "\n", code: exitUsage}
		case o.help:
			return o, &stop{stdout: usage + usageExtra}
		case o.version:
			return o, &stop{stdout: "tinit " + version + "\n"}
		}
		return o, nil
	},
	failed: func(msg string) stop {
		return stop{stderr: "tinit: " + escape.Printable(msg) + "\n", code: exitInternal}
	},
	execFailed: func(e *subreaper.ExecError) stop {
		hint := ""
		if e.Cmd == "sandbox" && e.Code() == 127 {
			// `tinit --grace 1s sandbox -- CMD`: sandbox is read as the
			// command once a flag precedes it.
			hint = " (tinit sandbox must come first: tinit sandbox [flags] -- COMMAND)"
		}
		return stop{stderr: "tinit: " + escape.Printable(e.Error()) + hint + "\n", code: e.Code()}
	},
}

func getenvOf(lookup lookupFunc) func(string) string {
	return func(k string) string { v, _ := lookup(k); return v }
}

// run is tinit from its command line to its exit code.
func run(argv0 string, args []string, lookup lookupFunc) int {
	p, args, err := choosePersona(argv0, args, lookup)
	if err != nil {
		return finish(stop{stderr: "tinit: " + escape.Printable(err.Error()) + "\n", code: exitUsage})
	}
	if p == &tinitPersona {
		// `tinit sandbox`, the inner tinit of a sandbox, an OCI process.
		if code, ok, err := runExtended(args); ok {
			if err != nil {
				finish(stop{stderr: "tinit: " + escape.Printable(err.Error()) + "\n"})
			}
			return code
		}
	}
	o, early := p.parse(argv0, args, lookup)
	if early != nil {
		return finish(*early)
	}
	if p != &tinitPersona {
		if err := o.readRunnerEnv(getenvOf(lookup)); err != nil {
			return finish(p.failed(err.Error()))
		}
	}
	log := startLog(o, p)
	if o.pdeathSig != 0 {
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(o.pdeathSig), 0, 0, 0); err != nil {
			return finish(p.failed("cannot set the parent-death signal: " + err.Error()))
		}
	}
	if o.pause {
		if err := subreaper.Pause(log, earlyClaim); err != nil {
			return finish(p.failed(err.Error()))
		}
		return 0
	}
	if o.tiniWarning && o.noSubreaper && unix.Getpid() != 1 && !isSubreaper() {
		stderr.Write([]byte(tiniLine("WARN", tiniWarning)))
	}
	return supervise(p, o, o.config(getenvOf(lookup)), log)
}

// supervise runs cfg and turns its outcome into tinit's exit code, in the
// persona's words and codes.
func supervise(p *persona, o options, cfg subreaper.Config, log zerolog.Logger) int {
	rec, err := subreaper.Run(cfg, log)
	writeReports(o, rec, log)
	var execErr *subreaper.ExecError
	switch {
	case errors.As(err, &execErr):
		st := p.execFailed(execErr)
		st.code = o.exitCode(st.code)
		return finish(st)
	case err != nil:
		return finish(p.failed(err.Error()))
	case rec.Exit == "exited" || rec.Exit == "killed":
		return o.exitCode(rec.ExitCode)
	}
	return rec.ExitCode
}

// startLog builds the logger, which warns if tinit could not re-execute
// itself where it had to (main).
func startLog(o options, p *persona) zerolog.Logger {
	log := newLogger(o.verbosity, o.logFormat, p)
	if reexecErr != nil {
		log.Warn().Str("component", "main").Err(reexecErr).Msg("cannot re-execute tinit; the command may inherit blocked signals")
	}
	return log
}

// finish prints what st says and returns its exit code.
func finish(st stop) int {
	os.Stdout.WriteString(st.stdout)
	stderr.Write([]byte(st.stderr))
	return st.code
}

// isSubreaper reports whether tinit is a child subreaper already (the
// attribute survives execve, so a parent may have set it).
func isSubreaper() bool {
	var on int32
	_, _, errno := unix.Syscall(unix.SYS_PRCTL, unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&on)), 0)
	return errno == 0 && on != 0
}

// config is what the supervisor needs of the options. Diagnosing on the
// first stop signal is the default where CI=true (the convention of GitHub
// Actions, GitLab CI and most others) and no terminal is attached.
func (o options) config(getenv func(string) string) subreaper.Config {
	onStop := o.diagnoseOnStop
	if !o.diagnoseSet {
		onStop = getenv("CI") == "true" && !isTerminal(0) && !isTerminal(2)
	}
	return subreaper.Config{
		Argv: o.argv, Grace: o.grace, SingleChild: o.singleChild, NoPidfd: o.noPidfd, NoCgroup: o.noCgroup,
		Timeout: o.timeout, TimeoutSignal: o.timeoutSignal, DiagnoseOnStop: onStop, Stall: o.stall,
		FailOnLeak:  o.failOnLeak,
		NoSubreaper: o.noSubreaper, Setsid: o.setsid, Rewrite: o.rewrite, Forward: o.forward,
		SuspendOnJobSignals: o.suspendOnJob, LogReaped: o.logReaped, LeaveLeftovers: o.leaveLeftovers,
		ExitSignal: o.exitSignal, PassInherited: o.passInherited, Early: earlyClaim,
	}
}

// writeReports writes the files asked for; a failure is logged, and the
// exit code stays the run's.
func writeReports(o options, rec *subreaper.Record, log zerolog.Logger) {
	if o.report != "" {
		if err := report.WriteJSON(o.report, rec, version); err != nil {
			log.Error().Str("component", "main").Err(err).Msg("cannot write the report")
		}
	}
	if o.junit != "" {
		if err := report.WriteJUnit(o.junit, rec, version); err != nil {
			log.Error().Str("component", "main").Err(err).Msg("cannot write the JUnit report")
		}
	}
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// newLogger builds the one logger: stderr only (stdout belongs to the
// child), human-readable on a terminal (format "auto") or always
// ("console"), JSON lines otherwise.
func newLogger(verbosity int, format string, p *persona) zerolog.Logger {
	level := zerolog.WarnLevel - zerolog.Level(verbosity)
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	// A line that cannot be written is lost; zerolog's own complaint
	// would go to os.Stderr, whose broken pipe ends the program.
	zerolog.ErrorHandler = func(error) {}
	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
	var out = zerolog.New(stderr)
	switch {
	case format == "peer" && p.head != nil:
		out = zerolog.New(consoleWriter{out: stderr, head: p.head})
	case format == "console" || format == "auto" && isTerminal(2):
		out = zerolog.New(consoleWriter{out: stderr})
	}
	return out.Level(level).With().Timestamp().Str("app", "tinit").Logger()
}
