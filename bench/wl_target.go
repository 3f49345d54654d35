package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// runTarget is the signal scenario's child, and the idle child of the RSS
// scenario: SIGTERM at its default action (the kernel's, not the Go
// runtime's handler), "ready" to the harness, then nothing until a signal
// ends it.
func runTarget([]string) error {
	if err := setDisposition(unix.SIGTERM, sigDFL); err != nil {
		return err
	}
	rep, err := openReport()
	if err != nil {
		return err
	}
	if err := rep.send("ready", ""); err != nil {
		return err
	}
	blockForever()
	return nil
}

// runExit exits with the given code: the exit-code scenario's "exit 3".
func runExit(args []string) error {
	code, err := oneInt(args)
	if err != nil {
		return err
	}
	os.Exit(code)
	return nil
}

// runSelfKill dies of SIGKILL sent to itself.
func runSelfKill([]string) error {
	if err := unix.Kill(os.Getpid(), unix.SIGKILL); err != nil {
		return fmt.Errorf("kill self: %w", err)
	}
	blockForever()
	return nil
}
