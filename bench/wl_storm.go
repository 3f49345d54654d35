package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tinit-dev/tinit/internal/orphan"
	"golang.org/x/sys/unix"
)

// stormResult is what the storm generator reports to the harness.
type stormResult struct {
	Orphans     int     `json:"orphans"`
	SpawnNs     int64   `json:"spawn_ns"` // making every orphan
	WallNs      int64   `json:"wall_ns"`  // first spawn until no orphan is left
	Drained     bool    `json:"drained"`  // false: orphans were still unreaped at the deadline
	Samples     int     `json:"samples"`
	PeakZombies int     `json:"peak_zombies"`
	MeanZombies float64 `json:"mean_zombies"`
	ForkRetries int     `json:"fork_retries"`
}

// drainWait bounds how long the generator waits for the init to reap the
// last orphans after the spawning ends.
const drainWait = 10 * time.Second

// runStorm makes N orphans as fast as it can while a sampler counts the
// zombies waiting for the init. It runs as the init's child in a fresh pid
// namespace, so every orphan is reparented to the init (PID 1) at once. As
// the no-init baseline it is PID 1 itself and reaps them in line.
func runStorm(args []string) error {
	n, err := oneInt(args)
	if err != nil {
		return err
	}
	rep, err := openReport()
	if err != nil {
		return err
	}
	s := startSampler()
	start := monoNow()
	retries, err := spawnStorm(n)
	spawnEnd := monoNow()
	peak, mean, samples := s.stop()
	if err != nil {
		return err
	}
	drained := waitDrained(drainWait)
	return rep.result(stormResult{
		Orphans: n, SpawnNs: spawnEnd - start, WallNs: monoNow() - start,
		Drained: drained, Samples: samples, PeakZombies: peak,
		MeanZombies: mean, ForkRetries: retries,
	})
}

// spawnStorm makes n orphans, one at a time: Spawn forks a middle process
// that forks the orphan, and both exit at once.
func spawnStorm(n int) (retries int, err error) {
	pid1 := os.Getpid() == 1
	for i := 0; i < n; i++ {
		mid, err := orphan.Spawn()
		if errors.Is(err, unix.EAGAIN) {
			// Out of pids or tasks: a slow reaper. Counted, not fatal.
			retries++
			i--
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			return retries, fmt.Errorf("spawn orphan %d: %w", i, err)
		}
		if err := waitMiddle(mid, pid1); err != nil {
			return retries, err
		}
	}
	if pid1 {
		return retries, reapAll()
	}
	return retries, nil
}

// waitMiddle reaps the middle process. As PID 1 (the baseline) the
// generator is also the orphans' reaper, so it waits for any child and
// reaps orphans as they come until the middle is among them.
func waitMiddle(mid int, pid1 bool) error {
	target := mid
	if pid1 {
		target = -1
	}
	var ws unix.WaitStatus
	for {
		pid, err := unix.Wait4(target, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for middle %d: %w", mid, err)
		}
		if pid == mid {
			return nil
		}
	}
}

// reapAll reaps every child left, for the baseline that is its own init.
func reapAll() error {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(-1, &ws, 0, nil)
		switch err {
		case nil, unix.EINTR:
		case unix.ECHILD:
			return nil
		default:
			return fmt.Errorf("reap: %w", err)
		}
	}
}

// waitDrained polls /proc until no process but the generator and PID 1 is
// left in the namespace, i.e. the init has reaped every orphan.
func waitDrained(limit time.Duration) bool {
	var rd statReader
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, others, err := countZombies(&rd); err == nil && others == 0 {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}
