// Package subreaper runs the main child and stays the parent of last resort
// for everything below it: it spawns the child, reaps every descendant,
// forwards signals, and once the main child has exited ends whatever is left
// (SIGTERM, a grace period, then SIGKILL) before reporting the child's exit
// code and a Record of the run.
//
// It works as PID 1 of a pid namespace and, elsewhere, as a child subreaper
// (PR_SET_CHILD_SUBREAPER). It does not parse command lines or build
// loggers (package main does), decide which signals are forwarded (package
// signals), keep the books on descriptors (package fdtrack), parse /proc
// (internal/procfs) or manage cgroup directories (internal/cgroup).
//
// Ownership: one goroutine, the supervisor's loop, owns the main child, its
// pidfd, every descriptor token, every timer, the Record and the exit
// status. Other goroutines own nothing and share nothing with it: they send
// it events. They are os/signal's, the reaper (the only code that waits for
// children, see reaper.go), and at startup the one that claims the late
// signals.
//
// The lifecycle of a run, its phases and what moves it from one to the
// next, is in lifecycle.go; what is decided once at its start, in setup.go.
package subreaper

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/internal/diagnose"
	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// DefaultGrace is the time leftover processes get between SIGTERM and
// SIGKILL once the main child has exited.
const DefaultGrace = 2 * time.Second

// Exit codes tinit produces itself (exec failures: see ExecError).
const (
	// exitLost: the main child's status never arrived (it was reaped by
	// something other than the reaper, on a kernel too old to keep it
	// on the pidfd), or the child survived SIGKILL.
	exitLost = 125
	// ExitTimeout: the run was ended by Config.Timeout, as coreutils
	// timeout(1) says it.
	ExitTimeout = 124
	// ExitLeak: the command succeeded but left processes behind, with
	// Config.FailOnLeak. No common code collides with it: not 0 to 2,
	// not nextest's 100 to 105, not 124 to 127, not 128+n.
	ExitLeak = 86
)

// Config says what to run and how. The zero value of every field but Argv
// is usable.
type Config struct {
	// Argv is the command and its arguments. Argv[0] is looked up in the
	// PATH of Env when it contains no slash.
	Argv []string
	// Env is the child's environment; nil means tinit's own.
	Env []string
	// Grace is how long leftovers get between SIGTERM and SIGKILL once
	// the main child has exited; 0 means SIGKILL at once.
	Grace time.Duration
	// SingleChild forwards signals to the main child alone instead of to
	// its process group.
	SingleChild bool
	// NoPidfd forces the fallback used where pidfds are unavailable: the
	// main child and leftovers are signalled by pid.
	NoPidfd bool
	// NoCgroup keeps the run out of a cgroup of its own even where one
	// could be made; leftovers are then found by walking /proc alone.
	NoCgroup bool
	// Timeout, when positive, ends a run whose main child runs longer:
	// a diagnosis, then SIGQUIT to every Go program in the tree (for its
	// goroutine dump), then SIGTERM, the grace period, SIGKILL; the exit
	// code is ExitTimeout.
	Timeout time.Duration
	// TimeoutSignal, when set, is what the whole tree gets at a timeout
	// instead of SIGQUIT for Go programs and then SIGTERM.
	TimeoutSignal unix.Signal
	// DiagnoseOnStop writes a diagnosis on the first SIGINT or SIGTERM,
	// before forwarding it (a CI system cancelling a hung job).
	DiagnoseOnStop bool
	// Stall, when positive, writes a diagnosis once when the whole tree
	// has used no CPU for that long; the run goes on.
	Stall time.Duration
	// FailOnLeak makes a successful run that left processes behind exit
	// with ExitLeak.
	FailOnLeak bool

	// The fields below give the behaviours of the peers tinit stands in
	// for under their names (package main's personalities).

	// NoSubreaper keeps tinit, outside PID 1, an ordinary parent (tini
	// without -s): an orphan goes to whatever reaper is above tinit, and
	// only the run's cgroup, where there is one, still reaches it.
	NoSubreaper bool
	// Setsid starts the main child in a session of its own (dumb-init).
	// With a terminal on stdin that tinit leads, tinit gives it up, the
	// child takes it, and the SIGHUP and SIGCONT the kernel sends for that
	// are not forwarded.
	Setsid bool
	// Rewrite maps a signal tinit receives to the one it forwards; a
	// mapping to 0 drops the signal.
	Rewrite map[unix.Signal]unix.Signal
	// Forward adds signals tinit otherwise ignores (see
	// signals.Forwardable) to those it forwards.
	Forward []unix.Signal
	// SuspendOnJobSignals: after forwarding SIGTSTP, SIGTTIN or SIGTTOU,
	// tinit stops itself (dumb-init).
	SuspendOnJobSignals bool
	// LogReaped logs every process reaped other than the main child, at
	// warning level (tini's -w).
	LogReaped bool
	// LeaveLeftovers ends the run as soon as the main child has exited:
	// nothing left behind is signalled (but ExitSignal), waited for or
	// killed; as PID 1 the kernel kills it when tinit exits. No cgroup is
	// made for such a run.
	LeaveLeftovers bool
	// ExitSignal, with LeaveLeftovers, goes to the main child's process
	// group (to the child alone with SingleChild) when it exits: dumb-init
	// sends SIGTERM.
	ExitSignal unix.Signal
	// PassInherited gives the main child the descriptors above 2 that
	// tinit inherited, as the peers do (tinit closes its own copies all
	// the same).
	PassInherited bool
	// Credential, when set, is the user and groups the main child runs as.
	Credential *syscall.Credential
	// Early is the claim of the early signals, begun by the caller as soon
	// as it could (signals.StartEarly); nil, Run begins it.
	Early *signals.Early
}

