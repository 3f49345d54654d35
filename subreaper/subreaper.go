// Package subreaper runs the main child and stays the parent of last resort
// for everything below it: it spawns the child, reaps every descendant,
// forwards signals, and once the main child has exited ends whatever is left
// (SIGTERM, a grace period, then SIGKILL) before reporting the child's exit
// code.
//
// It works as PID 1 of a pid namespace and, elsewhere, as a child subreaper
// (PR_SET_CHILD_SUBREAPER). It does not parse command lines or build
// loggers (package main does), decide which signals are forwarded (package
// signals), or keep the books on descriptors (package fdtrack).
//
// Ownership: one goroutine, the supervisor's loop, owns the main child, its
// pidfd, every descriptor token and the exit status. Other goroutines feed
// it events and own nothing: os/signal's; the reaper, which is the only code
// that waits for children (and keeps an atomic count of them); and, at
// startup, the one that claims the late signals.
package subreaper

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// DefaultGrace is the time leftover processes get between SIGTERM and
// SIGKILL once the main child has exited.
const DefaultGrace = 2 * time.Second

// After SIGKILL, tinit walks again every killPassEvery (to catch processes
// forked or reparented meanwhile) and gives up after killWait: a process in
// uninterruptible sleep cannot die, and tinit must not hang on it.
const (
	killPassEvery = 20 * time.Millisecond
	killWait      = time.Second
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
}

// phase is where the supervisor is in a run's life.
type phase int

const (
	running  phase = iota // main child alive
	stopping              // a SIGINT or SIGTERM was forwarded; the next one escalates
	draining              // main child gone, leftovers asked to stop, grace running
	killing               // SIGKILL sent; waiting for the last ones to be reaped
)

// supervisor is one run of the main child. Only its loop goroutine touches it.
type supervisor struct {
	cfg  Config
	log  zerolog.Logger
	fds  *fdtrack.Registry
	proc *procfs
	kill killer
	// killName says which killer: "kill(-1)", "cgroup", "walk", "group".
	killName string
	cg       *runCgroup // nil without a cgroup of the run's own
	pid1     bool

	child     int
	childFd   fdtrack.Token // pidfd of the main child; zero in the fallback
	noPidfd   error         // why the spawn did without a pidfd, if it did
	pidfds    bool
	groupByFd bool // pidfd_send_signal can target the child's process group

	sigs   chan os.Signal
	exited chan mainExit
	idle   chan struct{}
	reaped atomic.Uint64 // written by the reaper, read once idle

	phase    phase
	status   int
	statusOK bool
	tick     <-chan time.Time
	giveUpAt time.Time
	// killPasses counts the SIGKILL passes.
	killPasses int
	done       bool
	idleSeen   bool

	// The pidfd watch (see watch.go).
	recheckT   *time.Ticker
	recheckC   <-chan time.Time
	unreported int
	lastStatus unix.WaitStatus
}

// Run starts cfg.Argv, supervises it and every descendant until none is
// left, and returns the code tinit should exit with: the child's exit
// status, or 128+n if a signal n killed it. An error means the child never
// ran; an *ExecError carries the exit code for that case.
func Run(cfg Config, log zerolog.Logger) (int, error) {
	if len(cfg.Argv) == 0 {
		return 0, errors.New("no command to run")
	}
	s := &supervisor{
		cfg:    cfg,
		log:    log.With().Str("component", "subreaper").Logger(),
		pid1:   unix.Getpid() == 1,
		pidfds: !cfg.NoPidfd,
		// Buffered: os/signal drops what does not fit, so a receive means
		// "at least one arrived", which is all the loop needs.
		sigs:   make(chan os.Signal, 32),
		exited: make(chan mainExit, 1),
		idle:   make(chan struct{}),
	}
	if err := s.start(); err != nil {
		return 0, err
	}
	return s.loop(), nil
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
	path, err := lookPath(s.cfg.Argv[0], lookupEnv(env, "PATH"))
	if err != nil {
		return err
	}
	attr := spawnAttr{
		path: path, cmd: s.cfg.Argv[0], argv: s.cfg.Argv, env: env,
		pidfd: s.pidfds, cgroupFd: -1, foreground: ownsTerminal(),
	}
	cgTok := s.makeCgroup(&attr)
	child, err := spawn(attr)
	if cgTok.Valid() {
		s.fds.Close(cgTok)
	}
	if child.noCgroup != nil || err != nil {
		s.dropCgroup(child.noCgroup)
	}
	if err != nil {
		return err
	}
	s.child = child.pid
	s.trackPidfd(child.pidfd, child.noPidfd)
	r := &reaper{main: child.pid, exited: s.exited, idle: s.idle, log: s.log, reaped: &s.reaped}
	go r.run()
	s.settle()
	s.log.Info().Int("pid", child.pid).Str("cmd", path).Bool("pid1", s.pid1).Bool("pidfd", s.pidfds).Bool("cgroup", s.cg != nil).Str("killer", s.killName).Msg("main child started")
	return nil
}

// prepare does what must precede the spawn.
func (s *supervisor) prepare() {
	// A SIGTERM, SIGINT, SIGHUP or SIGQUIT left unclaimed makes the Go
	// runtime end the process, and as PID 1 it cannot even die of the
	// signal and exits 2 instead: these are claimed before the child runs.
	signals.ClaimEarly(s.sigs)
	if err := signals.DefaultSIGCHLD(); err != nil {
		s.log.Warn().Err(err).Msg("cannot set SIGCHLD to its default; a SIGCHLD handler will run per child")
	}
	if err := signals.BeforeSpawn(); err != nil {
		s.log.Warn().Err(err).Msg("cannot reset signal dispositions for the child")
	}
	if !s.pid1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			s.log.Warn().Err(err).Msg("cannot become a child subreaper; orphans will escape to another reaper")
		}
	}
	s.fds = fdtrack.New(s.log)
	s.proc = newProcfs(s.fds)
}

