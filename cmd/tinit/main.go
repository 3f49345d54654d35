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
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/internal/escape"
	"github.com/tinit-dev/tinit/internal/report"
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

func main() {
	code, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "tinit: %s\n", escape.Printable(err.Error()))
	}
	os.Exit(code)
}

func run(args []string) (int, error) {
	if code, ok, err := runExtended(args); ok {
		return code, err
	}
	opts, err := parse(args, os.Getenv)
	switch {
	case err != nil:
		return exitUsage, err
	case opts.help:
		fmt.Print(usage + usageExtra)
		return 0, nil
	case opts.version:
		fmt.Println("tinit", version)
		return 0, nil
	}
	reexecErr := reexecIfNeeded()
	log := newLogger(opts.verbosity, opts.logFormat)
	if reexecErr != nil {
		log.Warn().Str("component", "main").Err(reexecErr).Msg("cannot re-execute tinit; the command may inherit blocked signals")
	}
	rec, err := subreaper.Run(opts.config(os.Getenv), log)
	writeReports(opts, rec, log)
	var execErr *subreaper.ExecError
	switch {
	case errors.As(err, &execErr):
		return execErr.Code(), err
	case err != nil:
		return exitInternal, err
	}
	return rec.ExitCode, nil
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
		FailOnLeak: o.failOnLeak,
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
func newLogger(verbosity int, format string) zerolog.Logger {
	level := zerolog.WarnLevel - zerolog.Level(verbosity)
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
	var out = zerolog.New(os.Stderr)
	if format == "console" || format == "auto" && isTerminal(2) {
		out = zerolog.New(consoleWriter{out: os.Stderr})
	}
	return out.Level(level).With().Timestamp().Str("app", "tinit").Logger()
}
