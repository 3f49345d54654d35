package main

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
	return h.timeArgv(in.argv(plain, 0, []string{h.env.truePath}))
}
