package objects

import "errors"

// Sentinel errors of the object model.
var (
	ErrBadRef     = errors.New("objects: bad reference")
	ErrBadSchema  = errors.New("objects: bad schema")
	ErrNotDefined = errors.New("objects: not defined")
)
