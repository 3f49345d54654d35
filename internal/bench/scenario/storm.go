package scenario

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/workload"
)

// orphanStorm runs the storm workload under the init as PID 1: N orphans,
// one at a time, each reparented to the init, which must reap it. The
// init's CPU time is its total over the run (startup and exit included, a
// few ms at most against hundreds for the storm), divided by N. As the
// baseline the storm is PID 1 itself and reaps the orphans in line.
func orphanStorm() harness.Scenario {
	const name = "orphan-storm"
	best := report.Target{Kind: report.AtMostBest, Factor: 1}
	return harness.Scenario{
		Name: name, PID1: true,
		Metrics: []report.Metric{
			{Key: "storm.cpu_per_orphan", Scenario: name, Label: "init CPU per orphan", Unit: "µs", Digits: 2, Ratio: true, Target: best},
			{Key: "storm.wall", Scenario: name, Label: "storm wall time", Unit: "s", Digits: 2, Ratio: true, Baseline: true},
			{Key: "storm.zombies_peak", Scenario: name, Label: "zombies awaiting init, peak", Unit: "count", Digits: 1, Ratio: true, Baseline: true, Target: best},
			{Key: "storm.zombies_mean", Scenario: name, Label: "zombies awaiting init, mean", Unit: "count", Digits: 2, Ratio: true, Baseline: true, Target: best},
			{Key: "storm.reap_lag", Scenario: name, Label: "reap lag (Little's law)", Unit: "µs", Digits: 1, Ratio: true, Baseline: true, Target: best},
		},
		Run: storm,
	}
}

func storm(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
	n := h.Cfg.Orphans
	var res workload.StormResult
	timeout := 30*time.Second + time.Duration(n)*time.Millisecond
	cpu, err := collect(h, in, workload.Command("storm", strconv.Itoa(n)), timeout, &res)
	if err != nil {
		return nil, err
	}
	if !res.Drained {
		return nil, errors.New("orphans still unreaped 10s after the storm")
	}
	if res.ForkRetries > 0 {
		h.Res.Note("storm: %s ran out of pids or tasks %d times (fork retried)", in.Name, res.ForkRetries)
	}
	s := report.Sample{
		"storm.wall":         float64(res.WallNs) / 1e9,
		"storm.zombies_peak": float64(res.PeakZombies),
		"storm.zombies_mean": res.MeanZombies,
		"storm.reap_lag":     reapLagMicros(res.MeanZombies, res.SpawnNs, res.Orphans),
	}
	if !in.IsBaseline() {
		s["storm.cpu_per_orphan"] = float64(cpu.Nanoseconds()) / 1e3 / float64(n)
	}
	return s, nil
}

// collect runs cmd under in as PID 1 of a new namespace, decodes the
// workload's "result" line into v, and returns the init's own CPU time,
// read from its clock as a zombie, once it has exited 0.
func collect(h *harness.Harness, in harness.InitSpec, cmd []string, timeout time.Duration, v any) (time.Duration, error) {
	r, err := h.Env.Launch(in.Argv(harness.PID1, 0, cmd), harness.PID1)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	payload, err := r.Expect("result", timeout)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal([]byte(payload), v); err != nil {
		return 0, fmt.Errorf("decode result %q: %w", payload, err)
	}
	cpu, err := r.Finish(exitTimeout)
	if err != nil {
		return 0, err
	}
	if code := r.ExitCode(); code != 0 {
		return 0, fmt.Errorf("exit code %d%s", code, r.StderrTail())
	}
	return cpu, nil
}

// reapLagMicros applies Little's law, L = λW, to the storm: with L the
// mean number of zombies waiting and λ the orphan rate, the mean time an
// orphan waits as a zombie is W = L / λ.
func reapLagMicros(meanZombies float64, spawnNs int64, orphans int) float64 {
	if orphans == 0 || spawnNs == 0 {
		return 0
	}
	rate := float64(orphans) / (float64(spawnNs) / 1e9) // orphans per second
	return meanZombies / rate * 1e6
}
