// Package workload is the one set of processes that the tests of the built
// binary and the benchmark run under an init: orphan storms, daemons that
// ignore SIGTERM, fork-and-exit chains, pipe churners, pipe holders, signal
// recorders, a PID-1 preparation step and the like. A program that hosts
// workloads (a test binary, the benchmark) calls Main first thing; Command
// builds the command line that runs one, which is always
//
//	PROGRAM -workload=NAME ARGS...
//
// so a workload is visible as such in ps and in /proc/PID/cmdline, and the
// marker arguments by which tests find leftovers are in its command line.
// Workloads talk back in lines on stdout ("ready", "exit NS", "result
// JSON"; see Say), never by waiting for EOF on a pipe that an init or a
// leftover may keep open.
//
// It does not judge what it sees: the tests and the benchmark do.
package workload

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// flagPrefix starts the first argument of a workload's command line.
const flagPrefix = "-workload="

// Func is a workload: it gets the arguments after its name and returns the
// process's exit code.
type Func func(args []string) int

// Exit codes of workloads that could not do their job.
const (
	// ExitUsage: the workload is unknown or its arguments are wrong.
	ExitUsage = 2
	// ExitFailed: something the workload needed failed (a fork, a pipe).
	ExitFailed = 3
)

var registry = map[string]Func{}

// Register adds a workload that only one host program needs (a test's
// probe). Call it from an init function: Main runs before anything else.
func Register(name string, f Func) {
	if _, dup := registry[name]; dup {
		panic("workload: " + name + " registered twice")
	}
	registry[name] = f
}

// called returns the workload named by os.Args, if any.
func called() (name string, args []string, ok bool) {
	if len(os.Args) < 2 {
		return "", nil, false
	}
	name, ok = strings.CutPrefix(os.Args[1], flagPrefix)
	return name, os.Args[2:], ok
}

// Main runs the workload os.Args names and exits with its code; without
// one it returns at once.
func Main() {
	name, args, ok := called()
	if !ok {
		return
	}
	f, known := registry[name]
	if !known {
		fmt.Fprintf(os.Stderr, "workload: unknown %q\n", name)
		os.Exit(ExitUsage)
	}
	os.Exit(f(args))
}

// The leader workload ends its main thread alone, which only the main
// goroutine, locked to that thread from an init function, can do.
func init() {
	if name, _, ok := called(); ok && name == "leader" {
		runtime.LockOSThread()
	}
}

var self = sync.OnceValue(func() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return os.Args[0]
})

// Self is the path of the running program, which hosts the workloads.
func Self() string { return self() }

// Command returns the command line that runs workload name of this program.
func Command(name string, args ...string) []string { return Of(Self(), name, args...) }

// Of returns the command line that runs workload name of program (a static
// copy of the test binary in a container, say).
func Of(program, name string, args ...string) []string {
	return append([]string{program, flagPrefix + name}, args...)
}

// Cmd is exec.Command of Command(name, args...).
func Cmd(name string, args ...string) *exec.Cmd {
	argv := Command(name, args...)
	return exec.Command(argv[0], argv[1:]...)
}

// Say writes one line "KIND PAYLOAD" (or "KIND") to stdout: how workloads
// report to whoever reads the init's output.
func Say(kind, payload string) error {
	line := kind
	if payload != "" {
		line += " " + payload
	}
	if _, err := os.Stdout.WriteString(line + "\n"); err != nil {
		return fmt.Errorf("say %s: %w", kind, err)
	}
	return nil
}

// SayExit says "exit NS", the CLOCK_MONOTONIC instant just before the
// workload exits: the benchmark times an init's exit from it.
func SayExit() error { return Say("exit", strconv.FormatInt(MonoNow(), 10)) }

// Line is one line a workload said, split as Say wrote it.
func Line(line string) (kind, payload string) {
	kind, payload, _ = strings.Cut(line, " ")
	return kind, payload
}

// block parks the process in pause(2) until a signal ends it.
func block() {
	for {
		unix.Pause()
	}
}

// fail reports why a workload could not do its job and returns ExitFailed.
func fail(name string, err error) int {
	fmt.Fprintf(os.Stderr, "workload %s: %v\n", name, err)
	return ExitFailed
}

// atoi is strconv.Atoi for arguments checked by the caller's usage.
func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// arg returns args[i], or def when there are fewer.
func arg(args []string, i int, def string) string {
	if i < len(args) {
		return args[i]
	}
	return def
}

// needArgs checks that a workload got at least n arguments.
func needArgs(name string, args []string, n int, usage string) bool {
	if len(args) >= n {
		return true
	}
	fmt.Fprintf(os.Stderr, "workload %s: usage: %s %s\n", name, name, usage)
	return false
}

// Names lists the workloads known to this program.
func Names() []string {
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// CloseOnExecFrom marks every open descriptor from min up close-on-exec,
// so that nothing a host program inherited by accident (a CI runner's
// pipe, say) leaks into the inits and workloads it starts: a pipe held by
// a leftover would keep whoever reads it waiting.
func CloseOnExecFrom(min int) error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list own descriptors: %w", err)
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= min {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}
