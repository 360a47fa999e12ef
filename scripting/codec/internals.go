package codec

import (
	"reflect"
	"sync"
	"unsafe"

	"github.com/dop251/goja"
)

// goja has no public way to tell a Map from a plain object or a Uint8Array
// from a Uint8ClampedArray, and its public property API (Object.Keys, Get by
// string index) allocates several times per property. So this file reads a few
// goja internals, read-only: which implementation backs an object (the type
// word of the Object.self interface), the property names and map of ordinary
// objects, the element slice of dense and sparse arrays, and the element type
// of typed arrays. Every offset and type is learnt with reflect at start-up
// from sample values in a scratch runtime, and cross-checked; if anything does
// not match (a goja upgrade changed its layout), gi.ok is false and the codec
// uses slower public-API paths instead (public.go). TestInternalsLayout fails
// loudly in that case, so that the change is noticed.

// kind is what the codec does with an object.
type kind uint8

const (
	kOther       kind = iota // not cloneable unless it is a Ref
	kPlain                   // ordinary object: own enumerable string keys
	kArray                   // dense array
	kSparse                  // sparse array
	kError                   // Error instance
	kDate                    // Date
	kRegExp                  // RegExp
	kMap                     // Map
	kSet                     // Set
	kArrayBuffer             // ArrayBuffer
	kTypedArray              // any typed array
	kDataView                // DataView
)

// taKind identifies a typed array's element type; it indexes typedArrayInfo.
type taKind uint8

const (
	taUint8 taKind = iota
	taUint8Clamped
	taInt8
	taUint16
	taInt16
	taUint32
	taInt32
	taFloat32
	taFloat64
	taBigInt64
	taBigUint64
	numTA
)

// typedArrayInfo: JS constructor name, element size, RFC 8746 tags (little- and
// big-endian; the same tag twice when byte order does not matter).
var typedArrayInfo = [numTA]struct {
	name   string
	size   int
	le, be uint64
}{
	taUint8:        {"Uint8Array", 1, 64, 64},
	taUint8Clamped: {"Uint8ClampedArray", 1, 68, 68},
	taInt8:         {"Int8Array", 1, 72, 72},
	taUint16:       {"Uint16Array", 2, 69, 65},
	taInt16:        {"Int16Array", 2, 77, 73},
	taUint32:       {"Uint32Array", 4, 70, 66},
	taInt32:        {"Int32Array", 4, 78, 74},
	taFloat32:      {"Float32Array", 4, 85, 81},
	taFloat64:      {"Float64Array", 8, 86, 82},
	taBigInt64:     {"BigInt64Array", 8, 79, 75},
	taBigUint64:    {"BigUint64Array", 8, 71, 67},
}

// implEntry maps one goja implementation type (identified by the type word of
// the Object.self interface) to a kind, or to the phrase used in a
// DataCloneError when the object cannot be cloned.
type implEntry struct {
	tab  unsafe.Pointer
	k    kind
	what string
}

// iface is the memory layout of a non-empty interface value: its type word
// (the itab, one per interface and concrete type pair) and its data pointer.
type iface struct{ tab, data unsafe.Pointer }

// sparseItem mirrors goja's sparseArrayItem; its layout is checked at start-up.
type sparseItem struct {
	idx   uint32
	value goja.Value
}

var gi struct {
	once    sync.Once
	ok      bool    // everything below checked out
	selfOff uintptr // offset of Object.self
	impls   []implEntry

	arrValuesOff, arrLengthOff  uintptr // arrayObject: values []Value, length uint32
	sparseItemsOff, sparseLen   uintptr // sparseArrayObject: items []sparseArrayItem, length uint32
	baseValuesOff, baseNamesOff uintptr // baseObject: values map, propNames slice
	taFieldOff                  uintptr // typedArrayObject.typedArray
	taBufOff, dvBufOff          uintptr // typedArrayObject and dataViewObject.viewedArrayBuf
	abDetachedOff               uintptr // arrayBufferObject.detached
	taTabs                      [numTA]unsafe.Pointer
	valuePropType               reflect.Type // *goja.valueProperty
}

// Value types of goja primitives, learnt from samples (the types are unexported).
var (
	tInt, tFloat, tBool, tUndef, tNull, tBigInt reflect.Type
	tASCII, tUnicode, tImported                 reflect.Type
	typeValue                                   = reflect.TypeOf((*goja.Value)(nil)).Elem()
	typeValueSlice                              = reflect.TypeOf([]goja.Value(nil))
	nativeLittleEndian                          = *(*byte)(unsafe.Pointer(&[]uint16{1}[0])) == 1
)

func internalsOK() bool {
	gi.once.Do(learnInternals)
	return gi.ok
}

