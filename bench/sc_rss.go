package main

import "time"

// rssSettle is how long the init idles before its memory is read.
const rssSettle = 200 * time.Millisecond

// rss reads VmRSS, VmHWM and RssAnon of the init, PID 1 of a new
// namespace, while its child blocks: what an idle init costs a container
// for its whole life. VmHWM is the peak since its exec, startup included.
// It measures again with GOMAXPROCS 1, 8 and 64 in the environment, as a
// test job's settings or a host of many CPUs would size a Go init.
func (h *harness) rss(in initSpec) (sample, error) {
	s, err := h.rssWith(in, nil)
	if err != nil {
		return nil, err
	}
	out := sample{"rss.vmrss": s["VmRSS"], "rss.vmhwm": s["VmHWM"], "rss.anon": s["RssAnon"]}
	for _, n := range []string{"1", "8", "64"} {
		s, err := h.rssWith(in, []string{"GOMAXPROCS=" + n})
		if err != nil {
			return nil, err
		}
		out["rss.vmrss_gomaxprocs"+n], out["rss.anon_gomaxprocs"+n] = s["VmRSS"], s["RssAnon"]
	}
	return out, nil
}

// rssWith measures one idle init with extra environment, in MiB.
func (h *harness) rssWith(in initSpec, env []string) (map[string]float64, error) {
	r, err := h.readyTargetEnv(in, rssSettle, env)
	if err != nil {
		return nil, err
	}
	defer r.close()
	out := map[string]float64{}
	for _, field := range []string{"VmRSS", "VmHWM", "RssAnon"} {
		kib, err := statusKiB(r.pid, field)
		if err != nil {
			return nil, err
		}
		out[field] = float64(kib) / 1024
	}
	return out, nil
}

// readyTarget starts the init as PID 1 of a new namespace with the
// blocking wl-target child, waits for the child to say ready, then lets
// the init settle. The caller closes the run.
func (h *harness) readyTarget(in initSpec, settle time.Duration) (*run, error) {
	return h.readyTargetEnv(in, settle, nil)
}

// readyTargetEnv is readyTarget with extra environment for the init.
func (h *harness) readyTargetEnv(in initSpec, settle time.Duration, env []string) (*run, error) {
	r, err := h.env.launchEnv(in.argv(pid1, 0, h.env.workload(wlTarget)), pid1, env)
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
