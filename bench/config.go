package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// config is the harness's command line, with the sizes it implies.
type config struct {
	Quick         bool          `json:"quick"`
	Rounds        int           `json:"rounds"`
	Tinit         string        `json:"tinit"`
	Out           string        `json:"out"`
	Only          []string      `json:"only,omitempty"`
	Inits         []string      `json:"inits,omitempty"`
	Orphans       int           `json:"orphans"`
	Sleepers      int           `json:"sleepers"`
	ChurnChildren int           `json:"churn_children"`
	StartupReps   int           `json:"startup_reps"`
	SignalReps    int           `json:"signal_reps"`
	Grace         time.Duration `json:"grace_ns"`
	// Strict makes the run fail when a scenario errs or yields no
	// sample of tinit's (see strictProblems).
	Strict bool `json:"strict,omitempty"`
}

// Sizes of a full run (about 10 minutes on a 2-core VM; the storm takes
// three quarters of it) and of -quick (under a minute). Six rounds put
// each of the six inits in each position of the rotation once.
var (
	fullSizes  = config{Rounds: 6, Orphans: 20000, Sleepers: 50, ChurnChildren: 2000, StartupReps: 30, SignalReps: 10}
	quickSizes = config{Rounds: 2, Orphans: 4000, Sleepers: 50, ChurnChildren: 300, StartupReps: 10, SignalReps: 5}
)

// tinitGrace is the --grace tinit gets in the sleeper scenarios: short
// enough to keep rounds quick, long enough to be told apart from noise.
const tinitGrace = 500 * time.Millisecond

func parseConfig(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "reduced rounds and sizes (under a minute)")
	rounds := fs.Int("rounds", 0, "rounds (default 6, -quick 2)")
	tinit := fs.String("tinit", "bin/tinit", "tinit binary to measure")
	out := fs.String("out", "bench/results", "directory for latest.json, latest.svg and latest.md")
	only := fs.String("only", "", "comma-separated scenarios: "+strings.Join(scenarioNames, ","))
	inits := fs.String("inits", "", "comma-separated inits: "+strings.Join(initNames(), ","))
	strict := fs.Bool("strict", false, "fail when a scenario errs or has no sample of tinit's")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	cfg := fullSizes
	if *quick {
		cfg = quickSizes
	}
	cfg.Quick, cfg.Out, cfg.Grace, cfg.Strict = *quick, *out, tinitGrace, *strict
	if *rounds != 0 {
		cfg.Rounds = *rounds
	}
	if cfg.Rounds < 1 {
		return config{}, errors.New("-rounds must be at least 1")
	}
	var err error
	if cfg.Tinit, err = filepath.Abs(*tinit); err != nil {
		return config{}, fmt.Errorf("-tinit: %w", err)
	}
	if cfg.Only, err = parseList("-only", *only, scenarioNames); err != nil {
		return config{}, err
	}
	if cfg.Inits, err = parseList("-inits", *inits, initNames()); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// parseList splits a comma-separated flag value and checks every item
// against known.
func parseList(flagName, v string, known []string) ([]string, error) {
	var items []string
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !slices.Contains(known, item) {
			return nil, fmt.Errorf("%s: unknown %q (known: %s)", flagName, item, strings.Join(known, ","))
		}
		items = append(items, item)
	}
	return items, nil
}

func initNames() []string {
	var names []string
	for _, s := range knownInits("") {
		names = append(names, s.Name)
	}
	return names
}

// selectScenarios keeps the scenarios named in only, all when empty.
func selectScenarios(all []scenario, only []string) []scenario {
	var out []scenario
	for _, sc := range all {
		if len(only) == 0 || slices.Contains(only, sc.name) {
			out = append(out, sc)
		}
	}
	return out
}
