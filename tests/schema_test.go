package tests

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// A JSON Schema validator for the subset report.schema.json uses: type,
// const, enum, required, properties, additionalProperties false, items,
// minimum, maximum, format date-time and $ref into $defs. It exists so
// that real reports are checked against the schema users are given
// (tinit's module takes no dependency for it).

// schema loads report.schema.json.
func schema(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("report.schema.json: %v", err)
	}
	return s
}

// validate checks doc against the schema and returns every violation.
func validate(root map[string]any, doc any) []string {
	v := validator{root: root}
	v.check(root, doc, "$")
	return v.errs
}

type validator struct {
	root map[string]any
	errs []string
}

func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, path+": "+fmt.Sprintf(format, args...))
}

func (v *validator) check(s map[string]any, doc any, path string) {
	if ref, ok := s["$ref"].(string); ok {
		name, found := strings.CutPrefix(ref, "#/$defs/")
		def, ok := v.root["$defs"].(map[string]any)[name].(map[string]any)
		if !found || !ok {
			v.fail(path, "unknown $ref %q", ref)
			return
		}
		s = def
	}
	if c, ok := s["const"]; ok && !equalJSON(c, doc) {
		v.fail(path, "%v is not the constant %v", doc, c)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return equalJSON(e, doc) }) {
		v.fail(path, "%v is not one of %v", doc, enum)
	}
	if typ, ok := s["type"]; ok && !v.hasType(typ, doc) {
		v.fail(path, "%v is not of type %v", doc, typ)
		return
	}
	switch d := doc.(type) {
	case map[string]any:
		v.object(s, d, path)
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range d {
				v.check(items, e, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	case float64:
		if m, ok := s["minimum"].(float64); ok && d < m {
			v.fail(path, "%v is below %v", d, m)
		}
		if m, ok := s["maximum"].(float64); ok && d > m {
			v.fail(path, "%v is above %v", d, m)
		}
	case string:
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, d); err != nil {
				v.fail(path, "%q is not a date-time: %v", d, err)
			}
		}
	}
}

func (v *validator) object(s map[string]any, d map[string]any, path string) {
	props, _ := s["properties"].(map[string]any)
	for _, r := range asStrings(s["required"]) {
		if _, ok := d[r]; !ok {
			v.fail(path, "missing %q", r)
		}
	}
	var keys []string
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ps, ok := props[k].(map[string]any)
		if !ok {
			if s["additionalProperties"] == false {
				v.fail(path, "unexpected property %q", k)
			}
			continue
		}
		v.check(ps, d[k], path+"."+k)
	}
}

func (v *validator) hasType(typ, doc any) bool {
	if list, ok := typ.([]any); ok {
		return slices.ContainsFunc(list, func(t any) bool { return v.hasType(t, doc) })
	}
	switch d := doc.(type) {
	case nil:
		return typ == "null"
	case bool:
		return typ == "boolean"
	case string:
		return typ == "string"
	case float64:
		return typ == "number" || typ == "integer" && d == math.Trunc(d)
	case []any:
		return typ == "array"
	case map[string]any:
		return typ == "object"
	}
	return false
}

func asStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestValidatorBites checks the validator against documents that break the
// schema, so that a report passing it proves something.
func TestValidatorBites(t *testing.T) {
	s := schema(t)
	good := `{"schema":1,"tinit":"v","duration_s":0.5,"command":["true"],"mode":{"pid1":false,"pidfd":true,"killer":"walk","proc":true},
	"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:01Z","child":{"pid":5,"path":"/bin/true","started":"2026-01-01T00:00:00Z","code":0},
	"signals":[],"leftovers":[],"fallbacks":[],"diagnoses":[],"kill_passes":0,"gave_up":false,
	"counts":{"reaped":1,"peak_live":0,"leftovers":0,"exited_after_sigterm":0,"killed":0,"survived":0},"exit_code":0,"exit":"exited"}`
	var doc map[string]any
	if err := json.Unmarshal([]byte(good), &doc); err != nil {
		t.Fatal(err)
	}
	if errs := validate(s, doc); len(errs) != 0 {
		t.Fatalf("a valid document fails: %v", errs)
	}
	breakages := map[string]func(d map[string]any){
		"missing field":       func(d map[string]any) { delete(d, "exit") },
		"extra field":         func(d map[string]any) { d["surprise"] = 1 },
		"wrong type":          func(d map[string]any) { d["exit_code"] = "0" },
		"not an integer":      func(d map[string]any) { d["exit_code"] = 1.5 },
		"out of range":        func(d map[string]any) { d["exit_code"] = 300.0 },
		"not in the enum":     func(d map[string]any) { d["exit"] = "fine" },
		"bad time":            func(d map[string]any) { d["start"] = "yesterday" },
		"wrong schema":        func(d map[string]any) { d["schema"] = 2.0 },
		"nested wrong type":   func(d map[string]any) { d["mode"].(map[string]any)["pid1"] = "no" },
		"null where an array": func(d map[string]any) { d["signals"] = nil },
	}
	for name, breakIt := range breakages {
		var d map[string]any
		json.Unmarshal([]byte(good), &d)
		breakIt(d)
		if errs := validate(s, d); len(errs) == 0 {
			t.Errorf("%s: the validator found nothing wrong", name)
		}
	}
}
