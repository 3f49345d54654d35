package orphan

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSpawnLeavesOrphan checks that Spawn's middle process exits at once and
// that its child ends up reparented to the caller when the caller is a
// subreaper: the caller then reaps two processes, the middle and the orphan.
func TestSpawnLeavesOrphan(t *testing.T) {
	if !supported {
		t.Skip("orphan.Spawn is implemented for amd64 only")
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("cannot become a child subreaper: %v", err)
	}
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
