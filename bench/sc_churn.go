package main

import (
	"strconv"
	"time"
)

// churn runs the pipe churn under the init as PID 1. The per-child figure
// is the init's CPU between the workload's first and last child, read from
// the init's CPU clock by the workload, so the init's own startup and exit
// (a Go runtime's start costs far more than a C init's) do not drown what
// happens per child. The whole-run total, read as a zombie, is reported
// beside it.
func (h *harness) churn(in initSpec) (sample, error) {
	k := h.cfg.ChurnChildren
	var res churnResult
	timeout := 30*time.Second + time.Duration(k)*20*time.Millisecond
	cpu, err := h.collect(in, h.env.workload(wlChurn, strconv.Itoa(k)), timeout, &res)
	if err != nil {
		return nil, err
	}
	s := sample{"churn.wall_per_child": float64(res.WallNs) / 1e6 / float64(k)}
	if res.HasInit {
		s["churn.cpu_per_child"] = float64(res.InitCPUNs) / 1e3 / float64(k)
		s["churn.init_cpu_total"] = float64(cpu.Nanoseconds()) / 1e6
	}
	return s, nil
}
