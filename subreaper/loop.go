package subreaper

import (
	"errors"
	"os"
	"time"

	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// exitLost is returned when the main child's status never arrived: it was
// reaped by something other than the reaper and the kernel is too old to
// keep it on the pidfd, or the child could not be killed at all.
const exitLost = 125

// loop is the supervisor's event loop. Nothing in it exits the process:
// every error is logged and the run goes on to a clean end, which comes
// when no child is left or when the last ones would not die.
func (s *supervisor) loop() int {
	for !s.done {
		select {
		case sig := <-s.sigs:
			s.handle(sig)
		case ex := <-s.exited:
			s.mainExited(ex)
		case <-s.recheckC:
			s.recheck()
		case <-s.tick:
			s.onTick()
		case <-s.idle:
			s.done, s.idleSeen = true, true
		}
	}
	return s.finish()
}

// handle acts on one signal tinit received; every claimed signal is one
// tinit forwards.
func (s *supervisor) handle(osig os.Signal) {
	sig, _ := osig.(unix.Signal)
	stop := sig == unix.SIGINT || sig == unix.SIGTERM
	switch {
	case s.phase == killing:
		s.log.Debug().Str("signal", signals.Name(sig)).Msg("already killing; signal ignored")
	case stop && s.phase != running:
		s.escalate(sig)
	case s.statusOK:
		s.log.Debug().Str("signal", signals.Name(sig)).Msg("main child gone; signal not forwarded")
	default:
		s.forward(sig)
		if stop {
			s.phase = stopping
		}
	}
}

// forward passes sig on to the main child's process group, or to the child
// alone with Config.SingleChild.
func (s *supervisor) forward(sig unix.Signal) {
	var err error
	if s.cfg.SingleChild {
		err = s.signalChild(sig)
	} else {
		err = s.signalGroup(sig)
	}
	switch {
	case err == nil:
		s.log.Debug().Str("signal", signals.Name(sig)).Bool("group", !s.cfg.SingleChild).Msg("forwarded")
	case errors.Is(err, unix.ESRCH):
		s.log.Debug().Str("signal", signals.Name(sig)).Msg("main child gone; signal not forwarded")
	default:
		s.log.Warn().Err(err).Str("signal", signals.Name(sig)).Msg("forward failed")
	}
}

// signalChild signals the main child through its pidfd, which cannot name
// another process even after the pid is reused. Without one, it signals by
// pid only while the child is not yet reaped, so that the pid is still its;
// the reaper can still reap it between the check and kill(2), a window of
// two system calls that only the fallback has.
func (s *supervisor) signalChild(sig unix.Signal) error {
	if s.childFd.Valid() {
		fd, err := s.fds.Fd(s.childFd)
		if err != nil {
			return err
		}
		return unix.PidfdSendSignal(fd, sig, nil, 0)
	}
	if !s.childUnreaped() {
		return unix.ESRCH
	}
	return unix.Kill(s.child, sig)
}

// signalGroup signals the main child's process group (its pgid is its pid;
// see spawn). Through the pidfd the group is named by the child's pid
// structure, not its number, so a reused number cannot be hit. An empty
// group means the child moved to another one: it is then reached alone.
func (s *supervisor) signalGroup(sig unix.Signal) error {
	var err error
	switch {
	case s.groupByFd && s.childFd.Valid():
		fd, ferr := s.fds.Fd(s.childFd)
		if ferr != nil {
			return ferr
		}
		err = unix.PidfdSendSignal(fd, sig, nil, unix.PIDFD_SIGNAL_PROCESS_GROUP)
	case !s.childUnreaped():
		return unix.ESRCH
	default:
		err = unix.Kill(-s.child, sig)
	}
	if errors.Is(err, unix.ESRCH) {
		return s.signalChild(sig)
	}
	return err
}

// signalLeftoverGroup signals the main child's process group, the only
// leftovers a subreaper can find without /proc, also once the main child
// is reaped. Through the pidfd the group stays named by the child's pid
// structure. Without one it is signalled by number: the number cannot be
// reused while any process is still in the group (the kernel keeps it
// allocated for them), so only an empty group whose number was meanwhile
// taken by a new group leader could be hit.
func (s *supervisor) signalLeftoverGroup(sig unix.Signal) error {
	if s.groupByFd && s.childFd.Valid() {
		return s.signalGroup(sig)
	}
	return unix.Kill(-s.child, sig)
}

// childUnreaped peeks, without reaping (WNOWAIT), whether the main child
// is alive or a zombie, so that its pid still names it.
func (s *supervisor) childUnreaped() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, s.child, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err == nil
}

// mainExited records the main child's status and, if anything is left
// below tinit, asks it to stop.
func (s *supervisor) mainExited(ex mainExit) {
	if s.statusOK {
		return
	}
	s.recordExit(ex.status, ex.leftovers)
	if ex.leftovers && s.phase != killing {
		s.stopLeftovers()
	}
}

