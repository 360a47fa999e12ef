package host

import (
	"errors"
	"fmt"
	"sync"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting"
	"github.com/odin-db/odin/scripting/codec"
)

// Secondary indexes on the node: declaring them when a class is defined,
// building new ones in the background, keeping unique ones unique across
// the VMs, and answering odin.find.

// buildBatch is how many objects one build step indexes: one writer
// transaction of a few milliseconds, so commits interleave with a build.
const buildBatch = 1000

// maxFinds bounds the queries running at once on a node; more are answered
// OverloadedError.
const maxFinds = 64

// indexer owns the node's index builds and its unique claims.
type indexer struct {
	n *Node

	mu      sync.Mutex
	queue   []buildJob // builds waiting, in order
	running bool
	stopped bool
	idle    *sync.Cond // signalled when the queue empties

	claimMu sync.Mutex
	claims  map[string]*claim // class NUL index NUL tuple -> holder

	finds chan struct{} // a token per running query
}

type buildJob struct{ class, index string }

type claim struct {
	id string
	n  int // commits in flight carrying the value
}

func newIndexer(n *Node) *indexer {
	ix := &indexer{n: n, claims: map[string]*claim{}, finds: make(chan struct{}, maxFinds)}
	ix.idle = sync.NewCond(&ix.mu)
	return ix
}

// declareAll reconciles the stored index declarations with the newest
// version of every class and resumes builds a stop interrupted.
func (ix *indexer) declareAll() error {
	for _, name := range ix.n.classes.Names() {
		if err := ix.declare(ix.n.classes.Latest(name)); err != nil {
			return err
		}
	}
	return nil
}

// declare stores a class version's indexes and queues the builds needed.
func (ix *indexer) declare(d *scripting.ClassDef) error {
	sts, err := ix.n.store.DeclareIndexes(d.Name, d.Indexes)
	if err != nil {
		return fmt.Errorf("host: declare indexes of %s: %w", d.Name, err)
	}
	for _, st := range sts {
		if !st.Built && st.Err == "" {
			ix.n.cfg.Logger.Info("index build", "class", d.Name, "index", st.Index.String(), "objects", st.Total)
			ix.enqueue(buildJob{class: d.Name, index: st.Index.Name()})
		}
	}
	return nil
}

func (ix *indexer) enqueue(j buildJob) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.stopped {
		return
	}
	ix.queue = append(ix.queue, j)
	if !ix.running {
		ix.running = true
		go ix.run()
	}
}

// run builds the queued indexes one after another, a batch per writer
// transaction, until the queue is empty or the node closes.
func (ix *indexer) run() {
	for {
		ix.mu.Lock()
		if len(ix.queue) == 0 || ix.stopped {
			ix.running = false
			ix.idle.Broadcast()
			ix.mu.Unlock()
			return
		}
		j := ix.queue[0]
		ix.mu.Unlock()
		for {
			st, done, err := ix.n.store.BuildIndexStep(j.class, j.index, buildBatch)
			if err != nil {
				if !errors.Is(err, persist.ErrClosed) {
					ix.n.cfg.Logger.Error("index build", "class", j.class, "index", j.index, "err", err)
				}
				break
			}
			if done {
				if st.Err != "" {
					ix.n.cfg.Logger.Error("index build failed", "class", j.class, "index", st.Index.String(), "err", st.Err)
				} else {
					ix.n.cfg.Logger.Info("index built", "class", j.class, "index", st.Index.String(), "objects", st.Done)
				}
				break
			}
			ix.mu.Lock()
			stop := ix.stopped
			ix.mu.Unlock()
			if stop {
				break
			}
		}
		ix.mu.Lock()
		ix.queue = ix.queue[1:]
		ix.mu.Unlock()
	}
}

// stop ends the builds at their next step (they resume at the next Open)
// and waits for the current one.
func (ix *indexer) stop() {
	ix.mu.Lock()
	ix.stopped = true
	for ix.running {
		ix.idle.Wait()
	}
	ix.mu.Unlock()
}

// waitBuilds blocks until no build is queued or running (for tests and
// benchmarks).
func (ix *indexer) waitBuilds() {
	ix.mu.Lock()
	for ix.running {
		ix.idle.Wait()
	}
	ix.mu.Unlock()
}

// WaitIndexes blocks until every index build queued so far has finished.
func (n *Node) WaitIndexes() { n.indexes.waitBuilds() }

// ---- unique claims (scripting.Uniques) ----

func claimKey(class string, ix objects.Index, tuple []byte) string {
	return class + "\x00" + ix.Name() + "\x00" + string(tuple)
}

