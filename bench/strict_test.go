package main

import (
	"strings"
	"testing"
)

func TestStrictProblems(t *testing.T) {
	good := report{
		Metrics: []metricReport{
			{Scenario: "storm", Inits: []initSamples{{Init: nameTini, Samples: []float64{1}}, {Init: nameTinit, Samples: []float64{2}}}},
		},
		ExitCodes: []exitCodeRow{{Init: nameTinit, Codes: []string{"0", "127"}}},
	}
	tests := []struct {
		name      string
		rep       func(r report) report
		scenarios []string
		want      []string // substrings, one per problem
	}{
		{"all measured", func(r report) report { return r }, []string{"storm", "exitcodes"}, nil},
		{"a run failed", func(r report) report { r.Errors = []string{"round 1, storm, tinit: boom"}; return r }, []string{"storm"}, []string{"boom"}},
		{"tinit missing", func(r report) report { r.Missing = []string{nameTinit}; return r }, nil, []string{"tinit was not measured"}},
		{"no tinit sample", func(r report) report {
			r.Metrics = []metricReport{{Scenario: "storm", Inits: []initSamples{{Init: nameTini, Samples: []float64{1}}}}}
			return r
		}, []string{"storm"}, []string{"storm has no sample"}},
		{"scenario never reported", func(r report) report { return r }, []string{"signal"}, []string{"signal has no sample"}},
		{"exit codes not run for tinit", func(r report) report {
			r.ExitCodes = []exitCodeRow{{Init: nameTinit, Codes: []string{"0", "-"}}}
			return r
		}, []string{"exitcodes"}, []string{"exitcodes has no sample"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strictProblems(tt.rep(good), tt.scenarios)
			if len(got) != len(tt.want) {
				t.Fatalf("strictProblems = %q, want %d problems like %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to mention %q", i, got[i], w)
				}
			}
		})
	}
}
