package subreaper

import (
	"errors"
	"time"

	"github.com/tinit-dev/tinit/fdtrack"
	"golang.org/x/sys/unix"
)

// recheckEvery is how often the watch asks the kernel about the main child
// through its pidfd, the second channel beside the reaper's reports.
const recheckEvery = time.Second

// The reaper is the only code that reaps; it cannot miss a child, since a
// blocked wait4 returns for every zombie. Still, one notification channel
// alone is not trusted (the bug tinit exists for lost a child's exit when
// its pidfd was closed under the poller): while the main child runs, the
// watch looks at it through its pidfd once a period, with waitid(WNOWAIT),
// which reaps nothing. If the child has been reaped and no report came for
// two periods in a row, something else took its status (only another
// waiter in tinit, or a tracer, could): tinit logs an error, recovers the
// status from the pidfd where the kernel keeps it, and ends the run as if
// the report had come.

// pidfdWatch is the second channel: its own ticker and count of periods
// without a report.
type pidfdWatch struct {
	c          <-chan time.Time // nil when not watching
	stopTicker func()
	unreported int
}

func (w *pidfdWatch) start(c clock) {
	w.c, w.stopTicker = c.Tick(recheckEvery)
}

func (w *pidfdWatch) stop() {
	if w.stopTicker != nil {
		w.stopTicker()
	}
	w.c, w.stopTicker = nil, nil
}

// verdict is what one look through the pidfd found.
type verdict int

const (
	childThere  verdict = iota // alive, or exited and about to be reaped
	childLost                  // reaped, and no report for two periods
	cannotWatch                // waitid(P_PIDFD) unsupported (before Linux 5.4)
)

// look asks the kernel about the process pidfd names.
func (w *pidfdWatch) look(fds *fdtrack.Registry, pidfd fdtrack.Token) (verdict, error) {
	fd, err := fds.Fd(pidfd)
	if err != nil {
		return cannotWatch, err
	}
	var info unix.Siginfo
	err = unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	switch {
	case err == nil:
		w.unreported = 0
		return childThere, nil
	case errors.Is(err, unix.ECHILD): // reaped: the report may be on its way
		w.unreported++
		if w.unreported >= 2 {
			return childLost, nil
		}
		return childThere, nil
	}
	return cannotWatch, err
}

// onWatch looks at the main child through its pidfd and, if its status was
// lost, recovers it and goes on as if the reaper had reported it.
func (s *supervisor) onWatch() {
	v, err := s.watch.look(s.fds, s.child.pidfd)
	switch v {
	case childThere:
		return
	case cannotWatch:
		s.log.Debug().Err(err).Msg("cannot watch the main child through its pidfd")
		s.watch.stop()
		return
	}
	s.watch.stop()
	s.log.Error().Int("pid", s.child.pid).Msg("the main child was reaped but its status never reached tinit")
	ex := mainExit{leftovers: true, from: "pidfd"}
	ex.status, ex.known = s.recoverStatus()
	s.onExit(ex)
}

// recoverStatus reads the main child's status from its pidfd, where the
// kernel keeps it once the child is reaped (PIDFD_INFO_EXIT, Linux 6.15
// and later).
func (s *supervisor) recoverStatus() (unix.WaitStatus, bool) {
	fd, err := s.fds.Fd(s.child.pidfd)
	if err != nil {
		return 0, false
	}
	ws, ok := exitStatus(fd)
	if ok {
		s.log.Error().Int("pid", s.child.pid).Int("status", int(ws)).Msg("the main child's status came from its pidfd")
	}
	return ws, ok
}

// exitStatus reads the wait status of the exited process a pidfd names.
func exitStatus(pidfd int) (unix.WaitStatus, bool) {
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_EXIT}
	if err := unix.IoctlPidfdInfo(pidfd, &info); err != nil || info.Mask&unix.PIDFD_INFO_EXIT == 0 {
		return 0, false
	}
	return unix.WaitStatus(info.Exit_code), true
}