// events are what the other goroutines send the loop.
type events struct {
	// sigs is buffered: os/signal drops what does not fit, so a receive
	// means "at least one arrived", which is all the loop needs.
	sigs    chan os.Signal
	exited  chan mainExit
	idle    chan uint64 // the reaper's last word: children reaped
	claimed chan struct{}
	stopped chan unix.Signal // the main child stopped, by this signal
}

// supervisor is one run of the main child. Only its loop goroutine touches
// it.
type supervisor struct {
	cfg   Config
	log   zerolog.Logger
	fds   *fdtrack.Registry
	proc  *procfs.FS
	clock clock
	setup setup // decided at start, fixed after
	kill  killer
	child mainChild
	tty   terminal
	watch pidfdWatch
	stall stallWatch
	ev    events
	rec   recorder
	send  *sender // signals processes tinit found, after proving them; nil before the setup

	phase     phase
	timer     <-chan time.Time // the phase's timer; nil for none
	deadline  <-chan time.Time // Config.Timeout's; nil for none
	poll      <-chan time.Time // reads the cgroup for leftovers that are not children (strangers.go)
	killUntil time.Time        // when killing gives up
	idle      bool             // the reaper said no child is left
	termSent  bool             // leftovers got SIGTERM (or the timeout's signal)
	reaped    uint64
}

// Run starts cfg.Argv, supervises it and every descendant until none is
// left, and returns the Record of the run; its ExitCode is the code tinit
// should exit with: the child's exit status, or 128+n if a signal n killed
// it, or one of tinit's own (ExitTimeout, ExitLeak). An error means the
// child never ran; an *ExecError carries the exit code for that case, and
// the Record (never nil) says so too.
func Run(cfg Config, log zerolog.Logger) (*Record, error) {
	rec := &Record{Command: cfg.Argv, Start: time.Now(), Signals: []SignalEvent{}, Leftovers: []Leftover{},
		Fallbacks: []Fallback{}, Diagnoses: []*diagnose.Diagnosis{}}
	if len(cfg.Argv) == 0 {
		return notStarted(rec, exitLost, errors.New("no command to run"))
	}
	log = log.With().Str("component", "subreaper").Logger()
	cfg.Early = cfg.Early.OrStart()
	s := &supervisor{
		cfg:   cfg,
		log:   log,
		clock: realClock{},
		ev: events{
			sigs:    cfg.Early.C(),
			exited:  make(chan mainExit, 1),
			idle:    make(chan uint64, 1),
			claimed: make(chan struct{}, 1),
			stopped: make(chan unix.Signal, 1),
		},
	}
	s.rec = recorder{rec: rec, log: log, clock: s.clock}
	if err := s.start(); err != nil {
		code := exitLost
		var ee *ExecError
		if errors.As(err, &ee) {
			code = ee.Code()
		}
		return notStarted(rec, code, err)
	}
	s.loop()
	s.finish()
	return s.rec.rec, nil
}

