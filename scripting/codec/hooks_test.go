package codec

import (
	"testing"

	"github.com/dop251/goja"
	"github.com/odin-db/odin/objects"
)

// testHooks makes Refs plain objects whose prototype is RefProto, and Errors
// instances of the global constructor of that name when there is one.
type testHooks struct {
	rt       *goja.Runtime
	refProto *goja.Object
}

func (h *testHooks) RefOf(o *goja.Object) (objects.Ref, bool) {
	if o.Prototype() != h.refProto {
		return objects.Ref{}, false
	}
	return objects.Ref{Class: o.Get("class").String(), ID: o.Get("id").String()}, true
}

func (h *testHooks) MakeRef(r objects.Ref) goja.Value {
	o := h.rt.CreateObject(h.refProto)
	_ = o.Set("class", r.Class)
	_ = o.Set("id", r.ID)
	return o
}

func (h *testHooks) MakeError(name, message, stack string) *goja.Object {
	ctor, _ := h.rt.Get(name).(*goja.Object)
	errProto := h.rt.Get("Error").(*goja.Object).Get("prototype").(*goja.Object)
	isErr := false
	if ctor != nil {
		if p, ok := ctor.Get("prototype").(*goja.Object); ok {
			for ; p != nil; p = p.Prototype() {
				if p == errProto {
					isErr = true
					break
				}
			}
		}
	}
	if !isErr {
		ctor = h.rt.Get("Error").(*goja.Object)
	}
	e, err := h.rt.New(ctor, h.rt.ToValue(message))
	if err != nil {
		panic(err)
	}
	if e.Get("name").String() != name {
		_ = e.DefineDataProperty("name", h.rt.ToValue(name), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	_ = e.DefineDataProperty("stack", h.rt.ToValue(stack), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return e
}

// testSetup is a script every test runtime runs: Ref support and an error subclass.
const testSetup = `
var RefProto = { toString() { return this.class + "/" + this.id } };
function ref(c, id) { const r = Object.create(RefProto); r.class = c; r.id = id; return r }
class ValidationError extends Error {
	constructor(message, field, rule) { super(message); this.name = "ValidationError"; this.field = field; this.rule = rule }
}
`

type vm struct {
	rt  *goja.Runtime
	enc *Encoder
	dec *Decoder
}

func newVM(t testing.TB) *vm {
	t.Helper()
	rt := goja.New()
	h := &testHooks{rt: rt}
	// The codec captures built-ins at construction, before user scripts.
	v := &vm{rt: rt, enc: NewEncoder(rt, h), dec: NewDecoder(rt, h)}
	if _, err := rt.RunString(testSetup); err != nil {
		t.Fatal(err)
	}
	h.refProto = rt.Get("RefProto").(*goja.Object)
	return v
}

func (v *vm) run(t testing.TB, src string) goja.Value {
	t.Helper()
	val, err := v.rt.RunString(src)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return val
}
