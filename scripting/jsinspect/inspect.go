package jsinspect

import (
	"fmt"
	"math"
	"strings"

	"github.com/dop251/goja"
)

// Options controls Inspect and Format. Start from DefaultOptions(): the
// zero value means depth 0.
type Options struct {
	Depth       int  // default 2 (as Node); -1 = unlimited
	Colors      bool // ANSI colours as Node's defaults
	BreakLength int  // default 80; <= 0 means 80
	// Custom formats a host value itself (Odin uses it for Refs and
	// Tasklets); return ok=false to fall through to the normal formatting.
	Custom func(obj *goja.Object) (s string, ok bool)
}

// DefaultOptions returns Node's defaults: depth 2, no colours, breakLength 80.
func DefaultOptions() Options {
	return Options{Depth: 2, BreakLength: 80}
}

const (
	defaultMaxArrayLength  = 100
	defaultMaxStringLength = 10000
	unlimitedDepth         = math.MaxInt32
)

// inspector is Node's inspection context (ctx).
type inspector struct {
	rt              *goja.Runtime
	custom          func(*goja.Object) (string, bool)
	depth           int
	colors          bool
	breakLength     int
	maxArrayLength  int
	maxStringLength int
	showHidden      bool
	showProxy       bool
	customInspect   bool

	indentationLvl int
	currentDepth   int
	seen           []*goja.Object
	circular       map[*goja.Object]int

	intrinsics map[string]goja.Value
	descFn     goja.Callable
}

func newInspector(rt *goja.Runtime, opts Options) *inspector {
	in := &inspector{
		rt:              rt,
		custom:          opts.Custom,
		depth:           opts.Depth,
		colors:          opts.Colors,
		breakLength:     opts.BreakLength,
		maxArrayLength:  defaultMaxArrayLength,
		maxStringLength: defaultMaxStringLength,
		customInspect:   true,
		intrinsics:      make(map[string]goja.Value),
	}
	if in.depth < 0 {
		in.depth = unlimitedDepth
	}
	if in.breakLength <= 0 {
		in.breakLength = 80
	}
	return in
}

// Inspect formats v as util.inspect(v, opts) does.
//
// If inspecting throws a JavaScript exception (a throwing toStringTag
// getter or custom inspect function, say), Inspect returns what it has
// instead of panicking: "[Inspection threw: <exception>]".
func Inspect(rt *goja.Runtime, v goja.Value, opts Options) string {
	return newInspector(rt, opts).inspectTop(v)
}

func (in *inspector) inspectTop(v goja.Value) (s string) {
	ex := in.rt.Try(func() { s = in.formatValue(v, 0, false) })
	if ex != nil {
		return "[Inspection threw: " + ex.Error() + "]"
	}
	return s
}

func (in *inspector) s(str, style string) string { return stylize(in.colors, str, style) }

// formatValue is Node's formatValue.
func (in *inspector) formatValue(v goja.Value, recurseTimes int, typedArray bool) string {
	o, isObj := v.(*goja.Object)
	if !isObj || o == nil {
		if goja.IsNull(v) {
			return in.s("null", styleNull)
		}
		return in.formatPrimitive(v)
	}
	if in.custom != nil {
		if str, ok := in.custom(o); ok {
			return in.reindent(str)
		}
	}
	context := o
	if o.ExportType() == proxyType {
		for o.ExportType() == proxyType {
			p, _ := o.Export().(goja.Proxy)
			target := p.Target()
			if target == nil {
				return in.s("<Revoked Proxy>", styleSpecial)
			}
			if in.showProxy {
				return in.formatProxy(target, p.Handler(), recurseTimes)
			}
			o = target
		}
	}
	if in.customInspect {
		if str, ok := in.callCustomInspect(o, context, recurseTimes); ok {
			return str
		}
	}
	for _, s := range in.seen {
		if s == o {
			if in.circular == nil {
				in.circular = make(map[*goja.Object]int)
			}
			idx, ok := in.circular[o]
			if !ok {
				idx = len(in.circular) + 1
				in.circular[o] = idx
			}
			return in.s(fmt.Sprintf("[Circular *%d]", idx), styleSpecial)
		}
	}
	return in.formatRaw(o, recurseTimes, typedArray)
}

