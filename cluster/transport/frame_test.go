package transport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func encodeFrames(fs ...frame) []byte {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	for i := range fs {
		writeFrame(bw, &fs[i])
	}
	bw.Flush()
	return b.Bytes()
}

func TestFrameRoundTrip(t *testing.T) {
	fs := []frame{
		{kind: kindMessage, typ: 7, body: []byte("hello")},
		{kind: kindRequest, id: 1 << 40, typ: 1, body: []byte{}},
		{kind: kindResponse, id: 300, body: bytes.Repeat([]byte("x"), 1000)},
		{kind: kindPing, body: []byte{}},
	}
	r := bytes.NewReader(encodeFrames(fs...))
	for _, want := range fs {
		got, err := readFrame(r, 2000)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
		if want.size() != 2+len(want.body)+uvarintLen(want.id) {
			t.Fatal("size")
		}
	}
	if _, err := readFrame(r, 2000); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
	big := encodeFrames(frame{kind: kindMessage, body: make([]byte, 100)})
	if _, err := readFrame(bytes.NewReader(big), 50); !errors.Is(err, errTooLarge) {
		t.Fatalf("a large frame: %v", err)
	}
	if _, err := readFrame(bytes.NewReader(big[:50]), 200); err != io.ErrUnexpectedEOF {
		t.Fatalf("a cut frame: %v", err)
	}
}

// FuzzReadFrame reads frames from arbitrary bytes: it must never panic nor
// return more than the limit, and what it decodes must survive a round trip.
func FuzzReadFrame(f *testing.F) {
	f.Add(encodeFrames(frame{kind: kindMessage, typ: 1, body: []byte("hi")}))
	f.Add(encodeFrames(frame{kind: kindRequest, id: 1<<63 + 5, typ: 2, body: []byte("q")},
		frame{kind: kindError, id: 9, body: []byte("boom")}))
	f.Add(encodeFrames(frame{kind: kindHello, body: (&hello{version: 1, name: "n1", addr: "127.0.0.1:1"}).encode()}))
	f.Add([]byte{0, 0, 0, 3, 99, 0, 0})
	f.Add([]byte{0, 0, 0, 2, 1, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 12, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	const max = 1 << 12
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			fr, err := readFrame(r, max)
			if err != nil {
				return
			}
			if fr.size() > max {
				t.Fatalf("a frame of %d bytes passed a limit of %d", fr.size(), max)
			}
			again, err := readFrame(bytes.NewReader(encodeFrames(fr)), max)
			if err != nil || !reflect.DeepEqual(again, fr) {
				t.Fatalf("round trip: %+v became %+v, %v", fr, again, err)
			}
		}
	})
}

// FuzzHello decodes arbitrary hello bodies: never a panic, and what decodes
// survives a round trip.
func FuzzHello(f *testing.F) {
	h := hello{version: 1, name: "node-1", addr: "10.0.0.1:7001"}
	copy(h.proof[:], proof("t", "odin-dial", h.nonce))
	f.Add(h.encode())
	f.Add((&hello{version: 1, name: "c"}).encode())
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{1, 1, 'x', 200, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeHello(data)
		if err != nil {
			return
		}
		if h.name == "" || len(h.name) > maxName || len(h.addr) > maxName {
			t.Fatalf("decoded %+v", h)
		}
		again, err := decodeHello(h.encode())
		if err != nil || again != h {
			t.Fatalf("round trip: %+v became %+v, %v", h, again, err)
		}
	})
}
