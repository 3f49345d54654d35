// Package orphan makes orphans quickly, for tests and benchmarks of a
// reaper. Spawn forks a middle process which forks one grandchild and exits
// at once; the grandchild exits at once too and is reparented, alive or as a
// zombie, to the nearest subreaper or PID 1, which must reap it. Chain
// starts the hardest leftover to end by walking /proc: a fork-and-exit
// chain, one live process at a time. Park fills a machine with idle
// processes that cost a few pages each.
//
// Forking a multi-threaded Go process without exec is only safe if the
// copies never run Go code, so the fork and both exits are done in
// assembly, with every signal blocked so that no Go signal handler can run
// in a copy. It does not wait for anything: the caller reaps the middle
// process.
package orphan

import (
	"errors"
	"syscall"
)

// ErrUnsupported is returned on architectures without the assembly.
var ErrUnsupported = errors.New("orphan: not implemented on this architecture")

// Spawn forks the middle process and returns its pid; the caller must wait
// for it. The orphan it leaves is not the caller's child.
func Spawn() (middle int, err error) {
	if !supported {
		return 0, ErrUnsupported
	}
	pid, errno := spawn()
	if errno != 0 {
		return 0, syscall.Errno(errno)
	}
	return int(pid), nil
}

// Chain forks the first link of a fork-and-exit chain and returns its pid;
// the caller must wait for it. Each link forks the next and exits at once,
// so one process of the chain lives at a time, for a few hundred
// microseconds, each a new orphan; the last of generations links just
// exits. Every signal is blocked in the chain: SIGTERM and the like are
// ignored, SIGSTOP and SIGKILL still act.
func Chain(generations int) (first int, err error) {
	if !supported {
		return 0, ErrUnsupported
	}
	pid, errno := chain(int64(generations))
	if errno != 0 {
		return 0, syscall.Errno(errno)
	}
	return int(pid), nil
}

// Park forks a copy of the caller that blocks every signal and pauses
// until SIGKILL, and returns its pid: an idle process that costs a few
// pages, not a whole program. It dies when the thread that forked it does
// (SIGKILL as its parent-death signal); the caller reaps it.
func Park() (pid int, err error) {
	if !supported {
		return 0, ErrUnsupported
	}
	p, errno := park()
	if errno != 0 {
		return 0, syscall.Errno(errno)
	}
	return int(p), nil
}
