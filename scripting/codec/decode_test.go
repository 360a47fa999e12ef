package codec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odin-db/odin/objects"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// malformed inputs: each must fail with ErrMalformed in both decoders.
var malformedInputs = []struct{ name, hex string }{
	{"empty", ``},
	{"truncated head", `19 01`},
	{"truncated string", `63 61 62`},
	{"huge array", `9b ff ff ff ff ff ff ff ff`},
	{"huge array 2", `9a ff ff ff ff 01`},
	{"huge map", `bb 00 00 00 00 ff ff ff ff 01 02`},
	{"map needs two bytes per entry", `a2 01 02 03`},
	{"huge string", `7b 7f ff ff ff ff ff ff ff 61`},
	{"huge bytes", `5a ff ff ff ff 00`},
	{"indefinite array", `9f 01 ff`},
	{"indefinite string", `7f 61 61 ff`},
	{"break", `ff`},
	{"reserved info", `1c`},
	{"simple value", `e0`},
	{"one-byte simple", `f8 20`},
	{"bad utf8", `62 c3 28`},
	{"surrogate as utf8", `63 ed a0 80`},
	{"trailing bytes", `01 02`},
	{"unknown tag", `d9 ff ff 01`},
	{"ref to nothing", `d8 1d 00`},
	{"ref not a uint", `d8 1d 61 61`},
	{"forward ref", `82 d8 1d 00 d8 1c 80`},
	{"self ref in leaf", `d8 1c d9 be e2 82 d8 1d 00 60`},
	{"shared hole", `81 d8 1c d8 1f f7`},
	{"hole without undefined", `81 d8 1f 01`},
	{"object key not a string", `a1 01 02`},
	{"utf16 odd", `d9 be e0 43 00 d8 00`},
	{"utf16 not bytes", `d9 be e0 61 61`},
	{"date not a number", `c1 61 61`},
	{"tagDate not a number", `d9 be e1 f6`},
	{"regexp arity", `d9 be e2 81 61 61`},
	{"regexp syntax", `d9 be e2 82 61 28 60`},
	{"regexp flags", `d9 be e2 82 61 61 61 51`},
	{"map odd", `d9 be e3 81 01`},
	{"map hole", `d9 be e3 82 d8 1f f7 01`},
	{"set not array", `d9 01 02 a0`},
	{"error arity", `d9 be e4 83 60 60 60`},
	{"error name not string", `d9 be e4 84 01 60 60 a0`},
	{"error props not map", `d9 be e4 84 60 60 60 80`},
	{"ref arity", `d9 be e5 81 61 41`},
	{"ref bad class", `d9 be e5 82 61 31 61 78`},
	{"ref empty id", `d9 be e5 82 61 41 60`},
	{"ref not text", `d9 be e5 82 41 41 41 78`},
	{"ref id not utf8", `d9 be e5 82 61 41 61 c4`},
	{"dataview not bytes", `d9 be e6 80`},
	{"sparse even", `d9 be e7 82 05 01`},
	{"sparse out of range", `d9 be e7 83 05 05 01`},
	{"sparse out of order", `d9 be e7 85 0a 03 01 02 01`},
	{"sparse duplicate", `d9 be e7 85 0a 03 01 03 01`},
	{"sparse length too big", `d9 be e7 81 1b 00 00 00 01 00 00 00 00`},
	{"sparse length not uint", `d9 be e7 81 20`},
	{"typed array partial element", `d8 45 43 01 02 03`},
	{"float16 typed array", `d8 54 42 00 00`},
	{"typed array not bytes", `d8 40 80`},
	{"bignum not bytes", `c2 01`},
	{"neg bignum truncated", `c3 42 01`},
	{"tag 0 date string", `c0 74 32 30 31 33 2d 30 33 2d 32 31 54 32 30 3a 30 34 3a 30 30 5a`},
}

func TestMalformed(t *testing.T) {
	v := newVM(t)
	for _, c := range malformedInputs {
		b := unhex(c.hex)
		if _, err := v.dec.Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Decode: want ErrMalformed, got %v", c.name, err)
		}
		if _, err := DecodeGo(b); !errors.Is(err, ErrMalformed) && !strings.HasPrefix(c.name, "regexp") {
			t.Errorf("%s: DecodeGo: want ErrMalformed, got %v", c.name, err)
		}
	}
}

