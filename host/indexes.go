package host

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// maxFinds bounds the queries running at once on a node; more wait in a
// queue as long as the node's call queues (Config.QueueLimit), and past
// that are answered OverloadedError.
const maxFinds = 64

// indexer owns the node's index builds and its unique claims.
type indexer struct {
	n *Node

	mu      sync.Mutex
	queue   []buildJob // builds waiting, in order
	running bool
	stopped bool
	idle    *sync.Cond // signalled when the queue empties

	claimMu  sync.Mutex
	claims   map[string]*claim   // class NUL index NUL tuple -> holder
	newest   map[string]*claimer // class NUL index NUL id -> the object's newest claim
	building map[string]bool     // class NUL index name -> queued or being built (under claimMu)

	findMu      sync.Mutex
	findQueue   []*scripting.Message // queries waiting for a runner, oldest first
	findRunners int                  // goroutines answering queries (at most maxFinds)
}

type buildJob struct{ class, index string }

func buildKey(class, index string) string { return class + "\x00" + index }

type claim struct {
	id string
	n  int // commits in flight carrying the value
}

// claimer is what an object with commits in flight claimed last in one
// unique index: the value its newest commit gives it ("" for none).
type claimer struct {
	tuple string
	n     int // claims in flight (nil ones included)
}

