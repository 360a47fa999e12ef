package freevars

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// m wraps statements in a method of a class C.
func m(body string) string { return "class C { m() { " + body + " } }" }

func names(ids []Ident) string {
	var b []string
	for _, id := range ids {
		b = append(b, id.Name)
	}
	return strings.Join(b, " ")
}

func TestFree(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // free names in order, space-separated
	}{
		// the brief's examples
		{"extends and helper", `class Account extends Base { deposit(n) { this.balance += n; return helper(n); } }`, "Base helper"},
		{"globals", `class A { m() { return Math.max(1, this.x) + odin.ref("B","b") } }`, "Math odin"},
		{"outer let captured", `class A { inc() { return counter++ } }`, "counter"},
		{"inner let captured", m(`let count = 0; return { inc: () => ++count }`), ""},
		{"closure shadowing", m(`const x = 1; return function () { return x + y }`), "y"},

		// var, let, const and hoisting
		{"var hoisted", m(`x = 1; var x;`), ""},
		{"var from block", m(`if (a) { var x = 1 } return x`), "a"},
		{"var in nested loops", m(`for (;;) { while (1) { try { var v } finally {} } } return v`), ""},
		{"var not from nested function", m(`function f() { var x } return x`), "x"},
		{"function hoisted", m(`return f(); function f() { return g }`), "g"},
		{"function in block is block-scoped", m(`{ function f() {} } return f`), "f"},
		{"let block", m(`{ let x = 1 } return x`), "x"},
		{"let tdz is declared", m(`let x = x`), ""},
		{"let shadows outer", m(`let a = 1; { let a = b; a } return a`), "b"},
		{"const destructuring", m(`const {a, b: [c, d = e], ...rest} = obj; return a + c + d + rest`), "e obj"},
		{"computed pattern key", m(`const {[k]: v} = o; return v`), "k o"},
		{"array pattern holes", m(`let [, a, , ...b] = c; return a + b`), "c"},
		{"nested default", m(`var [{x = y} = z] = w; return x`), "y z w"},

		// functions
		{"params", `class C { m(a, {b, c: [d]} = def, ...rest) { return a + b + d + rest + arguments.length + z } }`, "def z"},
		{"param default sees earlier param", `class C { m(a, b = a) {} }`, ""},
		{"param default does not see body var", `class C { m(a = b) { var b } }`, "b"},
		{"function expression name", m(`return function fact(n) { return n ? fact(n - 1) : 1 }`), ""},
		{"function expression name is inner", m(`const f = function g() {}; return g`), "g"},
		{"function declaration params", m(`function f(p, q = r) { return p + q + s }`), "r s"},
		{"arguments", m(`return arguments[0]`), ""},
		{"arrow", m(`return (x, y = x) => x + y + z`), "z"},
		{"arrow one param", m(`return x => x + y`), "y"},
		{"arrow destructuring", m(`return ({a, b: [c]}, ...d) => a + c + d + e`), "e"},
		{"arrow default", m(`return (a = b) => a`), "b"},
		{"arrow arguments is outer", m(`return () => arguments[0]`), ""},
		{"async arrow", m(`return async (a) => await a + b`), "b"},
		{"arrow block body", m(`return () => { var v = 1; return v + w }`), "w"},

		// classes
		{"own name inside", `class A { static make() { return new A() } }`, ""},
		{"anonymous class", `class { m() { return x } }`, "x"},
		{"extends call", `class A extends mixin(B, C) {}`, "mixin B C"},
		{"class expression", m(`return class B extends D { n() { return B } }`), "D"},
		{"class declaration", m(`class B {} return new B()`), ""},
		{"class declaration block-scoped", m(`{ class B {} } return B`), "B"},
		{"static block", `class A { static { var x = 1; let y = x; z = y } }`, "z"},
		{"static block var stays", `class A { static { var x } m() { return x } }`, "x"},
		{"fields", `class A { a = b; static c = d; #p = e; [f] = 1; static [g]() {} h; 'i' = j; 5 = k }`, "b d e f g j k"},
		{"field arrow", `class A { f = () => this.x + y }`, "y"},
		{"private names", `class A { #x; static #y() {} m(o) { return #x in o ? o.#x : this.#x + A.#y() } }`, ""},
		{"getters and setters", `class A { get v() { return w } set v(x) { y = x } static get [k]() {} }`, "w y k"},
		{"methods kinds", `class A { async a() { await p } *g() { yield q; yield* r } static async s() { return await t } }`, "p q r t"},
		{"constructor super new.target", `class A extends B { constructor() { super(); new.target; this.x = super.y } }`, "B"},
		{"method name not bound", m(`return { foo() { return foo } }`), "foo"},

		// expressions
		{"object literal", m(`return { a: 1, b, [c]: d, e() { return f }, get g() { return h }, ...i, 'j': k, 7: l }`), "b c d f h i k l"},
		{"member access", m(`return a.b.c + d?.e + f?.[g] + h?.(i) + j[k]`), "a d f g h i j k"},
		{"template", m("return `a${b}c${d + e}`"), "b d e"},
		{"tagged template", m("return tag`x${y}`"), "tag y"},
		{"spread", `class C { m(...a) { return f(...a, ...b, [...c]) } }`, "f b c"},
		{"regexp", m(`return /ab+c/.test(s)`), "s"},
		{"typeof", m(`return typeof window === 'undefined'`), "window"},
		{"assign undeclared", m(`g = 1; h += 2`), "g h"},
		{"destructuring assignment", m(`[a, b.c, ...d] = e; ({f, g: h, i = j, [l]: n} = k)`), "a b d e f h i j l n k"},
		{"operators", m(`return (a, b) ? -c : !d, e++, --f, delete g.h, void i, j ?? l ** n, o instanceof p, q in r`), "a b c d e f g i j l n o p q r"},
		{"new", m(`return new Map(entries)`), "Map entries"},
		{"conditional chain", m(`return x ? y : z`), "x y z"},
		{"unicode identifier", m(`return ñandú + 1`), "ñandú"},
		{"logical assignment", m(`a ||= b; c ??= d; e &&= f; g **= h`), "a b c d e f g h"},
		{"bigint and separators", m(`return 1n + 1_000 + x`), "x"},
		{"optional call and super", m(`return a?.b?.() ?? super.c()`), "a"},
		{"async generators", m(`return async function* () { yield await y }`), "y"},
		{"deep pattern", m(`let {a: {b: [c = d]}} = e; return c`), "d e"},
		{"method keys", `class A { 'quoted key'() { return q } 42() {} [Symbol.iterator]() {} }`, "q Symbol"},
		{"eval is free", m(`return eval("z")`), "eval"},
		{"arguments in field", `class A { x = arguments }`, "arguments"},
		{"once each", m(`a(); a(); b(a)`), "a b"},

		// statements
		{"labels", m(`outer: for (;;) { inner: while (x) { break outer; continue inner } } lbl: { break lbl }`), "x"},
		{"catch", m(`try { t() } catch (e) { return e + u } finally { v() }`), "t u v"},
		{"catch destructuring", m(`try {} catch ({message, stack = s}) { return message + stack }`), "s"},
		{"catch param scoped", m(`try {} catch (e) {} return e`), "e"},
		{"optional catch", m(`try {} catch { x }`), "x"},
		{"for let", m(`for (let i = 0; i < n; i++) {} return i`), "n i"},
		{"for var", m(`for (var i = 0; i < 3; i++) {} return i`), ""},
		{"for expression init", m(`for (i = 0; i < 3; i++) {}`), "i"},
		{"for in const", m(`for (const k in o) { k }`), "o"},
		{"for of assign", m(`for (x of y) {}`), "x y"},
		{"for of destructuring", m(`for (const [k, v] of Object.entries(o)) use(k, v)`), "Object o use"},
		{"for in var", m(`for (var k in o) {} return k`), "o"},
		{"for of pattern assign", m(`for ([a, b] of c) {}`), "a b c"},
		{"switch", `class C { m(x) { switch (x) { case a: let y = 1; break; default: return y + z } } }`, "a z"},
		{"do while", m(`do { x() } while (y)`), "x y"},
		{"throw", m(`throw new Error(msg)`), "Error msg"},
		{"debugger and empty", m(`debugger;;`), ""},
		{"if else", m(`if (a) b(); else if (c) d(); else e()`), "a b c d e"},
		{"trailing comment", "class A { m() { return x } } // the end", "x"},
		{"comment inside", "class A { m() { /* y */ return x // z\n } }", "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := Free(tc.src)
			if err != nil {
				t.Fatalf("Free(%s): %v", tc.src, err)
			}
			if got := names(ids); got != tc.want {
				t.Errorf("Free(%s)\n got [%s]\nwant [%s]", tc.src, got, tc.want)
			}
		})
	}
}

