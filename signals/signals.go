// Package signals decides which signals tinit claims and which of those it
// passes on, names signals for logs, and maps a child's wait status to an
// exit code (n, or 128+n for death by signal n).
//
// It does not deliver signals to anybody and it does not wait for children:
// package subreaper does both.
package signals

import (
	"os"
	"os/signal"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// exitSignalBase is added to a signal number to form the exit code of a
// process killed by that signal, as shells do.
const exitSignalBase = 128

// Real-time signals 32 and 33 belong to the C library and to the Go runtime
// (per-thread system calls); tinit forwards the ones above them.
const (
	firstForwardedRT = 34
	lastRT           = 64
)

// forwarded lists the classic signals tinit passes on to the child. The
// rest are excluded on purpose:
//   - SIGKILL, SIGSTOP: cannot be caught;
//   - SIGCHLD: tinit's own business, never forwarded;
//   - SIGURG: the Go runtime's preemption signal, sent many times a second;
//   - SIGPROF: consumed by the Go runtime's profiler before any handler;
//   - SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS: faults of
//     tinit itself (tini does not forward them either);
//   - SIGPIPE, SIGTTIN, SIGTTOU: raised by the kernel about tinit's own
//     writes and terminal access, so they say nothing to the child.
var forwarded = [...]unix.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGALRM, unix.SIGTERM, unix.SIGSTKFLT, unix.SIGCONT, unix.SIGTSTP,
	unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGWINCH, unix.SIGIO,
	unix.SIGPWR,
}

// dropped lists signals tinit claims but never forwards. Claiming them
// keeps tinit from dying of SIGPIPE when stderr is a closed pipe, and from
// being stopped by terminal access; it also means the child starts with
// their default disposition even if tinit's parent ignored them, because a
// caught signal is reset to its default by execve(2).
var dropped = [...]unix.Signal{unix.SIGPIPE, unix.SIGTTIN, unix.SIGTTOU}

// IgnoreTerminalStops sets SIGTTIN and SIGTTOU to SIG_IGN. Call it once the
// child has been spawned (it then has the default disposition already). A
// background process that writes to a terminal with TOSTOP set is stopped,
// or, when it catches SIGTTOU, sent SIGTTOU again every time the write is
// restarted; an ignored SIGTTOU lets the write through, so tinit's log
// lines can neither stop it nor spin it.
func IgnoreTerminalStops() {
	signal.Ignore(unix.SIGTTIN, unix.SIGTTOU)
}

// Forwarded reports whether tinit passes sig on to the child.
func Forwarded(sig unix.Signal) bool {
	if sig >= firstForwardedRT && sig <= lastRT {
		return true
	}
	for _, s := range forwarded {
		if s == sig {
			return true
		}
	}
	return false
}

// Claim makes the Go runtime deliver every forwarded and dropped signal to
// ch instead of acting on it. It must run before the first child is
// spawned: a Go program that receives an unclaimed SIGTERM exits at once,
// and as PID 1 that would orphan the whole tree. ch should be buffered; a
// full channel drops signals, so a receive means "at least one arrived".
func Claim(ch chan<- os.Signal) {
	sigs := make([]os.Signal, 0, len(forwarded)+len(dropped)+lastRT-firstForwardedRT+1)
	for _, s := range forwarded {
		sigs = append(sigs, s)
	}
	for _, s := range dropped {
		sigs = append(sigs, s)
	}
	for s := firstForwardedRT; s <= lastRT; s++ {
		sigs = append(sigs, unix.Signal(s))
	}
	signal.Notify(ch, sigs...)
}

// kernelSigaction is struct sigaction as the rt_sigaction system call takes
// it on Linux (not the C library's layout).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// DefaultSIGCHLD sets SIGCHLD to SIG_DFL for the whole process.
//
// Children still become zombies under SIG_DFL (only SIG_IGN or SA_NOCLDWAIT
// make the kernel reap them), so no exit status is lost, but the kernel no
// longer interrupts a thread to run the Go runtime's handler for every child
// that exits: tinit waits for children in a blocking wait4(2) instead and
// needs no notification. It also undoes a SIG_IGN inherited from tinit's
// parent, which would otherwise make the kernel reap our children and lose
// their exit status.
//
// After this call, signal.Notify for SIGCHLD would not reinstall the
// runtime's handler; tinit never asks for SIGCHLD.
func DefaultSIGCHLD() error {
	var sa kernelSigaction // handler 0 is SIG_DFL
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD),
		uintptr(unsafe.Pointer(&sa)), 0, unsafe.Sizeof(sa.mask), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// Blocked reports whether the calling thread has any signal blocked. The
// Go runtime gives every child the signal mask tinit itself was started
// with, so a non-empty mask at start must be cleared by re-executing.
func Blocked() (bool, error) {
	var old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &old); err != nil {
		return false, err
	}
	for _, w := range old.Val {
		if w != 0 {
			return true, nil
		}
	}
	return false, nil
}

// UnblockAll empties the calling thread's signal mask. The caller must hold
// the thread (runtime.LockOSThread) until it execs.
func UnblockAll() error {
	var none unix.Sigset_t
	return unix.PthreadSigmask(unix.SIG_SETMASK, &none, nil)
}

// ExitCode maps a wait status to the exit code a shell would report: the
// exit status for a normal exit, 128+n for death by signal n. ok is false
// for statuses that do not end a process (stopped, continued).
func ExitCode(ws unix.WaitStatus) (code int, ok bool) {
	switch {
	case ws.Exited():
		return ws.ExitStatus(), true
	case ws.Signaled():
		return exitSignalBase + int(ws.Signal()), true
	}
	return 0, false
}

// Name returns the conventional name of sig ("SIGTERM", "SIGRTMIN+3"), or
// its number when it has none.
func Name(sig unix.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	switch {
	case sig == firstForwardedRT:
		return "SIGRTMIN"
	case sig > firstForwardedRT && sig <= lastRT:
		// Numbered from the C library's SIGRTMIN, as kill -l does.
		return "SIGRTMIN+" + strconv.Itoa(int(sig)-firstForwardedRT)
	}
	return "signal " + strconv.Itoa(int(sig))
}
