package harness

import (
	"os"
	"time"

	"github.com/tinit-dev/tinit/internal/bench/report"
)

// Mode is how an init is started.
type Mode int

const (
	// Plain: the init is an ordinary child of the harness and, when it
	// can be one, a child subreaper.
	Plain Mode = iota
	// PID1: the init is PID 1 of a fresh pid and mount namespace.
	PID1
)

func (m Mode) String() string {
	if m == PID1 {
		return "pid1"
	}
	return "subreaper"
}

// Names of the inits the harness knows, besides report.Tinit and
// report.Baseline (no init at all: the workload itself, started the same
// way).
const (
	NameTini       = "tini"
	NameTiniStatic = "tini-static"
	NameDumbInit   = "dumb-init"
	NameCatatonit  = "catatonit"
)

// InitSpec is one init under test and how its command line is built.
type InitSpec struct {
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

// IsBaseline reports whether s is no init at all.
func (s InitSpec) IsBaseline() bool { return s.Name == report.Baseline }

// IsTinit reports whether s is tinit.
func (s InitSpec) IsTinit() bool { return s.Name == report.Tinit }

// Argv is the command line running cmd under the init in mode m. grace
// is passed to inits that take one when it is non-zero.
func (s InitSpec) Argv(m Mode, grace time.Duration, cmd []string) []string {
	if s.IsBaseline() {
		return cmd
	}
	argv := []string{s.Path}
	if m == Plain {
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

// KnownInits lists every init in report order; tinitPath is tinit's.
func KnownInits(tinitPath string) []InitSpec {
	tiniS := []string{"-s"}
	return []InitSpec{
		{Name: report.Tinit, Path: tinitPath, dashDash: true, graceFlag: func(d time.Duration) []string {
			return []string{"--grace", d.String()}
		}},
		{Name: NameTini, Path: "/usr/bin/tini", subreaperFlags: tiniS, dashDash: true},
		{Name: NameTiniStatic, Path: "/usr/bin/tini-static", subreaperFlags: tiniS, dashDash: true},
		{Name: NameDumbInit, Path: "/usr/bin/dumb-init"},
		{Name: NameCatatonit, Path: "/usr/bin/catatonit", dashDash: true},
		{Name: report.Baseline},
	}
}

// InitNames lists the names of KnownInits.
func InitNames() []string {
	var names []string
	for _, s := range KnownInits("") {
		names = append(names, s.Name)
	}
	return names
}

// SelectInits keeps the inits named in only (all when empty) and splits
// them into those present and those whose binary is missing.
func SelectInits(all []InitSpec, only []string) (present []InitSpec, missing []string) {
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	for _, s := range all {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		if !s.IsBaseline() {
			if st, err := os.Stat(s.Path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				missing = append(missing, s.Name)
				continue
			}
		}
		present = append(present, s)
	}
	return present, missing
}

// Rotate returns inits starting at position k: over as many rounds as
// there are inits, each one runs in every position once, so a slow phase
// of the machine does not always hit the same init.
func Rotate(inits []InitSpec, k int) []InitSpec {
	if len(inits) == 0 {
		return nil
	}
	k %= len(inits)
	return append(append([]InitSpec{}, inits[k:]...), inits[:k]...)
}