// TestTruncations decodes every prefix of every round-trip encoding.
func TestTruncations(t *testing.T) {
	v := newVM(t)
	for _, c := range roundTripCases {
		enc, err := v.enc.Encode(nil, v.run(t, "("+c.src+")"))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(enc) && i < 300; i++ {
			if _, err := v.dec.Decode(enc[:i]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: prefix %d of %x: %v", c.name, i, enc, err)
			}
			if _, err := DecodeGo(enc[:i]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: DecodeGo prefix %d of %x: %v", c.name, i, enc, err)
			}
		}
	}
}

// TestDecodeAllocationBound: small hostile inputs must not make either
// decoder allocate much more than their size.
func TestDecodeAllocationBound(t *testing.T) {
	v := newVM(t)
	inputs := map[string][]byte{
		"declared 4G array":      unhex(`9a ff ff ff ff 01`),
		"declared huge map":      unhex(`bb 00 00 00 00 ff ff ff ff 01 02`),
		"sparse length 2^32-1":   unhex(`d9 be e7 83 1a ff ff ff ff 1a ff ff ff fe 01`),
		"sparse dense-ish 4096":  unhex(`d9 be e7 83 19 10 00 19 0f ff 01`),
		"many holes":             append(unhex(`99 10 00`), bytes.Repeat(holeBytes, 4096)...),
		"many sparse 4096 (bad)": bytes.Repeat(unhex(`d9 be e7 83 19 10 00 19 0f ff 01`), 1),
	}
	many := unhex(`99 03 e8`) // 1000 sparse arrays each asking for a 4096-slot dense slice
	for i := 0; i < 1000; i++ {
		many = append(many, unhex(`d9 be e7 83 19 10 00 19 0f ff 01`)...)
	}
	inputs["1000 dense-ish sparse arrays"] = many
	for name, b := range inputs {
		for _, dec := range []func([]byte) error{
			func(b []byte) error { _, err := v.dec.Decode(b); return err },
			func(b []byte) error { _, err := DecodeGo(b); return err },
		} {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_ = dec(b)
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got > uint64(200*len(b))+1<<20 {
				t.Errorf("%s: allocated %d bytes for %d input bytes", name, got, len(b))
			}
		}
	}
}