// Claim implements scripting.Uniques for the VMs of one node: a value is
// taken if another object's commit carrying it is in flight, or if the
// stored index holds it for another object.
func (ix *indexer) Claim(class string, index objects.Index, tuple []byte, id string) (string, error) {
	k := claimKey(class, index, tuple)
	ix.claimMu.Lock()
	defer ix.claimMu.Unlock()
	if c := ix.claims[k]; c != nil {
		if c.id != id {
			return c.id, nil
		}
		c.n++
		return "", nil
	}
	holder, err := ix.n.store.UniqueHolder(class, index, tuple)
	if err != nil {
		return "", err
	}
	if holder != "" && holder != id {
		return holder, nil
	}
	ix.claims[k] = &claim{id: id, n: 1}
	return "", nil
}

// Release implements scripting.Uniques.
func (ix *indexer) Release(class string, index objects.Index, tuple []byte, id string) {
	k := claimKey(class, index, tuple)
	ix.claimMu.Lock()
	defer ix.claimMu.Unlock()
	if c := ix.claims[k]; c != nil && c.id == id {
		if c.n--; c.n <= 0 {
			delete(ix.claims, k)
		}
	}
}

// ---- queries ----

// find runs a KindFind message off the worker's goroutine and routes the
// reply to the caller.
func (ix *indexer) find(m *scripting.Message) error {
	select {
	case ix.finds <- struct{}{}:
	default:
		return scripting.ErrOverloaded
	}
	go func() {
		defer func() { <-ix.finds }()
		payload, failed := ix.answer(m)
		reply := &scripting.Message{Kind: scripting.KindReply, From: m.From, Args: payload, Failed: failed}
		if err := ix.n.Route(reply); err != nil {
			ix.n.cfg.Logger.Warn("find reply lost", "to", m.From.Obj.String(), "err", err)
		}
	}()
	return nil
}

// answer runs the query and encodes the reply's payload (the result, or a
// thrown error with failed set).
func (ix *indexer) answer(m *scripting.Message) (payload []byte, failed bool) {
	fail := func(name, format string, a ...any) ([]byte, bool) {
		b, _ := codec.AppendGo(nil, &codec.ErrorValue{Name: name, Message: fmt.Sprintf(format, a...)})
		return b, true
	}
	q, err := scripting.DecodeQuery(m.Args)
	if err != nil {
		return fail("TypeError", "odin.find: %v", err)
	}
	if ix.n.cfg.Memory {
		// Output left before its commit (EagerRelease): let the writer
		// catch up so that a query sees what its caller was told.
		if err := ix.n.store.Sync(); err != nil {
			return fail("UnavailableError", "odin.find: %v", err)
		}
	}
	entries, err := ix.n.store.ScanIndex(q)
	switch {
	case errors.Is(err, persist.ErrIndexBuilding), errors.Is(err, persist.ErrNoIndex):
		return fail("UnavailableError", "odin.find: %v", trimPersist(err))
	case errors.Is(err, persist.ErrInvalid):
		return fail("TypeError", "odin.find: %v", trimPersist(err))
	case err != nil:
		return fail("UnavailableError", "odin.find: %v", err)
	}
	if len(entries) > q.Limit {
		if q.Strict {
			return fail("RangeError", "odin.find: more than %d objects of %s match; pass a limit and page with after", q.Limit, q.Class)
		}
		entries = entries[:q.Limit]
	}
	rows := make([]any, 0, len(entries))
	for _, e := range entries {
		ref := objects.Ref{Class: q.Class, ID: e.ID}
		if !q.Select {
			rows = append(rows, ref)
			continue
		}
		st, ok, err := ix.n.store.Load(q.Class, e.ID)
		if err != nil {
			return fail("UnavailableError", "odin.find: %v", err)
		}
		var fields []any
		if ok {
			for _, name := range st.Meta.Fields {
				if v, has := st.Fields[name]; has {
					fields = append(fields, name, codec.Bytes(v))
				}
			}
		}
		rows = append(rows, []any{ref, fields})
	}
	b, err := codec.AppendGo(nil, rows)
	if err != nil {
		return fail("Error", "odin.find: %v", err)
	}
	return b, false
}

// trimPersist drops the "persist: ..." sentinel's text from a query error.
func trimPersist(err error) string {
	s := err.Error()
	for _, sentinel := range []error{persist.ErrIndexBuilding, persist.ErrNoIndex, persist.ErrInvalid} {
		if p := sentinel.Error() + ": "; len(s) > len(p) && s[:len(p)] == p {
			return s[len(p):]
		}
	}
	return s
}

// IndexInfo describes one declared index of a class and its build.
type IndexInfo struct {
	Class string
	Index string // as users write it: owner, [city, age], unique email
	Built bool
	Done  int // objects indexed so far by its build
	Total int // objects of the class when the build began
	Err   string
}

// Indexes lists the declared indexes of every class, with their builds.
func (n *Node) Indexes() ([]IndexInfo, error) {
	var out []IndexInfo
	for _, class := range n.classes.Names() {
		sts, err := n.store.IndexStates(class)
		if err != nil {
			return nil, err
		}
		for _, st := range sts {
			out = append(out, IndexInfo{Class: class, Index: st.Index.String(), Built: st.Built, Done: st.Done, Total: st.Total, Err: st.Err})
		}
	}
	return out, nil
}
