package main

import (
	"errors"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    procStat
		wantErr bool
	}{
		{name: "plain", line: "123 (bench) Z 1 123 1 0 -1", want: procStat{state: 'Z', ppid: 1}},
		{name: "spaces and parens in comm", line: "7 (a (b) c) S 42 7 7 0", want: procStat{state: 'S', ppid: 42}},
		{name: "ppid 0", line: "1 (init) S 0 1 1", want: procStat{state: 'S', ppid: 0}},
		{name: "no closing paren", line: "7 (abc S 1 2", wantErr: true},
		{name: "truncated after state", line: "7 (abc) S", wantErr: true},
		{name: "ppid not a number", line: "7 (abc) S x 2", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line))
			if tt.wantErr {
				if !errors.Is(err, errBadStat) {
					t.Errorf("parseStat(%q) error = %v, want errBadStat", tt.line, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseStat(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
			}
		})
	}
}

func TestParseStatusKiB(t *testing.T) {
	const status = "Name:\ttinit\nVmHWM:\t    3284 kB\nVmRSS:\t    3012 kB\nThreads:\t5\n"
	tests := []struct {
		name    string
		field   string
		want    int64
		wantErr bool
	}{
		{name: "rss", field: "VmRSS", want: 3012},
		{name: "hwm", field: "VmHWM", want: 3284},
		{name: "no unit", field: "Threads", want: 5},
		{name: "missing", field: "VmSwap", wantErr: true},
		{name: "prefix of another field does not match", field: "Vm", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatusKiB([]byte(status), tt.field)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStatusKiB(%s) = %d, %v; want %d, error %v", tt.field, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
