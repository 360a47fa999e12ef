package codec

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

var fuzzVM struct {
	once sync.Once
	v    *vm
}

// FuzzDecode feeds arbitrary bytes to both decoders: they must return a value
// or an error wrapping ErrMalformed, never panic. Whatever the runtime decoder
// accepts must re-encode, and its re-encoding must be a fixed point.
func FuzzDecode(f *testing.F) {
	fuzzVM.once.Do(func() { fuzzVM.v = newVM(f) })
	v := fuzzVM.v
	for _, c := range roundTripCases {
		enc, err := v.enc.Encode(nil, v.run(f, "("+c.src+")"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	for _, c := range malformedInputs {
		f.Add(unhex(c.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := DecodeGo(b); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("DecodeGo: error without ErrMalformed: %v", err)
		}
		val, err := v.dec.Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode: error without ErrMalformed: %v", err)
			}
			return
		}
		b2, err := v.enc.Encode(nil, val)
		if err != nil {
			t.Fatalf("decoded value does not re-encode: %v", err)
		}
		val2, err := v.dec.Decode(b2)
		if err != nil {
			t.Fatalf("re-encoding %x does not decode: %v", b2, err)
		}
		b3, err := v.enc.Encode(nil, val2)
		if err != nil {
			t.Fatalf("second re-encode: %v", err)
		}
		if !bytes.Equal(b2, b3) {
			t.Fatalf("unstable encoding:\n in  %x\n 1st %x\n 2nd %x", b, b2, b3)
		}
		if _, err := DecodeGo(b2); err != nil {
			t.Fatalf("DecodeGo of a re-encoding %x: %v", b2, err)
		}
	})
}
