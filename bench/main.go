// Command bench measures tinit against its peers (tini, tini-static,
// dumb-init, catatonit), a no-init baseline and, for startup, the barest
// Go spawner: the scenarios of package internal/bench/scenario, run by
// package internal/bench/harness round by round, interleaved, so that
// noise on a shared machine hits every init alike. It prints a table and
// writes latest.json, latest.md and latest.svg (package
// internal/bench/report); a missed target is reported, never a failure.
// bench/README.md explains each scenario's method.
//
// The same binary is also every workload the scenarios run (package
// internal/workload).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/bench/scenario"
	"github.com/tinit-dev/tinit/internal/workload"
	"golang.org/x/sys/unix"
)

func main() {
	workload.Main()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the benchmark. It returns 2 for a bad command line and 1 when
// the harness itself breaks or -strict finds a problem; a target tinit
// misses is not an error.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := harness.ParseConfig(args, stderr, scenario.Names())
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

func bench(cfg harness.Config, stdout, stderr io.Writer) error {
	// Descriptors inherited from whoever started the benchmark must not
	// reach the processes it starts.
	if err := workload.CloseOnExecFrom(3); err != nil {
		return err
	}
	// The harness must be no child subreaper (the flag is not inherited;
	// this undoes an exec'ing parent's prctl): what an init leaves behind
	// must be reparented past the harness, as in a container runtime.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear child subreaper flag: %w", err)
	}
	env, err := harness.NewEnv()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "tinit-bench-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	h := &harness.Harness{Cfg: cfg, Env: env, Res: report.NewResults(), Progress: stderr, Tmp: tmp, Stop: stopOnSignal()}
	defer h.End()
	tinit, err := harness.Snapshot(cfg.Tinit, tmp)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		tinit = cfg.Tinit
	}
	if h.Floor, err = buildFloor(tmp); err != nil {
		h.Res.Note("no Go floor for the startup target: %v", err)
	}
	inits, missing := harness.SelectInits(harness.KnownInits(tinit), cfg.Inits)
	for _, name := range missing {
		fmt.Fprintf(stderr, "bench: %s not found; not measured\n", name)
	}
	all := scenario.All(cfg.Grace)
	selected := harness.SelectScenarios(all, cfg.Only)
	start := time.Now()
	h.RunRounds(usable(h, selected), inits)
	// The record names tinit as the command line did, relative to the
	// working directory, not by where this machine keeps it.
	recorded := cfg
	recorded.Tinit = relative(cfg.Tinit)
	rep := report.Build(report.Input{
		Config: recorded, Params: cfg.Params(), Inits: append(initInfos(cfg, inits), floorInfo(h.Floor)...), Missing: missing,
		Metrics: scenario.Metrics(all), ExitCases: scenario.ExitCases(),
		Results: h.Res, Took: time.Since(start), Machine: report.MachineInfo(),
	})
	fmt.Fprint(stdout, report.Text(rep))
	if err := report.WriteFiles(cfg.Out, rep); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s/latest.{json,md,svg}\n", cfg.Out)
	if !cfg.Strict {
		return nil
	}
	// Every selected scenario counts, those left out for want of root,
	// podman or the like too.
	var names []string
	for _, sc := range selected {
		names = append(names, sc.Name)
	}
	if problems := harness.StrictProblems(rep, names); len(problems) > 0 {
		return fmt.Errorf("-strict: %s", strings.Join(problems, "; "))
	}
	return nil
}

// usable drops the scenarios this machine cannot run, with a note: the
// PID-1 ones without root (they create pid namespaces and mount /proc),
// and those whose Need fails.
func usable(h *harness.Harness, scs []harness.Scenario) []harness.Scenario {
	var out []harness.Scenario
	for _, sc := range scs {
		if sc.PID1 && unix.Geteuid() != 0 {
			h.Res.Note("%s left out: PID-1 scenarios need root (CLONE_NEWPID, mounting /proc)", sc.Name)
			continue
		}
		if sc.Need != nil {
			if err := sc.Need(h); err != nil {
				h.Res.Note("%s left out: %v", sc.Name, err)
				continue
			}
		}
		out = append(out, sc)
	}
	return out
}

// initInfos describes the inits for the record: versions, and the SHA-256
// of the binary measured (for tinit, the snapshot of cfg.Tinit).
func initInfos(cfg harness.Config, inits []harness.InitSpec) []report.InitInfo {
	var out []report.InitInfo
	for _, in := range inits {
		ii := report.InitInfo{Name: in.Name, Path: in.Path}
		if !in.IsBaseline() {
			ii.Version, ii.SHA256 = version(in.Path), harness.FileSHA256(in.Path)
		}
		if in.IsTinit() {
			ii.Path = relative(cfg.Tinit)
		}
		out = append(out, ii)
	}
	return out
}

// floorInfo is the Go floor's row of the report, if it was built.
func floorInfo(path string) []report.InitInfo {
	if path == "" {
		return nil
	}
	return []report.InitInfo{{Name: report.GoFloor, Path: "bench/floor", SHA256: harness.FileSHA256(path)}}
}

// relative is path relative to the working directory when it is below
// it, else path.
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return path
}

// version asks an init for its version, for the record.
func version(path string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// buildFloor builds bench/floor, the barest Go spawner, as tinit is built
// (static, stripped).
func buildFloor(dir string) (string, error) {
	out := filepath.Join(dir, "floor")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./bench/floor")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./bench/floor: %v: %s", err, b)
	}
	return out, nil
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
