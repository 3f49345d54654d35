package main

import (
	"debug/elf"
	"fmt"
	"os"
)

// size records each init's file size and whether it is a static ELF (no
// PT_INTERP program header, so no dynamic loader and no shared C library
// to count). A dynamic binary's size leaves out the libraries it loads.
func (h *harness) size(in initSpec) (sample, error) {
	st, err := os.Stat(in.Path)
	if err != nil {
		return nil, fmt.Errorf("stat: %w", err)
	}
	static, err := isStaticELF(in.Path)
	if err != nil {
		return nil, err
	}
	s := sample{"size.mib": float64(st.Size()) / (1 << 20), "size.static": 0}
	if static {
		s["size.static"] = 1
	}
	return s, nil
}

func isStaticELF(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("read ELF %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}
