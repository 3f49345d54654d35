package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// reexecMarker is set in the environment of tinit's re-execution, so that
// it happens at most once; it is removed before the command is started.
const reexecMarker = "TINIT_REEXECUTED_WITH_EMPTY_MASK"

// clearSignalMask re-executes tinit with an empty signal mask when it was
// started with signals blocked: the Go runtime hands every child the mask
// the process started with, and a test runner must not start with SIGTERM
// blocked. execve(2) keeps the calling thread's mask, so the thread is held
// from unblocking to exec. Where re-executing is impossible (no /proc to
// find the binary), the caller warns and goes on.
func clearSignalMask() error {
	if os.Getenv(reexecMarker) != "" {
		os.Unsetenv(reexecMarker)
		return nil
	}
	blocked, err := signals.Blocked()
	if err != nil || !blocked {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := signals.UnblockAll(); err != nil {
		return fmt.Errorf("unblock signals: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("re-exec with an empty signal mask: %w", err)
	}
	err = unix.Exec(self, os.Args, append(os.Environ(), reexecMarker+"=1"))
	return fmt.Errorf("re-exec %s with an empty signal mask: %w", self, err)
}
