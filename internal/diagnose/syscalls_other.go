//go:build !amd64

package diagnose

func archSyscallName(int) string { return "" }
