package host

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odin-db/odin/scripting/codec"
)

func init() { time.Local = time.UTC }

// syncBuffer is an io.Writer safe for the workers' concurrent console output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestNode opens a node on dir (a fresh temporary one if empty) and
// closes it when the test ends.
func newTestNode(t *testing.T, dir string, mod ...func(*Config)) (*Node, *syncBuffer) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.VMs = 2
	cfg.NoSync = true
	out := &syncBuffer{}
	cfg.Stdout, cfg.Stderr = out, out
	for _, m := range mod {
		m(&cfg)
	}
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, out
}

func eval(t *testing.T, n *Node, src string) any {
	t.Helper()
	v, err := n.Eval(t.Name()+".js", src)
	if err != nil {
		t.Fatalf("script failed: %v", err)
	}
	return v
}

// field reads a stored field of an object straight from the store.
func field(t *testing.T, n *Node, class, id, name string) any {
	t.Helper()
	st, ok, err := n.Store().Load(class, id)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil
	}
	b := st.Fields[name]
	if b == nil {
		return nil
	}
	v, err := codec.DecodeGo(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const accountClass = `
class Account {
  static schema = { balance: { type: "number", min: 0 } };
  balance = 0;
  deposit(n) { this.balance += n; return this.balance; }
  withdraw(n) { this.balance -= n; return this.balance; }
  get() { return this.balance; }
}
odin.define(Account);
`

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	n, _ := newTestNode(t, dir)
	eval(t, n, accountClass+`await odin.ref("Account", "a").deposit(7);`)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2, _ := newTestNode(t, dir)
	if got := eval(t, n2, `return await odin.ref("Account", "a").deposit(1);`); got != int64(8) {
		t.Fatalf("after restart deposit returned %v, want 8", got)
	}
}

func TestClassVersionUpgrade(t *testing.T) {
	n, _ := newTestNode(t, "")
	eval(t, n, `
class Thing { n = 1; get() { return this.n; } bump() { this.n++; } }
odin.define(Thing);
await odin.ref("Thing", "t").bump();`)
	got := eval(t, n, `
class Thing {
  static upgrade(state, from) { return { count: state.n * 10, from }; }
  get() { return [this.count, this.from]; }
}
odin.define(Thing);
const r = odin.ref("Thing", "t");
const v = await r.get();
const info = await odin.inspect(r);
return [v, info.version];`)
	if fmt.Sprint(got) != "[[20 1] 2]" {
		t.Fatalf("after redefinition got %v, want [[20 1] 2]", got)
	}
	if v := field(t, n, "Thing", "t", "count"); v != int64(20) {
		t.Fatalf("stored count = %v", v)
	}
}

func TestPassivationRunsOnDeactivate(t *testing.T) {
	n, _ := newTestNode(t, "", func(c *Config) { c.IdleTimeout = 100 * time.Millisecond })
	eval(t, n, `
class Sleepy {
  activations = 0;
  onActivate() { this.activations++; }
  onDeactivate() { this.deactivated = true; }
  poke() { return this.activations; }
}
odin.define(Sleepy);
await odin.ref("Sleepy", "s").poke();`)
	deadline := time.Now().Add(10 * time.Second)
	for field(t, n, "Sleepy", "s", "deactivated") != true {
		if time.Now().After(deadline) {
			t.Fatal("object was not passivated within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := eval(t, n, `return await odin.ref("Sleepy", "s").poke();`); got != int64(2) {
		t.Fatalf("activations after reactivation = %v, want 2", got)
	}
}

func TestOverloadedQueue(t *testing.T) {
	n, _ := newTestNode(t, "", func(c *Config) { c.VMs = 1; c.QueueLimit = 8 })
	got := eval(t, n, `
class Slow { n = 0; work() { const end = Date.now(); let x = 0; for (let i = 0; i < 2e4; i++) x += i; return ++this.n; } }
odin.define(Slow);
const results = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => odin.ref("Slow", "s" + (i % 3)).work()));
const ok = results.filter(r => r.status === "fulfilled").length;
const overloaded = results.filter(r => r.status === "rejected" && r.reason instanceof odin.OverloadedError).length;
const n = (await Promise.all([0, 1, 2].map(i => odin.ref("Slow", "s" + i).work()))).reduce((a, b) => a + b, 0) - 3;
const other = results.filter(r => r.status === "rejected" && !(r.reason instanceof odin.OverloadedError)).map(r => String(r.reason));
return [ok, overloaded, results.length, n, other];`)
	vs := got.([]any)
	ok, overloaded, total, applied := vs[0].(int64), vs[1].(int64), vs[2].(int64), vs[3].(int64)
	if ok+overloaded != total {
		t.Fatalf("some calls neither succeeded nor were refused: %v", vs[4])
	}
	if overloaded == 0 {
		t.Fatalf("no call was refused with a queue limit of 8: %v", vs)
	}
	if applied != ok {
		t.Fatalf("%d calls succeeded but %d were applied", ok, applied)
	}
}

func TestConcurrentScriptsCountExactly(t *testing.T) {
	n, _ := newTestNode(t, "")
	eval(t, n, `class C { n = 0; inc() { return ++this.n; } get() { return this.n; } } odin.define(C);`)
	var wg sync.WaitGroup
	for s := 0; s < 4; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := n.Eval("inc.js", `
const ts = [];
for (let k = 0; k < 8; k++) ts.push(odin.spawn(async () => {
  for (let i = 0; i < 50; i++) await odin.ref("C", "c" + (i % 5)).inc();
}));
for (const t of ts) await t.join();`)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := eval(t, n, `let s = 0; for (let i = 0; i < 5; i++) s += await odin.ref("C", "c" + i).get(); return s;`)
	if got != int64(4*8*50) {
		t.Fatalf("total = %v, want %d", got, 4*8*50)
	}
}

// TestBadInputLosesNothing runs a corpus of broken scripts against a store
// holding objects and checks that each fails with a clear error and that the
// stored state is untouched.
func TestBadInputLosesNothing(t *testing.T) {
	n, _ := newTestNode(t, "")
	eval(t, n, accountClass+`
class Bad {
  v = 1;
  loop() { this.v = 2; for (;;) {} }
  deep(k) { this.v = 3; return this.deep(k + 1); }
  huge() { this.v = 4; return "x".repeat(2 ** 30); }
  fn() { this.v = () => 1; }
  async fails() { this.v = 5; await null; throw new Error("late"); }
  touch() { this.touched = true; }
}
odin.define(Bad);
await odin.ref("Account", "a").deposit(10);
await odin.ref("Bad", "b").touch();`)
	corpus := []struct{ src, want string }{
		{`await odin.ref("Account", "a").deposit(1 +);`, "SyntaxError"},
		{`await odin.ref("Nope", "a").deposit(1);`, "NotDefinedError"},
		{`await odin.ref("Account", "a").nosuch(1);`, "NotDefinedError"},
		{`await odin.ref("Account", "a").deposit(() => 1);`, "DataCloneError"},
		{`await odin.ref("Account", "a").deposit(Symbol());`, "DataCloneError"},
		{`await odin.ref("Account", "a").withdraw(100);`, "ConstraintError"},
		{`await odin.ref("Account", "a").deposit("x".repeat(1e9));`, "RangeError"},
		{`await odin.ref("Bad", "b").loop();`, "TimeoutError"},
		{`await odin.ref("Bad", "b").deep(0);`, "RangeError"},
		{`await odin.ref("Bad", "b").huge();`, "RangeError"},
		{`await odin.ref("Bad", "b").fn();`, "DataCloneError"},
		{`await odin.ref("Bad", "b").fails();`, "late"},
		{`class X { m() { return undefinedThing; } } odin.define(X);`, "not self-contained"},
		{`odin.ref("Account");`, "needs an id"},
	}
	for _, c := range corpus {
		_, err := n.Eval("bad.js", c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one mentioning %q", c.src, err, c.want)
		}
		if got := field(t, n, "Account", "a", "balance"); got != int64(10) {
			t.Fatalf("after %s: balance = %v, want 10", c.src, got)
		}
		if got := field(t, n, "Bad", "b", "v"); got != int64(1) {
			t.Fatalf("after %s: Bad.v = %v, want 1", c.src, got)
		}
	}
	// The node still serves.
	if got := eval(t, n, `return await odin.ref("Account", "a").get();`); got != int64(10) {
		t.Fatalf("balance read back %v", got)
	}
}

// TestSizeLimits: arguments, results and state over their limits are
// refused with a RangeError, and the state is left as it was.
func TestSizeLimits(t *testing.T) {
	n, _ := newTestNode(t, "")
	got := eval(t, n, `
class Big {
  data = "";
  grow(k) { this.data = "x".repeat(k); return this.data.length; }
  give(k) { return "y".repeat(k); }
  take(s) { return s.length; }
  size() { return this.data.length; }
}
odin.define(Big);
const b = odin.ref("Big", "b");
const out = [];
for (const f of [() => b.take("z".repeat(5 << 20)), () => b.give(5 << 20), () => b.grow(5 << 20)]) {
  try { await f(); out.push("no error"); } catch (e) { out.push(e.name); }
}
out.push(await b.grow(1000), await b.size());
return out;`)
	if fmt.Sprint(got) != "[RangeError RangeError RangeError 1000 1000]" {
		t.Fatalf("got %v", got)
	}
}

// TestCloseEndsRunningScripts: a script still waiting when the node closes
// returns ErrClosed instead of blocking its caller forever.
func TestCloseEndsRunningScripts(t *testing.T) {
	n, _ := newTestNode(t, "")
	errc := make(chan error, 1)
	go func() {
		_, err := n.Eval("wait.js", `return await odin.channel("never").receive();`)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	n.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("got %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Eval still blocked 10 s after Close")
	}
}
