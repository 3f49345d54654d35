package harness

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

// Config is the benchmark's command line, with the sizes it implies.
type Config struct {
	Quick         bool          `json:"quick"`
	Rounds        int           `json:"rounds"`
	Tinit         string        `json:"tinit"`
	Out           string        `json:"out"`
	Only          []string      `json:"only,omitempty"`
	Inits         []string      `json:"inits,omitempty"`
	Orphans       int           `json:"orphans"`
	Sleepers      int           `json:"sleepers"`
	PipeChildren  int           `json:"pipe_children"`
	Leftovers     int           `json:"leftovers"`
	Crowd         int           `json:"crowd"`
	ContainerReps int           `json:"container_reps"`
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
	fullSizes = Config{Rounds: 6, Orphans: 20000, Sleepers: 50, PipeChildren: 2000, StartupReps: 30, SignalReps: 10,
		Leftovers: 1000, Crowd: 10000, ContainerReps: 5}
	quickSizes = Config{Rounds: 2, Orphans: 4000, Sleepers: 50, PipeChildren: 300, StartupReps: 10, SignalReps: 5,
		Leftovers: 200, Crowd: 1000, ContainerReps: 2}
)

// tinitGrace is the --grace tinit gets in the leftover scenarios: short
// enough to keep rounds quick, long enough to be told apart from noise.
const tinitGrace = 500 * time.Millisecond

// ParseConfig parses the command line; scenarios are the names -only
// takes.
func ParseConfig(args []string, stderr io.Writer, scenarios []string) (Config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "reduced rounds and sizes (under a minute)")
	rounds := fs.Int("rounds", 0, "rounds (default 6, -quick 2)")
	tinit := fs.String("tinit", "bin/tinit", "tinit binary to measure")
	out := fs.String("out", "bench/results", "directory for latest.json, latest.svg and latest.md")
	only := fs.String("only", "", "comma-separated scenarios: "+strings.Join(scenarios, ","))
	inits := fs.String("inits", "", "comma-separated inits: "+strings.Join(InitNames(), ","))
	strict := fs.Bool("strict", false, "fail when a scenario errs or has no sample of tinit's")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
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
		return Config{}, errors.New("-rounds must be at least 1")
	}
	var err error
	if cfg.Tinit, err = filepath.Abs(*tinit); err != nil {
		return Config{}, fmt.Errorf("-tinit: %w", err)
	}
	if cfg.Only, err = parseList("-only", *only, scenarios); err != nil {
		return Config{}, err
	}
	if cfg.Inits, err = parseList("-inits", *inits, InitNames()); err != nil {
		return Config{}, err
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

// Params is the line saying a run's sizes, for the report.
func (c Config) Params() string {
	return fmt.Sprintf("rounds %d (quick %v): storm %d orphans, %d sleepers, %d leftovers at scale, %d processes on the busy host, pipe churn %d children, startup batch %d; tinit --grace %v in the leftover scenarios",
		c.Rounds, c.Quick, c.Orphans, c.Sleepers, c.Leftovers, c.Crowd, c.PipeChildren, c.StartupReps, c.Grace)
}

// SelectScenarios keeps the scenarios named in only, all when empty.
func SelectScenarios(all []Scenario, only []string) []Scenario {
	var out []Scenario
	for _, sc := range all {
		if len(only) == 0 || slices.Contains(only, sc.Name) {
			out = append(out, sc)
		}
	}
	return out
}
