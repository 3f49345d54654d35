package subreaper

import (
	"errors"
	"os"
	"time"

	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// exitLost is returned when the main child's status never arrived; it
// cannot happen while the reaper is the only waiter.
const exitLost = 125

// loop is the supervisor's event loop. Nothing in it exits the process:
// every error is logged and the run goes on to a clean end, which comes
// only when no child is left.
func (s *Supervisor) loop() int {
	for !s.done {
		select {
		case sig := <-s.sigs:
			s.handle(sig)
		case ex := <-s.exited:
			s.mainExited(ex)
		case <-s.tick:
			s.onTick()
		case <-s.idle:
			s.done = true
		}
	}
	return s.finish()
}

// handle acts on one signal tinit received.
func (s *Supervisor) handle(osig os.Signal) {
	sig, ok := osig.(unix.Signal)
	if !ok || !signals.Forwarded(sig) {
		s.log.Debug().Stringer("signal", osig).Msg("signal dropped")
		return
	}
	stop := sig == unix.SIGINT || sig == unix.SIGTERM
	switch s.phase {
	case running:
		s.forward(sig)
		if stop {
			s.phase = stopping
		}
	case stopping:
		if stop {
			s.escalate(sig)
			return
		}
		s.forward(sig)
	case draining:
		if stop {
			s.escalate(sig)
			return
		}
		s.log.Debug().Str("signal", signals.Name(sig)).Msg("main child gone; signal not forwarded")
	case killing:
	}
}

// forward passes sig on to the main child's process group, or to the child
// alone with Config.SingleChild.
func (s *Supervisor) forward(sig unix.Signal) {
	var err error
	if s.cfg.SingleChild {
		err = s.signalChild(sig)
	} else {
		err = s.signalGroup(sig)
	}
	if err != nil && !errors.Is(err, unix.ESRCH) {
		s.log.Warn().Err(err).Str("signal", signals.Name(sig)).Msg("forward failed")
		return
	}
	s.log.Debug().Str("signal", signals.Name(sig)).Bool("group", !s.cfg.SingleChild).Msg("forwarded")
}

// signalChild signals the main child through its pidfd, which cannot name
// another process even after the pid is reused.
func (s *Supervisor) signalChild(sig unix.Signal) error {
	if !s.childFd.Valid() {
		return unix.Kill(s.child, sig)
	}
	fd, err := s.fds.Fd(s.childFd)
	if err != nil {
		return err
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// signalGroup signals the main child's process group (its pgid is its pid;
// see spawn). Through the pidfd the group is named by the child's pid
// structure, not its number, so a reused number cannot be hit.
func (s *Supervisor) signalGroup(sig unix.Signal) error {
	if s.groupByFd && s.childFd.Valid() {
		fd, err := s.fds.Fd(s.childFd)
		if err != nil {
			return err
		}
		return unix.PidfdSendSignal(fd, sig, nil, unix.PIDFD_SIGNAL_PROCESS_GROUP)
	}
	err := unix.Kill(-s.child, sig)
	if errors.Is(err, unix.ESRCH) {
		// The child left its group (setpgid to another one): reach it alone.
		return s.signalChild(sig)
	}
	return err
}

// mainExited records the main child's status and, if anything is left
// below tinit, asks it to stop.
func (s *Supervisor) mainExited(ex mainExit) {
	code, _ := signals.ExitCode(ex.status)
	s.status, s.statusOK = code, true
	s.log.Info().Int("pid", s.child).Int("code", code).Bool("leftovers", ex.leftovers).Msg("main child exited")
	if s.childFd.Valid() {
		s.fds.Close(s.childFd)
		s.childFd = fdtrack.Token{}
	}
	if !ex.leftovers || s.phase == killing {
		return
	}
	s.phase = draining
	if s.cfg.Grace <= 0 {
		s.killAll()
		return
	}
	s.logLeftovers()
	// A stopped process acts on SIGTERM only once continued.
	reached := s.signalLeftovers(unix.SIGTERM, unix.SIGCONT)
	e := s.log.Info().Dur("grace", s.cfg.Grace)
	if _, all := s.kill.(broadcast); !all {
		e = e.Int("count", len(reached)) // kill(-1) does not say how many it reached
	}
	e.Msg("sent SIGTERM to leftovers")
	s.tick = time.After(s.cfg.Grace)
}

// escalate answers a second SIGINT or SIGTERM: no more waiting.
func (s *Supervisor) escalate(sig unix.Signal) {
	s.log.Info().Str("signal", signals.Name(sig)).Msg("second stop signal; killing every process")
	s.killAll()
}

// killAll sends SIGKILL to everything below tinit and keeps walking until
// all of it has been reaped or killWait has passed.
func (s *Supervisor) killAll() {
	if s.phase != killing {
		s.phase = killing
		s.giveUpAt = time.Now().Add(killWait)
	}
	s.signalLeftovers(unix.SIGKILL)
	s.tick = time.After(killPassEvery)
}

// onTick ends the grace period, or runs another SIGKILL pass.
func (s *Supervisor) onTick() {
	s.tick = nil
	switch s.phase {
	case draining:
		s.log.Info().Dur("grace", s.cfg.Grace).Msg("grace period over; sending SIGKILL")
		s.killAll()
	case killing:
		if time.Now().Before(s.giveUpAt) {
			s.killAll()
			return
		}
		s.log.Warn().Dur("waited", killWait).Msg("processes survive SIGKILL (uninterruptible sleep?); exiting without them")
		s.done = true
	}
}

func (s *Supervisor) signalLeftovers(sigs ...unix.Signal) []proc {
	reached, err := s.kill.signal(sigs...)
	if err != nil {
		s.log.Error().Err(err).Str("signal", signals.Name(sigs[0])).Msg("signalling leftovers failed")
	}
	return reached
}

// logLeftovers names what the main child left behind, at info level, before
// anything is signalled. It costs a walk of /proc, so only when logged.
func (s *Supervisor) logLeftovers() {
	if !s.log.Info().Enabled() || !s.proc.ours() {
		return
	}
	procs, _ := s.proc.descendants(unix.Getpid())
	for _, p := range procs {
		s.log.Info().Int("pid", p.pid).Int("ppid", p.ppid).Str("comm", p.comm).Str("cmdline", s.proc.cmdline(p.pid)).Msg("leftover process")
	}
}

// finish runs when no child is left, or when the last ones would not die.
func (s *Supervisor) finish() int {
	select {
	case ex := <-s.exited:
		s.mainExited(ex)
	default:
	}
	s.log.Info().Uint64("reaped", s.reaped).Msg("no descendants left")
	if s.cg != nil {
		if err := s.cg.remove(); err != nil {
			s.log.Warn().Err(err).Str("dir", s.cg.dir).Msg("removing the run's cgroup")
		}
	}
	if !s.statusOK {
		s.recoverStatus()
	}
	s.checkFds()
	if !s.statusOK {
		s.log.Error().Int("pid", s.child).Msg("the main child's exit status was lost")
		return exitLost
	}
	return s.status
}

// recoverStatus is the second channel for the main child's exit: if its
// status never came from the reaper (something else reaped the child, which
// only another waiter in tinit, or a tracer, could do), the kernel still
// keeps it on the pidfd (PIDFD_INFO_EXIT, Linux 6.15 and later).
func (s *Supervisor) recoverStatus() {
	if !s.childFd.Valid() {
		return
	}
	fd, err := s.fds.Fd(s.childFd)
	if err != nil {
		return
	}
	if ws, ok := exitStatus(fd); ok {
		s.status, s.statusOK = signals.ExitCode(ws)
		s.log.Error().Int("pid", s.child).Int("code", s.status).Msg("the main child was reaped elsewhere; its status came from its pidfd")
	}
	s.fds.Close(s.childFd)
	s.childFd = fdtrack.Token{}
}

// exitStatus reads the wait status of the exited process a pidfd names.
func exitStatus(pidfd int) (unix.WaitStatus, bool) {
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_EXIT}
	if err := unix.IoctlPidfdInfo(pidfd, &info); err != nil || info.Mask&unix.PIDFD_INFO_EXIT == 0 {
		return 0, false
	}
	return unix.WaitStatus(info.Exit_code), true
}

// checkFds reports descriptors still registered at the end of a run: each
// is a leak in tinit.
func (s *Supervisor) checkFds() {
	for _, e := range s.fds.Live() {
		s.log.Error().Int("fd", e.Fd).Str("what", e.What).Msg("descriptor still open at exit")
	}
}
