package codec

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/odin-db/odin/objects"
)

// AppendGo appends the encoding of a Go value, for Go code without a VM that
// must produce codec bytes (an error reply from the host, call arguments from
// the CLI). It takes the types DecodeGo returns, and also Go integers,
// float32, map[string]any (keys sorted), []byte, ErrorValue and objects.Ref.
// It does not detect shared values: a value reachable twice is written twice
// and a cycle fails with ErrTooDeep.
func AppendGo(dst []byte, v any) ([]byte, error) {
	out, err := appendGo(dst, v, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func appendGo(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, cborNull), nil
	case Undefined:
		return append(b, cborUndefined), nil
	case Hole:
		return append(b, holeBytes...), nil
	case bool:
		if x {
			return append(b, cborTrue), nil
		}
		return append(b, cborFalse), nil
	case int:
		return appendGoInt(b, int64(x)), nil
	case int8:
		return appendGoInt(b, int64(x)), nil
	case int16:
		return appendGoInt(b, int64(x)), nil
	case int32:
		return appendGoInt(b, int64(x)), nil
	case int64:
		return appendGoInt(b, x), nil
	case uint:
		return appendNumber(b, float64(x)), nil
	case uint8:
		return appendGoInt(b, int64(x)), nil
	case uint16:
		return appendGoInt(b, int64(x)), nil
	case uint32:
		return appendGoInt(b, int64(x)), nil
	case uint64:
		return appendNumber(b, float64(x)), nil
	case float32:
		return appendNumber(b, float64(x)), nil
	case float64:
		return appendNumber(b, x), nil
	case *big.Int:
		return appendBigInt(b, new(big.Int).Set(x)), nil
	case string:
		if !utf8.ValidString(x) {
			return b, fmt.Errorf("codec: string %q is not UTF-8", x)
		}
		return appendText(b, x), nil
	case UTF16:
		return appendUTF16(b, x), nil
	case Bytes:
		return appendBytes(b, x), nil
	case []byte:
		return appendBytes(b, x), nil
	case time.Time:
		return appendDateMs(b, float64(x.UnixMilli())), nil
	case InvalidDate:
		return appendDateMs(b, math.NaN()), nil
	case RegExp:
		b = appendHead(appendTag(b, tagRegExp), majArray, 2)
		return appendText(appendText(b, x.Source), x.Flags), nil
	case objects.Ref:
		if err := x.Validate(); err != nil {
			return b, err
		}
		b = appendHead(appendTag(b, tagRef), majArray, 2)
		return appendText(appendText(b, x.Class), x.ID), nil
	case TypedArray:
		return appendTypedArray(b, x)
	}
	if depth >= MaxDepth {
		return b, &tooDeepError{path: "a Go value"}
	}
	depth++
	var err error
	switch x := v.(type) {
	case []any:
		b = appendHead(b, majArray, uint64(len(x)))
		for _, e := range x {
			if b, err = appendGo(b, e, depth); err != nil {
				return b, err
			}
		}
		return b, nil
	case *OrderedMap:
		return appendGoMap(b, x.Keys, x.Values, depth)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		vals := make([]any, len(keys))
		for i, k := range keys {
			vals[i] = x[k]
		}
		return appendGoMap(b, keys, vals, depth)
	case *Map:
		if len(x.Keys) != len(x.Values) {
			return b, fmt.Errorf("codec: Map with %d keys and %d values", len(x.Keys), len(x.Values))
		}
		b = appendHead(appendTag(b, tagMap), majArray, uint64(2*len(x.Keys)))
		for i := range x.Keys {
			if b, err = appendGo(b, x.Keys[i], depth); err != nil {
				return b, err
			}
			if b, err = appendGo(b, x.Values[i], depth); err != nil {
				return b, err
			}
		}
		return b, nil
	case *Set:
		b = appendHead(appendTag(b, tagSet), majArray, uint64(len(x.Values)))
		for _, e := range x.Values {
			if b, err = appendGo(b, e, depth); err != nil {
				return b, err
			}
		}
		return b, nil
	case *SparseArray:
		return appendSparse(b, x, depth)
	case *ErrorValue:
		return appendErrorValue(b, x, depth)
	case ErrorValue:
		return appendErrorValue(b, &x, depth)
	}
	return b, fmt.Errorf("codec: cannot encode Go value of type %T", v)
}

// appendGoInt writes a Go integer as a JS number.
func appendGoInt(b []byte, n int64) []byte {
	if n >= -maxSafeInt && n <= maxSafeInt {
		return appendInt(b, n)
	}
	return appendFloat(b, float64(n))
}

func appendGoMap(b []byte, keys []string, vals []any, depth int) ([]byte, error) {
	if len(keys) != len(vals) {
		return b, fmt.Errorf("codec: object with %d keys and %d values", len(keys), len(vals))
	}
	b = appendHead(b, majMap, uint64(len(keys)))
	var err error
	for i, k := range keys {
		if !utf8.ValidString(k) {
			return b, fmt.Errorf("codec: key %q is not UTF-8", k)
		}
		b = appendText(b, k)
		if b, err = appendGo(b, vals[i], depth); err != nil {
			return b, err
		}
	}
	return b, nil
}

func appendTypedArray(b []byte, x TypedArray) ([]byte, error) {
	if x.Type == "DataView" {
		return appendBytes(appendTag(b, tagDataView), x.Data), nil
	}
	for k := taKind(0); k < numTA; k++ {
		if info := typedArrayInfo[k]; info.name == x.Type {
			if len(x.Data)%info.size != 0 {
				return b, fmt.Errorf("codec: %s of %d bytes", x.Type, len(x.Data))
			}
			return appendBytes(appendTag(b, info.le), x.Data), nil
		}
	}
	return b, fmt.Errorf("codec: unknown typed array type %q", x.Type)
}

func appendSparse(b []byte, x *SparseArray, depth int) ([]byte, error) {
	if len(x.Indices) != len(x.Values) {
		return b, fmt.Errorf("codec: sparse array with %d indices and %d values", len(x.Indices), len(x.Values))
	}
	b = appendHead(appendTag(b, tagSparse), majArray, uint64(1+2*len(x.Indices)))
	b = appendHead(b, majUint, uint64(x.Length))
	var err error
	for i, idx := range x.Indices {
		if idx >= x.Length || i > 0 && idx <= x.Indices[i-1] {
			return b, fmt.Errorf("codec: sparse array indices out of order or range")
		}
		b = appendHead(b, majUint, uint64(idx))
		if b, err = appendGo(b, x.Values[i], depth); err != nil {
			return b, err
		}
	}
	return b, nil
}

func appendErrorValue(b []byte, x *ErrorValue, depth int) ([]byte, error) {
	n := uint64(4)
	if x.HasCause {
		n = 5
	}
	b = appendHead(appendTag(b, tagError), majArray, n)
	for _, s := range []string{x.Name, x.Message, x.Stack} {
		b = appendUTF16(b, utf16.Encode([]rune(s)))
	}
	props := x.Props
	if props == nil {
		props = &OrderedMap{}
	}
	b, err := appendGoMap(b, props.Keys, props.Values, depth)
	if err != nil || !x.HasCause {
		return b, err
	}
	return appendGo(b, x.Cause, depth)
}
