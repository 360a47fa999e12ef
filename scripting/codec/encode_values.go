package codec

import (
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"
)

func appendText(b []byte, s string) []byte {
	return append(appendHead(b, majText, uint64(len(s))), s...)
}

func appendBytes(b []byte, p []byte) []byte {
	return append(appendHead(b, majBytes, uint64(len(p))), p...)
}

// str encodes a JS string: a CBOR text string when it is valid UTF-16, else
// its code units under tagUTF16. ASCII strings are copied as they are.
func (e *Encoder) str(s goja.String) {
	switch reflect.TypeOf(s) {
	case tASCII:
		e.buf = appendText(e.buf, s.String())
		return
	case tImported: // a Go string handed to ToValue: exact if it is valid UTF-8
		if gs := s.String(); utf8.ValidString(gs) {
			e.buf = appendText(e.buf, gs)
			return
		}
	case tUnicode:
		if u, ok := unicodeUnits(s); ok {
			e.utf16(u)
			return
		}
	}
	n := s.Length()
	u := e.u16[:0]
	for i := 0; i < n; i++ {
		u = append(u, s.CharAt(i))
	}
	e.u16 = u
	e.utf16(u)
}

// utf16 encodes UTF-16 code units.
func (e *Encoder) utf16(u []uint16) { e.buf = appendUTF16(e.buf, u) }

// appendUTF16 appends UTF-16 code units as a text string, transcoded to
// UTF-8, or, if they hold a lone surrogate, as themselves under tagUTF16.
func appendUTF16(b []byte, u []uint16) []byte {
	n := 0
	for i := 0; i < len(u); i++ {
		switch c := u[i]; {
		case c < 0x80:
			n++
		case c < 0x800:
			n += 2
		case c < 0xd800 || c > 0xdfff:
			n += 3
		case c <= 0xdbff && i+1 < len(u) && u[i+1] >= 0xdc00 && u[i+1] <= 0xdfff:
			n += 4
			i++
		default:
			b = appendTag(b, tagUTF16)
			b = appendHead(b, majBytes, uint64(2*len(u)))
			for _, c := range u {
				b = append(b, byte(c), byte(c>>8))
			}
			return b
		}
	}
	b = appendHead(b, majText, uint64(n))
	for i := 0; i < len(u); i++ {
		c := rune(u[i])
		switch {
		case c < 0x80:
			b = append(b, byte(c))
			continue
		case c >= 0xd800 && c <= 0xdbff:
			c = 0x10000 + (c-0xd800)<<10 + rune(u[i+1]) - 0xdc00
			i++
		}
		b = utf8.AppendRune(b, c)
	}
	return b
}

// bigint encodes a BigInt.
func (e *Encoder) bigint(v goja.Value) error {
	bi, ok := v.Export().(*big.Int) // a copy
	if !ok {
		return &encodeError{what: "BigInt that cannot be read"}
	}
	e.buf = appendBigInt(e.buf, bi)
	return nil
}

// appendBigInt encodes a BigInt as tag 2 or 3 (always, even when small, so
// that it decodes as a BigInt and not as a Number). It modifies negative x.
func appendBigInt(b []byte, x *big.Int) []byte {
	if x.Sign() >= 0 {
		b = appendTag(b, tagPosBignum)
	} else {
		b = appendTag(b, tagNegBignum)
		x.Neg(x).Sub(x, bigOne) // -1 - n
	}
	n := (x.BitLen() + 7) / 8
	b = appendHead(b, majBytes, uint64(n))
	b = slices.Grow(b, n)[:len(b)+n]
	x.FillBytes(b[len(b)-n:])
	return b
}

var bigOne = big.NewInt(1)

// date encodes a Date.
func (e *Encoder) date(o *goja.Object) {
	t, ok := o.Export().(time.Time)
	if !ok {
		e.buf = appendDateMs(e.buf, math.NaN())
		return
	}
	e.buf = appendDateMs(e.buf, float64(t.UnixMilli()))
}

// appendDateMs encodes a time value (integer milliseconds, or NaN for an
// invalid Date) as tag 1 (epoch seconds) when that is exact, else as tagDate
// with the milliseconds.
func appendDateMs(b []byte, ms float64) []byte {
	if ms != ms {
		return appendFloat(appendTag(b, tagDate), ms)
	}
	if math.Mod(ms, 1000) == 0 {
		return appendInt(appendTag(b, tagEpochDate), int64(ms/1000))
	}
	if secs := ms / 1000; math.Round(secs*1000) == ms {
		return appendFloat(appendTag(b, tagEpochDate), secs)
	}
	return appendInt(appendTag(b, tagDate), int64(ms))
}

// sparseForm decides between a CBOR array with holes (tag 31 each) and the
// sparse form [length, index, value, ...]. It depends only on the length and
// the number of elements, so that a decoded array re-encodes the same way.
func sparseForm(length uint32, present int) bool {
	holes := int64(length) - int64(present)
	return holes > 1024 && holes > int64(present)
}

var holeBytes = []byte{0xd8, tagAbsent, cborUndefined}