// learner reads samples both through reflect (the reference) and through
// the raw words the codec uses, and records any disagreement.
type learner struct {
	rt      *goja.Runtime
	selfIdx int
	bad     bool
	tabs    map[reflect.Type]unsafe.Pointer
}

func (l *learner) run(src string) *goja.Object {
	v, err := l.rt.RunString(src)
	if err != nil {
		panic("codec: sample " + src + ": " + err.Error())
	}
	return v.(*goja.Object)
}

// impl returns the reflect type of o.self and checks the raw words against it.
func (l *learner) impl(o *goja.Object) (reflect.Type, unsafe.Pointer) {
	rv := reflect.ValueOf(o).Elem().Field(l.selfIdx).Elem()
	w := self(o)
	if rv.Kind() != reflect.Pointer || rv.UnsafePointer() != w.data {
		l.bad = true
	}
	if tab, seen := l.tabs[rv.Type()]; seen && tab != w.tab {
		l.bad = true
	}
	for t, tab := range l.tabs {
		if tab == w.tab && t != rv.Type() {
			l.bad = true
		}
	}
	l.tabs[rv.Type()] = w.tab
	return rv.Type(), w.tab
}

func (l *learner) add(o *goja.Object, k kind, what string) {
	_, tab := l.impl(o)
	gi.impls = append(gi.impls, implEntry{tab, k, what})
}

// field finds a field of the struct behind o.self.
func (l *learner) field(o *goja.Object, name string) reflect.StructField {
	t, _ := l.impl(o)
	f, ok := t.Elem().FieldByName(name)
	if !ok || len(f.Index) != 1 {
		l.bad = true
	}
	return f
}

