// Package oci reads the process of an OCI runtime-spec configuration (a
// `process` object, or a bundle's config.json) into the small Process tinit
// runs, and applies its process-wide parts to tinit itself before the
// command starts.
//
// Every field is checked before anything is applied: a field tinit does not
// support, of the wrong type or with a wrong value fails the whole input
// with a FieldError that names the field by its JSON path. The input is
// decoded with the runtime-spec's own Go types (specs-go), one field at a
// time, so that a type error is known by its path.
//
// It does not start the command (package subreaper does) and reads nothing
// of a bundle but its process: root, mounts, namespaces and the rest are
// the business of a container runtime.
package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Process is what tinit runs of an OCI process.
type Process struct {
	Args []string `json:"args"`
	// Env is the command's whole environment (not added to tinit's).
	Env []string `json:"env"`
	// Cwd is the command's working directory, absolute.
	Cwd string `json:"cwd"`
	// User is who the command runs as; nil: as tinit runs.
	User *User `json:"user,omitempty"`
	// Umask is the command's file mode creation mask; nil keeps tinit's.
	Umask *uint32 `json:"umask,omitempty"`
	// Rlimits are set on tinit, and so inherited by the command.
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS, for tinit and the command.
	NoNewPrivileges bool `json:"no_new_privileges,omitempty"`
	// Terminal says the command expects a terminal on its stdin; tinit
	// allocates none, so it must have been given one.
	Terminal bool `json:"terminal,omitempty"`
	// Root is where the fields are in the input ("process" in a
	// config.json, "" in a process object), for messages.
	Root string `json:"root,omitempty"`
}

// User is a process's user.
type User struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additional_gids,omitempty"`
}

