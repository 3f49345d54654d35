package procfs

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// IsGo reports whether pid runs a Go program: its executable (read through
// /proc/PID/exe, which needs the rights of a ptrace read) is an ELF file
// with a .go.buildinfo section, which every Go binary has, stripped ones
// included. It reads the section headers only, not the whole file.
func (fs *FS) IsGo(pid int) (bool, error) {
	f, err := fs.open(fs.pidPath(pid, "exe"), unix.O_RDONLY)
	if err != nil {
		return false, err
	}
	defer fs.close(f)
	return hasSection(f.fd, ".go.buildinfo")
}

// Limits that keep a hostile or broken file from costing much.
const (
	maxSections = 1 << 12
	maxShstrtab = 1 << 16
)

// hasSection reports whether the 64-bit little-endian ELF file fd is has a
// section called name; false for anything else.
func hasSection(fd int, name string) (bool, error) {
	var hdr [64]byte
	if n, err := unix.Pread(fd, hdr[:], 0); err != nil || n < len(hdr) {
		return false, err
	}
	const (
		elfClass64  = 2
		elfDataLSB  = 1
		shentsize64 = 64
	)
	if string(hdr[:4]) != "\x7fELF" || hdr[4] != elfClass64 || hdr[5] != elfDataLSB {
		return false, nil
	}
	le := binary.LittleEndian
	shoff := le.Uint64(hdr[0x28:])
	shentsize := le.Uint16(hdr[0x3a:])
	shnum := le.Uint16(hdr[0x3c:])
	shstrndx := le.Uint16(hdr[0x3e:])
	if shentsize != shentsize64 || shnum == 0 || shnum > maxSections || shstrndx >= shnum {
		return false, nil
	}
	sh := make([]byte, int(shnum)*shentsize64)
	if n, err := unix.Pread(fd, sh, int64(shoff)); err != nil || n < len(sh) {
		return false, fmt.Errorf("read section headers: %w", err)
	}
	str := sh[int(shstrndx)*shentsize64:]
	stroff, strsize := le.Uint64(str[0x18:]), le.Uint64(str[0x20:])
	if strsize == 0 || strsize > maxShstrtab {
		return false, nil
	}
	names := make([]byte, strsize)
	if n, err := unix.Pread(fd, names, int64(stroff)); err != nil || n < len(names) {
		return false, fmt.Errorf("read section names: %w", err)
	}
	for i := 0; i < int(shnum); i++ {
		off := le.Uint32(sh[i*shentsize64:])
		if uint64(off) >= strsize {
			continue
		}
		s := names[off:]
		if end := bytes.IndexByte(s, 0); end >= 0 && string(s[:end]) == name {
			return true, nil
		}
	}
	return false, nil
}
