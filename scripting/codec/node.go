package codec

import (
	"math"
	"math/big"
	"time"

	"github.com/odin-db/odin/objects"
)

// NodeOf views a value DecodeGo returned as an objects.Node, enough for
// index keys: the kind of any value, and the scalars' values. Containers
// report their kind and length but no elements.
func NodeOf(v any) objects.Node { return goNode{v} }

// KeyOf decodes one stored field (codec bytes; nil = the field is absent)
// and appends its index key component. ok is false when the value cannot be
// indexed or the bytes do not decode.
func KeyOf(dst, field []byte) (out []byte, ok bool) {
	if field == nil {
		return objects.AppendKey(dst, nil)
	}
	v, err := DecodeGo(field)
	if err != nil {
		return dst, false
	}
	return objects.AppendKey(dst, goNode{v})
}

type goNode struct{ v any }

func (n goNode) Kind() objects.Kind {
	switch x := n.v.(type) {
	case nil:
		return objects.KindNull
	case Undefined, Hole:
		return objects.KindUndefined
	case bool:
		return objects.KindBool
	case int64, float64:
		return objects.KindNumber
	case *big.Int:
		return objects.KindBigInt
	case string, UTF16:
		return objects.KindString
	case []any, *SparseArray:
		return objects.KindArray
	case *OrderedMap:
		return objects.KindObject
	case time.Time:
		return objects.KindDate
	case InvalidDate:
		return objects.KindDate
	case *Map:
		return objects.KindMap
	case *Set:
		return objects.KindSet
	case objects.Ref:
		return objects.KindRef
	case Bytes, TypedArray:
		return objects.KindBytes
	case RegExp:
		return objects.KindRegExp
	case *ErrorValue:
		return objects.KindError
	default:
		_ = x
		return objects.KindOther
	}
}

func (n goNode) Bool() bool { b, _ := n.v.(bool); return b }

func (n goNode) Number() float64 {
	switch x := n.v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case time.Time:
		return float64(x.UnixMilli())
	case InvalidDate:
		return math.NaN()
	}
	return 0
}

func (n goNode) Str() string {
	switch x := n.v.(type) {
	case string:
		return x
	case UTF16:
		return x.String()
	case *big.Int:
		return x.String()
	}
	return ""
}

func (n goNode) Len() int {
	switch x := n.v.(type) {
	case string:
		return len(x)
	case UTF16:
		return len(x)
	case []any:
		return len(x)
	}
	return 0
}

func (n goNode) Index(int) objects.Node  { return goNode{Undefined{}} }
func (n goNode) Keys() []string          { return nil }
func (n goNode) Get(string) objects.Node { return nil }

func (n goNode) RefClass() string {
	if r, ok := n.v.(objects.Ref); ok {
		return r.Class
	}
	return ""
}
