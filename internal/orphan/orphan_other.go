//go:build !amd64

package orphan

const supported = false

func spawn() (pid int64, errno int64) { return 0, 0 }

func chain(generations int64) (pid int64, errno int64) { return 0, 0 }

func park() (pid int64, errno int64) { return 0, 0 }
