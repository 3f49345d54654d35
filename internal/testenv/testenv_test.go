package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fakeTB records what Need does with a test, without ending the real one.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Name() string { return "TestFake" }
func (f *fakeTB) Skip(args ...any) {
	f.skipped = true
	f.msg = fmt.Sprint(args...)
}
func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = true }

func TestNeed(t *testing.T) {
	missing := errors.New("not installed")
	tests := []struct {
		name            string
		env             map[string]string
		err             error
		skipped, failed bool
	}{
		{"present", map[string]string{"CI": "true"}, nil, false, false},
		{"missing, local run", map[string]string{"CI": "", envStrict: ""}, missing, true, false},
		{"missing in CI", map[string]string{"CI": "true"}, missing, false, true},
		{"missing under make test", map[string]string{"CI": "", envStrict: "1"}, missing, false, true},
		{"missing in CI, allowed", map[string]string{"CI": "true", envAllow: "podman,runc"}, missing, true, false},
		{"missing in CI, all allowed", map[string]string{"CI": "true", envAllow: "all"}, missing, true, false},
		{"missing in CI, another allowed", map[string]string{"CI": "true", envAllow: "podman"}, missing, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "skips")
			t.Setenv(envSkipLog, log)
			t.Setenv(envAllow, "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			f := &fakeTB{}
			Need(f, "runc", tt.err)
			if f.skipped != tt.skipped || f.failed != tt.failed {
				t.Errorf("Need(%v) with %v: skipped %v failed %v, want %v %v", tt.err, tt.env, f.skipped, f.failed, tt.skipped, tt.failed)
			}
			b, _ := os.ReadFile(log)
			if got := string(b); tt.skipped != (got != "") {
				t.Errorf("skip log = %q; want a line exactly when skipped", got)
			} else if tt.skipped && got != "TestFake: missing capability runc: not installed\n" {
				t.Errorf("skip log = %q", got)
			}
		})
	}
}