// Rlimit is one resource limit.
type Rlimit struct {
	Type     string `json:"type"` // "RLIMIT_NOFILE"
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// FieldError is a field of the input that tinit cannot run as written.
type FieldError struct {
	Path string // "process.user.uid", "rlimits[1].soft"; "" for the whole input
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// ParseProcess reads a runtime-spec `process` object.
func ParseProcess(b []byte) (*Process, error) {
	return parseProcess(b, "")
}

// ParseConfig reads the process of a bundle's config.json. Its other fields
// are not read, except that ociVersion, when present, must be a string.
func ParseConfig(b []byte) (*Process, error) {
	obj, err := object(b, "")
	if err != nil {
		return nil, err
	}
	var version string
	if err := decode(obj, "ociVersion", "", &version); err != nil {
		return nil, err
	}
	raw, ok := obj["process"]
	if !ok || isNull(raw) {
		return nil, fieldErr("process", "missing: the config has no process to run")
	}
	return parseProcess(raw, "process")
}

// The fields of a process and of its user, as specs-go names them in
// JSON: those tinit runs, and those it knows but does not support.
var (
	processFields      = []string{"args", "env", "cwd", "user", "rlimits", "noNewPrivileges", "terminal"}
	processUnsupported = map[string]string{
		"consoleSize":     "tinit allocates no terminal, so it cannot size one",
		"commandLine":     "a Windows field",
		"capabilities":    "tinit does not change capabilities",
		"apparmorProfile": "tinit applies no AppArmor profile",
		"oomScoreAdj":     "tinit does not set the OOM score",
		"scheduler":       "tinit does not set a scheduling policy",
		"selinuxLabel":    "tinit applies no SELinux label",
		"ioPriority":      "tinit does not set an I/O priority",
		"execCPUAffinity": "tinit does not set a CPU affinity",
	}
	userFields      = []string{"uid", "gid", "umask", "additionalGids"}
	userUnsupported = map[string]string{"username": "a Windows field"}
	rlimitFields    = []string{"type", "hard", "soft"}
)

func parseProcess(b []byte, root string) (*Process, error) {
	obj, err := object(b, root)
	if err != nil {
		return nil, err
	}
	if err := checkKeys(obj, root, processFields, processUnsupported); err != nil {
		return nil, err
	}
	var sp specs.Process
	for _, f := range []struct {
		key string
		dst any
	}{
		{"args", &sp.Args}, {"env", &sp.Env}, {"cwd", &sp.Cwd},
		{"noNewPrivileges", &sp.NoNewPrivileges}, {"terminal", &sp.Terminal},
	} {
		if err := decode(obj, f.key, root, f.dst); err != nil {
			return nil, err
		}
	}
	p := &Process{Env: []string{}, Root: root, NoNewPrivileges: sp.NoNewPrivileges, Terminal: sp.Terminal}
	if p.Args, err = checkArgs(sp.Args, join(root, "args")); err != nil {
		return nil, err
	}
	if err := checkEnv(sp.Env, join(root, "env")); err != nil {
		return nil, err
	}
	p.Env = append(p.Env, sp.Env...)
	if p.Cwd, err = checkCwd(obj, sp.Cwd, join(root, "cwd")); err != nil {
		return nil, err
	}
	if p.User, p.Umask, err = parseUser(obj["user"], join(root, "user")); err != nil {
		return nil, err
	}
	if p.Rlimits, err = parseRlimits(obj["rlimits"], join(root, "rlimits")); err != nil {
		return nil, err
	}
	return p, nil
}

func checkArgs(args []string, path string) ([]string, error) {
	switch {
	case len(args) == 0:
		return nil, fieldErr(path, "missing or empty: the process has no command")
	case args[0] == "":
		return nil, fieldErr(path+"[0]", "an empty command name")
	}
	for i, a := range args {
		if strings.ContainsRune(a, 0) {
			return nil, fieldErr(fmt.Sprintf("%s[%d]", path, i), "a NUL byte in %q, which no command line can hold", a)
		}
	}
	return args, nil
}

func checkEnv(env []string, path string) error {
	for i, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsRune(kv, 0) {
			return fieldErr(fmt.Sprintf("%s[%d]", path, i), "want KEY=VALUE, got %q", kv)
		}
	}
	return nil
}

func checkCwd(obj map[string]json.RawMessage, cwd, path string) (string, error) {
	if raw, ok := obj["cwd"]; !ok || isNull(raw) {
		return "", fieldErr(path, "missing: the runtime-spec requires a working directory")
	}
	if !filepath.IsAbs(cwd) || strings.ContainsRune(cwd, 0) {
		return "", fieldErr(path, "want an absolute path, got %q", cwd)
	}
	return filepath.Clean(cwd), nil
}

func parseUser(raw json.RawMessage, path string) (*User, *uint32, error) {
	if raw == nil || isNull(raw) {
		return nil, nil, nil
	}
	obj, err := object(raw, path)
	if err != nil {
		return nil, nil, err
	}
	if err := checkKeys(obj, path, userFields, userUnsupported); err != nil {
		return nil, nil, err
	}
	for _, k := range []string{"uid", "gid"} {
		if v, ok := obj[k]; !ok || isNull(v) {
			return nil, nil, fieldErr(join(path, k), "missing: a user needs a uid and a gid")
		}
	}
	var su specs.User
	for _, f := range []struct {
		key string
		dst any
	}{{"uid", &su.UID}, {"gid", &su.GID}, {"umask", &su.Umask}, {"additionalGids", &su.AdditionalGids}} {
		if err := decode(obj, f.key, path, f.dst); err != nil {
			return nil, nil, err
		}
	}
	if su.Umask != nil && *su.Umask > 0o777 {
		return nil, nil, fieldErr(join(path, "umask"), "want a mode from 0 to 511 (0777), got %d", *su.Umask)
	}
	const maxGroups = 65536 // NGROUPS_MAX
	if len(su.AdditionalGids) > maxGroups {
		return nil, nil, fieldErr(join(path, "additionalGids"), "%d groups, more than the kernel's %d", len(su.AdditionalGids), maxGroups)
	}
	u := &User{UID: su.UID, GID: su.GID, AdditionalGids: su.AdditionalGids}
	return u, su.Umask, nil
}

// rlimitNames are the resources of setrlimit(2).
var rlimitNames = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

func parseRlimits(raw json.RawMessage, path string) ([]Rlimit, error) {
	if raw == nil || isNull(raw) {
		return nil, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fieldErr(path, "want an array of rlimits, got %s", kind(raw))
	}
	var out []Rlimit
	for i, e := range elems {
		p := fmt.Sprintf("%s[%d]", path, i)
		obj, err := object(e, p)
		if err != nil {
			return nil, err
		}
		if err := checkKeys(obj, p, rlimitFields, nil); err != nil {
			return nil, err
		}
		for _, k := range rlimitFields {
			if v, ok := obj[k]; !ok || isNull(v) {
				return nil, fieldErr(join(p, k), "missing: an rlimit needs a type, a soft and a hard limit")
			}
		}
		var r specs.POSIXRlimit
		for _, f := range []struct {
			key string
			dst any
		}{{"type", &r.Type}, {"hard", &r.Hard}, {"soft", &r.Soft}} {
			if err := decode(obj, f.key, p, f.dst); err != nil {
				return nil, err
			}
		}
		res, ok := rlimitNames[r.Type]
		switch {
		case !ok:
			return nil, fieldErr(join(p, "type"), "unknown resource %q (want RLIMIT_NOFILE, RLIMIT_NPROC, ...)", r.Type)
		case r.Soft > r.Hard:
			return nil, fieldErr(join(p, "soft"), "%d is above the hard limit %d", r.Soft, r.Hard)
		case slices.ContainsFunc(out, func(o Rlimit) bool { return o.Resource == res }):
			return nil, fieldErr(join(p, "type"), "%s given twice", r.Type)
		}
		out = append(out, Rlimit{Type: r.Type, Resource: res, Soft: r.Soft, Hard: r.Hard})
	}
	return out, nil
}

// object reads b as a JSON object.
func object(b []byte, path string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fieldErr(path, "invalid JSON at byte %d: %v", se.Offset, se)
		}
		what := "want a JSON object"
		if path == "" {
			what = "want the file to hold a JSON object"
		}
		return nil, fieldErr(path, "%s, got %s", what, kind(b))
	}
	return obj, nil
}

