package objects

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// ---------------------------------------------------------------- key values

// kval is a JavaScript value as the index key encoding sees it.
type kval struct {
	kind Kind
	b    bool
	num  float64 // a Number, or a Date's milliseconds
	big  *big.Int
	str  string
}

var (
	kUndef = kval{kind: KindUndefined}
	kNull  = kval{kind: KindNull}
)

func kBool(b bool) kval       { return kval{kind: KindBool, b: b} }
func kNum(f float64) kval     { return kval{kind: KindNumber, num: f} }
func kDate(ms float64) kval   { return kval{kind: KindDate, num: ms} }
func kStr(s string) kval      { return kval{kind: KindString, str: s} }
func kBig(z *big.Int) kval    { return kval{kind: KindBigInt, big: z} }
func kBigS(s string) kval     { z, _ := new(big.Int).SetString(s, 10); return kBig(z) }
func kBigI(n int64) kval      { return kBig(big.NewInt(n)) }
func (v kval) node() Node     { return keyNode{v} }
func (v kval) String() string { return describeKval(v) }

// key is the value's key component; the value must be indexable.
func (v kval) key() []byte {
	k, ok := AppendKey(nil, v.node())
	if !ok {
		panic(fmt.Sprintf("%v is not indexable", v))
	}
	return k
}

// keysOf is the tuple of the values' keys.
func keysOf(vs ...kval) []byte {
	var k []byte
	for _, v := range vs {
		k = append(k, v.key()...)
	}
	return k
}

func describeKval(v kval) string {
	switch v.kind {
	case KindBool:
		return fmt.Sprint(v.b)
	case KindNumber:
		return fmt.Sprintf("%v", v.num)
	case KindDate:
		return fmt.Sprintf("date(%v)", v.num)
	case KindBigInt:
		return v.big.String() + "n"
	case KindString:
		return fmt.Sprintf("%q", v.str)
	}
	return v.kind.String()
}

// keyNode is a Node over a kval.
type keyNode struct{ v kval }

func (n keyNode) Kind() Kind      { return n.v.kind }
func (n keyNode) Bool() bool      { return n.v.b }
func (n keyNode) Number() float64 { return n.v.num }
func (n keyNode) Str() string {
	if n.v.kind == KindBigInt {
		return n.v.big.String()
	}
	return n.v.str
}
func (n keyNode) Len() int         { return len(n.v.str) }
func (n keyNode) Index(int) Node   { return nil }
func (n keyNode) Keys() []string   { return nil }
func (n keyNode) Get(string) Node  { return nil }
func (n keyNode) RefClass() string { return "" }

// typeRank is the intended order of types in keys.
func typeRank(v kval) int {
	switch v.kind {
	case KindUndefined:
		return 0
	case KindNull:
		return 1
	case KindBool:
		if v.b {
			return 3
		}
		return 2
	case KindNumber:
		return 4
	case KindBigInt:
		return 5
	case KindDate:
		return 6
	case KindString:
		return 7
	}
	panic("not indexable: " + v.kind.String())
}

// cmpKval is the intended order of keys: by type, then by value (-0 is 0,
// strings by UTF-8 bytes).
func cmpKval(a, b kval) int {
	if c := cmp.Compare(typeRank(a), typeRank(b)); c != 0 {
		return c
	}
	switch a.kind {
	case KindNumber, KindDate:
		return cmp.Compare(a.num, b.num) // no NaN here; -0 == 0
	case KindBigInt:
		return a.big.Cmp(b.big)
	case KindString:
		return strings.Compare(a.str, b.str)
	}
	return 0
}

func sign(n int) int { return cmp.Compare(n, 0) }

// ---------------------------------------------------------------- generators

var specialNumbers = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 2, -2, 1e-300, -1e-300,
	math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64,
	math.Inf(1), math.Inf(-1), 1 << 53, -(1 << 53), 1<<53 + 2, 123.456, -123.456, 1e21, -1e21,
	math.Nextafter(1, 2), math.Nextafter(1, 0), math.Nextafter(-1, 0), math.Nextafter(-1, -2),
}

