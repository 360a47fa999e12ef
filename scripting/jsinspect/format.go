package jsinspect

import (
	"strings"

	"github.com/dop251/goja"
)

// Format formats console.log arguments as util.format does: a string first
// argument's %s %d %i %f %j %o %O %c %% directives, other arguments
// inspected (strings printed raw at top level), joined by spaces.
func Format(rt *goja.Runtime, args []goja.Value, opts Options) string {
	var b strings.Builder
	ex := rt.Try(func() { formatArgs(rt, args, opts, &b) })
	if ex != nil {
		b.WriteString("[Inspection threw: " + ex.Error() + "]")
	}
	return b.String()
}

func formatArgs(rt *goja.Runtime, args []goja.Value, opts Options, b *strings.Builder) {
	if len(args) == 0 {
		return
	}
	a := 0
	join := ""
	in := newInspector(rt, opts) // for intrinsics and number formatting
	in.colors = false
	if goja.IsString(args[0]) {
		first := args[0].String()
		if len(args) == 1 {
			b.WriteString(first)
			return
		}
		lastPos := 0
		for i := 0; i < len(first)-1; i++ {
			if first[i] != '%' {
				continue
			}
			i++
			c := first[i]
			if a+1 == len(args) {
				if c == '%' {
					b.WriteString(first[lastPos:i])
					lastPos = i + 1
				}
				continue
			}
			var tempStr string
			switch c {
			case 's':
				a++
				tempStr = in.formatS(args[a], opts)
			case 'j':
				a++
				tempStr = in.tryStringify(args[a])
			case 'd':
				a++
				tempStr = in.formatD(args[a], func(v goja.Value) goja.Value { return v.ToNumber() })
			case 'O':
				a++
				tempStr = Inspect(rt, args[a], opts)
			case 'o':
				a++
				sub := newInspector(rt, opts)
				sub.showHidden, sub.showProxy, sub.depth = true, true, 4
				tempStr = sub.inspectTop(args[a])
			case 'i':
				a++
				tempStr = in.formatD(args[a], func(v goja.Value) goja.Value {
					r, _ := in.callIntrinsic("parseInt", nil, v)
					return r
				})
			case 'f':
				a++
				if _, isSym := args[a].(*goja.Symbol); isSym {
					tempStr = "NaN"
				} else {
					r, _ := in.callIntrinsic("parseFloat", nil, args[a])
					tempStr = in.formatNumber(r)
				}
			case 'c':
				a++
				tempStr = ""
			case '%':
				b.WriteString(first[lastPos:i])
				lastPos = i + 1
				continue
			default:
				continue
			}
			if lastPos != i-1 {
				b.WriteString(first[lastPos : i-1])
			}
			b.WriteString(tempStr)
			lastPos = i + 1
		}
		if lastPos != 0 {
			a++
			join = " "
			if lastPos < len(first) {
				b.WriteString(first[lastPos:])
			}
		}
	}
	for ; a < len(args); a++ {
		v := args[a]
		b.WriteString(join)
		if goja.IsString(v) {
			b.WriteString(v.String())
		} else {
			b.WriteString(Inspect(rt, v, opts))
		}
		join = " "
	}
}

// formatS implements %s.
func (in *inspector) formatS(v goja.Value, opts Options) string {
	switch {
	case v == nil:
		return "undefined"
	case goja.IsNumber(v):
		return numberString(v)
	case goja.IsBigInt(v):
		return v.String() + "n"
	}
	if sym, ok := v.(*goja.Symbol); ok {
		return in.symbolString(sym)
	}
	o, ok := v.(*goja.Object)
	if !ok || !in.hasBuiltInToString(o) {
		return v.String()
	}
	sub := newInspector(in.rt, opts)
	sub.colors = false
	sub.depth = 0
	return sub.inspectTop(v)
}

// formatD implements %d and %i; conv converts the argument to a number.
func (in *inspector) formatD(v goja.Value, conv func(goja.Value) goja.Value) string {
	if v != nil && goja.IsBigInt(v) {
		return v.String() + "n"
	}
	if _, isSym := v.(*goja.Symbol); isSym {
		return "NaN"
	}
	if v == nil {
		v = goja.Undefined()
	}
	return in.formatNumber(conv(v))
}

// tryStringify implements %j.
func (in *inspector) tryStringify(v goja.Value) string {
	fn := in.intrinsic("JSON.stringify")
	f, ok := goja.AssertFunction(fn)
	if !ok {
		return "undefined"
	}
	if v == nil {
		v = goja.Undefined()
	}
	res, err := f(goja.Undefined(), v)
	if err != nil {
		if ex, isEx := err.(*goja.Exception); isEx {
			if eo := asObject(ex.Value()); eo != nil && valueString(eo.Get("name")) == "TypeError" &&
				strings.Contains(strings.ToLower(valueString(eo.Get("message"))), "circular") {
				return "[Circular]"
			}
		}
		panic(err)
	}
	return valueOrUndefined(res)
}

// hasBuiltInToString is Node's hasBuiltInToString: whether o's toString
// (or Symbol.toPrimitive) comes from a built-in prototype.
func (in *inspector) hasBuiltInToString(o *goja.Object) bool {
	for o.ExportType() == proxyType {
		p, _ := o.Export().(goja.Proxy)
		if p.Target() == nil {
			return true
		}
		o = p.Target()
	}
	toStringKey := propKey{name: "toString"}
	toPrimKey := propKey{sym: goja.SymToPrimitive}
	checkToString, checkToPrim := true, true
	if !isFunction(o.Get("toString")) {
		if !isFunction(o.GetSymbol(goja.SymToPrimitive)) {
			return true
		} else if in.hasOwn(o, toPrimKey) {
			return false
		}
		checkToString = false
	} else if in.hasOwn(o, toStringKey) {
		return false
	} else if !isFunction(o.GetSymbol(goja.SymToPrimitive)) {
		checkToPrim = false
	} else if in.hasOwn(o, toPrimKey) {
		return false
	}
	pointer := o
	for {
		pointer = pointer.Prototype()
		if pointer == nil {
			return true
		}
		if (checkToString && in.hasOwn(pointer, toStringKey)) || (checkToPrim && in.hasOwn(pointer, toPrimKey)) {
			break
		}
	}
	d := in.ownDesc(pointer, propKey{name: "constructor"})
	if !d.ok || !isFunction(d.value) {
		return false
	}
	return builtInObjects[valueString(asObject(d.value).Get("name"))]
}
