package workload

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// MonoNow reads CLOCK_MONOTONIC in nanoseconds. Workloads and the
// benchmark exchange these readings in lines: without a time namespace
// every process of the machine shares this clock, so a reading taken
// inside a pid namespace can be subtracted from one taken outside it.
func MonoNow() int64 {
	var ts unix.Timespec
	// CLOCK_MONOTONIC cannot fail on Linux; a zero reading would show up
	// as an absurd latency rather than pass silently.
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// processCPUClock is the clock id the kernel gives the CPU-time clock of
// process pid (CPUCLOCK_SCHED, whole process): ((^pid) << 3) | 2, as
// glibc's MAKE_PROCESS_CPUCLOCK builds it.
func processCPUClock(pid int) int32 {
	return int32((^pid)<<3 | 2)
}

// ProcessCPU returns the CPU time process pid has used itself, in user and
// kernel mode, with nanosecond resolution. Unlike wait4's rusage it never
// includes the time of children it reaped. It works on a zombie (the pid
// stays attached until the parent reaps it), which is how the benchmark
// reads an init's total after it exits; any process may read any other's
// clock, so a workload can read its parent init's.
func ProcessCPU(pid int) (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(processCPUClock(pid), &ts); err != nil {
		return 0, fmt.Errorf("clock_gettime(cpu clock of pid %d): %w", pid, err)
	}
	return time.Duration(ts.Nano()), nil
}

// OwnCPU returns the CPU time the calling process has used.
func OwnCPU() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}
