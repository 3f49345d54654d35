// Package tests runs the built tinit binary as PID 1 of a fresh pid
// namespace and as a subreaper outside one, with and without pidfds, and
// checks what a user relies on: exit codes, signals, reaping, cleanup and
// inherited descriptors. Children come from this test binary re-executed as
// workloads (package internal/workload, shared with the benchmark): TestMain
// runs one when the command line names it. The harness is in run_test.go
// (modes, specs, runs), log_test.go (tinit's log) and procs_test.go
// (finding and ending processes); the container tests are in
// bundle_test.go, runc_test.go, seccomp_fallback_test.go and
// podman_test.go.
package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinit-dev/tinit/internal/cgroup"
	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/workload"
)

// tinitBin is the binary under test, built once by TestMain.
var tinitBin string

// pid1Err says why PID 1 mode cannot run here, if it cannot.
var pid1Err error

// workDir holds what the tests build once (tinit, the C recorder).
var workDir string

func TestMain(m *testing.M) {
	workload.Main()
	// Descriptors leaked to this process by whatever started it would leak
	// into tinit and its child too; a sane parent passes 0, 1 and 2 only.
	if err := workload.CloseOnExecFrom(3); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "tinit-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	tinitBin, err = buildTinit(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// PID 1 mode needs CLONE_NEWPID and CLONE_NEWNS (root or a user
	// namespace). A missing capability shows as a failed clone or a failed
	// mount (125); anything else is a bug in the tests, not a reason to skip.
	probe := pid1Command("/bin/true")
	if out, err := probe.CombinedOutput(); err != nil {
		pid1Err = fmt.Errorf("a fresh pid and mount namespace: %v: %s", err, bytes.TrimSpace(out))
		if probe.ProcessState != nil && probe.ProcessState.ExitCode() != 125 {
			fmt.Fprintln(os.Stderr, pid1Err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if left := staleCgroups(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "cgroups of dead runs left behind: %s\n", strings.Join(left, " "))
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// staleCgroups lists the groups of runs whose tinit is dead that are still
// there once a last run of tinit (which removes such groups) is over. The
// tests SIGKILL tinit, whose group then stays until the next run; none may
// be left after the suite.
func staleCgroups() []string {
	proc := procfs.New(nil)
	parent, err := cgroup.Parent(proc)
	if err != nil {
		return nil // no cgroup v2 here: no run made one
	}
	self, err := cgroup.Self(proc)
	if err != nil {
		return []string{err.Error()}
	}
	sweep := exec.Command(tinitBin, "--", "true")
	if out, err := sweep.CombinedOutput(); err != nil {
		return []string{fmt.Sprintf("(the sweeping run failed: %v: %s)", err, out)}
	}
	ents, _ := os.ReadDir(parent)
	var left []string
	for _, e := range ents {
		if e.IsDir() && cgroup.MadeByDead(e.Name(), self, proc) {
			left = append(left, filepath.Join(parent, e.Name()))
		}
	}
	return left
}

// buildTinit uses $TINIT_BIN when set (make test passes bin/tinit), else
// builds the command as a release would.
func buildTinit(dir string) (string, error) {
	if bin := os.Getenv("TINIT_BIN"); bin != "" {
		return filepath.Abs(bin)
	}
	bin := filepath.Join(dir, "tinit")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "../cmd/tinit")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build tinit: %v\n%s", err, out)
	}
	return bin, nil
}