var specialStrings = []string{
	"", "\x00", "\x00\x00", "\x00\x01", "\x00\xff", "\x01", "a", "a\x00", "a\x00b", "a\x01", "ab", "abc", "b",
	"\xff", "\xff\xff", "é", "e", "é\x00", "日本", "日", "😀", "\uffff", "\x7f", "A", "Z", "z",
}

var specialBigInts = []string{
	"0", "1", "-1", "255", "256", "-255", "-256", "65535", "65536", "-65536",
	"18446744073709551615", "18446744073709551616", "-18446744073709551616",
	strings.Repeat("9", 300), "-" + strings.Repeat("9", 300),
}

func randString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return specialStrings[r.IntN(len(specialStrings))]
	}
	alphabet := []string{"\x00", "\x01", "a", "b", "\xff", "é", "日", "\x7f", "0"}
	var sb strings.Builder
	for n := r.IntN(6); n > 0; n-- {
		sb.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return sb.String()
}

func randNumber(r *rand.Rand) float64 {
	switch r.IntN(4) {
	case 0:
		return specialNumbers[r.IntN(len(specialNumbers))]
	case 1:
		return float64(r.IntN(21) - 10)
	case 2:
		return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(40)-20))
	}
	for {
		f := math.Float64frombits(r.Uint64())
		if !math.IsNaN(f) {
			return f
		}
	}
}

func randBigInt(r *rand.Rand) *big.Int {
	if r.IntN(3) == 0 {
		z, _ := new(big.Int).SetString(specialBigInts[r.IntN(len(specialBigInts))], 10)
		return z
	}
	mag := make([]byte, r.IntN(maxBigIntBytes+1))
	for i := range mag {
		mag[i] = byte(r.IntN(256))
	}
	if r.IntN(4) == 0 && len(mag) > 3 {
		mag = mag[:3]
	}
	z := new(big.Int).SetBytes(mag)
	if r.IntN(2) == 0 {
		z.Neg(z)
	}
	return z
}

func randKval(r *rand.Rand) kval {
	switch r.IntN(10) {
	case 0:
		return kUndef
	case 1:
		return kNull
	case 2:
		return kBool(r.IntN(2) == 0)
	case 3, 4:
		return kNum(randNumber(r))
	case 5:
		return kBig(randBigInt(r))
	case 6:
		return kDate(float64(r.Int64N(2*8.64e15+1) - 8.64e15))
	}
	return kStr(randString(r))
}

// allSpecial lists one of each interesting value.
func allSpecial() []kval {
	vs := []kval{kUndef, kNull, kBool(false), kBool(true), kDate(0), kDate(-1), kDate(8.64e15), kDate(-8.64e15), kDate(1.5)}
	for _, f := range specialNumbers {
		vs = append(vs, kNum(f))
	}
	for _, s := range specialBigInts {
		vs = append(vs, kBigS(s))
	}
	for _, s := range specialStrings {
		vs = append(vs, kStr(s))
	}
	return vs
}

// ---------------------------------------------------------------- key order

func checkOrder(t *testing.T, a, b kval) {
	t.Helper()
	ka, kb := a.key(), b.key()
	if got, want := sign(bytes.Compare(ka, kb)), cmpKval(a, b); got != want {
		t.Fatalf("keys of %v and %v compare %d, want %d (%x vs %x)", a, b, got, want, ka, kb)
	}
}

func TestKeyOrderSpecialValues(t *testing.T) {
	vs := allSpecial()
	for _, a := range vs {
		for _, b := range vs {
			checkOrder(t, a, b)
		}
	}
}

func TestKeyOrderRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		a := randKval(r)
		b := randKval(r)
		if r.IntN(2) == 0 { // same type more often: compare values, not tags
			for b.kind != a.kind || (a.kind == KindBool && r.IntN(2) == 0) {
				b = randKval(r)
			}
		}
		checkOrder(t, a, b)
	}
}

func TestKeySortMatchesValueSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vs := allSpecial()
	for range 2000 {
		vs = append(vs, randKval(r))
	}
	byKey := slices.Clone(vs)
	slices.SortStableFunc(byKey, func(a, b kval) int { return bytes.Compare(a.key(), b.key()) })
	byVal := slices.Clone(vs)
	slices.SortStableFunc(byVal, cmpKval)
	for i := range byKey {
		if cmpKval(byKey[i], byVal[i]) != 0 {
			t.Fatalf("position %d: key order has %v, value order %v", i, byKey[i], byVal[i])
		}
	}
}

func TestKeyTypeOrder(t *testing.T) {
	// Each type's extreme values against the next type's.
	ordered := []kval{
		kUndef, kNull, kBool(false), kBool(true),
		kNum(math.Inf(-1)), kNum(math.Inf(1)),
		kBigS("-" + strings.Repeat("9", 300)), kBigS(strings.Repeat("9", 300)),
		kDate(-8.64e15), kDate(8.64e15),
		kStr(""), kStr("\xff\xff\xff"),
	}
	for i := 1; i < len(ordered); i++ {
		if bytes.Compare(ordered[i-1].key(), ordered[i].key()) >= 0 {
			t.Errorf("key of %v is not below key of %v", ordered[i-1], ordered[i])
		}
	}
}

func TestKeyEqualities(t *testing.T) {
	if !bytes.Equal(kNum(0).key(), kNum(math.Copysign(0, -1)).key()) {
		t.Error("-0 and 0 have different keys")
	}
	if bytes.Equal(kNum(1).key(), kDate(1).key()) {
		t.Error("1 and a Date at 1 ms have the same key")
	}
	if bytes.Equal(kNum(1).key(), kBigI(1).key()) {
		t.Error("1 and 1n have the same key")
	}
	if bytes.Equal(kStr("1").key(), kNum(1).key()) {
		t.Error(`"1" and 1 have the same key`)
	}
	if !bytes.Equal(appendKeyMust(nil), kUndef.key()) {
		t.Error("a nil Node is not undefined")
	}
}

func appendKeyMust(n Node) []byte {
	k, ok := AppendKey(nil, n)
	if !ok {
		panic("not indexable")
	}
	return k
}

func TestKeyNotIndexable(t *testing.T) {
	dst := []byte("prefix")
	for _, n := range []Node{
		kNum(math.NaN()).node(),
		kDate(math.NaN()).node(),
		&tnode{kind: KindArray},
		&tnode{kind: KindObject},
		&tnode{kind: KindMap},
		&tnode{kind: KindSet},
		&tnode{kind: KindRef},
		&tnode{kind: KindBytes},
		&tnode{kind: KindRegExp},
		&tnode{kind: KindError},
		&tnode{kind: KindOther},
		&tnode{kind: KindBigInt, str: "12x"}, // does not parse
		&tnode{kind: KindBigInt, str: "1" + strings.Repeat("0", 400)},        // too big
		kBig(new(big.Int).Lsh(big.NewInt(1), 8*maxBigIntBytes)).node(),       // 126 bytes
		kBig(new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 1000))).node(), // 126 bytes, negative
	} {
		out, ok := AppendKey(dst, n)
		if ok {
			t.Errorf("%v (kind %v) is indexable: %x", n, n.Kind(), out)
		}
		if !bytes.Equal(out, dst) {
			t.Errorf("AppendKey of a non-indexable value changed dst to %q", out)
		}
	}
	// The largest indexable BigInts.
	maxMag := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 8*maxBigIntBytes), big.NewInt(1))
	for _, z := range []*big.Int{maxMag, new(big.Int).Neg(maxMag)} {
		if _, ok := AppendKey(nil, kBig(z).node()); !ok {
			t.Errorf("a BigInt of %d bytes is not indexable", maxBigIntBytes)
		}
	}
}

