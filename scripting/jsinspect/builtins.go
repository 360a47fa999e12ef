package jsinspect

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// formatPrimitive is Node's formatPrimitive (v is not an object).
func (in *inspector) formatPrimitive(v goja.Value) string {
	switch {
	case undef(v):
		return in.s("undefined", styleUndefined)
	case goja.IsString(v):
		return in.formatString(v)
	case goja.IsNumber(v):
		return in.formatNumber(v)
	case goja.IsBigInt(v):
		return in.s(v.String()+"n", styleBigint)
	}
	if sym, ok := v.(*goja.Symbol); ok {
		return in.s(in.symbolString(sym), styleSymbol)
	}
	if b, ok := v.Export().(bool); ok {
		return in.s(strconv.FormatBool(b), styleBoolean)
	}
	return v.String()
}

func (in *inspector) formatNumber(v goja.Value) string {
	if v == nil {
		return in.s("undefined", styleUndefined)
	}
	return in.s(numberString(v), styleNumber)
}

// numberString is JavaScript's `${number}` except that -0 prints as "-0".
func numberString(v goja.Value) string {
	if f := v.ToFloat(); f == 0 && math.Signbit(f) {
		return "-0"
	}
	return v.String()
}

func (in *inspector) symbolString(sym *goja.Symbol) string {
	return "Symbol(" + sym.String() + ")"
}

// jsTextOf converts a goja string, keeping lone surrogates.
func jsTextOf(gs goja.String) jsText {
	s := gs.String()
	n := gs.Length()
	if len(s) == n { // ASCII
		return jsText{s: s}
	}
	lone := false
	for i := 0; i < n; i++ {
		c := gs.CharAt(i)
		if c >= 0xd800 && c <= 0xdbff && i+1 < n {
			if d := gs.CharAt(i + 1); d >= 0xdc00 && d <= 0xdfff {
				i++
				continue
			}
		}
		if c >= 0xd800 && c <= 0xdfff {
			lone = true
			break
		}
	}
	if !lone {
		return jsText{s: s}
	}
	runes := make([]rune, 0, n)
	for i := 0; i < n; i++ {
		c := rune(gs.CharAt(i))
		if c >= 0xd800 && c <= 0xdbff && i+1 < n {
			if d := rune(gs.CharAt(i + 1)); d >= 0xdc00 && d <= 0xdfff {
				runes = append(runes, 0x10000+(c-0xd800)<<10+(d-0xdc00))
				i++
				continue
			}
		}
		runes = append(runes, c)
	}
	return jsText{s: s, runes: runes}
}

// splitLines splits after each "\n" like JavaScript's split(/(?<=\n)/).
func (t jsText) splitLines() []jsText {
	if t.runes == nil {
		if !strings.Contains(t.s, "\n") {
			return []jsText{t}
		}
		parts := strings.SplitAfter(t.s, "\n")
		if len(parts) > 1 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		res := make([]jsText, len(parts))
		for i, p := range parts {
			res[i] = jsText{s: p}
		}
		return res
	}
	var res []jsText
	start := 0
	for i, r := range t.runes {
		if r == '\n' {
			res = append(res, jsText{runes: t.runes[start : i+1]})
			start = i + 1
		}
	}
	if start < len(t.runes) || len(res) == 0 {
		res = append(res, jsText{runes: t.runes[start:]})
	}
	return res
}

func (in *inspector) formatString(v goja.Value) string {
	gs, ok := v.(goja.String)
	if !ok {
		return in.s(strEscapeString(v.String()), styleString)
	}
	trailer := ""
	length := gs.Length()
	if length > in.maxStringLength {
		remaining := length - in.maxStringLength
		gs = gs.Substring(0, in.maxStringLength)
		length = in.maxStringLength
		trailer = fmt.Sprintf("... %d more character", remaining)
		if remaining > 1 {
			trailer += "s"
		}
	}
	t := jsTextOf(gs)
	var b strings.Builder
	if length > 16 && length > in.breakLength-in.indentationLvl-4 {
		lines := t.splitLines()
		sep := " +\n" + strings.Repeat(" ", in.indentationLvl+2)
		for i, line := range lines {
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString(in.quoted(line))
		}
	} else {
		b.WriteString(in.quoted(t))
	}
	b.WriteString(trailer)
	return b.String()
}

