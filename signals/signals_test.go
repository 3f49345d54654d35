package signals

import (
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// wait statuses as the kernel encodes them
func exited(code int) unix.WaitStatus         { return unix.WaitStatus(code << 8) }
func killed(sig unix.Signal) unix.WaitStatus  { return unix.WaitStatus(sig) }
func stopped(sig unix.Signal) unix.WaitStatus { return unix.WaitStatus(int(sig)<<8 | 0x7f) }

func TestExitCode(t *testing.T) {
	tests := []struct {
		name  string
		ws    unix.WaitStatus
		code  int
		final bool
	}{
		{"exit 0", exited(0), 0, true},
		{"exit 3", exited(3), 3, true},
		{"exit 255", exited(255), 255, true},
		{"SIGKILL", killed(unix.SIGKILL), 137, true},
		{"SIGTERM", killed(unix.SIGTERM), 143, true},
		{"SIGINT with core", killed(unix.SIGINT) | 0x80, 130, true},
		{"SIGRTMAX", killed(64), 192, true},
		{"stopped", stopped(unix.SIGSTOP), 0, false},
		{"continued", unix.WaitStatus(0xffff), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ok := ExitCode(tt.ws)
			if code != tt.code || ok != tt.final {
				t.Errorf("ExitCode(%#x) = %d, %v, want %d, %v", int(tt.ws), code, ok, tt.code, tt.final)
			}
		})
	}
}

func FuzzExitCode(f *testing.F) {
	for _, ws := range []int{0, 3 << 8, 255 << 8, 9, 15 | 0x80, 0x137f, 0xffff} {
		f.Add(ws)
	}
	f.Fuzz(func(t *testing.T, raw int) {
		ws := unix.WaitStatus(uint32(raw))
		code, ok := ExitCode(ws)
		if !ok {
			return
		}
		switch {
		case ws.Exited() && (code < 0 || code > 255):
			t.Errorf("ExitCode(%#x) = %d for an exit, want 0..255", raw, code)
		case ws.Signaled() && (code <= exitSignalBase || code > exitSignalBase+127):
			t.Errorf("ExitCode(%#x) = %d for a signal death, want 129..255", raw, code)
		}
	})
}

// forwarded reports whether sig is among the signals tinit claims, every
// one of which it forwards.
func forwarded(sig unix.Signal) bool {
	if sig >= firstForwardedRT && sig <= lastRT {
		return true
	}
	return slices.Contains(early[:], sig) || slices.Contains(late[:], sig)
}

func TestForwarded(t *testing.T) {
	tests := []struct {
		sig  unix.Signal
		want bool
	}{
		{unix.SIGTERM, true}, {unix.SIGINT, true}, {unix.SIGHUP, true},
		{unix.SIGQUIT, true}, {unix.SIGUSR1, true}, {unix.SIGUSR2, true},
		{unix.SIGWINCH, true}, {unix.SIGCONT, true}, {unix.SIGALRM, true},
		{unix.SIGTSTP, true}, {35, true}, {37, true}, {64, true},
		{unix.SIGSTKFLT, false}, {34, false}, {unix.SIGABRT, false},
		{unix.SIGCHLD, false}, {unix.SIGURG, false}, {unix.SIGKILL, false},
		{unix.SIGSTOP, false}, {unix.SIGPIPE, false}, {unix.SIGPROF, false},
		{unix.SIGSEGV, false}, {unix.SIGTTIN, false}, {32, false}, {33, false},
		{65, false},
	}
	for _, tt := range tests {
		if got := forwarded(tt.sig); got != tt.want {
			t.Errorf("forwarded(%s) = %v, want %v", Name(tt.sig), got, tt.want)
		}
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		sig  unix.Signal
		want string
	}{
		{unix.SIGTERM, "SIGTERM"},
		{unix.SIGWINCH, "SIGWINCH"},
		{34, "SIGRTMIN"},
		{37, "SIGRTMIN+3"},
		{64, "SIGRTMIN+30"},
		{33, "signal 33"},
	}
	for _, tt := range tests {
		if got := Name(tt.sig); got != tt.want {
			t.Errorf("Name(%d) = %q, want %q", int(tt.sig), got, tt.want)
		}
	}
}

