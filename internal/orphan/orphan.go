// Package orphan makes orphans quickly, for tests and benchmarks of a
// reaper. Spawn forks a middle process which forks one grandchild and exits
// at once; the grandchild exits at once too and is reparented, alive or as a
// zombie, to the nearest subreaper or PID 1, which must reap it.
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
