package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/odin-db/odin/host"
	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting/codec"
)

// statusScript leaves a data directory with a class with indexes, a class
// without, and an object whose tasklet is suspended.
const statusScript = `class Account {
  static indexes = ["owner"];
  static unique = ["email"];
  open(owner, email) { this.owner = owner; this.email = email; }
  hold() { odin.spawn(async () => { await odin.sleep(1e9) }); }
}
odin.define(Account);
class Plain { x = 0; set(x) { this.x = x; } }
odin.define(Plain);
for (const [id, owner] of [["a", "bob"], ["b", "carol"], ["c", "bob"]]) {
  await odin.ref("Account", id).open(owner, id + "@x");
  await odin.ref("Plain", id).set(1);
}
await odin.ref("Account", "a").hold();
console.log("ready");
`

// odinCmd runs the odin binary in dir.
func odinCmd(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(odinBinary(t), args...)
	cmd.Env = shellEnv(dir)
	cmd.Dir = dir
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestStatus(t *testing.T) {
	home := t.TempDir()
	script := filepath.Join(home, "setup.js")
	if err := os.WriteFile(script, []byte(statusScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := odinCmd(t, home, "run", "--vms", "2", script)
	if code != 0 || out != "ready\n" {
		t.Fatalf("odin run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	data := filepath.Join(home, "odin-data")

	// An index of Plain declared on its objects and built a third of the
	// way, as a node stopped in the middle of the build leaves it.
	st, err := persist.Open(persist.Config{Path: filepath.Join(data, "odin.db"), IndexKey: codec.KeyOf})
	if err != nil {
		t.Fatal(err)
	}
	ix := objects.Index{Fields: []string{"x"}}
	if _, err := st.DeclareIndexes("Plain", []objects.Index{ix}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.BuildIndexStep("Plain", ix.Name(), 1); err != nil {
		t.Fatal(err)
	}
	nodeID := st.NodeID()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The default data directory (./odin-data), as odin run used it.
	for range 2 { // odin status changes nothing: the build is where it was
		out, errOut, code = odinCmd(t, home, "status", "--vms", "3")
		if code != 0 || errOut != "" {
			t.Fatalf("odin status: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
		}
		for _, re := range []string{
			`(?m)^Node  local, id ` + nodeID + `: not running \(no odin process has odin-data open\)$`,
			`(?m)^Data  odin-data/odin\.db, \d+\.\d KiB$`,
			`(?m)^VMs   none running \(odin run and odin shell start 3; see --vms\)$`,
			`(?m)^CLASS +VERSION +OBJECTS +SUSPENDED\nAccount +v1 +3 +1\nPlain +v1 +3 +0\n`,
			`(?m)^CLASS +INDEX +STATE\nAccount +owner +built\nAccount +unique email +built\nPlain +x +building 33% \(1/3\)\n`,
			`(?m)^Not finished, resumed when odin run or odin shell opens odin-data: 1 index build and 1 suspended object\.$`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("odin status output does not match %s:\n%s", re, out)
			}
		}
	}

	// --data, or $ODIN_DATA.
	out, _, code = odinCmd(t, t.TempDir(), "status", "--data", data)
	if code != 0 || !regexp.MustCompile(`(?m)^Plain +x +building 33% \(1/3\)$`).MatchString(out) {
		t.Errorf("odin status --data: exit %d, stdout:\n%s", code, out)
	}

	// A directory with no data: said so, and not created.
	missing := filepath.Join(home, "nothing")
	_, errOut, code = odinCmd(t, home, "status", "--data", missing)
	if code != 1 || errOut != "odin: no odin data in "+missing+" (odin run and odin shell create it there; pass --data DIR for another directory)\n" {
		t.Errorf("missing directory: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("odin status created %s: %v", missing, err)
	}

	// A directory another process holds: which pid, no Go trace, exit 1.
	st, err = persist.Open(persist.Config{Path: filepath.Join(data, "odin.db")})
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code = odinCmd(t, home, "status")
	st.Close()
	if code != 1 || out != "" ||
		!strings.HasPrefix(errOut, "odin: persist: data directory in use by pid "+strconv.Itoa(os.Getpid())+" (odin-data/odin.db)\n") ||
		!strings.Contains(errOut, "a running odin process (odin run or odin shell) has odin-data open") {
		t.Errorf("data in use: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, ".go:") {
		t.Errorf("Go trace in %q", errOut)
	}
}

func TestStatusUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "extra"}, `odin status takes no arguments (not "extra")`},
		{[]string{"status", "--memory"}, "--memory: an in-memory node keeps nothing"},
		{[]string{"status", "--nosuch"}, "unknown flag --nosuch"},
	} {
		var out, errb strings.Builder
		if code := run(c.args, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, errb.String())
		}
	}
	var out, errb strings.Builder
	if code := run([]string{"status", "--connect", "127.0.0.1:1"}, nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "cannot connect to 127.0.0.1:1") {
		t.Errorf("status --connect to nothing: exit %d, stderr %q", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	run([]string{"help"}, nil, &out, &errb)
	if !strings.Contains(out.String(), "odin status [--data DIR]") {
		t.Errorf("odin help does not document odin status:\n%s", out.String())
	}
}

func TestIndexState(t *testing.T) {
	for _, c := range []struct {
		ix   host.IndexInfo
		want string
	}{
		{host.IndexInfo{Built: true, Done: 10, Total: 10}, "built"},
		{host.IndexInfo{Done: 4500, Total: 10000}, "building 45% (4500/10000)"},
		{host.IndexInfo{Done: 0, Total: 0}, "building 0% (0/0)"},
		{host.IndexInfo{Done: 9999, Total: 10000}, "building 99% (9999/10000)"},
		{host.IndexInfo{Done: 12, Total: 12}, "building 99% (12/12)"}, // the last step has not said built yet
		{host.IndexInfo{Done: 3, Total: 10, Err: "A/a and A/b hold the same unique email"}, "failed: A/a and A/b hold the same unique email"},
	} {
		if got := indexState(c.ix); got != c.want {
			t.Errorf("%+v: %q, want %q", c.ix, got, c.want)
		}
	}
	list := []host.IndexInfo{
		{Class: "A", Index: "owner", Built: true},
		{Class: "A", Index: "[city, age]", Done: 1, Total: 4},
		{Class: "B", Index: "unique email", Err: "why"},
	}
	if got, want := indexSummary(list), "1 built; A [city, age] building 25% (1/4); B unique email failed: why"; got != want {
		t.Errorf("indexSummary: %q, want %q", got, want)
	}
	if got := indexSummary(nil); got != "" {
		t.Errorf("indexSummary(nil) = %q", got)
	}
	var b strings.Builder
	writeIndexes(&b, list, true)
	if want := "CLASS   INDEX          STATE\nA       owner          built\nA       [city, age]    building 25% (1/4)\nB       unique email   failed: why\n"; b.String() != want {
		t.Errorf("writeIndexes:\n%s\nwant:\n%s", b.String(), want)
	}
}
