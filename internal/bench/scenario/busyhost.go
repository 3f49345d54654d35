package scenario

import (
	"fmt"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/workload"
)

// walkRuns is how many runs of tinit each condition of the busy-host
// scenario takes per round; the sample is their median.
const walkRuns = 5

// busyHostWalk times tinit as a subreaper without a cgroup (--no-cgroup:
// the /proc walk is its only way to find leftovers) from its main child's
// exit to its own, with one daemon left behind and --grace 0 (so the time
// is the walk's passes: stop, SIGTERM, SIGKILL, reap), first on the
// machine as it is and then with Crowd (10,000) idle, unrelated processes
// added: every full pass of the walk asks the parent of every process of
// the machine. tinit alone: no peer walks /proc.
func busyHostWalk() harness.Scenario {
	const name = "busy-host-walk"
	return harness.Scenario{
		Name: name, TinitOnly: true,
		Metrics: []report.Metric{
			{Key: "walk.quiet_exit", Scenario: name, Label: "main exit -> tinit exit, --no-cgroup --grace 0, one leftover, quiet host", Unit: "ms", Digits: 2},
			{Key: "walk.busy_exit", Scenario: name, Label: "the same with the crowd (10,000; quick 1,000) on the host", Unit: "ms", Digits: 2},
			{Key: "walk.busy_pass", Scenario: name, Label: "one pass over /proc of the busy host, as the walk reads it (procfs.Parents)", Unit: "ms", Digits: 2,
				Target: report.Target{Kind: report.AtMostValue, Limit: 50}},
			{Key: "walk.quiet_cpu", Scenario: name, Label: "tinit CPU, whole run, quiet host", Unit: "ms", Digits: 2},
			{Key: "walk.busy_cpu", Scenario: name, Label: "tinit CPU, whole run, busy host", Unit: "ms", Digits: 2},
		},
		Run: walk,
	}
}

func walk(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
	quietExit, quietCPU, err := timeWalks(h, in)
	if err != nil {
		return nil, err
	}
	marker := workload.NewMarker()
	defer h.KillMarked(marker)
	crowd, err := h.Env.Launch(workload.Command("crowd", marker, strconv.Itoa(h.Cfg.Crowd)), harness.Plain)
	if err != nil {
		return nil, err
	}
	defer crowd.Close()
	if _, err := crowd.Expect("ready", 60*time.Second); err != nil {
		return nil, fmt.Errorf("crowd of %d: %w", h.Cfg.Crowd, err)
	}
	busyExit, busyCPU, err := timeWalks(h, in)
	if err != nil {
		return nil, err
	}
	return report.Sample{"walk.quiet_exit": quietExit, "walk.quiet_cpu": quietCPU,
		"walk.busy_exit": busyExit, "walk.busy_cpu": busyCPU, "walk.busy_pass": scanPass()}, nil
}

// scanPass times one scan of all of /proc the way each full pass of the
// walk reads it (every process's parent, through procfs.Parents: a pidfd's
// answer where the kernel gives one, else the stat file), in ms: the median
// of walkRuns, the descriptors kept in a registry as tinit keeps them.
func scanPass() float64 {
	fs := procfs.New(fdtrack.New(zerolog.Nop())) // the walk's descriptors go through the registry

	var times []float64
	for range walkRuns {
		t0 := workload.MonoNow()
		fs.Parents(func(int, int) {})
		times = append(times, nsSpan(t0, workload.MonoNow()))
	}
	return report.Median(times)
}

// timeWalks runs tinit --no-cgroup --grace 0 over a workload that leaves
// one daemon, walkRuns times, and returns the median exit time and CPU,
// in ms.
func timeWalks(h *harness.Harness, in harness.InitSpec) (exit, cpu float64, err error) {
	var exits, cpus []float64
	for i := 0; i < walkRuns; i++ {
		marker := workload.NewMarker()
		argv := append([]string{in.Path, "--no-cgroup", "--grace", "0", "--"}, workload.Command("daemons", "1", marker)...)
		r, err := h.Env.Launch(argv, harness.Plain)
		if err != nil {
			return 0, 0, err
		}
		exitAt, err := r.ExpectNs("exit", readyTimeout)
		if err == nil {
			var c time.Duration
			if c, err = r.Finish(exitTimeout); err == nil {
				exits, cpus = append(exits, nsSpan(exitAt, r.ExitNs())), append(cpus, ms(c))
			}
		}
		r.Close()
		if left := workload.Marked(marker); err == nil && len(left) > 0 {
			err = fmt.Errorf("tinit left %d processes behind", len(left))
		}
		h.KillMarked(marker)
		if err != nil {
			return 0, 0, err
		}
	}
	return report.Median(exits), report.Median(cpus), nil
}