func (in *inspector) quoted(t jsText) string {
	var b strings.Builder
	b.Grow(len(t.s) + 2)
	if in.colors {
		b.WriteString(styleCodes[styleString][0])
	}
	strEscape(&b, t)
	if in.colors {
		b.WriteString(styleCodes[styleString][1])
	}
	return b.String()
}

func arrayLength(o *goja.Object) int {
	l := o.Get("length")
	if l == nil {
		return 0
	}
	return int(l.ToInteger())
}

// numericAt reports whether o[i] is a number or a bigint.
func (in *inspector) numericAt(o *goja.Object) func(i int) bool {
	return func(i int) bool {
		v := o.Get(strconv.Itoa(i))
		return v != nil && (goja.IsNumber(v) || goja.IsBigInt(v))
	}
}

func (in *inspector) formatArray(o *goja.Object, length, recurseTimes int) []string {
	l := min(in.maxArrayLength, length)
	output := make([]string, 0, l+1)
	for i := 0; i < l; i++ {
		d := in.ownDesc(o, indexKey(i))
		if !d.ok {
			return in.formatSpecialArray(o, recurseTimes, l, output, i, length)
		}
		output = append(output, in.formatProperty(o, recurseTimes, indexKey(i), kArrayType, &d))
	}
	if remaining := length - l; remaining > 0 {
		output = append(output, remainingText(remaining))
	}
	return output
}

func emptyItems(n int) string {
	if n > 1 {
		return fmt.Sprintf("<%d empty items>", n)
	}
	return fmt.Sprintf("<%d empty item>", n)
}

// formatSpecialArray handles sparse arrays (Node's formatSpecialArray,
// which walks Object.keys; here the next own index is looked up directly
// so that dense arrays with holes are not enumerated key by key).
func (in *inspector) formatSpecialArray(o *goja.Object, recurseTimes, maxLength int, output []string, i, length int) []string {
	nextOwn := in.ownIndexFinder(o, i)
	index := i
	for len(output) < maxLength {
		next, ok := nextOwn(index)
		if !ok {
			break
		}
		if next != index {
			output = append(output, in.s(emptyItems(next-index), styleUndefined))
			index = next
			if len(output) == maxLength {
				break
			}
		}
		output = append(output, in.formatProperty(o, recurseTimes, indexKey(index), kArrayType, nil))
		index++
	}
	remaining := length - index
	if len(output) != maxLength {
		if remaining > 0 {
			output = append(output, in.s(emptyItems(remaining), styleUndefined))
		}
	} else if remaining > 0 {
		output = append(output, remainingText(remaining))
	}
	return output
}

// ownIndexFinder returns a function yielding the smallest own enumerable
// array index >= from (called with increasing from values).
func (in *inspector) ownIndexFinder(o *goja.Object, start int) func(from int) (int, bool) {
	if elems, ok := denseElems(o); ok {
		return func(from int) (int, bool) {
			for j := from; j < elems.Len(); j++ {
				if !elems.Index(j).IsNil() {
					return j, true
				}
			}
			return 0, false
		}
	}
	keys := o.Keys()
	pos := start // keys[:start] are "0".."start-1"
	return func(from int) (int, bool) {
		for ; pos < len(keys); pos++ {
			if !isNumberKey(keys[pos]) {
				return 0, false
			}
			n, err := strconv.ParseUint(keys[pos], 10, 64)
			if err != nil || n > 1<<32-2 {
				return 0, false
			}
			if int(n) >= from {
				return int(n), true
			}
		}
		return 0, false
	}
}

