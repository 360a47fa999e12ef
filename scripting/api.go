package scripting

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/scripting/codec"
)

//go:embed prelude.js
var preludeSource string

var (
	preludeOnce sync.Once
	preludeProg *goja.Program
	preludeErr  error
)

func prelude() (*goja.Program, error) {
	preludeOnce.Do(func() {
		preludeProg, preludeErr = goja.Compile("odin:prelude", preludeSource, true)
	})
	return preludeProg, preludeErr
}

// Size guards on builtins that allocate in one step.
const (
	maxString = 1 << 26 // characters
	maxArray  = 1 << 24 // elements
)

// refInfo is what a Ref object carries, under a symbol key.
type refInfo struct {
	ref     objects.Ref
	timeout time.Duration // 0 = the worker's default
}

// api builds and serves the odin and console globals of one runtime.
type api struct {
	w         *Worker
	rt        *goja.Runtime
	odin      *goja.Object
	refSym    *goja.Symbol
	taskSym   *goja.Symbol
	refBase   *goja.Object
	refProtos map[string]*goja.Object // class name -> Ref prototype
	taskProto *goja.Object
	errCtors  map[string]*goja.Object
	args      *goja.Object
	globals   map[string]bool // names a class may use freely
}

func (w *Worker) init() error {
	rt := goja.New()
	w.rt = rt
	w.loaded = make(map[*ClassDef]*loadedClass)
	rt.SetMaxCallStackSize(w.cfg.MaxCallStack)
	rt.SetFieldNameMapper(goja.UncapFieldNameMapper())
	rt.SetTimeSource(func() time.Time {
		if w.detRand {
			return w.turnTime
		}
		return w.cfg.Now()
	})
	rt.SetRandSource(func() float64 {
		if w.detRand {
			return w.turnRandGen.Float64()
		}
		return w.rng.Float64()
	})
	rt.SetAsyncContextTracker(tracker{w})
	rt.SetPromiseRejectionTracker(w.trackRejection)
	x := &api{w: w, rt: rt, refSym: goja.NewSymbol("odin.ref"), taskSym: goja.NewSymbol("odin.tasklet"),
		refProtos: map[string]*goja.Object{}, errCtors: map[string]*goja.Object{}}
	w.api = x
	w.enc = codec.NewEncoder(rt, x)
	w.dec = codec.NewDecoder(rt, x)
	if err := x.install(); err != nil {
		return err
	}
	w.repair = newVMRepair(rt)
	return nil
}

