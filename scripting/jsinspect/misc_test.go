package jsinspect

import (
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"
)

func eval(t testing.TB, rt *goja.Runtime, src string) goja.Value {
	t.Helper()
	v, err := rt.RunString(src)
	if err != nil {
		t.Fatalf("eval %q: %v", src, err)
	}
	return v
}

// timeBudget scales a time limit for the race detector.
func timeBudget(d time.Duration) time.Duration {
	if raceEnabled {
		return d * 15
	}
	return d
}

func TestCustomHook(t *testing.T) {
	rt := goja.New()
	v := eval(t, rt, `
		const ref = { __ref: 'Account/alice' };
		({ owner: ref, list: [ref, 1], m: new Map([[ref, 'x']]) })`)
	opts := DefaultOptions()
	opts.Custom = func(o *goja.Object) (string, bool) {
		if r := o.Get("__ref"); r != nil && !goja.IsUndefined(r) {
			return "Ref<" + r.String() + ">", true
		}
		return "", false
	}
	got := Inspect(rt, v, opts)
	want := "{\n  owner: Ref<Account/alice>,\n  list: [ Ref<Account/alice>, 1 ],\n  m: Map(1) { Ref<Account/alice> => 'x' }\n}"
	if got != want {
		t.Errorf("got %s\nwant %s", show(got), show(want))
	}
	if got := Format(rt, []goja.Value{rt.ToValue("ref: %o"), eval(t, rt, "ref")}, opts); got != "ref: Ref<Account/alice>" {
		t.Errorf("format: %q", got)
	}
}

func TestGojaStack(t *testing.T) {
	rt := goja.New()
	v := eval(t, rt, "function f() { return new Error('boom') }\nf()")
	got := Inspect(rt, v, DefaultOptions())
	if !strings.HasPrefix(got, "Error: boom\n    at f (") || strings.Contains(got, "\t") || strings.HasSuffix(got, "\n") {
		t.Errorf("unexpected stack rendering: %q", got)
	}
	got = Inspect(rt, eval(t, rt, "({ e: f() })"), DefaultOptions())
	if !strings.HasPrefix(got, "{\n  e: Error: boom\n      at f (") || !strings.HasSuffix(got, ")\n}") {
		t.Errorf("unexpected nested stack rendering: %q", got)
	}
}

func TestThrowingGetterDoesNotPanic(t *testing.T) {
	rt := goja.New()
	v := eval(t, rt, `({ get [Symbol.toStringTag]() { throw new Error('nope') } })`)
	got := Inspect(rt, v, DefaultOptions())
	if !strings.HasPrefix(got, "[Inspection threw: Error: nope") {
		t.Errorf("got %q", got)
	}
}

func TestOptionDefaults(t *testing.T) {
	rt := goja.New()
	v := eval(t, rt, `({ a: { b: { c: { d: { e: {} } } } } })`)
	if got := Inspect(rt, v, Options{Depth: -1}); strings.Contains(got, "[Object]") {
		t.Errorf("depth -1 should be unlimited: %s", got)
	}
	if got := Inspect(rt, v, Options{}); got != "{ a: [Object] }" {
		t.Errorf("zero options: %s", got)
	}
	deep := eval(t, rt, `(() => { let o = {}; for (let i = 0; i < 300; i++) o = { o }; return o })()`)
	if got := Inspect(rt, deep, Options{Depth: -1}); strings.Count(got, "o:") != 300 {
		t.Errorf("deep nesting: %d levels", strings.Count(got, "o:"))
	}
}

func TestInternalKeysLayout(t *testing.T) {
	rt := goja.New()
	_ = rt.Set("goSlice", []interface{}{1})
	_ = rt.Set("goInts", []int{1})
	for _, src := range []string{"[1, 2]", "new Array(10)", "new Uint8Array(2)", "goSlice", "goInts"} {
		if _, ok := ownNamedKeys(eval(t, rt, src).(*goja.Object)); !ok {
			t.Errorf("goja internal layout changed for %s: the fast path for array keys is off", src)
		}
	}
	if _, ok := ownNamedKeys(eval(t, rt, "({})").(*goja.Object)); ok {
		t.Error("ownNamedKeys should only handle arrays")
	}
}

