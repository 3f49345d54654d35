package subreaper

import (
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	tail := " 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 1000 100"
	tests := []struct {
		name  string
		line  string
		want  proc
		valid bool
	}{
		{"plain", "42 (sleep) S 7" + tail, proc{pid: 42, ppid: 7, state: 'S', start: 123456, comm: "sleep"}, true},
		{"spaces and parens in name", "43 (a (b) c)) Z 1" + tail, proc{pid: 43, ppid: 1, state: 'Z', start: 123456, comm: "a (b) c)"}, true},
		{"empty name", "44 () R 2" + tail, proc{pid: 44, ppid: 2, state: 'R', start: 123456}, true},
		{"truncated", "45 (x) S 1 1 0", proc{}, false},
		{"no name", "46 S 1" + tail, proc{}, false},
		{"bad pid", "x (y) S 1" + tail, proc{}, false},
		{"bad ppid", "47 (y) S p" + tail, proc{}, false},
		{"long state", "48 (y) SS 1" + tail, proc{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line))
			if (err == nil) != tt.valid {
				t.Fatalf("parseStat(%q) error = %v, want valid %v", tt.line, err, tt.valid)
			}
			if tt.valid && got != tt.want {
				t.Errorf("parseStat(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add("42 (sleep) S 7 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 1000 100")
	f.Add("1 ((()) R 0 " + strings.Repeat("0 ", 30))
	f.Fuzz(func(t *testing.T, line string) {
		p, err := parseStat([]byte(line))
		if err != nil {
			return
		}
		if !strings.Contains(line, "("+p.comm+")") {
			t.Errorf("parseStat(%q) comm %q not found between parentheses", line, p.comm)
		}
	})
}
