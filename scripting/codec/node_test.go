package codec

import (
	"bytes"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/odin-db/odin/objects"
)

func mustAppendGo(t testing.TB, v any) []byte {
	t.Helper()
	b, err := AppendGo(nil, v)
	if err != nil {
		t.Fatalf("AppendGo(%#v): %v", v, err)
	}
	return b
}

// goKey is the key AppendKey gives a float64 directly, bypassing the codec.
func floatKey(f float64) []byte {
	k, _ := objects.AppendKey(nil, NodeOf(f))
	return k
}

func TestKeyOfAbsent(t *testing.T) {
	out, ok := KeyOf([]byte("x"), nil)
	if !ok || !bytes.Equal(out, []byte{'x', objects.UndefinedTag}) {
		t.Errorf("KeyOf(nil) = %x, %v; want undefined", out, ok)
	}
}

func TestKeyOfGoValues(t *testing.T) {
	date := time.UnixMilli(-62135596800123).UTC()
	for _, c := range []struct {
		v    any
		tag  byte
		same any // a value that must have the same key, or nil
	}{
		{nil, objects.NullTag, nil},
		{Undefined{}, objects.UndefinedTag, Hole{}},
		{false, 0x03, nil},
		{true, 0x04, nil},
		{0, 0x10, math.Copysign(0, -1)},
		{int64(1), 0x10, 1.0},
		{-7, 0x10, float32(-7)},
		{int64(1 << 53), 0x10, float64(1 << 53)},
		{int64(1<<53 + 1), 0x10, float64(1<<53 + 1)}, // not a safe integer: a float
		{uint64(math.MaxUint64), 0x10, float64(math.MaxUint64)},
		{0.1, 0x10, nil},
		{math.Inf(-1), 0x10, nil},
		{math.SmallestNonzeroFloat64, 0x10, nil},
		{big.NewInt(0), 0x11, nil},
		{big.NewInt(-1), 0x11, nil},
		{new(big.Int).Lsh(big.NewInt(1), 999), 0x11, nil},
		{date, 0x20, nil},
		{time.UnixMilli(0).UTC(), 0x20, nil},
		{"", objects.StringTag, UTF16{}},
		{"a\x00b", objects.StringTag, UTF16{'a', 0, 'b'}},
		{"😀é", objects.StringTag, UTF16{0xD83D, 0xDE00, 0xE9}},
	} {
		b := mustAppendGo(t, c.v)
		k, ok := KeyOf([]byte{0xAA}, b)
		if !ok || len(k) < 2 || k[0] != 0xAA || k[1] != c.tag {
			t.Errorf("KeyOf(%#v) = %x, %v; want tag %#x", c.v, k, ok, c.tag)
			continue
		}
		// The same key as AppendKey over the decoded value.
		dv, err := DecodeGo(b)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := objects.AppendKey([]byte{0xAA}, NodeOf(dv))
		if !bytes.Equal(k, want) {
			t.Errorf("KeyOf(%#v) = %x, AppendKey(NodeOf) = %x", c.v, k, want)
		}
		// The key decodes to the value.
		got, n, err := objects.DecodeComponent(k[1:])
		if err != nil || n != len(k)-1 {
			t.Errorf("key %x of %#v: %v, %d, %v", k, c.v, got, n, err)
		}
		switch x := c.v.(type) {
		case int:
			if got != float64(x) {
				t.Errorf("key of %v decodes to %#v", x, got)
			}
		case *big.Int:
			if z, ok := got.(*big.Int); !ok || z.Cmp(x) != 0 {
				t.Errorf("key of %v decodes to %#v", x, got)
			}
		case time.Time:
			if got != objects.DateMillis(x.UnixMilli()) {
				t.Errorf("key of %v decodes to %#v", x, got)
			}
		case string:
			if got != x {
				t.Errorf("key of %q decodes to %#v", x, got)
			}
		}
		if c.same != nil {
			k2, ok := KeyOf([]byte{0xAA}, mustAppendGo(t, c.same))
			if !ok || !bytes.Equal(k, k2) {
				t.Errorf("KeyOf(%#v) = %x, KeyOf(%#v) = %x, %v", c.v, k, c.same, k2, ok)
			}
		}
	}
	if !bytes.Equal(mustKey(t, 1), mustKey(t, 1.0)) || bytes.Equal(mustKey(t, 1), mustKey(t, big.NewInt(1))) ||
		bytes.Equal(mustKey(t, 1), mustKey(t, "1")) || bytes.Equal(mustKey(t, 0), mustKey(t, time.UnixMilli(0))) ||
		bytes.Equal(mustKey(t, nil), mustKey(t, Undefined{})) || bytes.Equal(mustKey(t, false), mustKey(t, 0)) {
		t.Error("values of different types share a key, or 1 and 1.0 do not")
	}
}

