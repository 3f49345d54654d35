package main

import (
	"errors"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stderr is where tinit writes its messages and log: descriptor 2 written
// with write(2) directly, not through os.Stderr. The Go runtime ends a
// program of SIGPIPE when a write through os.Stdout or os.Stderr meets a
// closed pipe; tinit must not die before its command runs (or while it
// supervises it) because whoever read its stderr went away. Such a write
// fails with EPIPE, and the message is lost, nothing else. The kernel's
// SIGPIPE for it is taken on the writing thread, where it is blocked for
// the write: a personality that forwards SIGPIPE (all the peers') would
// otherwise pass tinit's own broken pipe on to the command. A descriptor
// left non-blocking by tinit's parent is waited on rather than dropped.
var stderr fdWriter = 2

type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var pipe, old unix.Sigset_t
	pipe.Val[0] = 1 << (unix.SIGPIPE - 1)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &pipe, &old); err == nil {
		defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	}
	n, err := w.write(p)
	if errors.Is(err, unix.EPIPE) {
		// The SIGPIPE is pending for this thread: take it.
		var zero unix.Timespec
		unix.Syscall6(unix.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(&pipe)), 0, uintptr(unsafe.Pointer(&zero)), 8, 0, 0)
	}
	return n, err
}

func (w fdWriter) write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(int(w), p[done:])
		if n > 0 {
			done += n
		}
		switch {
		case err == nil:
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			fds := []unix.PollFd{{Fd: int32(w), Events: unix.POLLOUT}}
			if _, perr := unix.Poll(fds, -1); perr != nil && !errors.Is(perr, unix.EINTR) {
				return done, perr
			}
		default:
			return done, err
		}
	}
	return done, nil
}
