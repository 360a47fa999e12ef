package codec

import (
	"reflect"

	"github.com/dop251/goja"
)

// classifyPublic is classify without internals: it relies on ClassName and
// ExportType, which cannot tell Go host objects from JS ones, nor a DataView
// or a WeakMap from a plain object (the Encoder checks their prototypes).
func classifyPublic(o *goja.Object) (kind, string) {
	switch o.ClassName() {
	case "Object":
	case "Array":
		return kArray, ""
	case "Error":
		return kError, ""
	case "Date":
		return kDate, ""
	case "RegExp":
		return kRegExp, ""
	case "Function", "AsyncFunction", "GeneratorFunction":
		return kOther, "function"
	default:
		return kOther, "non-cloneable " + o.ClassName() + " object"
	}
	switch t := o.ExportType(); {
	case t == typeMapExport:
		return kPlain, ""
	case t == typeMapEntries:
		return kMap, ""
	case t == typeAnySlice:
		return kSet, ""
	case t == typeArrayBuffer:
		return kArrayBuffer, ""
	case t == typeProxy:
		return kOther, "Proxy"
	case t == typePromise:
		return kOther, "Promise"
	case t != nil && t.Kind() == reflect.Slice:
		if _, ok := exportSliceKind(t); ok {
			return kTypedArray, ""
		}
	}
	return kOther, "Go host object"
}

var (
	typeMapExport   = reflect.TypeOf(map[string]any(nil))
	typeMapEntries  = reflect.TypeOf([][2]any(nil))
	typeAnySlice    = reflect.TypeOf([]any(nil))
	typeArrayBuffer = reflect.TypeOf(goja.ArrayBuffer{})
	typeProxy       = reflect.TypeOf(goja.Proxy{})
	typePromise     = reflect.TypeOf((*goja.Promise)(nil))
)

// exportSliceKind maps the Go slice type a typed array exports to to its kind
// (Uint8Array and Uint8ClampedArray both export []uint8).
func exportSliceKind(t reflect.Type) (taKind, bool) {
	switch t.Elem().Kind() {
	case reflect.Uint8:
		return taUint8, true
	case reflect.Int8:
		return taInt8, true
	case reflect.Uint16:
		return taUint16, true
	case reflect.Int16:
		return taInt16, true
	case reflect.Uint32:
		return taUint32, true
	case reflect.Int32:
		return taInt32, true
	case reflect.Float32:
		return taFloat32, true
	case reflect.Float64:
		return taFloat64, true
	case reflect.Int64:
		return taBigInt64, true
	case reflect.Uint64:
		return taBigUint64, true
	}
	return 0, false
}
