package scripting

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odin-db/odin/persist"
)

// lockedBuffer collects console output written by the workers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type testSession struct {
	*Session
	t   *testing.T
	out *lockedBuffer
}

func newTestSession(t *testing.T) *testSession {
	t.Helper()
	pc := persist.DefaultConfig()
	pc.Path = filepath.Join(t.TempDir(), "odin.db")
	pc.NoSync = true
	st, err := persist.Open(pc)
	if err != nil {
		t.Fatal(err)
	}
	classes, err := NewClasses(st)
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	r := &testRouter{store: st}
	for i := 0; i < 2; i++ {
		c := DefaultConfig()
		c.Index, c.Node, c.Router, c.Classes, c.Store, c.Hosted = i, "test", r, classes, st, i == 0
		c.Stdout, c.Stderr = out, out
		w, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		r.workers = append(r.workers, w)
	}
	s, err := r.workers[1].OpenSession(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		for _, w := range r.workers {
			w.Stop()
		}
		st.Close()
	})
	return &testSession{Session: s, t: t, out: out}
}

type evalResult struct {
	out    string
	failed bool
}

func (s *testSession) start(src string) chan evalResult {
	ch := make(chan evalResult, 1)
	s.Eval(src, func(out string, failed bool) { ch <- evalResult{out, failed} })
	return ch
}

func (s *testSession) wait(ch chan evalResult, what string) evalResult {
	s.t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		s.t.Fatalf("%s: no result", what)
	}
	return evalResult{}
}

func (s *testSession) eval(src string) evalResult {
	s.t.Helper()
	return s.wait(s.start(src), src)
}

// expect evaluates src and checks the printed result.
func (s *testSession) expect(src, want string) {
	s.t.Helper()
	r := s.eval(src)
	if r.failed || r.out != want {
		s.t.Errorf("%q printed %q (failed %v), want %q", src, r.out, r.failed, want)
	}
}

func (s *testSession) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const accountClass = `class Account {
  balance = 0;
  deposit(n) { this.balance += n; return this.balance; }
  withdraw(n) { this.balance -= n; return this.balance; }
  get total() { return this.balance; }
  _hidden() {}
}
odin.define(Account)`

func TestSessionEval(t *testing.T) {
	s := newTestSession(t)
	s.expect("1 + 1", "2")
	s.expect("'text'", "'text'")
	s.expect("let x = 5", "undefined")
	s.expect("x * 2", "10")
	s.expect("({a: 1, b: [1, 2], c: 'x'})", "{ a: 1, b: [ 1, 2 ], c: 'x' }")
	s.expect("{a: 1}", "{ a: 1 }")
	s.expect(accountClass, "[class Account]")
	s.expect(`await odin.ref("Account", "alice").deposit(5)`, "5")
	s.expect(`const alice = odin.ref("Account", "alice")`, "undefined")
	s.expect("alice", "Ref<Account/alice>")
	s.expect("await alice.deposit(2)", "7")
	s.expect("[alice, odin.ref('Account', 'bob')]", "[ Ref<Account/alice>, Ref<Account/bob> ]")
	s.expect("Promise.resolve(1)", "Promise { 1 }")
	s.expect(`console.log("hi"); 3`, "3")
	if !strings.Contains(s.out.String(), "hi\n") {
		t.Errorf("console output %q", s.out.String())
	}
	s.expect(`const t = odin.spawn(async (n) => n * 2, 21)`, "undefined")
	s.expect("await t.join()", "42")
}

func TestSessionErrors(t *testing.T) {
	s := newTestSession(t)
	check := func(src string, want ...string) {
		t.Helper()
		r := s.eval(src)
		if !r.failed {
			t.Errorf("%q did not fail: %q", src, r.out)
		}
		for _, w := range want {
			if !strings.Contains(r.out, w) {
				t.Errorf("%q printed %q, want it to contain %q", src, r.out, w)
			}
		}
		if strings.Contains(r.out, ".go:") || strings.Contains(r.out, "goroutine") || strings.Contains(r.out, "REPL"+"0") {
			t.Errorf("%q printed a Go trace: %q", src, r.out)
		}
	}
	check(`throw new Error("boom")`, "Uncaught Error: boom")
	check("throw 5", "Uncaught 5")
	check("null.x", "Uncaught TypeError")
	check("let y = ;", "Uncaught SyntaxError", "let y = ;\n        ^")
	check("nosuch + 1", "Uncaught ReferenceError: nosuch is not defined")
	s.expect("function f() { throw new RangeError('in f') }", "undefined")
	r := s.eval("f()")
	if !strings.HasPrefix(r.out, "Uncaught RangeError: in f\n    at f (REPL") {
		t.Errorf("f() printed %q", r.out)
	}
	if lines := strings.Split(r.out, "\n"); len(lines) != 2 {
		t.Errorf("expected the frame of f only, got %q", r.out)
	}
	check(`await odin.ref("Nope", "x").hello()`, "Uncaught NotDefinedError", `no class "Nope"`)
	s.expect(accountClass, "[class Account]")
	check(`await odin.ref("Account", "a").nosuch()`, "NotDefinedError", "has no method")
	// The session goes on after errors.
	s.expect("40 + 2", "42")
}

