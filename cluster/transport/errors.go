package transport

import "errors"

var (
	// ErrOverloaded is returned when a connection's outgoing queue is full,
	// or when the peer answers that it runs too many requests already.
	ErrOverloaded = errors.New("transport: overloaded")
	// ErrClosed is returned by calls on a closed Transport, and to pending
	// requests when it closes.
	ErrClosed = errors.New("transport: closed")
	// ErrNoPeer is returned by SendPeer and RequestPeer when no connection
	// to a peer of that name exists.
	ErrNoPeer = errors.New("transport: no connection to that peer")

	errMalformed = errors.New("transport: malformed frame")
	errTooLarge  = errors.New("transport: frame larger than MaxFrame")
	errNoHandler = errors.New("transport: no request handler")
)

// RemoteError is a request handler's error, as the requester receives it.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }
