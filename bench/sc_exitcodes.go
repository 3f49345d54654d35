package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// exitCase is one row of the exit-code table.
type exitCase struct {
	name string
	cmd  func(h *harness) []string
}

// notFoundCmd is looked up in PATH and is never there.
const notFoundCmd = "tinit-bench-no-such-command"

var exitCases = []exitCase{
	{"exit 3", func(h *harness) []string { return h.env.workload(wlExit, "3") }},
	{"killed by SIGKILL", func(h *harness) []string { return h.env.workload(wlSelfKill) }},
	{"command not found", func(*harness) []string { return []string{notFoundCmd} }},
	{"not executable", func(h *harness) []string { return []string{h.notExec} }},
}

// exitCodes records each init's exit code for each case, in plain mode.
// The table is informational: peers differ on purpose (tini, for one,
// reports a failed exec differently from a shell). The baseline row shows
// the raw outcome, including the errno of an exec that failed in the
// harness.
func (h *harness) exitCodes(in initSpec) (sample, error) {
	for _, c := range exitCases {
		code, err := h.exitCode(in, c.cmd(h))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		h.res.addCode(in.Name, c.name, code)
	}
	return sample{}, nil
}

func (h *harness) exitCode(in initSpec, cmd []string) (string, error) {
	r, err := h.env.launch(in.argv(plain, 0, cmd), plain)
	var errno syscall.Errno
	if in.isBaseline() && errors.As(err, &errno) {
		return "exec: " + unix.ErrnoName(errno), nil
	}
	if err != nil {
		return "", err
	}
	defer r.close()
	if _, err := r.finish(exitTimeout); err != nil {
		return "", err
	}
	return strconv.Itoa(exitCode(r.status)), nil
}

// makeNotExec creates a file that exists but cannot be executed.
func makeNotExec(dir string) (string, error) {
	p := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		return "", fmt.Errorf("create non-executable file: %w", err)
	}
	return p, nil
}
