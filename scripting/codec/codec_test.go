package codec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/dop251/goja"
	"github.com/fxamacker/cbor/v2"
)

// describeJS renders any value the codec supports as a string that two
// runtimes can compare: types, -0, holes, code units of strings, shared
// objects (@id on first sight, #id after), Map/Set order, view bytes...
const describeJS = `function describe(x) {
	const seen = new Map(); let n = 0;
	const units = s => Array.from({length: s.length}, (_, i) => s.charCodeAt(i)).join(".");
	function d(x) {
		switch (typeof x) {
		case "undefined": return "undefined";
		case "number": return Object.is(x, -0) ? "-0" : String(x);
		case "bigint": return x + "n";
		case "string": return "'" + units(x) + "'";
		case "boolean": return String(x);
		case "object": if (x === null) return "null"; break;
		default: return "?" + typeof x;
		}
		if (seen.has(x)) return "#" + seen.get(x);
		const id = n++; seen.set(x, id);
		const t = "@" + id + ":";
		const props = (o, skip) => Object.keys(o).filter(k => !skip.includes(k)).map(k => d(k) + ":" + d(o[k])).join(",");
		if (Array.isArray(x)) return t + "[" + x.length + "|" + props(x, []) + "]";
		if (x instanceof Date) return t + "Date(" + x.getTime() + ")";
		if (x instanceof RegExp) return t + "RegExp(" + d(x.source) + "," + x.flags + ")";
		if (x instanceof Map) { let s = t + "Map("; x.forEach((v, k) => { s += d(k) + "=>" + d(v) + "," }); return s + ")" }
		if (x instanceof Set) { let s = t + "Set("; x.forEach(v => { s += d(v) + "," }); return s + ")" }
		if (x instanceof ArrayBuffer) return t + "ArrayBuffer(" + new Uint8Array(x).join() + ")";
		if (ArrayBuffer.isView(x)) return t + x.constructor.name + "(" + new Uint8Array(x.buffer, x.byteOffset, x.byteLength).join() + ")";
		if (x instanceof Error) return t + "Error(" + x.name + "," + d(x.message) + "," + d(x.stack) + "," +
			(x.cause !== undefined || Object.prototype.hasOwnProperty.call(x, "cause") ? d(x.cause) : "-") + "," + props(x, ["name", "message", "stack", "cause"]) + ")";
		if (Object.getPrototypeOf(x) === RefProto) return t + "Ref(" + x.class + "/" + x.id + ")";
		return t + "{" + props(x, []) + "}";
	}
	return d(x);
}`

type rtCase struct {
	name  string
	src   string // expression evaluated in the first runtime
	check string // JS boolean expression over the decoded value v (second runtime)
}

