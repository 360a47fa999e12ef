package directory

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"

	"github.com/hashicorp/raft"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// A snapshot is a format byte followed by a sequence of CBOR chunks of at most
// snapChunkLen entries each, the last one marked End with the total count. It
// streams both ways, so that a large directory needs no second copy in memory
// as one encoded value.
const (
	snapshotV1   = 1
	snapChunkLen = 4096
)

type snapObject struct {
	_     struct{} `cbor:",toarray"`
	Class string
	ID    string
	Node  string
	Epoch uint64
}

type snapUnique struct {
	_      struct{} `cbor:",toarray"`
	Class  string
	Index  string
	Tuple  []byte
	Holder string
}

type snapChunk struct {
	Objects []snapObject          `cbor:"1,keyasint,omitempty"`
	Uniques []snapUnique          `cbor:"2,keyasint,omitempty"`
	Classes []persist.ClassRecord `cbor:"3,keyasint,omitempty"`
	End     bool                  `cbor:"4,keyasint,omitempty"`
	Count   uint64                `cbor:"5,keyasint,omitempty"` // entries in all chunks, in the End chunk
}

// snapshot is a point-in-time copy of the state. Cloning the maps costs a
// pass over them on the FSM goroutine (tens of milliseconds per million
// objects); the encoding runs later on raft's snapshot goroutine.
type snapshot struct {
	objects map[objects.Ref]location
	uniques map[uniqueKey]string
	classes []persist.ClassRecord
}

// Snapshot implements raft.FSM.
func (s *state) Snapshot() (raft.FSMSnapshot, error) {
	s.mu.RLock()
	snap := &snapshot{objects: maps.Clone(s.objects), uniques: maps.Clone(s.uniques)}
	s.mu.RUnlock()
	snap.classes = s.classList()
	return snap, nil
}

// Persist implements raft.FSMSnapshot.
func (snap *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := snap.write(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (snap *snapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := bw.WriteByte(snapshotV1); err != nil {
		return err
	}
	enc := encMode.NewEncoder(bw)
	var (
		chunk snapChunk
		n     int
		count uint64
	)
	flush := func(end bool) error {
		chunk.End = end
		if end {
			chunk.Count = count
		}
		if err := enc.Encode(&chunk); err != nil {
			return fmt.Errorf("directory: write snapshot: %w", err)
		}
		chunk, n = snapChunk{}, 0
		return nil
	}
	add := func() error {
		n++
		count++
		if n < snapChunkLen {
			return nil
		}
		return flush(false)
	}
	for ref, loc := range snap.objects {
		chunk.Objects = append(chunk.Objects, snapObject{Class: ref.Class, ID: ref.ID, Node: loc.Node, Epoch: loc.Epoch})
		if err := add(); err != nil {
			return err
		}
	}
	for k, h := range snap.uniques {
		chunk.Uniques = append(chunk.Uniques, snapUnique{Class: k.Class, Index: k.Index, Tuple: []byte(k.Tuple), Holder: h})
		if err := add(); err != nil {
			return err
		}
	}
	for _, r := range snap.classes {
		chunk.Classes = append(chunk.Classes, r)
		if err := add(); err != nil {
			return err
		}
	}
	if err := flush(true); err != nil {
		return err
	}
	return bw.Flush()
}

// Release implements raft.FSMSnapshot.
func (snap *snapshot) Release() {}

// Restore implements raft.FSM: it replaces the whole state with the
// snapshot's, then tells OnClass of every class record in it.
func (s *state) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	fresh := newState(s.onClass)
	if err := fresh.read(rc); err != nil {
		return err
	}
	s.mu.Lock()
	s.objects, s.uniques, s.classes, s.names = fresh.objects, fresh.uniques, fresh.classes, fresh.names
	s.mu.Unlock()
	if s.onClass != nil {
		for _, r := range fresh.classList() {
			s.onClass(r)
		}
	}
	return nil
}

// read fills an empty state from a snapshot. It never panics on arbitrary
// input (FuzzSnapshot holds it to that).
func (s *state) read(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	v, err := br.ReadByte()
	if err != nil {
		return fmt.Errorf("directory: read snapshot: %w", err)
	}
	if v != snapshotV1 {
		return fmt.Errorf("directory: unknown snapshot format %d", v)
	}
	dec := decMode.NewDecoder(br)
	var count uint64
	for {
		var c snapChunk
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("directory: read snapshot: %w", err)
		}
		for _, o := range c.Objects {
			ref := objects.Ref{Class: s.intern(o.Class), ID: o.ID}
			s.objects[ref] = location{Node: s.intern(o.Node), Epoch: o.Epoch}
		}
		for _, u := range c.Uniques {
			s.uniques[uniqueKey{Class: s.intern(u.Class), Index: s.intern(u.Index), Tuple: string(u.Tuple)}] = u.Holder
		}
		for _, r := range c.Classes {
			s.classes[classKey{Name: r.Name, Version: r.Version}] = r
		}
		count += uint64(len(c.Objects) + len(c.Uniques) + len(c.Classes))
		if c.End {
			if c.Count != count {
				return fmt.Errorf("directory: read snapshot: %d entries, the end says %d", count, c.Count)
			}
			return nil
		}
	}
}
