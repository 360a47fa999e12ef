package scripts

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odin-db/odin/host"
	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting/codec"
)

// indexCrashItems is how many Item objects the index crash test keeps: more
// than one build step (1000 objects), so kills land in the middle of builds.
const indexCrashItems = 4000

// TestIndexCrash: the odin binary runs testdata/indexcrash/phase.js, which
// keeps updating indexed and unique fields of thousands of objects (and
// adds or drops an index, so that builds run), and is SIGKILLed at random
// moments, some during start-up. Then every index must hold exactly one
// entry per object whose fields it covers, under the key those fields give
// now, the unique indexes no value twice, and every build must have
// finished; checked through odin.find by check.js, and entry by entry in
// the store. ODIN_CRASH_SEED=n replays the kill times of a failed run.
func TestIndexCrash(t *testing.T) {
	rng := crashRand(t, 1)
	rounds := 10
	if testing.Short() {
		rounds = 5
	}
	scripts, err := filepath.Abs("testdata/indexcrash")
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	start := time.Now()
	items := strconv.Itoa(indexCrashItems)
	if out, code := runOdin(t, scripts, "run", "--data", data, "setup.js", items); code != 0 || out != "setup "+items+"\n" {
		t.Fatalf("setup.js exited %d:\n%s", code, out)
	}
	for r := 0; r < rounds; r++ {
		// Variant "b" adds an index, "a" drops it: runs of b after a start
		// a build over every item, runs of b after b resume it.
		variant := "b"
		if r%4 == 0 {
			variant = "a"
		}
		delay := time.Duration(150+rng.IntN(1200)) * time.Millisecond
		early := r%4 == 3
		if early {
			delay = time.Duration(5+rng.IntN(80)) * time.Millisecond
		}
		stdout, stderr := killedRun(t, scripts, !early, delay, "run", "--data", data, "phase.js", items, variant)
		var bad []string
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(l, "wrong ") || strings.HasPrefix(l, "error ") {
				bad = append(bad, l)
			}
		}
		if len(bad) > 0 || stderr != "" {
			t.Errorf("round %d (%s): %d bad lines: %s\nstderr:\n%s", r, variant, len(bad), head(bad), stderr)
		}
		when := "after ready"
		if early {
			when = "after start"
		}
		t.Logf("round %d (%s): killed %v %s; %s", r, variant, delay, when, buildState(t, data))
	}

	out, code := runOdin(t, scripts, "run", "--data", data, "check.js")
	if code != 0 {
		t.Fatalf("check.js exited %d:\n%s", code, out)
	}
	var res struct {
		Problems           []string
		Items, Slots, Tags int
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil {
		t.Fatalf("check.js printed something other than one JSON line (%v):\n%s", err, out)
	}
	for _, p := range res.Problems {
		t.Errorf("check.js: %s", p)
	}
	if res.Items != indexCrashItems || res.Slots == 0 || res.Tags == 0 {
		t.Errorf("check.js saw %d items, %d slots, %d tags: the updates did not run", res.Items, res.Slots, res.Tags)
	}
	checkIndexesExactly(t, data)
	t.Logf("%d rounds in %v; %d items hold a slot, %d a tag", rounds, time.Since(start).Round(time.Millisecond), res.Slots, res.Tags)
}

// killedRun runs odin in dir and SIGKILLs it delay after it started (or
// after it printed "ready"); it returns what it printed. Ending before the
// kill fails the test.
func killedRun(t *testing.T, dir string, afterReady bool, delay time.Duration, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(odinBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ODIN_DATA=")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	done, ready := make(chan error, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if sc.Text() == "ready" {
				close(ready)
			}
		}
		done <- cmd.Wait()
	}()
	if afterReady {
		select {
		case err := <-done:
			t.Fatalf("odin %v ended before it was killed (%v):\n%s\nstderr:\n%s", args, err, out.String(), errb.String())
		case <-ready:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("odin %v was not ready after 30 s; stderr:\n%s", args, errb.String())
		}
	}
	select {
	case err := <-done:
		t.Fatalf("odin %v ended before it was killed (%v):\n%s\nstderr:\n%s", args, err, out.String(), errb.String())
	case <-time.After(delay):
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = <-done
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("odin %v: %v, want killed by SIGKILL; stderr:\n%s", args, err, errb.String())
	}
	return out.String(), errb.String()
}

// openStore opens the store of a data directory no process uses.
func openStore(data string) (*persist.Store, error) {
	cfg := persist.DefaultConfig()
	cfg.Path = filepath.Join(data, "odin.db")
	cfg.NoSync = true
	cfg.IndexKey = codec.KeyOf
	return persist.Open(cfg)
}

