package objects

import (
	"fmt"
	"strings"
)

// Ref names an object: its class and its id. A Ref always names an object,
// whether or not it has been created yet (objects are virtual).
type Ref struct {
	Class string
	ID    string
}

// String returns "Class/id", the form the shell and the CLI accept.
func (r Ref) String() string { return r.Class + "/" + r.ID }

// ParseRef parses "Class/id". The id may itself contain slashes.
func ParseRef(s string) (Ref, error) {
	i := strings.IndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return Ref{}, fmt.Errorf("%w: %q (want Class/id)", ErrBadRef, s)
	}
	r := Ref{Class: s[:i], ID: s[i+1:]}
	return r, r.Validate()
}

// MaxIDLen bounds an object id in bytes.
const MaxIDLen = 1024

// Validate checks that the class name is an identifier and the id is
// non-empty, at most MaxIDLen bytes and free of NUL bytes (the store uses NUL
// as a key separator).
func (r Ref) Validate() error {
	if !IsIdentifier(r.Class) {
		return fmt.Errorf("%w: class name %q is not an identifier", ErrBadRef, r.Class)
	}
	if r.ID == "" {
		return fmt.Errorf("%w: empty id", ErrBadRef)
	}
	if len(r.ID) > MaxIDLen {
		return fmt.Errorf("%w: id longer than %d bytes", ErrBadRef, MaxIDLen)
	}
	if strings.IndexByte(r.ID, 0) >= 0 {
		return fmt.Errorf("%w: id contains a NUL byte", ErrBadRef)
	}
	return nil
}

// IsIdentifier reports whether s is a plain JavaScript identifier made of
// ASCII letters, digits, '_' and '$', not starting with a digit.
func IsIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '$':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
