package codec

import (
	"encoding/binary"
	"math"
)

// CBOR major types, already shifted into the top three bits of the initial byte.
const (
	majUint   byte = 0 << 5
	majNeg    byte = 1 << 5
	majBytes  byte = 2 << 5
	majText   byte = 3 << 5
	majArray  byte = 4 << 5
	majMap    byte = 5 << 5
	majTag    byte = 6 << 5
	majSimple byte = 7 << 5
)

// Simple values and float heads (major type 7).
const (
	cborFalse     byte = 0xf4
	cborTrue      byte = 0xf5
	cborNull      byte = 0xf6
	cborUndefined byte = 0xf7
	cborFloat16   byte = 0xf9
	cborFloat32   byte = 0xfa
	cborFloat64   byte = 0xfb
)

// maxSafeInt is Number.MAX_SAFE_INTEGER: integers up to it are exact in a float64.
const maxSafeInt = 1<<53 - 1

// appendHead appends an initial byte and argument in the shortest form.
func appendHead(b []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, major|byte(n))
	case n <= math.MaxUint8:
		return append(b, major|24, byte(n))
	case n <= math.MaxUint16:
		return append(b, major|25, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return append(b, major|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, major|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// headSize is the number of bytes appendHead writes for n.
func headSize(n uint64) int {
	switch {
	case n < 24:
		return 1
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	case n <= math.MaxUint32:
		return 5
	}
	return 9
}

// appendTag appends a tag head.
func appendTag(b []byte, tag uint64) []byte { return appendHead(b, majTag, tag) }

// appendInt appends a CBOR integer (major type 0 or 1).
func appendInt(b []byte, n int64) []byte {
	if n >= 0 {
		return appendHead(b, majUint, uint64(n))
	}
	return appendHead(b, majNeg, uint64(-1-n))
}

// appendNumber appends a JavaScript number: a CBOR integer when it is a safe
// integer (and not -0), else the shortest float that holds it exactly.
func appendNumber(b []byte, f float64) []byte {
	if f >= -maxSafeInt && f <= maxSafeInt && f == math.Trunc(f) && !(f == 0 && math.Signbit(f)) {
		return appendInt(b, int64(f))
	}
	return appendFloat(b, f)
}

// appendFloat appends f as the shortest of half, single or double precision that
// represents it exactly. NaN is always the canonical half-precision 0x7e00.
func appendFloat(b []byte, f float64) []byte {
	if f != f {
		return append(b, cborFloat16, 0x7e, 0x00)
	}
	f32 := float32(f)
	if float64(f32) != f {
		bits := math.Float64bits(f)
		b = append(b, cborFloat64)
		return binary.BigEndian.AppendUint64(b, bits)
	}
	if h, ok := halfExact(f32); ok {
		return append(b, cborFloat16, byte(h>>8), byte(h))
	}
	return binary.BigEndian.AppendUint32(append(b, cborFloat32), math.Float32bits(f32))
}

// halfExact converts f to IEEE 754 half precision if that is exact (f is not NaN).
func halfExact(f float32) (uint16, bool) {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int(bits>>23&0xff) - 127
	mant := bits & 0x7fffff
	switch {
	case exp == 128: // infinity (NaN is handled by the caller)
		return sign | 0x7c00, true
	case exp == -127 && mant == 0: // ±0
		return sign, true
	case exp >= -14 && exp <= 15: // normal half
		if mant&0x1fff != 0 {
			return 0, false
		}
		return sign | uint16(exp+15)<<10 | uint16(mant>>13), true
	case exp >= -24 && exp < -14: // subnormal half: value = m * 2^-24
		full := mant | 1<<23
		shift := uint(13 + (-14 - exp))
		if full&(1<<shift-1) != 0 {
			return 0, false
		}
		return sign | uint16(full>>shift), true
	}
	return 0, false
}

// halfToFloat decodes an IEEE 754 half-precision value.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(mant, -24)
	case 31:
		if mant != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(mant+1024, exp-25)
}
