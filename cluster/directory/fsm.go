package directory

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// location is where an object lives.
type location struct {
	Node  string
	Epoch uint64
}

type uniqueKey struct {
	Class, Index, Tuple string
}

type classKey struct {
	Name    string
	Version int
}

// state is the replicated state. raft calls Apply, Snapshot and Restore from
// one goroutine; the read methods run on any goroutine, hence the lock.
type state struct {
	onClass func(persist.ClassRecord)

	mu      sync.RWMutex
	objects map[objects.Ref]location
	uniques map[uniqueKey]string
	classes map[classKey]persist.ClassRecord
	// names interns node and class names, which repeat across millions of
	// entries; only the FSM goroutine touches it.
	names map[string]string
}

func newState(onClass func(persist.ClassRecord)) *state {
	return &state{
		onClass: onClass,
		objects: make(map[objects.Ref]location),
		uniques: make(map[uniqueKey]string),
		classes: make(map[classKey]persist.ClassRecord),
		names:   make(map[string]string),
	}
}

func (s *state) intern(name string) string {
	if v, ok := s.names[name]; ok {
		return v
	}
	if len(s.names) < 1<<16 {
		s.names[name] = name
	}
	return name
}

// applyResult is what Apply returns for a command entry: one result per op,
// or err if the entry could not be decoded at all.
type applyResult struct {
	results []result
	err     error
}

// Apply implements raft.FSM.
func (s *state) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	ops, err := decodeCommand(l.Data)
	if err != nil {
		return &applyResult{err: err}
	}
	results := make([]result, len(ops))
	var added []persist.ClassRecord
	s.mu.Lock()
	for i := range ops {
		results[i] = s.apply(&ops[i], &added)
	}
	s.mu.Unlock()
	if s.onClass != nil {
		for _, r := range added {
			s.onClass(r)
		}
	}
	return &applyResult{results: results}
}

// apply applies one op with s.mu held. Everything it does must be
// deterministic: it runs on every node.
func (s *state) apply(o *op, added *[]persist.ClassRecord) result {
	if err := o.validate(); err != nil {
		return result{Code: codeInvalid, Msg: err.Error()}
	}
	switch o.Kind {
	case opClaim:
		r := result{Owners: make([]string, len(o.Refs)), Epochs: make([]uint64, len(o.Refs))}
		for i, w := range o.Refs {
			ref := objects.Ref{Class: s.intern(w.Class), ID: w.ID}
			loc, ok := s.objects[ref]
			if !ok {
				loc = location{Node: s.intern(o.Node), Epoch: 1}
				s.objects[ref] = loc
			}
			r.Owners[i], r.Epochs[i] = loc.Node, loc.Epoch
		}
		return r
	case opMove:
		w := o.Refs[0]
		ref := objects.Ref{Class: s.intern(w.Class), ID: w.ID}
		loc := s.objects[ref]
		switch {
		case loc.Node == o.Node && loc.Epoch == o.Epoch:
			loc = location{Node: s.intern(o.To), Epoch: o.Epoch + 1}
			s.objects[ref] = loc
			return result{Epoch: loc.Epoch}
		case loc.Node == o.To && loc.Epoch == o.Epoch+1:
			// This very move already happened (only a move from (from,
			// epoch) can produce (to, epoch+1)): a command sent again after
			// its reply was lost with a leader.
			return result{Epoch: loc.Epoch}
		}
		return result{Code: codeConflict, Owner: loc.Node, Epoch: loc.Epoch,
			Msg: fmt.Sprintf("%s is owned by %q at epoch %d, not by %q at epoch %d", ref, loc.Node, loc.Epoch, o.Node, o.Epoch)}
	case opClaimUnique:
		k := uniqueKey{Class: s.intern(o.Class), Index: s.intern(o.Index), Tuple: string(o.Tuple)}
		h, ok := s.uniques[k]
		if !ok {
			h = o.Holder
			s.uniques[k] = h
		}
		return result{Owner: h}
	case opFreeUnique:
		k := uniqueKey{Class: o.Class, Index: o.Index, Tuple: string(o.Tuple)}
		if s.uniques[k] == o.Holder {
			delete(s.uniques, k)
		}
		return result{}
	case opPutClass:
		rec := *o.Rec
		k := classKey{Name: rec.Name, Version: rec.Version}
		if old, ok := s.classes[k]; ok {
			if old.Source != rec.Source {
				return result{Code: codeConflict, Msg: fmt.Sprintf("class %s version %d is already defined with another source", rec.Name, rec.Version)}
			}
			return result{}
		}
		s.classes[k] = rec
		*added = append(*added, rec)
		return result{}
	}
	return result{Code: codeInvalid, Msg: "unknown op"} // validate rejects it first
}

func (s *state) owner(ref objects.Ref) (location, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	loc, ok := s.objects[ref]
	return loc, ok
}

func (s *state) uniqueHolder(class, index string, tuple []byte) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h, ok := s.uniques[uniqueKey{Class: class, Index: index, Tuple: string(tuple)}]
	return h, ok
}

func (s *state) classList() []persist.ClassRecord {
	s.mu.RLock()
	list := make([]persist.ClassRecord, 0, len(s.classes))
	for _, r := range s.classes {
		list = append(list, r)
	}
	s.mu.RUnlock()
	sortClasses(list)
	return list
}

func sortClasses(list []persist.ClassRecord) {
	slices.SortFunc(list, func(a, b persist.ClassRecord) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
}
