package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// exitTimeout bounds the wait for an init to exit once its workload is
// done and nothing is left for it to wait for.
const exitTimeout = 10 * time.Second

// collect runs cmd under in as PID 1 of a new namespace, decodes the
// workload's result line into v, and returns the init's own CPU time, read
// from its clock as a zombie, once it has exited 0.
func (h *harness) collect(in initSpec, cmd []string, timeout time.Duration, v any) (time.Duration, error) {
	r, err := h.env.launch(in.argv(pid1, 0, cmd), pid1)
	if err != nil {
		return 0, err
	}
	defer r.close()
	payload, err := r.expect("result", timeout)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal([]byte(payload), v); err != nil {
		return 0, fmt.Errorf("decode result %q: %w", payload, err)
	}
	cpu, err := r.finish(exitTimeout)
	if err != nil {
		return 0, err
	}
	if code := exitCode(r.status); code != 0 {
		return 0, fmt.Errorf("exit code %d%s", code, r.stderrTail())
	}
	return cpu, nil
}

// storm runs the orphan storm with the init as PID 1. The init's CPU time
// is its total over the run (startup and exit included, a few ms at most
// against hundreds for the storm), divided by the number of orphans.
func (h *harness) storm(in initSpec) (sample, error) {
	n := h.cfg.Orphans
	var res stormResult
	timeout := 30*time.Second + time.Duration(n)*time.Millisecond
	cpu, err := h.collect(in, h.env.workload(wlStorm, strconv.Itoa(n)), timeout, &res)
	if err != nil {
		return nil, err
	}
	if !res.Drained {
		return nil, errors.New("orphans still unreaped 10s after the storm")
	}
	if res.ForkRetries > 0 {
		h.res.note("storm: %s ran out of pids or tasks %d times (fork retried)", in.Name, res.ForkRetries)
	}
	s := sample{
		"storm.wall":         float64(res.WallNs) / 1e9,
		"storm.zombies_peak": float64(res.PeakZombies),
		"storm.zombies_mean": res.MeanZombies,
		"storm.reap_lag":     reapLagMicros(res.MeanZombies, res.SpawnNs, res.Orphans),
	}
	if !in.isBaseline() {
		s["storm.cpu_per_orphan"] = float64(cpu.Nanoseconds()) / 1e3 / float64(n)
	}
	return s, nil
}

// reapLagMicros applies Little's law, L = λW, to the storm: with L the
// mean number of zombies waiting and λ the orphan rate, the mean time an
// orphan waits as a zombie is W = L / λ.
func reapLagMicros(meanZombies float64, spawnNs int64, orphans int) float64 {
	if orphans == 0 {
		return 0
	}
	rate := float64(orphans) / (float64(spawnNs) / 1e9) // orphans per second
	return meanZombies / rate * 1e6
}
