package scenario

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/workload"
	"golang.org/x/sys/unix"
)

// exitLabel names the time from the workload's exit to the init's.
func exitLabel(grace time.Duration) string {
	return "workload exit -> init exit (tinit --grace " + grace.String() + ")"
}

// leftoversSubreaper runs the daemons workload (daemons that ignore
// SIGTERM, each by a double fork) under an init that is a plain child of
// the harness (a child subreaper, if it makes itself one), and counts the
// daemons still alive once the init has exited.
func leftoversSubreaper(grace time.Duration) harness.Scenario {
	const name = "leftovers-subreaper"
	return harness.Scenario{
		Name: name,
		Metrics: []report.Metric{
			{Key: "subreaper.survivors", Scenario: name, Label: "daemons surviving the init", Unit: "count", Baseline: true,
				Target: report.Target{Kind: report.AllAtMost, Limit: 0}},
			{Key: "subreaper.exit", Scenario: name, Label: exitLabel(grace), Unit: "ms", Digits: 1, Ratio: true, Baseline: true},
		},
		Run: func(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
			return leftovers(h, in, harness.Plain, h.Cfg.Sleepers, "subreaper.")
		},
	}
}

// leftoversPID1 runs the same workload under the init as PID 1 of a new
// pid namespace: the kernel kills every process of the namespace when its
// init exits, so what matters is how long the init takes to get there.
func leftoversPID1(grace time.Duration) harness.Scenario {
	const name = "leftovers-pid1"
	return harness.Scenario{
		Name: name, PID1: true,
		Metrics: []report.Metric{
			{Key: "pid1.exit", Scenario: name, Label: exitLabel(grace), Unit: "ms", Digits: 1, Ratio: true, Baseline: true,
				Target: report.Target{Kind: report.AtMostValue, Limit: ms(grace) + 50}},
		},
		Run: func(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
			return leftovers(h, in, harness.PID1, h.Cfg.Sleepers, "pid1.")
		},
	}
}

// leftoversAtScale is the subreaper scenario with 1,000 daemons, for tinit
// alone (no peer ends leftovers in this mode): how long the kill takes
// beyond the grace, and what it costs tinit. Then the same 1,000 in PID-1
// mode, for tinit and for the baseline (the workload itself as PID 1):
// when the baseline exits, the kernel kills and reaps the namespace's
// 1,000 daemons on its own, which is what ending them costs without any
// init.
func leftoversAtScale(grace time.Duration) harness.Scenario {
	const name = "leftovers-at-scale"
	return harness.Scenario{
		Name: name,
		Metrics: []report.Metric{
			{Key: "scale.survivors", Scenario: name, Label: "daemons at scale (1,000; quick 200) surviving tinit as a subreaper", Unit: "count",
				Target: report.Target{Kind: report.AllAtMost, Limit: 0}},
			{Key: "scale.exit", Scenario: name, Label: "daemons at scale, subreaper: " + exitLabel(grace), Unit: "ms", Digits: 1,
				Target: report.Target{Kind: report.AtMostValue, Limit: ms(grace) + 100}},
			{Key: "scale.cpu", Scenario: name, Label: "tinit CPU, whole subreaper run with the daemons at scale", Unit: "ms", Digits: 1},
			{Key: "scale.pid1_exit", Scenario: name, Label: "daemons at scale, PID 1: " + exitLabel(grace) + "; baseline: the kernel alone", Unit: "ms", Digits: 1, Baseline: true},
		},
		Run: func(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
			if !in.IsTinit() && !in.IsBaseline() {
				return report.Sample{}, nil
			}
			out := report.Sample{}
			if in.IsTinit() {
				s, err := leftovers(h, in, harness.Plain, h.Cfg.Leftovers, "scale.")
				if err != nil {
					return nil, err
				}
				out = s
			}
			if unix.Geteuid() == 0 {
				s, err := leftovers(h, in, harness.PID1, h.Cfg.Leftovers, "scale.pid1_")
				if err != nil {
					return nil, err
				}
				out["scale.pid1_exit"] = s["scale.pid1_exit"]
			}
			return out, nil
		},
	}
}

// leftovers measures from the workload's exit (the CLOCK_MONOTONIC
// reading it says just before exiting) to the init's exit, the init's CPU
// time, and counts survivors by the run's marker. tinit gets --grace.
func leftovers(h *harness.Harness, in harness.InitSpec, m harness.Mode, n int, prefix string) (report.Sample, error) {
	marker := workload.NewMarker()
	defer h.KillMarked(marker)
	cmd := workload.Command("daemons", strconv.Itoa(n), marker)
	r, err := h.Env.Launch(in.Argv(m, h.Cfg.Grace, cmd), m)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// Each daemon is two starts of this program, one after the other.
	exitAt, err := r.ExpectNs("exit", 30*time.Second+time.Duration(n)*50*time.Millisecond)
	if err != nil {
		return nil, err
	}
	cpu, err := r.Finish(h.Cfg.Grace + exitTimeout)
	if err != nil {
		return nil, err
	}
	left := workload.Marked(marker)
	if code := r.ExitCode(); code != 0 && in.IsTinit() {
		return nil, fmt.Errorf("tinit exited %d%s", code, r.StderrTail())
	}
	return report.Sample{
		prefix + "survivors": float64(len(left)),
		prefix + "exit":      nsSpan(exitAt, r.ExitNs()),
		prefix + "cpu":       ms(cpu),
	}, nil
}
