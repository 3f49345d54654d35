package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// runExtended runs what tinit's usual run does not: `tinit sandbox`, the
// inner tinit of a sandbox, and a run of an OCI process. ok is false for
// anything else.
func runExtended(args []string) (code int, ok bool, err error) {
	switch {
	case len(args) > 0 && args[0] == "sandbox":
		code, err = runSandbox(args[1:])
		return code, true, err
	case len(args) > 0 && args[0] == innerCommand:
		code, err = runInner(args[1:])
		return code, true, err
	}
	ext, rest, err := cutExtra(args, false)
	switch {
	case err != nil:
		return exitUsage, true, err
	case ext.ociFile == "":
		return 0, false, nil
	}
	code, err = runOCI(ext, rest)
	return code, true, err
}

// runOCI runs an OCI process under tinit, outside a sandbox.
func runOCI(ext extraOptions, rest []string) (int, error) {
	proc, rest, err := ext.loadProcess(rest)
	if err != nil {
		return exitUsage, err
	}
	opts, st := tinitPersona.parse("tinit", rest, os.LookupEnv)
	if st != nil {
		return finish(*st), nil
	}
	if err := ext.checkProcess(proc, unix.Geteuid() == 0); err != nil {
		return exitUsage, err
	}
	opts.absPaths()
	log := startLog(opts, &tinitPersona)
	cfg := opts.config(os.Getenv)
	cfg.Env, cfg.Credential = proc.Env, proc.Credential(unix.Geteuid() == 0)
	if err := proc.Apply(); err != nil {
		return exitInternal, fmt.Errorf("%s: %w", ext.ociSource(), err)
	}
	return supervise(&tinitPersona, opts, cfg, log), nil
}