// isNumberKey matches Node's numberRegExp /^(0|[1-9][0-9]*)$/.
func isNumberKey(s string) bool {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (in *inspector) formatTypedArray(o *goja.Object, length, recurseTimes int) []string {
	maxLength := min(in.maxArrayLength, length)
	output := make([]string, 0, maxLength+1)
	for i := 0; i < maxLength; i++ {
		v := o.Get(strconv.Itoa(i))
		if v != nil && goja.IsBigInt(v) {
			output = append(output, in.s(v.String()+"n", styleBigint))
		} else {
			output = append(output, in.formatNumber(v))
		}
	}
	if remaining := length - maxLength; remaining > 0 {
		output = append(output, remainingText(remaining))
	}
	if in.showHidden {
		in.indentationLvl += 2
		for _, key := range []string{"BYTES_PER_ELEMENT", "length", "byteLength", "byteOffset", "buffer"} {
			str := in.formatValue(o.Get(key), recurseTimes, true)
			output = append(output, "["+key+"]: "+str)
		}
		in.indentationLvl -= 2
	}
	return output
}

// iterate drives a JavaScript iterator, calling f for each value until f
// returns false or the iterator is done.
func (in *inspector) iterate(iter goja.Value, f func(v goja.Value) bool) {
	it := asObject(iter)
	if it == nil {
		return
	}
	next := it.Get("next")
	for {
		res, ok := in.call(next, it)
		r := asObject(res)
		if !ok || r == nil || r.Get("done").ToBoolean() {
			return
		}
		if !f(r.Get("value")) {
			return
		}
	}
}

func (in *inspector) formatSet(o *goja.Object, size, recurseTimes int) []string {
	maxLength := min(in.maxArrayLength, size)
	output := make([]string, 0, maxLength+1)
	in.indentationLvl += 2
	iter, _ := in.callIntrinsic("Set.prototype.values", o)
	in.iterate(iter, func(v goja.Value) bool {
		if len(output) >= maxLength {
			return false
		}
		output = append(output, in.formatValue(v, recurseTimes, false))
		return true
	})
	if remaining := size - maxLength; remaining > 0 {
		output = append(output, remainingText(remaining))
	}
	in.indentationLvl -= 2
	return output
}

func (in *inspector) formatMap(o *goja.Object, size, recurseTimes int) []string {
	maxLength := min(in.maxArrayLength, size)
	output := make([]string, 0, maxLength+1)
	in.indentationLvl += 2
	iter, _ := in.callIntrinsic("Map.prototype.entries", o)
	in.iterate(iter, func(v goja.Value) bool {
		if len(output) >= maxLength {
			return false
		}
		entry := asObject(v)
		if entry == nil {
			return false
		}
		k := in.formatValue(entry.Get("0"), recurseTimes, false)
		val := in.formatValue(entry.Get("1"), recurseTimes, false)
		output = append(output, k+" => "+val)
		return true
	})
	if remaining := size - maxLength; remaining > 0 {
		output = append(output, remainingText(remaining))
	}
	in.indentationLvl -= 2
	return output
}

func (in *inspector) formatArrayBuffer(ab goja.ArrayBuffer) []string {
	if ab.Detached() {
		return []string{in.s("(detached)", styleSpecial)}
	}
	data := ab.Bytes()
	n := min(in.maxArrayLength, len(data))
	var b strings.Builder
	b.Grow(n*3 + 40)
	b.WriteString(in.s("[Uint8Contents]", styleSpecial))
	b.WriteString(": <")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(hex2(int(data[i])))
	}
	if remaining := len(data) - in.maxArrayLength; remaining > 0 {
		fmt.Fprintf(&b, " ... %d more byte", remaining)
		if remaining > 1 {
			b.WriteByte('s')
		}
	}
	b.WriteByte('>')
	return []string{b.String()}
}

func (in *inspector) formatPromise(p *goja.Promise, recurseTimes int) []string {
	if p == nil || p.State() == goja.PromiseStatePending {
		return []string{in.s("<pending>", styleSpecial)}
	}
	in.indentationLvl += 2
	str := in.formatValue(p.Result(), recurseTimes, false)
	in.indentationLvl -= 2
	if p.State() == goja.PromiseStateRejected {
		return []string{in.s("<rejected>", styleSpecial) + " " + str}
	}
	return []string{str}
}

func (in *inspector) dateString(o *goja.Object) string {
	t, _ := in.callIntrinsic("Date.prototype.getTime", o)
	if t == nil || goja.IsNaN(t) {
		s, _ := in.callIntrinsic("Date.prototype.toString", o)
		return valueString(s)
	}
	s, _ := in.callIntrinsic("Date.prototype.toISOString", o)
	return valueString(s)
}