func TestSessionInterruptLoop(t *testing.T) {
	s := newTestSession(t)
	ch := s.start(`console.log("looping"); for (;;) {}`)
	s.waitFor("the loop to start", func() bool { return strings.Contains(s.out.String(), "looping") })
	s.Interrupt()
	r := s.wait(ch, "the interrupted loop")
	if !r.failed || r.out != "Uncaught Error: Script execution interrupted." {
		t.Fatalf("interrupted loop printed %q", r.out)
	}
	// No interrupt is left pending: a long computation runs to its end.
	s.expect("let sum = 0; for (let i = 0; i < 300000; i++) sum += i; sum", "44999850000")
	// An interrupt with nothing running does nothing.
	s.Interrupt()
	s.expect("let n = 0; while (n < 200000) n++; n", "200000")
	// Awaits work after the interrupt (goja left its stacks behind: see
	// vmRepair), and so does a loop interrupted after an await, in an async
	// function of the user's.
	s.expect("await odin.sleep(1); 5", "5")
	s.expect(accountClass, "[class Account]")
	s.expect(`await odin.ref("Account", "a").deposit(2)`, "2")
	s.expect(`async function spin() { await odin.sleep(1); console.log("spinning"); for (;;) {} }`, "undefined")
	ch = s.start("await spin()")
	s.waitFor("the second loop to start", func() bool { return strings.Contains(s.out.String(), "spinning") })
	s.Interrupt()
	if r := s.wait(ch, "the second interrupted loop"); !r.failed || !strings.Contains(r.out, "interrupted") {
		t.Fatalf("second interrupted loop printed %q", r.out)
	}
	s.expect(`await odin.ref("Account", "a").deposit(3)`, "5")
	s.expect("await Promise.all([odin.sleep(1), odin.yield()]).then(() => 'jobs run')", "'jobs run'")
}

func TestSessionInterruptAwait(t *testing.T) {
	s := newTestSession(t)
	ch := s.start(`try { await odin.sleep(1e9) } finally { console.log("cleanup ran") }`)
	s.waitFor("the input to wait", func() bool {
		ts, err := s.Tasklets()
		return err == nil && len(ts) == 1 && ts[0].State == "waiting" && ts[0].Input == "REPL1"
	})
	s.Interrupt()
	r := s.wait(ch, "the interrupted await")
	if !r.failed || !strings.Contains(r.out, "Script execution interrupted") {
		t.Fatalf("interrupted await printed %q", r.out)
	}
	if !strings.Contains(s.out.String(), "cleanup ran") {
		t.Errorf("finally block did not run: %q", s.out.String())
	}
	s.expect("let m = 0; for (let i = 0; i < 200000; i++) m++; m", "200000")
	if ts, _ := s.Tasklets(); len(ts) != 0 {
		t.Errorf("tasklets left: %+v", ts)
	}
}

func TestSessionTasklets(t *testing.T) {
	s := newTestSession(t)
	s.expect("const bg = odin.spawn(async () => { await odin.sleep(1e9) })", "undefined")
	s.waitFor("the tasklet to wait", func() bool {
		ts, err := s.Tasklets()
		return err == nil && len(ts) == 1 && ts[0].State == "waiting" && ts[0].Input == ""
	})
	s.expect("bg.kill(); bg.alive", "false")
	if ts, _ := s.Tasklets(); len(ts) != 0 {
		t.Errorf("tasklets left: %+v", ts)
	}
}

func TestSessionComplete(t *testing.T) {
	s := newTestSession(t)
	s.expect(accountClass, "[class Account]")
	s.expect(`const acc = odin.ref("Account", "a"); var obj = {foo: 1, bar: {baz: 2}}; var list = [obj]`, "undefined")
	s.expect("var calls = 0; var lazy = { get g() { calls++; return {z: 1} } }", "undefined")
	cases := []struct {
		line  string
		want  []string
		start int
	}{
		{"odin.de", []string{"define"}, 5},
		{"await odin.sp", []string{"spawn"}, 11},
		{"acc.dep", []string{"deposit"}, 4},
		{"acc.", []string{"call", "class", "deposit", "equals", "id", "toString", "withdraw"}, 4},
		{`await odin.ref("Account", "b").w`, []string{"withdraw"}, 31},
		{`odin.ref(Account, 'b').d`, []string{"deposit"}, 23},
		{`odin.ref("Acc`, []string{"Account"}, 10},
		{`odin.objects('`, []string{"Account"}, 14},
		{"obj.bar.b", []string{"baz"}, 8},
		{"list[0].f", []string{"foo"}, 8},
		{"obj?.fo", []string{"foo"}, 5},
		{"Accou", []string{"Account"}, 0},
		{"x = Mat", []string{"Math"}, 4},
		{"lazy.g.", nil, 7}, // a getter is not run
		{"1.", nil, 2},
	}
	for _, c := range cases {
		got, start := s.Complete(c.line, len(c.line))
		if !reflect.DeepEqual(got, c.want) || start != c.start {
			t.Errorf("Complete(%q) = %v, %d; want %v, %d", c.line, got, start, c.want, c.start)
		}
	}
	got, _ := s.Complete("odin.", 5)
	for _, w := range []string{"define", "ref", "spawn", "channel", "inspect", "objects", "TimeoutError"} {
		if !contains(got, w) {
			t.Errorf("odin. completions %v lack %q", got, w)
		}
	}
	s.expect("calls", "0")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSessionClose(t *testing.T) {
	s := newTestSession(t)
	s.expect("odin.spawn(async () => { await odin.sleep(1e9) }); 1", "1")
	s.Close()
	r := s.eval("1")
	if !r.failed || !strings.Contains(r.out, "closed") {
		t.Errorf("eval after Close printed %q", r.out)
	}
	if _, err := s.Tasklets(); err == nil {
		t.Error("Tasklets after Close did not fail")
	}
}
