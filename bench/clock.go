package main

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// monoNow reads CLOCK_MONOTONIC in nanoseconds. Workloads and the harness
// exchange these readings through pipes: without a time namespace every
// process on the machine shares this clock, so a timestamp taken inside a
// pid namespace can be subtracted from one taken outside it.
func monoNow() int64 {
	var ts unix.Timespec
	// CLOCK_MONOTONIC cannot fail on Linux; a zero reading would show up as
	// an absurd latency rather than pass silently.
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// processCPUClock is the clock id the kernel gives the CPU-time clock of
// process pid (CPUCLOCK_SCHED, whole process): ((^pid) << 3) | 2, as glibc's
// MAKE_PROCESS_CPUCLOCK builds it.
func processCPUClock(pid int) int32 {
	return int32((^pid)<<3 | 2)
}

// processCPU returns the CPU time process pid has used itself, in user and
// kernel mode, with nanosecond resolution. Unlike wait4's rusage it never
// includes the time of children it reaped. It works on a zombie (the pid
// is still attached until the parent reaps it), which is how the harness
// reads an init's total after it exits; any process may read any other's
// clock, so a workload can also read its parent init's.
func processCPU(pid int) (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(processCPUClock(pid), &ts); err != nil {
		return 0, fmt.Errorf("clock_gettime(cpu clock of pid %d): %w", pid, err)
	}
	return time.Duration(ts.Nano()), nil
}
