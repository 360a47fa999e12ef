package objects

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// Index is one secondary index of a class: the fields it orders objects by
// and whether no two objects may hold the same values in them.
type Index struct {
	Fields []string `cbor:"1,keyasint,omitempty"`
	Unique bool     `cbor:"2,keyasint,omitempty"`
}

// Name is the index's stable identity in storage and on the wire: its kind
// and its fields, as "i:" or "u:" followed by the fields as a JSON array.
func (ix Index) Name() string {
	if len(ix.Fields) > 0 && simple(ix.Fields) {
		// What json.Marshal writes, without its cost: Name is computed for
		// every index on every commit and query.
		n := 5
		for _, f := range ix.Fields {
			n += len(f) + 3
		}
		b := make([]byte, 0, n)
		if ix.Unique {
			b = append(b, "u:["...)
		} else {
			b = append(b, "i:["...)
		}
		for i, f := range ix.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, f...)
			b = append(b, '"')
		}
		return string(append(b, ']'))
	}
	b, _ := json.Marshal(ix.Fields)
	if ix.Unique {
		return "u:" + string(b)
	}
	return "i:" + string(b)
}

// simple reports whether every name is made of letters, digits, _ and $,
// which JSON writes as they are.
func simple(names []string) bool {
	for _, s := range names {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$') {
				return false
			}
		}
	}
	return true
}

// String is the form users see: owner, [city, age], unique email.
func (ix Index) String() string {
	s := "[" + strings.Join(ix.Fields, ", ") + "]"
	if len(ix.Fields) == 1 {
		s = ix.Fields[0]
	}
	if ix.Unique {
		return "unique " + s
	}
	return s
}

// Covers reports whether field is one of the index's fields.
func (ix Index) Covers(field string) bool {
	for _, f := range ix.Fields {
		if f == field {
			return true
		}
	}
	return false
}

// ParseIndexes reads a class's `static indexes` and `static unique` as
// exported from JavaScript (nil when absent): each is an array whose
// elements are a field name or an array of field names (a compound index).
func ParseIndexes(indexes, unique any) ([]Index, error) {
	var out []Index
	seen := map[string]bool{}
	add := func(what string, v any, isUnique bool) error {
		if v == nil {
			return nil
		}
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("static %s must be an array of field names (or arrays of field names), not %s", what, describeDecl(v))
		}
		for i, e := range list {
			var fields []string
			switch x := e.(type) {
			case string:
				fields = []string{x}
			case []any:
				for _, f := range x {
					s, ok := f.(string)
					if !ok {
						return fmt.Errorf("static %s[%d]: a compound index lists field names, not %s", what, i, describeDecl(f))
					}
					fields = append(fields, s)
				}
			default:
				return fmt.Errorf("static %s[%d] must be a field name or an array of field names, not %s", what, i, describeDecl(e))
			}
			if len(fields) == 0 {
				return fmt.Errorf("static %s[%d] is an empty list of fields", what, i)
			}
			dup := map[string]bool{}
			for _, f := range fields {
				if f == "" || f[0] == '_' || f[0] == '#' {
					return fmt.Errorf("static %s[%d]: %q is not a persistent field name", what, i, f)
				}
				if dup[f] {
					return fmt.Errorf("static %s[%d] names field %q twice", what, i, f)
				}
				dup[f] = true
			}
			ix := Index{Fields: fields, Unique: isUnique}
			if seen[ix.Name()] {
				return fmt.Errorf("static %s declares %s twice", what, ix)
			}
			seen[ix.Name()] = true
			out = append(out, ix)
		}
		return nil
	}
	if err := add("indexes", indexes, false); err != nil {
		return nil, err
	}
	if err := add("unique", unique, true); err != nil {
		return nil, err
	}
	return out, nil
}

