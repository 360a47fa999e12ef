package scripting

import (
	"reflect"
	"unsafe"

	"github.com/dop251/goja"
)

// vmRepair works around a goja bug: an interrupt that stops code inside an
// async function (or a generator) unwinds without popping the frames the
// async function pushed, so the VM's call and try stacks stay non-empty
// with nothing running; goja then never runs promise jobs again (every
// await hangs) and does not clear the interrupt. Between events nothing
// runs on the worker, so the stacks must be empty: run resets them, and the
// stack pointers, to the values saved when the VM was idle. It reads and
// writes goja's private fields through reflection; if their layout
// changes, it does nothing, and TestSessionInterruptLoop fails.
type vmRepair struct {
	stacks []reflect.Value          // callStack, tryStack, iterStack, refStack
	scalar map[string]reflect.Value // sp, sb, args, privEnv, curAsyncRunner
	saved  map[string]reflect.Value // their idle values
}

// newVMRepair takes the idle state of rt's VM; it must be called on the
// worker's goroutine while no JavaScript runs.
func newVMRepair(rt *goja.Runtime) *vmRepair {
	rv := reflect.ValueOf(rt).Elem().FieldByName("vm")
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	vm := rv.Elem()
	field := func(name string) (reflect.Value, bool) {
		f := vm.FieldByName(name)
		if !f.IsValid() || !f.CanAddr() {
			return reflect.Value{}, false
		}
		return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem(), true
	}
	r := &vmRepair{scalar: map[string]reflect.Value{}, saved: map[string]reflect.Value{}}
	for _, n := range []string{"callStack", "tryStack", "iterStack", "refStack"} {
		f, ok := field(n)
		if !ok || f.Kind() != reflect.Slice || f.Len() != 0 {
			return nil
		}
		r.stacks = append(r.stacks, f)
	}
	for _, n := range []string{"sp", "sb", "args", "privEnv", "curAsyncRunner"} {
		f, ok := field(n)
		if !ok {
			return nil
		}
		r.scalar[n] = f
		v := reflect.New(f.Type()).Elem()
		v.Set(f)
		r.saved[n] = v
	}
	return r
}

// run restores the idle state if an interrupt left frames behind, and
// reports whether it had to.
func (r *vmRepair) run() bool {
	if r == nil || r.stacks[0].Len() == 0 && r.stacks[1].Len() == 0 {
		return false
	}
	for _, f := range r.stacks {
		f.Set(f.Slice(0, 0))
	}
	for n, f := range r.scalar {
		f.Set(r.saved[n])
	}
	return true
}
