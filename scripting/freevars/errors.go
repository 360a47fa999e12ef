package freevars

import (
	"errors"
	"fmt"
)

// Sentinel errors of the package.
var (
	// ErrSyntax is wrapped by every *SyntaxError.
	ErrSyntax = errors.New("freevars: syntax error")
	// ErrNotClass reports a source that parses but is not one class.
	ErrNotClass = errors.New("freevars: source is not a single class")
	// ErrUnsupported reports a syntax tree node the walker does not know, so
	// that an unknown construct is rejected rather than silently skipped.
	ErrUnsupported = errors.New("freevars: unsupported syntax")
)

// SyntaxError is a parse error in the class source.
type SyntaxError struct {
	Line, Column int // 1-based, relative to the source; Column counts characters
	Message      string
}

// Error returns "freevars: syntax error at line:column: message".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%v at %d:%d: %s", ErrSyntax, e.Line, e.Column, e.Message)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }
