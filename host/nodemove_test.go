package host

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odin-db/odin/cluster/directory"
	"github.com/odin-db/odin/cluster/transport"
	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/scripting"
	"github.com/odin-db/odin/scripting/codec"
)

const movingClasses = `
class Item {
  static indexes = ["owner"];
  static unique = ["code"];
  got = [];
  n = 0;
  init(owner, code) { this.owner = owner; this.code = code; }
  setCode(c) { this.code = c; }
  inc() { return ++this.n; }
  get() { return { owner: this.owner, code: this.code, n: this.n, got: this.got }; }
  listen(name) { odin.spawn(this.loop, odin.channel(name)); }
  async loop(ch) {
    for (;;) {
      await odin.checkpoint();
      this.got.push(await ch.receive());
    }
  }
  async nap(ms) { await odin.sleep(ms); return "rested " + (await odin.placement(odin.self())).node; }
  arm(ms) { odin.spawn(this.ring, ms); }
  async ring(ms) { await odin.sleep(ms); this.rang = true; }
}
odin.define(Item);
`

// stored reports whether node i's store holds records of ref.
func (tc *testCluster) stored(i int, ref objects.Ref) bool {
	tc.t.Helper()
	_, ok, err := tc.nodes[i].Store().Export(ref.Class, ref.ID)
	if err != nil {
		tc.t.Fatal(err)
	}
	return ok
}