// TestDispositionsAroundSpawn checks the dispositions tinit sets around
// the spawn: the signals the Go runtime leaves alone get their default for
// the child before it, and those never forwarded are ignored after it.
func TestDispositionsAroundSpawn(t *testing.T) {
	for _, sig := range defaulted {
		setDisposition(sig, sigIgn) // as an inherited SIG_IGN would be
	}
	if err := BeforeSpawn(); err != nil {
		t.Fatal(err)
	}
	for _, sig := range defaulted {
		if got := handlerOf(t, sig); got != sigDfl {
			t.Errorf("before the spawn, %s handler = %#x, want SIG_DFL", Name(sig), got)
		}
	}
	if err := AfterSpawn(nil); err != nil {
		t.Fatal(err)
	}
	ignored := append([]unix.Signal{unix.SIGPIPE, unix.SIGTTIN, unix.SIGTTOU, unix.SIGABRT}, ignoredRaw[:]...)
	for _, sig := range ignored {
		if got := handlerOf(t, sig); got != sigIgn {
			t.Errorf("after the spawn, %s handler = %#x, want SIG_IGN", Name(sig), got)
		}
	}
}

func handlerOf(t *testing.T, sig unix.Signal) uintptr {
	t.Helper()
	h, err := disposition(sig)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestDefaultSIGCHLD checks that an inherited SIG_IGN for SIGCHLD, which
// would make the kernel reap children and lose their status, is undone.
func TestDefaultSIGCHLD(t *testing.T) {
	const sigIgn = 1
	ign := kernelSigaction{handler: sigIgn}
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), uintptr(unsafe.Pointer(&ign)), 0, unsafe.Sizeof(ign.mask), 0, 0)
	if got := handlerOf(t, unix.SIGCHLD); got != sigIgn {
		t.Fatalf("setup: SIGCHLD handler = %#x, want SIG_IGN", got)
	}
	if err := DefaultSIGCHLD(); err != nil {
		t.Fatal(err)
	}
	if got := handlerOf(t, unix.SIGCHLD); got != 0 {
		t.Errorf("after DefaultSIGCHLD, SIGCHLD handler = %#x, want SIG_DFL", got)
	}
}

func TestBlockedAndUnblockAll(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set unix.Sigset_t
	set.Val[0] = 1 << (unix.SIGUSR1 - 1)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := Blocked(); err != nil || !b {
		t.Fatalf("Blocked() = %v, %v with SIGUSR1 blocked, want true", b, err)
	}
	if err := UnblockAll(); err != nil {
		t.Fatal(err)
	}
	if b, err := Blocked(); err != nil || b {
		t.Errorf("Blocked() = %v, %v after UnblockAll, want false", b, err)
	}
}

// disposition returns the handler installed for sig.
func disposition(sig unix.Signal) (uintptr, error) {
	var old kernelSigaction
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0,
		uintptr(unsafe.Pointer(&old)), unsafe.Sizeof(old.mask), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return old.handler, nil
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want unix.Signal
		ok   bool
	}{
		{"TERM", unix.SIGTERM, true},
		{"SIGQUIT", unix.SIGQUIT, true},
		{"sigint", unix.SIGINT, true},
		{"9", unix.SIGKILL, true},
		{"64", 64, true},
		{"RTMIN+3", 37, true},
		{"SIGRTMIN", 34, true},
		{"SIGRTMAX-1", 63, true},
		{"RTMAX", 64, true},
		{"0", 0, false},
		{"65", 0, false},
		{"-1", 0, false},
		{"SIGRTMIN+31", 0, false},
		{"SIGRTMIN+x", 0, false},
		{"NOPE", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"TERM", "SIGRTMIN+3", "9", "rtmax-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := Parse(s)
		if err == nil && (sig < 1 || sig > 64) {
			t.Errorf("Parse(%q) = %d, out of range", s, sig)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) error has several lines", s)
		}
	})
}

// TestStartEarly: once Wait returns, each early signal sent to the process
// comes on the channel instead of ending it.
func TestStartEarly(t *testing.T) {
	e := StartEarly()
	e.Wait()
	defer signal.Stop(e.C())
	if cap(e.C()) != EarlyBuffer {
		t.Errorf("channel room %d, want %d", cap(e.C()), EarlyBuffer)
	}
	for _, sig := range early {
		if err := unix.Kill(unix.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-e.C():
			if got != sig {
				t.Errorf("sent %v, received %v", sig, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v did not arrive", sig)
		}
	}
}
