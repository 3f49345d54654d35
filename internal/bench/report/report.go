package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Report is everything a run produced; it is written as latest.json and
// drawn from for the tables and the chart.
type Report struct {
	Machine   Machine        `json:"machine"`
	Config    any            `json:"config"`
	Params    string         `json:"params"`
	Inits     []InitInfo     `json:"inits"`
	Missing   []string       `json:"missing,omitempty"`
	Metrics   []MetricReport `json:"metrics"`
	ExitCases []string       `json:"exit_cases,omitempty"`
	ExitCodes []ExitCodeRow  `json:"exit_codes,omitempty"`
	Notes     []string       `json:"notes,omitempty"`
	Errors    []string       `json:"errors,omitempty"`
	Seconds   float64        `json:"seconds"`
}

// Machine is the machine a run measured on.
type Machine struct {
	Kernel    string `json:"kernel"`
	CPU       string `json:"cpu"`
	NProc     int    `json:"nproc"`
	GoVersion string `json:"go_version"`
	Date      string `json:"date"`
}

// InitInfo is one init of a run, as the report records it.
type InitInfo struct {
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"` // for tinit, the -tinit flag, not the snapshot
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

// MetricReport is one metric: every init's samples and summary, and
// tinit's verdict.
type MetricReport struct {
	Key      string        `json:"key"`
	Scenario string        `json:"scenario"`
	Label    string        `json:"label"`
	Unit     string        `json:"unit"`
	Digits   int           `json:"digits"`
	Inits    []InitSamples `json:"inits"`
	evaluation
}

type InitSamples struct {
	Init    string    `json:"init"`
	Samples []float64 `json:"samples"`
	summary
}

// ExitCodeRow is one init's row of the exit-code table, in ExitCases order.
type ExitCodeRow struct {
	Init  string   `json:"init"`
	Codes []string `json:"codes"`
}

// Input is what Build summarizes.
type Input struct {
	// Config is the run's configuration, recorded as it is.
	Config any
	// Params is one line saying the run's sizes, for the tables.
	Params  string
	Inits   []InitInfo // in report order
	Missing []string   // inits whose binary is missing
	// Metrics are every metric a run may have; those without a sample
	// are left out.
	Metrics []Metric
	// ExitCases name the columns of the exit-code table.
	ExitCases []string
	Results   *Results
	Took      time.Duration
	Machine   Machine
}

// Build summarizes a run: every metric's samples per init, in report
// order, with tinit's verdicts, and the exit-code table.
func Build(in Input) Report {
	res := in.Results
	rep := Report{Machine: in.Machine, Config: in.Config, Params: in.Params, Inits: in.Inits,
		Missing: in.Missing, Notes: res.notes, Errors: res.errors, Seconds: in.Took.Seconds()}
	var order []string
	for _, ii := range in.Inits {
		order = append(order, ii.Name)
	}
	for _, m := range in.Metrics {
		if mr, ok := metricResult(m, order, res.values[m.Key]); ok {
			rep.Metrics = append(rep.Metrics, mr)
		}
	}
	if len(res.codes) > 0 {
		rep.ExitCases = in.ExitCases
		for _, n := range order {
			if res.codes[n] == nil {
				continue // not in the exit-code scenario (the Go floor)
			}
			row := ExitCodeRow{Init: n}
			for _, c := range rep.ExitCases {
				row.Codes = append(row.Codes, res.code(n, c))
			}
			rep.ExitCodes = append(rep.ExitCodes, row)
		}
	}
	return rep
}

func metricResult(m Metric, order []string, byInit map[string][]float64) (MetricReport, bool) {
	mr := MetricReport{Key: m.Key, Scenario: m.Scenario, Label: m.Label, Unit: m.Unit, Digits: m.Digits}
	sums := map[string]summary{}
	for _, n := range order {
		if len(byInit[n]) == 0 {
			continue
		}
		sums[n] = summarize(byInit[n])
		mr.Inits = append(mr.Inits, InitSamples{Init: n, Samples: byInit[n], summary: sums[n]})
	}
	if len(mr.Inits) == 0 {
		return mr, false
	}
	mr.evaluation = evaluate(m, order, sums, byInit)
	return mr, true
}

// MachineInfo describes the machine the run is on.
func MachineInfo() Machine {
	m := Machine{NProc: runtime.NumCPU(), GoVersion: runtime.Version(),
		Date: time.Now().UTC().Format(time.RFC3339)}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// WriteFiles writes latest.json, latest.md and latest.svg into dir.
func WriteFiles(dir string, rep Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	files := map[string][]byte{
		"latest.json": append(js, '\n'),
		"latest.md":   []byte(Markdown(rep)),
		"latest.svg":  []byte(SVG(rep)),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
