package cgroup

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNoController means the group has no such controller: it is not
// enabled in the parent's cgroup.subtree_control, or (on a hybrid host) it
// is bound to a cgroup v1 hierarchy instead.
var ErrNoController = errors.New("controller not available")

// Peak returns the highest value the group's controller has counted since
// the group was made: "pids" (pids.peak, processes) or "memory"
// (memory.peak, bytes).
func (r *Run) Peak(controller string) (int64, error) {
	b, err := r.read(controller + ".peak")
	if errors.Is(err, unix.ENOENT) {
		return 0, fmt.Errorf("%s: %w", controller, ErrNoController)
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s.peak: %w", controller, err)
	}
	return n, nil
}
