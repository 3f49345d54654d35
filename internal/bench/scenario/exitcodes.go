package scenario

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/workload"
	"golang.org/x/sys/unix"
)

// exitCase is one column of the exit-code table.
type exitCase struct {
	name string
	cmd  func(h *harness.Harness) ([]string, error)
}

// notFoundCmd is looked up in PATH and is never there.
const notFoundCmd = "tinit-bench-no-such-command"

var exitCases = []exitCase{
	{"exit 3", func(*harness.Harness) ([]string, error) { return workload.Command("exit", "3"), nil }},
	{"killed by SIGKILL", func(*harness.Harness) ([]string, error) { return workload.Command("killself", "9"), nil }},
	{"command not found", func(*harness.Harness) ([]string, error) { return []string{notFoundCmd}, nil }},
	{"not executable", func(h *harness.Harness) ([]string, error) {
		p := filepath.Join(h.Tmp, "not-executable")
		return []string{p}, os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o644)
	}},
}

// ExitCases names the columns of the exit-code table.
func ExitCases() []string {
	var out []string
	for _, c := range exitCases {
		out = append(out, c.name)
	}
	return out
}

// exitCodes records each init's exit code for each case, in plain mode.
// The table is informational: peers differ on purpose (tini, for one,
// reports a failed exec differently from a shell). The baseline row shows
// the raw outcome, including the errno of an exec that failed in the
// harness.
func exitCodes() harness.Scenario {
	return harness.Scenario{
		Name: "exit-codes",
		Run: func(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
			for _, c := range exitCases {
				cmd, err := c.cmd(h)
				if err != nil {
					return nil, err
				}
				code, err := exitCode(h, in, cmd)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", c.name, err)
				}
				h.Res.AddCode(in.Name, c.name, code)
			}
			return report.Sample{}, nil
		},
	}
}

func exitCode(h *harness.Harness, in harness.InitSpec, cmd []string) (string, error) {
	r, err := h.Env.Launch(in.Argv(harness.Plain, 0, cmd), harness.Plain)
	var errno syscall.Errno
	if in.IsBaseline() && errors.As(err, &errno) {
		return "exec: " + unix.ErrnoName(errno), nil
	}
	if err != nil {
		return "", err
	}
	defer r.Close()
	if _, err := r.Finish(exitTimeout); err != nil {
		return "", err
	}
	return strconv.Itoa(r.ExitCode()), nil
}
