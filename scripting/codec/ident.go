package codec

import (
	"math/bits"
	"unsafe"

	"github.com/dop251/goja"
)

// idTable maps the objects written so far to their index in Encoder.recs. It
// is an open-addressing hash table on the object's address (Go does not move
// heap objects, and goja itself hashes objects by address), several times
// cheaper than a Go map for the tens of thousands of inserts of a large value.
type idTable struct {
	slots []idSlot
	n     int
	shift uint // 64 - log2(len(slots))
}

type idSlot struct {
	o *goja.Object
	i int32
}

func (t *idTable) home(o *goja.Object) int {
	return int(uint64(uintptr(unsafe.Pointer(o))) * 0x9e3779b97f4a7c15 >> t.shift)
}

func (t *idTable) find(o *goja.Object) (int32, bool) {
	if t.n == 0 {
		return 0, false
	}
	mask := len(t.slots) - 1
	for i := t.home(o); ; i = (i + 1) & mask {
		switch t.slots[i].o {
		case o:
			return t.slots[i].i, true
		case nil:
			return 0, false
		}
	}
}

// insert adds o, which must not be present.
func (t *idTable) insert(o *goja.Object, idx int32) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	mask := len(t.slots) - 1
	i := t.home(o)
	for t.slots[i].o != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = idSlot{o, idx}
	t.n++
}

func (t *idTable) grow() {
	old := t.slots
	size := max(64, 2*len(old))
	t.slots = make([]idSlot, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	t.n = 0
	for _, s := range old {
		if s.o != nil {
			t.insert(s.o, s.i)
		}
	}
}

// reset empties the table, keeping its memory unless it grew very large.
func (t *idTable) reset() {
	if t.n == 0 {
		return
	}
	if len(t.slots) > 1<<17 {
		*t = idTable{}
		return
	}
	clear(t.slots)
	t.n = 0
}
