package report

import "strconv"

// TargetKind says how a metric's target is judged on tinit's samples.
type TargetKind int

const (
	NoTarget     TargetKind = iota
	AtMostBest              // median <= Factor x the best peer's median
	AtMostPeer              // median <= the median of Peer (an init, not necessarily a peer) + Limit
	AtMostValue             // median <= Limit
	AtLeastValue            // median >= Limit
	AllAtMost               // every sample (the max) <= Limit
	// WithinNoise: tinit is not measurably slower than Peer, the 95%
	// interval of the difference of medians (a bootstrap of both sets of
	// samples) reaching zero or below.
	WithinNoise
)

// Target is one of the goals for tinit.
type Target struct {
	Kind   TargetKind
	Factor float64
	Peer   string
	Limit  float64
}

// String is the target as the table shows it.
func (t Target) String() string {
	num := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	switch t.Kind {
	case AtMostBest:
		if t.Factor == 1 {
			return "<= best peer"
		}
		return "<= " + num(t.Factor) + "x best peer"
	case AtMostPeer:
		if t.Limit != 0 {
			return "<= " + t.Peer + " + " + num(t.Limit)
		}
		return "<= " + t.Peer
	case AtMostValue:
		return "<= " + num(t.Limit)
	case AtLeastValue:
		return ">= " + num(t.Limit)
	case AllAtMost:
		return "max <= " + num(t.Limit)
	case WithinNoise:
		return "within noise of " + t.Peer
	}
	return ""
}

// Metric is one measured quantity. Every metric here is a cost: lower is
// better, and the best peer is the one with the lowest median.
type Metric struct {
	Key      string
	Scenario string
	Label    string
	Unit     string
	Digits   int  // decimals shown
	Ratio    bool // a ratio to the best peer means something
	Baseline bool // the no-init baseline takes part
	Target   Target
}

// Names every report knows: tinit is judged; the baseline (no init at
// all) and the Go floor (the barest Go program that spawns and waits) are
// shown, but neither is ever the best peer.
const (
	Tinit    = "tinit"
	Baseline = "baseline"
	GoFloor  = "go-floor"
)
