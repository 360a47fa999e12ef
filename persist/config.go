package persist

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Defaults applied by DefaultConfig and by Open to zero fields.
const (
	DefaultLockTimeout = time.Second
	DefaultMaxBatch    = 1024
)

// Config configures a Store. The zero value of every field except Path means
// "use the default", so a literal Config{Path: p} works.
type Config struct {
	// Path is the bbolt file; the node passes DIR/odin.db. A sidecar file
	// Path+".pid" names the process holding it.
	Path string
	// NoSync skips fsync on commit: for tests and --memory only, a crash may
	// then lose acknowledged turns.
	NoSync bool
	// LockTimeout bounds how long Open waits for the file lock before it
	// reports ErrInUse; 0 means DefaultLockTimeout.
	LockTimeout time.Duration
	// Logger receives rare events (open, retried batches); nil is silent.
	Logger *slog.Logger
	// MaxBatch caps the writes in one transaction so that one huge burst does
	// not hold every caller until a giant commit ends; 0 means DefaultMaxBatch.
	MaxBatch int
	// Rand is the source of the node id written into a new file; nil means
	// crypto/rand. Tests inject a fixed reader to get a known id.
	Rand io.Reader
	// IndexKey appends the index key component (objects.AppendKey) of one
	// stored field value; ok is false if the value cannot be indexed. The
	// node passes codec.KeyOf. nil disables secondary indexes.
	IndexKey func(dst, value []byte) (out []byte, ok bool)
}

// DefaultConfig returns a fresh Config with every default filled in; the
// caller still has to set Path.
func DefaultConfig() Config {
	return Config{LockTimeout: DefaultLockTimeout, MaxBatch: DefaultMaxBatch}
}

// Validate reports the first problem with c, wrapping ErrInvalid.
func (c Config) Validate() error {
	switch {
	case c.Path == "":
		return fmt.Errorf("%w: config: Path is empty", ErrInvalid)
	case c.LockTimeout < 0:
		return fmt.Errorf("%w: config: LockTimeout %v is negative", ErrInvalid, c.LockTimeout)
	case c.MaxBatch < 0:
		return fmt.Errorf("%w: config: MaxBatch %d is negative", ErrInvalid, c.MaxBatch)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.LockTimeout == 0 {
		c.LockTimeout = DefaultLockTimeout
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
