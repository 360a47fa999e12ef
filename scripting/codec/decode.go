package codec

import (
	"math"
	"math/big"
	"strconv"

	"github.com/dop251/goja"
	"github.com/odin-db/odin/objects"
)

// Decoder turns codec bytes into goja values of its runtime. Use one per
// runtime and reuse it; it is not safe for concurrent use.
type Decoder struct {
	rt *goja.Runtime
	h  Hooks
	js *jsHelpers

	dateC, regexpC, mapC, setC, dataViewC, errorC *goja.Object
	typedC                                        [numTA]*goja.Object

	r      reader
	budget int          // bytes goja may still allocate beyond what the input accounts for
	shared []goja.Value // tag 28 values, in order; nil while one is being built
	stack  []any        // array items being collected (NewArray takes []any)
	holes  []int
	u16    []uint16
	hole   goja.Value // sentinel returned for tag 31 (an array hole)
	keys   map[string]string
	strs   map[string]goja.Value

	run    func()
	isArgs bool
	one    goja.Value
	many   []goja.Value
	err    error
	busy   bool
}

const (
	cacheEntries = 4096 // strings and keys the decoder keeps for reuse
	cacheMaxLen  = 32
)

// NewDecoder returns a decoder for rt. Call it while setting the runtime up,
// before user scripts run: it captures built-in constructors. h may be nil if
// the runtime has no Refs (Errors are then plain Error instances).
func NewDecoder(rt *goja.Runtime, h Hooks) *Decoder {
	internalsOK()
	js, err := newHelpers(rt)
	if err != nil {
		panic(err)
	}
	d := &Decoder{rt: rt, h: h, js: js, hole: rt.NewObject(),
		keys: make(map[string]string), strs: make(map[string]goja.Value)}
	ctor := func(name string) *goja.Object {
		c, _ := rt.Get(name).(*goja.Object)
		if c == nil {
			panic("codec: runtime has no " + name)
		}
		return c
	}
	d.dateC, d.regexpC, d.mapC, d.setC = ctor("Date"), ctor("RegExp"), ctor("Map"), ctor("Set")
	d.dataViewC, d.errorC = ctor("DataView"), ctor("Error")
	for k := range d.typedC {
		d.typedC[k] = ctor(typedArrayInfo[k].name)
	}
	d.run = d.runRoot
	return d
}

// Decode decodes one value. Errors caused by the input wrap ErrMalformed.
func (d *Decoder) Decode(b []byte) (goja.Value, error) {
	d.isArgs = false
	if err := d.decode(b); err != nil {
		return nil, err
	}
	v := d.one
	d.one = nil
	return v, nil
}

// DecodeArgs decodes what EncodeArgs wrote.
func (d *Decoder) DecodeArgs(b []byte) ([]goja.Value, error) {
	d.isArgs = true
	if err := d.decode(b); err != nil {
		return nil, err
	}
	v := d.many
	d.many = nil
	return v, nil
}

func (d *Decoder) decode(b []byte) error {
	if d.busy {
		// A hook called back into Go, which decodes something else.
		n := *d
		n.r, n.shared, n.stack, n.holes, n.u16 = reader{}, nil, nil, nil, nil
		n.busy = false
		n.run = n.runRoot
		err := n.decode(b)
		d.one, d.many = n.one, n.many
		return err
	}
	d.busy = true
	defer func() {
		if d.busy { // an uncatchable panic (an interrupt) went through rt.Try
			d.reset()
		}
	}()
	d.r = reader{b: b}
	d.budget = 16*len(b) + 1<<16
	ex := d.rt.Try(d.run)
	err := d.err
	if ex != nil && err == nil {
		err = &malformedError{off: d.r.off, msg: "a constructor threw", err: ex}
	}
	if err == nil && d.r.off != len(b) {
		err = d.r.fail("trailing bytes after the value")
	}
	d.reset()
	if err != nil {
		d.one, d.many = nil, nil
	}
	return err
}

func (d *Decoder) reset() {
	clear(d.shared)
	d.shared = d.shared[:0]
	clear(d.stack)
	d.stack = d.stack[:0]
	d.holes = d.holes[:0]
	if cap(d.stack) > 1<<16 || cap(d.shared) > 1<<16 || cap(d.u16) > 1<<16 {
		d.shared, d.stack, d.holes, d.u16 = nil, nil, nil, nil
	}
	d.r = reader{}
	d.err = nil
	d.busy = false
}

func (d *Decoder) runRoot() {
	if !d.isArgs {
		d.one, d.err = d.item()
		return
	}
	n, err := d.r.expect(majArray, "an array of arguments")
	if err == nil {
		var cnt int
		if cnt, err = d.r.count(n, 1); err == nil {
			d.many = make([]goja.Value, cnt)
			for i := range d.many {
				if d.many[i], err = d.item(); err != nil {
					break
				}
			}
		}
	}
	d.err = err
}