func describeDecl(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case []any:
		return "an array"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// Index keys. A stored index entry's key is the tuple of the object's values
// in the index's fields, each encoded so that byte order is value order,
// followed by the object's id. Every component starts with a type tag, so
// values of different types never compare equal and sort by type first:
//
//	undefined < null < false < true < numbers < bigints < dates < strings
//
// Numbers are IEEE 754 doubles with the sign bit flipped (all bits flipped
// for negatives), -0 as 0; BigInts a length-prefixed magnitude; Dates their
// milliseconds as a number; strings their UTF-8 bytes with 0x00 escaped as
// 0x00 0xFF and terminated by 0x00 0x01, so a string's prefix is a key
// prefix. Other values (objects, arrays, NaN, invalid dates, Refs, ...) are
// not indexable: an object holding one in an indexed field is left out of
// that index.
const (
	tagUndefined = 0x01
	tagNull      = 0x02
	tagFalse     = 0x03
	tagTrue      = 0x04
	tagNumber    = 0x10
	tagBigInt    = 0x11
	tagDate      = 0x20
	tagString    = 0x30
)

// maxBigIntBytes bounds an indexable BigInt's magnitude (about 10^300).
const maxBigIntBytes = 125

// ErrBadKey is wrapped by errors about index keys that do not parse.
var ErrBadKey = errors.New("objects: malformed index key")

// AppendKey appends the key component of the value n. ok is false when the
// value cannot be indexed (dst is then returned unchanged).
func AppendKey(dst []byte, n Node) (out []byte, ok bool) {
	if n == nil {
		return append(dst, tagUndefined), true
	}
	switch n.Kind() {
	case KindUndefined:
		return append(dst, tagUndefined), true
	case KindNull:
		return append(dst, tagNull), true
	case KindBool:
		if n.Bool() {
			return append(dst, tagTrue), true
		}
		return append(dst, tagFalse), true
	case KindNumber:
		return appendFloat(dst, tagNumber, n.Number())
	case KindDate:
		return appendFloat(dst, tagDate, n.Number())
	case KindBigInt:
		var z big.Int
		if _, ok := z.SetString(n.Str(), 10); !ok {
			return dst, false
		}
		return appendBigInt(dst, &z)
	case KindString:
		return AppendStringPrefix(append(dst, tagString), n.Str(), true), true
	}
	return dst, false
}

func appendFloat(dst []byte, tag byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) {
		return dst, false
	}
	if f == 0 {
		f = 0 // -0 is 0, as === says
	}
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(append(dst, tag), u), true
}

// appendBigInt writes tagBigInt, then a byte ordering by sign and length
// (0x80+len for positives, 0x80 for zero, 0x7f-len... for negatives), then
// the magnitude (complemented for negatives, so larger magnitudes sort first).
func appendBigInt(dst []byte, z *big.Int) ([]byte, bool) {
	mag := z.Bytes()
	if len(mag) > maxBigIntBytes {
		return dst, false
	}
	dst = append(dst, tagBigInt)
	switch z.Sign() {
	case 0:
		return append(dst, 0x80), true
	case 1:
		dst = append(dst, byte(0x80+len(mag)))
		return append(dst, mag...), true
	}
	dst = append(dst, byte(0x7f-len(mag)))
	for _, b := range mag {
		dst = append(dst, ^b)
	}
	return dst, true
}

// AppendStringPrefix appends s escaped, with the terminator if whole is
// true. Without it, the result is a prefix of the key of every string that
// starts with s (the tag must already be in dst).
func AppendStringPrefix(dst []byte, s string, whole bool) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dst = append(dst, 0, 0xff)
		} else {
			dst = append(dst, s[i])
		}
	}
	if whole {
		dst = append(dst, 0, 0x01)
	}
	return dst
}

// Tags other packages look at: a string component's first byte (prefix
// scans), undefined (an absent field) and null (not compared by unique).
const (
	StringTag    = tagString
	UndefinedTag = tagUndefined
	NullTag      = tagNull
)

// TypeRange returns the keys bounding every component of the same type as
// the component c: [lo, hi). A range condition stays within its type.
func TypeRange(c []byte) (lo, hi []byte) {
	if len(c) == 0 {
		return nil, nil
	}
	switch c[0] {
	case tagFalse, tagTrue:
		return []byte{tagFalse}, []byte{tagTrue + 1}
	}
	return []byte{c[0]}, []byte{c[0] + 1}
}

