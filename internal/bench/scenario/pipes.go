package scenario

import (
	"strconv"
	"time"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/workload"
)

// pipeChurn runs the pipes workload under the init as PID 1: children one
// after another, each with a pipe as stdout, the way a test runner
// captures output. The per-child figure is the init's CPU between the
// workload's first and last child, read from the init's CPU clock by the
// workload, so the init's own startup and exit do not drown what happens
// per child; the whole-run total, read as a zombie, is beside it.
func pipeChurn() harness.Scenario {
	const name = "pipe-churn"
	return harness.Scenario{
		Name: name, PID1: true,
		Metrics: []report.Metric{
			{Key: "churn.cpu_per_child", Scenario: name, Label: "init CPU per piped child", Unit: "µs", Digits: 3, Ratio: true},
			{Key: "churn.init_cpu_total", Scenario: name, Label: "init CPU, whole run", Unit: "ms", Digits: 2, Ratio: true},
			{Key: "churn.wall_per_child", Scenario: name, Label: "wall per piped child", Unit: "ms", Digits: 3, Ratio: true, Baseline: true},
		},
		Run: func(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
			k := h.Cfg.PipeChildren
			var res workload.PipesResult
			timeout := 30*time.Second + time.Duration(k)*20*time.Millisecond
			cpu, err := collect(h, in, workload.Command("pipes", strconv.Itoa(k)), timeout, &res)
			if err != nil {
				return nil, err
			}
			s := report.Sample{"churn.wall_per_child": float64(res.WallNs) / 1e6 / float64(k)}
			if res.HasInit {
				s["churn.cpu_per_child"] = float64(res.InitCPUNs) / 1e3 / float64(k)
				s["churn.init_cpu_total"] = ms(cpu)
			}
			return s, nil
		},
	}
}
