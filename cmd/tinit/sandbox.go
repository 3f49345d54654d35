package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/internal/diagnose"
	"github.com/tinit-dev/tinit/internal/oci"
	"github.com/tinit-dev/tinit/internal/report"
	"github.com/tinit-dev/tinit/internal/sandbox"
	"github.com/tinit-dev/tinit/signals"
	"github.com/tinit-dev/tinit/subreaper"
	"golang.org/x/sys/unix"
)

// `tinit sandbox [flags] -- CMD` runs in two tinit processes. The outer one,
// started by the user, parses and checks everything, then clones the inner
// one (this binary again, as `tinit sandbox-init FD`) into the new
// namespaces and stays its parent: it forwards signals, passes its exit
// code on and writes the reports, in the caller's view of the file system
// (the sandbox's /tmp is its own). The inner one, PID 1 of the sandbox,
// sets it up and runs the command as tinit always does; it sends its
// record back to the outer one over the channel (see internal/sandbox).

// innerCommand is the hidden subcommand the inner tinit runs as.
const innerCommand = "sandbox-init"

// innerConfig is what the outer tinit sends the inner one.
type innerConfig struct {
	Spec sandbox.Spec `json:"spec"`
	// Args are tinit's usual flags and the command, parsed again inside.
	Args    []string     `json:"args"`
	Process *oci.Process `json:"process,omitempty"`
	// OCISource names the process's flag and file, for messages.
	OCISource string `json:"oci_source,omitempty"`
}

const usageExtra = `
Sandboxed local runs: tinit sandbox [flags] [--] COMMAND [ARGS...]
  runs COMMAND in new pid and mount namespaces (a user namespace that maps
  your own uid when not root), tinit as PID 1 inside, with a fresh /proc, a
  private /tmp and the working directory kept. Every flag above, and:
      --net none          a network namespace of its own, loopback only
      --bind SRC[:DST]    bind SRC at DST (default: the same path)
      --ro-bind SRC[:DST] the same, read-only
  Exit codes as above; 125 also when the kernel refuses the namespaces.

OCI runtime-spec input (with or without sandbox):
      --oci-process FILE  run the runtime-spec process object in FILE
      --oci-config FILE   run the process of a bundle's config.json
  (args, env, cwd, user, rlimits, noNewPrivileges, terminal); a field tinit
  does not support or a wrong value is a usage error (2) naming the field.
`

// runSandbox is the outer tinit.
func runSandbox(args []string) (int, error) {
	ext, rest, err := cutExtra(args, true)
	switch {
	case err != nil:
		return exitUsage, err
	case ext.help:
		fmt.Print(usage + usageExtra)
		return 0, nil
	}
	proc, opts, rest, code, err := ext.processAndOptions(rest)
	if code >= 0 {
		return code, err
	}
	if len(opts.argv) == 0 {
		// -P without a command: the sandbox has nothing to run.
		return exitUsage, usagef("no command given; usage: tinit sandbox [flags] -- COMMAND [ARGS...]")
	}
	spec, err := sandboxSpec(ext, proc)
	if err != nil {
		return exitUsage, err
	}
	if err := ext.checkProcess(proc, !spec.UserNS); err != nil {
		return exitUsage, err
	}
	opts.absPaths()
	log := startLog(opts, &tinitPersona)
	msg, err := json.Marshal(innerConfig{Spec: spec, Args: rest, Process: proc, OCISource: ext.ociSource()})
	if err != nil {
		return exitInternal, err
	}
	self, err := os.Executable()
	if err != nil {
		return exitInternal, fmt.Errorf("find tinit's own executable: %w", err)
	}
	start := time.Now()
	res, err := sandbox.Outer{
		Spec: spec, Path: self, Argv: []string{os.Args[0], innerCommand}, Env: reexecEnv(os.Environ()),
		Config: msg, NoCgroup: opts.noCgroup, Log: log.With().Str("component", "sandbox").Logger(),
		Early: earlyClaim,
	}.Run()
	if err != nil {
		rec := notStartedRecord(opts.argv, start, exitInternal, err)
		writeSandboxReports(opts, rec, spec, res.Cgroup, log)
		return exitInternal, err
	}
	rec := innerRecord(res, opts.argv, start)
	writeSandboxReports(opts, rec, spec, res.Cgroup, log)
	// The inner tinit's own code, with -e applied there.
	code, _ = signals.ExitCode(res.Status)
	return code, nil
}

