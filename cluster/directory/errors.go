package directory

import "errors"

// Sentinel errors of the directory. Check them with errors.Is: most are
// wrapped with detail.
var (
	// ErrNotLeader: a membership change was asked of a node that is not the
	// raft leader, or a write reached a node that is not the leader and has no
	// Forward function.
	ErrNotLeader = errors.New("directory: not the leader")
	// ErrNoLeader: a write waited its whole time limit without reaching a
	// leader (the cluster has lost its quorum, or this node was never added).
	ErrNoLeader = errors.New("directory: no leader")
	// ErrConflict: a compare-and-set failed (MoveObject with a stale owner or
	// epoch) or a class version was defined with another source.
	ErrConflict = errors.New("directory: conflict")
	// ErrClosed: the directory was closed.
	ErrClosed = errors.New("directory: closed")
	// ErrBadCommand: an argument was out of range, or a forwarded command
	// could not be decoded.
	ErrBadCommand = errors.New("directory: bad command")
)

// ConflictError is the error of a failed compare-and-set; it wraps
// ErrConflict. After a failed MoveObject, Owner and Epoch are the object's
// owner and epoch when the leader refused the move (the freshest answer
// there is: a caller whose earlier attempt had an unknown outcome learns
// from Epoch whether that attempt took effect).
type ConflictError struct {
	Owner string
	Epoch uint64
	Msg   string
}

func (e *ConflictError) Error() string { return ErrConflict.Error() + ": " + e.Msg }

func (e *ConflictError) Unwrap() error { return ErrConflict }
