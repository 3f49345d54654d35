package workload

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tinit-dev/tinit/internal/orphan"
	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

func init() {
	Register("storm", storm)
	Register("churn", churn)
	Register("chain", chain)
	Register("crowd", crowd)
}

// StormResult is what the storm workload says in its "result" line.
type StormResult struct {
	Orphans     int     `json:"orphans"`
	SpawnNs     int64   `json:"spawn_ns"` // making every orphan
	WallNs      int64   `json:"wall_ns"`  // first spawn until no orphan is left
	Drained     bool    `json:"drained"`  // false: orphans were still unreaped at the deadline
	Samples     int     `json:"samples"`
	PeakZombies int     `json:"peak_zombies"`
	MeanZombies float64 `json:"mean_zombies"`
	ForkRetries int     `json:"fork_retries"`
}

// ExitZombiesLeft is the storm's exit code when orphans were still
// unreaped drainWait after the last was made.
const ExitZombiesLeft = 99

// drainWait bounds how long the storm waits for its reaper to reap the
// last orphans.
const drainWait = 10 * time.Second

// samplePeriod is the storm's zombie sampler's period. A listing of a pid
// namespace's /proc costs tens of microseconds plus a few per process, so
// 1 ms keeps the sampler to a few per cent of a core, while a zombie lives
// long enough (tens of µs at least) to be seen when reaping falls behind.
const samplePeriod = time.Millisecond

// storm N [CODE]: make N orphans, one at a time (orphan.Spawn: a middle
// process forks the orphan and both exit at once, so each orphan is
// reparented to the reaper, the init), while a sampler counts every 1 ms
// the zombies waiting for the reaper. Then wait until the reaper has
// reaped them all, say "result JSON" (a StormResult) and exit CODE
// (default 0), or ExitZombiesLeft if orphans were left after 10 s. The
// reaper is the parent, or the storm itself as PID 1 (the benchmark's
// no-init baseline), which then reaps each orphan as it waits for its
// middle process.
func storm(args []string) int {
	if !needArgs("storm", args, 1, "N [CODE]") {
		return ExitUsage
	}
	n, code := atoi(args[0]), atoi(arg(args, 1, "0"))
	reaper := os.Getppid()
	if os.Getpid() == 1 {
		reaper = 1
	}
	s := startSampler(reaper)
	start := MonoNow()
	retries, err := spawnStorm(n, reaper == 1 && os.Getpid() == 1)
	spawnEnd := MonoNow()
	res := StormResult{Orphans: n, SpawnNs: spawnEnd - start, ForkRetries: retries}
	res.PeakZombies, res.MeanZombies, res.Samples = s.stop()
	if err != nil {
		return fail("storm", err)
	}
	res.Drained = waitDrained(reaper, drainWait)
	res.WallNs = MonoNow() - start
	b, _ := json.Marshal(res)
	if err := Say("result", string(b)); err != nil {
		return fail("storm", err)
	}
	if !res.Drained {
		return ExitZombiesLeft
	}
	return code
}

// spawnStorm makes n orphans, one at a time, and reaps each middle. As
// PID 1 the storm is also the orphans' reaper: it waits for any child, so
// orphans are reaped as they come, until the middle is among them.
func spawnStorm(n int, ownReaper bool) (retries int, err error) {
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
		if err := waitFor(mid, ownReaper); err != nil {
			return retries, err
		}
	}
	if ownReaper {
		return retries, reapAll()
	}
	return retries, nil
}

// waitFor reaps pid, and with any set every other child that exits first.
func waitFor(pid int, any bool) error {
	target := pid
	if any {
		target = -1
	}
	var ws unix.WaitStatus
	for {
		got, err := unix.Wait4(target, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for %d: %w", pid, err)
		}
		if got == pid {
			return nil
		}
	}
}

// reapAll reaps every child left.
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

// sampler counts, every samplePeriod, the zombies whose parent is the
// reaper: orphans that have died and wait to be reaped.
type sampler struct {
	reaper         int
	quit, done     chan struct{}
	peak, sum, num int
}

func startSampler(reaper int) *sampler {
	s := &sampler{reaper: reaper, quit: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *sampler) run() {
	defer close(s.done)
	fs := procfs.New(nil)
	t := time.NewTicker(samplePeriod)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		z, _, err := orphansOf(fs, s.reaper)
		if err != nil {
			continue
		}
		s.num++
		s.sum += z
		s.peak = max(s.peak, z)
	}
}

// stop ends sampling and returns the peak, the mean and the sample count.
func (s *sampler) stop() (peak int, mean float64, samples int) {
	close(s.quit)
	<-s.done
	if s.num > 0 {
		mean = float64(s.sum) / float64(s.num)
	}
	return s.peak, mean, s.num
}

// orphansOf counts the children of reaper other than the caller: zombies,
// and all of them, live or dead.
func orphansOf(fs *procfs.FS, reaper int) (zombies, all int, err error) {
	me := os.Getpid()
	err = fs.Scan(func(st procfs.Stat) {
		if st.PPid != reaper || st.Pid == me {
			return
		}
		all++
		if st.State == 'Z' {
			zombies++
		}
	})
	return zombies, all, err
}

// waitDrained polls /proc until the reaper has no child but the caller.
func waitDrained(reaper int, limit time.Duration) bool {
	fs := procfs.New(nil)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, all, err := orphansOf(fs, reaper); err == nil && all == 0 {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// churn K CODE: leave K orphans being made (middles not waited for
// either) and exit CODE at once, racing the reaper's reaping of them.
func churn(args []string) int {
	if !needArgs("churn", args, 2, "K CODE") {
		return ExitUsage
	}
	for i := 0; i < atoi(args[0]); i++ {
		orphan.Spawn()
	}
	return atoi(args[1])
}

// chain MARKER N: start a fork-and-exit chain of N links (orphan.Chain),
// wait for its first link, exit 0. The links carry the marker in their
// command line, as copies of this process.
func chain(args []string) int {
	if !needArgs("chain", args, 2, "MARKER N") {
		return ExitUsage
	}
	first, err := orphan.Chain(atoi(args[1]))
	if err != nil {
		return fail("chain", err)
	}
	return exitOf(waitFor(first, false))
}

// crowd MARKER N: fill the machine with N idle processes (orphan.Park:
// copies of this one that block every signal and pause, a few pages each),
// say "ready", and block; the crowd dies with it (each copy has SIGKILL as
// its parent-death signal). The benchmark's busy host: N processes that a
// walk of /proc must read past.
func crowd(args []string) int {
	if !needArgs("crowd", args, 2, "MARKER N") {
		return ExitUsage
	}
	for i := 0; i < atoi(args[1]); i++ {
		if _, err := orphan.Park(); err != nil {
			return fail("crowd", fmt.Errorf("park %d: %w", i, err))
		}
	}
	if err := Say("ready", ""); err != nil {
		return fail("crowd", err)
	}
	block()
	return 0
}

func exitOf(err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		return ExitFailed
	}
	return 0
}