// buildState describes, without changing anything, the builds the last
// kill interrupted (it opens the store alone: no node, no builds).
func buildState(t *testing.T, data string) string {
	t.Helper()
	st, err := openStore(data)
	if err != nil {
		t.Fatalf("opening the store after a kill: %v", err)
	}
	defer st.Close()
	sts, err := st.IndexStates("Item")
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, s := range sts {
		switch {
		case s.Err != "":
			t.Errorf("index %s: the build failed: %s", s.Index, s.Err)
		case !s.Built:
			parts = append(parts, fmt.Sprintf("index %s being built, %d of %d", s.Index, s.Done, s.Total))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d indexes, all built", len(sts))
	}
	return strings.Join(parts, ", ")
}

// checkIndexesExactly opens the data directory (finishing the builds the
// kills interrupted) and compares every index of Item, entry by entry,
// with the keys the stored fields of every item give.
func checkIndexesExactly(t *testing.T, data string) {
	t.Helper()
	cfg := host.DefaultConfig()
	cfg.DataDir, cfg.VMs, cfg.NoSync = data, 1, true
	n, err := host.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	n.WaitIndexes()
	store := n.Store()
	sts, err := store.IndexStates("Item")
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) < 4 {
		t.Fatalf("Item has %d indexes: %+v", len(sts), sts)
	}
	// Every item's stored fields.
	var ids []string
	for after := ""; ; {
		page, err := store.ListIDs("Item", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1]
	}
	if len(ids) != indexCrashItems {
		t.Fatalf("%d items stored, want %d", len(ids), indexCrashItems)
	}
	fields := make(map[string]map[string][]byte, len(ids))
	for _, id := range ids {
		st, ok, err := store.Load("Item", id)
		if err != nil || !ok {
			t.Fatalf("loading %s: %v, %v", id, ok, err)
		}
		fields[id] = st.Fields
	}
	for _, s := range sts {
		if !s.Built || s.Err != "" {
			t.Errorf("index %s after WaitIndexes: built %v, err %q", s.Index, s.Built, s.Err)
			continue
		}
		want := map[string]bool{}
		for _, id := range ids {
			if k, ok := indexKey(s.Index.Fields, fields[id], id); ok {
				want[string(k)] = true
			}
		}
		entries, err := store.ScanIndex(&objects.Query{Class: "Item", Index: s.Index.Name(), Fields: len(s.Index.Fields), Limit: objects.MaxFindLimit})
		if err != nil {
			t.Fatalf("scanning index %s: %v", s.Index, err)
		}
		if len(entries) > indexCrashItems {
			t.Errorf("index %s has %d entries for %d items", s.Index, len(entries), indexCrashItems)
		}
		var extra, missing []string
		tuples := map[string]string{}
		for _, e := range entries {
			if !want[string(e.Key)] {
				extra = append(extra, describeKey(e.Key, e.ID, fields[e.ID], s.Index.Fields))
			}
			delete(want, string(e.Key))
			if s.Index.Unique {
				tuple, id, err := objects.SplitKey(e.Key, len(s.Index.Fields))
				if err != nil {
					t.Fatal(err)
				}
				if prev, dup := tuples[string(tuple)]; dup && tuple[0] != objects.NullTag {
					t.Errorf("unique index %s: %s and %s hold the same value", s.Index, prev, id)
				}
				tuples[string(tuple)] = id
			}
		}
		for k := range want {
			missing = append(missing, fmt.Sprintf("%q", k))
		}
		slices.Sort(missing)
		if len(extra) > 0 || len(missing) > 0 {
			t.Errorf("index %s: %d entries that no item's fields give: %s; %d items missing: %s",
				s.Index, len(extra), head(extra), len(missing), head(missing))
		}
		t.Logf("index %s: %d entries, exact", s.Index, len(entries))
	}
}

// indexKey is the key of an object with the stored fields in an index of
// fields, as the store computes it (objects.AppendKey of each value, then
// the id); ok is false if a field is absent, undefined or not indexable.
func indexKey(fields []string, stored map[string][]byte, id string) ([]byte, bool) {
	var k []byte
	for _, f := range fields {
		v := stored[f]
		if v == nil {
			return nil, false
		}
		start := len(k)
		var ok bool
		if k, ok = codec.KeyOf(k, v); !ok || len(k) == start || k[start] == objects.UndefinedTag {
			return nil, false
		}
	}
	return append(k, id...), true
}

func describeKey(key []byte, id string, fields map[string][]byte, names []string) string {
	var now []string
	for _, f := range names {
		v, _ := codec.DecodeGo(fields[f])
		now = append(now, fmt.Sprintf("%s=%v", f, v))
	}
	return fmt.Sprintf("%x (%s holds %s)", key, id, strings.Join(now, " "))
}
