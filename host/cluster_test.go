package host

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCluster is several nodes in this process: real serf, real raft, real
// TCP on 127.0.0.1, each on its own data directory.
type testCluster struct {
	t     *testing.T
	nodes []*Node
	dirs  []string
	outs  []*syncBuffer
}

func clusterConfig(name, dir string, join []string) Config {
	cfg := DefaultConfig()
	cfg.Name = name
	cfg.DataDir = dir
	cfg.VMs = 2
	cfg.NoSync = true
	cfg.Cluster = &ClusterConfig{Gossip: "127.0.0.1:0", RPC: "127.0.0.1:0", Raft: "127.0.0.1:0", Join: join, Token: "secret", Fast: true}
	return cfg
}

func newTestCluster(t *testing.T, size int) *testCluster {
	t.Helper()
	tc := &testCluster{t: t}
	for i := 0; i < size; i++ {
		tc.dirs = append(tc.dirs, t.TempDir())
		tc.outs = append(tc.outs, &syncBuffer{})
		tc.nodes = append(tc.nodes, nil)
		tc.start(i)
	}
	t.Cleanup(func() {
		for _, n := range tc.nodes {
			if n != nil {
				n.Close()
			}
		}
	})
	tc.waitMembers(size)
	return tc
}

// start opens node i, joining the others that run.
func (tc *testCluster) start(i int) {
	tc.t.Helper()
	var join []string
	for j, n := range tc.nodes {
		if n != nil && j != i {
			join = append(join, n.GossipAddr())
		}
	}
	cfg := clusterConfig(fmt.Sprintf("n%d", i+1), tc.dirs[i], join)
	cfg.Stdout, cfg.Stderr = tc.outs[i], tc.outs[i]
	n, err := Open(cfg)
	if err != nil {
		tc.t.Fatalf("node n%d: %v", i+1, err)
	}
	tc.nodes[i] = n
}

// crash stops node i: the others see it fail (a node never leaves the
// cluster when it stops).
func (tc *testCluster) crash(i int) {
	tc.nodes[i].Close()
	tc.nodes[i] = nil
}

