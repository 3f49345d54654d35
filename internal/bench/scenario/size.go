package scenario

import (
	"fmt"
	"os"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/workload"
)

// binarySize records each init's file size and whether it is a static ELF
// (no PT_INTERP program header, so no dynamic loader and no shared C
// library to count). A dynamic binary's size leaves out the libraries it
// loads.
func binarySize() harness.Scenario {
	const name = "binary-size"
	return harness.Scenario{
		Name: name, Once: true, SkipBaseline: true,
		Metrics: []report.Metric{
			{Key: "size.mib", Scenario: name, Label: "binary size", Unit: "MiB", Digits: 2, Ratio: true,
				Target: report.Target{Kind: report.AtMostValue, Limit: 3}},
			{Key: "size.static", Scenario: name, Label: "static ELF (1 yes, 0 no)", Unit: "bool",
				Target: report.Target{Kind: report.AtLeastValue, Limit: 1}},
		},
		Run: func(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
			st, err := os.Stat(in.Path)
			if err != nil {
				return nil, fmt.Errorf("stat: %w", err)
			}
			static, err := workload.IsStatic(in.Path)
			if err != nil {
				return nil, err
			}
			s := report.Sample{"size.mib": float64(st.Size()) / (1 << 20), "size.static": 0}
			if static {
				s["size.static"] = 1
			}
			return s, nil
		},
	}
}
