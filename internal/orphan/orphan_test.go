package orphan

import (
	"errors"
	"testing"

	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestSpawnLeavesOrphan checks that Spawn's middle process exits at once and
// that its child ends up reparented to the caller when the caller is a
// subreaper: the caller then reaps two processes, the middle and the orphan.
func TestSpawnLeavesOrphan(t *testing.T) {
	if !supported {
		testenv.Need(t, "orphans", ErrUnsupported)
	}
	testenv.Need(t, "subreaper", unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

	const n = 50
	for i := 0; i < n; i++ {
		if _, err := Spawn(); err != nil {
			t.Fatalf("Spawn() = %v", err)
		}
	}
	reaped := 0
	var ws unix.WaitStatus
	for {
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.ECHILD) {
			break
		}
		if err != nil {
			t.Fatalf("wait4: %v", err)
		}
		if !ws.Exited() || ws.ExitStatus() != 0 {
			t.Errorf("pid %d: status %v, want exit 0", pid, ws)
		}
		reaped++
	}
	if reaped != 2*n {
		t.Errorf("reaped %d processes, want %d (middle and orphan each)", reaped, 2*n)
	}
}

// TestChain checks that a chain of N links leaves N orphans behind it, one
// after the other, each a child of the subreaper once its parent exited.
func TestChain(t *testing.T) {
	if !supported {
		testenv.Need(t, "orphans", ErrUnsupported)
	}
	testenv.Need(t, "subreaper", unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

	const n = 200
	if _, err := Chain(n); err != nil {
		t.Fatalf("Chain(%d) = %v", n, err)
	}
	reaped := 0
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.ECHILD) {
			break
		}
		if err != nil {
			t.Fatalf("wait4: %v", err)
		}
		reaped++
	}
	if reaped != n {
		t.Errorf("reaped %d links, want %d", reaped, n)
	}
}

// TestPark checks that a parked copy stays, asleep, until SIGKILL, that
// SIGTERM does nothing to it, and that it dies of SIGKILL.
func TestPark(t *testing.T) {
	if !supported {
		testenv.Need(t, "orphans", ErrUnsupported)
	}
	pid, err := Park()
	if err != nil {
		t.Fatalf("Park() = %v", err)
	}
	if err := unix.Kill(pid, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Blocked, SIGTERM stays pending for the process instead of ending it.
	pending, err := procfs.New(nil).SignalMask(pid, "ShdPnd")
	if err != nil || pending&(1<<(unix.SIGTERM-1)) == 0 {
		t.Errorf("pending signals of the parked copy = %#x, %v; want SIGTERM pending", pending, err)
	}
	var ws unix.WaitStatus
	if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err != nil || got != 0 {
		t.Fatalf("wait4(%d, WNOHANG) = %d, %v; want the parked copy still running", pid, got, err)
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Errorf("parked copy ended with %v, want death by SIGKILL", ws)
	}
}