var roundTripCases = []rtCase{
	{"undefined", `undefined`, `v === undefined`},
	{"null", `null`, `v === null`},
	{"true", `true`, `v === true`},
	{"false", `false`, `v === false`},
	{"zero", `0`, `Object.is(v, 0)`},
	{"negative zero", `-0`, `Object.is(v, -0)`},
	{"small int", `42`, `v === 42`},
	{"negative int", `-1000000`, `v === -1000000`},
	{"max safe", `Number.MAX_SAFE_INTEGER`, `v === 9007199254740991`},
	{"min safe", `Number.MIN_SAFE_INTEGER`, `v === -9007199254740991`},
	{"2^53", `2**53`, `v === 2**53`},
	{"2^64", `2**64`, `v === 2**64`},
	{"fraction", `0.1`, `v === 0.1`},
	{"half float", `1.5`, `v === 1.5`},
	{"single float", `3.4028234663852886e38`, `v === 3.4028234663852886e38`},
	{"big float", `1e300`, `v === 1e300`},
	{"min subnormal", `5e-324`, `v === 5e-324`},
	{"half subnormal", `2**-24`, `v === 2**-24`},
	{"NaN", `NaN`, `Number.isNaN(v)`},
	{"Infinity", `Infinity`, `v === Infinity`},
	{"-Infinity", `-Infinity`, `v === -Infinity`},
	{"bigint 0", `0n`, `v === 0n`},
	{"bigint 1", `1n`, `v === 1n`},
	{"bigint -1", `-1n`, `v === -1n`},
	{"bigint -256", `-256n`, `v === -256n`},
	{"bigint 2^64", `2n**64n`, `v === 18446744073709551616n`},
	{"bigint big negative", `-(2n**100n) + 7n`, `v === -(2n**100n) + 7n`},
	{"empty string", `""`, `v === ""`},
	{"ascii", `"hello"`, `v === "hello"`},
	{"long ascii", `"x".repeat(1000)`, `v === "x".repeat(1000)`},
	{"accents", `"héllo wörld"`, `v === "héllo wörld"`},
	{"emoji", `"a😀b"`, `v === "a😀b" && v.length === 4`},
	{"lone high surrogate", `"\ud800"`, `v.length === 1 && v.charCodeAt(0) === 0xd800`},
	{"lone low surrogate inside", `"a\udc00b"`, `v.length === 3 && v.charCodeAt(1) === 0xdc00`},
	{"reversed pair", `"\udc00\ud800"`, `v.charCodeAt(0) === 0xdc00 && v.charCodeAt(1) === 0xd800`},
	{"trailing high surrogate", `"😀\ud83d"`, `v.length === 3 && v.charCodeAt(2) === 0xd83d`},
	{"small object", `({a: 1, b: "x", c: [1, 2, 3]})`, `v.a === 1 && v.b === "x" && v.c.length === 3 && Object.getPrototypeOf(v) === Object.prototype`},
	{"nested object", `({a: {b: {c: {d: [{e: null}]}}}})`, `v.a.b.c.d[0].e === null`},
	{"key order", `({z: 1, a: 2, m: 3})`, `Object.keys(v).join() === "z,a,m"`},
	{"integer keys", `({b: 1, 2: 2, 1: 3})`, `v[1] === 3 && v[2] === 2 && v.b === 1`},
	{"accessor", `({get x() { return 5 }, y: 1})`, `Object.getOwnPropertyDescriptor(v, "x").value === 5`},
	{"non-enumerable skipped", `Object.defineProperty({a: 1}, "h", {value: 2, enumerable: false})`, `!("h" in v) && v.a === 1`},
	{"symbol keys skipped", `({a: 1, [Symbol("s")]: 2})`, `Object.getOwnPropertySymbols(v).length === 0 && v.a === 1`},
	{"__proto__ key", `JSON.parse('{"__proto__": 1, "a": 2}')`, `Object.getPrototypeOf(v) === Object.prototype && Object.getOwnPropertyDescriptor(v, "__proto__").value === 1`},
	{"unicode key", `({"clé": 1, "😀": 2})`, `v["clé"] === 1 && v["😀"] === 2`},
	{"lone surrogate key", `({"\ud800": 1, b: 2})`, `Object.keys(v)[0] === "\ud800" && v["\ud800"] === 1 && v.b === 2`},
	{"replacement char key", `({"\ufffd": 1})`, `v["\ufffd"] === 1`},
	{"class instance", `new (class P { constructor() { this.x = 1 } get y() { return 2 } m() {} })()`,
		`Object.getPrototypeOf(v) === Object.prototype && v.x === 1 && v.y === undefined && v.m === undefined`},
	{"null prototype", `Object.assign(Object.create(null), {a: 1})`, `Object.getPrototypeOf(v) === Object.prototype && v.a === 1`},
	{"empty array", `[]`, `Array.isArray(v) && v.length === 0`},
	{"mixed array", `[1, "a", null, undefined, true]`, `v.length === 5 && v[3] === undefined && (3 in v)`},
	{"holes", `[1, , 3]`, `v.length === 3 && !(1 in v) && v[2] === 3`},
	{"trailing holes", `(() => { const a = [1]; a.length = 5; return a })()`, `v.length === 5 && !(4 in v)`},
	{"sparse", `(() => { const a = []; a[1e6] = 1; a[5] = 2; return a })()`, `v.length === 1e6 + 1 && v[1e6] === 1 && v[5] === 2 && !(6 in v)`},
	{"huge length", `(() => { const a = [1]; a.length = 2**32 - 1; return a })()`, `v.length === 2**32 - 1 && v[0] === 1`},
	{"array accessor", `(() => { const a = [1, 2, 3]; Object.defineProperty(a, 1, {get() { return 7 }, enumerable: true}); return a })()`, `v[1] === 7`},
	{"array subclass", `(() => { class L extends Array {}; const l = new L(); l.push(1, 2); return l })()`, `Object.getPrototypeOf(v) === Array.prototype && v.length === 2`},
	{"date", `new Date(1700000000123)`, `v instanceof Date && v.getTime() === 1700000000123`},
	{"date epoch", `new Date(0)`, `v.getTime() === 0`},
	{"date negative", `new Date(-1)`, `v.getTime() === -1`},
	{"date max", `new Date(8.64e15)`, `v.getTime() === 8.64e15`},
	{"date min", `new Date(-8.64e15 + 1)`, `v.getTime() === -8.64e15 + 1`},
	{"date invalid", `new Date(NaN)`, `v instanceof Date && Number.isNaN(v.getTime())`},
	{"regexp", `/ab+c/gi`, `v instanceof RegExp && v.source === "ab+c" && v.flags === "gi" && v.test("xABBC")`},
	{"regexp flags", `/x/msuy`, `v.flags === "msuy"`},
	{"regexp slash", `new RegExp("a/b")`, `v.test("a/b")`},
	{"regexp lastIndex dropped", `(() => { const r = /a/g; r.lastIndex = 3; return r })()`, `v.lastIndex === 0`},
	{"map", `new Map([[1, "a"], ["k", {x: 1}], [{o: 1}, 2], [NaN, 3]])`,
		`v instanceof Map && v.size === 4 && [...v.keys()][2].o === 1 && v.get(NaN) === 3 && v.get("k").x === 1`},
	{"empty map", `new Map()`, `v instanceof Map && v.size === 0`},
	{"set", `new Set([1, "a", {x: 1}, NaN, undefined])`, `v instanceof Set && v.size === 5 && v.has(NaN) && v.has(undefined)`},
	{"empty set", `new Set()`, `v instanceof Set && v.size === 0`},
	{"array buffer", `new Uint8Array([1, 2, 3]).buffer`, `v instanceof ArrayBuffer && new Uint8Array(v).join() === "1,2,3"`},
	{"empty array buffer", `new ArrayBuffer(0)`, `v instanceof ArrayBuffer && v.byteLength === 0`},
	{"Uint8Array", `new Uint8Array([0, 1, 255])`, `v instanceof Uint8Array && v.join() === "0,1,255"`},
	{"Uint8ClampedArray", `new Uint8ClampedArray([0, 300])`, `v instanceof Uint8ClampedArray && v[1] === 255`},
	{"Int8Array", `new Int8Array([-128, 127])`, `v instanceof Int8Array && v[0] === -128`},
	{"Uint16Array", `new Uint16Array([1, 65535])`, `v instanceof Uint16Array && v[1] === 65535`},
	{"Int16Array", `new Int16Array([-32768, 5])`, `v instanceof Int16Array && v[0] === -32768`},
	{"Uint32Array", `new Uint32Array([4294967295])`, `v instanceof Uint32Array && v[0] === 4294967295`},
	{"Int32Array", `new Int32Array([-2147483648])`, `v instanceof Int32Array && v[0] === -2147483648`},
	{"Float32Array", `new Float32Array([1.5, NaN, -0])`, `v instanceof Float32Array && v[0] === 1.5 && Number.isNaN(v[1]) && Object.is(v[2], -0)`},
	{"Float64Array", `new Float64Array([Math.PI, -Infinity])`, `v instanceof Float64Array && v[0] === Math.PI`},
	{"BigInt64Array", `new BigInt64Array([-1n, 2n**62n])`, `v instanceof BigInt64Array && v[0] === -1n && v[1] === 2n**62n`},
	{"BigUint64Array", `new BigUint64Array([2n**64n - 1n])`, `v instanceof BigUint64Array && v[0] === 2n**64n - 1n`},
	{"view with offset", `new Uint16Array(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer, 2, 2)`,
		`v.byteOffset === 0 && v.length === 2 && v.buffer.byteLength === 4 && v[0] === (3 | 4 << 8)`},
	{"subarray", `new Int32Array([1, 2, 3, 4]).subarray(1, 3)`, `v.length === 2 && v[0] === 2 && v.buffer.byteLength === 8`},
	{"DataView", `new DataView(new Uint8Array([1, 2, 3, 4, 5]).buffer, 1, 3)`, `v instanceof DataView && v.byteLength === 3 && v.byteOffset === 0 && v.getUint8(0) === 2`},
	{"error", `new Error("boom")`, `v instanceof Error && v.name === "Error" && v.message === "boom" && typeof v.stack === "string" && !Object.keys(v).length`},
	{"type error", `new TypeError("t")`, `v instanceof TypeError && v.name === "TypeError"`},
	{"range error", `new RangeError("r")`, `v instanceof RangeError`},
	{"error cause", `new Error("outer", {cause: new Error("inner")})`, `v.cause instanceof Error && v.cause.message === "inner" && !Object.keys(v).includes("cause")`},
	{"error cause undefined", `new Error("x", {cause: undefined})`, `Object.prototype.hasOwnProperty.call(v, "cause") && v.cause === undefined`},
	{"error props", `Object.assign(new Error("bad"), {field: "amount", rule: "min"})`, `v.field === "amount" && v.rule === "min" && v.message === "bad"`},
	{"error subclass", `new ValidationError("too small", "amount", "min")`,
		`v instanceof ValidationError && v.name === "ValidationError" && v.field === "amount" && v.rule === "min"`},
	{"error unknown name", `(() => { const e = new Error("x"); e.name = "NoSuchError"; return e })()`, `v instanceof Error && v.name === "NoSuchError"`},
	{"error self cause", `(() => { const e = new Error("x", {cause: 1}); Object.defineProperty(e, "cause", {value: e}); return e })()`, `v.cause === v`},
	{"ref", `ref("Account", "alice")`, `Object.getPrototypeOf(v) === RefProto && v.class === "Account" && v.id === "alice"`},
	{"refs in state", `({owner: ref("User", "bob"), peers: [ref("User", "a/b"), ref("User", "c")]})`, `v.owner.id === "bob" && v.peers[0].id === "a/b"`},
	{"cycle", `(() => { const a = {}; a.self = a; return a })()`, `v.self === v`},
	{"shared", `(() => { const o = {x: 1}; return [o, o] })()`, `v[0] === v[1] && v[0].x === 1`},
	{"shared deep", `(() => { const o = {x: 1}; return {a: [o], b: {c: o}, d: o} })()`, `v.a[0] === v.b.c && v.d === v.a[0]`},
	{"array cycle", `(() => { const a = [1]; a.push(a); return a })()`, `v[1] === v && v[0] === 1`},
	{"map cycle", `(() => { const m = new Map(); const a = [m]; m.set("a", a); m.set(m, 1); return a })()`,
		`v[0].get("a") === v && v[0].get(v[0]) === 1`},
	{"set cycle", `(() => { const s = new Set(); s.add(s); return s })()`, `v.has(v)`},
	{"shared dates", `(() => { const d = new Date(5); return [d, d, {d}] })()`, `v[0] === v[1] && v[2].d === v[0]`},
	{"shared views", `(() => { const u = new Uint8Array(2); return {u, w: u} })()`, `v.u === v.w`},
	{"shared refs", `(() => { const r = ref("A", "b"); return [r, r] })()`, `v[0] === v[1]`},
	{"shared strings are values", `(() => { const s = "abc"; return [s, s] })()`, `v[0] === v[1]`},
	{"many shared", `(() => { const os = []; for (let i = 0; i < 50; i++) os.push({i}); return [os, os.slice().reverse()] })()`,
		`v[0].every((o, i) => o === v[1][49 - i] && o.i === i)`},
	{"shared later mark", `(() => { const y = {y: 1}; const x = {a: y, b: y}; x.c = x; return x })()`, `v.a === v.b && v.c === v`},
}

