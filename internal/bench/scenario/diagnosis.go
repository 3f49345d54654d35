package scenario

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	tinitreport "github.com/tinit-dev/tinit/internal/report"
)

// diagnosisProcs sizes the tree the diagnosis scenario diagnoses.
const diagnosisProcs = 1000

// exitTimedOut is tinit's exit code when its --timeout ended the run.
const exitTimedOut = 124

// diagnosis measures tinit's diagnosis of a tree of 1,000 processes with 10
// descriptors each (0 to 9: sleep's three and seven the shell opened), as
// a timeout would write it: tinit's report says how long the diagnosis
// took, and how much memory tinit used at its peak.
func diagnosis() harness.Scenario {
	const name = "diagnosis"
	return harness.Scenario{
		Name: name, TinitOnly: true, Once: true,
		Metrics: []report.Metric{
			{Key: "diagnosis.took", Scenario: name, Label: "diagnosis of 1,000 processes with 10 fds each", Unit: "ms", Digits: 1, Ratio: true,
				Target: report.Target{Kind: report.AtMostValue, Limit: 250}},
			{Key: "diagnosis.tinit_rss", Scenario: name, Label: "tinit's peak RSS over that run (VmHWM)", Unit: "MiB", Digits: 2, Ratio: true},
		},
		Run: diagnose,
	}
}

func diagnose(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
	dir, err := os.MkdirTemp(h.Tmp, "diagnosis-")
	if err != nil {
		return nil, err
	}
	// sleep takes no marker argument, but a number: the fraction of its
	// interval marks the run's processes, for the clean-up.
	marker := fmt.Sprintf("600.%09d", time.Now().UnixNano()%1e9)
	defer h.KillMarked(marker)
	path := filepath.Join(dir, "report.json")
	script := fmt.Sprintf(`exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null 7</dev/null 8</dev/null 9</dev/null
i=0; while [ $i -lt %d ]; do sleep %s & i=$((i+1)); done; wait`, diagnosisProcs, marker)
	// The timeout leaves time to start the tree (about 1,500 forks a
	// second here).
	timeout := time.Duration(diagnosisProcs/300+2) * time.Second
	cmd := exec.Command(in.Path, "--timeout", timeout.String(), "--grace", "100ms", "--report", path, "--", "sh", "-c", script)
	if err := cmd.Run(); err != nil && cmd.ProcessState.ExitCode() != exitTimedOut {
		return nil, fmt.Errorf("tinit over the tree: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc tinitreport.Document
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Record == nil || len(doc.Diagnoses) != 1 || len(doc.Diagnoses[0].Processes) < diagnosisProcs {
		return nil, fmt.Errorf("want one diagnosis of %d processes in %s", diagnosisProcs, b)
	}
	return report.Sample{"diagnosis.took": doc.Diagnoses[0].Took * 1000, "diagnosis.tinit_rss": float64(doc.TinitMaxRSS) / 1024}, nil
}
