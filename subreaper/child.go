package subreaper

import (
	"errors"

	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// mainChild is the command tinit runs: who it is, how to signal it, and
// how it ended once that is known.
type mainChild struct {
	pid  int
	path string
	// pidfd is the child's pidfd, owned by the supervisor; zero in the
	// fallback.
	pidfd fdtrack.Token
	// to signals the child, or its process group; a fake in tests.
	to target
	// ended is set once its status is known (ended, code, status), or
	// once it is known to be gone with the status lost (ended alone).
	ended  bool
	known  bool
	status unix.WaitStatus
	code   int
}

// end records how the main child ended; ok is false when its status was
// lost.
func (c *mainChild) end(ws unix.WaitStatus, ok bool) {
	c.ended, c.known, c.status = true, ok, ws
	if ok {
		c.code, _ = signals.ExitCode(ws)
	}
}

// A target delivers signals to the main child.
type target interface {
	// signal sends sig to the main child, or with group to its process
	// group (to the child alone if it has left it). ESRCH means the
	// child is gone.
	signal(sig unix.Signal, group bool) error
	// leftoverGroup sends sig to the main child's process group, also
	// after the child itself is reaped: without /proc or a cgroup, the
	// group is all a subreaper can find of what the child left.
	leftoverGroup(sig unix.Signal) error
}

// childTarget signals the main child through its pidfd, which cannot name
// another process even after the pid is reused, or by pid in the fallback.
type childTarget struct {
	fds *fdtrack.Registry
	pid int
	// pidfd is the main child's; zero in the fallback.
	pidfd fdtrack.Token
	// groupByFd: pidfd_send_signal can target the process group
	// (PIDFD_SIGNAL_PROCESS_GROUP, Linux 6.9).
	groupByFd bool
}

func (t *childTarget) signal(sig unix.Signal, group bool) error {
	if !group {
		return t.signalChild(sig)
	}
	var err error
	switch {
	case t.groupByFd && t.pidfd.Valid():
		err = t.sendPidfd(sig, unix.PIDFD_SIGNAL_PROCESS_GROUP)
	case !t.unreaped():
		return unix.ESRCH
	default:
		// The group's number is the child's pid (see spawn), pinned
		// while the child is unreaped.
		err = unix.Kill(-t.pid, sig)
	}
	if errors.Is(err, unix.ESRCH) { // an empty group: the child moved to another
		return t.signalChild(sig)
	}
	return err
}

// signalChild signals the child alone. Without a pidfd it signals by pid
// only while the child is not yet reaped, so that the pid is still its;
// the reaper can still reap it between the check and kill(2), a window of
// two system calls that only the fallback has.
func (t *childTarget) signalChild(sig unix.Signal) error {
	if t.pidfd.Valid() {
		return t.sendPidfd(sig, 0)
	}
	if !t.unreaped() {
		return unix.ESRCH
	}
	return unix.Kill(t.pid, sig)
}

// leftoverGroup signals the group through the pidfd, which keeps naming
// the child's pid structure after it is reaped, or by number: the number
// cannot be reused while any process is still in the group (the kernel
// keeps it allocated for them), so only an empty group whose number was
// meanwhile taken by a new group leader could be hit.
func (t *childTarget) leftoverGroup(sig unix.Signal) error {
	if t.groupByFd && t.pidfd.Valid() {
		return t.sendPidfd(sig, unix.PIDFD_SIGNAL_PROCESS_GROUP)
	}
	return unix.Kill(-t.pid, sig)
}

func (t *childTarget) sendPidfd(sig unix.Signal, flags int) error {
	fd, err := t.fds.Fd(t.pidfd)
	if err != nil {
		return err
	}
	return unix.PidfdSendSignal(fd, sig, nil, flags)
}

// unreaped peeks, without reaping (WNOWAIT), whether the main child is
// alive or a zombie, so that its pid still names it.
func (t *childTarget) unreaped() bool {
	var info unix.Siginfo
	return unix.Waitid(unix.P_PID, t.pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil) == nil
}
