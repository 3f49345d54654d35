package harness

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
		{name: "only", args: []string{"-only", "orphan-storm, idle-memory"}, wantRounds: fullSizes.Rounds, wantOrphans: 20000, wantOnly: []string{"orphan-storm", "idle-memory"}},
		{name: "unknown scenario", args: []string{"-only", "orphan-storm,bogus"}, wantErr: true},
		{name: "unknown init", args: []string{"-inits", "systemd"}, wantErr: true},
		{name: "zero rounds", args: []string{"-rounds", "-1"}, wantErr: true},
		{name: "stray argument", args: []string{"extra"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(tt.args, io.Discard, []string{"orphan-storm", "idle-memory"})
			if tt.wantErr {
				if err == nil {
					t.Errorf("ParseConfig(%q) succeeded, want an error", tt.args)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%q): %v", tt.args, err)
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