func (s *supervisor) recordExit(ws unix.WaitStatus, leftovers bool) {
	code, _ := signals.ExitCode(ws)
	s.status, s.statusOK = code, true
	s.stopRecheck()
	s.log.Info().Int("pid", s.child).Int("code", code).Bool("leftovers", leftovers).Msg("main child exited")
}

// stopLeftovers starts the grace period: SIGTERM now, SIGKILL at its end.
func (s *supervisor) stopLeftovers() {
	s.phase = draining
	s.logLeftovers()
	if s.cfg.Grace <= 0 {
		s.graceOver()
		return
	}
	// A stopped process acts on SIGTERM only once continued.
	reached := s.signalLeftovers(unix.SIGTERM, unix.SIGCONT)
	e := s.log.Info().Dur("grace", s.cfg.Grace)
	if reached != nil { // kill(-1) does not say how many it reached
		e = e.Int("count", len(reached))
	}
	e.Msg("sent SIGTERM to leftovers")
	s.tick = time.After(s.cfg.Grace)
}

func (s *supervisor) graceOver() {
	s.log.Info().Dur("grace", s.cfg.Grace).Msg("grace period over; sending SIGKILL")
	s.killAll()
}

// escalate answers a second SIGINT or SIGTERM: no more waiting.
func (s *supervisor) escalate(sig unix.Signal) {
	s.log.Info().Str("signal", signals.Name(sig)).Msg("second stop signal; killing every process")
	s.killAll()
}

// killAll sends SIGKILL to everything below tinit and keeps walking until
// all of it has been reaped or killWait has passed.
func (s *supervisor) killAll() {
	if s.phase != killing {
		s.phase = killing
		s.giveUpAt = time.Now().Add(killWait)
	}
	s.killPasses++
	s.log.Debug().Int("pass", s.killPasses).Msg("SIGKILL pass")
	s.signalLeftovers(unix.SIGKILL)
	s.tick = time.After(killPassEvery)
}

// onTick ends the grace period, or runs another SIGKILL pass.
func (s *supervisor) onTick() {
	s.tick = nil
	switch {
	case s.phase == draining:
		s.graceOver()
	case s.phase == killing && time.Now().Before(s.giveUpAt):
		s.killAll()
	case s.phase == killing:
		s.giveUp()
	}
}

// giveUp ends a run whose last descendants would not go: in
// uninterruptible sleep, or out of tinit's sight (without /proc, a
// subreaper reaches only the main child's process group).
func (s *supervisor) giveUp() {
	e := s.log.Warn().Dur("waited", killWait)
	if _, walks := s.kill.(signalFunc); walks && !s.pid1 {
		e = e.Bool("proc", false)
	}
	e.Msg("descendants remain after SIGKILL; exiting without them")
	s.done = true
}

func (s *supervisor) signalLeftovers(sigs ...unix.Signal) []proc {
	reached, err := s.kill.signal(sigs...)
	if err != nil {
		s.log.Warn().Err(err).Str("signal", signals.Name(sigs[0])).Msg("signalling leftovers failed")
	}
	return reached
}

// logLeftovers names what the main child left behind, at info level, before
// anything is signalled. It costs a walk of /proc, so only when logged.
func (s *supervisor) logLeftovers() {
	if !s.log.Info().Enabled() || !s.proc.ours() {
		return
	}
	procs, _ := s.proc.descendants(unix.Getpid())
	for _, p := range procs {
		s.log.Info().Int("pid", p.pid).Int("ppid", p.ppid).Str("comm", p.comm).Str("cmdline", s.proc.cmdline(p.pid)).Msg("leftover process")
	}
}

// finish ends the run and returns its exit code.
func (s *supervisor) finish() int {
	select {
	case ex := <-s.exited: // no child is left, so nothing to stop
		if !s.statusOK {
			s.recordExit(ex.status, false)
		}
	default:
	}
	if s.idleSeen {
		s.log.Info().Uint64("reaped", s.reaped.Load()).Msg("no descendants left")
	}
	if s.cg != nil {
		if err := s.cg.remove(); err != nil {
			s.log.Warn().Err(err).Str("dir", s.cg.dir).Msg("removing the run's cgroup")
		}
	}
	if !s.statusOK && s.childFd.Valid() && s.recoverStatus() {
		s.recordExit(s.lastStatus, false)
	}
	if s.childFd.Valid() {
		s.fds.Close(s.childFd)
		s.childFd = fdtrack.Token{}
	}
	s.checkFds()
	switch {
	case s.statusOK:
		return s.status
	case s.idleSeen:
		s.log.Error().Int("pid", s.child).Msg("the main child's exit status was lost")
	default:
		s.log.Error().Int("pid", s.child).Msg("the main child survived SIGKILL")
	}
	return exitLost
}

// checkFds reports descriptors still registered at the end of a run: each
// is a leak in tinit.
func (s *supervisor) checkFds() {
	for _, e := range s.fds.Live() {
		s.log.Error().Int("fd", e.Fd).Str("what", e.What).Msg("descriptor still open at exit")
	}
}
