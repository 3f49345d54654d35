package main

import (
	"slices"
	"testing"
	"time"
)

func TestInitArgv(t *testing.T) {
	inits := map[string]initSpec{}
	for _, s := range knownInits("/b/tinit") {
		inits[s.Name] = s
	}
	cmd := []string{"/w", "wl-x"}
	tests := []struct {
		name  string
		init  string
		mode  mode
		grace time.Duration
		want  []string
	}{
		{name: "tinit", init: nameTinit, mode: pid1, want: []string{"/b/tinit", "--", "/w", "wl-x"}},
		{name: "tinit with grace", init: nameTinit, mode: plain, grace: 500 * time.Millisecond,
			want: []string{"/b/tinit", "--grace", "500ms", "--", "/w", "wl-x"}},
		{name: "tini as subreaper gets -s", init: nameTini, mode: plain, want: []string{"/usr/bin/tini", "-s", "--", "/w", "wl-x"}},
		{name: "tini as PID 1 does not", init: nameTini, mode: pid1, want: []string{"/usr/bin/tini", "--", "/w", "wl-x"}},
		{name: "tini-static", init: nameTiniStatic, mode: plain, want: []string{"/usr/bin/tini-static", "-s", "--", "/w", "wl-x"}},
		{name: "dumb-init ignores grace", init: nameDumbInit, mode: plain, grace: time.Second, want: []string{"/usr/bin/dumb-init", "/w", "wl-x"}},
		{name: "catatonit", init: nameCatatonit, mode: pid1, want: []string{"/usr/bin/catatonit", "--", "/w", "wl-x"}},
		{name: "baseline is the command", init: nameBaseline, mode: pid1, grace: time.Second, want: cmd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inits[tt.init].argv(tt.mode, tt.grace, cmd); !slices.Equal(got, tt.want) {
				t.Errorf("argv = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSelectInits(t *testing.T) {
	all := []initSpec{{Name: nameTinit, Path: "/nonexistent/tinit"}, {Name: nameTini, Path: "/proc/self/exe"}, {Name: nameBaseline}}
	tests := []struct {
		name        string
		only        []string
		wantPresent []string
		wantMissing []string
	}{
		{name: "all", wantPresent: []string{nameTini, nameBaseline}, wantMissing: []string{nameTinit}},
		{name: "only some", only: []string{nameTini}, wantPresent: []string{nameTini}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			present, missing := selectInits(all, tt.only)
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
	in := []initSpec{{Name: "a"}, {Name: "b"}, {Name: "c"}}
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
			for _, s := range rotate(in, tt.k) {
				got += s.Name
			}
			if got != tt.want {
				t.Errorf("rotate(abc, %d) = %s, want %s", tt.k, got, tt.want)
			}
		})
	}
	if rotate(nil, 3) != nil {
		t.Error("rotate(nil) is not nil")
	}
}