func notStarted(rec *Record, code int, err error) (*Record, error) {
	rec.End, rec.ExitCode, rec.Exit, rec.Error = time.Now(), code, "not started", err.Error()
	return rec, err
}

// start does everything up to a running child and a running reaper. The
// child is spawned as early as possible: everything before it is startup
// latency for every test run.
func (s *supervisor) start() error {
	s.prepare()
	env := s.cfg.Env
	if env == nil {
		env = os.Environ()
	}
	pathVar, pathSet := lookupEnv(env, "PATH")
	path, err := lookPath(s.cfg.Argv[0], pathVar, pathSet)
	if err != nil {
		return err
	}
	cgroupFd := s.makeCgroup()
	// A SIGTERM, SIGINT, SIGHUP or SIGQUIT left unclaimed makes the Go
	// runtime end the process, and as PID 1 it cannot even die of the
	// signal and exits 2 instead: these are claimed before the child runs,
	// and before the terminal's hand-off, which sends tinit a SIGHUP.
	s.cfg.Early.Wait()
	s.prepareTerminal()
	attr := spawnAttr{
		path: path, cmd: s.cfg.Argv[0], argv: s.cfg.Argv, env: env,
		pidfd: s.setup.pidfds, cgroupFd: cgroupFd, foreground: s.tty.foreground,
		setsid: s.cfg.Setsid, ctty: s.tty.ctty, extra: s.passedFiles(), cred: s.cfg.Credential,
	}
	child, err := spawn(attr)
	if child.noCgroup != nil || err != nil {
		s.dropCgroup(child.noCgroup)
	}
	if err != nil {
		return err
	}
	s.child = mainChild{pid: child.pid, path: path}
	s.trackPidfd(child.pidfd, child.noPidfd)
	r := &reaper{main: child.pid, exited: s.ev.exited, idle: s.ev.idle, stopped: s.ev.stopped,
		logReaped: s.cfg.LogReaped, log: s.log}
	go r.run()
	s.settle()
	s.rec.started(&s.child, s.setup.mode())
	if s.cfg.Timeout > 0 {
		s.deadline = s.clock.After(s.cfg.Timeout)
	}
	if s.cfg.Stall > 0 {
		s.stall.start(s.clock, s.cfg.Stall)
	}
	return nil
}

// prepare does what must precede the spawn.
func (s *supervisor) prepare() {
	if err := signals.DefaultSIGCHLD(); err != nil {
		s.log.Warn().Err(err).Msg("cannot set SIGCHLD to its default; a SIGCHLD handler will run per child")
	}
	if err := signals.BeforeSpawn(); err != nil {
		s.log.Warn().Err(err).Msg("cannot reset signal dispositions for the child")
	}
	s.setup.pid1 = unix.Getpid() == 1
	if !s.setup.pid1 && !s.cfg.NoSubreaper {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			s.rec.fallback("subreaper", err)
			s.log.Warn().Err(err).Msg("cannot become a child subreaper; orphans will escape to another reaper")
		}
	}
	s.fds = fdtrack.New(s.log)
	s.proc = procfs.New(s.fds)
	s.setup.pidfds = !s.cfg.NoPidfd
	s.checkFileLimit()
}