// sandboxSpec is what the sandbox isolates: a user namespace unless tinit
// runs as root with CAP_SYS_ADMIN (and CAP_NET_ADMIN for --net none; a
// container's root usually lacks them, and then gets one that maps root to
// itself), the caller's ids, the network, the binds, the working
// directory (an OCI process's own where it is one, else the caller's).
func sandboxSpec(ext extraOptions, proc *oci.Process) (sandbox.Spec, error) {
	dir, err := os.Getwd()
	if proc != nil {
		// The command's directory is the process's: keep that one, bound
		// from the caller's /tmp as the caller's would be. One that is
		// no directory here fails in Apply, which names the field.
		if st, serr := os.Stat(proc.Cwd); serr == nil && st.IsDir() {
			dir, err = proc.Cwd, nil
		}
	}
	if err != nil {
		return sandbox.Spec{}, fmt.Errorf("the working directory: %w", err)
	}
	s := sandbox.Spec{UID: unix.Geteuid(), GID: unix.Getegid(), NetNone: ext.net == "none", Binds: ext.binds, Dir: dir}
	s.UserNS = s.UID != 0 || !hasCap(unix.CAP_SYS_ADMIN) || s.NetNone && !hasCap(unix.CAP_NET_ADMIN)
	if err := s.Check(); err != nil {
		return s, usagef("%v", err)
	}
	return s, nil
}

// hasCap reports whether tinit holds the effective capability c.
func hasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}

// innerRecord is the record the inner tinit sent, or, where it sent none
// (it was killed, or failed before its run), one made of its wait status.
func innerRecord(res sandbox.Result, argv []string, start time.Time) *subreaper.Record {
	code, _ := signals.ExitCode(res.Status)
	if res.Record != nil {
		var rec subreaper.Record
		if err := json.Unmarshal(res.Record, &rec); err == nil && rec.Exit != "" {
			// The record's code is the run's, as plain tinit reports it
			// (before -e), unless something killed the inner tinit after
			// it sent the record.
			if res.Status.Signaled() {
				rec.ExitCode = code
			}
			return &rec
		}
	}
	why := "the sandbox's init exited without a report"
	if res.Status.Signaled() {
		why = "the sandbox's init was killed by " + signals.Name(res.Status.Signal())
	}
	return notStartedRecord(argv, start, code, errors.New(why))
}

// notStartedRecord is the record of a run whose command never started (or
// whose init died without saying how it went).
func notStartedRecord(argv []string, start time.Time, code int, err error) *subreaper.Record {
	return &subreaper.Record{Command: argv, Start: start, End: time.Now(), Signals: []subreaper.SignalEvent{},
		Leftovers: []subreaper.Leftover{}, Fallbacks: []subreaper.Fallback{}, Diagnoses: []*diagnose.Diagnosis{},
		ExitCode: code, Exit: "not started", Error: err.Error()}
}

// writeSandboxReports writes the files asked for, with the sandbox's part.
func writeSandboxReports(o options, rec *subreaper.Record, spec sandbox.Spec, cg sandbox.CgroupReport, log zerolog.Logger) {
	if o.report != "" {
		sb := &report.Sandbox{UserNS: spec.UserNS, NetNone: spec.NetNone, Binds: len(spec.Binds), Cgroup: cg}
		if err := report.WriteSandboxJSON(o.report, rec, sb, version); err != nil {
			log.Error().Str("component", "main").Err(err).Msg("cannot write the report")
		}
	}
	if o.junit != "" {
		if err := report.WriteJUnit(o.junit, rec, version); err != nil {
			log.Error().Str("component", "main").Err(err).Msg("cannot write the JUnit report")
		}
	}
}