func (in *inspector) boxedBase(o *goja.Object, kind objKind, constructor string, hasCtor bool, tag string, keys *[]propKey) string {
	var typ string
	switch kind {
	case kindNumber:
		typ = "Number"
	case kindString:
		typ = "String"
	case kindBoolean:
		typ = "Boolean"
	case kindBigInt:
		typ = "BigInt"
	default:
		typ = "Symbol"
	}
	prim, _ := in.callIntrinsic(typ+".prototype.valueOf", o)
	if str, ok := prim.(goja.String); ok && kind == kindString {
		// Drop the index keys: they only repeat the string.
		*keys = (*keys)[min(len(*keys), str.Length()):]
	}
	var b strings.Builder
	b.WriteString("[" + typ)
	if typ != constructor || !hasCtor {
		if !hasCtor {
			b.WriteString(" (null prototype)")
		} else {
			b.WriteString(" (" + constructor + ")")
		}
	}
	colors := in.colors
	in.colors = false
	b.WriteString(": " + in.formatPrimitive(prim) + "]")
	in.colors = colors
	if tag != "" && tag != constructor {
		b.WriteString(" [" + tag + "]")
	}
	if len(*keys) != 0 || !in.colors {
		return b.String()
	}
	return in.s(b.String(), strings.ToLower(typ))
}

var (
	classRegExp         = regexp.MustCompile(`^(\s+[^(]*?)\s*\{`)
	stripCommentsRegExp = regexp.MustCompile(`(//.*?\n)|(/\*(.|\n)*?\*/)`)
)

func (in *inspector) functionBase(o *goja.Object, constructor string, hasCtor bool, tag string) string {
	src, _ := in.callIntrinsic("Function.prototype.toString", o)
	str := valueString(src)
	if strings.HasPrefix(str, "class") && strings.HasSuffix(str, "}") {
		slice := str[5 : len(str)-1]
		if bi := strings.IndexByte(slice, '{'); bi != -1 &&
			(!strings.Contains(slice[:bi], "(") ||
				classRegExp.MatchString(stripCommentsRegExp.ReplaceAllString(slice, ""))) {
			return in.classBase(o, constructor, hasCtor, tag)
		}
	}
	typ := "Function"
	if proto := o.Prototype(); proto != nil {
		if t := proto.GetSymbol(goja.SymToStringTag); t != nil && goja.IsString(t) {
			switch t.String() {
			case "GeneratorFunction":
				typ = "GeneratorFunction"
			case "AsyncFunction":
				typ = "AsyncFunction"
			case "AsyncGeneratorFunction":
				typ = "AsyncGeneratorFunction"
			}
		}
	}
	var b strings.Builder
	b.WriteString("[" + typ)
	if !hasCtor {
		b.WriteString(" (null prototype)")
	}
	name := o.Get("name")
	if name != nil && goja.IsString(name) && name.String() == "" {
		b.WriteString(" (anonymous)")
	} else {
		b.WriteString(": ")
		if name == nil {
			b.WriteString("undefined")
		} else {
			b.WriteString(name.String())
		}
	}
	b.WriteByte(']')
	if constructor != typ && hasCtor {
		b.WriteString(" " + constructor)
	}
	if tag != "" && constructor != tag {
		b.WriteString(" [" + tag + "]")
	}
	return b.String()
}

func (in *inspector) classBase(o *goja.Object, constructor string, hasCtor bool, tag string) string {
	name := "(anonymous)"
	if in.hasOwn(o, propKey{name: "name"}) {
		if v := o.Get("name"); v != nil && v.ToBoolean() {
			name = v.String()
		}
	}
	base := "class " + name
	if constructor != "Function" && hasCtor {
		base += " [" + constructor + "]"
	}
	if tag != "" && constructor != tag {
		base += " [" + tag + "]"
	}
	if hasCtor {
		if proto := o.Prototype(); proto != nil {
			if super := proto.Get("name"); super != nil && super.ToBoolean() {
				base += " extends " + super.String()
			}
		}
	} else {
		base += " extends [null prototype]"
	}
	return "[" + base + "]"
}

