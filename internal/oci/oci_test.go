package oci

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseProcess(t *testing.T) {
	good := `{"args":["/bin/sh","-c","true"],"env":["PATH=/bin","A=b=c"],"cwd":"/tmp/",
		"user":{"uid":1000,"gid":100,"umask":18,"additionalGids":[5,6]},
		"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":512}],"noNewPrivileges":true,"terminal":false}`
	p, err := ParseProcess([]byte(good))
	if err != nil {
		t.Fatalf("ParseProcess(good) = %v", err)
	}
	if !slices.Equal(p.Args, []string{"/bin/sh", "-c", "true"}) || p.Cwd != "/tmp" || p.User.UID != 1000 ||
		p.User.GID != 100 || *p.Umask != 18 || !slices.Equal(p.User.AdditionalGids, []uint32{5, 6}) ||
		len(p.Rlimits) != 1 || p.Rlimits[0].Soft != 512 || !p.NoNewPrivileges || len(p.Env) != 2 {
		t.Errorf("ParseProcess(good) = %+v", p)
	}
	minimal, err := ParseProcess([]byte(`{"args":["x"],"cwd":"/"}`))
	if err != nil || minimal.Env == nil || len(minimal.Env) != 0 || minimal.User != nil {
		t.Errorf("minimal process = %+v, %v; want an empty, non-nil env and no user", minimal, err)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name, in, path, msg string
	}{
		{"not json", `{"args":`, "", "invalid JSON"},
		{"not an object", `[1]`, "", "a JSON object, got an array"},
		{"no args", `{"cwd":"/"}`, "args", "missing"},
		{"empty args", `{"args":[],"cwd":"/"}`, "args", "missing or empty"},
		{"args not strings", `{"args":["a",1],"cwd":"/"}`, "args[1]", "want a string, got the number 1"},
		{"args a string", `{"args":"ls","cwd":"/"}`, "args", "want an array of strings, got a string"},
		{"empty command", `{"args":[""],"cwd":"/"}`, "args[0]", "empty command"},
		{"NUL in the command", `{"args":["sh\u0000x"],"cwd":"/"}`, "args[0]", "a NUL byte"},
		{"NUL in an argument", `{"args":["sh","a\u0000b"],"cwd":"/"}`, "args[1]", "a NUL byte"},
		{"args not UTF-8", "{\"args\":[\"sh\",\"\xff\"],\"cwd\":\"/\"}", "args[1]", "not valid UTF-8"},
		{"env not UTF-8", "{\"args\":[\"a\"],\"cwd\":\"/\",\"env\":[\"A=\xc3\x28\"]}", "env[0]", "not valid UTF-8"},
		{"cwd not UTF-8", "{\"args\":[\"a\"],\"cwd\":\"/\xfe\"}", "cwd", "not valid UTF-8"},
		{"env without =", `{"args":["a"],"cwd":"/","env":["A=1","B"]}`, "env[1]", "want KEY=VALUE"},
		{"no cwd", `{"args":["a"]}`, "cwd", "missing"},
		{"relative cwd", `{"args":["a"],"cwd":"tmp"}`, "cwd", "absolute"},
		{"uid negative", `{"args":["a"],"cwd":"/","user":{"uid":-1,"gid":0}}`, "user.uid", "want an integer from 0 to 4294967295, got the number -1"},
		{"uid too big", `{"args":["a"],"cwd":"/","user":{"uid":4294967296,"gid":0}}`, "user.uid", "4294967295"},
		{"uid a string", `{"args":["a"],"cwd":"/","user":{"uid":"0","gid":0}}`, "user.uid", "got a string"},
		{"no gid", `{"args":["a"],"cwd":"/","user":{"uid":0}}`, "user.gid", "missing"},
		{"gid list bad", `{"args":["a"],"cwd":"/","user":{"uid":0,"gid":0,"additionalGids":[1,true]}}`, "user.additionalGids[1]", "got a boolean"},
		{"umask too big", `{"args":["a"],"cwd":"/","user":{"uid":0,"gid":0,"umask":512}}`, "user.umask", "0777"},
		{"username", `{"args":["a"],"cwd":"/","user":{"uid":0,"gid":0,"username":"x"}}`, "user.username", "not supported"},
		{"unknown user field", `{"args":["a"],"cwd":"/","user":{"uid":0,"gid":0,"home":"/"}}`, "user.home", "unknown field"},
		{"capabilities", `{"args":["a"],"cwd":"/","capabilities":{"bounding":["CAP_KILL"]}}`, "capabilities", "not supported"},
		{"oomScoreAdj", `{"args":["a"],"cwd":"/","oomScoreAdj":5}`, "oomScoreAdj", "not supported"},
		{"apparmor", `{"args":["a"],"cwd":"/","apparmorProfile":"x"}`, "apparmorProfile", "not supported"},
		{"consoleSize", `{"args":["a"],"cwd":"/","terminal":true,"consoleSize":{"height":1,"width":2}}`, "consoleSize", "not supported"},
		{"unknown", `{"args":["a"],"cwd":"/","argz":[]}`, "argz", "unknown field"},
		{"terminal not bool", `{"args":["a"],"cwd":"/","terminal":"yes"}`, "terminal", "want true or false"},
		{"nnp not bool", `{"args":["a"],"cwd":"/","noNewPrivileges":1}`, "noNewPrivileges", "want true or false"},
		{"rlimits not array", `{"args":["a"],"cwd":"/","rlimits":{}}`, "rlimits", "want an array"},
		{"rlimit unknown type", `{"args":["a"],"cwd":"/","rlimits":[{"type":"RLIMIT_FOO","hard":1,"soft":1}]}`, "rlimits[0].type", "unknown resource"},
		{"rlimit missing soft", `{"args":["a"],"cwd":"/","rlimits":[{"type":"RLIMIT_CORE","hard":1}]}`, "rlimits[0].soft", "missing"},
		{"rlimit soft above hard", `{"args":["a"],"cwd":"/","rlimits":[{"type":"RLIMIT_CORE","hard":1,"soft":2}]}`, "rlimits[0].soft", "above the hard limit"},
		{"rlimit negative", `{"args":["a"],"cwd":"/","rlimits":[{"type":"RLIMIT_CORE","hard":-1,"soft":0}]}`, "rlimits[0].hard", "want an integer"},
		{"rlimit twice", `{"args":["a"],"cwd":"/","rlimits":[{"type":"RLIMIT_CORE","hard":1,"soft":1},{"type":"RLIMIT_CORE","hard":2,"soft":2}]}`, "rlimits[1].type", "twice"},
		{"rlimit extra field", `{"args":["a"],"cwd":"/","rlimits":[{"type":"RLIMIT_CORE","hard":1,"soft":1,"max":3}]}`, "rlimits[0].max", "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProcess([]byte(tt.in))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Path != tt.path || !strings.Contains(fe.Msg, tt.msg) {
				t.Fatalf("ParseProcess(%s) = %v, want a FieldError at %q saying %q", tt.in, err, tt.path, tt.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is more than one line", err)
			}
			// In a config.json, the same field is below "process".
			_, err = ParseConfig([]byte(`{"ociVersion":"1.0.2","process":` + tt.in + `}`))
			if !errors.As(err, &fe) {
				if tt.path != "" {
					t.Fatalf("ParseConfig = %v, want a FieldError", err)
				}
				return
			}
			if tt.path != "" && fe.Path != "process."+tt.path {
				t.Errorf("ParseConfig: path %q, want %q", fe.Path, "process."+tt.path)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	p, err := ParseConfig([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"mounts":[],
		"process":{"args":["ls"],"cwd":"/","capabilities":null,"apparmorProfile":""}}`))
	if err != nil || p.Args[0] != "ls" || p.Root != "process" {
		t.Errorf("ParseConfig = %+v, %v", p, err)
	}
	for _, tt := range []struct{ in, path string }{
		{`{"ociVersion":"1.0.2"}`, "process"},
		{`{"ociVersion":1,"process":{"args":["a"],"cwd":"/"}}`, "ociVersion"},
		{`{"process":"ls"}`, "process"},
	} {
		var fe *FieldError
		if _, err := ParseConfig([]byte(tt.in)); !errors.As(err, &fe) || fe.Path != tt.path {
			t.Errorf("ParseConfig(%s) = %v, want an error at %q", tt.in, err, tt.path)
		}
	}
}

func TestCheck(t *testing.T) {
	p, _ := ParseProcess([]byte(`{"args":["a"],"cwd":"/","user":{"uid":1000,"gid":1000}}`))
	if err := p.Check(1000, 1000, false, false); err != nil {
		t.Errorf("own ids: %v", err)
	}
	if err := p.Check(1001, 1000, false, false); err == nil || !strings.HasPrefix(err.Error(), "user.uid: ") {
		t.Errorf("another uid unprivileged: %v, want an error at user.uid", err)
	}
	if err := p.Check(0, 0, true, false); err != nil {
		t.Errorf("privileged: %v", err)
	}
	term, _ := ParseProcess([]byte(`{"args":["a"],"cwd":"/","terminal":true}`))
	if err := term.Check(0, 0, true, false); err == nil || !strings.HasPrefix(err.Error(), "terminal: ") {
		t.Errorf("terminal without one: %v", err)
	}
	if c := p.Credential(false); c == nil || !c.NoSetGroups || c.Uid != 1000 {
		t.Errorf("Credential(false) = %+v", c)
	}
}

func TestApplyUndoesOnFailure(t *testing.T) {
	dir := t.TempDir()
	old, _ := filepath.Abs(".")
	// A hard limit above the current one needs CAP_SYS_RESOURCE; an
	// rlimit of 2^63 is refused (EPERM) even then, for RLIMIT_NOFILE.
	p, err := ParseProcess([]byte(`{"args":["a"],"cwd":"` + dir + `","rlimits":[{"type":"RLIMIT_NOFILE","hard":9223372036854775807,"soft":9223372036854775807}]}`))
	if err != nil {
		t.Fatal(err)
	}
	err = p.Apply()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "rlimits[0]" {
		t.Fatalf("Apply = %v, want an error at rlimits[0]", err)
	}
	if now, _ := filepath.Abs("."); now != old {
		t.Errorf("working directory %s after a failed Apply, want %s again", now, old)
	}
}

// FuzzParse checks that no input makes the parsers panic, and that what
// they accept is runnable: a command, an absolute working directory, an
// environment of KEY=VALUE, limits whose soft value is within the hard.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"args":["/bin/sh"],"cwd":"/","env":["A=1"],"user":{"uid":1,"gid":2,"umask":18,"additionalGids":[3]},"rlimits":[{"type":"RLIMIT_NOFILE","hard":10,"soft":5}],"noNewPrivileges":true,"terminal":true}`))
	f.Add([]byte(`{"ociVersion":"1.0.2","process":{"args":["x"],"cwd":"/tmp"}}`))
	f.Add([]byte(`{"args":[null],"cwd":null,"user":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, parse := range []func([]byte) (*Process, error){ParseProcess, ParseConfig} {
			p, err := parse(b)
			if err != nil {
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is not a FieldError", err)
				}
				continue
			}
			if len(p.Args) == 0 || p.Args[0] == "" || !filepath.IsAbs(p.Cwd) || p.Env == nil {
				t.Fatalf("accepted %+v", p)
			}
			for _, kv := range p.Env {
				if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
					t.Fatalf("accepted env %q", kv)
				}
			}
			for _, r := range p.Rlimits {
				if r.Soft > r.Hard {
					t.Fatalf("accepted rlimit %+v", r)
				}
			}
		}
	})
}
