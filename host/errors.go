package host

import "errors"

// Sentinel errors of the host package.
var (
	// ErrClosed: the node was closed while a script was running.
	ErrClosed = errors.New("host: node closed")
)