func mustKey(t testing.TB, v any) []byte {
	t.Helper()
	k, ok := KeyOf(nil, mustAppendGo(t, v))
	if !ok {
		t.Fatalf("%#v is not indexable", v)
	}
	return k
}

func TestKeyOfNotIndexable(t *testing.T) {
	dst := []byte("dst")
	for _, v := range []any{
		math.NaN(), InvalidDate{}, []any{}, []any{1}, &OrderedMap{}, map[string]any{"a": 1},
		&Map{}, &Set{}, objects.Ref{Class: "User", ID: "u1"}, Bytes("x"), TypedArray{"Uint8Array", []byte{1}},
		RegExp{"a", "g"}, &ErrorValue{Name: "Error", Message: "m"}, &SparseArray{Length: 3},
		new(big.Int).Lsh(big.NewInt(1), 1000), // beyond the indexable BigInts
	} {
		out, ok := KeyOf(bytes.Clone(dst), mustAppendGo(t, v))
		if ok || !bytes.Equal(out, dst) {
			t.Errorf("KeyOf(%#v) = %x, %v; want not indexable, dst unchanged", v, out, ok)
		}
	}
	for _, b := range [][]byte{{}, {0xff}, {0x61}, {0x01, 0x02}, {0x9f}, {0xc1}} {
		out, ok := KeyOf(bytes.Clone(dst), b)
		if ok || !bytes.Equal(out, dst) {
			t.Errorf("KeyOf(malformed %x) = %x, %v", b, out, ok)
		}
	}
}

func TestNodeOfKinds(t *testing.T) {
	for _, c := range []struct {
		v    any
		kind objects.Kind
	}{
		{nil, objects.KindNull}, {Undefined{}, objects.KindUndefined}, {Hole{}, objects.KindUndefined},
		{true, objects.KindBool}, {int64(1), objects.KindNumber}, {1.5, objects.KindNumber},
		{big.NewInt(1), objects.KindBigInt}, {"s", objects.KindString}, {UTF16{'s'}, objects.KindString},
		{[]any{}, objects.KindArray}, {&SparseArray{}, objects.KindArray}, {&OrderedMap{}, objects.KindObject},
		{time.Now(), objects.KindDate}, {InvalidDate{}, objects.KindDate}, {&Map{}, objects.KindMap},
		{&Set{}, objects.KindSet}, {objects.Ref{}, objects.KindRef}, {Bytes{}, objects.KindBytes},
		{TypedArray{}, objects.KindBytes}, {RegExp{}, objects.KindRegExp}, {&ErrorValue{}, objects.KindError},
		{struct{}{}, objects.KindOther}, {int(1), objects.KindOther},
	} {
		if got := NodeOf(c.v).Kind(); got != c.kind {
			t.Errorf("NodeOf(%#v).Kind() = %v, want %v", c.v, got, c.kind)
		}
	}
	n := NodeOf([]any{1, 2})
	if n.Len() != 2 || n.Index(0).Kind() != objects.KindUndefined || n.Keys() != nil || n.Get("x") != nil || n.RefClass() != "" {
		t.Error("container accessors")
	}
	if NodeOf(objects.Ref{Class: "C", ID: "i"}).RefClass() != "C" || NodeOf(UTF16{'a', 'b'}).Str() != "ab" ||
		NodeOf(big.NewInt(-12)).Str() != "-12" || !math.IsNaN(NodeOf(InvalidDate{}).Number()) {
		t.Error("scalar accessors")
	}
}

