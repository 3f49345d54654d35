package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tinit-dev/tinit/internal/oci"
	"github.com/tinit-dev/tinit/internal/sandbox"
	"golang.org/x/sys/unix"
)

// The flags of `tinit sandbox` and the OCI process flags are read before
// the common flags, and taken out of the command line: what is left is
// parsed as tinit's usual flags (see parse). They have no environment
// variables: they describe a local run, which a container runtime that
// passes no flags never asks for.

// extraOptions are the flags read here.
type extraOptions struct {
	net         string // "none" or "host"
	binds       []sandbox.Bind
	ociFile     string
	ociIsConfig bool // --oci-config rather than --oci-process
	help        bool
}

// extraFlag is one of them; sandbox says it is for `tinit sandbox` only.
type extraFlag struct {
	name    string
	arg     string
	sandbox bool
	set     func(e *extraOptions, v string) error
}

var extraFlags = []extraFlag{
	{name: "--net", arg: "MODE", sandbox: true, set: func(e *extraOptions, v string) error {
		if v != "none" && v != "host" {
			return fmt.Errorf("want none or host, got %q", v)
		}
		e.net = v
		return nil
	}},
	{name: "--bind", arg: "SRC[:DST]", sandbox: true, set: func(e *extraOptions, v string) error { return e.bind(v, false) }},
	{name: "--ro-bind", arg: "SRC[:DST]", sandbox: true, set: func(e *extraOptions, v string) error { return e.bind(v, true) }},
	{name: "--oci-process", arg: "FILE", set: func(e *extraOptions, v string) error { return e.oci(v, false) }},
	{name: "--oci-config", arg: "FILE", set: func(e *extraOptions, v string) error { return e.oci(v, true) }},
}

func (e *extraOptions) bind(v string, ro bool) error {
	src, dst, ok := strings.Cut(v, ":")
	if !ok {
		dst = src
	}
	if src == "" || dst == "" {
		return fmt.Errorf("want SRC or SRC:DST, got %q", v)
	}
	var err error
	if src, err = filepath.Abs(src); err == nil {
		dst, err = filepath.Abs(dst)
	}
	if err != nil {
		return err
	}
	e.binds = append(e.binds, sandbox.Bind{Src: src, Dst: dst, ReadOnly: ro})
	return nil
}

func (e *extraOptions) oci(file string, config bool) error {
	if e.ociFile != "" {
		return errors.New("give one --oci-process or --oci-config")
	}
	e.ociFile, e.ociIsConfig = file, config
	return nil
}

// cutExtra takes the extra flags out of args (sandbox ones only in a
// sandbox) up to where the flags end, as parse would see it: at "--" or at
// the first argument that is not a flag. The values of tinit's usual flags
// are skipped, so a value that looks like an extra flag stays theirs.
func cutExtra(args []string, inSandbox bool) (extraOptions, []string, error) {
	var e extraOptions
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			return e, append(rest, args[i:]...), nil
		}
		name, value, hasValue := strings.Cut(a, "=")
		if inSandbox && (name == "-h" || name == "--help") {
			e.help = true
		}
		f := lookupExtra(name, inSandbox)
		if f == nil {
			rest = append(rest, a)
			if d := lookupFlag(name); d != nil && d.arg != "" && !hasValue && i+1 < len(args) {
				i++
				rest = append(rest, args[i])
			}
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return e, nil, usagef("%s needs a value: %s %s", name, name, f.arg)
			}
			i++
			value = args[i]
		}
		if err := f.set(&e, value); err != nil {
			return e, nil, usagef("%s: %v", name, err)
		}
	}
	return e, rest, nil
}

func lookupExtra(name string, inSandbox bool) *extraFlag {
	for i := range extraFlags {
		if extraFlags[i].name == name && (inSandbox || !extraFlags[i].sandbox) {
			return &extraFlags[i]
		}
	}
	return nil
}

// loadProcess reads the OCI process named by the flags, if any, and puts
// its command at the end of rest. A command given on the command line as
// well is an error: the process says what to run.
func (e extraOptions) loadProcess(rest []string) (*oci.Process, []string, error) {
	if e.ociFile == "" {
		return nil, rest, nil
	}
	flag, _, _ := strings.Cut(e.ociSource(), " ")
	if cmdGiven(rest) {
		return nil, nil, usagef("%s gives the command; give none after the flags", flag)
	}
	b, err := readOCIFile(e.ociFile)
	if err != nil {
		return nil, nil, usagef("%s: %v", flag, err)
	}
	parse := oci.ParseProcess
	if e.ociIsConfig {
		parse = oci.ParseConfig
	}
	p, err := parse(b)
	if err != nil {
		return nil, nil, usagef("%s: %v", e.ociSource(), err)
	}
	flags := rest[:len(rest):len(rest)]
	if len(flags) > 0 && flags[len(flags)-1] == "--" {
		flags = flags[:len(flags)-1]
	}
	return p, append(append(flags, "--"), p.Args...), nil
}

// maxOCIFile bounds what tinit reads of an OCI file. A command line and
// environment that execve(2) takes are at most 6 MiB (3/4 of the kernel's
// 8 MiB stack limit for them), so a real file is far smaller; without a
// bound, /dev/zero or a runaway generator would be read until memory ran
// out.
const maxOCIFile = 64 << 20

// readOCIFile reads file whole, up to maxOCIFile.
func readOCIFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxOCIFile+1))
	switch {
	case err != nil:
		return nil, &os.PathError{Op: "read", Path: file, Err: unwrapPathErr(err)}
	case len(b) > maxOCIFile:
		return nil, fmt.Errorf("%s: larger than %d MiB, more than any process tinit could start", file, maxOCIFile>>20)
	}
	return b, nil
}

// unwrapPathErr is the error of a *os.PathError, or err.
func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ociSource names the OCI flag and its file, for messages.
func (e extraOptions) ociSource() string {
	if e.ociIsConfig {
		return "--oci-config " + e.ociFile
	}
	return "--oci-process " + e.ociFile
}

// cmdGiven reports whether args, tinit's usual flags and what follows,
// hold a command.
func cmdGiven(args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return i+1 < len(args)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return true
		}
		name, _, hasValue := strings.Cut(a, "=")
		if d := lookupFlag(name); d != nil && d.arg != "" && !hasValue {
			i++
		}
	}
	return false
}

// checkProcess checks the process against where it will run: privileged
// means tinit may take any user (root, outside a sandbox's user
// namespace).
func (e extraOptions) checkProcess(p *oci.Process, privileged bool) error {
	if p == nil {
		return nil
	}
	if err := p.Check(unix.Geteuid(), unix.Getegid(), privileged, isTerminal(0)); err != nil {
		return usagef("%s: %v", e.ociSource(), err)
	}
	return nil
}

// absPaths makes the report files absolute before anything changes the
// working directory (an OCI cwd, a sandbox).
func (o *options) absPaths() {
	for _, p := range []*string{&o.report, &o.junit} {
		if *p != "" {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
}
