package repl

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// session runs inputs one after another in one runtime, as the shell does.
type session struct {
	t  *testing.T
	rt *goja.Runtime
}

func newSession(t *testing.T) *session {
	return &session{t: t, rt: goja.New()}
}

// run evaluates one input and returns its value, or the thrown value with
// failed set.
func (s *session) run(src string) (v goja.Value, failed bool) {
	s.t.Helper()
	r, err := Transform("REPL", src)
	if err != nil {
		s.t.Fatalf("Transform(%q): %v", src, err)
	}
	prog, err := goja.CompileAST(r.Program, false)
	if err != nil {
		s.t.Fatalf("compile %q (code %q): %v", src, r.Code, err)
	}
	fv, err := s.rt.RunProgram(prog)
	if err != nil {
		s.t.Fatalf("run %q (code %q): %v", src, r.Code, err)
	}
	fn, ok := goja.AssertFunction(fv)
	if !ok {
		s.t.Fatalf("%q: the program gave %v, not a function (code %q)", src, fv, r.Code)
	}
	ret, err := fn(goja.Undefined())
	if err != nil {
		s.t.Fatalf("call %q: %v", src, err)
	}
	p := ret.Export().(*goja.Promise)
	switch p.State() {
	case goja.PromiseStateRejected:
		return p.Result(), true
	case goja.PromiseStatePending:
		s.t.Fatalf("%q: still pending", src)
	}
	if !r.HasValue {
		if !goja.IsUndefined(p.Result()) {
			s.t.Fatalf("%q: no value expected, got %v", src, p.Result())
		}
		return goja.Undefined(), false
	}
	if goja.IsUndefined(p.Result()) {
		return goja.Undefined(), false
	}
	return p.Result().ToObject(s.rt).Get("value"), false
}

// expect runs src and compares the value's string form.
func (s *session) expect(src, want string) {
	s.t.Helper()
	v, failed := s.run(src)
	if failed {
		s.t.Fatalf("%q threw %v", src, v)
	}
	got := "undefined"
	if v != nil {
		got = v.String()
	}
	if got != want {
		s.t.Errorf("%q = %q, want %q", src, got, want)
	}
}

func TestDeclarationsPersist(t *testing.T) {
	s := newSession(t)
	steps := []struct{ src, want string }{
		{"let x = 1", "undefined"},
		{"x", "1"},
		{"const x = 2", "undefined"}, // declared again, as at Node's prompt
		{"x", "2"},
		{"var y = x + 1; y", "3"},
		{"let u;", "undefined"},
		{"typeof u", "undefined"},
		{"var keep = 5", "undefined"},
		{"var keep;", "undefined"},
		{"keep", "5"}, // var without initialiser keeps the value
		{"let a = 1, b = 2, c", "undefined"},
		{"[a, b, c].join()", "1,2,"},
		{"function sq(n) { return n * n }", "undefined"},
		{"sq(3)", "9"},
		{"function fact(n) { return n ? n * fact(n - 1) : 1 }", "undefined"},
		{"fact(5)", "120"},
		{"async function later() { return 4 }", "undefined"},
		{"await later()", "4"},
		{"function* gen() { yield 1; yield 2 }", "undefined"},
		{"[...gen()].join()", "1,2"},
		{"class A { m() { return 7 } }", "undefined"},
		{"new A().m()", "7"},
		{"A.toString().startsWith('class A {')", "true"},
		{"class B extends A { n() { return this.m() + 1 } }", "undefined"},
		{"new B().n()", "8"},
		{"let counter = 0; const inc = () => ++counter", "undefined"},
		{"inc(); inc()", "2"},
		{"counter", "2"},
	}
	for _, st := range steps {
		s.expect(st.src, st.want)
	}
}

func TestDestructuring(t *testing.T) {
	s := newSession(t)
	s.expect("const {a, b: [c, d = 4], ...rest} = {a: 1, b: [3], e: 5}", "undefined")
	s.expect("[a, c, d, rest.e].join()", "1,3,4,5")
	s.expect("let [p, , q = 9, ...r] = [1, 2, undefined, 4, 5]", "undefined")
	s.expect("[p, q, r.join('+')].join()", "1,9,4+5")
	s.expect("var {x: {y: deep} = {y: 'dflt'}} = {}", "undefined")
	s.expect("deep", "dflt")
	s.expect("const [{k}] = [{k: 'kk'}]", "undefined")
	s.expect("k", "kk")
}

