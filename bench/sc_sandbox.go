package main

import (
	"fmt"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// bwrapArgs is the bubblewrap command `tinit sandbox -- true` is compared
// with: new pid and user namespaces, the root bound as it is, a fresh
// /proc, which is what tinit sandbox does by default (plus its mount
// namespace, private /tmp and PID-1 init).
var bwrapArgs = []string{"--unshare-pid", "--unshare-user", "--dev-bind", "/", "/", "--proc", "/proc"}

// sandboxRound times `tinit sandbox -- true` and bwrap's equivalent
// StartupReps times each, alternating, as the startup scenario does: the
// round's sample is each batch's median, and their ratio, from the same
// batch, so both see the same state of the machine.
func (h *harness) sandboxRound(inits []initSpec, round int) {
	var tinit *initSpec
	for i := range inits {
		if inits[i].Name == nameTinit {
			tinit = &inits[i]
		}
	}
	if tinit == nil {
		return
	}
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		h.res.fail("sandbox", nameTinit, round, fmt.Errorf("bwrap (Debian package bubblewrap) is missing: %w", err))
		return
	}
	cmds := [][]string{
		{tinit.Path, "sandbox", "--", h.env.truePath},
		append(append([]string{bwrap}, bwrapArgs...), h.env.truePath),
	}
	times := make([][]float64, len(cmds))
	for rep := 0; rep < h.cfg.StartupReps && !h.stopped(); rep++ {
		for k := range cmds {
			i := (k + rep) % len(cmds)
			ms, err := h.timeArgv(cmds[i])
			if err != nil {
				h.res.fail("sandbox", nameTinit, round, err)
				return
			}
			times[i] = append(times[i], ms)
		}
	}
	if len(times[0]) == 0 {
		return
	}
	t, b := median(times[0]), median(times[1])
	h.res.add(nameTinit, sample{"sandbox.wall": t, "sandbox.bwrap": b, "sandbox.ratio": t / b})
	fmt.Fprintf(h.progress, "sandbox: tinit sandbox -- true %.2f ms, bwrap %.2f ms, ratio %.2f\n", t, b, t/b)
}

// timeArgv runs argv to completion, its output to /dev/null, and returns
// the wall time from just before fork to just after wait4, in ms.
func (h *harness) timeArgv(argv []string) (float64, error) {
	dn := h.env.devnull.Fd()
	attr := &syscall.ProcAttr{Files: []uintptr{dn, dn, dn}, Env: h.env.environ,
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}}
	t0 := monoNow()
	pid, err := syscall.ForkExec(argv[0], argv, attr)
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	var ws unix.WaitStatus
	for {
		_, err = unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	t1 := monoNow()
	if err != nil {
		return 0, fmt.Errorf("wait4 %d: %w", pid, err)
	}
	if code := exitCode(ws); code != 0 {
		return 0, fmt.Errorf("%v exited %d", argv, code)
	}
	return float64(t1-t0) / 1e6, nil
}