func TestAppendKeyAppends(t *testing.T) {
	dst := []byte{0xAA, 0xBB}
	for _, v := range allSpecial() {
		out, ok := AppendKey(bytes.Clone(dst), v.node())
		if !ok || !bytes.HasPrefix(out, dst) || !bytes.Equal(out[2:], v.key()) {
			t.Fatalf("AppendKey(%x, %v) = %x, %v", dst, v, out, ok)
		}
	}
}

// ---------------------------------------------------------------- decoding

// sameDecoded reports whether DecodeComponent's result d is the value v.
func sameDecoded(v kval, d any) bool {
	switch v.kind {
	case KindUndefined:
		return d == Undefined{}
	case KindNull:
		return d == nil
	case KindBool:
		return d == v.b
	case KindNumber:
		f, ok := d.(float64)
		return ok && f == v.num && (f != 0 || !math.Signbit(f)) // -0 comes back as 0
	case KindDate:
		f, ok := d.(DateMillis)
		return ok && float64(f) == v.num
	case KindBigInt:
		z, ok := d.(*big.Int)
		return ok && z.Cmp(v.big) == 0
	case KindString:
		s, ok := d.(string)
		return ok && s == v.str
	}
	return false
}

func TestComponentRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	vs := allSpecial()
	for range 5000 {
		vs = append(vs, randKval(r))
	}
	for _, v := range vs {
		k := v.key()
		for _, tail := range [][]byte{nil, {0}, {0xff, 1, 2}, kStr("x").key()} {
			b := append(bytes.Clone(k), tail...)
			n, err := ComponentLen(b)
			if err != nil || n != len(k) {
				t.Fatalf("ComponentLen(%v key %x + %x) = %d, %v; want %d", v, k, tail, n, err, len(k))
			}
			d, n, err := DecodeComponent(b)
			if err != nil || n != len(k) {
				t.Fatalf("DecodeComponent(%v key %x + %x) = %v, %d, %v", v, k, tail, d, n, err)
			}
			if !sameDecoded(v, d) {
				t.Fatalf("DecodeComponent(key of %v) = %#v", v, d)
			}
		}
		// Every strict prefix is refused (a truncated key), except that a
		// prefix of a string is never mistaken for a whole one.
		for i := 0; i < len(k); i++ {
			if n, err := ComponentLen(k[:i]); err == nil {
				t.Fatalf("ComponentLen of %d-byte prefix of %v key %x = %d, no error", i, v, k, n)
			} else if !errors.Is(err, ErrBadKey) {
				t.Fatalf("error %v does not wrap ErrBadKey", err)
			}
		}
	}
	if d, _, _ := DecodeComponent(kNum(math.Copysign(0, -1)).key()); math.Signbit(d.(float64)) {
		t.Error("-0 decodes with its sign")
	}
}

func TestComponentLenErrors(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{0x00},                  // unknown tag
		{0x05},                  // unknown tag
		{0xff},                  // unknown tag
		{tagNumber, 1, 2, 3},    // short
		{tagDate},               // short
		{tagBigInt},             // no length
		{tagBigInt, 0x82, 1},    // short magnitude
		{tagBigInt, 0x7d, 0xff}, // short negative magnitude
		{tagBigInt, 0xff},       // length 127
		{tagBigInt, 0x00},       // length 127, negative
		{tagString},             // unterminated
		{tagString, 'a', 'b'},   // unterminated
		{tagString, 'a', 0},     // unterminated
		{tagString, 0, 0x02},    // bad escape
		{tagString, 0, 0},       // bad escape
		{tagString, 0, 0xff},    // escaped NUL, then nothing
		{tagString, 0, 0xff, 0}, // escaped NUL, then half a terminator
	} {
		if n, err := ComponentLen(b); err == nil || !errors.Is(err, ErrBadKey) {
			t.Errorf("ComponentLen(%x) = %d, %v; want an ErrBadKey", b, n, err)
		}
		if v, n, err := DecodeComponent(b); err == nil {
			t.Errorf("DecodeComponent(%x) = %v, %d, nil", b, v, n)
		}
	}
	// Escapes are followed correctly: "\x00" then the terminator.
	if n, err := ComponentLen([]byte{tagString, 0, 0xff, 0, 1, 'x'}); err != nil || n != 5 {
		t.Errorf("ComponentLen of the key of \"\\x00\" = %d, %v", n, err)
	}
}

