package codec

import (
	"testing"

	"github.com/dop251/goja"
)

var benchValues = []struct{ name, src string }{
	{"Number", `12345.5`},
	{"SmallObject", `({a: 1, b: "x", c: [1, 2, 3]})`},
	{"Object1KB", `(() => {
		const o = {id: "user-000123", name: "Ada Lovelace", email: "ada@example.com", age: 36, active: true,
			balance: 1234.56, createdAt: "2023-11-14T22:13:20Z", tags: ["admin", "math", "poetry", "engines"],
			address: {street: "12 St James's Square", city: "London", zip: "SW1Y 4JH", country: "UK"},
			prefs: {theme: "dark", lang: "en", notifications: {email: true, sms: false, push: true}},
			history: []};
		for (let i = 0; i < 8; i++) o.history.push({at: 1700000000 + i, op: "deposit", amount: i * 10.5, ok: i % 2 == 0});
		return o })()`},
	{"Array10k", `Array.from({length: 10000}, (_, i) => ({id: i, name: "item" + i, ok: i % 3 == 0}))`},
}

// BenchmarkCodec measures encode+decode in one runtime, against
// JSON.parse(JSON.stringify(v)) on the same value as the baseline.
func BenchmarkCodec(b *testing.B) {
	v := newVM(b)
	jsonRT, _ := goja.AssertFunction(v.run(b, `(x) => JSON.parse(JSON.stringify(x))`))
	for _, bv := range benchValues {
		val := v.run(b, bv.src)
		b.Run(bv.name+"/codec", func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var err error
				if buf, err = v.enc.Encode(buf[:0], val); err != nil {
					b.Fatal(err)
				}
				if _, err := v.dec.Decode(buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "bytes")
		})
		b.Run(bv.name+"/json", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := jsonRT(goja.Undefined(), val); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(v.run(b, `JSON.stringify(`+bv.src+`)`).String())), "bytes")
		})
	}
}

// BenchmarkEncode and BenchmarkDecode split the codec's cost.
func BenchmarkEncode(b *testing.B) {
	v := newVM(b)
	for _, bv := range benchValues {
		val := v.run(b, bv.src)
		b.Run(bv.name, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				buf, _ = v.enc.Encode(buf[:0], val)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	v := newVM(b)
	for _, bv := range benchValues {
		buf, err := v.enc.Encode(nil, v.run(b, bv.src))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bv.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := v.dec.Decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkShared measures a graph with shared references (the fixup path).
func BenchmarkShared(b *testing.B) {
	v := newVM(b)
	val := v.run(b, `(() => { const o = {x: 1}; const a = []; for (let i = 0; i < 100; i++) a.push({i, o}); return a })()`)
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf, _ = v.enc.Encode(buf[:0], val)
		if _, err := v.dec.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}