// learnInternals learns and checks the layouts; gi.ok is set only at the end.
func learnInternals() {
	rt := goja.New()
	l := &learner{rt: rt, tabs: map[reflect.Type]unsafe.Pointer{}}
	val := func(src string) goja.Value {
		v, err := rt.RunString(src)
		if err != nil {
			panic("codec: sample " + src + ": " + err.Error())
		}
		return v
	}
	tInt = reflect.TypeOf(val(`1`))
	tFloat = reflect.TypeOf(val(`1.5`))
	tBool = reflect.TypeOf(val(`true`))
	tUndef = reflect.TypeOf(goja.Undefined())
	tNull = reflect.TypeOf(goja.Null())
	tBigInt = reflect.TypeOf(val(`1n`))
	tASCII = reflect.TypeOf(val(`"a"`))
	tUnicode = reflect.TypeOf(val(`"\u00e9"`))
	tImported = reflect.TypeOf(rt.ToValue("a string longer than sixteen bytes"))

	f, ok := reflect.TypeOf(goja.Object{}).FieldByName("self")
	if !ok || f.Type.Kind() != reflect.Interface || f.Type.NumMethod() == 0 || len(f.Index) != 1 {
		return
	}
	gi.selfOff, l.selfIdx = f.Offset, f.Index[0]

	// Most frequent first: classify scans the list.
	l.add(l.run(`({})`), kPlain, "")
	l.add(l.run(`[]`), kArray, "")
	l.add(l.run(`new Error()`), kError, "")
	l.add(l.run(`new Date(0)`), kDate, "")
	l.add(l.run(`new Map()`), kMap, "")
	l.add(l.run(`new Set()`), kSet, "")
	l.add(l.run(`new Uint8Array(1)`), kTypedArray, "")
	l.add(l.run(`new ArrayBuffer(1)`), kArrayBuffer, "")
	l.add(l.run(`/a/`), kRegExp, "")
	sparse := l.run(`(function () { var a = []; a[100000] = 1; return a })()`)
	l.add(sparse, kSparse, "")
	l.add(l.run(`new DataView(new ArrayBuffer(1))`), kDataView, "")
	l.add(l.run(`new Proxy({}, {})`), kOther, "Proxy")
	l.add(l.run(`Promise.resolve()`), kOther, "Promise")
	l.add(l.run(`new WeakMap()`), kOther, "WeakMap")
	l.add(l.run(`new WeakSet()`), kOther, "WeakSet")
	l.add(l.run(`new Number(1)`), kOther, "primitive wrapper object")
	l.add(l.run(`(function () { return arguments })()`), kOther, "arguments object")
	l.add(l.run(`(function* () {})()`), kOther, "generator object")
	for _, src := range []string{`[].values()`, `new Map().entries()`, `new Set().values()`, `"s"[Symbol.iterator]()`} {
		l.add(l.run(src), kOther, "iterator")
	}
	for _, v := range []any{map[string]any{}, []any{}, &[]any{}, struct{}{}, &struct{}{}, []int{}, map[int]int{}} {
		l.add(rt.ToValue(v).(*goja.Object), kOther, "Go host object")
	}
	l.add(rt.NewDynamicObject(nopDynamic{}), kOther, "Go host object")
	l.add(rt.NewDynamicArray(nopDynamicArray{}), kOther, "Go host object")
	l.add(l.run(`Math`), kOther, "built-in namespace object")

	// Ordinary objects: values map[unistring.String]Value and propNames
	// []unistring.String (unistring.String is a string; ASCII names are plain).
	obj := l.run(`({a: 1, b: "x"})`)
	vf, nf := l.field(obj, "values"), l.field(obj, "propNames")
	if vf.Type.Kind() != reflect.Map || vf.Type.Key().Kind() != reflect.String || vf.Type.Elem() != typeValue ||
		nf.Type.Kind() != reflect.Slice || nf.Type.Elem().Kind() != reflect.String {
		return
	}
	gi.baseValuesOff, gi.baseNamesOff = vf.Offset, nf.Offset
	if names, values := plainProps(obj); len(names) != 2 || names[0] != "a" || names[1] != "b" ||
		len(values) != 2 || values["b"].String() != "x" {
		return
	}

	// Dense arrays: values []Value, length uint32, and lengthProp valueProperty.
	arr := l.run(`[1, , 3]`)
	vf, lf, lp := l.field(arr, "values"), l.field(arr, "length"), l.field(arr, "lengthProp")
	if vf.Type != typeValueSlice || lf.Type.Kind() != reflect.Uint32 || lp.Type.Kind() != reflect.Struct {
		return
	}
	gi.arrValuesOff, gi.arrLengthOff = vf.Offset, lf.Offset
	gi.valuePropType = reflect.PointerTo(lp.Type)
	if vals, n := denseValues(arr); n != 3 || len(*vals) != 3 || (*vals)[1] != nil || (*vals)[2].ToInteger() != 3 {
		return
	}
	if vals, _ := denseValues(l.run(`(() => { const a = [1]; Object.defineProperty(a, 0, {get() { return 2 }}); return a })()`)); !isValueProperty((*vals)[0]) {
		return
	}

	// Sparse arrays: items []sparseArrayItem{idx uint32; value Value}, length uint32.
	itf, lf := l.field(sparse, "items"), l.field(sparse, "length")
	var mirror sparseItem
	it := itf.Type
	if it.Kind() != reflect.Slice || lf.Type.Kind() != reflect.Uint32 {
		return
	}
	it = it.Elem()
	if it.Kind() != reflect.Struct || it.NumField() != 2 || it.Size() != unsafe.Sizeof(mirror) ||
		it.Field(0).Type.Kind() != reflect.Uint32 || it.Field(0).Offset != unsafe.Offsetof(mirror.idx) ||
		it.Field(1).Type != typeValue || it.Field(1).Offset != unsafe.Offsetof(mirror.value) {
		return
	}
	gi.sparseItemsOff, gi.sparseLen = itf.Offset, lf.Offset
	if items, n := sparseItems(sparse); n != 100001 || len(items) != 1 || items[0].idx != 100000 {
		return
	}

	// Typed arrays: the type word of typedArrayObject.typedArray, per kind.
	tf := l.field(l.run(`new Uint8Array(1)`), "typedArray")
	if tf.Type.Kind() != reflect.Interface || tf.Type.NumMethod() == 0 {
		return
	}
	gi.taFieldOff = tf.Offset
	seen := map[reflect.Type]bool{}
	for k := taKind(0); k < numTA; k++ {
		o := l.run(`new ` + typedArrayInfo[k].name + `(1)`)
		t, _ := l.impl(o)
		ft := reflect.ValueOf(o).Elem().Field(l.selfIdx).Elem().Elem().FieldByIndex(tf.Index).Elem().Type()
		if seen[ft] || t.Elem().Field(tf.Index[0]).Offset != tf.Offset {
			return
		}
		seen[ft] = true
		gi.taTabs[k] = taWords(o).tab
		if kk, ok := typedArrayKind(o); !ok || kk != k {
			return
		}
	}

	// Views: viewedArrayBuf *arrayBufferObject, whose detached bool tells
	// whether ExportTo may be called (goja crashes on a detached view).
	ta, dv := l.run(`new Uint8Array(4)`), l.run(`new DataView(new ArrayBuffer(2))`)
	tbf, dbf := l.field(ta, "viewedArrayBuf"), l.field(dv, "viewedArrayBuf")
	if tbf.Type.Kind() != reflect.Pointer || tbf.Type != dbf.Type || tbf.Type.Elem().Kind() != reflect.Struct {
		return
	}
	df, ok := tbf.Type.Elem().FieldByName("detached")
	if !ok || df.Type.Kind() != reflect.Bool {
		return
	}
	gi.taBufOff, gi.dvBufOff, gi.abDetachedOff = tbf.Offset, dbf.Offset, df.Offset
	if viewDetached(ta, kTypedArray) || viewDetached(dv, kDataView) {
		return
	}
	ta.Get("buffer").Export().(goja.ArrayBuffer).Detach()
	dv.Get("buffer").Export().(goja.ArrayBuffer).Detach()
	if !viewDetached(ta, kTypedArray) || !viewDetached(dv, kDataView) {
		return
	}
	gi.ok = !l.bad
}

