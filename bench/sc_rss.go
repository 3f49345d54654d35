package main

import "time"

// rssSettle is how long the init idles before its memory is read.
const rssSettle = 200 * time.Millisecond

// rss reads VmRSS and VmHWM of the init, PID 1 of a new namespace, while
// its child blocks: what an idle init costs a container for its whole
// life. VmHWM is the peak since its exec, startup included.
func (h *harness) rss(in initSpec) (sample, error) {
	r, err := h.readyTarget(in, rssSettle)
	if err != nil {
		return nil, err
	}
	defer r.close()
	rss, err := statusKiB(r.pid, "VmRSS")
	if err != nil {
		return nil, err
	}
	hwm, err := statusKiB(r.pid, "VmHWM")
	if err != nil {
		return nil, err
	}
	return sample{"rss.vmrss": float64(rss) / 1024, "rss.vmhwm": float64(hwm) / 1024}, nil
}

// readyTarget starts the init as PID 1 of a new namespace with the
// blocking wl-target child, waits for the child to say ready, then lets
// the init settle. The caller closes the run.
func (h *harness) readyTarget(in initSpec, settle time.Duration) (*run, error) {
	r, err := h.env.launch(in.argv(pid1, 0, h.env.workload(wlTarget)), pid1)
	if err != nil {
		return nil, err
	}
	if _, err := r.expect("ready", readyTimeout); err != nil {
		r.close()
		return nil, err
	}
	time.Sleep(settle)
	return r, nil
}
