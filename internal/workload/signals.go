package workload

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

func init() {
	Register("record", record)
	Register("regroup", regroup)
	Register("target", target)
	Register("killself", killself)
}

// record FILE [child]: append the number of every signal received to
// FILE, say "ready", and exit 0 after SIGINT or SIGTERM. With "child",
// first start a second recorder in the same process group writing to
// FILE.child, so group delivery can be checked.
func record(args []string) int {
	if !needArgs("record", args, 1, "FILE [child]") {
		return ExitUsage
	}
	file := args[0]
	ch := make(chan os.Signal, 64)
	signal.Notify(ch, RecordedSignals...)
	if arg(args, 1, "") == "child" {
		sub := Cmd("record", file+".child")
		out, _ := sub.StdoutPipe()
		if err := sub.Start(); err != nil {
			return fail("record", err)
		}
		var b [6]byte
		io.ReadFull(out, b[:]) // its "ready"
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fail("record", err)
	}
	Say("ready", "")
	for s := range ch {
		fmt.Fprintf(f, "%d\n", s.(syscall.Signal))
		if s == syscall.SIGINT || s == syscall.SIGTERM {
			return 0
		}
	}
	return 1
}

// RecordedSignals are the signals the record workload catches: every one
// tinit forwards, and some it must not (tinit's own business). SIGURG, 32
// and 34 the Go runtime keeps for itself; the tests' C recorder sees them.
var RecordedSignals = func() []os.Signal {
	sigs := []os.Signal{
		syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGTERM, syscall.SIGWINCH,
		syscall.SIGCONT, syscall.SIGTSTP, syscall.SIGXCPU, syscall.SIGXFSZ,
		syscall.SIGVTALRM, syscall.SIGIO, syscall.SIGPWR,
		syscall.SIGABRT, syscall.SIGPIPE, syscall.SIGTTIN, syscall.SIGTTOU,
		syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
		syscall.SIGTRAP, syscall.SIGSYS,
	}
	for s := 35; s <= 64; s++ {
		sigs = append(sigs, syscall.Signal(s))
	}
	return sigs
}()

// regroup FILE: leave the process group the init made, for the group of
// a child of ours, then record signals like record.
func regroup(args []string) int {
	sub := Cmd("sleeper", "regroup")
	sub.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sub.Start(); err != nil {
		return fail("regroup", err)
	}
	if err := syscall.Setpgid(0, sub.Process.Pid); err != nil {
		return fail("regroup", fmt.Errorf("setpgid: %w", err))
	}
	return record(args)
}

// target: SIGTERM at the kernel's default action (not the Go runtime's
// handler), say "ready", then nothing until a signal ends the process, as
// a plain C program would: the benchmark's signal and idle-memory child.
func target(args []string) int {
	if err := signals.Default(unix.SIGTERM); err != nil {
		return fail("target", err)
	}
	if err := Say("ready", ""); err != nil {
		return fail("target", err)
	}
	block()
	return 0
}

// killself SIGNUM: die of a signal, whatever the Go runtime would do with
// it: the disposition is set to SIG_DFL behind the runtime's back first.
func killself(args []string) int {
	if !needArgs("killself", args, 1, "SIGNUM") {
		return ExitUsage
	}
	sig := unix.Signal(atoi(args[0]))
	if sig != unix.SIGKILL && sig != unix.SIGSTOP { // their action is fixed
		if err := signals.Default(sig); err != nil {
			return fail("killself", err)
		}
	}
	unix.Kill(os.Getpid(), sig)
	time.Sleep(5 * time.Second)
	return 1
}
