package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"
)

func TestDataCloneError(t *testing.T) {
	v := newVM(t)
	cases := []struct {
		src, path, what string
	}{
		{`(function f() {})`, "value", "function"},
		{`Symbol("s")`, "value", "symbol"},
		{`({a: [1, {cb: () => 1}]})`, "value.a[1].cb", "function"},
		{`new Map([["k", {f() {}}]])`, `value.get("k").f`, "function"},
		{`new Map([[1, Symbol()]])`, `value.get(1)`, "symbol"},
		{`new Map([[{}, Symbol()]])`, `value.values()[0]`, "symbol"},
		{`new Map([[Symbol(), 1]])`, `value.keys()[0]`, "symbol"},
		{`new Set([1, async function () {}])`, `value.values()[1]`, "function"},
		{`({"odd key": class {}})`, `value["odd key"]`, "function"},
		{`Promise.resolve(1)`, "value", "Promise"},
		{`new WeakMap()`, "value", "WeakMap"},
		{`new WeakSet()`, "value", "WeakSet"},
		{`new Proxy({}, {})`, "value", "Proxy"},
		{`new Proxy(function () {}, {})`, "value", "Proxy"},
		{`[(function* () {})()]`, "value[0]", "generator object"},
		{`(function () { return arguments })(1)`, "value", "arguments object"},
		{`new Number(1)`, "value", "primitive wrapper object"},
		{`Object.assign(new Error("x"), {f: Math.max})`, "value.f", "function"},
		{`new Error("x", {cause: Symbol()})`, "value.cause", "symbol"},
		{`(() => { const a = []; a[100000] = () => 1; return a })()`, "value[100000]", "function"},
		{`(() => { const a = [1]; a[5000] = () => 1; return a })()`, "value[5000]", "function"},
	}
	for _, c := range cases {
		_, err := v.enc.Encode(nil, v.run(t, c.src))
		var dce *DataCloneError
		if !errors.As(err, &dce) {
			t.Errorf("%s: want DataCloneError, got %v", c.src, err)
			continue
		}
		if dce.Path != c.path || dce.What != c.what {
			t.Errorf("%s: got path %q what %q, want %q %q", c.src, dce.Path, dce.What, c.path, c.what)
		}
	}

	// Arguments: the path starts at the argument.
	_, err := v.enc.EncodeArgs(nil, []goja.Value{v.rt.ToValue(1), v.run(t, `({cb: function () {}})`)})
	var dce *DataCloneError
	if !errors.As(err, &dce) || dce.Path != "args[1].cb" || dce.What != "function" {
		t.Fatalf("args: %v", err)
	}
	if want := "value at args[1].cb is a function and cannot be cloned"; err.Error() != want {
		t.Fatalf("message %q, want %q", err.Error(), want)
	}

	// Go host objects.
	for _, host := range []goja.Value{v.rt.ToValue(map[string]any{"a": 1}), v.rt.ToValue([]any{1}),
		v.rt.ToValue(struct{ A int }{1}), v.rt.ToValue(&struct{}{}), v.rt.NewDynamicObject(nopDynamic{})} {
		_, err := v.enc.Encode(nil, host)
		if !errors.As(err, &dce) || dce.What != "Go host object" {
			t.Errorf("%T: %v", host, err)
		}
	}

	// The encoder is reusable after an error.
	out, err := v.enc.Encode([]byte{9}, v.run(t, `({a: 1})`))
	if err != nil || len(out) != 5 || out[0] != 9 {
		t.Fatalf("after error: %x %v", out, err)
	}
}

func TestGetterThrows(t *testing.T) {
	v := newVM(t)
	val := v.run(t, `({a: 1, get b() { throw new RangeError("nope") }})`)
	dst := []byte{1, 2}
	out, err := v.enc.Encode(dst, val)
	var ex *goja.Exception
	if !errors.As(err, &ex) || !strings.Contains(ex.Error(), "nope") {
		t.Fatalf("want the JS exception, got %v", err)
	}
	if len(out) != 2 {
		t.Fatalf("dst changed: %x", out)
	}
	// From inside JS (the usual case: a native function encodes its arguments).
	if err := v.rt.Set("encode", func(call goja.FunctionCall) goja.Value {
		_, err := v.enc.Encode(nil, call.Argument(0))
		if err != nil {
			panic(v.rt.NewTypeError(err.Error()))
		}
		return goja.Undefined()
	}); err != nil {
		t.Fatal(err)
	}
	res := v.run(t, `(() => { try { encode({get b() { throw new Error("inner") }}) } catch (e) { return e.message } })()`)
	if !strings.Contains(res.String(), "inner") {
		t.Fatalf("got %v", res)
	}
	res = v.run(t, `(() => { try { encode({f() {}}) } catch (e) { return e.message } })()`)
	if res.String() != "value at value.f is a function and cannot be cloned" {
		t.Fatalf("got %v", res)
	}
}