// ---------------------------------------------------------------- tuples

func TestCompoundTupleOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type tuple struct {
		vs []kval
		id string
	}
	cmpTuple := func(a, b tuple) int {
		for i := range a.vs {
			if c := cmpKval(a.vs[i], b.vs[i]); c != 0 {
				return c
			}
		}
		return strings.Compare(a.id, b.id)
	}
	// Few distinct values, so that leading components are often equal.
	pool := []kval{kNull, kBool(true), kNum(-1), kNum(0), kNum(2.5), kBigI(-3), kBigI(7), kDate(5),
		kStr(""), kStr("a"), kStr("a\x00"), kStr("a\x00b"), kStr("ab"), kStr("b"), kStr("\xff")}
	ids := []string{"a", "a\x01", "b", "ab", "\xff", "1"}
	pick := func(n int) tuple {
		tp := tuple{id: ids[r.IntN(len(ids))]}
		for range n {
			if r.IntN(3) == 0 {
				tp.vs = append(tp.vs, randKval(r))
			} else {
				tp.vs = append(tp.vs, pool[r.IntN(len(pool))])
			}
		}
		return tp
	}
	keyOf := func(tp tuple) []byte { return append(keysOf(tp.vs...), tp.id...) }
	for range 50000 {
		n := 1 + r.IntN(3)
		a, b := pick(n), pick(n)
		ka, kb := keyOf(a), keyOf(b)
		if got, want := sign(bytes.Compare(ka, kb)), cmpTuple(a, b); got != want {
			t.Fatalf("tuples %v/%q and %v/%q: keys compare %d, want %d", a.vs, a.id, b.vs, b.id, got, want)
		}
		// SplitKey recovers the tuple and the id.
		tup, id, err := SplitKey(ka, n)
		if err != nil || id != a.id || !bytes.Equal(tup, keysOf(a.vs...)) {
			t.Fatalf("SplitKey(%x, %d) = %x, %q, %v", ka, n, tup, id, err)
		}
		// And each component decodes in turn.
		rest := tup
		for i, v := range a.vs {
			d, l, err := DecodeComponent(rest)
			if err != nil || !sameDecoded(v, d) {
				t.Fatalf("component %d of %x: %v, %v; want %v", i, tup, d, err, v)
			}
			rest = rest[l:]
		}
		if len(rest) != 0 {
			t.Fatalf("%d bytes left after the components of %x", len(rest), tup)
		}
	}
}

func TestSplitKeyErrors(t *testing.T) {
	k := keysOf(kStr("a"), kNum(1))
	if _, _, err := SplitKey(k, 2); !errors.Is(err, ErrBadKey) {
		t.Errorf("a key with no id: %v", err)
	}
	if _, _, err := SplitKey(k, 3); !errors.Is(err, ErrBadKey) {
		t.Errorf("a key with too few components: %v", err)
	}
	if _, _, err := SplitKey(append(bytes.Clone(k[:3]), 'x'), 2); !errors.Is(err, ErrBadKey) {
		t.Errorf("a truncated key: %v", err)
	}
	if _, _, err := SplitKey(nil, 0); !errors.Is(err, ErrBadKey) {
		t.Errorf("an empty key: %v", err)
	}
	if tup, id, err := SplitKey([]byte("abc"), 0); err != nil || len(tup) != 0 || id != "abc" {
		t.Errorf("SplitKey with no components = %x, %q, %v", tup, id, err)
	}
	// With fewer components than stored, the rest reads as the id (callers
	// pass the index's field count).
	tup, id, err := SplitKey(append(bytes.Clone(k), "id"...), 1)
	if err != nil || !bytes.Equal(tup, kStr("a").key()) || id != string(kNum(1).key())+"id" {
		t.Errorf("SplitKey(n=1) = %x, %q, %v", tup, id, err)
	}
}

