package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// diagnosisProcs and diagnosisFDs size the tree the diagnosis scenario
// diagnoses.
const (
	diagnosisProcs = 1000
	diagnosisFDs   = 10
)

// diagnosis measures tinit's diagnosis of a tree of 1,000 processes with 10
// descriptors each (0 to 9: sleep's three and seven the shell opened), as
// a timeout would write it: tinit's report says how long the diagnosis
// took, and how much memory tinit used at its peak.
func (h *harness) diagnosis(in initSpec) (sample, error) {
	dir, err := os.MkdirTemp("", "tinit-bench-diagnosis-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// sleep takes no marker argument, but a number: the fraction of its
	// interval marks the run's processes, for the clean-up.
	marker := fmt.Sprintf("600.%09d", time.Now().UnixNano()%1e9)
	defer h.killMarked(marker)
	report := filepath.Join(dir, "report.json")
	script := fmt.Sprintf(`exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null 7</dev/null 8</dev/null 9</dev/null
i=0; while [ $i -lt %d ]; do sleep %s & i=$((i+1)); done; wait`, diagnosisProcs, marker)
	// The timeout leaves time to start the tree (about 1,500 forks a
	// second here).
	timeout := time.Duration(diagnosisProcs/300+2) * time.Second
	cmd := exec.Command(in.Path, "--timeout", timeout.String(), "--grace", "100ms", "--report", report, "--", "sh", "-c", script)
	if err := cmd.Run(); err != nil && cmd.ProcessState.ExitCode() != 124 {
		return nil, fmt.Errorf("tinit over the tree: %v", err)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Diagnoses []struct {
			Took      float64           `json:"took_s"`
			Processes []json.RawMessage `json:"processes"`
		} `json:"diagnoses"`
		MaxRSS int `json:"tinit_max_rss_kib"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if len(doc.Diagnoses) != 1 || len(doc.Diagnoses[0].Processes) < diagnosisProcs {
		n := 0
		if len(doc.Diagnoses) > 0 {
			n = len(doc.Diagnoses[0].Processes)
		}
		return nil, fmt.Errorf("want one diagnosis of %d processes, got %d diagnoses (%s processes)", diagnosisProcs, len(doc.Diagnoses), strconv.Itoa(n))
	}
	return sample{"diagnosis.took": doc.Diagnoses[0].Took * 1000, "diagnosis.tinit_rss": float64(doc.MaxRSS) / 1024}, nil
}
