package main

import (
	"fmt"
	"io"
	"time"
)

// scenario is one of the benchmark's measurements.
type scenario struct {
	name string
	// pid1 scenarios start inits in a new pid namespace, which needs root.
	pid1 bool
	// once: measured in the first round only (the binary size cannot vary).
	once bool
	// skipBaseline: the no-init baseline has nothing to show here.
	skipBaseline bool
	// tinitOnly: a measure of what only tinit does.
	tinitOnly bool
	// reps, when set, is how many samples per init a round takes: cheap,
	// noisy scenarios repeat, interleaved like the rounds.
	reps func(c config) int
	// run measures one init once.
	run func(h *harness, in initSpec) (sample, error)
	// round, when set, replaces run: the scenario interleaves its own
	// repetitions across every init (startup).
	round func(h *harness, inits []initSpec, round int)
}

// scenarioNames lists the scenarios in the order they run; -only takes
// these names.
var scenarioNames = []string{"size", "startup", "storm", "subreaper", "pid1", "signal", "exitcodes", "rss", "churn", "diagnosis", "sandbox"}

func allScenarios() []scenario {
	return []scenario{
		{name: "size", once: true, skipBaseline: true, run: (*harness).size},
		{name: "startup", round: (*harness).startupRound},
		{name: "storm", pid1: true, run: (*harness).storm},
		{name: "subreaper", run: (*harness).subreaperSleepers},
		{name: "pid1", pid1: true, run: (*harness).pid1Sleepers},
		{name: "signal", pid1: true, run: (*harness).signal, reps: func(c config) int { return c.SignalReps }},
		{name: "exitcodes", run: (*harness).exitCodes},
		{name: "rss", pid1: true, skipBaseline: true, run: (*harness).rss},
		{name: "churn", pid1: true, run: (*harness).churn},
		{name: "diagnosis", tinitOnly: true, once: true, run: (*harness).diagnosis},
		{name: "sandbox", tinitOnly: true, round: (*harness).sandboxRound},
	}
}

// harness is one run of the benchmark.
type harness struct {
	cfg      config
	env      *env
	res      *results
	progress io.Writer
	notExec  string // a file without execute permission, for exit codes
	// stop is closed on SIGINT or SIGTERM: the run in progress finishes
	// (and cleans up), the rest is skipped, and what was measured is
	// reported.
	stop <-chan struct{}
}

func (h *harness) stopped() bool {
	select {
	case <-h.stop:
		return true
	default:
		return false
	}
}

// rotate returns inits starting at position k: over as many rounds as
// there are inits, each one runs in every position once, so a slow phase
// of the machine does not always hit the same init.
func rotate(inits []initSpec, k int) []initSpec {
	if len(inits) == 0 {
		return nil
	}
	k %= len(inits)
	return append(append([]initSpec{}, inits[k:]...), inits[:k]...)
}

// runRounds runs every scenario for every init, round after round.
func (h *harness) runRounds(scs []scenario, inits []initSpec) {
	for round := 0; round < h.cfg.Rounds; round++ {
		for _, sc := range scs {
			if h.stopped() {
				h.res.note("interrupted in round %d; later runs skipped", round+1)
				return
			}
			if sc.once && round > 0 {
				continue
			}
			start := time.Now()
			h.runScenario(sc, rotate(inits, round), round)
			fmt.Fprintf(h.progress, "round %d/%d  %-9s %6.1fs\n",
				round+1, h.cfg.Rounds, sc.name, time.Since(start).Seconds())
		}
	}
}

func (h *harness) runScenario(sc scenario, inits []initSpec, round int) {
	if sc.round != nil {
		sc.round(h, inits, round)
		return
	}
	reps := 1
	if sc.reps != nil {
		reps = sc.reps(h.cfg)
	}
	for rep := 0; rep < reps; rep++ {
		for _, in := range rotate(inits, rep) {
			if (sc.skipBaseline && in.isBaseline()) || (sc.tinitOnly && in.Name != nameTinit) || h.stopped() {
				continue
			}
			s, err := sc.run(h, in)
			if err != nil {
				h.res.fail(sc.name, in.Name, round, err)
				continue
			}
			h.res.add(in.Name, s)
		}
	}
}
