package codec

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// decodeMaxDepth bounds the decoders' recursion. It counts every nested item,
// tags included; the encoder writes at most a few items per object level (tag
// 28, a type tag, an array), hence the factor.
const decodeMaxDepth = 4*MaxDepth + 8

// reader is the CBOR reader both decoders share. Every length it is given is
// checked against the bytes that remain before anything is allocated.
type reader struct {
	b     []byte
	off   int
	depth int
}

func (r *reader) fail(msg string) error { return &malformedError{off: r.off, msg: msg} }

func (r *reader) remaining() uint64 { return uint64(len(r.b) - r.off) }

// head reads an item's initial byte and argument. For major type 7 the
// argument is the simple value or the raw float bits. Indefinite lengths and
// the reserved additional-information values are rejected.
func (r *reader) head() (major, info byte, arg uint64, err error) {
	if r.off >= len(r.b) {
		return 0, 0, 0, r.fail("unexpected end of input")
	}
	ib := r.b[r.off]
	r.off++
	major, info = ib&0xe0, ib&0x1f
	if info < 24 {
		return major, info, uint64(info), nil
	}
	if info > 27 {
		r.off--
		if info == 31 {
			return 0, 0, 0, r.fail("indefinite-length items are not supported")
		}
		return 0, 0, 0, r.fail("reserved additional information")
	}
	n := 1 << (info - 24)
	if len(r.b)-r.off < n {
		return 0, 0, 0, r.fail("truncated item head")
	}
	p := r.b[r.off:]
	switch n {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	default:
		arg = binary.BigEndian.Uint64(p)
	}
	r.off += n
	return major, info, arg, nil
}

// take returns the next n bytes (not copied).
func (r *reader) take(n uint64) ([]byte, error) {
	if n > r.remaining() {
		return nil, r.fail("length exceeds input")
	}
	p := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return p, nil
}

// count checks a declared array or map size: each item needs at least one byte.
func (r *reader) count(n uint64, perItem uint64) (int, error) {
	if n > r.remaining()/perItem {
		return 0, r.fail("declared size exceeds input")
	}
	return int(n), nil
}

// enter and leave bound the nesting depth.
func (r *reader) enter() error {
	r.depth++
	if r.depth > decodeMaxDepth {
		return &malformedError{off: r.off, msg: "nested too deeply", err: ErrTooDeep}
	}
	return nil
}

func (r *reader) leave() { r.depth-- }

// expect reads a head of the given major type and returns its argument.
func (r *reader) expect(major byte, what string) (uint64, error) {
	m, _, arg, err := r.head()
	if err != nil {
		return 0, err
	}
	if m != major {
		return 0, r.fail("expected " + what)
	}
	return arg, nil
}

// bytesOf reads a byte string.
func (r *reader) bytesOf() ([]byte, error) {
	n, err := r.expect(majBytes, "a byte string")
	if err != nil {
		return nil, err
	}
	return r.take(n)
}

// uint reads an unsigned integer.
func (r *reader) uint() (uint64, error) { return r.expect(majUint, "an unsigned integer") }

// floatOf decodes the argument of a float head.
func floatOf(info byte, arg uint64) float64 {
	switch info {
	case 25:
		return halfToFloat(uint16(arg))
	case 26:
		return float64(math.Float32frombits(uint32(arg)))
	}
	return math.Float64frombits(arg)
}

// number reads a CBOR integer or float as a float64.
func (r *reader) number() (float64, error) {
	m, info, arg, err := r.head()
	if err != nil {
		return 0, err
	}
	switch {
	case m == majUint:
		return float64(arg), nil
	case m == majNeg:
		return -1 - float64(arg), nil
	case m == majSimple && info >= 25 && info <= 27:
		return floatOf(info, arg), nil
	}
	return 0, r.fail("expected a number")
}

// validText checks UTF-8, with a fast path for ASCII.
func validText(p []byte) bool {
	for _, c := range p {
		if c >= utf8.RuneSelf {
			return utf8.Valid(p)
		}
	}
	return true
}

// utf16Units decodes the content of tagUTF16 (little-endian code units).
func utf16Units(p []byte, dst []uint16) []uint16 {
	dst = dst[:0]
	for i := 0; i+1 < len(p); i += 2 {
		dst = append(dst, uint16(p[i])|uint16(p[i+1])<<8)
	}
	return dst
}

// typedArrayForTag maps an RFC 8746 tag to a typed array kind and whether its
// content is little-endian.
func typedArrayForTag(tag uint64) (taKind, bool, bool) {
	for k := taKind(0); k < numTA; k++ {
		if typedArrayInfo[k].le == tag {
			return k, true, true
		}
		if typedArrayInfo[k].be == tag {
			return k, false, true
		}
	}
	return 0, false, false
}

// swapBytes reverses the byte order of each size-byte element in place.
func swapBytes(p []byte, size int) {
	for i := 0; i+size <= len(p); i += size {
		for a, b := i, i+size-1; a < b; a, b = a+1, b-1 {
			p[a], p[b] = p[b], p[a]
		}
	}
}
