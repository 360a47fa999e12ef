package codec

import (
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/odin-db/odin/objects"
)

// Hooks connects the codec to the runtime's Ref and Error types (implemented by
// the scripting package).
type Hooks interface {
	// RefOf reports whether obj is an odin Ref. It is called for every object
	// that is not a plain object, array or other built-in type, so keep it cheap.
	RefOf(obj *goja.Object) (objects.Ref, bool)
	// MakeRef returns the JS Ref for r in this runtime.
	MakeRef(r objects.Ref) goja.Value
	// MakeError returns an Error instance of that name (an odin error subclass
	// where the name matches) with that message and stack.
	MakeError(name, message, stack string) *goja.Object
}

// Encoder turns goja values into codec bytes. Use one per runtime and reuse it;
// it is not safe for concurrent use (neither is the runtime).
type Encoder struct {
	rt       *goja.Runtime
	h        Hooks
	js       *jsHelpers
	objProto *goja.Object
	protos   publicProtos // used only when goja internals are unavailable

	buf     []byte
	depth   int
	recs    []objRec // objects in order of first appearance
	index   idTable  // used once recs is longer than linearMax
	refs    []refFix
	nmarked int
	seq     int32
	u16     []uint16
	items   []sparseItem // stack of array snapshots
	props   []prop       // stack of object property snapshots
	bytes   []byte       // ExportTo target for typed arrays and DataViews

	// run is the method value rt.Try calls, bound once so that an Encode
	// allocates no closure; its input and output go through these fields.
	run    func()
	one    goja.Value
	args   []goja.Value
	isArgs bool
	err    error
	busy   bool
}

// objRec is an object already written: where its encoding starts, and whether a
// later occurrence made it shared (tag 28 is then inserted at start).
type objRec struct {
	o      *goja.Object
	start  int
	seq    int32
	marked bool
	share  uint64 // its index among marked objects, set by fixup
}

// refFix is a back-reference to recs[target], to be inserted as tag 29 at pos.
type refFix struct {
	pos    int
	seq    int32
	target int32
}

// linearMax is how many objects are looked up by scanning before a map is used.
const linearMax = 16

// publicProtos are prototypes that let the public-API fallback recognise types.
type publicProtos struct {
	u8Clamped, dataView, weakMap, weakSet *goja.Object
}

func protoOf(rt *goja.Runtime, ctor string) *goja.Object {
	c, _ := rt.Get(ctor).(*goja.Object)
	if c == nil {
		return nil
	}
	p, _ := c.Get("prototype").(*goja.Object)
	return p
}

// NewEncoder returns an encoder for values of rt. Call it while setting the
// runtime up, before user scripts run: it captures built-in prototypes and
// functions. h may be nil if the runtime has no Refs.
func NewEncoder(rt *goja.Runtime, h Hooks) *Encoder {
	internalsOK()
	js, err := newHelpers(rt)
	if err != nil {
		panic(err)
	}
	e := &Encoder{rt: rt, h: h, js: js, objProto: protoOf(rt, "Object")}
	e.protos = publicProtos{protoOf(rt, "Uint8ClampedArray"), protoOf(rt, "DataView"),
		protoOf(rt, "WeakMap"), protoOf(rt, "WeakSet")}
	e.run = e.runRoot
	return e
}

// Encode appends the encoding of v to dst. On error dst is returned unchanged;
// the error is a *DataCloneError, wraps ErrTooDeep, or is the *goja.Exception
// thrown by a getter. An interrupt (Runtime.Interrupt) raised while a getter
// runs panics through, as it does through any native function.
func (e *Encoder) Encode(dst []byte, v goja.Value) ([]byte, error) {
	e.one, e.isArgs = v, false
	return e.encode(dst)
}

// EncodeArgs appends the encoding of args as one CBOR array whose values share
// one reference table (an object passed twice arrives as one object).
func (e *Encoder) EncodeArgs(dst []byte, args []goja.Value) ([]byte, error) {
	e.args, e.isArgs = args, true
	return e.encode(dst)
}

