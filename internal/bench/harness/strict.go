package harness

import (
	"fmt"
	"slices"

	"github.com/tinit-dev/tinit/internal/bench/report"
)

// StrictProblems lists what makes a run worthless as evidence that the
// harness works: a run that failed, tinit missing, or a scenario that
// produced no sample of tinit's. `make bench-smoke` runs with -strict and
// fails on any of them; no timing is checked.
func StrictProblems(rep report.Report, scenarios []string) []string {
	var out []string
	for _, e := range rep.Errors {
		out = append(out, "run failed: "+e)
	}
	if slices.Contains(rep.Missing, report.Tinit) {
		out = append(out, "tinit was not measured: its binary is missing")
	}
	for _, sc := range scenarios {
		if !hasTinitSample(rep, sc) {
			out = append(out, fmt.Sprintf("scenario %s has no sample of tinit's", sc))
		}
	}
	return out
}

func hasTinitSample(rep report.Report, scenario string) bool {
	if scenario == "exit-codes" {
		for _, row := range rep.ExitCodes {
			if row.Init == report.Tinit {
				return len(row.Codes) > 0 && !slices.Contains(row.Codes, "-")
			}
		}
		return false
	}
	for _, m := range rep.Metrics {
		if m.Scenario != scenario {
			continue
		}
		for _, in := range m.Inits {
			if in.Init == report.Tinit && len(in.Samples) > 0 {
				return true
			}
		}
	}
	return false
}
