package scenario

import (
	"fmt"
	"time"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/workload"
	"golang.org/x/sys/unix"
)

// settleAfterReady is how long the harness waits after the child says
// ready before it signals the init. Users signal an init while their tests
// run, not within milliseconds of its start; tinit claims most signals
// while its child starts (see the README), and a signal sent during those
// claims would measure the claims, not the forwarding.
const settleAfterReady = 20 * time.Millisecond

// ignoredWait is how long the baseline, a plain process as PID 1, gets to
// act on SIGTERM before the harness concludes that the kernel dropped it.
const ignoredWait = 100 * time.Millisecond

// sigtermExit sends SIGTERM to the init (PID 1 of a new namespace) once
// its child is ready, and measures until the init has exited; the child
// keeps SIGTERM at its default action, so the init must pass the signal on
// and then notice its child's death. A signal from outside a pid namespace
// reaches its init only if the init handles it, so the baseline (the
// target itself as PID 1) shows what happens without an init: nothing.
// Beside each run of tinit's, the Go floor (bench/floor) takes the same
// SIGTERM as PID 1: the Go runtime catches it and exits at once, passing
// nothing on, so its time is the least any Go init can take, the runtime's
// own signal delivery and exit (the kernel then kills the child with the
// namespace).
func sigtermExit() harness.Scenario {
	const name = "sigterm-exit"
	return harness.Scenario{
		Name: name, PID1: true,
		Reps: func(c harness.Config) int { return c.SignalReps },
		Metrics: []report.Metric{
			{Key: "signal.latency", Scenario: name, Label: "SIGTERM -> init exit", Unit: "ms", Digits: 3, Ratio: true,
				Target: report.Target{Kind: report.AtMostBest, Factor: 1.2}},
			{Key: "signal.code", Scenario: name, Label: "init exit code after SIGTERM", Unit: "code"},
		},
		Run: func(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
			r, err := readyTarget(h, in, settleAfterReady)
			if err != nil {
				return nil, err
			}
			defer r.Close()
			t0, err := sendTerm(r)
			if err != nil {
				return nil, err
			}
			if in.IsBaseline() && !r.WaitFor(ignoredWait) {
				h.Res.Note("%s: the baseline (target as PID 1, no init) ignored SIGTERM; killed after %v", name, ignoredWait)
				return report.Sample{}, nil
			}
			if _, err := r.Finish(exitTimeout); err != nil {
				return nil, err
			}
			if in.IsTinit() && h.Floor != "" {
				floor, err := floorSigterm(h)
				if err != nil {
					return nil, err
				}
				h.Res.Add(report.GoFloor, report.Sample{"signal.latency": floor})
			}
			return report.Sample{"signal.latency": nsSpan(t0, r.ExitNs()), "signal.code": float64(r.ExitCode())}, nil
		},
	}
}

// floorSigterm times the Go floor as PID 1 from SIGTERM to its exit, in ms.
func floorSigterm(h *harness.Harness) (float64, error) {
	r, err := readyPID1(h, append([]string{h.Floor}, workload.Command("target")...), settleAfterReady)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	t0, err := sendTerm(r)
	if err != nil {
		return 0, err
	}
	if _, err := r.Finish(exitTimeout); err != nil {
		return 0, err
	}
	return nsSpan(t0, r.ExitNs()), nil
}

// sendTerm sends the run's PID 1 SIGTERM and returns when it was sent.
func sendTerm(r *harness.Run) (int64, error) {
	t0 := workload.MonoNow()
	if err := unix.Kill(r.Pid, unix.SIGTERM); err != nil {
		return 0, fmt.Errorf("send SIGTERM: %w", err)
	}
	return t0, nil
}

// readyTarget starts the init as PID 1 of a new namespace with the
// blocking target workload as its child, with extra in the init's
// environment, waits for the child to say ready, then lets the init
// settle. The caller closes the run.
func readyTarget(h *harness.Harness, in harness.InitSpec, settle time.Duration, extra ...string) (*harness.Run, error) {
	return readyPID1(h, in.Argv(harness.PID1, 0, workload.Command("target")), settle, extra...)
}

// readyPID1 is readyTarget for a command line of its own.
func readyPID1(h *harness.Harness, argv []string, settle time.Duration, extra ...string) (*harness.Run, error) {
	r, err := h.Env.Launch(argv, harness.PID1, extra...)
	if err != nil {
		return nil, err
	}
	if _, err := r.Expect("ready", readyTimeout); err != nil {
		r.Close()
		return nil, err
	}
	time.Sleep(settle)
	return r, nil
}
