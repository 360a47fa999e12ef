package jsinspect

import (
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// This file holds the glue to goja: built-in functions looked up in the
// runtime, property descriptors, constructor names and the brand checks that
// tell Maps from Sets from plain objects.

var (
	proxyType       = reflect.TypeOf(goja.Proxy{})
	promiseType     = reflect.TypeOf((*goja.Promise)(nil))
	arrayBufferType = reflect.TypeOf(goja.ArrayBuffer{})
	mapExportType   = reflect.TypeOf([][2]interface{}{})
	setExportType   = reflect.TypeOf([]interface{}{})
	stringType      = reflect.TypeOf("")
	bigIntType      = reflect.TypeOf((*big.Int)(nil))
)

// builtInObjects lists the global constructors Node treats as built-in
// (used by %s to decide whether an object has a user-defined toString).
var builtInObjects = map[string]bool{
	"Object": true, "Function": true, "Array": true, "Number": true, "Boolean": true,
	"String": true, "Symbol": true, "Date": true, "Promise": true, "RegExp": true,
	"Error": true, "AggregateError": true, "EvalError": true, "RangeError": true,
	"ReferenceError": true, "SyntaxError": true, "TypeError": true, "URIError": true,
	"JSON": true, "Math": true, "Intl": true, "ArrayBuffer": true, "Uint8Array": true,
	"Int8Array": true, "Uint16Array": true, "Int16Array": true, "Uint32Array": true,
	"Int32Array": true, "Float32Array": true, "Float64Array": true,
	"Uint8ClampedArray": true, "BigUint64Array": true, "BigInt64Array": true,
	"DataView": true, "Map": true, "BigInt": true, "Set": true, "WeakMap": true,
	"WeakSet": true, "Proxy": true, "Reflect": true, "FinalizationRegistry": true,
	"WeakRef": true, "SharedArrayBuffer": true, "Atomics": true, "WebAssembly": true,
}

var typedArrayNames = map[string]bool{
	"Int8Array": true, "Uint8Array": true, "Uint8ClampedArray": true, "Int16Array": true,
	"Uint16Array": true, "Int32Array": true, "Uint32Array": true, "Float32Array": true,
	"Float64Array": true, "BigInt64Array": true, "BigUint64Array": true,
}

// undef reports whether v is undefined (or a missing property: nil).
func undef(v goja.Value) bool { return v == nil || goja.IsUndefined(v) }

// nullish reports whether v is undefined or null.
func nullish(v goja.Value) bool { return undef(v) || goja.IsNull(v) }

func asObject(v goja.Value) *goja.Object {
	o, _ := v.(*goja.Object)
	return o
}

func isFunction(v goja.Value) bool {
	_, ok := goja.AssertFunction(v)
	return ok
}

// intrinsic resolves (and caches) a built-in by path, e.g.
// "Map.prototype.entries". A trailing "#get" yields the getter of an
// accessor property. It returns nil when the path does not resolve.
func (in *inspector) intrinsic(path string) goja.Value {
	if v, ok := in.intrinsics[path]; ok {
		return v
	}
	var res goja.Value
	in.try(func() {
		getter := false
		p := path
		if strings.HasSuffix(p, "#get") {
			getter = true
			p = strings.TrimSuffix(p, "#get")
		}
		parts := strings.Split(p, ".")
		cur := in.rt.Get(parts[0])
		for i := 1; i < len(parts) && cur != nil; i++ {
			o := asObject(cur)
			if o == nil {
				cur = nil
				break
			}
			if getter && i == len(parts)-1 {
				d := in.ownDesc(o, propKey{name: parts[i]})
				cur = d.get
				break
			}
			cur = o.Get(parts[i])
		}
		res = cur
	})
	if in.intrinsics == nil {
		in.intrinsics = make(map[string]goja.Value)
	}
	in.intrinsics[path] = res
	return res
}

// call invokes fn; ok is false when fn is not callable or threw.
func (in *inspector) call(fn goja.Value, this goja.Value, args ...goja.Value) (goja.Value, bool) {
	f, ok := goja.AssertFunction(fn)
	if !ok {
		return nil, false
	}
	if this == nil {
		this = goja.Undefined()
	}
	res, err := f(this, args...)
	if err != nil {
		return nil, false
	}
	return res, true
}

// callIntrinsic calls the built-in at path with the given receiver.
func (in *inspector) callIntrinsic(path string, this goja.Value, args ...goja.Value) (goja.Value, bool) {
	return in.call(in.intrinsic(path), this, args...)
}

// try runs f, swallowing JavaScript exceptions it throws.
func (in *inspector) try(f func()) bool {
	return in.rt.Try(f) == nil
}

// propKey is a property key: a string or a symbol.
type propKey struct {
	name string
	sym  *goja.Symbol
}

func (k propKey) value(rt *goja.Runtime) goja.Value {
	if k.sym != nil {
		return k.sym
	}
	return rt.ToValue(k.name)
}

func indexKey(i int) propKey { return propKey{name: strconv.Itoa(i)} }

// propDesc is a property descriptor; ok is false when there is no own
// property.
type propDesc struct {
	ok              bool
	value, get, set goja.Value
	enumerable      bool
}

func (in *inspector) ownDesc(o *goja.Object, k propKey) propDesc {
	if k.sym == nil {
		if plain, exists, known := ownDataFast(o, k.name); known {
			if !exists {
				return propDesc{}
			}
			if plain {
				return propDesc{ok: true, value: o.Get(k.name), enumerable: true}
			}
		}
	}
	fn := in.descFn
	if fn == nil {
		v := in.rt.Get("Object")
		if obj := asObject(v); obj != nil {
			fn, _ = goja.AssertFunction(obj.Get("getOwnPropertyDescriptor"))
		}
		if fn == nil {
			// No usable Object.getOwnPropertyDescriptor: read the value.
			return propDesc{ok: true, value: o.Get(k.name), enumerable: true}
		}
		in.descFn = fn
	}
	res, err := fn(goja.Undefined(), o, k.value(in.rt))
	if err != nil || undef(res) {
		return propDesc{}
	}
	d := asObject(res)
	if d == nil {
		return propDesc{}
	}
	return propDesc{
		ok:         true,
		value:      d.Get("value"),
		get:        d.Get("get"),
		set:        d.Get("set"),
		enumerable: d.Get("enumerable").ToBoolean(),
	}
}

// getProp reads o[k] (Get semantics, invoking getters).
func getProp(o *goja.Object, k propKey) goja.Value {
	if k.sym != nil {
		return o.GetSymbol(k.sym)
	}
	return o.Get(k.name)
}

func (in *inspector) isEnumerable(o *goja.Object, k propKey) bool {
	v, ok := in.callIntrinsic("Object.prototype.propertyIsEnumerable", o, k.value(in.rt))
	return ok && v.ToBoolean()
}

func (in *inspector) hasOwn(o *goja.Object, k propKey) bool {
	v, ok := in.callIntrinsic("Object.prototype.hasOwnProperty", o, k.value(in.rt))
	return ok && v.ToBoolean()
}

func (in *inspector) instanceOf(v goja.Value, ctor *goja.Object) bool {
	res := false
	in.try(func() { res = in.rt.InstanceOf(v, ctor) })
	return res
}

// getKeys returns Object.keys plus enumerable symbols, or every own key
// when showHidden is set.
func (in *inspector) getKeys(o *goja.Object) []propKey {
	var names []string
	var syms []*goja.Symbol
	if in.showHidden {
		names = o.GetOwnPropertyNames()
		syms = in.allSymbols(o)
	} else {
		names = o.Keys()
		syms = o.Symbols()
	}
	keys := make([]propKey, 0, len(names)+len(syms))
	for _, n := range names {
		keys = append(keys, propKey{name: n})
	}
	for _, s := range syms {
		keys = append(keys, propKey{sym: s})
	}
	return keys
}

func (in *inspector) allSymbols(o *goja.Object) []*goja.Symbol {
	res, ok := in.callIntrinsic("Object.getOwnPropertySymbols", nil, o)
	if !ok {
		return o.Symbols()
	}
	arr := asObject(res)
	if arr == nil {
		return nil
	}
	n := int(arr.Get("length").ToInteger())
	syms := make([]*goja.Symbol, 0, n)
	for i := 0; i < n; i++ {
		if s, ok := arr.Get(strconv.Itoa(i)).(*goja.Symbol); ok {
			syms = append(syms, s)
		}
	}
	return syms
}

// nonIndexKeys returns the own keys of an array-like object that are not
// array indices (Node's getOwnNonIndexProperties), without enumerating
// the indices when goja's internals allow it.
func (in *inspector) nonIndexKeys(o *goja.Object) []propKey {
	var names []string
	if internal, ok := ownNamedKeys(o); ok {
		names = make([]string, 0, len(internal))
		for _, n := range internal {
			if isArrayIndex(n) {
				continue
			}
			if !in.showHidden && !in.isEnumerable(o, propKey{name: n}) {
				continue
			}
			names = append(names, n)
		}
	} else {
		var all []string
		if in.showHidden {
			all = o.GetOwnPropertyNames()
		} else {
			all = o.Keys()
		}
		for _, n := range all {
			if !isArrayIndex(n) {
				names = append(names, n)
			}
		}
	}
	var syms []*goja.Symbol
	if in.showHidden {
		syms = in.allSymbols(o)
	} else {
		syms = o.Symbols()
	}
	keys := make([]propKey, 0, len(names)+len(syms))
	for _, n := range names {
		keys = append(keys, propKey{name: n})
	}
	for _, s := range syms {
		keys = append(keys, propKey{sym: s})
	}
	return keys
}

// isArrayIndex reports whether s is a canonical array index.
func isArrayIndex(s string) bool {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n < 1<<32-1
}

// constructorName implements Node's getConstructorName; ok is false for a
// null prototype chain.
func (in *inspector) constructorName(o *goja.Object, recurseTimes int) (string, bool) {
	objectProto := asObject(in.intrinsic("Object.prototype"))
	functionProto := asObject(in.intrinsic("Function.prototype"))
	obj := o
	var firstProto *goja.Object
	first := true
	for obj != nil {
		// Well-known prototypes: o instanceof Object (Function) holds
		// exactly when the prototype is on o's chain, i.e. obj != o.
		if obj == objectProto && obj != nil {
			if obj != o {
				return "Object", true
			}
		} else if obj == functionProto && obj != nil {
			if obj != o {
				return "Function", true
			}
		}
		d := in.ownDesc(obj, propKey{name: "constructor"})
		if d.ok && isFunction(d.value) {
			ctor := asObject(d.value)
			name := ""
			if n := ctor.Get("name"); !undef(n) {
				name = n.String()
			}
			if name != "" && in.instanceOf(o, ctor) {
				return name, true
			}
		}
		obj = obj.Prototype()
		if first {
			firstProto = obj
			first = false
		}
	}
	if firstProto == nil {
		return "", false
	}
	res := o.ClassName()
	if recurseTimes > in.depth {
		return res + " <Complex prototype>", true
	}
	protoConstr, ok := in.constructorName(firstProto, recurseTimes+1)
	if !ok {
		sub := in.sub()
		sub.depth = -1
		sub.customInspect = false
		return res + " <" + sub.formatValue(firstProto, 0, false) + ">", true
	}
	return res + " <" + protoConstr + ">", true
}

// sub returns a fresh inspector sharing the runtime and options.
func (in *inspector) sub() *inspector {
	return &inspector{
		rt: in.rt, custom: in.custom, depth: in.depth, colors: in.colors,
		breakLength: in.breakLength, maxArrayLength: in.maxArrayLength,
		maxStringLength: in.maxStringLength, showHidden: in.showHidden,
		showProxy: in.showProxy, customInspect: in.customInspect,
		intrinsics: in.intrinsics, descFn: in.descFn,
	}
}

// objKind classifies an object the way Node's util.types checks do.
type objKind int

const (
	kindPlain objKind = iota
	kindArray
	kindArguments
	kindFunction
	kindError
	kindRegExp
	kindDate
	kindMap
	kindSet
	kindWeakMap
	kindWeakSet
	kindPromise
	kindArrayBuffer
	kindDataView
	kindTypedArray
	kindNumber
	kindString
	kindBoolean
	kindSymbol
	kindBigInt
)

// detect classifies o; rawTag is o[Symbol.toStringTag] when a string.
func (in *inspector) detect(o *goja.Object, rawTag string) objKind {
	if isFunction(o) {
		return kindFunction
	}
	switch o.ClassName() {
	case "Array":
		return kindArray
	case "Arguments":
		return kindArguments
	case "Error":
		return kindError
	case "RegExp":
		return kindRegExp
	case "Date":
		return kindDate
	case "Number":
		return kindNumber
	case "String":
		return kindString
	case "Boolean":
		return kindBoolean
	}
	et := o.ExportType()
	switch et {
	case promiseType:
		return kindPromise
	case arrayBufferType:
		return kindArrayBuffer
	case mapExportType:
		if _, ok := in.callIntrinsic("Map.prototype.size#get", o); ok {
			return kindMap
		}
	case setExportType:
		if _, ok := in.callIntrinsic("Set.prototype.size#get", o); ok {
			return kindSet
		}
	case stringType:
		if _, ok := in.callIntrinsic("Symbol.prototype.valueOf", o); ok {
			return kindSymbol
		}
	case bigIntType:
		if _, ok := in.callIntrinsic("BigInt.prototype.valueOf", o); ok {
			return kindBigInt
		}
	}
	if et != nil && et.Kind() == reflect.Slice && typedArrayNames[rawTag] {
		if in.typedArrayName(o) != "" {
			return kindTypedArray
		}
	}
	switch rawTag {
	case "WeakMap":
		if _, ok := in.callIntrinsic("WeakMap.prototype.has", o, o); ok {
			return kindWeakMap
		}
	case "WeakSet":
		if _, ok := in.callIntrinsic("WeakSet.prototype.has", o, o); ok {
			return kindWeakSet
		}
	case "DataView":
		if _, ok := in.callIntrinsic("DataView.prototype.byteLength#get", o); ok {
			return kindDataView
		}
	}
	if errProto := asObject(in.intrinsic("Error.prototype")); errProto != nil {
		for p := o.Prototype(); p != nil; p = p.Prototype() {
			if p == errProto {
				return kindError
			}
		}
	}
	return kindPlain
}

// typedArrayName returns the %TypedArray%.prototype[@@toStringTag] of o:
// its element type name, or "" when o is not a typed array.
func (in *inspector) typedArrayName(o *goja.Object) string {
	getter, ok := in.intrinsics["%TypedArray%tag"]
	if !ok {
		if u8p := asObject(in.intrinsic("Uint8Array.prototype")); u8p != nil {
			if tap := u8p.Prototype(); tap != nil {
				getter = in.ownDesc(tap, propKey{sym: goja.SymToStringTag}).get
			}
		}
		in.intrinsics["%TypedArray%tag"] = getter
	}
	v, ok := in.call(getter, o)
	if !ok || undef(v) {
		return ""
	}
	return v.String()
}

// toStringTag returns the raw o[Symbol.toStringTag] (when a string) and
// the tag Node displays (empty when it is an own enumerable property).
func (in *inspector) toStringTag(o *goja.Object) (raw, shown string) {
	v := o.GetSymbol(goja.SymToStringTag)
	if v == nil || !goja.IsString(v) {
		return "", ""
	}
	raw = v.String()
	if raw == "" {
		return raw, ""
	}
	k := propKey{sym: goja.SymToStringTag}
	if in.showHidden {
		if in.hasOwn(o, k) {
			return raw, ""
		}
	} else if in.isEnumerable(o, k) {
		return raw, ""
	}
	return raw, raw
}

func getPrefix(constructor string, hasCtor bool, tag, fallback, size string) string {
	if !hasCtor {
		if tag != "" && fallback != tag {
			return "[" + fallback + size + ": null prototype] [" + tag + "] "
		}
		return "[" + fallback + size + ": null prototype] "
	}
	if tag != "" && constructor != tag {
		return constructor + size + " [" + tag + "] "
	}
	return constructor + size + " "
}

func getCtxStyle(o *goja.Object, constructor string, hasCtor bool, tag string) string {
	fallback := ""
	if !hasCtor {
		fallback = o.ClassName()
		if fallback == tag {
			fallback = "Object"
		}
	}
	return getPrefix(constructor, hasCtor, tag, fallback, "")
}
