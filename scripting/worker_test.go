package scripting

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting/codec"
)

// testRouter places every object on worker 0 and scripts on worker 1.
type testRouter struct {
	mu      sync.Mutex
	workers []*Worker
	store   *persist.Store
}

func (r *testRouter) Route(m *Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	to := m.To
	if m.Kind == KindReply {
		to = m.From.Obj
	}
	vm := r.VMOf(to)
	if m.Kind == KindReply && !IsObject(to) {
		vm = m.From.VM
	}
	return r.workers[vm].Deliver(m)
}

func (r *testRouter) VMOf(ref objects.Ref) int {
	if _, evm, ok := EphemeralChannel(ref); ok {
		return evm
	}
	return 0
}

func (r *testRouter) Migrate(ref objects.Ref, node string, vm int, done func(error)) {
	done(errors.New("the test router does not move objects"))
}

func (r *testRouter) ListObjects(class, after string, limit int) ([]string, error) {
	return r.store.ListIDs(class, after, limit)
}

// gatedStore holds commit callbacks until the test releases them: a fault
// injector in front of the real store.
type gatedStore struct {
	*persist.Store
	mu    sync.Mutex
	held  []func()
	gated bool
	fail  error
}

func (g *gatedStore) Commit(w *persist.Write, done func(error)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.gated {
		g.Store.Commit(w, done)
		return
	}
	fail := g.fail
	g.held = append(g.held, func() {
		if fail != nil {
			done(fail)
			return
		}
		g.Store.Commit(w, done)
	})
}

func (g *gatedStore) heldCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.held)
}

func (g *gatedStore) release() {
	g.mu.Lock()
	held := g.held
	g.held, g.gated = nil, false
	g.mu.Unlock()
	for _, f := range held {
		f()
	}
}

func newTestWorkers(t *testing.T) (*gatedStore, *Worker) {
	t.Helper()
	pc := persist.DefaultConfig()
	pc.Path = filepath.Join(t.TempDir(), "odin.db")
	pc.NoSync = true
	st, err := persist.Open(pc)
	if err != nil {
		t.Fatal(err)
	}
	gs := &gatedStore{Store: st}
	classes, err := NewClasses(st)
	if err != nil {
		t.Fatal(err)
	}
	r := &testRouter{store: st}
	for i := 0; i < 2; i++ {
		c := DefaultConfig()
		c.Index, c.Node, c.Router, c.Classes, c.Store, c.Hosted = i, "test", r, classes, gs, i == 0
		w, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		r.workers = append(r.workers, w)
	}
	t.Cleanup(func() {
		gs.release()
		for _, w := range r.workers {
			w.Stop()
		}
		st.Close()
	})
	return gs, r.workers[1]
}

type outcome struct {
	v   any
	err error
}

func runScript(t *testing.T, w *Worker, src string) chan outcome {
	t.Helper()
	prog, err := CompileScript("test.js", src)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan outcome, 1)
	if err := w.RunScript(prog, nil, func(b []byte, err error) {
		var v any
		if b != nil {
			v, _ = codec.DecodeGo(b)
		}
		ch <- outcome{v, err}
	}); err != nil {
		t.Fatal(err)
	}
	return ch
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const counterClass = `
class C { n = 0; inc() { return ++this.n; } get() { return this.n; } }
odin.define(C);
`

// TestOutputGate: neither the reply of a mutating turn nor that of a later
// read-only turn (which saw the uncommitted state) leaves before the commit
// is durable.
func TestOutputGate(t *testing.T) {
	gs, sw := newTestWorkers(t)
	if o := <-runScript(t, sw, counterClass+`await odin.ref("C", "c").inc();`); o.err != nil {
		t.Fatal(o.err)
	}
	gs.mu.Lock()
	gs.gated = true
	gs.mu.Unlock()
	done := runScript(t, sw, `
const c = odin.ref("C", "c");
const [a, b] = await Promise.all([c.inc(), c.get()]);
return [a, b];`)
	waitFor(t, "the commit to be held", func() bool { return gs.heldCount() == 1 })
	select {
	case o := <-done:
		t.Fatalf("the script finished before its commit was durable: %+v", o)
	case <-time.After(100 * time.Millisecond):
	}
	gs.release()
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if got := o.v.([]any); got[0] != int64(2) || got[1] != int64(2) {
		t.Fatalf("got %v, want [2 2]", got)
	}
}

// TestCommitFailure: when the store fails a commit, the caller gets
// UnavailableError and the object is reloaded from what is durable.
func TestCommitFailure(t *testing.T) {
	gs, sw := newTestWorkers(t)
	if o := <-runScript(t, sw, counterClass+`await odin.ref("C", "c").inc();`); o.err != nil {
		t.Fatal(o.err)
	}
	gs.mu.Lock()
	gs.gated, gs.fail = true, errors.New("disk on fire")
	gs.mu.Unlock()
	done := runScript(t, sw, `
try { await odin.ref("C", "c").inc(); return "no error"; }
catch (e) { return e.name + ": " + e.message; }`)
	waitFor(t, "the commit to be held", func() bool { return gs.heldCount() == 1 })
	gs.release()
	o := <-done
	if o.err != nil || o.v != "UnavailableError: storage failed: disk on fire" {
		t.Fatalf("got %+v", o)
	}
	o = <-runScript(t, sw, `return await odin.ref("C", "c").get();`)
	if o.err != nil || o.v != int64(1) {
		t.Fatalf("after a failed commit the object reads %+v, want 1 (the durable state)", o)
	}
}

// TestDeterministicTurns: Date.now and Math.random are fixed per turn.
func TestDeterministicTurns(t *testing.T) {
	_, sw := newTestWorkers(t)
	o := <-runScript(t, sw, `
class D { t() { const a = Date.now(); let s = 0; for (let i = 0; i < 1e5; i++) s += i; return a === Date.now(); } }
odin.define(D);
return await odin.ref("D", "d").t();`)
	if o.err != nil || o.v != true {
		t.Fatalf("got %+v", o)
	}
}
