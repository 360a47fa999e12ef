package host

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odin-db/odin/objects"
)

const waiterClasses = `
class Waiter {
  got = [];
  start(name) { odin.spawn(this.loop, odin.channel(name)); }
  async loop(ch) {
    for (;;) {
      await odin.checkpoint();
      const v = await ch.receive();
      this.got.push(v);
    }
  }
  get() { return this.got; }
}
odin.define(Waiter);
class Sleeper {
  woke = false;
  async nap(ms) { await odin.sleep(ms); this.woke = true; return "woke"; }
  get() { return this.woke; }
}
odin.define(Sleeper);
`

// waitUntil polls a script until it returns true.
func waitUntil(t *testing.T, n *Node, what, src string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := n.Eval("poll.js", src)
		if err == nil && v == true {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last: %v, %v)", what, v, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSuspendedSurviveRestart: a tasklet blocked on a channel and a method
// suspended in odin.sleep come back after the node stops and starts again.
func TestSuspendedSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	n, _ := newTestNode(t, dir)
	eval(t, n, waiterClasses+`
await odin.ref("Waiter", "w").start("in");
const ch = odin.channel("in");
for (const v of [1, 2, 3]) await ch.send(v);
odin.ref("Sleeper", "s").nap(300);   // not awaited: the script ends, the nap goes on
await odin.sleep(50);`)
	n.Close()

	n2, _ := newTestNode(t, dir)
	eval(t, n2, `const ch = odin.channel("in"); await ch.send(4); await ch.send(5);`)
	waitUntil(t, n2, "the waiter to have 5 values", `return (await odin.ref("Waiter", "w").get()).join() === "1,2,3,4,5";`)
	waitUntil(t, n2, "the sleeper to wake", `return await odin.ref("Sleeper", "s").get();`)
	info := eval(t, n2, `const i = await odin.inspect(odin.ref("Waiter", "w")); return [i.tasklets.length, i.log];`)
	if got := fmt.Sprint(info); got != "[1 2]" && got != "[1 1]" && got != "[1 0]" {
		t.Fatalf("waiter after restart: [tasklets log] = %v", got)
	}
}

// TestMigrateUnderLoad moves an object with 10 suspended tasklets between
// VMs many times while calls hit it: no call is lost or runs twice, and the
// tasklets still work afterwards.
func TestMigrateUnderLoad(t *testing.T) {
	n, _ := newTestNode(t, "", func(c *Config) { c.NoAutoPlacement = true })
	eval(t, n, `
class Hub {
  n = 0; got = [];
  start() { for (let i = 0; i < 10; i++) odin.spawn(this.wait, odin.channel("hub" + i)); }
  async wait(ch) { this.got.push(await ch.receive()); }
  inc() { return ++this.n; }
  get() { return [this.n, this.got.slice().sort((a, b) => a - b)]; }
}
odin.define(Hub);
await odin.ref("Hub", "h").start();
await odin.sleep(20);`)
	ref := objects.Ref{Class: "Hub", ID: "h"}
	var calls atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			v, err := n.Eval("load.js", `
let ok = 0;
for (let i = 0; i < 20; i++) { await odin.ref("Hub", "h").inc(); ok++; }
return ok;`)
			if err != nil {
				t.Errorf("call during moves: %v", err)
				return
			}
			calls.Add(v.(int64))
		}
	}()
	moves := 1000
	if testing.Short() {
		moves = 100
	}
	start := time.Now()
	for i := 0; i < moves; i++ {
		if err := n.MoveObject(ref, (i+1)%2); err != nil {
			t.Fatalf("move %d: %v", i, err)
		}
		// Let calls in between moves, so that every move has some in flight.
		for c := calls.Load(); calls.Load() == c && !t.Failed(); {
			time.Sleep(50 * time.Microsecond)
		}
	}
	elapsed := time.Since(start)
	stop.Store(true)
	wg.Wait()
	if calls.Load() < int64(moves) {
		t.Fatalf("only %d calls ran during %d moves", calls.Load(), moves)
	}
	t.Logf("%d moves with %d calls in %v (%v per move)", moves, calls.Load(), elapsed, elapsed/time.Duration(moves))
	if got := eval(t, n, `return (await odin.inspect(odin.ref("Hub", "h"))).vm;`); got != int64(moves%2) {
		t.Fatalf("after %d moves the object is on VM %v", moves, got)
	}
	got := eval(t, n, `
for (let i = 0; i < 10; i++) await odin.channel("hub" + i).send(i);
await odin.sleep(50);
return await odin.ref("Hub", "h").get();`)
	want := fmt.Sprintf("[%d [0 1 2 3 4 5 6 7 8 9]]", calls.Load())
	if fmt.Sprint(got) != want {
		t.Fatalf("after %d moves and %d calls: got %v, want %v", moves, calls.Load(), got, want)
	}
}