// viewDetached reports whether the buffer of a typed array or DataView is detached.
func viewDetached(o *goja.Object, k kind) bool {
	off := gi.taBufOff
	if k == kDataView {
		off = gi.dvBufOff
	}
	ab := *(*unsafe.Pointer)(unsafe.Add(self(o).data, off))
	return ab == nil || *(*bool)(unsafe.Add(ab, gi.abDetachedOff))
}

// self returns the words of o.self.
func self(o *goja.Object) iface {
	return *(*iface)(unsafe.Add(unsafe.Pointer(o), gi.selfOff))
}

// classify returns what to do with o and, for kOther, a description.
func classify(o *goja.Object) (kind, string) {
	if !gi.ok {
		return classifyPublic(o)
	}
	tab := self(o).tab
	for i := range gi.impls {
		if gi.impls[i].tab == tab {
			return gi.impls[i].k, gi.impls[i].what
		}
	}
	switch o.ClassName() {
	case "Function", "AsyncFunction", "GeneratorFunction":
		return kOther, "function"
	}
	return kOther, "non-cloneable " + o.ClassName() + " object"
}

// plainProps returns an ordinary object's property names, in creation order,
// and its property map. Values are goja.Value for plain writable, enumerable,
// configurable data properties, else *valueProperty. Names of non-ASCII
// properties are in goja's UTF-16 form (a string starting with a BOM).
func plainProps(o *goja.Object) ([]string, map[string]goja.Value) {
	p := self(o).data
	return *(*[]string)(unsafe.Add(p, gi.baseNamesOff)), *(*map[string]goja.Value)(unsafe.Add(p, gi.baseValuesOff))
}

// denseValues returns a pointer to a dense array's element slice (nil elements
// are holes; *valueProperty elements are accessors or read-only properties).
func denseValues(o *goja.Object) (*[]goja.Value, uint32) {
	p := self(o).data
	return (*[]goja.Value)(unsafe.Add(p, gi.arrValuesOff)), *(*uint32)(unsafe.Add(p, gi.arrLengthOff))
}

// sparseItems returns a sparse array's items (ascending indices) and length.
func sparseItems(o *goja.Object) ([]sparseItem, uint32) {
	p := self(o).data
	return *(*[]sparseItem)(unsafe.Add(p, gi.sparseItemsOff)), *(*uint32)(unsafe.Add(p, gi.sparseLen))
}

// isValueProperty reports whether an element read from denseValues,
// sparseItems or plainProps is a property descriptor rather than a value.
func isValueProperty(v goja.Value) bool { return reflect.TypeOf(v) == gi.valuePropType }

func taWords(o *goja.Object) iface {
	return *(*iface)(unsafe.Add(self(o).data, gi.taFieldOff))
}

// typedArrayKind returns the element type of a typed array.
func typedArrayKind(o *goja.Object) (taKind, bool) {
	tab := taWords(o).tab
	for k := taKind(0); k < numTA; k++ {
		if gi.taTabs[k] == tab {
			return k, true
		}
	}
	return 0, false
}

// unicodeUnits returns the UTF-16 code units of a goja unicodeString without
// copying (goja stores a BOM before them).
func unicodeUnits(s goja.String) ([]uint16, bool) {
	rv := reflect.ValueOf(s)
	if rv.Kind() != reflect.Slice || rv.Type().Elem().Kind() != reflect.Uint16 || rv.Len() == 0 {
		return nil, false
	}
	u := unsafe.Slice((*uint16)(rv.UnsafePointer()), rv.Len())
	if u[0] != 0xfeff || len(u)-1 != s.Length() {
		return nil, false
	}
	return u[1:], true
}

// nopDynamic is a sample goja.DynamicObject.
type nopDynamic struct{}

func (nopDynamic) Get(string) goja.Value       { return nil }
func (nopDynamic) Set(string, goja.Value) bool { return false }
func (nopDynamic) Has(string) bool             { return false }
func (nopDynamic) Delete(string) bool          { return false }
func (nopDynamic) Keys() []string              { return nil }

// nopDynamicArray is a sample goja.DynamicArray.
type nopDynamicArray struct{}

func (nopDynamicArray) Len() int                 { return 0 }
func (nopDynamicArray) Get(int) goja.Value       { return nil }
func (nopDynamicArray) Set(int, goja.Value) bool { return false }
func (nopDynamicArray) SetLen(int) bool          { return false }
