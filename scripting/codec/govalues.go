package codec

import (
	"math"
	"math/big"
	"time"
	"unicode/utf16"

	"github.com/odin-db/odin/objects"
)

// Go types that DecodeGo returns for JS values that have no natural Go type.
// AppendGo accepts the same types.
type (
	// Undefined is JS undefined (JS null is Go nil).
	Undefined struct{}
	// Hole is a missing element of an array, as in [1, , 3].
	Hole struct{}
	// Bytes is an ArrayBuffer.
	Bytes []byte
	// InvalidDate is a Date whose time value is NaN.
	InvalidDate struct{}
	// UTF16 is a JS string that is not valid UTF-16 (it holds a lone
	// surrogate), so it has no exact Go string. String() is lossy.
	UTF16 []uint16
)

func (u UTF16) String() string { return string(utf16.Decode(u)) }

// TypedArray is a typed array or a DataView: Type is the JS constructor name
// ("Uint8Array", ..., "BigUint64Array", "DataView") and Data its bytes, with
// elements in little-endian order.
type TypedArray struct {
	Type string
	Data []byte
}

// RegExp is a regular expression (lastIndex is not carried).
type RegExp struct{ Source, Flags string }

// OrderedMap is a plain object: its own enumerable properties, in order.
// Keys with lone surrogates are converted lossily (U+FFFD).
type OrderedMap struct {
	Keys   []string
	Values []any
}

// Get returns the value of property k.
func (m *OrderedMap) Get(k string) (any, bool) {
	for i, key := range m.Keys {
		if key == k {
			return m.Values[i], true
		}
	}
	return nil, false
}

// Set appends property k, or replaces its value.
func (m *OrderedMap) Set(k string, v any) {
	for i, key := range m.Keys {
		if key == k {
			m.Values[i] = v
			return
		}
	}
	m.Keys = append(m.Keys, k)
	m.Values = append(m.Values, v)
}

// Map is a JS Map: entries in insertion order, keys of any type.
type Map struct {
	Keys   []any
	Values []any
}

// Set is a JS Set, in insertion order.
type Set struct{ Values []any }

// SparseArray is an array with many holes: Values[i] is at Indices[i].
type SparseArray struct {
	Length  uint32
	Indices []uint32
	Values  []any
}

// ErrorValue is an Error: its name, message and stack, its other own
// enumerable properties (such as field and rule), and its cause if it has one.
type ErrorValue struct {
	Name, Message, Stack string
	Props                *OrderedMap
	Cause                any
	HasCause             bool
}

func (e *ErrorValue) Error() string { return e.Name + ": " + e.Message }

// DecodeGo decodes codec bytes into Go values: nil (null), Undefined, bool,
// int64 (safe integers) or float64, *big.Int (BigInt), string or UTF16, []any
// (arrays, with Hole elements), *SparseArray, *OrderedMap (plain objects),
// *Map, *Set, time.Time (UTC) or InvalidDate, Bytes (ArrayBuffer), TypedArray,
// RegExp, objects.Ref and *ErrorValue. Shared values decode to one Go value
// (the same pointer, or slices sharing an array), so cyclic input gives
// cyclic Go values: beware of printing them. Errors wrap ErrMalformed.
func DecodeGo(b []byte) (any, error) {
	g := goDecoder{r: reader{b: b}}
	v, err := g.value(-1)
	if err == nil && g.r.off != len(b) {
		err = g.r.fail("trailing bytes after the value")
	}
	if err != nil {
		return nil, err
	}
	if _, ok := v.(Hole); ok {
		v = Undefined{}
	}
	return v, nil
}

type goDecoder struct {
	r      reader
	shared []any
	filled []bool
}

func (g *goDecoder) setSlot(slot int, v any) {
	if slot >= 0 {
		g.shared[slot], g.filled[slot] = v, true
	}
}

func (g *goDecoder) value(slot int) (any, error) {
	if err := g.r.enter(); err != nil {
		return nil, err
	}
	defer g.r.leave()
	major, info, arg, err := g.r.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case majUint:
		if arg <= maxSafeInt {
			return int64(arg), nil
		}
		return float64(arg), nil
	case majNeg:
		if arg < maxSafeInt {
			return -1 - int64(arg), nil
		}
		return -1 - float64(arg), nil
	case majBytes:
		p, err := g.r.take(arg)
		return Bytes(append([]byte{}, p...)), err
	case majText:
		return g.text(arg)
	case majArray:
		cnt, err := g.r.count(arg, 1)
		if err != nil {
			return nil, err
		}
		a := make([]any, cnt)
		g.setSlot(slot, a)
		for i := range a {
			if a[i], err = g.value(-1); err != nil {
				return nil, err
			}
		}
		return a, nil
	case majMap:
		cnt, err := g.r.count(arg, 2)
		if err != nil {
			return nil, err
		}
		m := &OrderedMap{Keys: make([]string, 0, cnt), Values: make([]any, 0, cnt)}
		g.setSlot(slot, m)
		return m, g.props(m, cnt)
	case majTag:
		return g.tagged(arg, slot)
	}
	switch info {
	case 20:
		return false, nil
	case 21:
		return true, nil
	case 22:
		return nil, nil
	case 23:
		return Undefined{}, nil
	case 25, 26, 27:
		return floatOf(info, arg), nil
	}
	return nil, g.r.fail("unsupported simple value")
}

