package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// runPrep is the first process of a fresh pid and mount namespace (the
// harness clones it with CLONE_NEWPID|CLONE_NEWNS). It makes every mount
// private, so nothing it does propagates back to the host, mounts a /proc
// that shows the new namespace, and then becomes the init under test with
// execve: the init is PID 1 of the namespace and still the harness's direct
// child, which is what lets the harness wait for it and read its CPU clock.
// The mounts vanish with the namespace when its last process exits.
func runPrep(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: wl-prep PROGRAM [ARGS...]")
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("proc", "/proc", "proc", flags, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := reportPrepCPU(); err != nil {
		return err
	}
	err := unix.Exec(args[0], args, os.Environ())
	return fmt.Errorf("exec %s: %w", args[0], err)
}

// reportPrepCPU tells the harness how much CPU this process has used so
// far. execve keeps the process, and with it its CPU clock, so the init's
// reading at exit includes the prep's Go runtime start and mounts (a few
// ms, the same for every init); the harness subtracts this.
func reportPrepCPU() error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return fmt.Errorf("read own CPU clock: %w", err)
	}
	line := "prep " + strconv.FormatInt(ts.Nano(), 10) + "\n"
	if _, err := unix.Write(reportFd, []byte(line)); err != nil {
		return fmt.Errorf("report prep CPU: %w", err)
	}
	return nil
}