// ---------------------------------------------------------------- PrefixEnd

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{}, nil},
		{[]byte{0xff}, nil},
		{[]byte{0xff, 0xff}, nil},
		{[]byte{0}, []byte{1}},
		{[]byte{1, 2, 3}, []byte{1, 2, 4}},
		{[]byte{1, 0xff}, []byte{2}},
		{[]byte{1, 0xfe, 0xff, 0xff}, []byte{1, 0xff}},
	} {
		in := bytes.Clone(c.in)
		got := PrefixEnd(c.in)
		if !bytes.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", c.in, got, c.want)
		}
		if !bytes.Equal(in, c.in) {
			t.Errorf("PrefixEnd changed its argument to %x", c.in)
		}
	}
	// Property: every key starting with p is below PrefixEnd(p), and every
	// key above p that does not start with it is at or above.
	r := rand.New(rand.NewPCG(9, 10))
	randBytes := func() []byte {
		b := make([]byte, r.IntN(5))
		for i := range b {
			b[i] = []byte{0, 1, 0x7f, 0xfe, 0xff}[r.IntN(5)]
		}
		return b
	}
	for range 20000 {
		p, k := randBytes(), randBytes()
		if len(p) == 0 {
			continue
		}
		end := PrefixEnd(p)
		switch {
		case bytes.HasPrefix(k, p):
			if end != nil && bytes.Compare(k, end) >= 0 {
				t.Fatalf("key %x starts with %x but is not below PrefixEnd %x", k, p, end)
			}
		case bytes.Compare(k, p) > 0:
			if end == nil || bytes.Compare(k, end) < 0 {
				t.Fatalf("key %x is above every key with prefix %x but below PrefixEnd %x", k, p, end)
			}
		}
	}
}

func TestStringPrefix(t *testing.T) {
	strs := specialStrings
	for _, p := range strs {
		lo := AppendStringPrefix([]byte{StringTag}, p, false)
		hi := PrefixEnd(lo)
		for _, s := range strs {
			k := append(kStr(s).key(), "id"...)
			in := bytes.Compare(k, lo) >= 0 && (hi == nil || bytes.Compare(k, hi) < 0)
			if in != strings.HasPrefix(s, p) {
				t.Errorf("prefix %q: %q in range = %v", p, s, in)
			}
		}
		if whole := AppendStringPrefix([]byte{StringTag}, p, true); !bytes.Equal(whole, kStr(p).key()) {
			t.Errorf("AppendStringPrefix(%q, whole) = %x, key %x", p, whole, kStr(p).key())
		}
	}
}

func TestTypeRange(t *testing.T) {
	vs := allSpecial()
	for _, c := range vs {
		lo, hi := TypeRange(c.key())
		for _, v := range vs {
			k := append(v.key(), "id"...)
			in := bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0
			same := v.kind == c.kind
			if in != same {
				t.Errorf("TypeRange(%v) = [%x, %x): %v in it = %v", c, lo, hi, v, in)
			}
		}
	}
	if lo, hi := TypeRange(nil); lo != nil || hi != nil {
		t.Errorf("TypeRange(nil) = %x, %x", lo, hi)
	}
}

// ---------------------------------------------------------------- declarations

