package orphan

const supported = true

// spawn is implemented in orphan_amd64.s.
func spawn() (pid int64, errno int64)
