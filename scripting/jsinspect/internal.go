package jsinspect

import (
	"reflect"
	"strconv"
	"sync"

	"github.com/dop251/goja"
	"github.com/dop251/goja/unistring"
)

// disableInternalKeys forces the public-API fallback (tests).
var disableInternalKeys = false

// ownNamedKeys returns the own string keys goja keeps in an object's
// property table, which for arrays and typed arrays excludes the elements.
// goja has no public API for "own non-index keys"; enumerating all keys of
// a million-element array costs ~200 ms, so this reads (never writes) the
// pinned goja version's internal layout:
//
//	Object{self objectImpl} -> *arrayObject{baseObject{propNames}} ...
//
// ok is false when the layout is not the expected one; callers then fall
// back to the public, index-enumerating API.
func ownNamedKeys(o *goja.Object) (names []string, ok bool) {
	if disableInternalKeys {
		return nil, false
	}
	defer func() {
		if recover() != nil {
			names, ok = nil, false
		}
	}()
	v := reflect.ValueOf(o)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil, false
	}
	self := v.Elem().FieldByName("self")
	if !self.IsValid() || self.Kind() != reflect.Interface || self.IsNil() {
		return nil, false
	}
	impl := self.Elem()
	if impl.Kind() != reflect.Pointer || impl.IsNil() {
		return nil, false
	}
	st := impl.Elem()
	if st.Kind() != reflect.Struct {
		return nil, false
	}
	switch st.Type().Name() {
	case "arrayObject", "sparseArrayObject", "typedArrayObject":
	case "objectGoSlice", "objectGoSliceReflect", "objectGoArrayReflect":
		// Wrapped Go slices and arrays: goja refuses named properties on
		// them, and lists only their indices as keys.
		return nil, true
	default:
		return nil, false
	}
	base := st.FieldByName("baseObject")
	if !base.IsValid() || base.Kind() != reflect.Struct {
		return nil, false
	}
	props := base.FieldByName("propNames")
	if !props.IsValid() || props.Kind() != reflect.Slice || props.Type().Elem().Kind() != reflect.String {
		return nil, false
	}
	n := props.Len()
	names = make([]string, 0, n)
	for i := 0; i < n; i++ {
		names = append(names, unistring.String(props.Index(i).String()).String())
	}
	return names, true
}

// implLayout caches, per goja implementation type, where its property
// table lives.
type implLayout struct {
	values []int // baseObject.values (map[unistring.String]Value)
	elems  []int // arrayObject.values ([]Value); nil for non-arrays
}

// selfField is the index of goja.Object's implementation field.
var selfField = func() []int {
	if f, ok := reflect.TypeOf(goja.Object{}).FieldByName("self"); ok && f.Type.Kind() == reflect.Interface {
		return f.Index
	}
	return nil
}()

var layouts sync.Map // reflect.Type -> *implLayout (nil: unsupported)

func layoutOf(t reflect.Type) *implLayout {
	if l, ok := layouts.Load(t); ok {
		return l.(*implLayout)
	}
	var l *implLayout
	switch t.Name() {
	case "baseObject", "arrayObject":
		if f, ok := t.FieldByName("values"); ok && f.Type.Kind() == reflect.Map {
			l = &implLayout{values: f.Index}
		} else if b, ok := t.FieldByName("baseObject"); ok {
			if f, ok := b.Type.FieldByName("values"); ok && f.Type.Kind() == reflect.Map {
				l = &implLayout{values: append(append([]int{}, b.Index...), f.Index...)}
			}
		}
		if l != nil && t.Name() == "arrayObject" {
			if f, ok := t.FieldByName("values"); ok && f.Type.Kind() == reflect.Slice &&
				f.Type.Elem().Kind() == reflect.Interface {
				l.elems = f.Index
			} else {
				l = nil
			}
		}
		if l != nil {
			if kt := t.FieldByIndex(l.values).Type.Key(); kt.Kind() != reflect.String {
				l = nil
			}
		}
	}
	layouts.Store(t, l)
	return l
}

// ownDataFast inspects goja's property table for the own string property
// k of o. known is false when it cannot tell (the caller then asks
// Object.getOwnPropertyDescriptor). Otherwise exists reports an own
// property and plain that it is an ordinary writable, enumerable,
// configurable data property, whose value o.Get returns without running
// any JavaScript.
func ownDataFast(o *goja.Object, k string) (plain, exists, known bool) {
	if disableInternalKeys {
		return false, false, false
	}
	defer func() {
		if recover() != nil {
			plain, exists, known = false, false, false
		}
	}()
	if selfField == nil {
		return false, false, false
	}
	v := reflect.ValueOf(o).Elem().FieldByIndex(selfField)
	if v.Kind() != reflect.Interface || v.IsNil() {
		return false, false, false
	}
	impl := v.Elem()
	if impl.Kind() != reflect.Pointer {
		return false, false, false
	}
	st := impl.Elem()
	l := layoutOf(st.Type())
	if l == nil {
		return false, false, false
	}
	var e reflect.Value
	if l.elems != nil && isArrayIndex(k) {
		idx, _ := strconv.Atoi(k)
		elems := st.FieldByIndex(l.elems)
		if idx >= elems.Len() {
			return false, false, true
		}
		e = elems.Index(idx)
	} else {
		m := st.FieldByIndex(l.values)
		key := reflect.ValueOf(unistring.NewFromString(k))
		if key.Type() != m.Type().Key() {
			return false, false, false
		}
		e = m.MapIndex(key)
		if !e.IsValid() {
			return false, false, false
		}
	}
	if e.IsNil() {
		return false, false, true
	}
	if c := e.Elem(); c.Kind() == reflect.Pointer && c.Type().Elem().Name() == "valueProperty" {
		return false, true, false
	}
	return true, true, true
}

// denseElems returns goja's element slice of a dense array (arrayObject),
// whose nil entries are holes; ok is false for any other object.
func denseElems(o *goja.Object) (elems reflect.Value, ok bool) {
	if disableInternalKeys || selfField == nil {
		return reflect.Value{}, false
	}
	defer func() {
		if recover() != nil {
			elems, ok = reflect.Value{}, false
		}
	}()
	v := reflect.ValueOf(o).Elem().FieldByIndex(selfField)
	if v.Kind() != reflect.Interface || v.IsNil() || v.Elem().Kind() != reflect.Pointer {
		return reflect.Value{}, false
	}
	st := v.Elem().Elem()
	l := layoutOf(st.Type())
	if l == nil || l.elems == nil {
		return reflect.Value{}, false
	}
	return st.FieldByIndex(l.elems), true
}
