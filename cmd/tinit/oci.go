package main

import (
	"fmt"
	"os"

	"github.com/tinit-dev/tinit/internal/oci"
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
	proc, opts, _, code, err := ext.processAndOptions(rest)
	if code >= 0 {
		return code, err
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

// processAndOptions reads the OCI process, if one was named, and parses
// the rest of the command line as tinit's own; it returns that rest with
// the process's command. A code of 0 or more ends the run before it starts
// with that code (help, version, a mistake, said on stderr or in err); -1
// goes on.
func (e extraOptions) processAndOptions(args []string) (*oci.Process, options, []string, int, error) {
	proc, rest, err := e.loadProcess(args)
	if err != nil {
		return nil, options{}, nil, exitUsage, err
	}
	opts, st := tinitPersona.parse("tinit", rest, os.LookupEnv)
	if st != nil {
		return nil, opts, nil, finish(*st), nil
	}
	return proc, opts, rest, -1, nil
}
