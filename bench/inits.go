package main

import (
	"os"
	"time"
)

// mode is how an init is started.
type mode int

const (
	// plain: the init is an ordinary child of the harness and, when it can
	// be one, a child subreaper.
	plain mode = iota
	// pid1: the init is PID 1 of a fresh pid and mount namespace.
	pid1
)

func (m mode) String() string {
	if m == pid1 {
		return "pid1"
	}
	return "subreaper"
}

// Names of the inits the harness knows. baseline is no init at all: the
// workload itself, started the same way.
const (
	nameTinit      = "tinit"
	nameTini       = "tini"
	nameTiniStatic = "tini-static"
	nameDumbInit   = "dumb-init"
	nameCatatonit  = "catatonit"
	nameBaseline   = "baseline"
)

// initSpec is one init under test and how its command line is built.
type initSpec struct {
	Name string
	Path string
	// subreaperFlags are added in plain mode: tini warns and does not
	// reap orphans unless told to be a subreaper.
	subreaperFlags []string
	// dashDash puts "--" between the init's flags and the command.
	dashDash bool
	// graceFlag builds the flag setting the SIGTERM-to-SIGKILL grace, for
	// inits that have one.
	graceFlag func(time.Duration) []string
}

func (s initSpec) isBaseline() bool { return s.Name == nameBaseline }

// argv is the command line running cmd under the init. grace is passed to
// inits that take one when it is non-zero.
func (s initSpec) argv(m mode, grace time.Duration, cmd []string) []string {
	if s.isBaseline() {
		return cmd
	}
	argv := []string{s.Path}
	if m == plain {
		argv = append(argv, s.subreaperFlags...)
	}
	if grace > 0 && s.graceFlag != nil {
		argv = append(argv, s.graceFlag(grace)...)
	}
	if s.dashDash {
		argv = append(argv, "--")
	}
	return append(argv, cmd...)
}

// knownInits lists every init in report order; tinitPath is the -tinit flag.
func knownInits(tinitPath string) []initSpec {
	tiniS := []string{"-s"}
	return []initSpec{
		{Name: nameTinit, Path: tinitPath, dashDash: true, graceFlag: func(d time.Duration) []string {
			return []string{"--grace", d.String()}
		}},
		{Name: nameTini, Path: "/usr/bin/tini", subreaperFlags: tiniS, dashDash: true},
		{Name: nameTiniStatic, Path: "/usr/bin/tini-static", subreaperFlags: tiniS, dashDash: true},
		{Name: nameDumbInit, Path: "/usr/bin/dumb-init"},
		{Name: nameCatatonit, Path: "/usr/bin/catatonit", dashDash: true},
		{Name: nameBaseline},
	}
}

// selectInits keeps the inits named in only (all when empty) and splits
// them into those present and those whose binary is missing.
func selectInits(all []initSpec, only []string) (present []initSpec, missing []string) {
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	for _, s := range all {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		if !s.isBaseline() {
			if st, err := os.Stat(s.Path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				missing = append(missing, s.Name)
				continue
			}
		}
		present = append(present, s)
	}
	return present, missing
}
