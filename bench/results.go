package main

import (
	"fmt"
	"slices"
	"strings"
)

// sample is one run's measurements: metric key -> value.
type sample map[string]float64

// results gathers every sample, the exit-code table, notes and errors of
// a run of the harness. Only the harness's main goroutine touches it.
type results struct {
	values map[string]map[string][]float64 // metric -> init -> samples
	codes  map[string]map[string][]string  // init -> case -> code per round
	notes  []string
	errors []string
}

func newResults() *results {
	return &results{
		values: map[string]map[string][]float64{},
		codes:  map[string]map[string][]string{},
	}
}

func (r *results) add(init string, s sample) {
	for k, v := range s {
		if r.values[k] == nil {
			r.values[k] = map[string][]float64{}
		}
		r.values[k][init] = append(r.values[k][init], v)
	}
}

// addCode records one exit-code observation.
func (r *results) addCode(init, kase, code string) {
	if r.codes[init] == nil {
		r.codes[init] = map[string][]string{}
	}
	r.codes[init][kase] = append(r.codes[init][kase], code)
}

// code is the exit code of one case, or "a/b" if rounds disagreed.
func (r *results) code(init, kase string) string {
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

func (r *results) fail(scenario, init string, round int, err error) {
	r.errors = append(r.errors, fmt.Sprintf("round %d, %s, %s: %v", round+1, scenario, init, err))
}

func (r *results) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !slices.Contains(r.notes, msg) {
		r.notes = append(r.notes, msg)
	}
}