func TestPositions(t *testing.T) {
	src := "class Account extends Base {\n" +
		"  deposit(n) {\n" +
		"    this.balance += n;\n" +
		"    return helper(n) + helper(2);\n" +
		"  }\n" +
		"\tstatic x = ñandú + Base + zz;\n" +
		"}"
	want := []Ident{{"Base", 1, 23}, {"helper", 4, 12}, {"ñandú", 6, 13}, {"zz", 6, 28}}
	for _, eol := range []string{"\n", "\r\n", "\r", "\u2028"} {
		t.Run(fmt.Sprintf("%q", eol), func(t *testing.T) {
			ids, err := Free(strings.ReplaceAll(src, "\n", eol))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Errorf("got  %v\nwant %v", ids, want)
			}
		})
	}
}

// The reported position is the first use in the source, even when the
// walk meets a later use first (a default parameter walked after its
// function's name, say).
func TestFirstUseWins(t *testing.T) {
	ids, err := Free("class A {\n  m() { return y }\n  n() { return x + y }\n}")
	if err != nil {
		t.Fatal(err)
	}
	want := []Ident{{"y", 2, 16}, {"x", 3, 16}}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", ids, want)
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src    string
		line, column int
		msg          string // substring of the message
	}{
		{"bad token", "class A {\n  m() {\n    return 1 +;\n  }\n}", 3, 15, "Unexpected token"},
		{"first line", "class 1A {}", 1, 7, "Unexpected"},
		{"unterminated", "class A {\n m() {", 2, 7, "Unexpected end of input"},
		{"unterminated comment", "class A { /* }", 1, 15, "Unexpected end of input"},
		{"empty", "", 1, 1, "Unexpected end of input"},
		{"wide chars", "class A { m() { 'ñ' ñ ñ } }", 1, 21, "Unexpected identifier"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Free(tc.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("want a *SyntaxError, got %v", err)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Error("does not wrap ErrSyntax")
			}
			if se.Line != tc.line || se.Column != tc.column || !strings.Contains(se.Message, tc.msg) {
				t.Errorf("got %d:%d %q, want %d:%d %q", se.Line, se.Column, se.Message, tc.line, tc.column, tc.msg)
			}
			if want := fmt.Sprintf("%d:%d: ", tc.line, tc.column); !strings.Contains(err.Error(), want) {
				t.Errorf("Error() = %q lacks %q", err, want)
			}
		})
	}
}

