package workload

import (
	"os/exec"
	"syscall"
	"testing"

	"github.com/tinit-dev/tinit/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestProcessCPUOnZombie checks the method the harness relies on: a child
// that has exited but is not yet reaped still has a readable CPU clock.
func TestProcessCPUOnZombie(t *testing.T) {
	path, err := exec.LookPath("true")
	testenv.Need(t, "true", err)
	pid, err := syscall.ForkExec(path, []string{"true"}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatalf("start true: %v", err)
	}
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatalf("waitid: %v", err)
	}
	cpu, cpuErr := ProcessCPU(pid)
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("wait4: %v", err)
	}
	if cpuErr != nil {
		t.Fatalf("ProcessCPU(zombie %d): %v", pid, cpuErr)
	}
	// An exec alone costs CPU; zero would mean the clock read nothing.
	if cpu <= 0 {
		t.Errorf("ProcessCPU(zombie) = %v, want > 0", cpu)
	}
}

func TestProcessCPUClockID(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		want int32
	}{
		{name: "pid 1", pid: 1, want: -14},      // (^1)<<3 | 2
		{name: "pid 100", pid: 100, want: -806}, // (^100)<<3 | 2
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := processCPUClock(tt.pid); got != tt.want {
				t.Errorf("processCPUClock(%d) = %d, want %d", tt.pid, got, tt.want)
			}
		})
	}
}
