// Command floor is the barest Go program that does an init's one
// necessary job: fork and exec its arguments, wait, and exit with the
// child's status. The benchmark times `floor true` next to `tinit -- true`:
// what floor costs is the Go runtime's own start and exit, which tinit
// cannot go below. Without arguments it exits 0 at once: the true(1) of
// the image the container-start scenario runs.
package main

import (
	"os"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		return
	}
	pid, err := syscall.ForkExec(os.Args[1], os.Args[1:], &syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
	if err != nil {
		os.Exit(127)
	}
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
	os.Exit(ws.ExitStatus())
}
