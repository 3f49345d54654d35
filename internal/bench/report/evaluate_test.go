package report

import (
	"math"
	"strings"
	"testing"
)

var evalOrder = []string{Tinit, nameTini, nameTiniStatic, nameDumbInit, nameCatatonit, Baseline}

// sums builds summaries from medians (and max = median unless given).
func sums(meds map[string]float64) map[string]summary {
	out := map[string]summary{}
	for n, m := range meds {
		out[n] = summary{N: 3, Min: m, Median: m, Max: m}
	}
	return out
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name      string
		target    Target
		noRatio   bool
		meds      map[string]float64
		tinitMax  float64 // overrides tinit's max when non-zero
		wantBest  string
		wantRatio float64 // NaN: no ratio
		want      string
	}{
		{name: "at most best peer, pass on a tie", target: Target{Kind: AtMostBest, Factor: 1},
			meds:     map[string]float64{Tinit: 10, nameTini: 12, nameTiniStatic: 10, Baseline: 1},
			wantBest: nameTiniStatic, wantRatio: 1, want: resultPass},
		{name: "at most best peer, miss", target: Target{Kind: AtMostBest, Factor: 1},
			meds:     map[string]float64{Tinit: 15, nameTini: 12, nameCatatonit: 10},
			wantBest: nameCatatonit, wantRatio: 1.5, want: resultMiss},
		{name: "factor 1.2 lets 1.1x pass", target: Target{Kind: AtMostBest, Factor: 1.2},
			meds:     map[string]float64{Tinit: 11, nameDumbInit: 10},
			wantBest: nameDumbInit, wantRatio: 1.1, want: resultPass},
		{name: "baseline is never the best peer", target: Target{Kind: AtMostBest, Factor: 1},
			meds:     map[string]float64{Tinit: 5, nameTini: 6, Baseline: 0.1},
			wantBest: nameTini, wantRatio: 5.0 / 6, want: resultPass},
		{name: "no peer measured", target: Target{Kind: AtMostBest, Factor: 1},
			meds:      map[string]float64{Tinit: 5, Baseline: 1},
			wantRatio: math.NaN(), want: resultNA},
		{name: "named peer, not the best", target: Target{Kind: AtMostPeer, Peer: nameTiniStatic},
			meds:     map[string]float64{Tinit: 0.7, nameTiniStatic: 0.6, nameCatatonit: 0.5},
			wantBest: nameCatatonit, wantRatio: 1.4, want: resultMiss},
		{name: "within a margin of the Go floor, which is never the best peer", target: Target{Kind: AtMostPeer, Peer: GoFloor, Limit: 0.2},
			meds:     map[string]float64{Tinit: 1.1, GoFloor: 0.95, nameTini: 0.8},
			wantBest: nameTini, wantRatio: 1.1 / 0.8, want: resultPass},
		{name: "named peer missing", target: Target{Kind: AtMostPeer, Peer: nameTiniStatic},
			meds:     map[string]float64{Tinit: 0.7, nameTini: 0.6},
			wantBest: nameTini, wantRatio: 0.7 / 0.6, want: resultNA},
		{name: "absolute limit", target: Target{Kind: AtMostValue, Limit: 3},
			meds:     map[string]float64{Tinit: 3, nameTini: 1},
			wantBest: nameTini, wantRatio: 3, want: resultPass},
		{name: "at least", target: Target{Kind: AtLeastValue, Limit: 1}, noRatio: true,
			meds:     map[string]float64{Tinit: 0, nameTini: 1},
			wantBest: nameTini, wantRatio: math.NaN(), want: resultMiss},
		{name: "every sample must be zero", target: Target{Kind: AllAtMost, Limit: 0}, noRatio: true,
			meds: map[string]float64{Tinit: 0, nameTini: 50}, tinitMax: 1,
			wantBest: nameTini, wantRatio: math.NaN(), want: resultMiss},
		{name: "zero best peer and zero tinit read as ratio 1", target: Target{},
			meds:     map[string]float64{Tinit: 0, nameTini: 0},
			wantBest: nameTini, wantRatio: 1, want: ""},
		{name: "zero best peer, nonzero tinit: no ratio", target: Target{},
			meds:     map[string]float64{Tinit: 2, nameTini: 0},
			wantBest: nameTini, wantRatio: math.NaN(), want: ""},
		{name: "tinit not measured", target: Target{Kind: AtMostValue, Limit: 3},
			meds:     map[string]float64{nameTini: 1},
			wantBest: nameTini, wantRatio: math.NaN(), want: resultNA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sums(tt.meds)
			if tt.tinitMax != 0 {
				ts := s[Tinit]
				ts.Max = tt.tinitMax
				s[Tinit] = ts
			}
			m := Metric{Key: "k", Ratio: !tt.noRatio, Target: tt.target}
			ev := evaluate(m, evalOrder, s, nil)
			if ev.BestPeer != tt.wantBest {
				t.Errorf("best peer = %q, want %q", ev.BestPeer, tt.wantBest)
			}
			switch {
			case math.IsNaN(tt.wantRatio) && ev.Ratio != nil:
				t.Errorf("ratio = %v, want none", *ev.Ratio)
			case !math.IsNaN(tt.wantRatio) && ev.Ratio == nil:
				t.Errorf("no ratio, want %v", tt.wantRatio)
			case ev.Ratio != nil && math.Abs(*ev.Ratio-tt.wantRatio) > 1e-9:
				t.Errorf("ratio = %v, want %v", *ev.Ratio, tt.wantRatio)
			}
			if ev.Result != tt.want {
				t.Errorf("result = %q, want %q", ev.Result, tt.want)
			}
		})
	}
}