func (g *goDecoder) text(n uint64) (string, error) {
	p, err := g.r.take(n)
	if err != nil {
		return "", err
	}
	if !validText(p) {
		return "", g.r.fail("text string is not UTF-8")
	}
	return string(p), nil
}

// str reads a text string or tagUTF16 content (as string or UTF16).
func (g *goDecoder) str() (any, error) {
	m, _, arg, err := g.r.head()
	if err != nil {
		return nil, err
	}
	if m == majTag && arg == tagUTF16 {
		return g.utf16()
	}
	if m != majText {
		return nil, g.r.fail("expected a string")
	}
	return g.text(arg)
}

func (g *goDecoder) goString() (string, error) {
	s, err := g.str()
	if u, ok := s.(UTF16); ok {
		return u.String(), err
	}
	str, _ := s.(string)
	return str, err
}

func (g *goDecoder) utf16() (any, error) {
	p, err := g.r.bytesOf()
	if err != nil {
		return nil, err
	}
	if len(p)%2 != 0 {
		return nil, g.r.fail("UTF-16 string of odd length")
	}
	u := utf16Units(p, make([]uint16, 0, len(p)/2))
	for i := 0; i < len(u); i++ {
		switch c := u[i]; {
		case c < 0xd800 || c > 0xdfff:
		case c <= 0xdbff && i+1 < len(u) && u[i+1] >= 0xdc00 && u[i+1] <= 0xdfff:
			i++
		default:
			return UTF16(u), nil
		}
	}
	return string(utf16.Decode(u)), nil
}

func (g *goDecoder) props(m *OrderedMap, cnt int) error {
	for i := 0; i < cnt; i++ {
		k, err := g.goString()
		if err != nil {
			return err
		}
		v, err := g.item()
		if err != nil {
			return err
		}
		m.Set(k, v)
	}
	return nil
}

// item is a value where a hole is not allowed: it becomes Undefined.
func (g *goDecoder) item() (any, error) {
	v, err := g.value(-1)
	if _, ok := v.(Hole); ok {
		v = Undefined{}
	}
	return v, err
}

// member is a Map or Set item, where a hole is an error.
func (g *goDecoder) member() (any, error) {
	v, err := g.value(-1)
	if _, ok := v.(Hole); ok {
		return nil, g.r.fail("hole in a Map or Set")
	}
	return v, err
}

func (g *goDecoder) arrayOf(sizes ...uint64) (int, error) {
	n, err := g.r.expect(majArray, "an array")
	if err != nil {
		return 0, err
	}
	for _, s := range sizes {
		if s == n {
			return int(n), nil
		}
	}
	return 0, g.r.fail("array of the wrong size")
}