// checkKeys refuses, in the order of their names, a key of obj that is not
// in known: one tinit does not support (with why), or one it does not know.
func checkKeys(obj map[string]json.RawMessage, path string, known []string, unsupported map[string]string) error {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if slices.Contains(known, k) {
			continue
		}
		if why, ok := unsupported[k]; ok {
			if isNull(obj[k]) || isEmpty(obj[k]) {
				continue // written out but unset, as encoders of specs-go do
			}
			return fieldErr(join(path, k), "not supported by tinit: %s", why)
		}
		return fieldErr(join(path, k), "unknown field")
	}
	return nil
}

// decode reads obj[key] into dst, a pointer to a specs-go field; absent
// and null leave dst as it is. An array is read element by element, so
// that a wrong one is named by its index.
func decode(obj map[string]json.RawMessage, key, path string, dst any) error {
	raw, ok := obj[key]
	if !ok || isNull(raw) {
		return nil
	}
	return decodeValue(raw, join(path, key), reflect.ValueOf(dst).Elem())
}

func decodeValue(raw json.RawMessage, path string, v reflect.Value) error {
	if v.Kind() == reflect.String && !utf8.Valid(raw) {
		// encoding/json would replace each bad byte with U+FFFD: the
		// command would get other bytes than the file holds.
		return fieldErr(path, "not valid UTF-8 (JSON text must be)")
	}
	if v.Kind() != reflect.Slice {
		if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
			return fieldErr(path, "want %s, got %s", want(v.Type()), kind(raw))
		}
		return nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return fieldErr(path, "want %s, got %s", want(v.Type()), kind(raw))
	}
	out := reflect.MakeSlice(v.Type(), len(elems), len(elems))
	for i, e := range elems {
		if err := decodeValue(e, fmt.Sprintf("%s[%d]", path, i), out.Index(i)); err != nil {
			return err
		}
	}
	v.Set(out)
	return nil
}

// want describes a Go type as the JSON it takes.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return want(t.Elem())
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Uint32:
		return "an integer from 0 to 4294967295"
	case reflect.Uint64:
		return "an integer from 0 to 18446744073709551615"
	case reflect.Slice:
		switch t.Elem().Kind() {
		case reflect.String:
			return "an array of strings"
		case reflect.Uint32:
			return "an array of integers from 0 to 4294967295"
		}
		return "an array"
	}
	return t.String()
}

// kind names what a JSON value is, for messages.
func kind(raw []byte) string {
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "nothing"
	}
	switch s[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if len(s) > 24 {
		s = s[:24] + "..."
	}
	return "the number " + s
}

func isNull(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }

func isEmpty(raw json.RawMessage) bool {
	switch strings.TrimSpace(string(raw)) {
	case `""`, "{}", "[]", "false", "0":
		return true
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