// TestCheckpointKeepsLogShort: a receive loop with odin.checkpoint() keeps
// the object's log at a few events however many messages it takes.
func TestCheckpointKeepsLogShort(t *testing.T) {
	n, _ := newTestNode(t, "")
	count := 100000
	if testing.Short() {
		count = 5000
	}
	got := eval(t, n, waiterClasses+fmt.Sprintf(`
class Summer {
  sum = 0; count = 0;
  start() { odin.spawn(this.loop, odin.channel("nums")); }
  async loop(ch) {
    for (;;) {
      await odin.checkpoint();
      const v = await ch.receive();
      this.sum += v; this.count++;
    }
  }
  get() { return [this.sum, this.count]; }
}
odin.define(Summer);
const s = odin.ref("Summer", "s");
await s.start();
const ch = odin.channel("nums");
let maxLog = 0;
for (let i = 1; i <= %d; i++) {
  await ch.send(i);
  if (i %% 1000 === 0) maxLog = Math.max(maxLog, (await odin.inspect(s)).log);
}
await odin.sleep(20);
return [...await s.get(), maxLog];`, count))
	vs := got.([]any)
	wantSum := int64(count) * int64(count+1) / 2
	if vs[0] != wantSum || vs[1] != int64(count) {
		t.Fatalf("sum, count = %v, %v; want %d, %d", vs[0], vs[1], wantSum, count)
	}
	if vs[2].(int64) > 4 {
		t.Fatalf("the log grew to %v events", vs[2])
	}
}

// TestNondeterminismDetected: a class that reads a global variable cannot
// be replayed; the object is kept as stored and refuses calls.
func TestNondeterminismDetected(t *testing.T) {
	dir := t.TempDir()
	n, _ := newTestNode(t, dir, func(c *Config) { c.VMs = 1 })
	eval(t, n, `
class Salt { set(v) { globalThis.salt = v; } }
odin.define(Salt);
class Cheat {
  n = 0;
  async run() { this.n = globalThis.salt ?? 0; await odin.sleep(60000); }
  get() { return this.n; }
}
odin.define(Cheat);
await odin.ref("Salt", "s").set(42);
odin.ref("Cheat", "c").run();
await odin.sleep(50);`)
	n.Close()
	n2, out := newTestNode(t, dir, func(c *Config) { c.VMs = 1 })
	got := eval(t, n2, `
try { await odin.ref("Cheat", "c").get(); return "no error"; }
catch (e) { return e.name + ": " + e.message; }`)
	if s := fmt.Sprint(got); !strings.HasPrefix(s, "NondeterminismError: ") || !strings.Contains(s, "Cheat/c") {
		t.Fatalf("got %v", got)
	}
	if v := field(t, n2, "Cheat", "c", "n"); v != int64(42) {
		t.Fatalf("stored n = %v, want 42 (kept as stored)", v)
	}
	if !strings.Contains(out.String(), "NondeterminismError") {
		t.Fatalf("the divergence was not reported: %q", out.String())
	}
}

// TestLogBound: past the log's bound, new calls are refused with an error
// that names odin.checkpoint().
func TestLogBound(t *testing.T) {
	n, _ := newTestNode(t, "", func(c *Config) { c.MaxLogEvents = 20 })
	got := eval(t, n, `
class Hoard {
  n = 0;
  start() { odin.spawn(async () => { await odin.channel("never").receive(); }); }
  inc() { return ++this.n; }
}
odin.define(Hoard);
const h = odin.ref("Hoard", "h");
await h.start();
for (let i = 0; i < 30; i++) {
  try { await h.inc(); } catch (e) { return [i, e.message]; }
}
return "never refused";`)
	vs, ok := got.([]any)
	if !ok || !strings.Contains(vs[1].(string), "odin.checkpoint()") {
		t.Fatalf("got %v", got)
	}
}

