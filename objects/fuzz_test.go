package objects

import (
	"bytes"
	"math"
	"math/big"
	"strings"
	"testing"
)

// nodeOfDecoded turns a DecodeComponent result back into a value.
func nodeOfDecoded(d any) (kval, bool) {
	switch x := d.(type) {
	case Undefined:
		return kUndef, true
	case nil:
		return kNull, true
	case bool:
		return kBool(x), true
	case float64:
		return kNum(x), true
	case DateMillis:
		return kDate(float64(x)), true
	case *big.Int:
		return kBig(x), true
	case string:
		return kStr(x), true
	}
	return kval{}, false
}

// FuzzDecodeComponent: DecodeComponent never panics; what it decodes
// re-encodes to a key that decodes to the same value; keys AppendKey builds
// from arbitrary numbers, strings and BigInts decode back to them and sort
// like the values.
func FuzzDecodeComponent(f *testing.F) {
	for _, v := range allSpecial() {
		f.Add(v.key(), 0.0, "", []byte{})
	}
	f.Add([]byte{tagString, 0, 0xff, 'a', 0, 1}, math.Inf(-1), "a\x00", []byte{0x80})
	f.Add([]byte{tagBigInt, 0x7f}, math.Copysign(0, -1), "\xff\xfe", []byte{1, 0})
	f.Add([]byte{tagBigInt, 0x81, 0}, 1e-310, "日本", []byte(strings.Repeat("\xff", 125)))
	f.Add([]byte{tagNumber, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0}, math.NaN(), "", []byte(strings.Repeat("\x01", 126)))
	f.Fuzz(func(t *testing.T, b []byte, fl float64, s string, mag []byte) {
		d, n, err := DecodeComponent(b)
		if err == nil {
			if n <= 0 || n > len(b) {
				t.Fatalf("DecodeComponent(%x) length %d", b, n)
			}
			if l, err := ComponentLen(b); err != nil || l != n {
				t.Fatalf("ComponentLen(%x) = %d, %v; DecodeComponent says %d", b, l, err, n)
			}
			v, ok := nodeOfDecoded(d)
			if !ok {
				t.Fatalf("DecodeComponent(%x) = %T", b, d)
			}
			if k, ok := AppendKey(nil, v.node()); ok {
				d2, n2, err := DecodeComponent(k)
				if err != nil || n2 != len(k) {
					t.Fatalf("re-encoded %v as %x: %v, %d, %v", v, k, d2, n2, err)
				}
				if v2, _ := nodeOfDecoded(d2); cmpKval(v, v2) != 0 {
					t.Fatalf("%x decodes to %v, re-encoded %x to %v", b, v, k, v2)
				}
			} else if !(v.kind == KindNumber || v.kind == KindDate) || !math.IsNaN(v.num) {
				t.Fatalf("%x decodes to %v, which is not indexable", b, v)
			}
		} else if n != 0 || d != nil {
			t.Fatalf("DecodeComponent(%x) failed with %v but returned %v, %d", b, err, d, n)
		}

		// Keys built from the fuzzed values.
		var vals []kval
		if !math.IsNaN(fl) {
			vals = append(vals, kNum(fl), kDate(fl))
		} else if _, ok := AppendKey(nil, kNum(fl).node()); ok {
			t.Fatal("NaN is indexable")
		}
		z := new(big.Int).SetBytes(mag)
		if len(mag) > 0 && mag[0]&1 == 1 {
			z.Neg(z)
		}
		if _, ok := AppendKey(nil, kBig(z).node()); ok != (len(z.Bytes()) <= maxBigIntBytes) {
			t.Fatalf("BigInt of %d bytes: indexable %v", len(z.Bytes()), ok)
		} else if ok {
			vals = append(vals, kBig(z))
		}
		vals = append(vals, kStr(s), kStr(string(b)))
		for _, v := range vals {
			k := v.key()
			d, n, err := DecodeComponent(append(bytes.Clone(k), b...))
			if err != nil || n != len(k) {
				t.Fatalf("key %x of %v: %v, %d, %v", k, v, d, n, err)
			}
			if !sameDecoded(v, d) {
				t.Fatalf("key %x of %v decodes to %#v", k, v, d)
			}
			for _, w := range vals {
				checkOrder(t, v, w)
			}
		}
	})
}

// FuzzSplitKey: SplitKey never panics; what it splits rejoins to the key,
// with a non-empty id and n decodable components; keys built from fuzzed
// strings and numbers split back into them.
func FuzzSplitKey(f *testing.F) {
	f.Add(append(keysOf(kStr("a"), kNum(1)), "id"...), uint8(2), "x", "id", 1.5)
	f.Add(append(keysOf(kStr("a\x00")), "\x00"...), uint8(1), "\x00", "\x01", math.Inf(1))
	f.Add(keysOf(kStr("a"), kNum(1)), uint8(2), "", "a", 0.0)
	f.Add([]byte{tagBigInt, 0x83, 1, 2}, uint8(1), "\xff", "\xff", -1.0)
	f.Add([]byte{}, uint8(0), "", "", 0.0)
	f.Fuzz(func(t *testing.T, key []byte, n uint8, s, id string, fl float64) {
		nc := int(n % 6)
		tuple, gotID, err := SplitKey(key, nc)
		if err == nil {
			if gotID == "" || !bytes.Equal(append(bytes.Clone(tuple), gotID...), key) {
				t.Fatalf("SplitKey(%x, %d) = %x, %q", key, nc, tuple, gotID)
			}
			rest := tuple
			for i := range nc {
				_, l, err := DecodeComponent(rest)
				if err != nil {
					t.Fatalf("component %d of %x: %v", i, tuple, err)
				}
				rest = rest[l:]
			}
			if len(rest) != 0 {
				t.Fatalf("SplitKey(%x, %d): %d bytes of the tuple left over", key, nc, len(rest))
			}
		}
		if id == "" {
			return
		}
		vals := []kval{kStr(s), kStr(id), kNull}
		if !math.IsNaN(fl) {
			vals = append(vals, kNum(fl))
		}
		built := append(keysOf(vals...), id...)
		tuple, gotID, err = SplitKey(built, len(vals))
		if err != nil || gotID != id || !bytes.Equal(tuple, keysOf(vals...)) {
			t.Fatalf("SplitKey of %v + %q = %x, %q, %v", vals, id, tuple, gotID, err)
		}
	})
}