// waitField waits until node i's store holds ref with field set to want,
// reading the store only (which activates nothing).
func (tc *testCluster) waitField(i int, ref objects.Ref, field string, want any) {
	tc.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _, err := tc.nodes[i].Store().Load(ref.Class, ref.ID)
		if err != nil {
			tc.t.Fatal(err)
		}
		if b := st.Fields[field]; b != nil {
			if v, err := codec.DecodeGo(b); err == nil && v == want {
				return
			}
		}
		if time.Now().After(deadline) {
			tc.t.Fatalf("n%d never stored %s.%s = %v", i+1, ref, field, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGone waits until node i's store no longer holds ref.
func (tc *testCluster) waitGone(i int, ref objects.Ref) {
	tc.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tc.stored(i, ref) {
		if time.Now().After(deadline) {
			tc.t.Fatalf("n%d still stores %s", i+1, ref)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// evalStr runs src on node i and returns its result printed.
func (tc *testCluster) evalStr(i int, src string) string {
	tc.t.Helper()
	return fmt.Sprint(tc.eval(i, src))
}

// TestClusterMoveObject moves an object with state, indexed and unique
// fields, a tasklet blocked on a channel and a method asleep, to another
// node and back: its state, index entries, unique value and tasklets go
// with it, and it is stored and found on one node only.
func TestClusterMoveObject(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.eval(0, movingClasses)
	tc.eval(0, `
		const a = odin.ref("Item", "a");
		await a.init("bob", "A1");
		await odin.ref("Item", "b").init("bob", "B1");
		await a.listen("inbox");
		await odin.channel("inbox").send("one");`)
	a := objects.Ref{Class: "Item", ID: "a"}
	if !tc.stored(0, a) || tc.stored(1, a) {
		t.Fatal("a is not stored on n1 alone before the move")
	}
	// The nap is asleep in a when the move starts; it answers from n2.
	got := tc.evalStr(0, `
		const a = odin.ref("Item", "a");
		const nap = a.nap(300);
		await odin.migrate(a, { node: "n2" });
		const p = await odin.placement(a);
		await odin.channel("inbox").send("two");
		return [p.node, await nap, (await a.get()).got.join(), await a.inc()];`)
	if got != "[n2 rested n2 one,two 1]" {
		t.Fatalf("after the move to n2: %s", got)
	}
	if tc.stored(0, a) || !tc.stored(1, a) || tc.stored(2, a) {
		t.Fatalf("after the move a is stored on n1 %v, n2 %v, n3 %v", tc.stored(0, a), tc.stored(1, a), tc.stored(2, a))
	}
	for i := range tc.nodes {
		got := tc.evalStr(i, `
			const a = odin.ref("Item", "a");
			const i = await odin.inspect(a);
			const bob = await odin.find("Item", { owner: "bob" });
			const code = await odin.find("Item", { code: "A1" });
			const all = await odin.objects("Item");
			return [i.node, i.state.owner, bob.map(r => r.id).join(), code.length, all.length, (await odin.placement(a)).node];`)
		if got != "[n2 bob a,b 1 2 n2]" {
			t.Fatalf("n%d sees after the move: %s", i+1, got)
		}
	}
	// The unique value stays a's: taken neither on a's new node nor elsewhere.
	for _, i := range []int{1, 2, 0} {
		got := tc.evalStr(i, fmt.Sprintf(`
			try { await odin.ref("Item", "c%d").init("eve", "A1"); return "taken"; }
			catch (e) { return e.name + " " + e.rule; }`, i))
		if got != "ConstraintError unique" {
			t.Fatalf("n%d: another object took a's unique value: %s", i+1, got)
		}
	}
	// And a gives it up where it is now.
	tc.eval(2, `await odin.ref("Item", "a").setCode("A2"); await odin.ref("Item", "c0").setCode("A1");`)

	// Back to n1, asked from n3 (the owner, n2, carries it out), to VM 1.
	got = tc.evalStr(2, `
		const a = odin.ref("Item", "a");
		await odin.migrate(a, { node: "n1", vm: 1 });
		const p = await odin.placement(a);
		await odin.channel("inbox").send("three");
		return [p.node, p.vm, (await a.get()).got.join(), await a.inc(), (await odin.find("Item", { owner: "bob" })).length];`)
	if got != "[n1 1 one,two,three 2 2]" {
		t.Fatalf("after moving back to n1: %s", got)
	}
	if !tc.stored(0, a) || tc.stored(1, a) {
		t.Fatal("a is not stored on n1 alone after moving back")
	}
	// Moving it where it is does nothing; a VM move on its node still works.
	got = tc.evalStr(1, `
		const a = odin.ref("Item", "a");
		await odin.migrate(a, { node: "n1" });
		await odin.migrate(a, { vm: 0 });
		const p = await odin.placement(a);
		return [p.node, p.vm, await a.inc()];`)
	if got != "[n1 0 3]" {
		t.Fatalf("moves on n1: %s", got)
	}
	// An object whose only pending work is a timer is activated on its new
	// node at once: the timer fires there with no call to wake it.
	tc.eval(0, `const z = odin.ref("Item", "alarm"); await z.init("zed", "Z1"); await z.arm(200); await odin.migrate(z, { node: "n3" });`)
	tc.waitField(2, objects.Ref{Class: "Item", ID: "alarm"}, "rang", true)

	// An object nobody has used yet starts on the node it is moved to.
	got = tc.evalStr(0, `
		const f = odin.ref("Item", "fresh");
		await odin.migrate(f, { node: "n3" });
		await f.init("zed", "F1");
		return (await odin.placement(f)).node;`)
	if got != "n3" {
		t.Fatalf("an unused object moved to n3 lives on %s", got)
	}
}

// TestClusterMoveFailures: a move to a node that is down, refused by the
// directory, or whose directory answer is lost leaves the object working,
// stored on one node, and found once.
func TestClusterMoveFailures(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.eval(0, movingClasses)
	tc.eval(0, `await odin.ref("Item", "a").init("bob", "A1"); await odin.ref("Item", "a").listen("in");`)
	a := objects.Ref{Class: "Item", ID: "a"}
	check := func(what, want string) {
		t.Helper()
		got := tc.evalStr(1, `
			const a = odin.ref("Item", "a");
			return [(await odin.placement(a)).node, await a.inc(), (await odin.find("Item", { owner: "bob" }, { partial: true })).length];`)
		if got != want {
			t.Fatalf("%s: %s, want %s", what, got, want)
		}
	}
	tryMove := func(from int, node string) string {
		t.Helper()
		return tc.evalStr(from, fmt.Sprintf(`
			try { await odin.migrate(odin.ref("Item", "a"), { node: %q }); return "moved"; }
			catch (e) { return e.name + ": " + e.message; }`, node))
	}

	// The directory refuses (another node moved it meanwhile, say): n2
	// drops what it stored, n1 serves the object again.
	refuse := func(step string) error {
		if step == "directory" {
			return &directory.ConflictError{Owner: "n1", Epoch: 1, Msg: "injected"}
		}
		return nil
	}
	tc.nodes[0].cluster.testFailMove.Store(&refuse)
	if got := tryMove(0, "n2"); !strings.HasPrefix(got, "UnavailableError: ") || !strings.Contains(got, "refused") {
		t.Fatalf("a move the directory refused: %s", got)
	}
	tc.nodes[0].cluster.testFailMove.Store(nil)
	check("after a refused move", "[n1 1 1]")
	tc.waitGone(1, a)

	// The directory's answer is lost: n1 holds a's messages and asks again;
	// the move happens, and a call made meanwhile is answered once, by n2.
	lost := func(step string) error {
		if step == "directory" {
			return errors.New("injected: no answer")
		}
		return nil
	}
	tc.nodes[0].cluster.testFailMove.Store(&lost)
	got := tc.evalStr(2, `
		const a = odin.ref("Item", "a");
		let err;
		try { await odin.migrate(a, { node: "n2" }); } catch (e) { err = e.name; }
		return [err, await a.inc(), (await odin.placement(a)).node];`)
	tc.nodes[0].cluster.testFailMove.Store(nil)
	if got != "[UnavailableError 2 n2]" {
		t.Fatalf("a move whose directory answer was lost: %s", got)
	}
	check("after the settled move", "[n2 3 1]")
	tc.waitGone(0, a) // n1 deletes its copy after it routes the held messages

	// Back to n1, then towards n3 as it crashes and once n3 is known down:
	// both fail and a stays on n1, whole.
	if got := tryMove(1, "n1"); got != "moved" {
		t.Fatalf("moving back: %s", got)
	}
	tc.crash(2)
	if got := tryMove(1, "n3"); !strings.HasPrefix(got, "UnavailableError: ") || !strings.Contains(got, "n3") {
		t.Fatalf("a move to a node that just went down: %s", got)
	}
	check("after a move to a node that went down", "[n1 4 1]")
	tc.waitStatus(0, "n3", "failed")
	if got := tryMove(0, "n3"); !strings.HasPrefix(got, "UnavailableError: ") || !strings.Contains(got, "n3 is down") {
		t.Fatalf("a move to a node that is down: %s", got)
	}
	check("after a move to a node that is down", "[n1 5 1]")
	if got := tc.evalStr(0, `await odin.channel("in").send("x"); return (await odin.ref("Item", "a").get()).got.join()`); got != "x" {
		t.Fatalf("a's tasklet after failed moves: %s", got)
	}
	if !tc.stored(0, a) || tc.stored(1, a) {
		t.Fatal("a is not stored on n1 alone after the failed moves")
	}
}

// TestClusterMovesUnderLoad: scripts on every node, and an object that
// moves too, call an object while it moves back and forth between the
// nodes: no call is lost or runs twice (the object's counter equals the
// calls answered, every answer is distinct), and its tasklet keeps
// receiving. The calling object's calls are re-sent under the same ids
// after each of its moves, and answered once (the callee's dedupe record
// moves with it).
func TestClusterMovesUnderLoad(t *testing.T) {
	const (
		loops = 6   // concurrent callers per node
		calls = 120 // calls per caller, at least: callers go on until the moves end
		moves = 60
	)
	tc := newTestCluster(t, 3)
	tc.eval(0, movingClasses+`
		class Flag { up = false; raise() { this.up = true; } get() { return this.up; } }
		odin.define(Flag);
		class Pinger {
		  got = [];
		  async run(c, n) { for (let i = 0; i < n; i++) this.got.push(await c.inc()); return this.got.length; }
		  get() { return this.got; }
		}
		odin.define(Pinger);`)
	tc.eval(0, `await odin.ref("Item", "c").init("bob", "C1"); await odin.ref("Item", "c").listen("c-in"); await odin.ref("Flag", "done").get();`)
	var wg sync.WaitGroup
	results := make([]any, len(tc.nodes))
	errs := make([]error, len(tc.nodes))
	var pinged any
	var pingErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		pinged, pingErr = tc.nodes[2].Eval("ping.js", `return await odin.ref("Pinger", "p").run(odin.ref("Item", "c"), 150);`)
	}()
	for i := range tc.nodes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = tc.nodes[i].Eval("load.js", fmt.Sprintf(`
				const c = odin.ref("Item", "c"), flag = odin.ref("Flag", "done");
				const out = [];
				let stop = false;
				await Promise.all(Array.from({ length: %d }, async () => {
					for (let k = 0; k < %d || !stop; k++) {
						try { out.push(await c.inc()); } catch (e) { out.push(e.name + ": " + e.message); }
						if (k %% 10 === 9) stop = await flag.get();
					}
				}));
				return out;`, loops, calls))
		}(i)
	}
	moved := tc.eval(1, fmt.Sprintf(`
		const c = odin.ref("Item", "c");
		const nodes = ["n2", "n3", "n1"];
		const failed = [], counts = [];
		while ((await c.get()).n < 50) await odin.sleep(5);
		for (let i = 0; i < %d; i++) {
			try {
				await odin.migrate(c, { node: nodes[i %% 3] });
				const p = await odin.placement(c);
				if (p.node !== nodes[i %% 3]) failed.push("move " + i + " left it on " + p.node);
				if (i %% 4 === 1) await odin.migrate(odin.ref("Pinger", "p"), { node: nodes[(i + 1) %% 3] });
			} catch (e) { failed.push(e.message); }
			counts.push((await c.get()).n);
			if (i %% 10 === 9) await odin.channel("c-in").send(i);
		}
		await odin.ref("Flag", "done").raise();
		return [failed.join("; "), counts];`, moves)).([]any)
	wg.Wait()
	if moved[0] != "" {
		t.Fatalf("moves failed: %s", moved[0])
	}
	if pingErr != nil || pinged != int64(150) {
		t.Fatalf("the pinger: %v, %v", pinged, pingErr)
	}
	results = append(results, tc.eval(0, `return await odin.ref("Pinger", "p").get();`))
	errs = append(errs, nil)
	seen := map[int64]bool{}
	var bad []string
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("n%d: %v", i+1, errs[i])
		}
		for _, v := range r.([]any) {
			n, ok := v.(int64)
			switch {
			case !ok:
				bad = append(bad, fmt.Sprint(v))
			case seen[n]:
				bad = append(bad, fmt.Sprintf("%d answered twice", n))
			default:
				seen[n] = true
			}
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Fatalf("%d bad answers, e.g. %q", len(bad), bad[:min(5, len(bad))])
	}
	answered := len(seen)
	got := tc.evalStr(2, `const s = await odin.ref("Item", "c").get(); return [s.n, s.got.join(), (await odin.placement(odin.ref("Item", "c"))).node];`)
	if want := fmt.Sprintf("[%d 9,19,29,39,49,59 n1]", answered); got != want {
		t.Fatalf("after %d calls answered and %d moves: %s, want %s", answered, moves, got, want)
	}
	if answered < len(tc.nodes)*loops*calls+150 {
		t.Fatalf("only %d calls answered", answered)
	}
	// The calls ran between the moves, not before or after them all.
	counts, between := moved[1].([]any), 0
	for i := 1; i < len(counts); i++ {
		if counts[i].(int64) > counts[i-1].(int64) {
			between++
		}
	}
	if between < moves/2 {
		t.Fatalf("calls ran between only %d of %d moves: %v", between, moves, counts)
	}
	t.Logf("%d calls from 3 nodes and a moving object answered across %d moves (calls ran between %d of them)", answered, moves, between)
}

// TestMoveBetweenVMsWakesTimers: an object whose only pending work is a
// timer is activated on its new VM at once, not at its next call.
func TestMoveBetweenVMsWakesTimers(t *testing.T) {
	n, _ := newTestNode(t, "", func(c *Config) { c.NoAutoPlacement = true; c.VMs = 2 })
	eval(t, n, movingClasses+`
		const a = odin.ref("Item", "x");
		await a.arm(100);
		const p = await odin.placement(a);
		await odin.migrate(a, { vm: 1 - p.vm });`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _, err := n.Store().Load("Item", "x")
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := codec.DecodeGo(st.Fields["rang"]); v == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the timer did not fire after the move")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterClientMoves: a client connected to n2 calls an object living
// on n1 (the reply comes back through n2, the only node connected to the
// client), and moves it to n2 and to n3.
func TestClusterClientMoves(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.eval(0, movingClasses)
	tc.eval(0, `await odin.ref("Item", "a").init("bob", "A1");`)
	cfg := DefaultConfig()
	cfg.Connect = &ConnectConfig{Addr: tc.nodes[1].RPCAddr(), Token: "secret"}
	cfg.CallTimeout = 10 * time.Second
	cl, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v, err := cl.Eval("client.js", `
		const a = odin.ref("Item", "a");
		const out = [await a.inc(), (await odin.placement(a)).node];
		await odin.migrate(a, { node: "n2" });
		out.push(await a.inc(), (await odin.placement(a)).node);
		await odin.migrate(a, { node: "n3", vm: 1 });
		const p = await odin.placement(a);
		out.push(await a.inc(), p.node + "/" + p.vm, (await odin.find("Item", { owner: "bob" })).length);
		return out;`)
	if got := fmt.Sprint(v); err != nil || got != "[1 n1 2 n2 3 n3/1 1]" {
		t.Fatalf("through a client: %v, %v", got, err)
	}
}

// TestClusterConcurrentMoves: every node keeps moving the same object to
// the others at once while all of them call it. Moves may be refused (the
// object is already moving, or has just moved), never half done: every
// call runs once, and the object ends up stored on exactly one node.
func TestClusterConcurrentMoves(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.eval(0, movingClasses)
	tc.eval(0, `await odin.ref("Item", "c").init("bob", "C1");`)
	var wg sync.WaitGroup
	calls := make([]any, 3)
	moves := make([]any, 3)
	errs := make([]error, 6)
	for i := range tc.nodes {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			calls[i], errs[i] = tc.nodes[i].Eval("calls.js", `
				const c = odin.ref("Item", "c"), out = [];
				await Promise.all([0, 1, 2].map(async () => {
					for (let k = 0; k < 100; k++) {
						try { out.push(await c.inc()); } catch (e) { out.push(e.name + ": " + e.message); }
					}
				}));
				return out;`)
		}(i)
		go func(i int) {
			defer wg.Done()
			moves[i], errs[3+i] = tc.nodes[i].Eval("moves.js", fmt.Sprintf(`
				const c = odin.ref("Item", "c"), nodes = ["n1", "n2", "n3"];
				let moved = 0;
				const failed = [];
				for (let k = 0; k < 20; k++) {
					try { await odin.migrate(c, { node: nodes[(k + %d) %% 3] }); moved++; }
					catch (e) { failed.push(e.name + ": " + e.message); }
				}
				return [moved, failed];`, i))
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("script %d: %v", i, err)
		}
	}
	seen := map[int64]bool{}
	for _, r := range calls {
		for _, v := range r.([]any) {
			n, ok := v.(int64)
			if !ok || seen[n] {
				t.Fatalf("bad answer %v (or answered twice)", v)
			}
			seen[n] = true
		}
	}
	total := 0
	for _, m := range moves {
		r := m.([]any)
		total += int(r[0].(int64))
		for _, f := range r[1].([]any) {
			msg := f.(string)
			if !strings.HasPrefix(msg, "UnavailableError: ") || !(strings.Contains(msg, "already moving") ||
				strings.Contains(msg, "still leaving") || strings.Contains(msg, "already on node") ||
				strings.Contains(msg, "refused") || strings.Contains(msg, "forwarded")) {
				t.Errorf("unexpected move failure: %s", msg)
			}
		}
	}
	if total < 10 {
		t.Errorf("only %d of 60 concurrent moves happened", total)
	}
	got := tc.evalStr(0, `return (await odin.ref("Item", "c").get()).n`)
	if got != fmt.Sprint(len(seen)) || len(seen) != 900 {
		t.Fatalf("counter %s, %d calls answered, want 900", got, len(seen))
	}
	c := objects.Ref{Class: "Item", ID: "c"}
	where := ""
	for i := range tc.nodes {
		if tc.stored(i, c) {
			where += tc.nodes[i].Name()
		}
	}
	if owner := tc.evalStr(1, `return (await odin.placement(odin.ref("Item", "c"))).node`); where != owner {
		t.Fatalf("c is stored on %q and served by %s", where, owner)
	}
	t.Logf("%d of 60 concurrent moves happened; %d calls answered once", total, len(seen))
}

// TestClusterForwardAfterMove: a node whose copy of the directory lags
// still sends calls to an object's old node, which forwards them by the
// owner it knows now; the count of forwards still stops a message that
// has been forwarded too often.
func TestClusterForwardAfterMove(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.eval(0, movingClasses)
	tc.eval(0, `const a = odin.ref("Item", "a"); await a.init("bob", "A1"); await odin.migrate(a, { node: "n2" });`)
	args, err := codec.AppendGo(nil, []any{})
	if err != nil {
		t.Fatal(err)
	}
	a := objects.Ref{Class: "Item", ID: "a"}
	// As if n3 still believed n1 owned a: a call reaches n1 having been
	// forwarded once already, or as often as allowed.
	for _, hops := range []uint8{1, maxHops - 1, maxHops} {
		body, err := encodeMessage(&scripting.Message{Kind: scripting.KindCall, To: a, Method: "inc", Args: args}, hops)
		if err != nil {
			t.Fatal(err)
		}
		tc.nodes[0].cluster.onMessage(transport.Peer{Name: "n3", Addr: "127.0.0.1:1"}, wireMessage, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := tc.evalStr(2, `return (await odin.ref("Item", "a").get()).n`)
		if got == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after two forwarded calls a counts %s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the third call, had it gone through, would have run by now
	if got := tc.evalStr(1, `return (await odin.ref("Item", "a").get()).n`); got != "2" {
		t.Fatalf("a call forwarded %d times was not stopped: n = %s", maxHops, got)
	}
}
