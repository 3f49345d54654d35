package main

import (
	"slices"
	"testing"
)

func TestCutExtra(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		inSandbox bool
		rest      []string
		binds     int
		net, oci  string
		wantErr   bool
	}{
		{"plain", []string{"-v", "--", "ls"}, false, []string{"-v", "--", "ls"}, 0, "", "", false},
		{"sandbox flags", []string{"--net", "none", "--bind=/etc", "--grace", "1s", "--ro-bind", "/usr:/mnt", "--", "ls"}, true,
			[]string{"--grace", "1s", "--", "ls"}, 2, "none", "", false},
		{"value of a usual flag kept", []string{"--report", "--net", "ls"}, true, []string{"--report", "--net", "ls"}, 0, "", "", false},
		{"after the command", []string{"ls", "--net", "none"}, true, []string{"ls", "--net", "none"}, 0, "", "", false},
		{"sandbox flag outside a sandbox", []string{"--net", "none", "--", "ls"}, false, []string{"--net", "none", "--", "ls"}, 0, "", "", false},
		{"oci", []string{"--oci-process", "p.json", "-v"}, false, []string{"-v"}, 0, "", "p.json", false},
		{"two oci", []string{"--oci-process", "a", "--oci-config", "b"}, false, nil, 0, "", "", true},
		{"bad net", []string{"--net", "bridge", "--", "ls"}, true, nil, 0, "", "", true},
		{"missing value", []string{"--bind"}, true, nil, 0, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, rest, err := cutExtra(tt.args, tt.inSandbox)
			if (err != nil) != tt.wantErr {
				t.Fatalf("cutExtra(%q) error %v, want error %v", tt.args, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !slices.Equal(rest, tt.rest) || len(e.binds) != tt.binds || e.net != tt.net || e.ociFile != tt.oci {
				t.Errorf("cutExtra(%q) = %+v, %q; want rest %q, %d binds, net %q, oci %q", tt.args, e, rest, tt.rest, tt.binds, tt.net, tt.oci)
			}
		})
	}
}

func TestCmdGiven(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{nil, false}, {[]string{"-v"}, false}, {[]string{"--"}, false}, {[]string{"--", "x"}, true},
		{[]string{"--grace", "1s"}, false}, {[]string{"--grace", "1s", "x"}, true}, {[]string{"x"}, true},
	} {
		if got := cmdGiven(tt.args); got != tt.want {
			t.Errorf("cmdGiven(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