// item decodes a value where a hole is not allowed (it becomes undefined).
func (d *Decoder) item() (goja.Value, error) {
	v, err := d.value(-1)
	if v == d.hole {
		v = goja.Undefined()
	}
	return v, err
}

// value decodes one item. slot >= 0 means the item is under tag 28: a
// container stores itself in d.shared[slot] as soon as it exists, before its
// contents, so that they can refer back to it.
func (d *Decoder) value(slot int) (goja.Value, error) {
	if err := d.r.enter(); err != nil {
		return nil, err
	}
	defer d.r.leave()
	major, info, arg, err := d.r.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case majUint:
		if arg <= maxSafeInt {
			return d.rt.ToValue(int64(arg)), nil
		}
		return d.rt.ToValue(float64(arg)), nil
	case majNeg:
		if arg < maxSafeInt {
			return d.rt.ToValue(-1 - int64(arg)), nil
		}
		return d.rt.ToValue(-1 - float64(arg)), nil
	case majBytes:
		p, err := d.r.take(arg)
		if err != nil {
			return nil, err
		}
		return d.rt.ToValue(d.rt.NewArrayBuffer(append([]byte(nil), p...))), nil
	case majText:
		p, err := d.r.take(arg)
		if err != nil {
			return nil, err
		}
		if !validText(p) {
			return nil, d.r.fail("text string is not UTF-8")
		}
		return d.text(p), nil
	case majArray:
		return d.array(arg, slot)
	case majMap:
		return d.object(arg, slot)
	case majTag:
		return d.tagged(arg, slot)
	}
	switch info {
	case 20:
		return d.rt.ToValue(false), nil
	case 21:
		return d.rt.ToValue(true), nil
	case 22:
		return goja.Null(), nil
	case 23:
		return goja.Undefined(), nil
	case 25, 26, 27:
		return d.rt.ToValue(floatOf(info, arg)), nil
	}
	return nil, d.r.fail("unsupported simple value")
}

// text returns a JS string for valid UTF-8, reusing short ones.
func (d *Decoder) text(p []byte) goja.Value {
	if len(p) > cacheMaxLen {
		return d.rt.ToValue(string(p))
	}
	if v, ok := d.strs[string(p)]; ok {
		return v
	}
	v := d.rt.ToValue(string(p))
	if len(d.strs) < cacheEntries {
		d.strs[string(p)] = v
	}
	return v
}

// key returns a property name, reusing short ones.
func (d *Decoder) key(p []byte) string {
	if len(p) > cacheMaxLen {
		return string(p)
	}
	if k, ok := d.keys[string(p)]; ok {
		return k
	}
	k := string(p)
	if len(d.keys) < cacheEntries {
		d.keys[k] = k
	}
	return k
}

func (d *Decoder) setSlot(slot int, v goja.Value) {
	if slot >= 0 {
		d.shared[slot] = v
	}
}

// collect decodes n items onto d.stack (holes as nil, their indices on d.holes).
func (d *Decoder) collect(n int) error {
	for i := 0; i < n; i++ {
		v, err := d.value(-1)
		if err != nil {
			return err
		}
		if v == d.hole {
			d.holes = append(d.holes, i)
			v = nil
		}
		d.stack = append(d.stack, v)
	}
	return nil
}

func (d *Decoder) pop(mark, hmark int) {
	clear(d.stack[mark:])
	d.stack = d.stack[:mark]
	d.holes = d.holes[:hmark]
}

func (d *Decoder) array(n uint64, slot int) (goja.Value, error) {
	cnt, err := d.r.count(n, 1)
	if err != nil {
		return nil, err
	}
	var arr *goja.Object
	if slot >= 0 { // it may contain itself: it must exist first
		arr = d.rt.NewArray()
		d.setSlot(slot, arr)
	}
	mark, hmark := len(d.stack), len(d.holes)
	defer d.pop(mark, hmark)
	if err := d.collect(cnt); err != nil {
		return nil, err
	}
	items := d.stack[mark:]
	if arr == nil {
		arr = d.rt.NewArray(items...)
		for _, i := range d.holes[hmark:] {
			if err := arr.Delete(strconv.Itoa(i)); err != nil {
				return nil, err
			}
		}
		return arr, nil
	}
	for i, v := range items {
		if v != nil {
			if err := arr.Set(strconv.Itoa(i), v); err != nil {
				return nil, err
			}
		}
	}
	return arr, arr.Set("length", cnt)
}

