package subreaper

import (
	"errors"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/fdtrack"
	"golang.org/x/sys/unix"
)

// A killer delivers a signal to every process left below tinit. Which one
// tinit uses depends on where it runs; the supervisor decides when and with
// which signal.
type killer interface {
	// signal sends sigs, in order, to every live process below tinit (the
	// main child included while it lives), in one pass. It returns the
	// processes it reached when it knows them individually.
	signal(sigs ...unix.Signal) ([]proc, error)
}

// signalFunc is a killer made of one signalling call, which does not say
// which processes it reached.
type signalFunc func(unix.Signal) error

func (f signalFunc) signal(sigs ...unix.Signal) ([]proc, error) {
	for _, sig := range sigs {
		if err := f(sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return nil, err
		}
	}
	return nil, nil
}

// broadcast is the killer of PID 1 in a pid namespace: kill(-1, sig)
// reaches every other process of the namespace in one call. The kernel
// holds the task list lock for the whole walk, so a process cannot fork its
// way out of a SIGKILL.
var broadcast = signalFunc(func(sig unix.Signal) error { return unix.Kill(-1, sig) })

// Without a /proc for its pid namespace, a subreaper's killer is
// signalFunc(supervisor.signalGroup): it reaches the main child's process
// group and nothing else.

// tree is the killer of a subreaper outside a pid namespace, where no
// broadcast exists. It walks /proc for tinit's descendants and signals each
// through a pidfd after proving the pidfd names the process it listed, so a
// pid that was reused meanwhile is never signalled. Processes forked or
// reparented during a walk are found by the next one; the supervisor walks
// again until nothing is left.
type tree struct {
	proc   *procfs
	fds    *fdtrack.Registry
	self   int
	pidfds bool // false in the fallback: kill(2) after the same check
	log    zerolog.Logger
}

func (t *tree) signal(sigs ...unix.Signal) ([]proc, error) {
	procs, err := t.proc.descendants(t.self)
	if err != nil {
		return nil, err
	}
	reached := make([]proc, 0, len(procs))
	for _, p := range procs {
		if p.state == 'Z' || p.state == 'X' {
			continue // already dead; its parent or tinit reaps it
		}
		ok, err := t.send(p, sigs)
		if err != nil {
			t.log.Debug().Err(err).Int("pid", p.pid).Msg("signal leftover")
		}
		if ok {
			reached = append(reached, p)
		}
	}
	return reached, nil
}

// send delivers sigs to p if p is still the process that was listed. It
// reports false for a process that is gone or was replaced.
func (t *tree) send(p proc, sigs []unix.Signal) (bool, error) {
	if !t.pidfds {
		// Fallback without pidfds: a pid reused between the check and
		// kill(2) could still be hit; the window is two system calls.
		if !t.same(p) {
			return false, nil
		}
		return sentAll(sigs, func(sig unix.Signal) error { return unix.Kill(p.pid, sig) })
	}
	tok, err := t.fds.PidfdOpen(p.pid)
	if err != nil {
		return sent(err)
	}
	defer t.fds.Close(tok)
	// The pidfd pins whichever process held the pid when it was opened. If
	// /proc still shows the listed start time after that, the listed
	// process held the pid throughout, so the pidfd names it.
	if !t.same(p) {
		return false, nil
	}
	fd, err := t.fds.Fd(tok)
	if err != nil {
		return false, err
	}
	return sentAll(sigs, func(sig unix.Signal) error { return unix.PidfdSendSignal(fd, sig, nil, 0) })
}

func (t *tree) same(p proc) bool {
	now, err := t.proc.stat(p.pid)
	return err == nil && now.start == p.start
}

// sentAll delivers each signal with send and reports whether the process
// was reached: a process that no longer exists is not an error.
func sentAll(sigs []unix.Signal, send func(unix.Signal) error) (bool, error) {
	for _, sig := range sigs {
		if err := send(sig); errors.Is(err, unix.ESRCH) {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	return true, nil
}

// sent turns the error of a signal delivery into "reached it".
func sent(err error) (bool, error) {
	if err == nil {
		return true, nil
	}
	if errors.Is(err, unix.ESRCH) {
		return false, nil
	}
	return false, err
}