func (e *Encoder) encode(dst []byte) ([]byte, error) {
	if e.busy {
		// A getter called back into Go, which encodes something else (say a
		// call made from the getter): use a fresh encoder for that.
		n := &Encoder{rt: e.rt, h: e.h, js: e.js, objProto: e.objProto, protos: e.protos,
			one: e.one, args: e.args, isArgs: e.isArgs}
		n.run = n.runRoot
		e.one, e.args = nil, nil
		return n.encode(dst)
	}
	e.busy = true
	defer func() {
		if e.busy { // an uncatchable panic (an interrupt) went through rt.Try
			e.reset()
		}
	}()
	e.buf = dst
	ex := e.rt.Try(e.run)
	out, err := e.buf, e.err
	if ex != nil {
		err = ex
	}
	if err == nil && e.nmarked > 0 {
		e.fixup()
		out = e.buf
	}
	e.reset()
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (e *Encoder) runRoot() {
	if !e.isArgs {
		if err := e.value(e.one); err != nil {
			e.err = finish(err, "value")
		}
		return
	}
	e.buf = appendHead(e.buf, majArray, uint64(len(e.args)))
	for i, a := range e.args {
		if err := e.value(a); err != nil {
			e.err = finish(err, "args"+indexSeg(i))
			return
		}
	}
}

func finish(err error, root string) error {
	if ee, ok := err.(*encodeError); ok {
		return ee.finish(root)
	}
	return err
}

func (e *Encoder) reset() {
	clear(e.recs)
	e.recs = e.recs[:0]
	e.index.reset()
	e.refs = e.refs[:0]
	e.nmarked, e.seq, e.depth = 0, 0, 0
	e.buf, e.one, e.args, e.err = nil, nil, nil, nil
	clear(e.items)
	e.items = e.items[:0]
	e.popProps(0)
	if cap(e.recs) > 1<<16 { // do not keep the memory of an unusually large value
		e.recs, e.refs, e.props, e.items = nil, nil, nil, nil
	}
	if cap(e.u16) > 1<<16 {
		e.u16 = nil
	}
	e.bytes = nil
	e.busy = false
}

// value encodes any goja value.
func (e *Encoder) value(v goja.Value) error {
	switch x := v.(type) {
	case *goja.Object:
		return e.object(x)
	case *goja.Symbol:
		return &encodeError{what: "symbol"}
	case goja.String:
		e.str(x)
		return nil
	case nil:
		e.buf = append(e.buf, cborUndefined)
		return nil
	}
	switch reflect.TypeOf(v) {
	case tInt:
		n := v.ToInteger()
		if n >= -maxSafeInt && n <= maxSafeInt {
			e.buf = appendInt(e.buf, n)
		} else {
			e.buf = appendFloat(e.buf, float64(n))
		}
	case tFloat:
		e.buf = appendNumber(e.buf, v.ToFloat())
	case tBool:
		if v.ToBoolean() {
			e.buf = append(e.buf, cborTrue)
		} else {
			e.buf = append(e.buf, cborFalse)
		}
	case tUndef:
		e.buf = append(e.buf, cborUndefined)
	case tNull:
		e.buf = append(e.buf, cborNull)
	case tBigInt:
		return e.bigint(v)
	default:
		return &encodeError{what: "value of an unknown type (" + reflect.TypeOf(v).String() + ")"}
	}
	return nil
}

// lookup finds an object already written.
func (e *Encoder) lookup(o *goja.Object) (int32, bool) {
	if len(e.recs) > linearMax {
		return e.index.find(o)
	}
	for i := range e.recs {
		if e.recs[i].o == o {
			return int32(i), true
		}
	}
	return 0, false
}

// record notes that o's encoding starts here.
func (e *Encoder) record(o *goja.Object) {
	e.recs = append(e.recs, objRec{o: o, start: len(e.buf), seq: e.seq})
	e.seq++
	switch n := len(e.recs); {
	case n > linearMax+1:
		e.index.insert(o, int32(n-1))
	case n == linearMax+1:
		for i := range e.recs {
			e.index.insert(e.recs[i].o, int32(i))
		}
	}
}

// object encodes an object, or a back-reference if it was written before.
func (e *Encoder) object(o *goja.Object) error {
	if i, ok := e.lookup(o); ok {
		if r := &e.recs[i]; !r.marked {
			r.marked = true
			e.nmarked++
		}
		e.refs = append(e.refs, refFix{pos: len(e.buf), seq: e.seq, target: i})
		e.seq++
		return nil
	}
	k, what := classify(o)
	if k == kOther || k == kPlain && o.Prototype() != e.objProto {
		if e.h != nil {
			if r, ok := e.h.RefOf(o); ok {
				if err := r.Validate(); err != nil || !utf8.ValidString(r.ID) {
					return &encodeError{what: "Ref that is not valid (" + r.String() + ")"}
				}
				e.record(o)
				e.buf = appendTag(e.buf, tagRef)
				e.buf = appendHead(e.buf, majArray, 2)
				e.buf = appendText(e.buf, r.Class)
				e.buf = appendText(e.buf, r.ID)
				return nil
			}
		}
		if k == kPlain && !gi.ok {
			k, what = e.refinePublic(o)
		}
		if k == kOther {
			return &encodeError{what: what}
		}
	}
	if e.depth >= MaxDepth {
		return &encodeError{}
	}
	e.depth++
	e.record(o)
	var err error
	switch k {
	case kPlain:
		err = e.plain(o)
	case kArray:
		err = e.array(o)
	case kSparse:
		items, length := sparseItems(o)
		err = e.arrayItems(o, length, e.snapshot(items))
	case kError:
		err = e.errorObj(o)
	case kDate:
		e.date(o)
	case kRegExp:
		e.buf = appendTag(e.buf, tagRegExp)
		e.buf = appendHead(e.buf, majArray, 2)
		e.str(toStr(o.Get("source")))
		e.str(toStr(o.Get("flags")))
	case kMap:
		err = e.mapObj(o)
	case kSet:
		err = e.setObj(o)
	case kArrayBuffer:
		ab, _ := o.Export().(goja.ArrayBuffer)
		if ab.Detached() {
			err = &encodeError{what: "detached ArrayBuffer"}
			break
		}
		e.buf = appendBytes(e.buf, ab.Bytes())
	case kTypedArray, kDataView:
		err = e.view(o, k)
	}
	e.depth--
	return err
}

// plain encodes an ordinary object: a map of its own enumerable string keys.
func (e *Encoder) plain(o *goja.Object) error {
	if gi.ok {
		if done, err := e.plainFast(o); done {
			return err
		}
	}
	keys := o.Keys()
	for _, k := range keys {
		if strings.Contains(k, "\ufffd") {
			// Keys() replaces lone surrogates with U+FFFD: read the real keys in JS.
			return e.plainFromEntries(o)
		}
	}
	e.buf = appendHead(e.buf, majMap, uint64(len(keys)))
	for _, k := range keys {
		e.buf = appendText(e.buf, k)
		if err := e.value(o.Get(k)); err != nil {
			return withSeg(err, keySeg(k))
		}
	}
	return nil
}

// plainFast reads an ordinary object's properties directly, when they are all
// plain data properties with ASCII names that are not array indices (whose
// order goja fixes up lazily); that is most objects. Object.Keys allocates
// several times per property and costs about half of encoding a small object.
// The properties are read up front (a getter further down the value cannot
// change what this object encodes to, unlike with Keys and Get).
func (e *Encoder) plainFast(o *goja.Object) (bool, error) {
	names, values := plainProps(o)
	mark := len(e.props)
	for _, n := range names {
		v := values[n]
		if v == nil || isValueProperty(v) || !plainName(n) {
			e.popProps(mark)
			return false, nil
		}
		e.props = append(e.props, prop{n, v})
	}
	e.buf = appendHead(e.buf, majMap, uint64(len(names)))
	var err error
	for i := mark; i < len(e.props) && err == nil; i++ {
		p := e.props[i]
		e.buf = appendText(e.buf, p.name)
		if err = e.value(p.v); err != nil {
			err = withSeg(err, keySeg(p.name))
		}
	}
	e.popProps(mark)
	return true, err
}

type prop struct {
	name string
	v    goja.Value
}

func (e *Encoder) popProps(mark int) {
	clear(e.props[mark:])
	e.props = e.props[:mark]
}

// plainName: ASCII, not starting with a digit (so not an array index).
func plainName(n string) bool {
	if n == "" || n[0] >= '0' && n[0] <= '9' {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (e *Encoder) plainFromEntries(o *goja.Object) error {
	kv, err := e.call(e.js.entries, o)
	if err != nil {
		return err
	}
	e.buf = appendHead(e.buf, majMap, uint64(len(kv)/2))
	for i := 0; i+1 < len(kv); i += 2 {
		e.str(toStr(kv[i]))
		if err := e.value(kv[i+1]); err != nil {
			return withSeg(err, keySeg(kv[i].String()))
		}
	}
	return nil
}

// call runs a JS helper that returns an array and returns its elements.
func (e *Encoder) call(fn goja.Callable, args ...goja.Value) ([]goja.Value, error) {
	res, err := fn(goja.Undefined(), args...)
	if err != nil {
		return nil, &encodeError{err: err}
	}
	return arrayElems(res.(*goja.Object)), nil
}

// arrayElems returns the elements of a dense array made by a helper.
func arrayElems(a *goja.Object) []goja.Value {
	if gi.ok {
		vp, n := denseValues(a)
		if int(n) <= len(*vp) {
			return (*vp)[:n]
		}
	}
	n := int(a.Get("length").ToInteger())
	vals := make([]goja.Value, n)
	for i := range vals {
		vals[i] = a.Get(strconv.Itoa(i))
	}
	return vals
}

func (e *Encoder) mapObj(o *goja.Object) error {
	kv, err := e.call(e.js.mapEntries, o)
	if err != nil {
		return err
	}
	e.buf = appendTag(e.buf, tagMap)
	e.buf = appendHead(e.buf, majArray, uint64(len(kv)))
	for i, v := range kv {
		if err := e.value(v); err != nil {
			n := i / 2
			if i%2 == 0 {
				return withSeg(err, ".keys()"+indexSeg(n))
			}
			return withSeg(err, mapValueSeg(kv[i-1], n))
		}
	}
	return nil
}

// mapValueSeg renders the path to a Map value: .get("key") for a string or
// number key, else the entry's position.
func mapValueSeg(k goja.Value, n int) string {
	switch reflect.TypeOf(k) {
	case tASCII, tUnicode, tImported:
		return ".get(" + strconv.Quote(k.String()) + ")"
	case tInt, tFloat:
		return ".get(" + k.String() + ")"
	}
	return ".values()" + indexSeg(n)
}

func (e *Encoder) setObj(o *goja.Object) error {
	vals, err := e.call(e.js.setValues, o)
	if err != nil {
		return err
	}
	e.buf = appendTag(e.buf, tagSet)
	e.buf = appendHead(e.buf, majArray, uint64(len(vals)))
	for i, v := range vals {
		if err := e.value(v); err != nil {
			return withSeg(err, ".values()"+indexSeg(i))
		}
	}
	return nil
}

// errorObj encodes an Error as [name, message, stack, props, cause?].
func (e *Encoder) errorObj(o *goja.Object) error {
	name, msg, stack, cause := o.Get("name"), o.Get("message"), o.Get("stack"), o.Get("cause")
	keys := o.Keys()
	n := 0
	for _, k := range keys {
		if !errorField(k) {
			n++
		}
	}
	e.buf = appendTag(e.buf, tagError)
	if cause != nil {
		e.buf = appendHead(e.buf, majArray, 5)
	} else {
		e.buf = appendHead(e.buf, majArray, 4)
	}
	e.str(toStr(name))
	e.str(toStr(msg))
	e.str(toStr(stack))
	e.buf = appendHead(e.buf, majMap, uint64(n))
	for _, k := range keys {
		if errorField(k) {
			continue
		}
		e.buf = appendText(e.buf, k)
		if err := e.value(o.Get(k)); err != nil {
			return withSeg(err, keySeg(k))
		}
	}
	if cause != nil {
		if err := e.value(cause); err != nil {
			return withSeg(err, ".cause")
		}
	}
	return nil
}

func errorField(k string) bool {
	return k == "name" || k == "message" || k == "stack" || k == "cause"
}

// toStr converts a property value to a string the way String(v) would;
// undefined and null (absent fields) become "".
func toStr(v goja.Value) goja.String {
	if s, ok := v.(goja.String); ok {
		return s
	}
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return emptyString
	}
	if s, ok := v.ToString().(goja.String); ok {
		return s
	}
	return emptyString
}

var emptyString = goja.StringFromUTF16(nil)

// view encodes a typed array (RFC 8746 tag) or a DataView: only the bytes the
// view covers, never the rest of its buffer.
func (e *Encoder) view(o *goja.Object, k kind) error {
	var tag uint64 = tagDataView
	if k == kTypedArray {
		ta, ok := e.typedKind(o)
		if !ok {
			return &encodeError{what: "typed array of an unknown type"}
		}
		tag = typedArrayInfo[ta].be
		if nativeLittleEndian {
			tag = typedArrayInfo[ta].le
		}
	}
	if !e.viewBytes(o, k) {
		return &encodeError{what: "view of a detached ArrayBuffer"}
	}
	e.buf = appendTag(e.buf, tag)
	e.buf = appendBytes(e.buf, e.bytes)
	e.bytes = nil
	return nil
}

// viewBytes points e.bytes at the bytes a typed array or DataView covers,
// unless its buffer is detached (goja's export would crash then).
func (e *Encoder) viewBytes(o *goja.Object, k kind) bool {
	if gi.ok {
		if viewDetached(o, k) {
			return false
		}
	} else if buf, ok := o.Get("buffer").(*goja.Object); !ok {
		return false
	} else if ab, ok := buf.Export().(goja.ArrayBuffer); !ok || ab.Detached() {
		return false
	}
	return e.rt.ExportTo(o, &e.bytes) == nil
}

func (e *Encoder) typedKind(o *goja.Object) (taKind, bool) {
	if gi.ok {
		return typedArrayKind(o)
	}
	k, ok := exportSliceKind(o.ExportType())
	if k == taUint8 {
		for p := o.Prototype(); p != nil; p = p.Prototype() {
			if p == e.protos.u8Clamped {
				return taUint8Clamped, true
			}
		}
	}
	return k, ok
}

// refinePublic recognises, without goja internals, the types that export like
// plain objects.
func (e *Encoder) refinePublic(o *goja.Object) (kind, string) {
	for p := o.Prototype(); p != nil; p = p.Prototype() {
		switch p {
		case e.protos.dataView:
			return kDataView, ""
		case e.protos.weakMap:
			return kOther, "WeakMap"
		case e.protos.weakSet:
			return kOther, "WeakSet"
		case e.objProto:
			return kPlain, ""
		}
	}
	return kPlain, ""
}