// waitMembers waits until every running node sees want members alive and
// the directory has a server for each.
func (tc *testCluster) waitMembers(want int) {
	tc.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		for _, n := range tc.nodes {
			if n == nil {
				continue
			}
			alive := 0
			for _, m := range n.Members() {
				if m.Status == "alive" {
					alive++
				}
			}
			if alive != want {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for _, n := range tc.nodes {
				if n != nil {
					tc.t.Logf("%s sees %+v", n.Name(), n.Members())
				}
			}
			tc.t.Fatalf("members did not settle at %d alive", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStatus waits until node i sees member name with the status.
func (tc *testCluster) waitStatus(i int, name, status string) {
	tc.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range tc.nodes[i].Members() {
			if m.Name == name && m.Status == status {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tc.t.Fatalf("n%d never saw %s %s: %+v", i+1, name, status, tc.nodes[i].Members())
}

func (tc *testCluster) eval(i int, src string) any {
	tc.t.Helper()
	v, err := tc.nodes[i].Eval("test.js", src)
	if err != nil {
		tc.t.Fatalf("n%d: %v", i+1, err)
	}
	return v
}

const clusterAccountClass = `
class Account {
  static indexes = ["owner", "age"];
  static unique = ["email"];
  open(owner, age, email) { this.owner = owner; this.age = age; this.email = email; return this.where(); }
  where() { return odin.placement(odin.self()).then(p => p.node); }
  setEmail(e) { this.email = e; }
  get() { return { owner: this.owner, age: this.age, email: this.email }; }
}
odin.define(Account);
`

func TestClusterCallsFindAndUnique(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.eval(0, clusterAccountClass)
	// Each node creates its own objects: they live where they were first
	// called from, so the class is spread over the three nodes.
	for i := range tc.nodes {
		src := fmt.Sprintf(`
			const where = [];
			for (let k = 0; k < 20; k++) {
				const id = "n%d-" + String(k).padStart(2, "0");
				where.push(await odin.ref("Account", id).open("owner" + (k %% 4), k, id + "@x"));
			}
			return where;`, i+1)
		where := tc.eval(i, src).([]any)
		for _, w := range where {
			if w != fmt.Sprintf("n%d", i+1) {
				t.Fatalf("object created from n%d lives on %v", i+1, w)
			}
		}
	}
	// Calls cross nodes both ways.
	got := tc.eval(2, `return (await odin.ref("Account", "n1-03").get()).email`)
	if got != "n1-03@x" {
		t.Fatalf("remote call: %v", got)
	}
	// A query from any node sees every node's objects, in index order.
	for i := range tc.nodes {
		n := tc.eval(i, `return (await odin.find("Account", {owner: "owner1"})).length`)
		if n != int64(15) {
			t.Fatalf("n%d: find owner1 gave %v objects, want 15", i+1, n)
		}
	}
	ages := tc.eval(1, `
		const out = [];
		let page = await odin.find("Account", {age: {gte: 5, lt: 8}}, {order: "-age", limit: 4});
		while (page.length) {
			for (const r of page) out.push(r.id);
			page = await odin.find("Account", {age: {gte: 5, lt: 8}}, {order: "-age", limit: 4, after: page[page.length - 1]});
		}
		return out.join(",");`)
	want := "n3-07,n2-07,n1-07,n3-06,n2-06,n1-06,n3-05,n2-05,n1-05"
	if ages != want {
		t.Fatalf("paged range query across nodes:\n got %v\nwant %s", ages, want)
	}
	sel := tc.eval(0, `return (await odin.find("Account", {owner: "owner2"}, {select: true})).map(r => r.ref.id + ":" + r.state.age).join(",")`)
	if want := "n1-02:2,n1-06:6,n1-10:10,n1-14:14,n1-18:18,n2-02:2,n2-06:6,n2-10:10,n2-14:14,n2-18:18,n3-02:2,n3-06:6,n3-10:10,n3-14:14,n3-18:18"; sel != want {
		t.Fatalf("select across nodes:\n got %v\nwant %s", sel, want)
	}
	// Unique across nodes: every node races to give its object the same email.
	var wg sync.WaitGroup
	results := make([]any, 3)
	for i := range tc.nodes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = tc.eval(i, fmt.Sprintf(`
				try { await odin.ref("Account", "n%d-00").setEmail("shared@x"); return "won"; }
				catch (e) { return e.name + " " + e.rule; }`, i+1))
		}(i)
	}
	wg.Wait()
	won := 0
	for _, r := range results {
		switch r {
		case "won":
			won++
		case "ConstraintError unique":
		default:
			t.Fatalf("unexpected result %v", r)
		}
	}
	if won != 1 {
		t.Fatalf("%d nodes took the same unique email: %v", won, results)
	}
	if n := tc.eval(0, `return (await odin.find("Account", {email: "shared@x"})).length`); n != int64(1) {
		t.Fatalf("unique email found %v times", n)
	}
}

func TestClusterNodeDown(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.eval(0, clusterAccountClass)
	for i := range tc.nodes {
		tc.eval(i, fmt.Sprintf(`for (let k = 0; k < 5; k++) await odin.ref("Account", "n%d-" + k).open("o", k, "n%d-" + k + "@x");`, i+1, i+1))
	}
	tc.crash(2)
	tc.waitStatus(0, "n3", "failed")
	start := time.Now()
	got := tc.eval(0, `
		const out = {};
		try { await odin.ref("Account", "n3-1").get(); out.call = "answered"; } catch (e) { out.call = e.name; }
		try { await odin.find("Account", {owner: "o"}); out.find = "answered"; } catch (e) { out.find = e.name + ": " + e.message; }
		const part = await odin.find("Account", {owner: "o"}, {partial: true});
		out.partial = part.length;
		out.missing = part.missing;
		return [out.call, out.find, out.partial, JSON.stringify(out.missing)];`).([]any)
	if time.Since(start) > 5*time.Second {
		t.Fatalf("calls to a node that is down took %v", time.Since(start))
	}
	if got[0] != "UnavailableError" || !strings.HasPrefix(fmt.Sprint(got[1]), "UnavailableError") || got[2] != int64(10) {
		t.Fatalf("with n3 down: %v", got)
	}
	if got[3] != `["n3"]` {
		t.Fatalf("partial answer names missing %v", got[3])
	}
	// n3 comes back on its data: its objects are served again.
	tc.start(2)
	tc.waitMembers(3)
	if n := tc.eval(1, `return (await odin.find("Account", {owner: "o"})).length`); n != int64(15) {
		t.Fatalf("after n3 returned: %v", n)
	}
	if e := tc.eval(0, `return (await odin.ref("Account", "n3-1").get()).email`); e != "n3-1@x" {
		t.Fatalf("n3's object after restart: %v", e)
	}
}

// TestClusterUniqueAddedLater: a unique index declared on a class whose
// objects already live on several nodes is built on each node, and the
// values found are registered in the directory, so a value one node's
// object holds cannot be taken on another.
func TestClusterUniqueAddedLater(t *testing.T) {
	tc := newTestCluster(t, 2)
	tc.eval(0, `class User { set(e) { this.email = e; } } odin.define(User);`)
	tc.eval(0, `await odin.ref("User", "a").set("a@x");`)
	tc.eval(1, `await odin.ref("User", "b").set("b@x");`)
	tc.eval(1, `class User { static unique = ["email"]; set(e) { this.email = e; } } odin.define(User);`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ixs, err := tc.nodes[0].Indexes()
		if err != nil {
			t.Fatal(err)
		}
		built := 0
		for _, ix := range ixs {
			if ix.Class == "User" && ix.Built {
				built++
			}
		}
		if built == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unique index not built on both nodes: %+v", ixs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The claim table learns that the build ended just after the store does:
	// until then a claim answers UnavailableError (try again).
	var got any
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		if got = tc.eval(1, `try { await odin.ref("User", "b").set("a@x"); return "taken"; } catch (e) { return e.name + " " + e.rule; }`); got != "UnavailableError undefined" {
			break
		}
	}
	if got != "ConstraintError unique" {
		t.Fatalf("n2's object took n1's value: %v", got)
	}
	got = tc.eval(0, `try { await odin.ref("User", "c").set("b@x"); return "taken"; } catch (e) { return e.name + " " + e.rule; }`)
	if got != "ConstraintError unique" {
		t.Fatalf("n1's new object took n2's value: %v", got)
	}
}
