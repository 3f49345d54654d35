package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// tinit re-executes itself, at most once and before anything else, when it
// was started in a state the Go runtime would carry into the command or
// into tinit's own cost:
//
//   - with signals blocked: the runtime hands every child the signal mask
//     the process started with, and a test runner must not start with
//     SIGTERM blocked. execve(2) keeps the calling thread's mask, so the
//     thread is held from unblocking to exec.
//   - with more than procs processors to schedule on (the CPU count, or a
//     GOMAXPROCS in the environment meant for the tests): the runtime
//     sizes itself by that count before main runs (measured idle: 0.74
//     MiB of anonymous memory at 1, 0.84 to 0.98 at 2, 1.19 at 8, 1.99 at
//     64, and up to 11 threads), and calling runtime.GOMAXPROCS later does
//     not give the memory back. tinit re-executes with GOMAXPROCS=procs,
//     which costs one more runtime start (about 1.3 ms, measured), only
//     where the count is higher.
//
// Why two and not one: the reaper blocks in wait4 holding its processor,
// which the runtime hands over only when its monitor thread next looks,
// up to 10 ms later when idle. With one processor, every signal to forward
// and every event of the loop waits for that (measured: `tinit -- true`
// took 3.5 ms at GOMAXPROCS=1 against 2.4 ms at 2). So a count below two is
// raised to two in place, which needs no re-execution.
//
// The re-executed tinit restores the environment exactly as it came (the
// variable is put back as it was, or removed where there was none), so the
// command gets the user's environment untouched.

// reexecVar carries the original GOMAXPROCS into the re-executed tinit:
// "=VALUE" when it was set, "unset" when not. It is removed before
// anything reads the environment.
const reexecVar = "TINIT_REEXEC"

// procs is the processor count tinit runs with.
const procs = 2

// reexecIfNeeded re-executes tinit when needed (see above) and on return
// has the environment as tinit was given it. An error means tinit could not
// re-execute and goes on as it is; the caller warns.
func reexecIfNeeded() error {
	if v, ok := os.LookupEnv(reexecVar); ok {
		os.Unsetenv(reexecVar)
		if orig, set := strings.CutPrefix(v, "="); set {
			os.Setenv("GOMAXPROCS", orig)
		} else {
			os.Unsetenv("GOMAXPROCS")
		}
		return nil
	}
	blocked, err := signals.Blocked()
	if err != nil {
		return err
	}
	n := runtime.GOMAXPROCS(0)
	if n < procs {
		runtime.GOMAXPROCS(procs)
	}
	if !blocked && n <= procs {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := signals.UnblockAll(); err != nil {
		return fmt.Errorf("unblock signals: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("re-exec: %w", err)
	}
	err = unix.Exec(self, os.Args, reexecEnv(os.Environ()))
	return fmt.Errorf("re-exec %s: %w", strconv.Quote(self), err)
}

// reexecEnv returns env with GOMAXPROCS=procs in the place of the
// original, or last, and reexecVar saying what the original was.
func reexecEnv(env []string) []string {
	out := make([]string, 0, len(env)+2)
	orig := "unset"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GOMAXPROCS="); ok {
			orig, kv = "="+v, "GOMAXPROCS="+strconv.Itoa(procs)
		}
		out = append(out, kv)
	}
	if orig == "unset" {
		out = append(out, "GOMAXPROCS="+strconv.Itoa(procs))
	}
	return append(out, reexecVar+"="+orig)
}
