// Package signals decides which signals tinit claims and which of those it
// passes on, names signals for logs, and maps a child's wait status to an
// exit code (n, or 128+n for death by signal n).
//
// It does not deliver signals to anybody and it does not wait for children:
// package subreaper does both.
package signals

import (
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// exitSignalBase is added to a signal number to form the exit code of a
// process killed by that signal, as shells do.
const exitSignalBase = 128

// The real-time signals tinit forwards. 32 and 33 belong to the C library
// and the Go runtime (per-thread system calls), and 34 is one the Go runtime
// keeps for musl and never lets os/signal claim; 35 (the C library's
// SIGRTMIN+1) to 64 are forwarded.
const (
	firstForwardedRT = 35
	lastRT           = 64
	// rtminLibc is the C library's SIGRTMIN, for names.
	rtminLibc = 34
)

// early lists the signals claimed before the child is spawned: the ones the
// Go runtime answers by exiting (SIGHUP, SIGINT, SIGTERM) or by dumping and
// exiting (SIGQUIT). One of them arriving unclaimed once the child runs
// would end tinit (as PID 1 with exit status 2, since PID 1 cannot die of
// its own signal) instead of being forwarded.
var early = [...]unix.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGQUIT}

// late lists the other forwarded signals, claimed while the child starts.
// Every os/signal claim is a round trip with the runtime's signal-mask
// thread, about three context switches: claiming all 45 forwarded signals
// before the spawn cost 0.7 to 1.2 ms of startup (measured), when a whole
// run of `tinit -- true` takes about 2 ms. Until claimed (about a
// millisecond after the spawn), the Go runtime catches these and does
// nothing, so one sent then is lost; SIGCONT and SIGTSTP keep their default
// action meanwhile (see BeforeSpawn).
var late = [...]unix.Signal{
	unix.SIGCONT, unix.SIGTSTP, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM,
	unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGWINCH, unix.SIGIO,
	unix.SIGPWR,
}

// defaulted lists signals for which the Go runtime keeps a disposition
// inherited from tinit's parent (SIG_IGN, say, from a shell's background
// job) instead of installing its own handler; the child would inherit it
// too. BeforeSpawn sets them to SIG_DFL.
var defaulted = [...]unix.Signal{unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, 32, rtminLibc}

// Never forwarded, and ignored by tinit once the child runs (AfterSpawn):
// SIGPIPE, SIGTTIN and SIGTTOU are raised by the kernel about tinit's own
// writes and terminal access and say nothing to the child. The fault
// signals SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS are set to
// SIG_IGN behind the Go runtime's back: the runtime takes one sent with
// sigqueue(2) (si_code SI_QUEUE) for a real fault and crashes, which as PID
// 1 would take the whole namespace down without a grace period. A real
// fault still ends tinit (the kernel resets an ignored fault signal to its
// default action), by the signal instead of with a Go stack trace; tinit's
// Go code has no faults to recover from. SIGABRT is ignored through
// os/signal. SIGSTKFLT, 32 and 34 cannot be claimed through os/signal, and
// the runtime would crash on the first or end the process on the others.
// Never claimed at all: SIGKILL and SIGSTOP (cannot be caught), SIGCHLD
// (tinit's own business), SIGURG and SIGPROF (the Go runtime's).
var (
	ignoredByRuntime = [...]os.Signal{
		unix.SIGPIPE, unix.SIGTTIN, unix.SIGTTOU, unix.SIGABRT, unix.SIGSEGV,
		unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS,
	}
	ignoredRaw = [...]unix.Signal{
		unix.SIGSTKFLT, 32, rtminLibc, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE,
		unix.SIGILL, unix.SIGTRAP, unix.SIGSYS,
	}
)

// Early is the claim of the early signals, which makes the Go runtime
// deliver them to a channel instead of acting on them; it must have taken
// effect before the child is spawned. It is begun at once and waited for
// later: the first os/signal claim starts two threads of the runtime and
// each claim is a round trip with one of them, about 0.25 ms for the four
// (measured), which StartEarly takes off the way to the spawn by running
// it beside what precedes it (the command line, the logger, the cgroup).
type Early struct {
	ch   chan os.Signal
	done chan struct{}
}

// EarlyBuffer is the room of an Early's channel: os/signal drops what
// does not fit, so a receive means "at least one arrived".
const EarlyBuffer = 32

// StartEarly begins claiming the early signals on a channel of their own.
func StartEarly() *Early {
	e := &Early{ch: make(chan os.Signal, EarlyBuffer), done: make(chan struct{})}
	go func() {
		notify(e.ch, early[:])
		close(e.done)
	}()
	return e
}

