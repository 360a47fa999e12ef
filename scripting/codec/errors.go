package codec

import (
	"errors"
	"strconv"
	"strings"
)

var (
	// ErrMalformed is wrapped by every decoding error caused by the input bytes.
	ErrMalformed = errors.New("codec: malformed input")
	// ErrTooDeep is wrapped by the error for a value nested deeper than MaxDepth.
	ErrTooDeep = errors.New("codec: value nested too deeply")
)

// DataCloneError reports a value that structured clone cannot copy: a function,
// a symbol, a Promise, a WeakMap or WeakSet, a Proxy, a Go host object...
type DataCloneError struct {
	Path string // where the value sits, e.g. "args[1].cb" or "value.list[3]"
	What string // what it is, e.g. "function"
}

func (e *DataCloneError) Error() string {
	return "value at " + e.Path + " is a " + e.What + " and cannot be cloned"
}

// tooDeepError is ErrTooDeep with the path where the limit was hit.
type tooDeepError struct{ path string }

func (e *tooDeepError) Error() string {
	return "codec: value at " + e.path + " is nested more than " + strconv.Itoa(MaxDepth) + " levels deep"
}
func (e *tooDeepError) Unwrap() error { return ErrTooDeep }

// malformedError locates a decoding failure; it wraps ErrMalformed.
type malformedError struct {
	off int
	msg string
	err error // optional cause (a JS exception from a constructor, an invalid Ref...)
}

func (e *malformedError) Error() string {
	s := "codec: malformed input at byte " + strconv.Itoa(e.off) + ": " + e.msg
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *malformedError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrMalformed, e.err}
	}
	return []error{ErrMalformed}
}

// encodeError is how the encoder unwinds: the path is collected on the way
// out (so the happy path pays nothing for it), innermost segment first.
type encodeError struct {
	what string // DataCloneError.What, or "" for ErrTooDeep
	segs []string
	err  error // set for a JS exception thrown by a getter
}

func (e *encodeError) Error() string { return e.finish("value").Error() }

// finish builds the public error for a root path such as "value" or "args[2]".
func (e *encodeError) finish(root string) error {
	if e.err != nil {
		return e.err
	}
	var b strings.Builder
	b.WriteString(root)
	for i := len(e.segs) - 1; i >= 0; i-- {
		if i == len(e.segs)-maxPathSegs/2 && len(e.segs) > maxPathSegs {
			b.WriteString("…")
			i = maxPathSegs / 2
		}
		b.WriteString(e.segs[i])
	}
	if e.what == "" {
		return &tooDeepError{path: b.String()}
	}
	return &DataCloneError{Path: b.String(), What: e.what}
}

// maxPathSegs bounds the segments a path shows; the middle ones are elided.
const maxPathSegs = 40

// withSeg records one path segment on an error unwinding through a container.
func withSeg(err error, seg string) error {
	if ee, ok := err.(*encodeError); ok {
		ee.segs = append(ee.segs, seg)
	}
	return err
}

// keySeg renders a property name as a path segment: .name or ["odd name"].
func keySeg(k string) string {
	if isIdent(k) {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

func indexSeg(i int) string { return "[" + strconv.Itoa(i) + "]" }

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
