package harness

import (
	"strings"
	"testing"

	"github.com/tinit-dev/tinit/internal/bench/report"
)

func TestStrictProblems(t *testing.T) {
	good := report.Report{
		Metrics: []report.MetricReport{
			{Scenario: "storm", Inits: []report.InitSamples{{Init: NameTini, Samples: []float64{1}}, {Init: report.Tinit, Samples: []float64{2}}}},
		},
		ExitCodes: []report.ExitCodeRow{{Init: report.Tinit, Codes: []string{"0", "127"}}},
	}
	tests := []struct {
		name      string
		rep       func(r report.Report) report.Report
		scenarios []string
		want      []string // substrings, one per problem
	}{
		{"all measured", func(r report.Report) report.Report { return r }, []string{"storm", "exit-codes"}, nil},
		{"a run failed", func(r report.Report) report.Report { r.Errors = []string{"round 1, storm, tinit: boom"}; return r }, []string{"storm"}, []string{"boom"}},
		{"tinit missing", func(r report.Report) report.Report { r.Missing = []string{report.Tinit}; return r }, nil, []string{"tinit was not measured"}},
		{"no tinit sample", func(r report.Report) report.Report {
			r.Metrics = []report.MetricReport{{Scenario: "storm", Inits: []report.InitSamples{{Init: NameTini, Samples: []float64{1}}}}}
			return r
		}, []string{"storm"}, []string{"storm has no sample"}},
		{"scenario never reported", func(r report.Report) report.Report { return r }, []string{"signal"}, []string{"signal has no sample"}},
		{"exit codes not run for tinit", func(r report.Report) report.Report {
			r.ExitCodes = []report.ExitCodeRow{{Init: report.Tinit, Codes: []string{"0", "-"}}}
			return r
		}, []string{"exit-codes"}, []string{"exit-codes has no sample"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := StrictProblems(tt.rep(good), tt.scenarios)
			if len(got) != len(tt.want) {
				t.Fatalf("StrictProblems = %q, want %d problems like %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to mention %q", i, got[i], w)
				}
			}
		})
	}
}
