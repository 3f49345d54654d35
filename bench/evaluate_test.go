package main

import (
	"math"
	"testing"
)

var evalOrder = []string{nameTinit, nameTini, nameTiniStatic, nameDumbInit, nameCatatonit, nameBaseline}

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
		target    target
		noRatio   bool
		meds      map[string]float64
		tinitMax  float64 // overrides tinit's max when non-zero
		wantBest  string
		wantRatio float64 // NaN: no ratio
		want      string
	}{
		{name: "at most best peer, pass on a tie", target: target{Kind: atMostBest, Factor: 1},
			meds:     map[string]float64{nameTinit: 10, nameTini: 12, nameTiniStatic: 10, nameBaseline: 1},
			wantBest: nameTiniStatic, wantRatio: 1, want: resultPass},
		{name: "at most best peer, miss", target: target{Kind: atMostBest, Factor: 1},
			meds:     map[string]float64{nameTinit: 15, nameTini: 12, nameCatatonit: 10},
			wantBest: nameCatatonit, wantRatio: 1.5, want: resultMiss},
		{name: "factor 1.2 lets 1.1x pass", target: target{Kind: atMostBest, Factor: 1.2},
			meds:     map[string]float64{nameTinit: 11, nameDumbInit: 10},
			wantBest: nameDumbInit, wantRatio: 1.1, want: resultPass},
		{name: "baseline is never the best peer", target: target{Kind: atMostBest, Factor: 1},
			meds:     map[string]float64{nameTinit: 5, nameTini: 6, nameBaseline: 0.1},
			wantBest: nameTini, wantRatio: 5.0 / 6, want: resultPass},
		{name: "no peer measured", target: target{Kind: atMostBest, Factor: 1},
			meds:      map[string]float64{nameTinit: 5, nameBaseline: 1},
			wantRatio: math.NaN(), want: resultNA},
		{name: "named peer, not the best", target: target{Kind: atMostPeer, Peer: nameTiniStatic},
			meds:     map[string]float64{nameTinit: 0.7, nameTiniStatic: 0.6, nameCatatonit: 0.5},
			wantBest: nameCatatonit, wantRatio: 1.4, want: resultMiss},
		{name: "named peer missing", target: target{Kind: atMostPeer, Peer: nameTiniStatic},
			meds:     map[string]float64{nameTinit: 0.7, nameTini: 0.6},
			wantBest: nameTini, wantRatio: 0.7 / 0.6, want: resultNA},
		{name: "absolute limit", target: target{Kind: atMostValue, Limit: 3},
			meds:     map[string]float64{nameTinit: 3, nameTini: 1},
			wantBest: nameTini, wantRatio: 3, want: resultPass},
		{name: "at least", target: target{Kind: atLeastValue, Limit: 1}, noRatio: true,
			meds:     map[string]float64{nameTinit: 0, nameTini: 1},
			wantBest: nameTini, wantRatio: math.NaN(), want: resultMiss},
		{name: "every sample must be zero", target: target{Kind: allAtMost, Limit: 0}, noRatio: true,
			meds: map[string]float64{nameTinit: 0, nameTini: 50}, tinitMax: 1,
			wantBest: nameTini, wantRatio: math.NaN(), want: resultMiss},
		{name: "zero best peer and zero tinit read as ratio 1", target: target{},
			meds:     map[string]float64{nameTinit: 0, nameTini: 0},
			wantBest: nameTini, wantRatio: 1, want: ""},
		{name: "zero best peer, nonzero tinit: no ratio", target: target{},
			meds:     map[string]float64{nameTinit: 2, nameTini: 0},
			wantBest: nameTini, wantRatio: math.NaN(), want: ""},
		{name: "tinit not measured", target: target{Kind: atMostValue, Limit: 3},
			meds:     map[string]float64{nameTini: 1},
			wantBest: nameTini, wantRatio: math.NaN(), want: resultNA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sums(tt.meds)
			if tt.tinitMax != 0 {
				ts := s[nameTinit]
				ts.Max = tt.tinitMax
				s[nameTinit] = ts
			}
			m := metric{Key: "k", Ratio: !tt.noRatio, Target: tt.target}
			ev := evaluate(m, evalOrder, s)
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
		t    target
		want string
	}{
		{name: "none", t: target{}, want: ""},
		{name: "best peer", t: target{Kind: atMostBest, Factor: 1}, want: "<= best peer"},
		{name: "factor", t: target{Kind: atMostBest, Factor: 1.2}, want: "<= 1.2x best peer"},
		{name: "named peer", t: target{Kind: atMostPeer, Peer: nameTiniStatic}, want: "<= tini-static"},
		{name: "limit", t: target{Kind: atMostValue, Limit: 550}, want: "<= 550"},
		{name: "every sample", t: target{Kind: allAtMost, Limit: 0}, want: "max <= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.t.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
