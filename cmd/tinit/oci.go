package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/subreaper"
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
	opts, err := parse(rest, os.Getenv)
	switch {
	case err != nil:
		return exitUsage, err
	case opts.help:
		fmt.Print(usage + usageExtra)
		return 0, nil
	case opts.version:
		fmt.Println("tinit", version)
		return 0, nil
	}
	if err := ext.checkProcess(proc, unix.Geteuid() == 0); err != nil {
		return exitUsage, err
	}
	opts.absPaths()
	reexecErr := reexecIfNeeded()
	log := newLogger(opts.verbosity, opts.logFormat)
	if reexecErr != nil {
		log.Warn().Str("component", "main").Err(reexecErr).Msg("cannot re-execute tinit; the command may inherit blocked signals")
	}
	cfg := opts.config(os.Getenv)
	cfg.Env, cfg.Credential = proc.Env, proc.Credential(unix.Geteuid() == 0)
	if err := proc.Apply(); err != nil {
		return exitInternal, fmt.Errorf("%s: %w", ext.ociSource(), err)
	}
	return finishRun(opts, cfg, log)
}

// finishRun runs cfg and turns its outcome into tinit's exit, as run does.
func finishRun(opts options, cfg subreaper.Config, log zerolog.Logger) (int, error) {
	rec, err := subreaper.Run(cfg, log)
	writeReports(opts, rec, log)
	var execErr *subreaper.ExecError
	switch {
	case errors.As(err, &execErr):
		return execErr.Code(), err
	case err != nil:
		return exitInternal, err
	}
	return rec.ExitCode, nil
}
