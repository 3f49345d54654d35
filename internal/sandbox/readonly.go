package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// readOnly makes the mount at dst and every mount below it read-only.
// A bind remount (MS_REMOUNT|MS_BIND|MS_RDONLY) changes one mount only,
// so that `--ro-bind / /` would leave /home or /var writable wherever they
// are mounts of their own; mount_setattr(2) with AT_RECURSIVE (Linux 5.12)
// changes the whole tree at once. Where it is missing (ENOSYS), each
// mount below dst is remounted in turn.
func readOnly(dst string) error {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	err := unix.MountSetattr(unix.AT_FDCWD, dst, unix.AT_RECURSIVE, &attr)
	if !errors.Is(err, unix.ENOSYS) {
		if err != nil {
			return fmt.Errorf("mount_setattr read-only: %w", err)
		}
		return nil
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	for _, m := range mountsBelow(b, dst) {
		// In a user namespace the flags a mount got from the caller's
		// namespace are locked: a remount must repeat them or fail.
		flags := unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | m.flags
		if err := unix.Mount("", m.point, "", uintptr(flags), ""); err != nil {
			return fmt.Errorf("remount %s read-only: %w", m.point, err)
		}
	}
	return nil
}

// mountEntry is one line of /proc/self/mountinfo: where, and the flags of
// its per-mount options that a remount keeps.
type mountEntry struct {
	point string
	flags int
}

// mountFlags are the per-mount options (mountinfo's sixth field) that a
// remount must repeat.
var mountFlags = map[string]int{
	"nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "noexec": unix.MS_NOEXEC,
	"noatime": unix.MS_NOATIME, "nodiratime": unix.MS_NODIRATIME,
	"relatime": unix.MS_RELATIME, "strictatime": unix.MS_STRICTATIME,
}

// mountsBelow lists the mounts at dir or below it, in mountinfo's order
// (parents before children), from the contents of a mountinfo file.
func mountsBelow(mountinfo []byte, dir string) []mountEntry {
	var out []mountEntry
	for _, line := range bytes.Split(mountinfo, []byte{'\n'}) {
		f := strings.Fields(string(line))
		if len(f) < 6 {
			continue
		}
		point := unescapeOctal(f[4])
		if !below(point, dir) {
			continue
		}
		m := mountEntry{point: point}
		for _, o := range strings.Split(f[5], ",") {
			m.flags |= mountFlags[o]
		}
		out = append(out, m)
	}
	return out
}

// unescapeOctal undoes the kernel's escapes in mountinfo paths: space, tab,
// newline and backslash are written as \040, \011, \012 and \134.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
