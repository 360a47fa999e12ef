package transport

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// Frame kinds (see doc.go).
const (
	kindMessage uint8 = 1 + iota
	kindRequest
	kindResponse
	kindError
	kindOverloaded
	kindPing
	kindHello
)

// Handshake constants.
const (
	version    = 1
	maxName    = 255 // bytes, for names and addresses in a hello
	nonceLen   = 16
	proofLen   = sha256.Size
	helloFrame = 1024 // the largest hello frame; bounds what a stranger makes us read

	// Reasons in a refusal (an error frame with id 0 during the handshake).
	refuseToken   = 1
	refuseVersion = 2
	refuseHello   = 3
)

// maxHeader is the largest frame header after the length: kind, id, type.
const maxHeader = 1 + binary.MaxVarintLen64 + 1

// frame is one decoded frame. body aliases the buffer it was read into,
// which is never reused: the receiver may keep it.
type frame struct {
	kind uint8
	id   uint64
	typ  uint8
	body []byte
}

// size is the frame's length as its 4-byte prefix states it.
func (f *frame) size() int {
	return 2 + uvarintLen(f.id) + len(f.body)
}

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// writeFrame encodes f into w. The header goes straight into w's buffer:
// nothing is allocated.
func writeFrame(w *bufio.Writer, f *frame) error {
	if w.Available() < 4+maxHeader {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	b := binary.BigEndian.AppendUint32(w.AvailableBuffer(), uint32(f.size()))
	b = append(b, f.kind)
	b = binary.AppendUvarint(b, f.id)
	b = append(b, f.typ)
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err := w.Write(f.body)
	return err
}

// readFrame reads one frame of at most max bytes (after the length). It
// allocates only once the length is known to be within max, and returns
// errTooLarge or errMalformed (wrapped) for bad input, never panicking.
func readFrame(r io.Reader, max int) (frame, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return frame{}, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if uint64(n) > uint64(max) {
		return frame{}, fmt.Errorf("%w: %d bytes, at most %d", errTooLarge, n, max)
	}
	if n < 3 {
		return frame{}, fmt.Errorf("%w: %d bytes", errMalformed, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	return parseFrame(buf)
}

func parseFrame(buf []byte) (frame, error) {
	f := frame{kind: buf[0]}
	if f.kind < kindMessage || f.kind > kindHello {
		return frame{}, fmt.Errorf("%w: kind %d", errMalformed, f.kind)
	}
	id, k := binary.Uvarint(buf[1:])
	if k <= 0 || 1+k >= len(buf) {
		return frame{}, fmt.Errorf("%w: bad request id", errMalformed)
	}
	f.id, f.typ, f.body = id, buf[1+k], buf[2+k:]
	return f, nil
}

// hello is the handshake frame's body.
type hello struct {
	version uint8
	name    string
	addr    string
	nonce   [nonceLen]byte
	proof   [proofLen]byte
}

func (h *hello) encode() []byte {
	b := make([]byte, 0, 1+2+len(h.name)+2+len(h.addr)+nonceLen+proofLen)
	b = append(b, h.version)
	b = binary.AppendUvarint(b, uint64(len(h.name)))
	b = append(b, h.name...)
	b = binary.AppendUvarint(b, uint64(len(h.addr)))
	b = append(b, h.addr...)
	b = append(b, h.nonce[:]...)
	return append(b, h.proof[:]...)
}

// decodeHello decodes a hello body; it never panics.
func decodeHello(b []byte) (hello, error) {
	var h hello
	bad := func(what string) (hello, error) {
		return hello{}, fmt.Errorf("%w: hello: %s", errMalformed, what)
	}
	if len(b) < 1 {
		return bad("empty")
	}
	h.version, b = b[0], b[1:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > maxName || uint64(len(b)-k) < n {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var ok bool
	if h.name, ok = str(); !ok || h.name == "" {
		return bad("name")
	}
	if h.addr, ok = str(); !ok {
		return bad("address")
	}
	if len(b) != nonceLen+proofLen {
		return bad("proof")
	}
	copy(h.nonce[:], b)
	copy(h.proof[:], b[nonceLen:])
	return h, nil
}

// proof is what a side of the handshake shows to prove it knows the token.
func proof(token, role string, nonces ...[nonceLen]byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(role))
	for _, n := range nonces {
		m.Write(n[:])
	}
	return m.Sum(nil)
}