func TestVarInBlocksAndLoops(t *testing.T) {
	s := newSession(t)
	s.expect("for (var i = 0; i < 3; i++) {}", "undefined")
	s.expect("i", "3")
	s.expect("if (true) { var z = 1 } else { var zz = 2 }", "undefined")
	s.expect("[z, typeof zz].join()", "1,undefined")
	s.expect("for (var key in {alpha: 1}) {}", "undefined")
	s.expect("key", "alpha")
	s.expect("for (var [m, n] of [[1, 2]]) {}", "undefined")
	s.expect("m + n", "3")
	s.expect("try { var tv = 1; throw 0 } catch (e) { var cv = 2 } finally { var fv = 3 }", "undefined")
	s.expect("[tv, cv, fv].join()", "1,2,3")
	s.expect("switch (1) { case 1: var sv = 'one' }", "undefined")
	s.expect("sv", "one")
	s.expect("lbl: { var lv = 1; break lbl }", "undefined")
	s.expect("lv", "1")
	// let and const in blocks stay in their block.
	s.expect("{ let inner = 1 }", "undefined")
	s.expect("typeof inner", "undefined")
	s.expect("for (let j = 0; j < 2; j++) {}", "undefined")
	s.expect("typeof j", "undefined")
	// var inside a function stays in the function.
	s.expect("function f() { var local = 1; return local }", "undefined")
	s.expect("f() + typeof local", "1undefined")
}

func TestLastExpressionValue(t *testing.T) {
	s := newSession(t)
	s.expect("var o = {b: 5}", "undefined")
	cases := []struct{ src, want string }{
		{"1; 2", "2"},
		{"(1 + 2)", "3"},
		{"(o).b", "5"},
		{"((o)).b", "5"},
		{"(o.b)", "5"},
		{"( /* c */ (o.b) )", "5"},
		{"(1, 2)", "2"},
		{"1 /* c */ ;", "1"},
		{"o.b = 6 // a comment", "6"},
		{"o.b;;", "6"},
		{"x = 3\n", "3"},
		{"\n\n  'three lines down'  \n\n", "three lines down"},
		{"[1, 2].map(n => n * 2)", "2,4"},
		{"`t${1 + 1}`", "t2"},
		{"typeof o", "object"},
		{"-o.b", "-6"},
		{"o.b++", "6"},
		{"new Date(0).getTime()", "0"},
		{"await 1, await 2", "2"},
		{"(async () => 5)().constructor.name", "Promise"},
		{"if (true) 5", "5"},
		{"if (false) 1; else { 2 }", "2"},
		{"if (false) 1", "undefined"},
		{"try { null.x } catch (e) { e.name }", "TypeError"},
		{"try { 'tried' } finally { 'not this' }", "tried"},
		{"{ let q = 4; q * 2 }", "8"},
		{"for (const z of [1]) z", "undefined"}, // a loop's value is not kept
	}
	for _, c := range cases {
		s.expect(c.src, c.want)
	}
	// A promise the input does not await is the value, not awaited.
	v, _ := s.run("Promise.resolve(1)")
	if _, ok := v.Export().(*goja.Promise); !ok {
		t.Errorf("Promise.resolve(1) gave %v, want the promise itself", v)
	}
}

func TestObjectLiteral(t *testing.T) {
	s := newSession(t)
	v, _ := s.run("{a: 1, b: 'x'}")
	o, ok := v.(*goja.Object)
	if !ok || o.Get("a").ToInteger() != 1 || o.Get("b").String() != "x" {
		t.Fatalf("{a: 1, b: 'x'} gave %v", v)
	}
	s.expect("{ let q = 1 }", "undefined") // a block, not an object
	s.expect("{a: 1};", "undefined")       // a block with a label, as in Node
}

