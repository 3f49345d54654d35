// Package scenario holds the benchmark's measurements, one file each: what
// a scenario runs, under which init and mode, and which metrics (with
// tinit's targets) it yields. bench/README.md describes each one's method
// and resolution. Starting inits and reading their clocks is package
// harness's job; summarizing is package report's.
package scenario

import (
	"time"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
)

// All lists the scenarios in the order they run; grace is tinit's --grace
// in the leftover scenarios, on which some targets depend.
func All(grace time.Duration) []harness.Scenario {
	return []harness.Scenario{
		binarySize(),
		startup(),
		containerStart(),
		orphanStorm(),
		leftoversSubreaper(grace),
		leftoversPID1(grace),
		leftoversAtScale(grace),
		busyHostWalk(),
		sigtermExit(),
		exitCodes(),
		idleMemory(),
		pipeChurn(),
		diagnosis(),
		sandbox(),
	}
}

// Names lists the names of All, which -only takes.
func Names() []string {
	var out []string
	for _, sc := range All(0) {
		out = append(out, sc.Name)
	}
	return out
}

// Metrics lists every metric of scs, in report order.
func Metrics(scs []harness.Scenario) []report.Metric {
	var out []report.Metric
	for _, sc := range scs {
		out = append(out, sc.Metrics...)
	}
	return out
}

// exitTimeout bounds the wait for an init to exit once its workload is
// done and nothing is left for it to wait for.
const exitTimeout = 10 * time.Second

// readyTimeout bounds the start of a workload that says "ready".
const readyTimeout = 10 * time.Second

// ms is a duration in milliseconds, the unit of most metrics.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// nsSpan is the span between two CLOCK_MONOTONIC readings in ms.
func nsSpan(from, to int64) float64 { return float64(to-from) / 1e6 }