func (in *inspector) reindent(s string) string {
	if in.indentationLvl == 0 || !strings.Contains(s, "\n") {
		return s
	}
	return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", in.indentationLvl))
}

func (in *inspector) formatProxy(target, handler *goja.Object, recurseTimes int) string {
	if recurseTimes > in.depth {
		return in.s("Proxy [Array]", styleSpecial)
	}
	recurseTimes++
	in.indentationLvl += 2
	var h goja.Value = goja.Null()
	if handler != nil {
		h = handler
	}
	res := []string{in.formatValue(target, recurseTimes, false), in.formatValue(h, recurseTimes, false)}
	in.indentationLvl -= 2
	return in.reduceToSingleString(res, "", [2]string{"Proxy [", "]"}, kArrayExtrasType, recurseTimes, nil)
}

// rawParts is what formatRaw assembles before reducing to a string.
type rawParts struct {
	keys       []propKey
	base       string
	braces     [2]string
	formatter  func(recurseTimes int) []string
	extrasType int
	numeric    func(i int) bool
}

// formatRaw is Node's formatRaw.
func (in *inspector) formatRaw(o *goja.Object, recurseTimes int, typedArray bool) string {
	constructor, hasCtor := in.constructorName(o, recurseTimes)
	rawTag, tag := in.toStringTag(o)
	kind := in.detect(o, rawTag)

	p := rawParts{braces: [2]string{"{", "}"}, extrasType: kObjectType}
	tooDeep := recurseTimes > in.depth

	switch kind {
	case kindArray:
		length := arrayLength(o)
		prefix := ""
		if constructor != "Array" || !hasCtor || tag != "" {
			prefix = getPrefix(constructor, hasCtor, tag, "Array", fmt.Sprintf("(%d)", length))
		}
		p.keys = in.nonIndexKeys(o)
		p.braces = [2]string{prefix + "[", "]"}
		if length == 0 && len(p.keys) == 0 {
			return p.braces[0] + "]"
		}
		p.extrasType = kArrayExtrasType
		p.formatter = func(rt int) []string { return in.formatArray(o, length, rt) }
		p.numeric = in.numericAt(o)
	case kindSet, kindMap:
		name := "Set"
		if kind == kindMap {
			name = "Map"
		}
		size := 0
		if sz, ok := in.callIntrinsic(name+".prototype.size#get", o); ok {
			size = int(sz.ToInteger())
		}
		prefix := getPrefix(constructor, hasCtor, tag, name, fmt.Sprintf("(%d)", size))
		p.keys = in.getKeys(o)
		if kind == kindSet {
			p.formatter = func(rt int) []string { return in.formatSet(o, size, rt) }
		} else {
			p.formatter = func(rt int) []string { return in.formatMap(o, size, rt) }
		}
		if size == 0 && len(p.keys) == 0 {
			return prefix + "{}"
		}
		p.braces[0] = prefix + "{"
	case kindTypedArray:
		p.keys = in.nonIndexKeys(o)
		fallback := ""
		if !hasCtor {
			fallback = in.typedArrayName(o)
		}
		size := arrayLength(o)
		prefix := getPrefix(constructor, hasCtor, tag, fallback, fmt.Sprintf("(%d)", size))
		p.braces = [2]string{prefix + "[", "]"}
		if size == 0 && len(p.keys) == 0 && !in.showHidden {
			return p.braces[0] + "]"
		}
		p.formatter = func(rt int) []string { return in.formatTypedArray(o, size, rt) }
		p.extrasType = kArrayExtrasType
		p.numeric = func(int) bool { return true }
	default:
		if ret, done := in.formatNonIterable(o, kind, constructor, hasCtor, tag, recurseTimes, typedArray, &p); done {
			return ret
		}
	}

	if tooDeep {
		name := strings.TrimSuffix(getCtxStyle(o, constructor, hasCtor, tag), " ")
		if hasCtor {
			name = "[" + name + "]"
		}
		return in.s(name, styleSpecial)
	}
	recurseTimes++
	in.seen = append(in.seen, o)
	in.currentDepth = recurseTimes
	var output []string
	if p.formatter != nil {
		output = p.formatter(recurseTimes)
	}
	for _, k := range p.keys {
		output = append(output, in.formatProperty(o, recurseTimes, k, p.extrasType, nil))
	}
	if in.circular != nil {
		if idx, ok := in.circular[o]; ok {
			ref := in.s(fmt.Sprintf("<ref *%d>", idx), styleSpecial)
			if p.base == "" {
				p.base = ref
			} else {
				p.base = ref + " " + p.base
			}
		}
	}
	in.seen = in.seen[:len(in.seen)-1]
	return in.reduceToSingleString(output, p.base, p.braces, p.extrasType, recurseTimes, p.numeric)
}

