package codec

import (
	"fmt"
	"sync"

	"github.com/dop251/goja"
)

// Map and Set contents have no Go API, and keys with lone surrogates cannot be
// named from Go (Object.Get takes a Go string). These small JS functions fill
// the gap. They capture the builtins they use when a runtime is set up, so
// scripts that later replace Map.prototype.forEach or Array.prototype.push
// cannot change what the codec sees.
const helperSource = `(function () {
	"use strict";
	const bind = Function.prototype.bind.bind(Function.prototype.call);
	const mapForEach = bind(Map.prototype.forEach), setForEach = bind(Set.prototype.forEach);
	const mapSet = bind(Map.prototype.set), setAdd = bind(Set.prototype.add);
	const defineProperty = Object.defineProperty, keys = Object.keys;
	return [
		function mapEntries(m) {
			const a = []; let n = 0;
			mapForEach(m, function (v, k) { a[n++] = k; a[n++] = v; });
			return a;
		},
		function setValues(s) {
			const a = []; let n = 0;
			setForEach(s, function (v) { a[n++] = v; });
			return a;
		},
		function mapFill(m, a) { for (let i = 0; i < a.length; i += 2) mapSet(m, a[i], a[i + 1]); },
		function setFill(s, a) { for (let i = 0; i < a.length; i++) setAdd(s, a[i]); },
		function define(o, k, v) {
			defineProperty(o, k, {__proto__: null, value: v, writable: true, enumerable: true, configurable: true});
		},
		function entries(o) {
			const ks = keys(o), a = []; let n = 0;
			for (let i = 0; i < ks.length; i++) { a[n++] = ks[i]; a[n++] = o[ks[i]]; }
			return a;
		},
	];
})()`

var helperProgram = sync.OnceValue(func() *goja.Program {
	return goja.MustCompile("odin:codec-helpers", helperSource, true)
})

// jsHelpers are the helper functions instantiated in one runtime.
type jsHelpers struct {
	mapEntries, setValues, mapFill, setFill, define, entries goja.Callable
}

func newHelpers(rt *goja.Runtime) (*jsHelpers, error) {
	v, err := rt.RunProgram(helperProgram())
	if err != nil {
		return nil, fmt.Errorf("codec: setting up helpers: %w", err)
	}
	arr := v.(*goja.Object)
	fns := make([]goja.Callable, 6)
	for i := range fns {
		f, ok := goja.AssertFunction(arr.Get(fmt.Sprint(i)))
		if !ok {
			return nil, fmt.Errorf("codec: helper %d is not a function", i)
		}
		fns[i] = f
	}
	return &jsHelpers{fns[0], fns[1], fns[2], fns[3], fns[4], fns[5]}, nil
}