func TestIndexNameString(t *testing.T) {
	for _, c := range []struct {
		ix        Index
		name, str string
	}{
		{Index{Fields: []string{"owner"}}, `i:["owner"]`, "owner"},
		{Index{Fields: []string{"city", "age"}}, `i:["city","age"]`, "[city, age]"},
		{Index{Fields: []string{"email"}, Unique: true}, `u:["email"]`, "unique email"},
		{Index{Fields: []string{"a", "b"}, Unique: true}, `u:["a","b"]`, "unique [a, b]"},
		{Index{Fields: []string{`q"\`}}, `i:["q\"\\"]`, `q"\`},
		{Index{}, `i:null`, "[]"},
	} {
		if got := c.ix.Name(); got != c.name {
			t.Errorf("%+v.Name() = %s, want %s", c.ix, got, c.name)
		}
		if got := c.ix.String(); got != c.str {
			t.Errorf("%+v.String() = %s, want %s", c.ix, got, c.str)
		}
	}
	// Names are distinct for distinct field lists, even with separators in names.
	a := Index{Fields: []string{"a,b"}}
	b := Index{Fields: []string{"a", "b"}}
	if a.Name() == b.Name() {
		t.Errorf("%v and %v share the name %s", a.Fields, b.Fields, a.Name())
	}
	ix := Index{Fields: []string{"a", "b"}}
	if !ix.Covers("a") || !ix.Covers("b") || ix.Covers("c") || ix.Covers("") {
		t.Error("Covers is wrong")
	}
}

func TestParseIndexes(t *testing.T) {
	got, err := ParseIndexes([]any{"owner", []any{"city", "age"}}, []any{"email", []any{"a", "b"}, "owner"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Index{
		{Fields: []string{"owner"}},
		{Fields: []string{"city", "age"}},
		{Fields: []string{"email"}, Unique: true},
		{Fields: []string{"a", "b"}, Unique: true},
		{Fields: []string{"owner"}, Unique: true},
	}
	if len(got) != len(want) {
		t.Fatalf("ParseIndexes = %+v", got)
	}
	for i := range want {
		if got[i].Name() != want[i].Name() {
			t.Errorf("index %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, err := ParseIndexes(nil, nil); err != nil || got != nil {
		t.Errorf("ParseIndexes(nil, nil) = %v, %v", got, err)
	}
	if got, err := ParseIndexes([]any{}, []any{}); err != nil || len(got) != 0 {
		t.Errorf("ParseIndexes([], []) = %v, %v", got, err)
	}
	for _, c := range []struct {
		indexes, unique any
		want            string
	}{
		{"owner", nil, "static indexes must be an array of field names (or arrays of field names), not a string"},
		{nil, map[string]any{}, "static unique must be an array of field names (or arrays of field names), not an object"},
		{nil, true, "static unique must be an array"},
		{[]any{1.0}, nil, "static indexes[0] must be a field name or an array of field names, not float64"},
		{[]any{"a", nil}, nil, "static indexes[1] must be a field name or an array of field names, not null"},
		{[]any{[]any{"a", 2.0}}, nil, "static indexes[0]: a compound index lists field names, not float64"},
		{[]any{[]any{"a", []any{"b"}}}, nil, "static indexes[0]: a compound index lists field names, not an array"},
		{[]any{[]any{}}, nil, "static indexes[0] is an empty list of fields"},
		{[]any{""}, nil, `static indexes[0]: "" is not a persistent field name`},
		{nil, []any{"_secret"}, `static unique[0]: "_secret" is not a persistent field name`},
		{[]any{"ok", []any{"a", "#b"}}, nil, `static indexes[1]: "#b" is not a persistent field name`},
		{[]any{[]any{"a", "b", "a"}}, nil, `static indexes[0] names field "a" twice`},
		{[]any{"a", "b", "a"}, nil, "static indexes declares a twice"},
		{[]any{[]any{"a", "b"}, []any{"a", "b"}}, nil, "static indexes declares [a, b] twice"},
		{nil, []any{"e", "e"}, "static unique declares unique e twice"},
	} {
		got, err := ParseIndexes(c.indexes, c.unique)
		if err == nil {
			t.Errorf("ParseIndexes(%v, %v) = %v, no error", c.indexes, c.unique, got)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseIndexes(%v, %v): %q, want it to contain %q", c.indexes, c.unique, err, c.want)
		}
	}
	// A compound index is not the same as its fields in another order.
	if _, err := ParseIndexes([]any{[]any{"a", "b"}, []any{"b", "a"}, "a"}, nil); err != nil {
		t.Errorf("[a, b], [b, a] and a: %v", err)
	}
}
