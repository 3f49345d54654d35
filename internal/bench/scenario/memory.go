package scenario

import (
	"time"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/procfs"
)

// memorySettle is how long the init idles before its memory is read.
const memorySettle = 200 * time.Millisecond

// gomaxprocs are the GOMAXPROCS values idle memory is measured again
// with, in the init's environment: as a test job's settings, or a host of
// many CPUs, would size a Go init.
var gomaxprocs = []string{"1", "8", "64"}

// idleMemory reads VmRSS, VmHWM (the peak since exec, startup included)
// and RssAnon (anonymous memory: the heap, stacks, the runtime's own) of
// the init, PID 1 of a new namespace, while its child blocks: what an idle
// init costs a container for its whole life.
func idleMemory() harness.Scenario {
	const name = "idle-memory"
	rss := report.Target{Kind: report.AtMostValue, Limit: 3}
	anon := report.Target{Kind: report.AtMostValue, Limit: 1}
	metrics := []report.Metric{
		{Key: "rss.vmrss", Scenario: name, Label: "idle VmRSS", Unit: "MiB", Digits: 2, Ratio: true, Target: rss},
		{Key: "rss.vmhwm", Scenario: name, Label: "idle VmHWM (peak RSS)", Unit: "MiB", Digits: 2, Ratio: true},
		{Key: "rss.anon", Scenario: name, Label: "idle anonymous memory (RssAnon)", Unit: "MiB", Digits: 2, Ratio: true, Target: anon},
	}
	for _, n := range gomaxprocs {
		metrics = append(metrics,
			report.Metric{Key: "rss.vmrss_gomaxprocs" + n, Scenario: name, Label: "idle VmRSS, GOMAXPROCS=" + n + " in the environment", Unit: "MiB", Digits: 2, Ratio: true, Target: rss},
			report.Metric{Key: "rss.anon_gomaxprocs" + n, Scenario: name, Label: "idle RssAnon, GOMAXPROCS=" + n, Unit: "MiB", Digits: 2, Ratio: true, Target: anon})
	}
	return harness.Scenario{
		Name: name, PID1: true, SkipBaseline: true, Metrics: metrics,
		Run: func(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
			m, err := idle(h, in)
			if err != nil {
				return nil, err
			}
			out := report.Sample{"rss.vmrss": m["VmRSS"], "rss.vmhwm": m["VmHWM"], "rss.anon": m["RssAnon"]}
			for _, n := range gomaxprocs {
				m, err := idle(h, in, "GOMAXPROCS="+n)
				if err != nil {
					return nil, err
				}
				out["rss.vmrss_gomaxprocs"+n], out["rss.anon_gomaxprocs"+n] = m["VmRSS"], m["RssAnon"]
			}
			return out, nil
		},
	}
}

// idle measures one idle init with extra environment, in MiB.
func idle(h *harness.Harness, in harness.InitSpec, extra ...string) (map[string]float64, error) {
	r, err := readyTarget(h, in, memorySettle, extra...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fs := procfs.New(nil)
	out := map[string]float64{}
	for _, field := range []string{"VmRSS", "VmHWM", "RssAnon"} {
		kib, err := fs.StatusKiB(r.Pid, field)
		if err != nil {
			return nil, err
		}
		out[field] = float64(kib) / 1024
	}
	return out, nil
}