func TestDepthErrorPath(t *testing.T) {
	v := newVM(t)
	_, err := v.enc.Encode(nil, v.run(t, `(() => { let o = {}; const r = o; for (let i = 0; i < 2000; i++) { o.n = {}; o = o.n } return r })()`))
	if !errors.Is(err, ErrTooDeep) || len(err.Error()) > 400 || !strings.Contains(err.Error(), "…") {
		t.Fatalf("got %v", err)
	}
}

func TestGetterMutates(t *testing.T) {
	v := newVM(t)
	// A getter that shrinks the array being encoded, or adds keys, must not
	// break the encoding: the header already written decides the item count.
	for _, src := range []string{
		`(() => { const a = [1, 2, 3, 4]; Object.defineProperty(a, 0, {get() { a.length = 1; return 0 }, enumerable: true}); return a })()`,
		`(() => { const o = {get a() { o.z = 1; delete o.b; return 1 }, b: 2}; return o })()`,
		`(() => { const o = {a: 1}; const a = [{get x() { a.length = 0; return 1 }}, 2, 3]; return a })()`,
	} {
		enc, err := v.enc.Encode(nil, v.run(t, src))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if _, err := v.dec.Decode(enc); err != nil {
			t.Fatalf("%s: decode %x: %v", src, enc, err)
		}
	}
}

// TestReentrant: a getter that calls back into Go, which encodes with the same
// Encoder (a call made from a getter), must not corrupt the outer encoding.
func TestReentrant(t *testing.T) {
	v := newVM(t)
	var inner []byte
	if err := v.rt.Set("send", func(call goja.FunctionCall) goja.Value {
		var err error
		if inner, err = v.enc.Encode(nil, call.Argument(0)); err != nil {
			panic(err)
		}
		if _, err := v.dec.Decode(inner); err != nil {
			panic(err)
		}
		return goja.Undefined()
	}); err != nil {
		t.Fatal(err)
	}
	val := v.run(t, `(() => { const o = {z: 1}; return [o, {get x() { send({q: [1, 2]}); return 5 }}, o] })()`)
	enc, err := v.enc.Encode(nil, val)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.dec.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.rt.Set("got", got); err != nil {
		t.Fatal(err)
	}
	if !v.run(t, `got[0] === got[2] && got[1].x === 5 && got[0].z === 1`).ToBoolean() {
		t.Fatalf("outer value wrong: %x", enc)
	}
	if len(inner) == 0 {
		t.Fatal("inner encode did not run")
	}
}

// TestInterrupt: an interrupt (uncatchable) raised while a getter runs goes
// through the codec; the encoder must be clean for the next call.
func TestInterrupt(t *testing.T) {
	v := newVM(t)
	val := v.run(t, `(() => { const o = {a: 1}; return [o, {get x() { for (;;) {} }}, o] })()`)
	go func() { time.Sleep(20 * time.Millisecond); v.rt.Interrupt("stop") }()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("no interrupt")
			}
		}()
		_, _ = v.enc.Encode(nil, val)
	}()
	v.rt.ClearInterrupt()
	enc, err := v.enc.Encode(nil, v.run(t, `(() => { const p = {}; return [p, p] })()`))
	if err != nil || !bytes.Equal(enc, unhex(`82 d8 1c a0 d8 1d 00`)) {
		t.Fatalf("after interrupt: %x %v", enc, err)
	}
}

func TestDetached(t *testing.T) {
	defer func() { gi.ok = true }()
	for _, internals := range []bool{true, false} {
		internalsOK()
		gi.ok = internals
		v := newVM(t)
		v.run(t, `globalThis.u8 = new Uint8Array(4); globalThis.dv = new DataView(u8.buffer, 1)`)
		v.run(t, `u8.buffer`).Export().(goja.ArrayBuffer).Detach()
		for _, src := range []string{`u8.buffer`, `u8`, `dv`, `[1, {x: dv}]`} {
			_, err := v.enc.Encode(nil, v.run(t, src))
			var dce *DataCloneError
			if !errors.As(err, &dce) || !strings.Contains(dce.What, "detached") {
				t.Errorf("internals %v: %s: %v", internals, src, err)
			}
		}
		gi.ok = true
	}
}