// formatNonIterable handles the `noIterator` branch of Node's formatRaw.
// done reports that ret is the final result.
func (in *inspector) formatNonIterable(o *goja.Object, kind objKind, constructor string, hasCtor bool,
	tag string, recurseTimes int, typedArray bool, p *rawParts) (ret string, done bool) {
	p.keys = in.getKeys(o)
	noKeys := len(p.keys) == 0
	switch {
	case kind == kindFunction:
		p.base = in.functionBase(o, constructor, hasCtor, tag)
		if noKeys {
			return in.s(p.base, styleSpecial), true
		}
	case hasCtor && constructor == "Object" && (kind == kindPlain || kind == kindArguments):
		if kind == kindArguments {
			p.braces[0] = "[Arguments] {"
		} else if tag != "" {
			p.braces[0] = getPrefix(constructor, hasCtor, tag, "Object", "") + "{"
		}
		if noKeys {
			return p.braces[0] + "}", true
		}
	case kind == kindRegExp:
		src, _ := in.callIntrinsic("RegExp.prototype.toString", o)
		p.base = valueString(src)
		if prefix := getPrefix(constructor, hasCtor, tag, "RegExp", ""); prefix != "RegExp " {
			p.base = prefix + p.base
		}
		if noKeys || recurseTimes > in.depth {
			return in.s(p.base, styleRegexp), true
		}
	case kind == kindDate:
		p.base = in.dateString(o)
		if prefix := getPrefix(constructor, hasCtor, tag, "Date", ""); prefix != "Date " {
			p.base = prefix + p.base
		}
		if noKeys {
			return in.s(p.base, styleDate), true
		}
	case kind == kindError:
		p.base = in.formatError(o, constructor, hasCtor, tag, &p.keys)
		if len(p.keys) == 0 {
			return p.base, true
		}
	case kind == kindArrayBuffer:
		prefix := getPrefix(constructor, hasCtor, tag, "ArrayBuffer", "")
		ab, _ := o.Export().(goja.ArrayBuffer)
		if !typedArray {
			p.formatter = func(int) []string { return in.formatArrayBuffer(ab) }
		} else if noKeys {
			return prefix + "{ byteLength: " + in.formatNumber(o.Get("byteLength")) + " }", true
		}
		p.braces[0] = prefix + "{"
		p.keys = append([]propKey{{name: "byteLength"}}, p.keys...)
	case kind == kindDataView:
		p.braces[0] = getPrefix(constructor, hasCtor, tag, "DataView", "") + "{"
		p.keys = append([]propKey{{name: "byteLength"}, {name: "byteOffset"}, {name: "buffer"}}, p.keys...)
	case kind == kindPromise:
		p.braces[0] = getPrefix(constructor, hasCtor, tag, "Promise", "") + "{"
		pr, _ := o.Export().(*goja.Promise)
		p.formatter = func(rt int) []string { return in.formatPromise(pr, rt) }
	case kind == kindWeakSet:
		p.braces[0] = getPrefix(constructor, hasCtor, tag, "WeakSet", "") + "{"
		p.formatter = func(int) []string { return []string{in.s("<items unknown>", styleSpecial)} }
	case kind == kindWeakMap:
		p.braces[0] = getPrefix(constructor, hasCtor, tag, "WeakMap", "") + "{"
		p.formatter = func(int) []string { return []string{in.s("<items unknown>", styleSpecial)} }
	case kind >= kindNumber && kind <= kindBigInt:
		p.base = in.boxedBase(o, kind, constructor, hasCtor, tag, &p.keys)
		if len(p.keys) == 0 {
			return p.base, true
		}
	default:
		style := getCtxStyle(o, constructor, hasCtor, tag)
		if noKeys {
			return style + "{}", true
		}
		p.braces[0] = style + "{"
	}
	return "", false
}

