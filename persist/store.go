package persist

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FormatVersion is the on-disk layout this build reads and writes. A file with
// another version is refused by Open.
const FormatVersion = 1

// Top-level buckets and reserved keys of the meta bucket.
var (
	bucketObjects = []byte("objects")
	bucketClasses = []byte("classes")
	bucketMeta    = []byte("meta")
	keyFormat     = []byte("format")
	keyNode       = []byte("node")
)

// Store is one node's bbolt file plus the goroutine that group-commits writes
// into it. All methods are safe for concurrent use.
type Store struct {
	cfg     Config
	log     *slog.Logger
	db      *bbolt.DB
	nodeID  string
	pidPath string

	// mu orders sends on queue against Close closing it: Commit holds it for
	// reading, Close for writing, so a send never hits a closed channel.
	mu         sync.RWMutex
	closed     bool
	isClosed   atomic.Bool // lets readers fail fast without taking mu
	queue      chan pending
	writerDone chan struct{}

	batches, writes, retries atomic.Uint64

	w writerState // owned by the writer goroutine

	stateMu    sync.Mutex             // guards stateCache
	stateCache map[string]cachedState // decoded index states, for queries

	// Failpoints for tests, set before the first Commit and read only by the
	// writer goroutine: failApply makes a write fail as if bbolt had refused
	// it, failCommit makes a whole transaction fail after the writes applied.
	failApply  func(*Write) error
	failCommit func() error
}

// Stats counts the writer's work since Open.
type Stats struct {
	Batches uint64 // transactions committed or attempted, one per batch
	Writes  uint64 // writes and other queued operations handled
	Retries uint64 // extra transactions run to isolate failing writes
}

// Open opens or creates the data file at cfg.Path, checks its format, and
// starts the writer. If another process holds the file it fails after
// cfg.LockTimeout with an error wrapping ErrInUse that names that process.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Store{cfg: cfg, log: cfg.Logger, pidPath: cfg.Path + ".pid"}
	db, err := bbolt.Open(cfg.Path, 0o600, &bbolt.Options{
		Timeout:      cfg.LockTimeout,
		NoSync:       cfg.NoSync,
		FreelistType: bbolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, s.inUseError()
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("%w: %s is not a bbolt file this build can read: %w", ErrFormat, cfg.Path, err)
	case err != nil:
		return nil, fmt.Errorf("persist: open %s: %w", cfg.Path, err)
	}
	s.db = db
	if err := s.initMeta(); err != nil {
		db.Close()
		return nil, err
	}
	// Written only once we hold the lock, so the file always names the holder
	// (a stale one left by a crash is simply overwritten by the next holder).
	if err := os.WriteFile(s.pidPath, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		s.log.Warn("persist: cannot write pid file", "path", s.pidPath, "err", err)
	}
	s.queue = make(chan pending, 4*cfg.MaxBatch)
	s.writerDone = make(chan struct{})
	s.w.batch = make([]pending, 0, cfg.MaxBatch)
	go s.run()
	s.log.Info("persist: opened", "path", cfg.Path, "node", s.nodeID, "nosync", cfg.NoSync)
	return s, nil
}

func (s *Store) inUseError() error {
	b, err := os.ReadFile(s.pidPath)
	if err == nil {
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
			return fmt.Errorf("%w by pid %d (%s)", ErrInUse, pid, s.cfg.Path)
		}
	}
	return fmt.Errorf("%w by another process (%s)", ErrInUse, s.cfg.Path)
}

