package main

import (
	"os"
	"time"
)

// samplePeriod is the storm sampler's period. A listing of /proc costs
// tens of microseconds plus a few per process in it, so 1 ms keeps the
// sampler to a few per cent of a core while a zombie lives long enough
// (tens of µs at least) to be seen when reaping falls behind.
const samplePeriod = time.Millisecond

// sampler counts, every samplePeriod, the zombies whose parent is PID 1:
// orphans that have died and wait for the init to reap them.
type sampler struct {
	quit chan struct{}
	done chan struct{}
	peak int
	sum  int
	n    int
}

func startSampler() *sampler {
	s := &sampler{quit: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *sampler) run() {
	defer close(s.done)
	var rd statReader
	t := time.NewTicker(samplePeriod)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		z, _, err := countZombies(&rd)
		if err != nil {
			continue
		}
		s.n++
		s.sum += z
		s.peak = max(s.peak, z)
	}
}

// stop ends sampling and returns the peak, the mean and the sample count.
func (s *sampler) stop() (peak int, mean float64, samples int) {
	close(s.quit)
	<-s.done
	if s.n > 0 {
		mean = float64(s.sum) / float64(s.n)
	}
	return s.peak, mean, s.n
}

// countZombies lists the caller's /proc and returns the zombies whose
// parent is PID 1 and the number of processes other than the caller and
// PID 1. A process that vanishes between the listing and the read of its
// stat file was reaped meanwhile and is not counted.
func countZombies(rd *statReader) (zombies, others int, err error) {
	pids, err := listPids()
	if err != nil {
		return 0, 0, err
	}
	self := os.Getpid()
	for _, pid := range pids {
		if pid == self || pid == 1 {
			continue
		}
		st, err := rd.read(pid)
		if err != nil {
			continue
		}
		others++
		if st.state == 'Z' && st.ppid == 1 {
			zombies++
		}
	}
	return zombies, others, nil
}
