package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// daemonsTimeout bounds the start of every daemon.
const daemonsTimeout = 60 * time.Second

// subreaperSleepers runs the daemons workload under an init that is a
// plain child of the harness (a child subreaper, if it makes itself one)
// and counts the sleepers still alive once the init has exited.
func (h *harness) subreaperSleepers(in initSpec) (sample, error) {
	return h.sleepers(in, plain, "subreaper.")
}

// pid1Sleepers runs the same workload under the init as PID 1 of a new
// pid namespace: the kernel kills every process of the namespace when its
// init exits, so what matters is how long the init takes to get there.
func (h *harness) pid1Sleepers(in initSpec) (sample, error) {
	return h.sleepers(in, pid1, "pid1.")
}

// sleepers measures from the workload's exit (the CLOCK_MONOTONIC
// timestamp it reports just before exiting) to the init's exit, and counts
// survivors by the run's marker. tinit gets --grace cfg.Grace.
func (h *harness) sleepers(in initSpec, m mode, prefix string) (sample, error) {
	marker, err := newMarker()
	if err != nil {
		return nil, err
	}
	defer h.killMarked(marker)
	cmd := h.env.workload(wlDaemons, strconv.Itoa(h.cfg.Sleepers), marker)
	r, err := h.env.launch(in.argv(m, h.cfg.Grace, cmd), m)
	if err != nil {
		return nil, err
	}
	defer r.close()
	payload, err := r.expect("exit", daemonsTimeout)
	if err != nil {
		return nil, err
	}
	exitAt, err := strconv.ParseInt(payload, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("workload exit time %q: %w", payload, err)
	}
	if _, err := r.finish(h.cfg.Grace + exitTimeout); err != nil {
		return nil, err
	}
	left, err := findMarked(marker)
	if err != nil {
		return nil, err
	}
	return sample{
		prefix + "survivors": float64(len(left)),
		prefix + "exit":      float64(r.exitNs-exitAt) / 1e6,
	}, nil
}

// newMarker returns an argv word unique to one run, by which its sleepers
// are found in /proc.
func newMarker() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("marker: %w", err)
	}
	return "tinit-bench-" + hex.EncodeToString(b), nil
}

// killMarked SIGKILLs whatever carries marker and waits, a while, for it
// to be gone. Survivors were reparented to the machine's init, which reaps
// them.
func (h *harness) killMarked(marker string) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		left, err := findMarked(marker)
		if err != nil || len(left) == 0 {
			return
		}
		for _, pid := range left {
			unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.res.note("some processes marked %s would not die", marker)
}