func TestRoundTrip(t *testing.T) {
	src, dst := newVM(t), newVM(t)
	src.run(t, describeJS)
	dst.run(t, describeJS)
	for _, c := range roundTripCases {
		t.Run(c.name, func(t *testing.T) { roundTrip(t, src, dst, c) })
	}
}

// TestRoundTripSameRuntime decodes into the runtime that encoded.
func TestRoundTripSameRuntime(t *testing.T) {
	v := newVM(t)
	v.run(t, describeJS)
	for _, c := range roundTripCases {
		t.Run(c.name, func(t *testing.T) { roundTrip(t, v, v, c) })
	}
}

// TestRoundTripPublicAPI runs the table without goja internals (the fallback
// used if a goja upgrade changes them).
func TestRoundTripPublicAPI(t *testing.T) {
	internalsOK()
	gi.ok = false
	defer func() { gi.ok = true }()
	src, dst := newVM(t), newVM(t)
	src.run(t, describeJS)
	dst.run(t, describeJS)
	for _, c := range roundTripCases {
		t.Run(c.name, func(t *testing.T) { roundTrip(t, src, dst, c) })
	}
}

func roundTrip(t *testing.T, src, dst *vm, c rtCase) {
	t.Helper()
	orig := src.run(t, "("+c.src+")")
	enc, err := src.enc.Encode([]byte("prefix"), orig)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	if !bytes.HasPrefix(enc, []byte("prefix")) {
		t.Fatalf("Encode did not append to dst")
	}
	enc = enc[len("prefix"):]
	if err := cbor.Wellformed(enc); err != nil {
		t.Fatalf("not well-formed CBOR: %v (%x)", err, enc)
	}
	g, err := DecodeGo(enc)
	if err != nil {
		t.Fatalf("DecodeGo: %v (%x)", err, enc)
	}
	// Without shared values (AppendGo writes none) and lossy keys, AppendGo
	// gives back the very same bytes.
	if !bytes.Contains(enc, []byte{0xd8, tagShareable}) && c.name != "lone surrogate key" {
		if enc3, err := AppendGo(nil, g); err != nil || !bytes.Equal(enc3, enc) {
			t.Errorf("AppendGo(DecodeGo(enc)) = %x, %v; want %x", enc3, err, enc)
		}
	}
	got, err := dst.dec.Decode(enc)
	if err != nil {
		t.Fatalf("decode: %v (%x)", err, enc)
	}
	if err := src.rt.Set("orig", orig); err != nil {
		t.Fatal(err)
	}
	if err := dst.rt.Set("v", got); err != nil {
		t.Fatal(err)
	}
	want := src.run(t, "describe(orig)").String()
	have := dst.run(t, "describe(v)").String()
	if want != have {
		t.Errorf("describe mismatch\n want %s\n have %s\n enc  %s", want, have, hex.EncodeToString(enc))
	}
	if ok := dst.run(t, c.check); !ok.ToBoolean() {
		t.Errorf("check failed: %s (enc %x)", c.check, enc)
	}
	enc2, err := dst.enc.Encode(nil, got)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	if !bytes.Equal(enc, enc2) {
		t.Errorf("re-encoding differs\n first  %x\n second %x", enc, enc2)
	}
}

