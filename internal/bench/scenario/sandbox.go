package scenario

import (
	"fmt"
	"os/exec"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
)

// bwrapArgs is the bubblewrap command `tinit sandbox -- true` is compared
// with: new pid and user namespaces, the root bound as it is, a fresh
// /proc, which is what tinit sandbox does by default (plus its mount
// namespace, private /tmp and PID-1 init).
var bwrapArgs = []string{"--unshare-pid", "--unshare-user", "--dev-bind", "/", "/", "--proc", "/proc"}

// sandbox times `tinit sandbox -- true` and bwrap's equivalent
// StartupReps times each, alternating, as startup does: the round's sample
// is each batch's median, and their ratio, from the same batch, so both
// see the same state of the machine.
func sandbox() harness.Scenario {
	const name = "sandbox"
	return harness.Scenario{
		Name: name, TinitOnly: true,
		Metrics: []report.Metric{
			{Key: "sandbox.wall", Scenario: name, Label: "tinit sandbox -- true, wall", Unit: "ms", Digits: 3},
			{Key: "sandbox.bwrap", Scenario: name, Label: "bwrap --unshare-pid --unshare-user --dev-bind / / --proc /proc true, same batch", Unit: "ms", Digits: 3},
			{Key: "sandbox.ratio", Scenario: name, Label: "tinit sandbox / bwrap, same batch", Unit: "x", Digits: 2,
				Target: report.Target{Kind: report.AtMostValue, Limit: 1}},
		},
		Need: func(*harness.Harness) error {
			if _, err := exec.LookPath("bwrap"); err != nil {
				return fmt.Errorf("bwrap (Debian package bubblewrap) is missing: %w", err)
			}
			return nil
		},
		Round: sandboxRound,
	}
}

func sandboxRound(h *harness.Harness, inits []harness.InitSpec, round int) {
	var tinit *harness.InitSpec
	for i := range inits {
		if inits[i].IsTinit() {
			tinit = &inits[i]
		}
	}
	bwrap, err := exec.LookPath("bwrap")
	if tinit == nil || err != nil {
		return
	}
	cmds := [][]string{
		{tinit.Path, "sandbox", "--", h.Env.True},
		append(append([]string{bwrap}, bwrapArgs...), h.Env.True),
	}
	times := make([][]float64, len(cmds))
	for rep := 0; rep < h.Cfg.StartupReps && !h.Stopped(); rep++ {
		for k := range cmds {
			i := (k + rep) % len(cmds)
			ms, err := timeRun(h, cmds[i])
			if err != nil {
				h.Res.Fail("sandbox", report.Tinit, round, err)
				return
			}
			times[i] = append(times[i], ms)
		}
	}
	if len(times[0]) == 0 || len(times[1]) == 0 {
		return
	}
	t, b := report.Median(times[0]), report.Median(times[1])
	h.Res.Add(report.Tinit, report.Sample{"sandbox.wall": t, "sandbox.bwrap": b, "sandbox.ratio": t / b})
}
