package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// readyFd is where middles and sleepers get the write end of the daemons'
// readiness pipe.
const readyFd = 3

// runDaemons starts N daemons the classic way, by a double fork: each
// middle process starts a new session, starts a sleeper and exits, so the
// sleeper is orphaned and reparented to the init. Sleepers ignore SIGTERM
// and carry the run's marker in argv, by which the harness finds the ones
// that outlive the init. The workload exits once every sleeper has said it
// ignores SIGTERM; an init's SIGTERM cannot arrive earlier than that.
func runDaemons(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: wl-daemons COUNT MARKER")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return fmt.Errorf("count %q: %w", args[0], err)
	}
	rep, err := openReport()
	if err != nil {
		return err
	}
	if err := startDaemons(n, args[1]); err != nil {
		return err
	}
	return rep.exitNow()
}

func startDaemons(n int, marker string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("readiness pipe: %w", err)
	}
	defer r.Close()
	for i := 0; i < n; i++ {
		mid := exec.Command(self, wlMiddle, marker)
		mid.ExtraFiles = []*os.File{w}
		mid.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := mid.Run(); err != nil {
			w.Close()
			return fmt.Errorf("middle %d: %w", i, err)
		}
	}
	w.Close()
	// A sleeper that fails closes its end without writing: ReadFull then
	// sees EOF instead of waiting forever.
	if _, err := io.ReadFull(r, make([]byte, n)); err != nil {
		return fmt.Errorf("waiting for %d sleepers: %w", n, err)
	}
	return nil
}

// runMiddle is the middle of the double fork: it starts the sleeper and
// exits without waiting for it.
func runMiddle(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	sl := exec.Command(self, append([]string{wlSleeper}, args...)...)
	sl.ExtraFiles = []*os.File{os.NewFile(readyFd, "ready")}
	if err := sl.Start(); err != nil {
		return fmt.Errorf("start sleeper: %w", err)
	}
	return nil
}

// runSleeper ignores SIGTERM, says so, and blocks until killed.
func runSleeper([]string) error {
	if err := setDisposition(unix.SIGTERM, sigIGN); err != nil {
		return err
	}
	ready := os.NewFile(readyFd, "ready")
	if _, err := ready.Write([]byte{1}); err != nil {
		return fmt.Errorf("report ready: %w", err)
	}
	ready.Close()
	blockForever()
	return nil
}

// blockForever sleeps in pause(2) until a signal ends the process.
func blockForever() {
	for {
		unix.Pause()
	}
}
