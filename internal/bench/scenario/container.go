package scenario

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/tinit-dev/tinit/internal/bench/harness"
	"github.com/tinit-dev/tinit/internal/bench/report"
	"github.com/tinit-dev/tinit/internal/podman"
	"github.com/tinit-dev/tinit/internal/workload"
)

// containerInits are the inits podman can use: --init-path wants a static
// binary.
var containerInits = []string{report.Tinit, harness.NameCatatonit, harness.NameTiniStatic}

// containerTrue is where the Go floor (bench/floor, static, which exits 0
// without arguments) is in the image: its true(1).
const containerTrue = "/true"

// containerStart times a real container start, the one a CI user waits
// for: `podman run --rm --init --init-path INIT IMAGE CMD`, from the start
// of podman to its exit, where IMAGE holds nothing but a static true
// (the Go floor, which exits 0 without arguments) and CMD is that true.
// It needs root, podman and runc; where they are missing it is left out
// with a note.
func containerStart() harness.Scenario {
	const name = "container-start"
	var c struct {
		pm    *podman.Podman
		image string
		err   error
		done  bool
	}
	setup := func(h *harness.Harness) error {
		if c.done {
			return c.err
		}
		c.done = true
		c.pm, c.image, c.err = newImage(h)
		return c.err
	}
	return harness.Scenario{
		Name: name, SkipBaseline: true,
		Reps: func(cfg harness.Config) int { return cfg.ContainerReps },
		Metrics: []report.Metric{
			{Key: "container.start", Scenario: name, Label: "podman run --rm --init --init-path INIT IMAGE true, wall", Unit: "ms", Digits: 1, Ratio: true,
				Target: report.Target{Kind: report.WithinNoise, Peer: harness.NameCatatonit}},
		},
		Need: setup,
		Run: func(h *harness.Harness, in harness.InitSpec) (report.Sample, error) {
			if !slices.Contains(containerInits, in.Name) {
				return report.Sample{}, nil
			}
			ms, err := runContainer(c.pm, c.image, in.Path)
			if err != nil {
				return nil, err
			}
			return report.Sample{"container.start": ms}, nil
		},
	}
}

// newImage sets podman up in the run's directory and imports the image.
func newImage(h *harness.Harness) (*podman.Podman, string, error) {
	if os.Geteuid() != 0 {
		return nil, "", errors.New("podman with runc needs root here")
	}
	if h.Floor == "" {
		return nil, "", errors.New("no Go floor was built to be the image's true")
	}
	dir := filepath.Join(h.Tmp, "podman")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, "", err
	}
	pm, err := podman.New(dir)
	if err != nil {
		return nil, "", err
	}
	h.AtEnd(func() { pm.Close() })
	image := "localhost/tinit-bench:" + strconv.Itoa(os.Getpid())
	if err := pm.Import(image, map[string]string{containerTrue[1:]: h.Floor}); err != nil {
		return nil, "", err
	}
	return pm, image, nil
}

// containerSeq makes container names unique within the run.
var containerSeq int

// runContainer runs one container with init and returns the wall time in
// ms.
func runContainer(pm *podman.Podman, image, init string) (float64, error) {
	containerSeq++
	name := fmt.Sprintf("tinit-bench-%d-%d", os.Getpid(), containerSeq)
	defer func() {
		pm.Remove(name)
		podman.RemoveCgroup(name, 10*time.Second)
	}()
	args := append(podman.RunArgs(name, init), image)
	cmd := pm.Command(append(args, containerTrue)...)
	t0 := workload.MonoNow()
	out, err := cmd.CombinedOutput()
	t1 := workload.MonoNow()
	if err != nil {
		return 0, fmt.Errorf("podman run with %s: %v: %s", init, err, out)
	}
	return nsSpan(t0, t1), nil
}