// runInner is the inner tinit, PID 1 of the sandbox: args is the number
// of its end of the channel.
func runInner(args []string) (int, error) {
	if len(args) != 1 {
		return exitUsage, usagef("%s is started by tinit sandbox only", innerCommand)
	}
	// Run by hand, it would write to whatever descriptor it was given.
	ch, err := strconv.Atoi(args[0])
	var st unix.Stat_t
	if err != nil || ch < 3 || unix.Getpid() != 1 || unix.Fstat(ch, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return exitUsage, usagef("%s is started by tinit sandbox only", innerCommand)
	}
	// main's re-execution kept the channel at its number; the command
	// must not inherit it.
	if reexecErr != nil {
		return exitInternal, reexecErr
	}
	unix.CloseOnExec(ch)
	// The outer tinit holds back what it is sent until Ready, then passes
	// it on: by then the stop signals must be claimed (as PID 1 an
	// unclaimed SIGTERM would make the Go runtime exit 2), on the channel
	// the supervisor reads, so that none is lost.
	earlyClaim.Wait() // begun in main
	unix.Write(ch, []byte{sandbox.Ready})
	b, err := sandbox.ReadAll(ch)
	var cfg innerConfig
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		return exitInternal, fmt.Errorf("sandbox: read the configuration: %w", err)
	}
	opts, err := parse(cfg.Args, os.Getenv)
	if err != nil {
		return exitUsage, err
	}
	log := newLogger(opts.verbosity, opts.logFormat, &tinitPersona)
	code, rec, err := runInside(cfg, opts, log)
	if out, merr := json.Marshal(rec); merr == nil {
		if serr := sandbox.Send(ch, out); serr != nil {
			log.Warn().Str("component", "sandbox").Err(serr).Msg("cannot send the record to the outer tinit")
		}
	}
	return code, err
}

// runInside sets the sandbox up and runs the command.
func runInside(cfg innerConfig, opts options, log zerolog.Logger) (int, *subreaper.Record, error) {
	start := time.Now()
	fail := func(err error) (int, *subreaper.Record, error) {
		err = fmt.Errorf("sandbox: %w", err)
		return exitInternal, notStartedRecord(opts.argv, start, exitInternal, err), err
	}
	if err := sandbox.Enter(cfg.Spec); err != nil {
		return fail(err)
	}
	sc := opts.config(os.Getenv)
	sc.NoCgroup = true // the outer tinit holds the sandbox's cgroup
	if p := cfg.Process; p != nil {
		sc.Env, sc.Credential = p.Env, p.Credential(!cfg.Spec.UserNS)
		if cfg.Spec.UserNS {
			sc.Credential = nil // Check made sure the ids are the caller's
		}
		if err := p.Apply(); err != nil {
			err = fmt.Errorf("%s: %w", cfg.OCISource, err)
			return exitInternal, notStartedRecord(opts.argv, start, exitInternal, err), err
		}
	}
	if cfg.Spec.UserNS {
		if err := sandbox.DropPrivileges(); err != nil {
			return fail(err)
		}
	}
	rec, err := subreaper.Run(sc, log)
	// -e as plain tinit applies it (supervise): to the command's own
	// status and to a failed exec, not to tinit's 124, 86 or 125.
	var execErr *subreaper.ExecError
	switch {
	case errors.As(err, &execErr):
		return opts.exitCode(execErr.Code()), rec, err
	case err != nil:
		return exitInternal, rec, err
	case rec.Exit == "exited" || rec.Exit == "killed":
		return opts.exitCode(rec.ExitCode), rec, nil
	}
	return rec.ExitCode, rec, nil
}
