// Command bench measures tinit against its peers (tini, tini-static,
// dumb-init, catatonit) and a no-init baseline: startup overhead, an
// orphan storm, leftover daemons in subreaper and PID-1 mode, signal
// latency, exit codes, idle memory, binary size and a pipe churn. Inits
// run interleaved, round by round, so that noise on a shared machine hits
// all of them alike. It prints a table and writes latest.json, latest.md
// and latest.svg; a missed target is reported, never a failure.
//
// The same binary is also every workload: run with one of the wl-* names
// as its first argument, it becomes that workload (see workload.go).
// bench/README.md explains each method.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) > 1 {
		if _, ok := workloads[os.Args[1]]; ok {
			os.Exit(runWorkload(os.Args[1], os.Args[2:]))
		}
	}
	os.Exit(harnessMain(os.Args[1:], os.Stdout, os.Stderr))
}

// harnessMain runs the benchmark. It returns 2 for a bad command line and
// 1 when the harness itself breaks; a target tinit misses is not an error.
func harnessMain(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	if err := bench(cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

func bench(cfg config, stdout, stderr io.Writer) error {
	// Descriptors inherited from whoever started the harness must not
	// reach the processes it starts (see cloexecFrom).
	if err := cloexecFrom(3); err != nil {
		return err
	}
	if err := notSubreaper(); err != nil {
		return err
	}
	e, err := newEnv()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "tinit-bench-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	h := &harness{cfg: cfg, env: e, res: newResults(), progress: stderr, stop: stopOnSignal()}
	if h.notExec, err = makeNotExec(tmp); err != nil {
		return err
	}
	inits, missing := selectInits(knownInits(h.tinitCopy(tmp, stderr)), cfg.Inits)
	for _, name := range missing {
		fmt.Fprintf(stderr, "bench: %s not found; not measured\n", name)
	}
	selected := selectScenarios(allScenarios(), cfg.Only)
	scs := h.usableScenarios(selected)
	start := time.Now()
	h.runRounds(scs, inits)
	rep := buildReport(cfg, inits, missing, h.res, time.Since(start))
	fmt.Fprint(stdout, textReport(rep))
	if err := writeFiles(cfg.Out, rep); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s/latest.{json,md,svg}\n", cfg.Out)
	if !cfg.Strict {
		return nil
	}
	// Every selected scenario counts, those dropped for want of root too.
	var names []string
	for _, sc := range selected {
		names = append(names, sc.name)
	}
	if problems := strictProblems(rep, names); len(problems) > 0 {
		return fmt.Errorf("-strict: %s", strings.Join(problems, "; "))
	}
	return nil
}

// tinitCopy snapshots the -tinit binary into tmp and returns the path to
// measure. If there is nothing to copy, the original path is returned and
// tinit is reported missing like any init.
func (h *harness) tinitCopy(tmp string, stderr io.Writer) string {
	p, err := snapshot(h.cfg.Tinit, tmp)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return h.cfg.Tinit
	}
	return p
}

// stopOnSignal returns a channel closed on the first SIGINT or SIGTERM.
// Stopping between runs rather than dying at once lets the run in progress
// kill what it started, and the partial results still get written.
func stopOnSignal() <-chan struct{} {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, unix.SIGTERM)
	stop := make(chan struct{})
	go func() {
		<-sigs
		signal.Stop(sigs)
		close(stop)
	}()
	return stop
}

// usableScenarios drops the PID-1 scenarios when the harness cannot create
// pid namespaces (it needs root), with a note.
func (h *harness) usableScenarios(scs []scenario) []scenario {
	if unix.Geteuid() == 0 {
		return scs
	}
	var out []scenario
	for _, sc := range scs {
		if sc.pid1 {
			h.res.note("%s skipped: PID-1 scenarios need root (CLONE_NEWPID, mounting /proc)", sc.name)
			continue
		}
		out = append(out, sc)
	}
	return out
}

// notSubreaper makes sure the harness is no child subreaper (the flag is
// not inherited, so this only undoes an exec'ing parent's prctl): the
// sleepers that outlive an init in the subreaper scenario must be
// reparented past the harness, as they would be in a container runtime.
func notSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear child subreaper flag: %w", err)
	}
	return nil
}
