package scripting

import "errors"

// Sentinel errors of the scripting package.
var (
	ErrOverloaded = errors.New("scripting: queue full")
	ErrStopped    = errors.New("scripting: worker stopped")
	ErrSyntax     = errors.New("scripting: syntax error")
	ErrNotDefined = errors.New("scripting: not defined")
	ErrDefine     = errors.New("scripting: cannot define class")
)
