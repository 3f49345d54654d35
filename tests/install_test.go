package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinit-dev/tinit/internal/testenv"
)

// TestMakeInstall: `make install PREFIX=DIR` puts tinit in DIR/bin and
// the peers' names next to it as symlinks, each answering as its peer.
func TestMakeInstall(t *testing.T) {
	mk, err := exec.LookPath("make")
	testenv.Need(t, "make", err)
	prefix := t.TempDir()
	cmd := exec.Command(mk, "--no-print-directory", "install", "PREFIX="+prefix)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	bin := filepath.Join(prefix, "bin")
	if st, err := os.Lstat(filepath.Join(bin, "tinit")); err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o755 {
		t.Fatalf("%s/tinit: %v %v, want an executable file", bin, st, err)
	}
	for name, want := range map[string]string{
		"tini": "tini version 0.19.0 - tinit ", "tini-static": "tini version 0.19.0 - tinit ", "docker-init": "tini version 0.19.0 - tinit ",
		"dumb-init": "dumb-init v1.2.5 (tinit ", "catatonit": "tini version 0.1.7_catatonit - tinit ",
	} {
		link := filepath.Join(bin, name)
		if dest, err := os.Readlink(link); err != nil || dest != "tinit" {
			t.Errorf("%s: %q %v, want a symlink to tinit", link, dest, err)
			continue
		}
		out, err := exec.Command(link, "--version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), want) {
			t.Errorf("%s --version: %q %v, want %q...", name, out, err, want)
		}
	}
}