func TestTopLevelAwaitAndErrors(t *testing.T) {
	s := newSession(t)
	s.expect("const v = await Promise.resolve(6)", "undefined")
	s.expect("v", "6")
	v, failed := s.run("await Promise.reject(new TypeError('no'))")
	if !failed || v.ToObject(s.rt).Get("message").String() != "no" {
		t.Fatalf("rejection: %v %v", v, failed)
	}
	v, failed = s.run("\n\nthrow new Error('x')")
	if !failed || !strings.Contains(v.ToObject(s.rt).Get("stack").String(), ":3:") {
		t.Fatalf("line numbers are not kept: %v", v.ToObject(s.rt).Get("stack"))
	}
}

func TestNames(t *testing.T) {
	r, err := Transform("REPL", "let a = 1, {b, c: [d]} = o; function f() { var inner } class K {} for (var i of []) {}")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "d", "f", "K", "i"}; !reflect.DeepEqual(r.Names, want) {
		t.Errorf("names %v, want %v", r.Names, want)
	}
	if r.HasValue {
		t.Error("HasValue for an input ending with a loop")
	}
	if !strings.HasPrefix(r.Code, prefix) || strings.Count(r.Code, "\n") != 1 {
		t.Errorf("line structure not kept: %q", r.Code)
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		src       string
		line, col int
		msg       string
	}{
		{"let x = ;", 1, 9, "Unexpected token"},
		{"1 +\n2 2", 2, 3, "Unexpected number"},
		{"}", 1, 1, "Unexpected token }"},
		{"foo() }", 1, 7, "Unexpected token }"},
		{"return 5", 1, 1, "Illegal return statement"},
		{"if (x) {\n  return\n}", 2, 3, "Illegal return statement"},
		{"'abc", 1, 1, ""},
	}
	for _, c := range cases {
		_, err := Transform("REPL", c.src)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want a SyntaxError", c.src, err)
			continue
		}
		if se.Line != c.line || se.Column != c.col || !strings.Contains(se.Message, c.msg) {
			t.Errorf("%q: got %d:%d %q, want %d:%d %q", c.src, se.Line, se.Column, se.Message, c.line, c.col, c.msg)
		}
	}
	// A return inside a function is fine.
	if _, err := Transform("REPL", "function r() { return 1 }"); err != nil {
		t.Error(err)
	}
}

func TestIncomplete(t *testing.T) {
	incomplete := []string{
		"try { f() }",
		"try {\n  f()\n}",
		"class A {",
		"class A {\n  m() {",
		"foo(",
		"[1, 2,",
		"1 +",
		"a.",
		"`abc",
		"`a ${b",
		"`a ${ {x: 1}.x } and ${",
		"/* a comment",
		"'abc\\",
		"if (x)",
		"let x =",
		"x => {",
		"{a: 1,",
		"async function f() {\n  await 1",
		"odin.ref('A', 'b')\n  .",
		"const s = '}' + (",
		"x = /[)]/.test(s) && (",
		"a ? b",
	}
	complete := []string{
		"",
		"   \n",
		"1 + 1",
		"}",
		"foo)",
		"[1, 2)",
		"'abc",
		"\"abc",
		"1 2",
		"let x = ;",
		"/abc",
		"class A {}",
		"let x = 1\n",
		"// a comment",
		"{ a: 1 }",
		"await odin.ref('A', 'b').deposit(1)",
		"a / b / (c)",
	}
	for _, s := range incomplete {
		if !Incomplete(s) {
			t.Errorf("Incomplete(%q) = false, want true", s)
		}
	}
	for _, s := range complete {
		if Incomplete(s) {
			t.Errorf("Incomplete(%q) = true, want false", s)
		}
	}
}

func TestPosition(t *testing.T) {
	cases := []struct{ src, at string }{
		{`function f() { throw new Error("x") }`, "throw"},
		{"let a = 1\nconst b = 2; throw 3", "throw"},
		{"x = 1; class C { m() { return nope } }", "nope"},
		{"var {p} = o, q = p.r; q.s", "q.s"},
	}
	for _, c := range cases {
		r, err := Transform("R", c.src)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(r.Code, c.at)
		line, col := position(r.Code, i)
		gl, gc := r.Position(line, col)
		wl, wc := position(c.src, strings.Index(c.src, c.at))
		if gl != wl || gc != wc {
			t.Errorf("%q: %s at %d:%d of the code maps to %d:%d, want %d:%d", c.src, c.at, line, col, gl, gc, wl, wc)
		}
	}
}