func (g *goDecoder) tagged(tag uint64, slot int) (any, error) {
	switch tag {
	case tagShareable:
		s := len(g.shared)
		g.shared, g.filled = append(g.shared, nil), append(g.filled, false)
		v, err := g.value(s)
		if err != nil {
			return nil, err
		}
		if _, ok := v.(Hole); ok {
			return nil, g.r.fail("a hole cannot be shared")
		}
		g.shared[s], g.filled[s] = v, true
		return v, nil
	case tagSharedRef:
		n, err := g.r.uint()
		if err != nil {
			return nil, err
		}
		if n >= uint64(len(g.shared)) || !g.filled[n] {
			return nil, g.r.fail("reference to a value not (yet) marked shareable")
		}
		return g.shared[n], nil
	case tagAbsent:
		if _, info, _, err := g.r.head(); err != nil || info != 23 {
			return nil, g.r.fail("tag 31 must hold undefined")
		}
		return Hole{}, nil
	case tagPosBignum, tagNegBignum:
		p, err := g.r.bytesOf()
		if err != nil {
			return nil, err
		}
		bi := new(big.Int).SetBytes(p)
		if tag == tagNegBignum {
			bi.Add(bi, bigOne).Neg(bi)
		}
		return bi, nil
	case tagEpochDate, tagDate:
		x, err := g.r.number()
		if err != nil {
			return nil, err
		}
		if tag == tagEpochDate {
			x = math.Round(x * 1000)
		}
		if math.IsNaN(x) || math.Abs(x) > 8.64e15 {
			return InvalidDate{}, nil
		}
		return time.UnixMilli(int64(x)).UTC(), nil
	case tagUTF16:
		return g.utf16()
	case tagRegExp:
		if _, err := g.arrayOf(2); err != nil {
			return nil, err
		}
		src, err := g.goString()
		if err != nil {
			return nil, err
		}
		flags, err := g.goString()
		return RegExp{src, flags}, err
	case tagMap, tagSet:
		return g.collection(tag, slot)
	case tagError:
		return g.errorValue(slot)
	case tagRef:
		if _, err := g.arrayOf(2); err != nil {
			return nil, err
		}
		var parts [2]string
		for i := range parts {
			n, err := g.r.expect(majText, "a text string")
			if err != nil {
				return nil, err
			}
			if parts[i], err = g.text(n); err != nil {
				return nil, err
			}
		}
		r := objects.Ref{Class: parts[0], ID: parts[1]}
		if err := r.Validate(); err != nil {
			return nil, &malformedError{off: g.r.off, msg: "invalid Ref", err: err}
		}
		return r, nil
	case tagSparse:
		return g.sparse(slot)
	case tagDataView:
		p, err := g.r.bytesOf()
		return TypedArray{"DataView", append([]byte{}, p...)}, err
	}
	if k, le, ok := typedArrayForTag(tag); ok {
		p, err := g.r.bytesOf()
		if err != nil {
			return nil, err
		}
		size := typedArrayInfo[k].size
		if len(p)%size != 0 {
			return nil, g.r.fail("typed array content is not a whole number of elements")
		}
		data := append([]byte{}, p...)
		if !le {
			swapBytes(data, size)
		}
		return TypedArray{typedArrayInfo[k].name, data}, nil
	}
	return nil, g.r.fail("unsupported tag")
}

func (g *goDecoder) collection(tag uint64, slot int) (any, error) {
	n, err := g.r.expect(majArray, "an array")
	if err != nil {
		return nil, err
	}
	cnt, err := g.r.count(n, 1)
	if err != nil {
		return nil, err
	}
	if tag == tagSet {
		s := &Set{Values: make([]any, cnt)}
		g.setSlot(slot, s)
		for i := range s.Values {
			if s.Values[i], err = g.member(); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	if cnt%2 != 0 {
		return nil, g.r.fail("Map with an odd number of items")
	}
	m := &Map{Keys: make([]any, cnt/2), Values: make([]any, cnt/2)}
	g.setSlot(slot, m)
	for i := range m.Keys {
		if m.Keys[i], err = g.member(); err != nil {
			return nil, err
		}
		if m.Values[i], err = g.member(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (g *goDecoder) errorValue(slot int) (any, error) {
	n, err := g.arrayOf(4, 5)
	if err != nil {
		return nil, err
	}
	e := &ErrorValue{Props: &OrderedMap{}}
	g.setSlot(slot, e)
	for _, f := range []*string{&e.Name, &e.Message, &e.Stack} {
		if *f, err = g.goString(); err != nil {
			return nil, err
		}
	}
	np, err := g.r.expect(majMap, "a map of properties")
	if err != nil {
		return nil, err
	}
	cnt, err := g.r.count(np, 2)
	if err != nil {
		return nil, err
	}
	if err := g.props(e.Props, cnt); err != nil {
		return nil, err
	}
	if n == 5 {
		e.HasCause = true
		if e.Cause, err = g.item(); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (g *goDecoder) sparse(slot int) (any, error) {
	n, err := g.r.expect(majArray, "an array")
	if err != nil {
		return nil, err
	}
	cnt, err := g.r.count(n, 1)
	if err != nil {
		return nil, err
	}
	if cnt%2 != 1 {
		return nil, g.r.fail("sparse array with an even number of items")
	}
	length, err := g.r.uint()
	if err != nil {
		return nil, err
	}
	if length > math.MaxUint32 {
		return nil, g.r.fail("array length out of range")
	}
	s := &SparseArray{Length: uint32(length), Indices: make([]uint32, cnt/2), Values: make([]any, cnt/2)}
	g.setSlot(slot, s)
	last := int64(-1)
	for i := range s.Indices {
		idx, err := g.r.uint()
		if err != nil {
			return nil, err
		}
		if int64(idx) <= last || idx >= length {
			return nil, g.r.fail("sparse array indices out of order or range")
		}
		last, s.Indices[i] = int64(idx), uint32(idx)
		if s.Values[i], err = g.item(); err != nil {
			return nil, err
		}
	}
	return s, nil
}
