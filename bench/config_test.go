package main

import (
	"io"
	"slices"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		wantErr     bool
		wantRounds  int
		wantOrphans int
		wantOnly    []string
	}{
		{name: "defaults", args: nil, wantRounds: fullSizes.Rounds, wantOrphans: 20000},
		{name: "quick", args: []string{"-quick"}, wantRounds: quickSizes.Rounds, wantOrphans: 4000},
		{name: "rounds override quick", args: []string{"-quick", "-rounds", "3"}, wantRounds: 3, wantOrphans: 4000},
		{name: "only", args: []string{"-only", "storm, rss"}, wantRounds: fullSizes.Rounds, wantOrphans: 20000, wantOnly: []string{"storm", "rss"}},
		{name: "unknown scenario", args: []string{"-only", "storm,bogus"}, wantErr: true},
		{name: "unknown init", args: []string{"-inits", "systemd"}, wantErr: true},
		{name: "zero rounds", args: []string{"-rounds", "-1"}, wantErr: true},
		{name: "stray argument", args: []string{"extra"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, io.Discard)
			if tt.wantErr {
				if err == nil {
					t.Errorf("parseConfig(%q) succeeded, want an error", tt.args)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%q): %v", tt.args, err)
			}
			if c.Rounds != tt.wantRounds || c.Orphans != tt.wantOrphans || !slices.Equal(c.Only, tt.wantOnly) {
				t.Errorf("rounds %d orphans %d only %q; want %d, %d, %q", c.Rounds, c.Orphans, c.Only, tt.wantRounds, tt.wantOrphans, tt.wantOnly)
			}
			if c.Tinit == "" || c.Tinit[0] != '/' {
				t.Errorf("tinit path %q is not absolute", c.Tinit)
			}
		})
	}
}

func TestScenarioNamesMatch(t *testing.T) {
	var names []string
	for _, sc := range allScenarios() {
		names = append(names, sc.name)
	}
	if !slices.Equal(names, scenarioNames) {
		t.Errorf("allScenarios() = %q, scenarioNames = %q", names, scenarioNames)
	}
}
