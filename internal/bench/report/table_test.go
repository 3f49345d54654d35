package report

import (
	"strings"
	"testing"
)

func TestAlignText(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		rows   [][]string
		want   string
	}{
		{name: "pads to the widest cell, not the last column",
			header: []string{"a", "bb", "c"},
			rows:   [][]string{{"xxx", "y", "zzzz"}},
			want:   "a    bb  c\n---  --  ----\nxxx  y   zzzz\n"},
		{name: "counts runes, not bytes", header: []string{"unit", "v"},
			rows: [][]string{{"µs", "1"}},
			want: "unit  v\n----  -\nµs    1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := alignText(tt.header, tt.rows); got != tt.want {
				t.Errorf("alignText =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestMarkdownTableEscapesPipes(t *testing.T) {
	got := markdownTable([]string{"h"}, [][]string{{"a|b"}})
	want := "| h |\n| --- |\n| a\\|b |\n"
	if got != want {
		t.Errorf("markdownTable = %q, want %q", got, want)
	}
}

func TestTextReport(t *testing.T) {
	out := Text(fixtureReport())
	tests := []struct {
		name, want string
	}{
		{name: "verdict line", want: "targets: 2 PASS, 1 MISS (storm.cpu_per_orphan)"},
		{name: "ratio on tinit's row", want: "1.12 (vs tini)"},
		{name: "missing peer named", want: "missing (not measured): catatonit"},
		{name: "errors listed", want: "round 1, storm, tini: boom"},
		{name: "exit codes that differ across rounds", want: "3/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(out, tt.want) {
				t.Errorf("report lacks %q:\n%s", tt.want, out)
			}
		})
	}
}
