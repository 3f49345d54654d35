package report

import "strconv"

// Verdicts of a target.
const (
	resultPass = "PASS"
	resultMiss = "MISS"
	resultNA   = "n/a" // tinit or the peer it is compared with has no samples
)

// evaluation is a metric's verdict for tinit.
type evaluation struct {
	BestPeer string   `json:"best_peer,omitempty"`
	Ratio    *float64 `json:"ratio,omitempty"` // tinit median / best peer median
	Target   string   `json:"target,omitempty"`
	Result   string   `json:"result,omitempty"` // empty when the metric has no target
}

// isPeerName reports whether name is a peer init: not tinit, the
// baseline or the Go floor.
func isPeerName(name string) bool { return name != Tinit && name != Baseline && name != GoFloor }

// bestPeer returns the peer with the lowest median among those with
// samples, the first in order on a tie; ok is false if there is none.
func bestPeer(order []string, sums map[string]summary) (name string, ok bool) {
	for _, n := range order {
		s := sums[n]
		if !isPeerName(n) || s.N == 0 {
			continue
		}
		if !ok || s.Median < sums[name].Median {
			name, ok = n, true
		}
	}
	return name, ok
}

// ratio is a/b for medians, with 0/0 read as 1 (both free) and x/0 as
// undefined.
func ratio(a, b float64) (float64, bool) {
	switch {
	case b > 0:
		return a / b, true
	case a == 0 && b == 0:
		return 1, true
	}
	return 0, false
}

// evaluate compares tinit with its peers on one metric. order lists the
// inits in report order; sums holds every init's summary.
func evaluate(m Metric, order []string, sums map[string]summary, byInit map[string][]float64) evaluation {
	ev := evaluation{Target: m.Target.String()}
	best, haveBest := bestPeer(order, sums)
	t := sums[Tinit]
	if haveBest {
		ev.BestPeer = best
		if r, ok := ratio(t.Median, sums[best].Median); ok && m.Ratio && t.N > 0 {
			ev.Ratio = &r
		}
	}
	switch {
	case m.Target.Kind == WithinNoise:
		ev.Result = judgeNoise(m.Target, byInit, &ev)
	case m.Target.Kind != NoTarget:
		ev.Result = judge(m.Target, t, sums, best, haveBest)
	}
	return ev
}

// judgeNoise applies a WithinNoise target, and puts the interval in the
// target's text: "within noise of catatonit (difference 5.9, 95% -2.9 to
// 14.6)".
func judgeNoise(tg Target, byInit map[string][]float64, ev *evaluation) string {
	a, b := byInit[Tinit], byInit[tg.Peer]
	if len(a) == 0 || len(b) == 0 {
		return resultNA
	}
	d, lo, hi := medianDifference(a, b)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	ev.Target += " (difference " + f(d) + ", 95% " + f(lo) + " to " + f(hi) + ")"
	if lo <= 0 {
		return resultPass
	}
	return resultMiss
}

// judge applies a target to tinit's summary t.
func judge(tg Target, t summary, sums map[string]summary, best string, haveBest bool) string {
	if t.N == 0 {
		return resultNA
	}
	var pass bool
	switch tg.Kind {
	case AtMostBest:
		if !haveBest {
			return resultNA
		}
		pass = t.Median <= tg.Factor*sums[best].Median
	case AtMostPeer:
		p := sums[tg.Peer]
		if p.N == 0 {
			return resultNA
		}
		pass = t.Median <= p.Median+tg.Limit
	case AtMostValue:
		pass = t.Median <= tg.Limit
	case AtLeastValue:
		pass = t.Median >= tg.Limit
	case AllAtMost:
		pass = t.Max <= tg.Limit
	}
	if pass {
		return resultPass
	}
	return resultMiss
}
