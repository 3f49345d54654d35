package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// report is everything a run produced; it is written as latest.json and
// drawn from for the tables and the chart.
type report struct {
	Machine   machine        `json:"machine"`
	Config    config         `json:"config"`
	Inits     []initInfo     `json:"inits"`
	Missing   []string       `json:"missing,omitempty"`
	Metrics   []metricReport `json:"metrics"`
	ExitCases []string       `json:"exit_cases,omitempty"`
	ExitCodes []exitCodeRow  `json:"exit_codes,omitempty"`
	Notes     []string       `json:"notes,omitempty"`
	Errors    []string       `json:"errors,omitempty"`
	Seconds   float64        `json:"seconds"`
}

type machine struct {
	Kernel    string `json:"kernel"`
	CPU       string `json:"cpu"`
	NProc     int    `json:"nproc"`
	GoVersion string `json:"go_version"`
	Date      string `json:"date"`
}

type initInfo struct {
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"` // for tinit, the -tinit flag, not the snapshot
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

// metricReport is one metric: every init's samples and summary, and
// tinit's verdict.
type metricReport struct {
	Key      string        `json:"key"`
	Scenario string        `json:"scenario"`
	Label    string        `json:"label"`
	Unit     string        `json:"unit"`
	Digits   int           `json:"digits"`
	Inits    []initSamples `json:"inits"`
	evaluation
}

type initSamples struct {
	Init    string    `json:"init"`
	Samples []float64 `json:"samples"`
	summary
}

// exitCodeRow is one init's row of the exit-code table, in ExitCases order.
type exitCodeRow struct {
	Init  string   `json:"init"`
	Codes []string `json:"codes"`
}

// buildReport summarizes the results and describes the machine and the
// inits' versions.
func buildReport(cfg config, inits []initSpec, missing []string, res *results, took time.Duration) report {
	rep := buildReportWith(cfg, inits, missing, res, took)
	rep.Machine = machineInfo()
	for i, in := range inits {
		rep.Inits[i].Version = version(in)
		if !in.isBaseline() {
			rep.Inits[i].SHA256 = fileSHA256(in.Path)
		}
		if in.Name == nameTinit {
			rep.Inits[i].Path = cfg.Tinit
		}
	}
	return rep
}

// buildReportWith is buildReport without looking at the machine: inits in
// report order, metrics without any sample left out.
func buildReportWith(cfg config, inits []initSpec, missing []string, res *results, took time.Duration) report {
	rep := report{Config: cfg, Missing: missing,
		Notes: res.notes, Errors: res.errors, Seconds: took.Seconds()}
	var order []string
	for _, in := range inits {
		order = append(order, in.Name)
		rep.Inits = append(rep.Inits, initInfo{Name: in.Name, Path: in.Path})
	}
	for _, m := range metricsFor(cfg.Grace) {
		if mr, ok := metricResult(m, order, res.values[m.Key]); ok {
			rep.Metrics = append(rep.Metrics, mr)
		}
	}
	if len(res.codes) > 0 {
		for _, c := range exitCases {
			rep.ExitCases = append(rep.ExitCases, c.name)
		}
		for _, n := range order {
			row := exitCodeRow{Init: n}
			for _, c := range rep.ExitCases {
				row.Codes = append(row.Codes, res.code(n, c))
			}
			rep.ExitCodes = append(rep.ExitCodes, row)
		}
	}
	return rep
}

func metricResult(m metric, order []string, byInit map[string][]float64) (metricReport, bool) {
	mr := metricReport{Key: m.Key, Scenario: m.Scenario, Label: m.Label, Unit: m.Unit, Digits: m.Digits}
	sums := map[string]summary{}
	for _, n := range order {
		if len(byInit[n]) == 0 {
			continue
		}
		sums[n] = summarize(byInit[n])
		mr.Inits = append(mr.Inits, initSamples{Init: n, Samples: byInit[n], summary: sums[n]})
	}
	if len(mr.Inits) == 0 {
		return mr, false
	}
	mr.evaluation = evaluate(m, order, sums)
	return mr, true
}

func machineInfo() machine {
	m := machine{NProc: runtime.NumCPU(), GoVersion: runtime.Version(),
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

// version asks an init for its version, for the record.
func version(in initSpec) string {
	if in.isBaseline() {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, in.Path, "--version").CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// writeFiles writes latest.json, latest.md and latest.svg into dir.
func writeFiles(dir string, rep report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	files := map[string][]byte{
		"latest.json": append(js, '\n'),
		"latest.md":   []byte(markdownReport(rep)),
		"latest.svg":  []byte(svgChart(rep)),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