// OrStart returns e, or where e is nil (a caller that began no claim) a
// claim begun now.
func (e *Early) OrStart() *Early {
	if e == nil {
		return StartEarly()
	}
	return e
}

// C is the channel the early signals come on.
func (e *Early) C() chan os.Signal { return e.ch }

// Wait returns once the claim has taken effect.
func (e *Early) Wait() { <-e.done }

// Forwardable lists the signals tinit ignores by default that a peer
// forwards, and that tinit can forward too when asked (ClaimLate's extra):
// SIGPIPE (tini, dumb-init and catatonit forward it), SIGTTIN, SIGTTOU and
// SIGABRT (dumb-init). The fault signals, SIGURG, SIGPROF and SIGSTKFLT
// stay out of reach: the Go runtime keeps them (see ignoredRaw).
var Forwardable = [...]unix.Signal{unix.SIGPIPE, unix.SIGTTIN, unix.SIGTTOU, unix.SIGABRT}

// ClaimLate claims the remaining forwarded signals, and those of extra (a
// subset of Forwardable).
func ClaimLate(ch chan<- os.Signal, extra []unix.Signal) {
	notify(ch, late[:])
	if len(extra) > 0 {
		notify(ch, extra)
	}
	rt := make([]unix.Signal, 0, lastRT-firstForwardedRT+1)
	for s := firstForwardedRT; s <= lastRT; s++ {
		rt = append(rt, unix.Signal(s))
	}
	notify(ch, rt)
}

func notify(ch chan<- os.Signal, sigs []unix.Signal) {
	list := make([]os.Signal, len(sigs))
	for i, s := range sigs {
		list[i] = s
	}
	signal.Notify(ch, list...)
}

// BeforeSpawn gives the defaulted signals their default disposition, so
// that the child starts with it whatever tinit inherited. (SIGHUP and
// SIGINT, which the runtime also leaves ignored when inherited so, are
// claimed before the spawn, and a claimed signal is caught.)
func BeforeSpawn() error {
	for _, sig := range defaulted {
		if err := setDisposition(sig, sigDfl); err != nil {
			return err
		}
	}
	return nil
}

// AfterSpawn ignores, in tinit only, the signals it never forwards, but
// those of extra. An
// ignored SIGTTOU also lets a background tinit write its log to a terminal
// with TOSTOP set, where a caught one would be sent again on every
// restarted write.
func AfterSpawn(extra []unix.Signal) error {
	ignore := make([]os.Signal, 0, len(ignoredByRuntime))
	for _, sig := range ignoredByRuntime {
		if !slices.Contains(extra, sig.(unix.Signal)) {
			ignore = append(ignore, sig)
		}
	}
	signal.Ignore(ignore...)
	for _, sig := range ignoredRaw {
		if err := setDisposition(sig, sigIgn); err != nil {
			return err
		}
	}
	return nil
}

// Dispositions for setDisposition.
const (
	sigDfl = 0
	sigIgn = 1
)

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
	return setDisposition(unix.SIGCHLD, sigDfl)
}

// setDisposition sets sig to SIG_DFL or SIG_IGN behind the Go runtime's
// back, with the raw system call.
func setDisposition(sig unix.Signal, handler uintptr) error {
	sa := kernelSigaction{handler: handler}
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
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
	case sig == rtminLibc:
		return "SIGRTMIN"
	case sig > rtminLibc && sig <= lastRT:
		// Numbered from the C library's SIGRTMIN, as kill -l does.
		return "SIGRTMIN+" + strconv.Itoa(int(sig)-rtminLibc)
	}
	return "signal " + strconv.Itoa(int(sig))
}

// Parse reads a signal as users write it: a name with or without "SIG"
// ("TERM", "SIGTERM", "sigterm"), a real-time one counted from SIGRTMIN or
// back from SIGRTMAX ("RTMIN+3", "SIGRTMAX-2"), or a number from 1 to 64.
func Parse(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > lastRT {
			return 0, fmt.Errorf("signal number %d out of range 1-%d", n, lastRT)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	for _, base := range []struct {
		prefix string
		from   int
		sign   int
	}{{"SIGRTMIN+", rtminLibc, 1}, {"SIGRTMAX-", lastRT, -1}} {
		if rest, ok := strings.CutPrefix(name, base.prefix); ok {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n > lastRT-rtminLibc || len(rest) > 2 {
				break
			}
			return unix.Signal(base.from + base.sign*n), nil
		}
	}
	switch name {
	case "SIGRTMIN":
		return rtminLibc, nil
	case "SIGRTMAX":
		return lastRT, nil
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
