package main

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// readyTimeout bounds the start of a target workload.
const readyTimeout = 10 * time.Second

// settleAfterReady is how long the harness waits after the child says
// ready before it signals the init. Users signal an init while their tests
// run, not within milliseconds of its start; tinit claims most signals
// while its child starts (see the README), and a signal sent during those
// claims would measure the claims, not the forwarding.
const settleAfterReady = 20 * time.Millisecond

// ignoredWait is how long the baseline, a plain process as PID 1, gets to
// act on SIGTERM before the harness concludes that the kernel dropped it.
const ignoredWait = 100 * time.Millisecond

// signal sends SIGTERM to the init (PID 1 of a new namespace) once its
// child is ready, and measures until the init has exited; the child keeps
// SIGTERM at its default action, so the init must pass the signal on and
// then notice its child's death. A signal from outside a pid namespace
// reaches its init only if the init handles it, so the baseline (the
// target itself as PID 1) shows what happens without an init: nothing.
func (h *harness) signal(in initSpec) (sample, error) {
	r, err := h.readyTarget(in, settleAfterReady)
	if err != nil {
		return nil, err
	}
	defer r.close()
	t0 := monoNow()
	if err := unix.Kill(r.pid, unix.SIGTERM); err != nil {
		return nil, fmt.Errorf("send SIGTERM: %w", err)
	}
	if in.isBaseline() && !r.waitFor(ignoredWait) {
		h.res.note("signal: the baseline (target as PID 1, no init) ignored SIGTERM; killed after %v", ignoredWait)
		return sample{}, nil
	}
	if _, err := r.finish(exitTimeout); err != nil {
		return nil, err
	}
	return sample{
		"signal.latency": float64(r.exitNs-t0) / 1e6,
		"signal.code":    float64(exitCode(r.status)),
	}, nil
}
