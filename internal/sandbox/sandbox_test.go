package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUserNSCauseNamesTheSetting(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		sysctls map[string]string
		want    string
	}{
		{"limit zero", unix.ENOSPC, map[string]string{"user.max_user_namespaces": "0"}, "user.max_user_namespaces is 0"},
		{"limit reached", unix.ENOSPC, map[string]string{"user.max_user_namespaces": "5"}, "user.max_user_namespaces is 5"},
		{"debian switch", unix.EPERM, map[string]string{"kernel.unprivileged_userns_clone": "0", "kernel.apparmor_restrict_unprivileged_userns": "1"}, "kernel.unprivileged_userns_clone is 0"},
		{"apparmor", unix.EACCES, map[string]string{"kernel.unprivileged_userns_clone": "1", "kernel.apparmor_restrict_unprivileged_userns": "1"}, "kernel.apparmor_restrict_unprivileged_userns is 1"},
		{"neither", unix.EPERM, map[string]string{}, "a seccomp filter"},
		{"no kernel support", unix.EINVAL, nil, "CONFIG_USER_NS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &NamespaceError{UserNS: true, Err: tt.err, sysctl: func(n string) (string, bool) {
				v, ok := tt.sysctls[n]
				return v, ok
			}}
			got := e.Error()
			if !strings.Contains(got, tt.want) || strings.Contains(got, "\n") || !strings.HasPrefix(got, "cannot create a user namespace: ") {
				t.Errorf("Error() = %q, want one line naming %q", got, tt.want)
			}
		})
	}
}

func TestMountsBelow(t *testing.T) {
	info := "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda rw\n" +
		"23 22 0:22 / /home rw,nosuid,nodev shared:2 - ext4 /dev/sdb rw\n" +
		"24 22 0:23 / /home2 rw,noexec - tmpfs tmpfs rw\n" +
		"25 23 0:24 / /home/a\\040b ro,nosuid - tmpfs tmpfs rw\n"
	got := mountsBelow([]byte(info), "/home")
	want := []mountEntry{{"/home", unix.MS_NOSUID | unix.MS_NODEV}, {"/home/a b", unix.MS_NOSUID}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("mountsBelow(/home) = %v, want %v", got, want)
	}
	if n := len(mountsBelow([]byte(info), "/")); n != 4 {
		t.Errorf("mountsBelow(/) lists %d mounts, want 4", n)
	}
}

func TestBindCheck(t *testing.T) {
	tests := []struct {
		b    Bind
		want string // "" for none
	}{
		{Bind{Src: "/etc", Dst: "/etc"}, ""},
		{Bind{Src: "/etc", Dst: "/tmp/new/dir"}, ""},
		{Bind{Src: "/etc/hostname", Dst: "/tmp"}, "is the private /tmp"},
		{Bind{Src: "etc", Dst: "/etc"}, "not an absolute clean path"},
		{Bind{Src: "/etc/../etc", Dst: "/etc"}, "not an absolute clean path"},
		{Bind{Src: "/nonexistent-x", Dst: "/etc"}, "source: /nonexistent-x: no such file"},
		{Bind{Src: "/etc", Dst: "/nonexistent-x"}, "destination: /nonexistent-x: no such file"},
		{Bind{Src: "/etc/hostname", Dst: "/etc"}, "both be directories or both files"},
		{Bind{Src: "/etc", Dst: "/"}, "destination / is the sandbox's root"},
		{Bind{Src: "/", Dst: "/"}, ""},
		{Bind{Src: "/etc", Dst: "/proc"}, "destination /proc is the sandbox's fresh /proc"},
		{Bind{Src: "/proc/sys", Dst: "/proc/sys"}, ""},
	}
	for _, tt := range tests {
		err := tt.b.Check()
		if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v.Check() = %v, want %q", tt.b, err, tt.want)
		}
	}
}

func TestBelow(t *testing.T) {
	for _, tt := range []struct {
		path, dir string
		want      bool
	}{{"/tmp", "/tmp", true}, {"/tmp/x", "/tmp", true}, {"/tmpx", "/tmp", false}, {"/x", "/", true}} {
		if got := below(tt.path, tt.dir); got != tt.want {
			t.Errorf("below(%q, %q) = %v, want %v", tt.path, tt.dir, got, tt.want)
		}
	}
}

// TestSpecCheckKeptDir: a destination in the working directory kept from
// the caller's /tmp is in the caller's directory, where tinit makes
// nothing, so it must exist; elsewhere in /tmp tinit makes it.
func TestSpecCheckKeptDir(t *testing.T) {
	dir := t.TempDir() // below /tmp where TMPDIR is unset
	if !below(dir, privateTmp) {
		t.Skipf("the test's temporary directory %s is not in /tmp", dir)
	}
	if err := os.Mkdir(filepath.Join(dir, "there"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		s    Spec
		want string
	}{
		{"missing in the kept dir", Spec{Dir: dir, Binds: []Bind{{Src: "/etc", Dst: dir + "/new"}}},
			"it is in the working directory " + dir + ", which the sandbox keeps"},
		{"there in the kept dir", Spec{Dir: dir, Binds: []Bind{{Src: "/etc", Dst: dir + "/there"}}}, ""},
		{"elsewhere in /tmp", Spec{Dir: dir, Binds: []Bind{{Src: "/etc", Dst: "/tmp/tinit-made-" + filepath.Base(dir)}}}, ""},
		{"the kept dir covered", Spec{Dir: dir, Binds: []Bind{{Src: "/etc", Dst: "/tmp/x"}, {Src: dir, Dst: dir}, {Src: "/etc", Dst: dir + "/new"}}}, ""},
		{"cwd /tmp itself", Spec{Dir: "/tmp", Binds: []Bind{{Src: "/etc", Dst: "/tmp/tinit-made-" + filepath.Base(dir)}}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Check()
			if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check() = %v, want %q", err, tt.want)
			}
		})
	}
}
