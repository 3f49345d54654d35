package subreaper

import "time"

// clock is the supervisor's time: the real one, or a fake in the
// lifecycle's tests.
type clock interface {
	Now() time.Time
	// After returns a channel that receives once, d from now.
	After(d time.Duration) <-chan time.Time
	// Tick returns a channel that receives every d, and a function that
	// stops it.
	Tick(d time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) Tick(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}
