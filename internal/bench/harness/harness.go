// Package harness runs the benchmark: it starts inits (tinit, its peers
// and a no-init baseline) in plain or PID-1 mode, reads what their
// workloads say, reads an init's CPU clock as a zombie, and runs every
// scenario for every init, round after round, interleaved. What a
// scenario measures is in package scenario; how results are summarized
// and shown is in package report.
package harness

import (
	"fmt"
	"io"
	"time"

	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/workload"
)

// Scenario is one of the benchmark's measurements.
type Scenario struct {
	Name string
	// Metrics are what it measures, in report order.
	Metrics []report.Metric
	// PID1 scenarios start inits in a new pid namespace, which needs root.
	PID1 bool
	// Once: measured in the first round only (the binary size cannot vary).
	Once bool
	// SkipBaseline: the no-init baseline has nothing to show here.
	SkipBaseline bool
	// TinitOnly: a measure of what only tinit does.
	TinitOnly bool
	// Reps, when set, is how many samples per init a round takes: cheap,
	// noisy scenarios repeat, interleaved like the rounds.
	Reps func(c Config) int
	// Need, when set, says why the scenario cannot run on this machine
	// (no podman, say); the run notes it and goes on, and -strict fails.
	Need func(h *Harness) error
	// Run measures one init once.
	Run func(h *Harness, in InitSpec) (report.Sample, error)
	// Round, when set, replaces Run: the scenario interleaves its own
	// repetitions across every init (startup).
	Round func(h *Harness, inits []InitSpec, round int)
}

// Harness is one run of the benchmark.
type Harness struct {
	Cfg      Config
	Env      *Env
	Res      *report.Results
	Progress io.Writer
	// Tmp is a directory for the run's files, removed at its end.
	Tmp string
	// Floor is the bare Go spawner (bench/floor) built for the run, ""
	// if it could not be built.
	Floor string
	// Stop is closed on SIGINT or SIGTERM: the run in progress finishes
	// (and cleans up), the rest is skipped, and what was measured is
	// reported.
	Stop <-chan struct{}
	// atEnd are the clean-ups scenarios registered, last first.
	atEnd []func()
}

// AtEnd registers f to run when the benchmark ends (see End).
func (h *Harness) AtEnd(f func()) { h.atEnd = append(h.atEnd, f) }

// End runs the clean-ups registered with AtEnd, the last first.
func (h *Harness) End() {
	for i := len(h.atEnd) - 1; i >= 0; i-- {
		h.atEnd[i]()
	}
	h.atEnd = nil
}

// Stopped reports whether the run was asked to stop.
func (h *Harness) Stopped() bool {
	select {
	case <-h.Stop:
		return true
	default:
		return false
	}
}

// RunRounds runs every scenario for every init, round after round.
func (h *Harness) RunRounds(scs []Scenario, inits []InitSpec) {
	for round := 0; round < h.Cfg.Rounds; round++ {
		for _, sc := range scs {
			if h.Stopped() {
				h.Res.Note("interrupted in round %d; later runs skipped", round+1)
				return
			}
			if sc.Once && round > 0 {
				continue
			}
			start := time.Now()
			h.runScenario(sc, Rotate(inits, round), round)
			fmt.Fprintf(h.Progress, "round %d/%d  %-20s %6.1fs\n",
				round+1, h.Cfg.Rounds, sc.Name, time.Since(start).Seconds())
		}
	}
}

func (h *Harness) runScenario(sc Scenario, inits []InitSpec, round int) {
	if sc.Round != nil {
		sc.Round(h, inits, round)
		return
	}
	reps := 1
	if sc.Reps != nil {
		reps = sc.Reps(h.Cfg)
	}
	for rep := 0; rep < reps; rep++ {
		for _, in := range Rotate(inits, rep) {
			if (sc.SkipBaseline && in.IsBaseline()) || (sc.TinitOnly && !in.IsTinit()) || h.Stopped() {
				continue
			}
			s, err := sc.Run(h, in)
			if err != nil {
				h.Res.Fail(sc.Name, in.Name, round, err)
				continue
			}
			h.Res.Add(in.Name, s)
		}
	}
}

// KillMarked SIGKILLs whatever carries marker (the leftovers a peer left)
// and notes what would not die.
func (h *Harness) KillMarked(marker string) {
	if left := workload.KillMarked(marker, 5*time.Second); len(left) > 0 {
		h.Res.Note("%d processes marked %s would not die", len(left), marker)
	}
}