// initMeta checks the format of an existing file in a read-only transaction,
// so that a refused file is not touched, and initialises a new one.
func (s *Store) initMeta() error {
	fresh, missing := false, false
	err := s.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			var other []byte
			_ = tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
				other = name
				return errStop
			})
			if other != nil {
				return fmt.Errorf("%w: %s has bucket %q but no meta bucket: not an odin data file", ErrFormat, s.cfg.Path, other)
			}
			fresh = true
			return nil
		}
		f := meta.Get(keyFormat)
		if len(f) != 4 {
			return fmt.Errorf("%w: %s has no valid format version (%x)", ErrFormat, s.cfg.Path, f)
		}
		if v := binary.BigEndian.Uint32(f); v != FormatVersion {
			return fmt.Errorf("%w: %s has format version %d, this build reads version %d", ErrFormat, s.cfg.Path, v, FormatVersion)
		}
		node := meta.Get(keyNode)
		if len(node) == 0 {
			return corrupt("meta", keyNode, errors.New("missing node id"))
		}
		s.nodeID = string(node)
		missing = tx.Bucket(bucketObjects) == nil || tx.Bucket(bucketClasses) == nil ||
			tx.Bucket(bucketLogs) == nil || tx.Bucket(bucketDedupe) == nil || tx.Bucket(bucketIndexes) == nil
		return nil
	})
	if err != nil || (!fresh && !missing) {
		return err
	}
	if fresh {
		id, err := newNodeID(s.cfg.Rand)
		if err != nil {
			return err
		}
		s.nodeID = id
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if fresh {
			var v [4]byte
			binary.BigEndian.PutUint32(v[:], FormatVersion)
			if err := meta.Put(keyFormat, v[:]); err != nil {
				return err
			}
			if err := meta.Put(keyNode, []byte(s.nodeID)); err != nil {
				return err
			}
		}
		for _, name := range [][]byte{bucketObjects, bucketClasses, bucketLogs, bucketDedupe, bucketIndexes} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
}

var errStop = errors.New("stop")

func newNodeID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("persist: node id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// NodeID is the random id written into the file when it was created; it
// survives restarts and identifies this node's data in the cluster.
func (s *Store) NodeID() string { return s.nodeID }

// Path is the bbolt file the store was opened on.
func (s *Store) Path() string { return s.cfg.Path }

// Stats returns the writer's counters.
func (s *Store) Stats() Stats {
	return Stats{Batches: s.batches.Load(), Writes: s.writes.Load(), Retries: s.retries.Load()}
}

// Close stops accepting writes, waits until every queued write is committed
// and its done called, then closes the file. Calling it again returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.isClosed.Store(true)
	close(s.queue)
	s.mu.Unlock()
	<-s.writerDone
	// Remove the pid file while we still hold the lock: afterwards it may
	// already belong to the next holder.
	var rmErr error
	if err := os.Remove(s.pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		rmErr = fmt.Errorf("persist: remove pid file: %w", err)
	}
	if err := s.db.Close(); err != nil {
		return errors.Join(fmt.Errorf("persist: close %s: %w", s.cfg.Path, err), rmErr)
	}
	return rmErr
}

// view runs fn in a read transaction, reporting ErrClosed after Close.
func (s *Store) view(fn func(tx *bbolt.Tx) error) error {
	if s.isClosed.Load() {
		return ErrClosed
	}
	err := s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// GetMeta returns a copy of the value stored under key in the meta bucket, or
// nil if there is none.
func (s *Store) GetMeta(key string) ([]byte, error) {
	if err := checkMetaKey(key); err != nil {
		return nil, err
	}
	var out []byte
	err := s.view(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte(key)); v != nil {
			out = append([]byte{}, v...)
		}
		return nil
	})
	return out, err
}

// PutMeta durably stores val under key in the meta bucket; a nil val deletes
// the key. It goes through the writer, so it is ordered with Commit.
func (s *Store) PutMeta(key string, val []byte) error {
	if err := checkMetaKey(key); err != nil {
		return err
	}
	return s.syncOp(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if val == nil {
			return b.Delete([]byte(key))
		}
		return b.Put([]byte(key), val)
	})
}

// checkMetaKey keeps callers away from the keys Open relies on, present and
// future ("format2", "node-name" ...).
func checkMetaKey(key string) error {
	if key == "" || strings.HasPrefix(key, "format") || strings.HasPrefix(key, "node") {
		return fmt.Errorf("%w: meta key %q is empty or reserved", ErrInvalid, key)
	}
	return nil
}
