package tests

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/testenv"
)

// sigrecBin is the C signal recorder of testdata/sigrec.c, built once.
var sigrecBin struct {
	once sync.Once
	path string
	err  error
}

// sigrec returns the argv that runs the C recorder with args (see
// testdata/sigrec.c): unlike the Go recorder it sees every signal,
// SIGURG, 32 and 34 included, and stop signals do not stop it.
func sigrec(t *testing.T, args ...string) []string {
	t.Helper()
	sigrecBin.once.Do(func() {
		cc, err := exec.LookPath("cc")
		if err != nil {
			sigrecBin.err = fmt.Errorf("no C compiler for testdata/sigrec.c (make deps installs gcc): %w", err)
			return
		}
		src, _ := filepath.Abs("testdata/sigrec.c")
		out := filepath.Join(workDir, "sigrec")
		if b, err := exec.Command(cc, "-O2", "-Wall", "-Werror", "-o", out, src).CombinedOutput(); err != nil {
			sigrecBin.err = fmt.Errorf("cc testdata/sigrec.c: %v: %s", err, b)
			return
		}
		sigrecBin.path = out
	})
	testenv.Need(t, "cc", sigrecBin.err)
	return append([]string{sigrecBin.path}, args...)
}

// pendingSignals returns the signals pending for pid, for the process as a
// whole and for any of its threads: what was sent but not yet taken.
func pendingSignals(pid int) (uint64, error) {
	fs := procfs.New(nil)
	tasks, err := fs.Numbers(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var all uint64
	for _, tid := range tasks {
		for _, key := range []string{"SigPnd", "ShdPnd"} {
			m, err := fs.SignalMask(tid, key)
			if err != nil {
				continue // the thread ended
			}
			all |= m
		}
	}
	return all, nil
}

// sigState returns the signal mask field (SigCgt, SigIgn, SigBlk) of pid's
// status.
func sigState(t *testing.T, pid int, field string) uint64 {
	t.Helper()
	m, err := procfs.New(nil).SignalMask(pid, field)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sigBit is sig's bit in a /proc signal mask.
func sigBit(sig syscall.Signal) uint64 { return 1 << (uint(sig) - 1) }
