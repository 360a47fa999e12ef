package persist

import "errors"

// Sentinel errors. Functions wrap them with %w and add the detail (a path, a key,
// a pid), so callers test with errors.Is and humans read the whole message.
var (
	// ErrInUse means another process (or another Store in this process) holds
	// the data file's lock.
	ErrInUse = errors.New("persist: data directory in use")
	// ErrFormat means the file was written by an incompatible format version or
	// is not an Odin data file. Such a file is refused, never rewritten.
	ErrFormat = errors.New("persist: incompatible data file format")
	// ErrClosed is returned, or passed to done, once Close has begun.
	ErrClosed = errors.New("persist: store closed")
	// ErrCorrupt means a stored record failed to decode or a key broke the
	// layout. The wrapping error names the key.
	ErrCorrupt = errors.New("persist: corrupt record")
	// ErrInvalid means the caller passed a value the store refuses (a write
	// without meta for a new object, an empty name, a reserved meta key, a bad
	// config). Nothing was written.
	ErrInvalid = errors.New("persist: invalid argument")
	// ErrClassExists means PutClass was given a version that is already stored
	// with different content: class versions are immutable because stored
	// objects name the version that wrote them.
	ErrClassExists = errors.New("persist: class version already stored with different content")
)