func TestArgsShareOneTable(t *testing.T) {
	src, dst := newVM(t), newVM(t)
	o := src.run(t, `({x: 1})`)
	d := src.run(t, `new Date(3)`)
	enc, err := src.enc.EncodeArgs(nil, []goja.Value{o, src.rt.ToValue("s"), o, d, d})
	if err != nil {
		t.Fatal(err)
	}
	args, err := dst.dec.DecodeArgs(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 5 || args[0] != args[2] || args[3] != args[4] || args[1].String() != "s" {
		t.Fatalf("args not shared: %v", args)
	}
	if _, err := dst.dec.DecodeArgs([]byte{0x01}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("DecodeArgs of a non-array: %v", err)
	}
	enc, err = src.enc.EncodeArgs(nil, nil)
	if err != nil || !bytes.Equal(enc, []byte{0x80}) {
		t.Fatalf("no args: %x %v", enc, err)
	}
}

func TestDepth(t *testing.T) {
	src, dst := newVM(t), newVM(t)
	for _, n := range []int{MaxDepth - 1, MaxDepth} {
		v := src.run(t, `(() => { const root = {}; let cur = root; for (let i = 1; i < `+itoa(n)+`; i++) {
			const next = i % 2 ? [] : {}; if (Array.isArray(cur)) cur.push(next); else cur.n = next; cur = next } return root })()`)
		enc, err := src.enc.Encode(nil, v)
		if err != nil {
			t.Fatalf("depth %d: %v", n, err)
		}
		if _, err := dst.dec.Decode(enc); err != nil {
			t.Fatalf("depth %d: decode: %v", n, err)
		}
		if _, err := DecodeGo(enc); err != nil {
			t.Fatalf("depth %d: DecodeGo: %v", n, err)
		}
	}
	for _, src2 := range []string{
		`(() => { let o = {}; const root = o; for (let i = 0; i < 1001; i++) { o.n = {}; o = o.n } return root })()`,
		`(() => { let a = []; const root = a; for (let i = 0; i < 100000; i++) { const b = []; a.push(b); a = b } return root })()`,
	} {
		_, err := src.enc.Encode(nil, src.run(t, src2))
		if !errors.Is(err, ErrTooDeep) {
			t.Fatalf("want ErrTooDeep, got %v", err)
		}
	}
	// The decoder: 100,000 nested arrays must fail cleanly.
	deep := bytes.Repeat([]byte{0x81}, 100000)
	deep = append(deep, 0x01)
	if _, err := dst.dec.Decode(deep); !errors.Is(err, ErrMalformed) {
		t.Fatalf("decode deep: %v", err)
	}
	if _, err := DecodeGo(deep); !errors.Is(err, ErrMalformed) {
		t.Fatalf("DecodeGo deep: %v", err)
	}
}

func itoa(n int) string { return goja.New().ToValue(n).String() }

// TestInternalsLayout fails when goja's internals no longer match what the
// codec expects (after a goja upgrade): the codec then still works, through
// slower public-API paths, but internals.go needs attention.
func TestInternalsLayout(t *testing.T) {
	if !internalsOK() {
		t.Fatal("goja internals did not match: see internals.go")
	}
}

// TestConcurrentRuntimes: runtimes on different goroutines share only
// read-only package state.
func TestConcurrentRuntimes(t *testing.T) {
	done := make(chan error, 2)
	for g := 0; g < 2; g++ {
		go func() {
			v := newVM(t)
			val := v.run(t, `(() => { const o = {a: [1, "x", new Map([[1, new Date(5)]])]}; o.self = o; return o })()`)
			for i := 0; i < 200; i++ {
				enc, err := v.enc.Encode(nil, val)
				if err == nil {
					_, err = v.dec.Decode(enc)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 2; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
