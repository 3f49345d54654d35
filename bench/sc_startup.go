package main

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// startupRound times `INIT -- true` (plain mode) startupReps times per
// init, interleaving the inits within the batch too. The round's sample
// per init is the batch median; the overhead is that minus the baseline's
// median (true run directly) from the same batch, so both see the same
// state of the machine.
func (h *harness) startupRound(inits []initSpec, round int) {
	times := map[string][]float64{}
	for rep := 0; rep < h.cfg.StartupReps && !h.stopped(); rep++ {
		for _, in := range rotate(inits, rep) {
			ms, err := h.timeTrue(in)
			if err != nil {
				h.res.fail("startup", in.Name, round, err)
				continue
			}
			times[in.Name] = append(times[in.Name], ms)
		}
	}
	base, haveBase := times[nameBaseline]
	for _, in := range inits {
		if len(times[in.Name]) == 0 {
			continue
		}
		s := sample{"startup.wall": median(times[in.Name])}
		if haveBase && !in.isBaseline() {
			s["startup.overhead"] = s["startup.wall"] - median(base)
		}
		h.res.add(in.Name, s)
	}
}

// timeTrue runs `INIT -- true` to completion and returns the wall time
// from just before fork to just after wait4 returns, in ms.
func (h *harness) timeTrue(in initSpec) (float64, error) {
	argv := in.argv(plain, 0, []string{h.env.truePath})
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
