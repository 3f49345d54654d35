package report

import (
	"fmt"
	"slices"
	"strings"
)

// Sample is one run's measurements: metric key -> value.
type Sample map[string]float64

// Results gathers every sample, the exit-code table, notes and errors of
// a run of the harness. Only the harness's main goroutine touches it.
type Results struct {
	values map[string]map[string][]float64 // metric -> init -> samples
	codes  map[string]map[string][]string  // init -> case -> code per round
	notes  []string
	errors []string
}

// NewResults returns empty results.
func NewResults() *Results {
	return &Results{
		values: map[string]map[string][]float64{},
		codes:  map[string]map[string][]string{},
	}
}

// Add records one sample of init's.
func (r *Results) Add(init string, s Sample) {
	for k, v := range s {
		if r.values[k] == nil {
			r.values[k] = map[string][]float64{}
		}
		r.values[k][init] = append(r.values[k][init], v)
	}
}

// AddCode records one exit-code observation.
func (r *Results) AddCode(init, kase, code string) {
	if r.codes[init] == nil {
		r.codes[init] = map[string][]string{}
	}
	r.codes[init][kase] = append(r.codes[init][kase], code)
}

// code is the exit code of one case, or "a/b" if rounds disagreed.
func (r *Results) code(init, kase string) string {
	var seen []string
	for _, c := range r.codes[init][kase] {
		if !slices.Contains(seen, c) {
			seen = append(seen, c)
		}
	}
	if len(seen) == 0 {
		return "-"
	}
	return strings.Join(seen, "/")
}

// Fail records that a run of scenario for init failed.
func (r *Results) Fail(scenario, init string, round int, err error) {
	r.errors = append(r.errors, fmt.Sprintf("round %d, %s, %s: %v", round+1, scenario, init, err))
}

// Note records a remark on the run, once.
func (r *Results) Note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !slices.Contains(r.notes, msg) {
		r.notes = append(r.notes, msg)
	}
}