// settle does what follows the spawn, while the child starts.
func (s *supervisor) settle() {
	go func(sigs chan<- os.Signal, claimed chan<- struct{}, extra []unix.Signal) {
		// Claiming a signal is a round trip between two threads of the
		// Go runtime: the 41 claimed here cost about 1 ms when they
		// preceded the spawn (measured); while the child starts they
		// cost none.
		signals.ClaimLate(sigs, extra)
		claimed <- struct{}{}
	}(s.ev.sigs, s.ev.claimed, s.extraSignals())
	if err := signals.AfterSpawn(s.extraSignals()); err != nil {
		s.log.Warn().Err(err).Msg("cannot ignore signals tinit does not forward")
	}
	s.probePidfd()
	s.child.to = &childTarget{fds: s.fds, pid: s.child.pid, pidfd: s.child.pidfd, groupByFd: s.setup.groupByFd}
	if s.setup.pidfds {
		s.watch.start(s.clock)
	}
	s.closeInherited()
	s.freeStdio()
	s.chooseKiller()
	s.cleanStale()
}

// alive reports whether leftover l still runs, where /proc can tell.
func (s *supervisor) alive(l Leftover) (live, known bool) {
	if !s.setup.proc || l.start == 0 {
		return false, false
	}
	st, err := s.proc.Stat(l.Pid)
	return err == nil && st.Start == l.start && st.Live(), true
}

// finish ends the run: the exit code, the run's cgroup, the descriptors.
func (s *supervisor) finish() {
	select {
	case ex := <-s.ev.exited: // no child is left, so nothing to stop
		s.onExit(ex)
	default:
	}
	s.watch.stop()
	s.stall.stop()
	if cg := s.setup.cg; cg != nil {
		if err := cg.Remove(); err != nil {
			s.log.Warn().Err(err).Str("dir", cg.Path()).Msg("removing the run's cgroup")
		}
	}
	if !s.child.known && s.child.pidfd.Valid() {
		if ws, ok := s.recoverStatus(); ok {
			s.child.end(ws, true)
			s.rec.exited(&s.child, "pidfd", false)
		}
	}
	gone := "killed" // what ended a leftover that is gone now
	switch {
	case s.rec.rec.KillPasses > 0:
	case len(s.rec.rec.Leftovers) > 0 && s.termSent:
		gone = "exited after SIGTERM"
	default:
		gone = "exited"
	}
	s.rec.settle(s.alive, "survived", gone)
	s.rec.ended()
	if s.child.pidfd.Valid() {
		s.fds.Close(s.child.pidfd)
		s.child.pidfd = fdtrack.Token{}
	}
	for _, e := range s.fds.Live() {
		s.log.Error().Int("fd", e.Fd).Str("what", e.What).Msg("descriptor still open at exit")
	}
	code, how := s.child.code, "exited"
	switch {
	case s.rec.rec.Timeout != nil:
		code, how = ExitTimeout, "timeout"
	case s.child.known && s.child.status.Signaled():
		how = "killed"
	case s.child.known && code == 0 && s.cfg.FailOnLeak && len(s.rec.rec.Leftovers) > 0:
		code, how = ExitLeak, "leaked"
	case s.child.known:
	case s.idle:
		code, how = exitLost, "status lost"
		s.log.Error().Int("pid", s.child.pid).Msg("the main child's exit status was lost")
	default:
		code, how = exitLost, "survived SIGKILL"
		s.log.Error().Int("pid", s.child.pid).Msg("the main child survived SIGKILL")
	}
	if v, err := s.proc.StatusField(unix.Getpid(), "VmHWM"); err == nil && s.setup.proc {
		s.rec.rec.TinitMaxRSS, _ = strconv.Atoi(strings.TrimSuffix(v, " kB"))
	}
	s.rec.finished(code, how, s.reaped)
}

// ownsTerminal reports whether stdin is tinit's controlling terminal with
// tinit's process group in the foreground; the child's group then takes
// the foreground so that terminal signals and reads reach it.
func ownsTerminal() bool {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v, true
		}
	}
	return "", false
}
