package orphan

const supported = true

// spawn, chain and park are implemented in orphan_amd64.s.
func spawn() (pid int64, errno int64)
func chain(generations int64) (pid int64, errno int64)
func park() (pid int64, errno int64)
