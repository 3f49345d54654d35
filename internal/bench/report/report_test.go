package report

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestReportJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rep  Report
	}{
		{name: "full fixture", rep: fixtureReport()},
		{name: "empty run", rep: Build(Input{Config: fixtureConfig(), Metrics: fixtureMetrics, Results: NewResults()})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.rep)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var got Report
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(got, tt.rep) {
				t.Errorf("round trip changed the report:\n got %+v\nwant %+v", got, tt.rep)
			}
		})
	}
}

func TestBuildReport(t *testing.T) {
	rep := fixtureReport()
	keys := map[string]MetricReport{}
	for _, m := range rep.Metrics {
		keys[m.Key] = m
	}
	tests := []struct {
		name       string
		key        string
		wantInits  int
		wantResult string
	}{
		{name: "storm CPU: tinit 16 vs tini 14.25", key: "storm.cpu_per_orphan", wantInits: 2, wantResult: resultMiss},
		{name: "RSS under 3 MiB", key: "rss.vmrss", wantInits: 2, wantResult: resultPass},
		{name: "survivors include the baseline", key: "subreaper.survivors", wantInits: 3, wantResult: resultPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := keys[tt.key]
			if !ok {
				t.Fatalf("metric %s missing from the report", tt.key)
			}
			if len(m.Inits) != tt.wantInits || m.Result != tt.wantResult {
				t.Errorf("%d inits, result %q; want %d, %q", len(m.Inits), m.Result, tt.wantInits, tt.wantResult)
			}
		})
	}
	if _, ok := keys["storm.wall"]; ok {
		t.Error("a metric without samples is in the report")
	}
	if got := rep.ExitCodes[1].Codes[0]; got != "3/1" {
		t.Errorf("tini's disagreeing exit codes = %q, want 3/1", got)
	}
}