// array encodes a dense goja array, reading its element slice directly.
func (e *Encoder) array(o *goja.Object) error {
	if !gi.ok {
		return e.arrayPublic(o)
	}
	vp, length := denseValues(o)
	vals := *vp
	lim := min(len(vals), int(length))
	present := 0
	for _, v := range vals[:lim] {
		if v != nil {
			present++
		}
	}
	if sparseForm(length, present) {
		mark := len(e.items)
		for i, v := range vals[:lim] {
			if v != nil {
				e.items = append(e.items, sparseItem{uint32(i), v})
			}
		}
		return e.arrayItems(o, length, mark)
	}
	e.buf = appendHead(e.buf, majArray, uint64(length))
	for i := 0; i < int(length); i++ {
		var v goja.Value
		if vals := *vp; i < len(vals) { // re-read: a getter may have changed the array
			v = vals[i]
		}
		if v != nil && isValueProperty(v) {
			v = o.Get(strconv.Itoa(i))
		}
		if v == nil {
			e.buf = append(e.buf, holeBytes...)
			continue
		}
		if err := e.value(v); err != nil {
			return withSeg(err, indexSeg(i))
		}
	}
	return nil
}

// snapshot copies a sparse array's items (ascending, below length) onto the
// items stack and returns where they start.
func (e *Encoder) snapshot(items []sparseItem) int {
	mark := len(e.items)
	e.items = append(e.items, items...)
	return mark
}

// arrayItems encodes the array whose elements are e.items[mark:], then pops them.
func (e *Encoder) arrayItems(o *goja.Object, length uint32, mark int) error {
	n := len(e.items) - mark
	var err error
	if sparseForm(length, n) {
		e.buf = appendTag(e.buf, tagSparse)
		e.buf = appendHead(e.buf, majArray, uint64(1+2*n))
		e.buf = appendHead(e.buf, majUint, uint64(length))
		for j := 0; j < n && err == nil; j++ {
			it := e.items[mark+j]
			e.buf = appendHead(e.buf, majUint, uint64(it.idx))
			err = e.itemValue(o, it)
		}
	} else {
		e.buf = appendHead(e.buf, majArray, uint64(length))
		next := uint32(0)
		for j := 0; j < n && err == nil; j++ {
			it := e.items[mark+j]
			for ; next < it.idx; next++ {
				e.buf = append(e.buf, holeBytes...)
			}
			err = e.itemValue(o, it)
			next = it.idx + 1
		}
		for ; err == nil && next < length; next++ {
			e.buf = append(e.buf, holeBytes...)
		}
	}
	clear(e.items[mark:])
	e.items = e.items[:mark]
	return err
}

func (e *Encoder) itemValue(o *goja.Object, it sparseItem) error {
	v := it.value
	if isValueProperty(v) {
		v = o.Get(strconv.FormatUint(uint64(it.idx), 10))
	}
	if err := e.value(v); err != nil {
		return withSeg(err, indexSeg(int(it.idx)))
	}
	return nil
}

// arrayPublic reads an array through the public API (no goja internals).
func (e *Encoder) arrayPublic(o *goja.Object) error {
	l := o.Get("length").ToFloat()
	length := uint32(0)
	if l > 0 && l <= math.MaxUint32 {
		length = uint32(l)
	}
	mark := len(e.items)
	if length <= 4096 {
		for i := uint32(0); i < length; i++ {
			if v := o.Get(strconv.FormatUint(uint64(i), 10)); v != nil {
				e.items = append(e.items, sparseItem{i, v})
			}
		}
	} else {
		for _, k := range o.Keys() {
			if idx, err := strconv.ParseUint(k, 10, 32); err == nil && idx < uint64(length) &&
				strconv.FormatUint(idx, 10) == k {
				e.items = append(e.items, sparseItem{uint32(idx), o.Get(k)})
			}
		}
		slices.SortFunc(e.items[mark:], func(a, b sparseItem) int { return int(a.idx) - int(b.idx) })
	}
	return e.arrayItems(o, length, mark)
}

// fixup inserts the value-sharing tags once encoding is done: tag 28 before
// each object that turned out to be referenced again, and tag 29 with its
// index at each back-reference (which wrote nothing while encoding). Objects
// are marked only when seen a second time, so acyclic values never come here.
// It moves the bytes once, from the end, inside e.buf.
func (e *Encoder) fixup() {
	var k uint64
	extra := 0
	for i := range e.recs {
		if e.recs[i].marked {
			e.recs[i].share = k
			k++
			extra += 2
		}
	}
	for _, r := range e.refs {
		extra += 2 + headSize(e.recs[r.target].share)
	}
	src := len(e.buf)
	e.buf = slices.Grow(e.buf, extra)[:src+extra]
	buf, dst := e.buf, src+extra
	ri, ci := len(e.refs)-1, len(e.recs)-1
	var tmp [11]byte
	for {
		for ci >= 0 && !e.recs[ci].marked {
			ci--
		}
		if ri < 0 && ci < 0 {
			break
		}
		var pos int
		ins := tmp[:0]
		if ri >= 0 && (ci < 0 || e.refs[ri].pos > e.recs[ci].start ||
			e.refs[ri].pos == e.recs[ci].start && e.refs[ri].seq > e.recs[ci].seq) {
			pos = e.refs[ri].pos
			ins = appendHead(append(ins, 0xd8, tagSharedRef), majUint, e.recs[e.refs[ri].target].share)
			ri--
		} else {
			pos = e.recs[ci].start
			ins = append(ins, 0xd8, tagShareable)
			ci--
		}
		seg := src - pos
		copy(buf[dst-seg:dst], buf[pos:src])
		dst -= seg
		copy(buf[dst-len(ins):dst], ins)
		dst -= len(ins)
		src = pos
	}
}