// TestCallIDsUniqueAcrossRuns: an object's calls in a later run (another
// activation, another process) are not mistaken for earlier ones by the
// callee's dedupe table.
func TestCallIDsUniqueAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	src := `
class Payer { async pay(to) { return await odin.ref("Payee", to).take(1); } }
class Payee { n = 0; take(k) { this.n += k; return this.n; } }
odin.define(Payer); odin.define(Payee);
let last;
for (let i = 0; i < 3; i++) last = await odin.ref("Payer", "p").pay("q");
return last;`
	for run := 1; run <= 3; run++ {
		n, _ := newTestNode(t, dir)
		if got := eval(t, n, src); got != int64(3*run) {
			t.Fatalf("run %d: payee has %v, want %d", run, got, 3*run)
		}
		n.Close()
	}
}

// TestInterruptInAsyncMethodKeepsVMServing: a turn interrupted inside an
// async method (after an await) must not leave the VM unable to run other
// objects' continuations.
func TestInterruptInAsyncMethodKeepsVMServing(t *testing.T) {
	n, _ := newTestNode(t, "", func(c *Config) { c.VMs = 1; c.TurnLimit = 200 * time.Millisecond })
	got := eval(t, n, `
class S { async spin() { await null; for (;;) {} } async ok() { await null; return "ok"; } }
odin.define(S);
const e = await odin.ref("S", "a").spin().catch(e => e);
const r = await odin.withTimeout(5000, odin.ref("S", "b")).ok();
return [e.name, r];`)
	if fmt.Sprint(got) != "[TimeoutError ok]" {
		t.Fatalf("got %v", got)
	}
}

// TestPlacementFollowsCalls: an object called mostly from another VM moves
// there by itself, and two objects that call each other end up on one VM
// (rather than swapping VMs).
func TestPlacementFollowsCalls(t *testing.T) {
	n, _ := newTestNode(t, "")
	eval(t, n, `
class Far { v = 1; get() { return this.v; } }
class Near {
  async poll(id, ms) { const f = odin.ref("Far", id); const end = Date.now() + ms; let k = 0; while (Date.now() < end) { await f.get(); k++; } return k; }
}
class Pong {
  async rally(other, k) { return k === 0 ? 0 : 1 + await odin.ref("Pong", other).rally(odin.self().id, k - 1); }
}
odin.define(Far); odin.define(Near); odin.define(Pong);`)
	// Pick a caller on VM 0 and a callee on VM 1.
	var near, far, p1, p2 string
	for i := 0; near == "" || far == "" || p1 == "" || p2 == ""; i++ {
		id := fmt.Sprint(i)
		if near == "" && n.VMOf(objects.Ref{Class: "Near", ID: id}) == 0 {
			near = id
		}
		if far == "" && n.VMOf(objects.Ref{Class: "Far", ID: id}) == 1 {
			far = id
		}
		if p1 == "" && n.VMOf(objects.Ref{Class: "Pong", ID: id}) == 0 {
			p1 = id
		} else if p2 == "" && n.VMOf(objects.Ref{Class: "Pong", ID: id}) == 1 {
			p2 = id
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for n.VMOf(objects.Ref{Class: "Far", ID: far}) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the callee did not move to its caller's VM within 30 s")
		}
		eval(t, n, fmt.Sprintf(`await odin.ref("Near", %q).poll(%q, 300);`, near, far))
	}
	for {
		if n.VMOf(objects.Ref{Class: "Pong", ID: p1}) == n.VMOf(objects.Ref{Class: "Pong", ID: p2}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("two objects calling each other did not end up on one VM within 30 s")
		}
		eval(t, n, fmt.Sprintf(`for (let i = 0; i < 20; i++) await odin.ref("Pong", %q).rally(%q, 20);`, p1, p2))
	}
	// And they stay together.
	vm := n.VMOf(objects.Ref{Class: "Pong", ID: p1})
	for i := 0; i < 5; i++ {
		eval(t, n, fmt.Sprintf(`for (let i = 0; i < 20; i++) await odin.ref("Pong", %q).rally(%q, 20);`, p1, p2))
		time.Sleep(300 * time.Millisecond)
	}
	if a, b := n.VMOf(objects.Ref{Class: "Pong", ID: p1}), n.VMOf(objects.Ref{Class: "Pong", ID: p2}); a != vm || b != vm {
		t.Fatalf("the pair moved apart again: VMs %d and %d", a, b)
	}
}
