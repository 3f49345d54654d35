package main

import (
	"os"
	"slices"
	"testing"
)

// TestReexecEnvRoundTrip checks that the environment the re-executed tinit
// restores is the one it was given, in the same order, GOMAXPROCS set or
// not.
func TestReexecEnvRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string // what the re-exec passes on
	}{
		{"unset", []string{"A=1", "B=2"}, []string{"A=1", "B=2", "GOMAXPROCS=2", reexecVar + "=unset"}},
		{"set", []string{"A=1", "GOMAXPROCS=64", "B=2"}, []string{"A=1", "GOMAXPROCS=2", "B=2", reexecVar + "==64"}},
		{"set empty", []string{"GOMAXPROCS=", "B=2"}, []string{"GOMAXPROCS=2", "B=2", reexecVar + "=="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reexecEnv(tt.env)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("reexecEnv(%q) = %q, want %q", tt.env, got, tt.want)
			}
			os.Clearenv()
			for _, kv := range got {
				k, v, _ := cut(kv)
				os.Setenv(k, v)
			}
			if err := reexecIfNeeded(); err != nil {
				t.Fatal(err)
			}
			env := os.Environ()
			if !slices.Equal(sorted(env), sorted(tt.env)) {
				t.Errorf("restored %q, want %q", env, tt.env)
			}
		})
	}
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