func (x *api) install() error {
	rt := x.rt
	globals := map[string]bool{"odin": true, "console": true}
	for _, n := range rt.GlobalObject().GetOwnPropertyNames() {
		globals[n] = true
	}
	x.globals = globals

	o := rt.NewObject()
	x.odin = o
	set := func(name string, fn func(goja.FunctionCall) goja.Value) {
		_ = o.DefineDataProperty(name, rt.ToValue(fn), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	}
	set("define", x.define)
	set("ref", x.ref)
	set("self", x.self)
	set("spawn", x.spawn)
	set("channel", x.channel)
	set("sleep", x.sleep)
	set("yield", x.yield)
	set("exclusive", x.exclusive)
	set("withTimeout", x.withTimeout)
	set("objects", x.objects)
	set("inspect", x.inspect)
	set("find", x.find)
	set("placement", x.placement)
	set("migrate", x.migrate)
	set("checkpoint", x.checkpoint)
	set("classes", x.classes)
	x.args = rt.NewArray()
	_ = o.DefineDataProperty("args", x.args, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)

	prog, err := prelude()
	if err != nil {
		return err
	}
	fv, err := rt.RunProgram(prog)
	if err != nil {
		return err
	}
	fn, _ := goja.AssertFunction(fv)
	limits := rt.NewObject()
	_ = limits.Set("maxString", maxString)
	_ = limits.Set("maxArray", maxArray)
	if _, err := fn(goja.Undefined(), o, limits); err != nil {
		return err
	}
	for _, n := range []string{"ConstraintError", "TimeoutError", "DataCloneError", "ChannelClosedError",
		"KilledError", "UnavailableError", "OverloadedError", "NotDefinedError", "NondeterminismError"} {
		x.errCtors[n] = o.Get(n).ToObject(rt)
	}
	for _, n := range []string{"Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "EvalError", "URIError"} {
		x.errCtors[n] = rt.Get(n).ToObject(rt)
	}
	if err := x.installRefs(); err != nil {
		return err
	}
	x.installTasklets()
	if err := rt.Set("odin", o); err != nil {
		return err
	}
	if err := rt.Set("console", x.console()); err != nil {
		return err
	}
	freeze, _ := goja.AssertFunction(rt.Get("Object").ToObject(rt).Get("freeze"))
	_, err = freeze(goja.Undefined(), o)
	return err
}

// SetArgs sets odin.args (the script's extra command-line arguments).
func (x *api) setArgs(args []string) {
	for i, a := range args {
		_ = x.args.Set(strconv.Itoa(i), a)
	}
}

// throw raises a JS exception of one of odin's error classes.
func (x *api) throw(name, format string, a ...any) {
	panic(x.newError(name, fmt.Sprintf(format, a...), nil))
}

// newError builds an error object of a named class with extra properties.
func (x *api) newError(name, message string, props map[string]any) *goja.Object {
	ctor := x.errCtors[name]
	if ctor == nil {
		ctor = x.errCtors["Error"]
	}
	args := []goja.Value{x.rt.ToValue(message)}
	obj, err := x.rt.New(ctor, args...)
	if err != nil {
		obj = x.rt.NewGoError(errors.New(message))
	}
	for k, v := range props {
		_ = obj.Set(k, v)
	}
	if x.errCtors[name] == nil {
		_ = obj.Set("name", name)
	}
	// goja names native functions after their Go methods; users called
	// odin.find, not github.com/.../scripting.(*api).find-fm.
	if st := obj.Get("stack"); st != nil && strings.Contains(st.String(), "(*api).") {
		s := goNativeFrame.ReplaceAllString(st.String(), "at odin.$1 (native)")
		_ = obj.DefineDataProperty("stack", x.rt.ToValue(s), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	return obj
}

// goNativeFrame matches a stack frame of one of odin's native functions.
var goNativeFrame = regexp.MustCompile(`at [\w./-]*scripting\.\(\*api\)\.(\w+)-fm \(native\)`)

func (x *api) unavailable(msg string) *goja.Object { return x.newError("UnavailableError", msg, nil) }

// MakeError implements codec.Hooks.
func (x *api) MakeError(name, message, stack string) *goja.Object {
	e := x.newError(name, message, nil)
	if stack != "" {
		_ = e.DefineDataProperty("stack", x.rt.ToValue(stack), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	return e
}

// cloneError turns a codec error into an odin.DataCloneError.
func (x *api) cloneError(err error, where string) *goja.Object {
	var dce *codec.DataCloneError
	if errors.As(err, &dce) {
		return x.newError("DataCloneError", strings.Replace(dce.Error(), "value at ", "value at "+where+": ", 1), nil)
	}
	return x.newError("DataCloneError", where+": "+err.Error(), nil)
}

// thrown converts an error from a goja call into the JS value to report.
func (x *api) thrown(err error) goja.Value {
	var ex *goja.Exception
	if errors.As(err, &ex) {
		return ex.Value()
	}
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		// goja keeps the interrupt set until cleared, and building the
		// error below runs JavaScript.
		x.w.wmu.Lock()
		x.w.rt.ClearInterrupt()
		x.w.turnLimit = false
		x.w.wmu.Unlock()
		if tl, ok := ie.Value().(errTurnLimit); ok {
			return x.newError("TimeoutError", tl.Error(), nil)
		}
		return x.newError("Error", "interrupted: "+fmt.Sprint(ie.Value()), nil)
	}
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return x.newError("RangeError", "maximum call stack size exceeded", nil)
	}
	return x.newError("Error", err.Error(), nil)
}

// stampRemote appends to an error's stack where it was thrown, so that the
// caller on another object or node sees it.
func (x *api) stampRemote(v goja.Value, at objects.Ref) {
	o, ok := v.(*goja.Object)
	if !ok || at.Class == "" {
		return
	}
	st := o.Get("stack")
	if st == nil || goja.IsUndefined(st) {
		return
	}
	s := st.String()
	mark := "    at " + at.String() + " (node " + x.w.cfg.Node + ", vm " + strconv.Itoa(x.w.cfg.Index) + ")"
	if strings.Contains(s, mark) {
		return
	}
	_ = o.DefineDataProperty("stack", x.rt.ToValue(strings.TrimRight(s, "\n")+"\n"+mark), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

func (x *api) currentFrame(what string) *frame {
	f := x.w.cur
	if f == nil {
		x.throw("Error", "%s called outside of a script or object", what)
	}
	return f
}

// ---- classes ----

func (x *api) define(c goja.FunctionCall) goja.Value {
	cls, ok := c.Argument(0).(*goja.Object)
	if !ok {
		x.throw("TypeError", "odin.define takes a class, got %s", c.Argument(0).String())
	}
	if _, ok := goja.AssertConstructor(cls); !ok {
		x.throw("TypeError", "odin.define takes a class")
	}
	src := cls.ToString().String()
	if !strings.HasPrefix(src, "class") {
		x.throw("TypeError", "odin.define takes a class declared with the class keyword")
	}
	name := cls.Get("name").String()
	deps, err := x.w.checkClassSource(name, src)
	if err != nil {
		x.throw("NotDefinedError", "%s", err.Error())
	}
	if s := cls.Get("schema"); s != nil && !goja.IsUndefined(s) && !goja.IsNull(s) {
		if _, err := parseSchema(x.rt, s); err != nil {
			x.throw("TypeError", "class %s: %v", name, err)
		}
	}
	static := func(k string) any {
		if v := cls.Get(k); v != nil && !goja.IsUndefined(v) && !goja.IsNull(v) {
			return exportSchema(v)
		}
		return nil
	}
	indexes, err := objects.ParseIndexes(static("indexes"), static("unique"))
	if err != nil {
		x.throw("TypeError", "class %s: %v", name, err)
	}
	d, err := x.w.cfg.Classes.Define(name, src, deps, indexes)
	if err != nil {
		x.throw("TypeError", "%v", err)
	}
	if _, err := x.w.loadClass(d); err != nil {
		x.throw("TypeError", "%v", err)
	}
	return cls
}

func (x *api) classes(goja.FunctionCall) goja.Value {
	names := x.w.cfg.Classes.Names()
	vals := make([]any, len(names))
	for i, n := range names {
		vals[i] = n
	}
	return x.rt.NewArray(vals...)
}

// ---- refs ----

func (x *api) installRefs() error {
	rt := x.rt
	// Unknown method names fall through to a proxy at the end of every Ref's
	// prototype chain, so that a call to a class defined later (or elsewhere)
	// still works and a missing method answers NotDefinedError from the callee.
	target := rt.NewObject()
	proxy := rt.NewProxy(target, &goja.ProxyTrapConfig{
		Get: func(_ *goja.Object, prop string, receiver goja.Value) goja.Value {
			if prop == "then" || prop == "toJSON" || prop == "constructor" {
				return goja.Undefined()
			}
			return rt.ToValue(func(c goja.FunctionCall) goja.Value {
				return x.w.callRef(x.refInfoOf(c.This), prop, c.Arguments)
			})
		},
		GetSym: func(*goja.Object, *goja.Symbol, goja.Value) goja.Value { return goja.Undefined() },
		GetIdx: func(*goja.Object, int, goja.Value) goja.Value { return goja.Undefined() },
	})
	base := rt.NewObject()
	if err := base.SetPrototype(rt.ToValue(proxy).ToObject(rt)); err != nil {
		return err
	}
	str := func(c goja.FunctionCall) goja.Value { return rt.ToValue(x.refInfoOf(c.This).ref.String()) }
	_ = base.DefineDataProperty("toString", rt.ToValue(str), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = base.DefineDataProperty("toJSON", rt.ToValue(str), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = base.DefineDataProperty("call", rt.ToValue(func(c goja.FunctionCall) goja.Value {
		if len(c.Arguments) == 0 {
			x.throw("TypeError", "ref.call(method, ...args) needs a method name")
		}
		return x.w.callRef(x.refInfoOf(c.This), c.Arguments[0].String(), c.Arguments[1:])
	}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = base.DefineDataProperty("equals", rt.ToValue(func(c goja.FunctionCall) goja.Value {
		o, ok := c.Argument(0).(*goja.Object)
		if !ok {
			return rt.ToValue(false)
		}
		r, ok := x.RefOf(o)
		return rt.ToValue(ok && r == x.refInfoOf(c.This).ref)
	}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	x.refBase = base
	x.refProtos[channelClass] = x.refProtoFor(channelClass, nil)
	for _, m := range []string{"send", "receive", "next", "balance", "close"} {
		name := m
		_ = x.refProtos[channelClass].DefineDataProperty(name, rt.ToValue(func(c goja.FunctionCall) goja.Value {
			return x.w.channelOp(x.refInfoOf(c.This), name, c.Arguments)
		}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	return nil
}

// refProtoFor returns the prototype of Refs to a class, with one native
// method per known method name (faster than the proxy fallback).
func (x *api) refProtoFor(class string, methods []string) *goja.Object {
	p := x.refProtos[class]
	if p == nil {
		p = x.rt.CreateObject(x.refBase)
		x.refProtos[class] = p
	}
	for _, m := range methods {
		if m == "class" || m == "id" || m == "toString" || m == "call" || m == "equals" {
			continue
		}
		name := m
		_ = p.DefineDataProperty(name, x.rt.ToValue(func(c goja.FunctionCall) goja.Value {
			return x.w.callRef(x.refInfoOf(c.This), name, c.Arguments)
		}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	return p
}

// makeRef builds a Ref object.
func (x *api) makeRef(info *refInfo) *goja.Object {
	p := x.refProtos[info.ref.Class]
	if p == nil {
		p = x.refProtoFor(info.ref.Class, nil)
	}
	o := x.rt.CreateObject(p)
	_ = o.DefineDataPropertySymbol(x.refSym, x.rt.ToValue(info), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = o.DefineDataProperty("class", x.rt.ToValue(info.ref.Class), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = o.DefineDataProperty("id", x.rt.ToValue(info.ref.ID), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	return o
}

// MakeRef implements codec.Hooks.
func (x *api) MakeRef(r objects.Ref) goja.Value { return x.makeRef(&refInfo{ref: r}) }

// RefOf implements codec.Hooks.
func (x *api) RefOf(o *goja.Object) (objects.Ref, bool) {
	if info := x.refInfoOfObj(o); info != nil {
		return info.ref, true
	}
	return objects.Ref{}, false
}

func (x *api) refInfoOfObj(o *goja.Object) *refInfo {
	v := o.GetSymbol(x.refSym)
	if v == nil {
		return nil
	}
	info, _ := v.Export().(*refInfo)
	return info
}

func (x *api) refInfoOf(v goja.Value) *refInfo {
	if o, ok := v.(*goja.Object); ok {
		if info := x.refInfoOfObj(o); info != nil {
			return info
		}
	}
	x.throw("TypeError", "not a Ref: %s", v.String())
	return nil
}

func (x *api) ref(c goja.FunctionCall) goja.Value {
	var class string
	switch v := c.Argument(0).(type) {
	case *goja.Object:
		if _, ok := goja.AssertConstructor(v); ok {
			class = v.Get("name").String()
		} else {
			class = v.String()
		}
	default:
		class = v.String()
	}
	idv := c.Argument(1)
	if goja.IsUndefined(idv) || goja.IsNull(idv) {
		x.throw("TypeError", "odin.ref(%q, id) needs an id", class)
	}
	r := objects.Ref{Class: class, ID: idv.String()}
	if err := r.Validate(); err != nil {
		x.throw("TypeError", "%v", err)
	}
	return x.makeRef(&refInfo{ref: r})
}

func (x *api) self(goja.FunctionCall) goja.Value {
	f := x.currentFrame("odin.self()")
	if f.act.script || f.act.ch != nil {
		x.throw("Error", "odin.self() is only available inside an object's method")
	}
	return x.makeRef(&refInfo{ref: f.act.ref})
}

func (x *api) withTimeout(c goja.FunctionCall) goja.Value {
	ms := c.Argument(0).ToFloat()
	if !(ms > 0) {
		x.throw("RangeError", "odin.withTimeout(ms, ref): ms must be a positive number")
	}
	info := x.refInfoOf(c.Argument(1))
	return x.makeRef(&refInfo{ref: info.ref, timeout: time.Duration(ms * float64(time.Millisecond))})
}

// ---- queries ----

func (x *api) objects(c goja.FunctionCall) goja.Value {
	class := c.Argument(0).String()
	if o, ok := c.Argument(0).(*goja.Object); ok {
		if _, ok := goja.AssertConstructor(o); ok {
			class = o.Get("name").String()
		}
	}
	after, limit := "", 100
	if o, ok := c.Argument(1).(*goja.Object); ok {
		if v := o.Get("after"); v != nil && !goja.IsUndefined(v) {
			if info := x.refInfoOfObjValue(v); info != nil {
				after = info.ref.ID
			} else {
				after = v.String()
			}
		}
		if v := o.Get("limit"); v != nil && !goja.IsUndefined(v) {
			limit = int(v.ToInteger())
			if limit <= 0 || limit > 10000 {
				x.throw("RangeError", "odin.objects: limit must be between 1 and 10000")
			}
		}
	}
	if after != "" {
		// Ids hold no NUL and sort by bytes: the ids after "a\x00..." are those after "a".
		if i := strings.IndexByte(after, 0); i >= 0 {
			after = after[:i]
		}
	}
	return x.sendQuery(&objects.Query{Class: class, After: after, Limit: limit}, "odin.objects")
}

// sendQuery sends a planned query to the host (find.go) and returns the
// promise of its answer. The after cursor of an id-order query is an id.
func (x *api) sendQuery(q *objects.Query, what string) goja.Value {
	args, err := EncodeQuery(q)
	if err != nil {
		x.throw("Error", "%s: %v", what, err)
	}
	w := x.w
	f := x.currentFrame(what)
	pd, p := w.newPending(pendFind)
	pd.sel, pd.partial = q.Select, q.Partial
	pd.deadline = w.turnNow().Add(w.cfg.CallTimeout).UnixNano()
	m := &Message{Kind: KindFind, To: objects.Ref{Class: q.Class}, Method: "find", Args: args,
		From: w.address(f.act, pd.seq), Deadline: pd.deadline}
	w.track(f.act, pd, m)
	w.emit(m)
	return w.rt.ToValue(p)
}

func (x *api) refInfoOfObjValue(v goja.Value) *refInfo {
	if o, ok := v.(*goja.Object); ok {
		return x.refInfoOfObj(o)
	}
	return nil
}

func (x *api) inspect(c goja.FunctionCall) goja.Value {
	info := x.refInfoOf(c.Argument(0))
	return x.w.sendInspect(info.ref, false)
}