func newIndexer(n *Node) *indexer {
	ix := &indexer{n: n, claims: map[string]*claim{}, newest: map[string]*claimer{}, building: map[string]bool{}}
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
	waiting := ix.queue
	if ix.running && len(waiting) > 0 {
		waiting = waiting[1:] // the first is being built: it may have read its last state
	}
	if ix.stopped || slices.Contains(waiting, j) {
		return // queued already (the same version defined again)
	}
	ix.claimMu.Lock()
	ix.building[buildKey(j.class, j.index)] = true
	ix.claimMu.Unlock()
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
					if c := ix.n.cluster; c != nil && st.Index.Unique {
						if err := c.registerUnique(j.class, st.Index); err != nil {
							ix.n.cfg.Logger.Error("registering unique values", "class", j.class, "index", st.Index.String(), "err", err)
						}
					}
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
		if !slices.Contains(ix.queue, j) {
			ix.claimMu.Lock()
			delete(ix.building, buildKey(j.class, j.index))
			ix.claimMu.Unlock()
		}
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
//
// While the unique index is being built the stored index does not yet hold
// the values of every object, so whether a value is taken is unknown: the
// claim fails (the turn gets an UnavailableError) rather than let through a
// duplicate that would make the build fail.
//
// With Memory, output leaves before its commit (EagerRelease): a caller
// told that X moved from the value v to another may claim v while X's
// commits are still on their way, v still claimed or stored for X. When
// X's newest claim does not hold v, Claim lets the store apply what was
// committed before it (X's commits among them) and looks again.
func (ix *indexer) Claim(class string, index objects.Index, tuple []byte, id string) (string, error) {
	ik := buildKey(class, index.Name())
	ix.claimMu.Lock()
	defer ix.claimMu.Unlock()
	if tuple == nil {
		ix.noteClaim(ik, id, "")
		return "", nil
	}
	if ix.building[ik] {
		return "", fmt.Errorf("the index is still being built; try again when it is done")
	}
	k := claimKey(class, index, tuple)
	moved := func(holder string) bool {
		c := ix.newest[ik+"\x00"+holder]
		return ix.n.cfg.Memory && c != nil && c.tuple != string(tuple)
	}
	for synced := false; ; synced = true {
		holder := ""
		if c := ix.claims[k]; c != nil && c.id != id && !moved(c.id) {
			holder = c.id
		}
		if holder == "" {
			h, err := ix.n.store.UniqueHolder(class, index, tuple)
			if err != nil {
				return "", err
			}
			if h != id {
				holder = h
			}
		}
		if holder == "" {
			if c := ix.claims[k]; c != nil && c.id == id {
				c.n++
			} else {
				ix.claims[k] = &claim{id: id, n: 1} // a claim of an object that moved on is dropped
			}
			ix.noteClaim(ik, id, string(tuple))
			return "", nil
		}
		if synced || !moved(holder) {
			return holder, nil
		}
		ix.claimMu.Unlock()
		err := ix.n.store.Sync()
		ix.claimMu.Lock()
		if err != nil {
			return "", err
		}
	}
}

func (ix *indexer) noteClaim(ik, id, tuple string) {
	c := ix.newest[ik+"\x00"+id]
	if c == nil {
		c = &claimer{}
		ix.newest[ik+"\x00"+id] = c
	}
	c.tuple = tuple
	c.n++
}

// Release implements scripting.Uniques.
func (ix *indexer) Release(class string, index objects.Index, tuple, _ []byte, id string, _ bool) {
	ik := buildKey(class, index.Name())
	ix.claimMu.Lock()
	defer ix.claimMu.Unlock()
	if c := ix.newest[ik+"\x00"+id]; c != nil {
		if c.n--; c.n <= 0 {
			delete(ix.newest, ik+"\x00"+id)
		}
	}
	if tuple == nil {
		return
	}
	k := claimKey(class, index, tuple)
	if c := ix.claims[k]; c != nil && c.id == id {
		if c.n--; c.n <= 0 {
			delete(ix.claims, k)
		}
	}
}

// ---- queries ----

// find queues a KindFind message; runners answer it off the worker's
// goroutine and route the reply to the caller.
func (ix *indexer) find(m *scripting.Message) error {
	limit := ix.n.cfg.QueueLimit
	if limit <= 0 {
		limit = scripting.DefaultConfig().QueueLimit
	}
	ix.findMu.Lock()
	defer ix.findMu.Unlock()
	if len(ix.findQueue) >= limit {
		return scripting.ErrOverloaded
	}
	ix.findQueue = append(ix.findQueue, m)
	if ix.findRunners < maxFinds {
		ix.findRunners++
		go ix.runFinds()
	}
	return nil
}

// runFinds answers queued queries until the queue is empty.
func (ix *indexer) runFinds() {
	for {
		ix.findMu.Lock()
		if len(ix.findQueue) == 0 {
			ix.findRunners--
			ix.findMu.Unlock()
			return
		}
		m := ix.findQueue[0]
		ix.findQueue[0] = nil
		ix.findQueue = ix.findQueue[1:]
		ix.findMu.Unlock()
		payload, failed := ix.answer(m)
		reply := &scripting.Message{Kind: scripting.KindReply, From: m.From, Args: payload, Failed: failed}
		if err := ix.n.Route(reply); err != nil {
			ix.n.cfg.Logger.Warn("find reply lost", "to", m.From.Obj.String(), "err", err)
		}
	}
}

// findError is a query's failure: the name of the error thrown to the
// caller and its message.
type findError struct{ name, msg string }

func (e *findError) Error() string { return e.msg }

func findErrorf(name, format string, a ...any) *findError {
	return &findError{name: name, msg: fmt.Sprintf(format, a...)}
}

// answer runs the query and encodes the reply's payload (the result, or a
// thrown error with failed set). With partial, the payload is [rows,
// missing nodes].
func (ix *indexer) answer(m *scripting.Message) (payload []byte, failed bool) {
	fail := func(e *findError) ([]byte, bool) {
		b, _ := codec.AppendGo(nil, &codec.ErrorValue{Name: e.name, Message: e.msg,
			Stack: e.name + ": " + e.msg + "\n    at odin.find (node " + ix.n.cfg.Name + ")"})
		return b, true
	}
	q, err := scripting.DecodeQuery(m.Args)
	if err != nil {
		return fail(findErrorf("TypeError", "odin.find: %v", err))
	}
	rows, missing, ferr := ix.runQuery(q)
	if ferr != nil {
		return fail(ferr)
	}
	if len(rows) > q.Limit {
		if q.Strict {
			return fail(findErrorf("RangeError", "odin.find: more than %d objects of %s match; pass a limit and page with after", q.Limit, q.Class))
		}
		rows = rows[:q.Limit]
	}
	out := make([]any, 0, len(rows))
	for _, r := range rows {
		ref := objects.Ref{Class: q.Class, ID: r.ID}
		if !q.Select {
			out = append(out, ref)
			continue
		}
		fields := make([]any, 0, 2*len(r.Names))
		for i, name := range r.Names {
			fields = append(fields, name, codec.Bytes(r.Values[i]))
		}
		out = append(out, []any{ref, fields})
	}
	var v any = out
	if q.Partial {
		nodes := make([]any, len(missing))
		for i, name := range missing {
			nodes[i] = name
		}
		v = []any{out, nodes}
	}
	b, err := codec.AppendGo(nil, v)
	if err != nil {
		return fail(findErrorf("Error", "odin.find: %v", err))
	}
	return b, false
}

// runQuery answers q from this node's store, or in a cluster from every node
// that may hold objects of the class: at most q.Limit+1 rows, in order.
func (ix *indexer) runQuery(q *objects.Query) (rows []findRow, missing []string, ferr *findError) {
	if q.Index != "" {
		ixd, ok := ix.indexNamed(q.Class, q.Index)
		if !ok {
			return nil, nil, findErrorf("UnavailableError", "odin.find: class %s has no index %s (it was just dropped or is not declared yet)", q.Class, q.Index)
		}
		if ferr := ix.resolveAfter(q, ixd); ferr != nil {
			return nil, nil, ferr
		}
	}
	if ix.n.cluster != nil {
		return ix.n.cluster.findAll(q)
	}
	rows, ferr = ix.localRows(q)
	return rows, nil, ferr
}

// localRows runs q over this node's store.
func (ix *indexer) localRows(q *objects.Query) ([]findRow, *findError) {
	if ix.n.cfg.Memory {
		// Output left before its commit (EagerRelease): let the writer
		// catch up so that a query sees what its caller was told.
		if err := ix.n.store.Sync(); err != nil {
			return nil, findErrorf("UnavailableError", "odin.find: %v", err)
		}
	}
	c := ix.n.cluster
	var rows []findRow
	cur := *q
	for {
		entries, err := ix.n.store.ScanIndex(&cur)
		switch {
		case errors.Is(err, persist.ErrIndexBuilding), errors.Is(err, persist.ErrNoIndex):
			return nil, findErrorf("UnavailableError", "odin.find: %s", trimPersist(err))
		case errors.Is(err, persist.ErrInvalid):
			return nil, findErrorf("TypeError", "odin.find: %s", trimPersist(err))
		case err != nil:
			return nil, findErrorf("UnavailableError", "odin.find: %v", err)
		}
		for _, e := range entries {
			// In a cluster, a copy of an object another node owns (left
			// here by a move that did not complete) is not an answer.
			if c != nil && !c.serves(objects.Ref{Class: q.Class, ID: e.ID}) {
				continue
			}
			rows = append(rows, findRow{Key: e.Key, ID: e.ID, Names: e.Names, Values: e.Values})
		}
		if len(rows) > q.Limit || len(entries) <= cur.Limit {
			break
		}
		// Some were left out: scan on for as many more.
		last := entries[len(entries)-1]
		if q.Index == "" {
			cur.After = last.ID
		} else {
			cur.AfterKey, cur.After = last.Key, ""
		}
	}
	if len(rows) > q.Limit+1 {
		rows = rows[:q.Limit+1]
	}
	return rows, nil
}

// resolveAfter turns q.After (the id of the last object of the previous
// page) into the key to resume after.
//
// When every field of the index has an equality condition, the key the
// object had is known whatever it holds now (the equality values, then its
// id), so the page goes on from there, which is what paging through objects
// that the caller changes as it goes (status "queued" to "done") needs.
// Otherwise the key is the object's key now, asked of the node holding it;
// an object that left the query's range since the previous page would make
// the scan start again or find nothing, silently: that is an error.
func (ix *indexer) resolveAfter(q *objects.Query, ixd objects.Index) *findError {
	if q.After == "" {
		return nil
	}
	var key []byte
	if t := q.Lo; fullTuple(t, len(ixd.Fields)) && bytes.Equal(q.Hi, objects.PrefixEnd(t)) {
		key = append(bytes.Clone(t), q.After...)
	} else {
		k, in, err := ix.entryKey(q.Class, ixd, q.After)
		switch {
		case err != nil:
			return findErrorf("UnavailableError", "odin.find: after: %v", err)
		case !in:
			return findErrorf("TypeError", "odin.find: after: %s/%s is not in index %s", q.Class, q.After, ixd)
		case !q.In(k):
			return findErrorf("RangeError", "odin.find: after: %s/%s no longer matches the query (its %s changed since the previous page), so where the next page starts is unknown; start again from the first page",
				q.Class, q.After, strings.Join(ixd.Fields, ", "))
		}
		key = k
	}
	q.AfterKey, q.After = key, ""
	return nil
}

// entryKey is an object's key in an index, from the node that holds it.
func (ix *indexer) entryKey(class string, ixd objects.Index, id string) ([]byte, bool, error) {
	if c := ix.n.cluster; c != nil {
		return c.entryKey(class, ixd, id)
	}
	return ix.n.store.EntryKey(class, ixd, id)
}

// fullTuple reports whether t is exactly n whole key components.
func fullTuple(t []byte, n int) bool {
	for i := 0; i < n; i++ {
		l, err := objects.ComponentLen(t)
		if err != nil {
			return false
		}
		t = t[l:]
	}
	return len(t) == 0
}

// indexNamed returns the declared index of class with the given name.
func (ix *indexer) indexNamed(class, name string) (objects.Index, bool) {
	if d := ix.n.classes.Latest(class); d != nil {
		for _, x := range d.Indexes {
			if x.Name() == name {
				return x, true
			}
		}
	}
	sts, err := ix.n.store.IndexStates(class)
	if err == nil {
		for _, st := range sts {
			if st.Index.Name() == name {
				return st.Index, true
			}
		}
	}
	return objects.Index{}, false
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

// localIndexes lists the declared indexes of every class on this node,
// with their builds.
func (n *Node) localIndexes() ([]IndexInfo, error) {
	var out []IndexInfo
	for _, class := range n.classes.Names() {
		sts, err := n.store.IndexStates(class)
		if err != nil {
			return nil, err
		}
		for _, st := range sts {
			out = append(out, IndexInfo{Node: n.cfg.Name, Class: class, Index: st.Index.String(), Built: st.Built, Done: st.Done, Total: st.Total, Err: st.Err})
		}
	}
	return out, nil
}
