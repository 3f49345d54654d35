package workload

import (
	"io"
	"os"
	"slices"
	"testing"
	"time"
)

// The test binary hosts the workloads, as every host program does.
func TestMain(m *testing.M) {
	Main()
	os.Exit(m.Run())
}

func TestCommandRunsWorkload(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{name: "exit", args: []string{"exit", "7"}, want: 7},
		{name: "killed by SIGTERM at its default action", args: []string{"killself", "15"}, want: -1},
		{name: "unknown workload", args: []string{"no-such-workload"}, want: ExitUsage},
		{name: "missing argument", args: []string{"exit"}, want: ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Cmd(tt.args[0], tt.args[1:]...).Run()
			code := 0
			if err != nil {
				code = err.(interface{ ExitCode() int }).ExitCode()
			}
			if code != tt.want {
				t.Errorf("%v: exit code %d (%v), want %d", tt.args, code, err, tt.want)
			}
		})
	}
}

func TestLine(t *testing.T) {
	tests := []struct{ line, kind, payload string }{
		{"ready", "ready", ""},
		{"exit 123", "exit", "123"},
		{`result {"a": 1}`, "result", `{"a": 1}`},
	}
	for _, tt := range tests {
		if k, p := Line(tt.line); k != tt.kind || p != tt.payload {
			t.Errorf("Line(%q) = %q, %q; want %q, %q", tt.line, k, p, tt.kind, tt.payload)
		}
	}
}

// TestMarked starts a sleeper that ignores SIGTERM and carries a marker,
// finds it by the marker, and kills it by the marker.
func TestMarked(t *testing.T) {
	marker := NewMarker()
	s := Cmd("sleeper", marker)
	out, _ := s.StdoutPipe()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Process.Kill()
	var ok [2]byte
	if _, err := io.ReadFull(out, ok[:]); err != nil || string(ok[:]) != "ok" {
		t.Fatalf("sleeper said %q, %v", ok, err)
	}
	if got := Marked(marker); !slices.Equal(got, []int{s.Process.Pid}) {
		t.Fatalf("Marked(%q) = %v, want [%d]", marker, got, s.Process.Pid)
	}
	if other := Marked(NewMarker()); len(other) != 0 {
		t.Errorf("a fresh marker finds %v", other)
	}
	done := make(chan struct{})
	go func() { s.Wait(); close(done) }()
	if left := KillMarked(marker, 5*time.Second); len(left) != 0 {
		// A zombie is not live, so the sleeper counts as gone once dead
		// even before it is reaped.
		t.Errorf("KillMarked left %v", left)
	}
	<-done
}
