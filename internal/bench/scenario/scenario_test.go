package scenario

import (
	"testing"
	"time"
)

// TestScenarios checks what the report relies on: unique scenario names,
// unique metric keys, and every metric filed under its own scenario.
func TestScenarios(t *testing.T) {
	names := map[string]bool{}
	keys := map[string]bool{}
	for _, sc := range All(500 * time.Millisecond) {
		if names[sc.Name] {
			t.Errorf("scenario %q twice", sc.Name)
		}
		names[sc.Name] = true
		if sc.Run == nil && sc.Round == nil {
			t.Errorf("scenario %q measures nothing", sc.Name)
		}
		for _, m := range sc.Metrics {
			if keys[m.Key] {
				t.Errorf("metric %q twice", m.Key)
			}
			keys[m.Key] = true
			if m.Scenario != sc.Name {
				t.Errorf("metric %q is filed under %q, in scenario %q", m.Key, m.Scenario, sc.Name)
			}
		}
	}
	got := Names()
	if len(got) != len(names) {
		t.Errorf("Names() = %q, want each of the %d scenarios once", got, len(names))
	}
	for _, n := range got {
		if !names[n] {
			t.Errorf("Names() has %q, which is no scenario", n)
		}
	}
}

func TestReapLag(t *testing.T) {
	tests := []struct {
		name    string
		mean    float64
		spawnNs int64
		orphans int
		want    float64
	}{
		// 1,000 orphans a second and 0.1 zombies waiting: each waits 100 µs.
		{name: "little's law", mean: 0.1, spawnNs: 1e9, orphans: 1000, want: 100},
		{name: "no orphans", mean: 0.1, spawnNs: 1e9, orphans: 0, want: 0},
		{name: "no time", mean: 0.1, spawnNs: 0, orphans: 10, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reapLagMicros(tt.mean, tt.spawnNs, tt.orphans); got < tt.want-1e-9 || got > tt.want+1e-9 {
				t.Errorf("reapLagMicros(%v, %d, %d) = %v, want %v", tt.mean, tt.spawnNs, tt.orphans, got, tt.want)
			}
		})
	}
}