// stackString is err.stack, or Error.prototype.toString(err) when absent.
// goja's "\tat " frames are rewritten to V8's "    at ".
func (in *inspector) stackString(o *goja.Object) string {
	if st := o.Get("stack"); st != nil && st.ToBoolean() {
		s := st.String()
		if strings.Contains(s, "\n\tat ") {
			s = strings.ReplaceAll(s, "\n\tat ", "\n    at ")
			s = strings.TrimRight(s, "\n")
		}
		return s
	}
	s, _ := in.callIntrinsic("Error.prototype.toString", o)
	return valueString(s)
}

var (
	errorStartRegExp = regexp.MustCompile(`^([A-Z][a-z_ A-Z0-9[\]()-]+)(?::|\n {4}at)`)
	errorNameRegExp  = regexp.MustCompile(`^([a-z_A-Z0-9-]*Error)$`)
)

func keyIndex(keys []propKey, name string) int {
	for i, k := range keys {
		if k.sym == nil && k.name == name {
			return i
		}
	}
	return -1
}

func (in *inspector) formatError(o *goja.Object, constructor string, hasCtor bool, tag string, keys *[]propKey) string {
	name := "Error"
	if n := o.Get("name"); !nullish(n) {
		name = n.String()
	}
	stack := in.stackString(o)
	if !in.showHidden && len(*keys) != 0 {
		for _, prop := range []string{"name", "message", "stack"} {
			if i := keyIndex(*keys, prop); i != -1 && strings.Contains(stack, valueOrUndefined(o.Get(prop))) {
				*keys = append((*keys)[:i:i], (*keys)[i+1:]...)
			}
		}
	}
	if has, ok := in.callIntrinsic("Reflect.has", nil, o, in.rt.ToValue("cause")); ok && has.ToBoolean() &&
		keyIndex(*keys, "cause") == -1 {
		*keys = append(*keys, propKey{name: "cause"})
	}
	if errs := asObject(o.Get("errors")); errs != nil && errs.ClassName() == "Array" && keyIndex(*keys, "errors") == -1 {
		*keys = append(*keys, propKey{name: "errors"})
	}
	stack = improveStack(stack, constructor, hasCtor, name, tag)

	pos := -1
	if msg := o.Get("message"); msg != nil && msg.ToBoolean() {
		m := msg.String()
		if i := strings.Index(stack, m); i > 0 {
			pos = i + len(m)
		}
	}
	from := max(pos, 0)
	if !strings.Contains(stack[min(from, len(stack)):], "\n    at") {
		stack = "[" + stack + "]"
	}
	if in.indentationLvl != 0 {
		stack = strings.ReplaceAll(stack, "\n", "\n"+strings.Repeat(" ", in.indentationLvl))
	}
	return stack
}

func valueOrUndefined(v goja.Value) string {
	if v == nil {
		return "undefined"
	}
	return v.String()
}

func improveStack(stack, constructor string, hasCtor bool, name, tag string) string {
	l := len(name)
	if !hasCtor || (strings.HasSuffix(name, "Error") && strings.HasPrefix(stack, name) &&
		(len(stack) == l || stack[l] == ':' || stack[l] == '\n')) {
		fallback := "Error"
		if !hasCtor {
			fallback = ""
			if m := errorStartRegExp.FindStringSubmatch(stack); m != nil {
				fallback = m[1]
			} else if m := errorNameRegExp.FindStringSubmatch(stack); m != nil {
				fallback = m[1]
			}
			l = len(fallback)
			if fallback == "" {
				fallback = "Error"
			}
		}
		prefix := strings.TrimSuffix(getPrefix(constructor, hasCtor, tag, fallback, ""), " ")
		if name != prefix {
			if strings.Contains(prefix, name) {
				if l == 0 {
					stack = prefix + ": " + stack
				} else {
					stack = prefix + stack[l:]
				}
			} else {
				stack = prefix + " [" + name + "]" + stack[l:]
			}
		}
	}
	return stack
}