// ComponentLen returns the length of the key component at the start of b.
func ComponentLen(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: empty component", ErrBadKey)
	}
	switch b[0] {
	case tagUndefined, tagNull, tagFalse, tagTrue:
		return 1, nil
	case tagNumber, tagDate:
		if len(b) < 9 {
			return 0, fmt.Errorf("%w: short number", ErrBadKey)
		}
		return 9, nil
	case tagBigInt:
		if len(b) < 2 {
			return 0, fmt.Errorf("%w: short bigint", ErrBadKey)
		}
		n := int(b[1]) - 0x80
		if n < 0 {
			n = 0x7f - int(b[1])
		}
		if n > maxBigIntBytes || len(b) < 2+n {
			return 0, fmt.Errorf("%w: bigint length", ErrBadKey)
		}
		return 2 + n, nil
	case tagString:
		for i := 1; i+1 < len(b); i++ {
			if b[i] != 0 {
				continue
			}
			switch b[i+1] {
			case 0x01:
				return i + 2, nil
			case 0xff:
				i++
			default:
				return 0, fmt.Errorf("%w: bad escape in string", ErrBadKey)
			}
		}
		return 0, fmt.Errorf("%w: unterminated string", ErrBadKey)
	}
	return 0, fmt.Errorf("%w: unknown tag 0x%02x", ErrBadKey, b[0])
}

// SplitKey splits a stored index entry key of n components into the tuple
// and the object id that follows it.
func SplitKey(key []byte, n int) (tuple []byte, id string, err error) {
	off := 0
	for i := 0; i < n; i++ {
		l, err := ComponentLen(key[off:])
		if err != nil {
			return nil, "", err
		}
		off += l
	}
	if off == len(key) {
		return nil, "", fmt.Errorf("%w: no object id after the values", ErrBadKey)
	}
	return key[:off], string(key[off:]), nil
}

// DecodeComponent returns the Go value of the component at the start of b
// (nil for null, Undefined{} for undefined, bool, float64, *big.Int, string,
// or DateMillis for a Date) and its length. It is for showing keys, never
// for comparing them.
func DecodeComponent(b []byte) (any, int, error) {
	n, err := ComponentLen(b)
	if err != nil {
		return nil, 0, err
	}
	switch b[0] {
	case tagUndefined:
		return Undefined{}, n, nil
	case tagNull:
		return nil, n, nil
	case tagFalse:
		return false, n, nil
	case tagTrue:
		return true, n, nil
	case tagNumber, tagDate:
		u := binary.BigEndian.Uint64(b[1:9])
		if u&(1<<63) != 0 {
			u &^= 1 << 63
		} else {
			u = ^u
		}
		f := math.Float64frombits(u)
		if b[0] == tagDate {
			return DateMillis(f), n, nil
		}
		return f, n, nil
	case tagBigInt:
		mag := bytes.Clone(b[2:n])
		z := new(big.Int)
		if b[1] < 0x80 {
			for i := range mag {
				mag[i] = ^mag[i]
			}
			return z.Neg(z.SetBytes(mag)), n, nil
		}
		return z.SetBytes(mag), n, nil
	}
	s := make([]byte, 0, n-3)
	for i := 1; i < n-2; i++ {
		s = append(s, b[i])
		if b[i] == 0 {
			i++ // skip the 0xff of an escaped NUL
		}
	}
	return string(s), n, nil
}

// Undefined is JavaScript's undefined in DecodeComponent's results.
type Undefined struct{}

// DateMillis is a Date component: milliseconds since the epoch.
type DateMillis float64

// HasUnset reports whether one of the first n components of the tuple t is
// null or undefined (a missing field): like SQL's nulls, a unique index
// does not compare them.
func HasUnset(t []byte, n int) bool {
	for i := 0; i < n && len(t) > 0; i++ {
		if t[0] == tagNull || t[0] == tagUndefined {
			return true
		}
		l, err := ComponentLen(t)
		if err != nil {
			return false
		}
		t = t[l:]
	}
	return false
}

// PrefixEnd returns the smallest key greater than every key starting with p,
// or nil if there is none (p is all 0xff).
func PrefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
