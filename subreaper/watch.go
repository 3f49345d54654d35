package subreaper

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// recheckEvery is how often the loop asks the kernel about the main child
// through its pidfd, the second channel beside the reaper's reports.
const recheckEvery = time.Second

// The reaper is the only code that reaps; it cannot miss a child, since a
// blocked wait4 returns for every zombie. Still, one notification channel
// alone is not trusted (the bug tinit exists for lost a child's exit when
// its pidfd was closed under the poller): while the main child runs, the
// loop looks at it through its pidfd once a period, with waitid(WNOWAIT),
// which reaps nothing. If the child has been reaped and no report came for
// two periods in a row, something else took its status (only another
// waiter in tinit, or a tracer, could): tinit logs an error, recovers the
// status from the pidfd where the kernel keeps it, and ends the run as if
// the report had come.

func (s *supervisor) startRecheck() {
	if !s.pidfds || !s.childFd.Valid() {
		return
	}
	s.recheckT = time.NewTicker(recheckEvery)
	s.recheckC = s.recheckT.C
}

func (s *supervisor) stopRecheck() {
	if s.recheckT != nil {
		s.recheckT.Stop()
		s.recheckT, s.recheckC = nil, nil
	}
}

func (s *supervisor) recheck() {
	fd, err := s.fds.Fd(s.childFd)
	if err != nil {
		s.stopRecheck()
		return
	}
	var info unix.Siginfo
	err = unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	switch {
	case err == nil: // alive, or exited and about to be reaped
		s.unreported = 0
	case errors.Is(err, unix.ECHILD): // reaped: the report may be on its way
		s.unreported++
		if s.unreported >= 2 {
			s.statusLost()
		}
	default: // P_PIDFD needs Linux 5.4
		s.log.Debug().Err(err).Msg("cannot watch the main child through its pidfd")
		s.stopRecheck()
	}
}

// statusLost ends the main child's part of the run without the reaper's
// report.
func (s *supervisor) statusLost() {
	s.stopRecheck()
	s.log.Error().Int("pid", s.child).Msg("the main child was reaped but its status never reached tinit")
	if s.recoverStatus() {
		s.recordExit(s.lastStatus, true)
	}
	if s.phase != killing {
		s.stopLeftovers()
	}
}

// recoverStatus reads the main child's status from its pidfd, where the
// kernel keeps it once the child is reaped (PIDFD_INFO_EXIT, Linux 6.15
// and later). It sets s.lastStatus and reports whether it found one.
func (s *supervisor) recoverStatus() bool {
	fd, err := s.fds.Fd(s.childFd)
	if err != nil {
		return false
	}
	ws, ok := exitStatus(fd)
	if ok {
		s.lastStatus = ws
		s.log.Error().Int("pid", s.child).Int("status", int(ws)).Msg("the main child's status came from its pidfd")
	}
	return ok
}

// exitStatus reads the wait status of the exited process a pidfd names.
func exitStatus(pidfd int) (unix.WaitStatus, bool) {
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_EXIT}
	if err := unix.IoctlPidfdInfo(pidfd, &info); err != nil || info.Mask&unix.PIDFD_INFO_EXIT == 0 {
		return 0, false
	}
	return unix.WaitStatus(info.Exit_code), true
}