// settle does what follows the spawn, while the child starts.
func (s *supervisor) settle() {
	go s.claimLate()
	if err := signals.AfterSpawn(); err != nil {
		s.log.Warn().Err(err).Msg("cannot ignore signals tinit does not forward")
	}
	s.probePidfd()
	s.startRecheck()
	s.closeInherited()
	s.chooseKiller()
}

// makeCgroup gives a subreaper's run a cgroup of its own where a writable
// cgroup v2 directory allows, and returns the directory's descriptor for
// the spawn. As PID 1, kill(-1) already reaches everything, so no cgroup is
// made.
func (s *supervisor) makeCgroup(attr *spawnAttr) fdtrack.Token {
	if s.pid1 || s.cfg.NoCgroup {
		return fdtrack.Token{}
	}
	cg, tok, err := newRunCgroup(s.fds, s.proc)
	if err != nil {
		s.log.Info().Err(err).Msg("no cgroup for this run; leftovers are found by walking /proc")
		return fdtrack.Token{}
	}
	fd, err := s.fds.Fd(tok)
	if err != nil {
		s.fds.Close(tok)
		cg.remove()
		return fdtrack.Token{}
	}
	s.cg, attr.cgroupFd = cg, fd
	return tok
}

// dropCgroup removes the run's cgroup when the child could not be cloned
// into it (why is nil when the spawn failed altogether).
func (s *supervisor) dropCgroup(why error) {
	if s.cg == nil {
		return
	}
	if why != nil {
		s.log.Warn().Err(why).Msg("cannot clone into a cgroup; leftovers are found by walking /proc")
	}
	if err := s.cg.remove(); err != nil {
		s.log.Warn().Err(err).Str("dir", s.cg.dir).Msg("removing the run's cgroup")
	}
	s.cg = nil
}

// claimLate claims the forwarded signals not claimed before the spawn.
// Claiming a signal is a round trip between two threads of the Go runtime:
// the 41 claimed here cost about 1 ms when they preceded the spawn
// (measured), while the child starts they cost none.
func (s *supervisor) claimLate() {
	signals.ClaimLate(s.sigs)
	s.log.Debug().Msg("all forwarded signals claimed")
}

// trackPidfd registers the main child's pidfd, the moment it exists; why
// says why there is none, when the spawn had to do without.
func (s *supervisor) trackPidfd(fd int, why error) {
	s.noPidfd = why
	if fd < 0 {
		return
	}
	tok, err := s.fds.Track(fd, "pidfd of main child")
	if err != nil {
		s.log.Error().Err(err).Msg("cannot register the main child's pidfd")
		return
	}
	s.childFd = tok
}

// probePidfd finds out, once, whether pidfds can be used here; if not,
// tinit falls back as a whole to pids.
func (s *supervisor) probePidfd() {
	if !s.pidfds {
		s.log.Info().Msg("pidfds disabled; signalling by pid")
		return
	}
	if !s.childFd.Valid() {
		why := s.noPidfd
		if why == nil {
			why = errors.New("clone did not return a pidfd")
		}
		s.fallBack(fmt.Errorf("clone with CLONE_PIDFD: %w", why))
		return
	}
	fd, err := s.fds.Fd(s.childFd)
	if err != nil {
		s.fallBack(err)
		return
	}
	// A child that has exited and been reaped already answers ESRCH: the
	// call itself works.
	if err := unix.PidfdSendSignal(fd, 0, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		s.fallBack(fmt.Errorf("pidfd_send_signal: %w", err))
		return
	}
	probe, err := s.fds.PidfdOpen(unix.Getpid())
	if err != nil {
		s.fallBack(fmt.Errorf("pidfd_open: %w", err))
		return
	}
	s.fds.Close(probe)
	// Signalling a process group through a pidfd needs Linux 6.9 (before,
	// the flag is EINVAL); keep kill(-pgid) where it is missing.
	err = unix.PidfdSendSignal(fd, 0, nil, unix.PIDFD_SIGNAL_PROCESS_GROUP)
	s.groupByFd = err == nil || errors.Is(err, unix.ESRCH)
}

func (s *supervisor) fallBack(why error) {
	s.log.Warn().Err(why).Msg("pidfds unavailable; falling back to signalling and waiting by pid")
	s.pidfds = false
	if s.childFd.Valid() {
		s.fds.Close(s.childFd)
		s.childFd = fdtrack.Token{}
	}
}

func (s *supervisor) chooseKiller() {
	if s.pid1 {
		s.kill, s.killName = broadcast, "kill(-1)"
		return
	}
	if !s.proc.ours() {
		s.log.Warn().Msg("/proc does not show tinit's pid namespace; leftovers outside the main child's process group cannot be found")
		s.kill, s.killName = signalFunc(s.signalLeftoverGroup), "group"
		return
	}
	t := &tree{proc: s.proc, fds: s.fds, self: unix.Getpid(), pidfds: s.pidfds, log: s.log}
	if s.cg != nil {
		s.kill, s.killName = cgroupTree{cg: s.cg, tree: t}, "cgroup"
		return
	}
	s.kill, s.killName = t, "walk"
}

// ownsTerminal reports whether stdin is tinit's controlling terminal with
// tinit's process group in the foreground; the child's group then takes
// the foreground so that terminal signals and reads reach it.
func ownsTerminal() bool {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

func lookupEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}
