package harness

import (
	"slices"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/bench/report"
)

func TestInitArgv(t *testing.T) {
	inits := map[string]InitSpec{}
	for _, s := range KnownInits("/b/tinit") {
		inits[s.Name] = s
	}
	cmd := []string{"/w", "-workload=x"}
	tests := []struct {
		name  string
		init  string
		mode  Mode
		grace time.Duration
		want  []string
	}{
		{name: "tinit", init: report.Tinit, mode: PID1, want: []string{"/b/tinit", "--", "/w", "-workload=x"}},
		{name: "tinit with grace", init: report.Tinit, mode: Plain, grace: 500 * time.Millisecond,
			want: []string{"/b/tinit", "--grace", "500ms", "--", "/w", "-workload=x"}},
		{name: "tini as subreaper gets -s", init: NameTini, mode: Plain, want: []string{"/usr/bin/tini", "-s", "--", "/w", "-workload=x"}},
		{name: "tini as PID 1 does not", init: NameTini, mode: PID1, want: []string{"/usr/bin/tini", "--", "/w", "-workload=x"}},
		{name: "tini-static", init: NameTiniStatic, mode: Plain, want: []string{"/usr/bin/tini-static", "-s", "--", "/w", "-workload=x"}},
		{name: "dumb-init ignores grace", init: NameDumbInit, mode: Plain, grace: time.Second, want: []string{"/usr/bin/dumb-init", "/w", "-workload=x"}},
		{name: "catatonit", init: NameCatatonit, mode: PID1, want: []string{"/usr/bin/catatonit", "--", "/w", "-workload=x"}},
		{name: "baseline is the command", init: report.Baseline, mode: PID1, grace: time.Second, want: cmd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inits[tt.init].Argv(tt.mode, tt.grace, cmd); !slices.Equal(got, tt.want) {
				t.Errorf("argv = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSelectInits(t *testing.T) {
	all := []InitSpec{{Name: report.Tinit, Path: "/nonexistent/tinit"}, {Name: NameTini, Path: "/proc/self/exe"}, {Name: report.Baseline}}
	tests := []struct {
		name        string
		only        []string
		wantPresent []string
		wantMissing []string
	}{
		{name: "all", wantPresent: []string{NameTini, report.Baseline}, wantMissing: []string{report.Tinit}},
		{name: "only some", only: []string{NameTini}, wantPresent: []string{NameTini}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			present, missing := SelectInits(all, tt.only)
			var names []string
			for _, p := range present {
				names = append(names, p.Name)
			}
			if !slices.Equal(names, tt.wantPresent) || !slices.Equal(missing, tt.wantMissing) {
				t.Errorf("present %q missing %q; want %q, %q", names, missing, tt.wantPresent, tt.wantMissing)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	in := []InitSpec{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	tests := []struct {
		name string
		k    int
		want string
	}{
		{name: "zero", k: 0, want: "abc"},
		{name: "one", k: 1, want: "bca"},
		{name: "wraps", k: 5, want: "cab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			for _, s := range Rotate(in, tt.k) {
				got += s.Name
			}
			if got != tt.want {
				t.Errorf("Rotate(abc, %d) = %s, want %s", tt.k, got, tt.want)
			}
		})
	}
	if Rotate(nil, 3) != nil {
		t.Error("Rotate(nil) is not nil")
	}
}
