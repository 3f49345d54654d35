package scenario

import (
	"fmt"
	"syscall"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/workload"
	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// floorMargin is how far above the Go floor tinit's startup overhead may
// be, in ms.
const floorMargin = 0.2

// startup times `INIT -- true` (plain mode) StartupReps times per init,
// interleaving the inits within the batch too, and `floor true`, the
// barest Go spawner (bench/floor), beside them. The round's sample per
// init is the batch median; the overhead is that minus the baseline's
// median (true run directly) from the same batch, so both see the same
// state of the machine.
func startup() harness.Scenario {
	const name = "startup"
	return harness.Scenario{
		Name: name,
		Metrics: []report.Metric{
			{Key: "startup.wall", Scenario: name, Label: "INIT -- true, wall", Unit: "ms", Digits: 3, Ratio: true, Baseline: true},
			{Key: "startup.overhead", Scenario: name, Label: "startup overhead vs baseline", Unit: "ms", Digits: 3, Ratio: true,
				Target: report.Target{Kind: report.AtMostPeer, Peer: report.GoFloor, Limit: floorMargin}},
		},
		Round: startupRound,
	}
}

func startupRound(h *harness.Harness, inits []harness.InitSpec, round int) {
	type spawner struct {
		name string
		argv []string
	}
	var all []spawner
	for _, in := range inits {
		all = append(all, spawner{in.Name, in.Argv(harness.Plain, 0, []string{h.Env.True})})
	}
	if h.Floor != "" {
		all = append(all, spawner{report.GoFloor, []string{h.Floor, h.Env.True}})
	}
	times := map[string][]float64{}
	for rep := 0; rep < h.Cfg.StartupReps && !h.Stopped(); rep++ {
		for i := range all {
			sp := all[(i+rep)%len(all)]
			ms, err := timeRun(h, sp.argv)
			if err != nil {
				h.Res.Fail("startup", sp.name, round, err)
				continue
			}
			times[sp.name] = append(times[sp.name], ms)
		}
	}
	base, haveBase := times[report.Baseline]
	for _, sp := range all {
		if len(times[sp.name]) == 0 {
			continue
		}
		s := report.Sample{"startup.wall": report.Median(times[sp.name])}
		if haveBase && sp.name != report.Baseline {
			s["startup.overhead"] = s["startup.wall"] - report.Median(base)
		}
		h.Res.Add(sp.name, s)
	}
}

// timeRun runs argv to completion and returns the wall time from just
// before fork to just after wait4 returns, in ms.
func timeRun(h *harness.Harness, argv []string) (float64, error) {
	dn := h.Env.DevNull()
	attr := &syscall.ProcAttr{Files: []uintptr{dn, dn, dn}, Env: h.Env.Environ(),
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}}
	t0 := workload.MonoNow()
	pid, err := syscall.ForkExec(argv[0], argv, attr)
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	var ws unix.WaitStatus
	for {
		_, err = unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	t1 := workload.MonoNow()
	if err != nil {
		return 0, fmt.Errorf("wait4 %d: %w", pid, err)
	}
	if code, _ := signals.ExitCode(ws); code != 0 {
		return 0, fmt.Errorf("%v exited %d", argv, code)
	}
	return nsSpan(t0, t1), nil
}
