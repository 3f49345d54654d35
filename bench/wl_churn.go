package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"
)

// churnResult is what the pipe churn reports.
type churnResult struct {
	Children int   `json:"children"`
	WallNs   int64 `json:"wall_ns"`
	// InitCPUNs is the CPU time the init (the workload's parent) used
	// while the children ran, read from its CPU clock before and after.
	InitCPUNs int64 `json:"init_cpu_ns"`
	HasInit   bool  `json:"has_init"`
}

// churnOutput is what each churn child writes to its pipe.
const churnOutput = "ok\n"

// runChurn runs K children one after another the way a test runner does:
// stdout is a pipe, read to EOF, then the child is waited for. The init is
// not the parent of any of them, so an init that does nothing it need not
// do uses no CPU here at all.
func runChurn(args []string) error {
	k, err := oneInt(args)
	if err != nil {
		return err
	}
	rep, err := openReport()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	// As the baseline the workload is PID 1 and has no init to watch.
	res := churnResult{Children: k, HasInit: os.Getpid() != 1}
	initCPU := func() (time.Duration, error) { return 0, nil }
	if res.HasInit {
		initPid := os.Getppid()
		initCPU = func() (time.Duration, error) { return processCPU(initPid) }
	}
	cpu0, err := initCPU()
	if err != nil {
		return err
	}
	start := monoNow()
	if err := churn(self, k); err != nil {
		return err
	}
	res.WallNs = monoNow() - start
	cpu1, err := initCPU()
	if err != nil {
		return err
	}
	res.InitCPUNs = int64(cpu1 - cpu0)
	return rep.result(res)
}

func churn(self string, k int) error {
	for i := 0; i < k; i++ {
		out, err := exec.Command(self, wlChurnChild).Output()
		if err != nil {
			return fmt.Errorf("child %d: %w", i, err)
		}
		if string(out) != churnOutput {
			return fmt.Errorf("child %d wrote %q, want %q", i, out, churnOutput)
		}
	}
	return nil
}

// runChurnChild is one churn child: a line on stdout, exit 0.
func runChurnChild([]string) error {
	_, err := os.Stdout.WriteString(churnOutput)
	return err
}