// object decodes a CBOR map with string keys into a plain object.
func (d *Decoder) object(n uint64, slot int) (goja.Value, error) {
	cnt, err := d.r.count(n, 2)
	if err != nil {
		return nil, err
	}
	obj := d.rt.NewObject()
	d.setSlot(slot, obj)
	return obj, d.props(obj, cnt)
}

// props decodes cnt key/value pairs into obj as own enumerable data properties.
func (d *Decoder) props(obj *goja.Object, cnt int) error {
	for i := 0; i < cnt; i++ {
		m, _, arg, err := d.r.head()
		if err != nil {
			return err
		}
		var k string
		var uk goja.Value // a key with lone surrogates
		switch {
		case m == majText:
			p, err := d.r.take(arg)
			if err != nil {
				return err
			}
			if !validText(p) {
				return d.r.fail("key is not UTF-8")
			}
			k = d.key(p)
		case m == majTag && arg == tagUTF16:
			if uk, err = d.utf16(); err != nil {
				return err
			}
		default:
			return d.r.fail("object key is not a string")
		}
		v, err := d.item()
		if err != nil {
			return err
		}
		switch {
		case uk != nil:
			_, err = d.js.define(goja.Undefined(), obj, uk, v)
		case k == "__proto__": // Set would change the prototype
			err = obj.DefineDataProperty(k, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		default:
			err = obj.Set(k, v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// utf16 reads the content of tagUTF16.
func (d *Decoder) utf16() (goja.Value, error) {
	p, err := d.r.bytesOf()
	if err != nil {
		return nil, err
	}
	if len(p)%2 != 0 {
		return nil, d.r.fail("UTF-16 string of odd length")
	}
	d.u16 = utf16Units(p, d.u16)
	return goja.StringFromUTF16(d.u16), nil
}

// str reads a text string or a tagUTF16 string.
func (d *Decoder) str() (goja.Value, error) {
	m, _, arg, err := d.r.head()
	if err != nil {
		return nil, err
	}
	if m == majTag && arg == tagUTF16 {
		return d.utf16()
	}
	if m != majText {
		return nil, d.r.fail("expected a string")
	}
	p, err := d.r.take(arg)
	if err != nil {
		return nil, err
	}
	if !validText(p) {
		return nil, d.r.fail("text string is not UTF-8")
	}
	return d.text(p), nil
}

// arrayHead reads an array head whose size must be one of the given ones.
func (d *Decoder) arrayHead(sizes ...uint64) (int, error) {
	n, err := d.r.expect(majArray, "an array")
	if err != nil {
		return 0, err
	}
	for _, s := range sizes {
		if n == s {
			return int(n), nil
		}
	}
	return 0, d.r.fail("array of the wrong size")
}

func (d *Decoder) newObj(ctor *goja.Object, args ...goja.Value) (*goja.Object, error) {
	o, err := d.rt.New(ctor, args...)
	if err != nil {
		return nil, &malformedError{off: d.r.off, msg: "cannot construct", err: err}
	}
	return o, nil
}

func (d *Decoder) date(ms float64) (goja.Value, error) {
	if math.IsNaN(ms) || math.Abs(ms) > 8.64e15 {
		ms = math.NaN()
	} else {
		ms = math.Trunc(ms)
	}
	return d.newObj(d.dateC, d.rt.ToValue(ms))
}

func (d *Decoder) bignum(neg bool) (goja.Value, error) {
	p, err := d.r.bytesOf()
	if err != nil {
		return nil, err
	}
	if err := d.spend(len(p)); err != nil {
		return nil, err
	}
	bi := new(big.Int).SetBytes(p)
	if neg {
		bi.Add(bi, bigOne).Neg(bi)
	}
	return d.rt.ToValue(bi), nil
}

// spend charges allocations the input size does not account for.
func (d *Decoder) spend(n int) error {
	d.budget -= n
	if d.budget < 0 {
		return d.r.fail("value would need too much memory")
	}
	return nil
}

func (d *Decoder) ref() (goja.Value, error) {
	if _, err := d.arrayHead(2); err != nil {
		return nil, err
	}
	var parts [2]string
	for i := range parts {
		n, err := d.r.expect(majText, "a text string")
		if err != nil {
			return nil, err
		}
		p, err := d.r.take(n)
		if err != nil {
			return nil, err
		}
		if !validText(p) {
			return nil, d.r.fail("text string is not UTF-8")
		}
		parts[i] = string(p)
	}
	r := objects.Ref{Class: parts[0], ID: parts[1]}
	if err := r.Validate(); err != nil {
		return nil, &malformedError{off: d.r.off, msg: "invalid Ref", err: err}
	}
	if d.h == nil {
		return nil, d.r.fail("a Ref, but the decoder has no Hooks")
	}
	return d.h.MakeRef(r), nil
}
