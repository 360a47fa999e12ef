package codec

import (
	"math"
	"strconv"

	"github.com/dop251/goja"
)

// tagged decodes the content of a tag.
func (d *Decoder) tagged(tag uint64, slot int) (goja.Value, error) {
	switch tag {
	case tagShareable:
		s := len(d.shared)
		d.shared = append(d.shared, nil)
		v, err := d.value(s)
		if err != nil {
			return nil, err
		}
		if v == d.hole {
			return nil, d.r.fail("a hole cannot be shared")
		}
		d.shared[s] = v
		return v, nil
	case tagSharedRef:
		n, err := d.r.uint()
		if err != nil {
			return nil, err
		}
		if n >= uint64(len(d.shared)) || d.shared[n] == nil {
			return nil, d.r.fail("reference to a value not (yet) marked shareable")
		}
		return d.shared[n], nil
	case tagAbsent:
		if _, info, _, err := d.r.head(); err != nil || info != 23 {
			return nil, d.r.fail("tag 31 must hold undefined")
		}
		return d.hole, nil
	case tagPosBignum, tagNegBignum:
		return d.bignum(tag == tagNegBignum)
	case tagEpochDate:
		secs, err := d.r.number()
		if err != nil {
			return nil, err
		}
		return d.date(math.Round(secs * 1000))
	case tagDate:
		ms, err := d.r.number()
		if err != nil {
			return nil, err
		}
		return d.date(ms)
	case tagUTF16:
		return d.utf16()
	case tagRegExp:
		if _, err := d.arrayHead(2); err != nil {
			return nil, err
		}
		src, err := d.str()
		if err != nil {
			return nil, err
		}
		flags, err := d.str()
		if err != nil {
			return nil, err
		}
		return d.newObj(d.regexpC, src, flags)
	case tagMap, tagSet:
		return d.collection(tag, slot)
	case tagError:
		return d.errorObj(slot)
	case tagRef:
		return d.ref()
	case tagSparse:
		return d.sparse(slot)
	case tagDataView:
		return d.view(d.dataViewC, 1, true)
	}
	if k, le, ok := typedArrayForTag(tag); ok {
		return d.view(d.typedC[k], typedArrayInfo[k].size, le)
	}
	return nil, d.r.fail("unsupported tag " + strconv.FormatUint(tag, 10))
}

// view decodes a byte string into a new ArrayBuffer and a view over all of it.
func (d *Decoder) view(ctor *goja.Object, size int, le bool) (goja.Value, error) {
	p, err := d.r.bytesOf()
	if err != nil {
		return nil, err
	}
	if len(p)%size != 0 {
		return nil, d.r.fail("typed array content is not a whole number of elements")
	}
	buf := append([]byte(nil), p...)
	if le != nativeLittleEndian && size > 1 {
		swapBytes(buf, size)
	}
	ab := d.rt.NewArrayBuffer(buf)
	return d.newObj(ctor, d.rt.ToValue(ab))
}

// collection decodes a Map ([k, v, k, v, ...]) or a Set ([v, ...]).
func (d *Decoder) collection(tag uint64, slot int) (goja.Value, error) {
	n, err := d.r.expect(majArray, "an array")
	if err != nil {
		return nil, err
	}
	cnt, err := d.r.count(n, 1)
	if err != nil {
		return nil, err
	}
	ctor, fill := d.setC, d.js.setFill
	if tag == tagMap {
		if cnt%2 != 0 {
			return nil, d.r.fail("Map with an odd number of items")
		}
		ctor, fill = d.mapC, d.js.mapFill
	}
	c, err := d.newObj(ctor)
	if err != nil {
		return nil, err
	}
	d.setSlot(slot, c)
	mark, hmark := len(d.stack), len(d.holes)
	defer d.pop(mark, hmark)
	if err := d.collect(cnt); err != nil {
		return nil, err
	}
	if len(d.holes) > hmark {
		return nil, d.r.fail("hole in a Map or Set")
	}
	if cnt > 0 {
		if _, err := fill(goja.Undefined(), c, d.rt.NewArray(d.stack[mark:]...)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// errorObj decodes [name, message, stack, props, cause?].
func (d *Decoder) errorObj(slot int) (goja.Value, error) {
	n, err := d.arrayHead(4, 5)
	if err != nil {
		return nil, err
	}
	var f [3]string
	for i := range f {
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		f[i] = s.String()
	}
	var e *goja.Object
	if d.h != nil {
		e = d.h.MakeError(f[0], f[1], f[2])
	} else if e, err = d.newObj(d.errorC, d.rt.ToValue(f[1])); err == nil {
		err = e.Set("name", f[0])
		if err == nil {
			err = e.DefineDataProperty("stack", d.rt.ToValue(f[2]), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
		}
	}
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, d.r.fail("Hooks.MakeError returned nil")
	}
	d.setSlot(slot, e)
	np, err := d.r.expect(majMap, "a map of properties")
	if err != nil {
		return nil, err
	}
	cnt, err := d.r.count(np, 2)
	if err != nil {
		return nil, err
	}
	if err := d.props(e, cnt); err != nil {
		return nil, err
	}
	if n == 5 {
		cause, err := d.item()
		if err != nil {
			return nil, err
		}
		if err := e.DefineDataProperty("cause", cause, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// sparse decodes [length, index, value, ...] with strictly ascending indices.
func (d *Decoder) sparse(slot int) (goja.Value, error) {
	n, err := d.r.expect(majArray, "an array")
	if err != nil {
		return nil, err
	}
	cnt, err := d.r.count(n, 1)
	if err != nil {
		return nil, err
	}
	if cnt%2 != 1 {
		return nil, d.r.fail("sparse array with an even number of items")
	}
	length, err := d.r.uint()
	if err != nil {
		return nil, err
	}
	if length > math.MaxUint32 {
		return nil, d.r.fail("array length out of range")
	}
	arr := d.rt.NewArray()
	d.setSlot(slot, arr)
	if err := arr.Set("length", length); err != nil {
		return nil, err
	}
	mark, hmark := len(d.stack), len(d.holes)
	defer d.pop(mark, hmark)
	last := int64(-1)
	for i := 0; i < cnt/2; i++ {
		idx, err := d.r.uint()
		if err != nil {
			return nil, err
		}
		if int64(idx) <= last || idx >= length {
			return nil, d.r.fail("sparse array indices out of order or range")
		}
		last = int64(idx)
		v, err := d.item()
		if err != nil {
			return nil, err
		}
		d.stack = append(d.stack, idx, v)
	}
	if last <= 4096 {
		if err := d.spend(16 * int(last+1)); err != nil {
			return nil, err
		}
	}
	// Highest index first, so that goja picks its sparse representation at
	// once when that index is above 4096. Below, goja allocates a dense slice
	// up to it, whatever the number of elements: charge that to the budget.
	for i := len(d.stack) - 2; i >= mark; i -= 2 {
		if err := arr.Set(strconv.FormatUint(d.stack[i].(uint64), 10), d.stack[i+1]); err != nil {
			return nil, err
		}
	}
	return arr, nil
}