func TestDecodeGo(t *testing.T) {
	v := newVM(t)
	enc, err := v.enc.Encode(nil, v.run(t, `(() => {
		const shared = {s: 1};
		const o = {
			n: null, u: undefined, t: true, i: -5, f: 1.5, nz: -0, big: 2n**70n, nbig: -3n,
			s: "héllo", lone: "\ud800x", arr: [1, , shared], sp: (() => { const a = []; a[5000] = 1; return a })(),
			m: new Map([[shared, "v"]]), set: new Set(["a"]), d: new Date(1500), bad: new Date(NaN),
			ab: new Uint8Array([1, 2]).buffer, u16: new Uint16Array([258]), dv: new DataView(new ArrayBuffer(2)),
			re: /x+/g, ref: ref("Account", "alice"), err: Object.assign(new TypeError("m", {cause: shared}), {field: "f"}),
		};
		o.self = o;
		return o;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeGo(enc)
	if err != nil {
		t.Fatal(err)
	}
	o := got.(*OrderedMap)
	get := func(k string) any {
		x, ok := o.Get(k)
		if !ok {
			t.Fatalf("no key %q", k)
		}
		return x
	}
	want := map[string]any{
		"n": nil, "u": Undefined{}, "t": true, "i": int64(-5), "f": 1.5, "s": "héllo",
		"lone": UTF16{0xd800, 'x'}, "set": &Set{Values: []any{"a"}},
		"d": time.UnixMilli(1500).UTC(), "bad": InvalidDate{}, "ab": Bytes{1, 2},
		"u16": TypedArray{"Uint16Array", []byte{2, 1}}, "dv": TypedArray{"DataView", []byte{0, 0}},
		"re": RegExp{"x+", "g"}, "ref": objects.Ref{Class: "Account", ID: "alice"},
	}
	for k, w := range want {
		if g := get(k); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: got %#v, want %#v", k, g, w)
		}
	}
	if nz := get("nz").(float64); nz != 0 || !math.Signbit(nz) {
		t.Errorf("nz: %v", nz)
	}
	if b := get("big").(*big.Int); b.String() != "1180591620717411303424" {
		t.Errorf("big: %v", b)
	}
	if b := get("nbig").(*big.Int); b.Int64() != -3 {
		t.Errorf("nbig: %v", b)
	}
	arr := get("arr").([]any)
	shared := arr[2].(*OrderedMap)
	if arr[1] != (Hole{}) || arr[0] != int64(1) {
		t.Errorf("arr: %#v", arr)
	}
	if sp := get("sp").(*SparseArray); sp.Length != 5001 || sp.Indices[0] != 5000 || sp.Values[0] != int64(1) {
		t.Errorf("sp: %#v", sp)
	}
	if m := get("m").(*Map); m.Keys[0] != shared || m.Values[0] != "v" {
		t.Errorf("m: %#v", m)
	}
	e := get("err").(*ErrorValue)
	if e.Name != "TypeError" || e.Message != "m" || !e.HasCause || e.Cause != shared || !strings.Contains(e.Stack, "TypeError: m") {
		t.Errorf("err: %#v", e)
	}
	if f, _ := e.Props.Get("field"); f != "f" {
		t.Errorf("err props: %#v", e.Props)
	}
	if get("self") != o {
		t.Errorf("self is not the object")
	}
}

func TestAppendGo(t *testing.T) {
	v := newVM(t)
	in := &OrderedMap{
		Keys: []string{"i", "u", "big", "s", "m", "list", "when", "err", "ref", "ta", "set", "sp", "gm"},
		Values: []any{int64(7), uint64(1 << 60), big.NewInt(-5), "x", &Map{Keys: []any{1.5}, Values: []any{nil}},
			[]any{Undefined{}, Hole{}, true}, time.UnixMilli(1234).UTC(),
			&ErrorValue{Name: "OverloadedError", Message: "queue full", Props: &OrderedMap{Keys: []string{"retry"}, Values: []any{int64(5)}}},
			objects.Ref{Class: "Account", ID: "alice"}, TypedArray{"Int16Array", []byte{1, 0}}, &Set{Values: []any{"a"}},
			&SparseArray{Length: 10000, Indices: []uint32{9999}, Values: []any{int64(1)}},
			map[string]any{"b": 2, "a": 1}},
	}
	enc, err := AppendGo(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeGo(enc)
	if err != nil {
		t.Fatal(err)
	}
	want := *in
	want.Values = slices.Clone(in.Values)
	want.Values[1] = float64(1 << 60)
	want.Values[12] = &OrderedMap{Keys: []string{"a", "b"}, Values: []any{int64(1), int64(2)}}
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("got %#v\nwant %#v", got, &want)
	}
	// And a runtime reads it.
	if err := v.rt.Set("v", mustDecode(t, v, enc)); err != nil {
		t.Fatal(err)
	}
	if ok := v.run(t, `v.err instanceof Error && v.err.name === "OverloadedError" && v.err.retry === 5 && v.sp.length === 10000 &&
		v.list.length === 3 && !(1 in v.list) && v.m.get(1.5) === null && v.ta[0] === 1 && v.gm.a === 1 && v.big === -5n`); !ok.ToBoolean() {
		t.Fatal("JS view of AppendGo output is wrong")
	}
	for _, bad := range []any{struct{}{}, "\xff", map[string]any{"x": func() {}}, objects.Ref{Class: "1"}, TypedArray{"Nope", nil}} {
		if _, err := AppendGo(nil, bad); err == nil {
			t.Errorf("AppendGo(%#v) succeeded", bad)
		}
	}
	cyc := &OrderedMap{Keys: []string{"self"}}
	cyc.Values = []any{cyc}
	if _, err := AppendGo(nil, cyc); !errors.Is(err, ErrTooDeep) {
		t.Errorf("cycle: %v", err)
	}
}

func mustDecode(t *testing.T, v *vm, b []byte) any {
	t.Helper()
	val, err := v.dec.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return val
}