func TestNotClass(t *testing.T) {
	for _, src := range []string{
		"function f() {}",
		"x",
		"class A {}, x",
		"class A {}) + (evil()", // escaping the wrapping parentheses
		"() => 1",
	} {
		if _, err := Free(src); !errors.Is(err, ErrNotClass) {
			t.Errorf("Free(%q) = %v, want ErrNotClass", src, err)
		}
	}
}

// bigClass returns a class of about 200 lines using many constructs.
func bigClass() string {
	var b strings.Builder
	b.WriteString("class Big extends Base {\n  static schema = { a: { type: 'number' } };\n  #secret = 1;\n")
	for i := 0; b.Len() == 0 || strings.Count(b.String(), "\n") < 195; i++ {
		fmt.Fprintf(&b, "  async method%d(a, {b, c = %d} = {}, ...rest) {\n", i, i)
		fmt.Fprintf(&b, "    let total = a + b + c + this.#secret;\n")
		fmt.Fprintf(&b, "    for (const [k, v] of Object.entries(rest)) { total += v * k.length; }\n")
		fmt.Fprintf(&b, "    const f = (x) => x + total + helper%d(x);\n", i%3)
		fmt.Fprintf(&b, "    try { await odin.ref('Other', `id${a}`).call(f(1)); } catch (e) { console.log(e.message); }\n")
		fmt.Fprintf(&b, "    return Math.max(total, ...rest.map(r => r.value ?? 0));\n  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func TestBigClass(t *testing.T) {
	ids, err := Free(bigClass())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(ids), "Base Object helper0 odin console Math helper1 helper2"; got != want {
		t.Errorf("got [%s], want [%s]", got, want)
	}
}

func BenchmarkFree200Lines(b *testing.B) {
	src := bigClass()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Free(src); err != nil {
			b.Fatal(err)
		}
	}
}
