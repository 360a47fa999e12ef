package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "make.js")
	if err := os.WriteFile(script, []byte(`class Box { put(v) { this.v = v; } } odin.define(Box); await odin.ref(Box, "b1").put(42);`), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	var out, errb strings.Builder
	if code := run([]string{"run", "--data", data, script}, nil, &out, &errb); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"inspect", "--data", data, "Box/b1"}, nil, &out, &errb); code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"class: 'Box'", "id: 'b1'", "state: { v: 42 }", "log: 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out.String())
		}
	}
	errb.Reset()
	if code := run([]string{"inspect", "--data", data, "nope"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "is not Class/id") {
		t.Errorf("bad ref: exit %d, %q", code, errb.String())
	}
}

func TestMigrateUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "A/x", "n2"}, "pass --connect ADDR"},
		{[]string{"migrate", "--connect", "127.0.0.1:1", "A/x"}, "odin migrate --connect ADDR Class/id NODE[/VM]"},
		{[]string{"migrate", "--connect", "127.0.0.1:1", "nope", "n2"}, "is not Class/id"},
		{[]string{"migrate", "--connect", "127.0.0.1:1", "A/x", "n2/x"}, `the VM is a number from 0, not "x"`},
	} {
		var out, errb strings.Builder
		if code := run(c.args, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, errb.String())
		}
	}
}
