package scripting

import (
	"math"
	"math/big"
	"reflect"
	"strconv"
	"time"

	"github.com/dop251/goja"

	"github.com/odin-db/odin/objects"
)

// jsNode is objects.Node over a goja value, for schema validation without
// copying the value.
type jsNode struct {
	w    *Worker
	v    goja.Value
	kind objects.Kind
}

func nodeOrNil(n *jsNode) objects.Node {
	if n == nil {
		return nil
	}
	return n
}

var (
	typeInt64   = reflect.TypeOf(int64(0))
	typeFloat64 = reflect.TypeOf(float64(0))
	typeBool    = reflect.TypeOf(false)
	typeString  = reflect.TypeOf("")
	typeBigInt  = reflect.TypeOf((*big.Int)(nil))
)

func (w *Worker) node(v goja.Value) *jsNode {
	return &jsNode{w: w, v: v, kind: w.kindOf(v)}
}

func (w *Worker) kindOf(v goja.Value) objects.Kind {
	switch {
	case v == nil || goja.IsUndefined(v):
		return objects.KindUndefined
	case goja.IsNull(v):
		return objects.KindNull
	}
	o, ok := v.(*goja.Object)
	if !ok {
		switch v.ExportType() {
		case typeInt64, typeFloat64:
			return objects.KindNumber
		case typeBool:
			return objects.KindBool
		case typeString:
			return objects.KindString
		case typeBigInt:
			return objects.KindBigInt
		}
		return objects.KindOther
	}
	if w.api.refInfoOfObj(o) != nil {
		return objects.KindRef
	}
	switch o.ClassName() {
	case "Object":
		if _, isFn := goja.AssertFunction(o); isFn {
			return objects.KindOther
		}
		return objects.KindObject
	case "Array":
		return objects.KindArray
	case "Date":
		return objects.KindDate
	case "Map":
		return objects.KindMap
	case "Set":
		return objects.KindSet
	case "RegExp":
		return objects.KindRegExp
	case "Error":
		return objects.KindError
	case "ArrayBuffer", "DataView", "Uint8Array", "Int8Array", "Uint8ClampedArray", "Uint16Array", "Int16Array",
		"Uint32Array", "Int32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array":
		return objects.KindBytes
	}
	return objects.KindOther
}

func (n *jsNode) Kind() objects.Kind { return n.kind }
func (n *jsNode) Bool() bool         { return n.v.ToBoolean() }

func (n *jsNode) Number() float64 {
	if n.kind == objects.KindDate {
		if t, ok := n.v.Export().(time.Time); ok {
			return float64(t.UnixMilli())
		}
		return math.NaN()
	}
	return n.v.ToFloat()
}

func (n *jsNode) Str() string { return n.v.String() }

func (n *jsNode) Len() int {
	switch n.kind {
	case objects.KindString:
		if s, ok := n.v.(goja.String); ok {
			return s.Length()
		}
		return len(n.v.String())
	case objects.KindArray:
		return int(n.v.(*goja.Object).Get("length").ToInteger())
	case objects.KindMap, objects.KindSet:
		return int(n.v.(*goja.Object).Get("size").ToInteger())
	case objects.KindBytes:
		return int(n.v.(*goja.Object).Get("byteLength").ToInteger())
	}
	return 0
}

func (n *jsNode) Index(i int) objects.Node {
	o, ok := n.v.(*goja.Object)
	if !ok {
		return n.w.node(goja.Undefined())
	}
	return n.w.node(o.Get(strconv.Itoa(i)))
}

func (n *jsNode) Keys() []string {
	if o, ok := n.v.(*goja.Object); ok {
		return o.Keys()
	}
	return nil
}

func (n *jsNode) Get(key string) objects.Node {
	o, ok := n.v.(*goja.Object)
	if !ok {
		return nil
	}
	v := o.Get(key)
	if v == nil {
		return nil
	}
	return n.w.node(v)
}

func (n *jsNode) RefClass() string {
	if o, ok := n.v.(*goja.Object); ok {
		if info := n.w.api.refInfoOfObj(o); info != nil {
			return info.ref.Class
		}
	}
	return ""
}
