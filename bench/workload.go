package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// The harness runs its workloads by re-executing its own binary with one of
// these names as argv[1]: every process a scenario needs (the prep step
// that becomes PID 1, the storm generator, daemons, sleepers, signal
// targets, pipe churners) is this same program, so no shell or sleep(1)
// takes part in a measurement.
const (
	wlPrep       = "wl-prep"
	wlStorm      = "wl-storm"
	wlDaemons    = "wl-daemons"
	wlMiddle     = "wl-middle"
	wlSleeper    = "wl-sleeper"
	wlTarget     = "wl-target"
	wlChurn      = "wl-churn"
	wlChurnChild = "wl-churn-child"
	wlExit       = "wl-exit"
	wlSelfKill   = "wl-selfkill"
)

// workloads maps argv[1] to the workload's entry point.
var workloads = map[string]func(args []string) error{
	wlPrep:       runPrep,
	wlStorm:      runStorm,
	wlDaemons:    runDaemons,
	wlMiddle:     runMiddle,
	wlSleeper:    runSleeper,
	wlTarget:     runTarget,
	wlChurn:      runChurn,
	wlChurnChild: runChurnChild,
	wlExit:       runExit,
	wlSelfKill:   runSelfKill,
}

// exitWorkloadFailed is a workload's exit code when it could not do its
// job; the harness reports it as an error of that sample.
const exitWorkloadFailed = 125

// runWorkload runs the named workload and returns its exit code.
func runWorkload(name string, args []string) int {
	if err := workloads[name](args); err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", name, err)
		return exitWorkloadFailed
	}
	return 0
}

// reportFd is where the harness hands a workload the write end of its
// report pipe. Every init under test passes inherited descriptors on to its
// child, so the pipe reaches the workload through the init.
const reportFd = 3

// reporter writes one line per event to the harness: "ready", "exit NS" or
// "result JSON".
type reporter struct{ f *os.File }

// openReport takes over the report pipe and marks it close-on-exec, so
// that nothing the workload starts (a sleeper that survives the init, say)
// holds it open.
func openReport() (*reporter, error) {
	if _, err := unix.FcntlInt(reportFd, unix.F_GETFD, 0); err != nil {
		return nil, fmt.Errorf("no report pipe on fd %d: %w", reportFd, err)
	}
	if err := cloexecFrom(reportFd); err != nil {
		return nil, err
	}
	return &reporter{f: os.NewFile(reportFd, "report")}, nil
}

func (r *reporter) send(kind, payload string) error {
	line := kind
	if payload != "" {
		line += " " + payload
	}
	if _, err := r.f.WriteString(line + "\n"); err != nil {
		return fmt.Errorf("report %s: %w", kind, err)
	}
	return nil
}

func (r *reporter) result(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	return r.send("result", string(b))
}

// exitNow reports the CLOCK_MONOTONIC instant just before the process
// exits: PID-1 scenarios measure from it to the init's exit.
func (r *reporter) exitNow() error {
	return r.send("exit", strconv.FormatInt(monoNow(), 10))
}

// oneInt parses the single numeric argument most workloads take.
func oneInt(args []string) (int, error) {
	if len(args) != 1 {
		return 0, errors.New("want one numeric argument")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return 0, fmt.Errorf("argument %q: %w", args[0], err)
	}
	return n, nil
}