// formatProperty is Node's formatProperty. desc may be nil.
func (in *inspector) formatProperty(o *goja.Object, recurseTimes int, key propKey, typ int, desc *propDesc) string {
	var d propDesc
	if desc != nil {
		d = *desc
	} else {
		d = in.ownDesc(o, key)
		if !d.ok {
			d = propDesc{ok: true, value: getProp(o, key), enumerable: true}
		}
	}
	var str string
	switch {
	case !undef(d.value):
		in.indentationLvl += 2
		str = in.formatValue(d.value, recurseTimes, false)
		in.indentationLvl -= 2
	case !undef(d.get):
		if !undef(d.set) {
			str = in.s("[Getter/Setter]", styleSpecial)
		} else {
			str = in.s("[Getter]", styleSpecial)
		}
	case !undef(d.set):
		str = in.s("[Setter]", styleSpecial)
	default:
		str = in.s("undefined", styleUndefined)
	}
	if typ == kArrayType {
		return str
	}
	var name string
	switch {
	case key.sym != nil:
		name = "[" + in.s(escapeNoQuote(in.symbolString(key.sym)), styleSymbol) + "]"
	case key.name == "__proto__":
		name = "['__proto__']"
	case !d.enumerable:
		name = "[" + escapeNoQuote(key.name) + "]"
	case isIdentifierKey(key.name):
		name = in.s(key.name, styleName)
	default:
		name = in.s(strEscapeString(key.name), styleString)
	}
	return name + ": " + str
}

// isIdentifierKey matches Node's keyStrRegExp /^[a-zA-Z_][a-zA-Z_0-9]*$/.
func isIdentifierKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// callCustomInspect honours value[Symbol.for('nodejs.util.inspect.custom')].
func (in *inspector) callCustomInspect(o, context *goja.Object, recurseTimes int) (string, bool) {
	sym, ok := in.intrinsics["@@custom"]
	if !ok {
		sym, _ = in.callIntrinsic("Symbol.for", nil, in.rt.ToValue("nodejs.util.inspect.custom"))
		in.intrinsics["@@custom"] = sym
	}
	s, isSym := sym.(*goja.Symbol)
	if !isSym {
		return "", false
	}
	fn := o.GetSymbol(s)
	if !isFunction(fn) {
		return "", false
	}
	if ctor := asObject(o.Get("constructor")); ctor != nil {
		if proto := asObject(ctor.Get("prototype")); proto == o {
			return "", false
		}
	}
	var depth goja.Value = goja.Null()
	if in.depth != unlimitedDepth {
		depth = in.rt.ToValue(in.depth - recurseTimes)
	}
	opts := in.rt.NewObject()
	_ = opts.Set("depth", depth)
	_ = opts.Set("colors", in.colors)
	_ = opts.Set("breakLength", in.breakLength)
	_ = opts.Set("compact", compact)
	_ = opts.Set("showHidden", in.showHidden)
	_ = opts.Set("stylize", func(str, style string) string { return in.s(str, style) })
	inspectFn := in.rt.ToValue(func(call goja.FunctionCall) goja.Value {
		sub := newInspector(in.rt, Options{Depth: 2, BreakLength: in.breakLength, Custom: in.custom})
		if oo := asObject(call.Argument(1)); oo != nil {
			if d := oo.Get("depth"); d != nil && goja.IsNull(d) {
				sub.depth = unlimitedDepth
			} else if !undef(d) {
				sub.depth = int(d.ToInteger())
			}
			if c := oo.Get("colors"); !undef(c) {
				sub.colors = c.ToBoolean()
			}
		}
		return in.rt.ToValue(sub.formatValue(call.Argument(0), 0, false))
	})
	ret, okCall := in.call(fn, context, depth, opts, inspectFn)
	if !okCall {
		return "", false
	}
	if ro, isObj := ret.(*goja.Object); isObj && ro == context {
		return "", false
	}
	if !goja.IsString(ret) {
		return in.formatValue(ret, recurseTimes, false), true
	}
	return in.reindent(ret.String()), true
}

func valueString(v goja.Value) string {
	if v == nil {
		return ""
	}
	return v.String()
}