func TestFallbackKeysMatchGolden(t *testing.T) {
	disableInternalKeys = true
	defer func() { disableInternalKeys = false }()
	for _, c := range loadGolden(t) {
		if c.Mode != "inspect" || !(strings.HasPrefix(c.Name, "array") || strings.HasPrefix(c.Name, "typed")) {
			continue
		}
		rt := goja.New()
		if got := Inspect(rt, eval(t, rt, "("+c.Expr+")"), c.options()); got != c.Want {
			t.Errorf("%s: got %s\nwant %s", c.Name, show(got), show(c.Want))
		}
	}
}

func TestLargeArrayIsFast(t *testing.T) {
	rt := goja.New()
	// Build the big arrays from Go: the interpreter is slow under -race.
	const n = 1000000
	nums := make([]interface{}, n)
	strs := make([]interface{}, n)
	for i := range nums {
		nums[i] = i
		strs[i] = "x"
	}
	holey := rt.NewArray(nums...)
	if err := holey.Delete("5"); err != nil {
		t.Fatal(err)
	}
	if err := holey.Delete("999990"); err != nil {
		t.Fatal(err)
	}
	withProp := rt.NewArray(nums...)
	_ = withProp.Set("extra", 1)
	values := map[string]goja.Value{
		"numbers":          rt.NewArray(nums...),
		"strings":          rt.NewArray(strs...),
		"holey":            holey,
		"extra property":   withProp,
		"typed array":      eval(t, rt, "new Float64Array(1000000)"),
		"empty (sparse)":   eval(t, rt, "new Array(1000000)"),
		"go slice wrapper": rt.ToValue(nums),
		"go []int wrapper": rt.ToValue(make([]int, n)),
	}
	for name, v := range values {
		start := time.Now()
		got := Inspect(rt, v, DefaultOptions())
		if d := time.Since(start); d > timeBudget(100*time.Millisecond) {
			t.Errorf("%s: took %v", name, d)
		}
		if !strings.Contains(got, "more items") && !strings.Contains(got, "<1000000 empty items>") {
			t.Errorf("%s: unexpected output %s", name, show(got))
		}
	}
	if got := Inspect(rt, withProp, DefaultOptions()); !strings.HasSuffix(got, "\n  99, ... 999900 more items,\n  extra: 1\n]") {
		t.Errorf("extra property: %s", show(got[len(got)-60:]))
	}
	if got := Inspect(rt, holey, DefaultOptions()); !strings.Contains(got, "<1 empty item>, 6,") {
		t.Errorf("holes: %s", show(got[:80]))
	}
}

func TestHugeStringIsLinear(t *testing.T) {
	rt := goja.New()
	v := eval(t, rt, "'ab\\n'.repeat(3500000)") // ~10 MB
	start := time.Now()
	raw := Format(rt, []goja.Value{v}, DefaultOptions())
	withArgs := Format(rt, []goja.Value{v, rt.ToValue(1)}, DefaultOptions())
	inspected := Inspect(rt, v, DefaultOptions())
	if d := time.Since(start); d > timeBudget(300*time.Millisecond) {
		t.Errorf("10 MB string took %v", d)
	}
	if len(raw) != 10500000 || len(withArgs) != 10500002 {
		t.Errorf("raw lengths %d %d", len(raw), len(withArgs))
	}
	if !strings.HasSuffix(inspected, "... 10490000 more characters") {
		t.Errorf("inspect did not truncate: %q", inspected[len(inspected)-40:])
	}
}

func BenchmarkInspect1KBObject(b *testing.B) {
	rt := goja.New()
	v := eval(b, rt, `({
		id: 'acct-0001', owner: { name: 'Alice Example', email: 'alice@example.com', since: new Date(0) },
		balance: 1234.56, currency: 'EUR', tags: ['vip', 'eu', 'savings'], limits: { daily: 1000, monthly: 20000 },
		history: Array.from({ length: 12 }, (_, i) => ({ month: i + 1, delta: i * 10 - 50 })),
		flags: new Set(['a', 'b']), meta: new Map([['createdBy', 'system'], ['version', 3]]),
	})`)
	if n := len(Inspect(rt, v, DefaultOptions())); n < 700 || n > 1500 {
		b.Fatalf("object prints as %d bytes, want ~1 KB", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Inspect(rt, v, DefaultOptions())
	}
}