// TestKeyOfJSOrder encodes JavaScript values with the VM's encoder and
// checks that their keys sort in the intended order: by type (undefined,
// null, booleans, numbers, BigInts, Dates, strings), then by value, strings
// by code point.
func TestKeyOfJSOrder(t *testing.T) {
	v := newVM(t)
	// Groups of equal values, in increasing order.
	groups := [][]string{
		{`undefined`}, {`null`}, {`false`}, {`true`},
		{`-Infinity`}, {`-Number.MAX_VALUE`}, {`-(2**64)`}, {`-(2**53)`}, {`-1`, `-1.0`}, {`-0.5`}, {`-5e-324`},
		{`0`, `-0`, `0.0`}, {`5e-324`}, {`0.1`}, {`1`}, {`1.5`}, {`2**31`}, {`2**53 - 1`}, {`2**53`}, {`2**64`},
		{`Number.MAX_VALUE`}, {`Infinity`},
		{`-(2n**999n)`}, {`-(2n**64n)`}, {`-256n`}, {`-255n`}, {`-1n`}, {`0n`, `-0n`}, {`1n`}, {`255n`}, {`256n`}, {`2n**64n`}, {`2n**999n`},
		{`new Date(-8.64e15)`}, {`new Date(-1)`}, {`new Date(0)`}, {`new Date(1.9)`, `new Date(1)`}, {`new Date(8.64e15)`},
		{`""`}, {`"\0"`}, {`"\0\0"`}, {`"\x01"`}, {`"a"`}, {`"a\0"`}, {`"a\0b"`}, {`"ab"`}, {`"b"`}, {`"\x7f"`},
		{`"é"`}, {`"\u07ff"`}, {`"\u0800"`}, {`"日本"`}, {`"\ue000"`}, {`"\uffff"`}, {`"😀"`}, {`"\udbff\udfff"`},
	}
	var prev []byte
	var prevSrc string
	for _, g := range groups {
		var first []byte
		for _, src := range g {
			b, err := v.enc.Encode(nil, v.run(t, src))
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			k, ok := KeyOf(nil, b)
			if !ok {
				t.Fatalf("%s is not indexable", src)
			}
			if first == nil {
				first = k
			} else if !bytes.Equal(k, first) {
				t.Errorf("%s and %s have different keys: %x, %x", g[0], src, first, k)
			}
		}
		if prev != nil && bytes.Compare(prev, first) >= 0 {
			t.Errorf("key of %s (%x) is not above key of %s (%x)", g[0], first, prevSrc, prev)
		}
		prev, prevSrc = first, g[0]
	}
	for _, src := range []string{`NaN`, `new Date(NaN)`, `[]`, `({})`, `new Map()`, `new Set()`, `/a/`, `new Error("e")`,
		`new Uint8Array(1)`, `new ArrayBuffer(1)`, `ref("User", "u1")`, `2n**1000n * 2n**1000n`} {
		b, err := v.enc.Encode(nil, v.run(t, src))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if k, ok := KeyOf(nil, b); ok {
			t.Errorf("%s is indexable: %x", src, k)
		}
	}
}

// TestKeyOfJSNumbers: whatever CBOR form the encoder picks for a number
// (integer, half, single or double float), the key is the float's.
func TestKeyOfJSNumbers(t *testing.T) {
	v := newVM(t)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		var f float64
		switch i % 4 {
		case 0:
			f = float64(r.Int64N(1<<54) - 1<<53)
		case 1:
			f = float64(int64(r.Uint64()))
		case 2:
			f = float64(float32(r.NormFloat64() * 1000))
		default:
			f = math.Float64frombits(r.Uint64())
		}
		b, err := v.enc.Encode(nil, v.rt.ToValue(f))
		if err != nil {
			t.Fatal(err)
		}
		k, ok := KeyOf(nil, b)
		if math.IsNaN(f) {
			if ok {
				t.Errorf("NaN is indexable")
			}
			continue
		}
		if !ok || !bytes.Equal(k, floatKey(f)) {
			t.Fatalf("number %v (encoded %x): key %x, %v; want %x", f, b, k, ok, floatKey(f))
		}
	}
}