func TestTargetString(t *testing.T) {
	tests := []struct {
		name string
		t    Target
		want string
	}{
		{name: "none", t: Target{}, want: ""},
		{name: "best peer", t: Target{Kind: AtMostBest, Factor: 1}, want: "<= best peer"},
		{name: "factor", t: Target{Kind: AtMostBest, Factor: 1.2}, want: "<= 1.2x best peer"},
		{name: "named peer", t: Target{Kind: AtMostPeer, Peer: nameTiniStatic}, want: "<= tini-static"},
		{name: "named init with a margin", t: Target{Kind: AtMostPeer, Peer: GoFloor, Limit: 0.2}, want: "<= go-floor + 0.2"},
		{name: "limit", t: Target{Kind: AtMostValue, Limit: 550}, want: "<= 550"},
		{name: "every sample", t: Target{Kind: AllAtMost, Limit: 0}, want: "max <= 0"},
		{name: "within noise", t: Target{Kind: WithinNoise, Peer: nameCatatonit}, want: "within noise of catatonit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.t.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWithinNoise: a difference lost in the spread passes, one that
// stands out of it misses even when it is small, and the verdict and its
// interval are the same on every run of the same samples.
func TestWithinNoise(t *testing.T) {
	spread := func(center, width float64, n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = center + width*(float64((i*7)%n)/float64(n-1)-0.5)
		}
		return xs
	}
	tg := Target{Kind: WithinNoise, Peer: nameCatatonit}
	m := Metric{Key: "k", Ratio: true, Target: tg}
	tests := []struct {
		name        string
		tinit, peer []float64
		want        string
	}{
		// 4% slower in the median, samples spread over +-25%.
		{"lost in the spread", spread(152, 70, 30), spread(146, 70, 30), resultPass},
		{"faster", spread(140, 70, 30), spread(146, 70, 30), resultPass},
		// 3% slower with a spread of +-0.5%.
		{"small but clear", spread(103, 1, 30), spread(100, 1, 30), resultMiss},
		{"peer not measured", spread(100, 1, 30), nil, resultNA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			byInit := map[string][]float64{Tinit: tt.tinit, nameCatatonit: tt.peer}
			s := map[string]summary{Tinit: summarize(tt.tinit)}
			if tt.peer != nil {
				s[nameCatatonit] = summarize(tt.peer)
			}
			ev := evaluate(m, evalOrder, s, byInit)
			if ev.Result != tt.want {
				t.Errorf("result %q (%s), want %q", ev.Result, ev.Target, tt.want)
			}
			if again := evaluate(m, evalOrder, s, byInit); again.Target != ev.Target {
				t.Errorf("two evaluations differ: %q, %q", ev.Target, again.Target)
			}
			if tt.want != resultNA && !strings.Contains(ev.Target, "95%") {
				t.Errorf("target %q does not show the interval", ev.Target)
			}
		})
	}
}
