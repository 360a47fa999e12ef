package host

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/odin-db/odin/cluster/directory"
	"github.com/odin-db/odin/cluster/transport"
	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting"
)

// Moving an object between nodes: odin.migrate(ref, { node }). The
// architecture's protocol, with the object's stored records as what is
// captured (once its commits are durable, the store describes the object
// completely, suspended tasklets included, as for a move between VMs):
//
//  1. The source S, the owner, holds every new message for the object in
//     its broker (no VM gets them), and the VM hosting it lets it go once
//     its commits are durable (Release), handing back what it had queued.
//  2. S exports the object's records (state, replay log, dedupe record) in
//     one read transaction and sends them to the target T (wireMoveIn). T
//     stores them through its writer (index entries made, unique values
//     checked) and answers. T does not serve the object yet: nobody has
//     told it that it owns it.
//  3. S moves the object in the directory, a compare-and-set from
//     (S, epoch) to (T, epoch+1). On success S records T as the owner,
//     tells T (wireMoveEnd, so that T serves it at once, before its copy of
//     the directory catches up), routes the held messages (to T, which
//     activates the object by replay on the first one), and deletes its own
//     copy through its writer, index entries included.
//  4. If T does not answer or refuses, or the directory refuses, S tells T
//     to drop what it stored and resumes: the held messages are delivered
//     here and the object is activated again from the store it never left.
//     If the directory's answer is lost (no leader), nobody knows whether
//     the move happened: S goes on holding the messages and asks again (the
//     same compare-and-set is idempotent) until it has an answer.
//
// At no moment do two nodes run turns of the object: S has stopped before T
// stores it, and T starts only once the directory names it, after which S
// never starts again (it routes by the directory, and by the newest epoch
// it has heard of). Calls in flight are held, not lost, and run once: a call
// answered before the move is in the dedupe record, which moves along.

// departure is an object leaving this node: its messages are held.
type departure struct {
	msgs []*scripting.Message
	// moving: the outcome is not known yet, and no VM of this node hosts
	// the object. Cleared while the held messages are routed.
	moving bool
}

// arrival is an object this node stored for a move whose outcome it has
// not heard yet.
type arrival struct {
	attempt string
	vm      int
	at      time.Time
}

const (
	transferTimeout = 30 * time.Second // the target stores the object
	endTimeout      = 5 * time.Second  // the target hears the outcome
	migrateTimeout  = 2 * time.Minute  // a move asked of the owner by another node
	arrivalTTL      = 2 * time.Minute  // a stored copy counts as arriving this long
	abortedTTL      = 10 * time.Minute // given-up attempts are remembered this long
	classWait       = 5 * time.Second  // the target waits this long to learn the class
	settleEvery     = time.Second      // asking the directory again after a lost answer
)

// hold keeps m if it is for an object leaving this node; false if it is
// not.
func (c *cluster) hold(m *scripting.Message) bool {
	if c.nLeaving.Load() == 0 || m.Kind == scripting.KindFind {
		return false
	}
	target := m.To
	if m.Kind == scripting.KindReply {
		target = m.From.Obj
	}
	c.leaveMu.Lock()
	d := c.leaving[target]
	if d != nil {
		d.msgs = append(d.msgs, m)
	}
	c.leaveMu.Unlock()
	return d != nil
}

// departing reports whether ref is on its way to another node (no VM here
// hosts it meanwhile).
func (c *cluster) departing(ref objects.Ref) bool {
	if c.nLeaving.Load() == 0 {
		return false
	}
	c.leaveMu.Lock()
	d := c.leaving[ref]
	c.leaveMu.Unlock()
	return d != nil && d.moving
}

func (c *cluster) startHolding(ref objects.Ref) {
	c.leaveMu.Lock()
	c.leaving[ref] = &departure{moving: true}
	c.nLeaving.Add(1)
	c.leaveMu.Unlock()
}

// stopHolding routes the held messages in the order they came, by the
// owner as this node now knows it, and then stops holding. Messages that
// arrive meanwhile are held behind them, so none overtakes an older one.
func (c *cluster) stopHolding(ref objects.Ref) {
	c.leaveMu.Lock()
	d := c.leaving[ref]
	d.moving = false
	for {
		msgs := d.msgs
		d.msgs = nil
		if len(msgs) == 0 {
			delete(c.leaving, ref)
			c.nLeaving.Add(-1)
			c.leaveMu.Unlock()
			return
		}
		c.leaveMu.Unlock()
		for _, m := range msgs {
			// This node knows where the object is now (here again, or
			// the target, told already): the message's count of forwards
			// restarts, so that one caught by moves in a row is not failed.
			c.n.routeOrFail(m, 0)
		}
		c.leaveMu.Lock()
	}
}

// migrate moves ref to VM vm of node (node "": the node it is on; vm < 0:
// the target's placement). The owner carries the move out; another node
// asks the owner.
func (c *cluster) migrate(ref objects.Ref, node string, vm int, hops uint8) error {
	self := c.n.cfg.Name
	owner, epoch, ok := c.ownerEpoch(ref)
	if !ok {
		// Nobody owns it, so no node stores it: it starts on the node named.
		to := node
		if to == "" {
			to = self
		}
		if to != self {
			if _, err := c.rpcAddr(to); err != nil {
				return fmt.Errorf("%s cannot move to node %s: %v", ref, to, err)
			}
		}
		ctx, cancel := context.WithTimeout(c.ctx, claimTimeout)
		var err error
		owner, epoch, err = c.dir.ClaimObject(ctx, ref, to)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: the directory did not answer: %v", ref, err)
		}
		c.setOwner(ref, owner, epoch)
	}
	if node == "" {
		node = owner
	}
	if owner != self {
		return c.forwardMigrate(owner, ref, node, vm, hops)
	}
	if node == self {
		if vm < 0 {
			return nil
		}
		return c.n.moves.move(ref, vm, false)
	}
	return c.moveOut(ref, node, vm, epoch)
}

// forwardMigrate asks the owner of ref to move it.
func (c *cluster) forwardMigrate(owner string, ref objects.Ref, node string, vm int, hops uint8) error {
	if hops >= maxHops {
		return fmt.Errorf("%s: the move was forwarded %d times between nodes; the directory is settling, retry", ref, hops)
	}
	addr, err := c.rpcAddr(owner)
	if err != nil {
		return fmt.Errorf("%s is on node %s: %v", ref, owner, err)
	}
	body, err := encodeWire(&migrateReq{Ref: ref, Node: node, VM: vm, Hops: hops + 1})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, migrateTimeout)
	defer cancel()
	if _, err := c.tr.Request(ctx, addr, wireMigrate, body); err != nil {
		return remoteError(err, fmt.Sprintf("%s is on node %s, which does not answer", ref, owner))
	}
	return nil
}

// remoteError turns a request's error into one for the caller: the far
// side's own message, or what failed on the way.
func remoteError(err error, what string) error {
	var re *transport.RemoteError
	if errors.As(err, &re) {
		return errors.New(re.Msg)
	}
	return fmt.Errorf("%s: %v", what, err)
}

// moveOut moves ref, which this node owns at epoch, to node to.
func (c *cluster) moveOut(ref objects.Ref, to string, vm int, epoch uint64) error {
	n := c.n
	self := n.cfg.Name
	addr, err := c.rpcAddr(to)
	if err != nil {
		return fmt.Errorf("%s cannot move to node %s: %v", ref, to, err)
	}
	if m, ok := c.mem.Member(to); ok && vm >= 0 {
		if vms, _ := strconv.Atoi(m.Tags["vms"]); vms > 0 && vm >= vms {
			return fmt.Errorf("%s cannot move to VM %d of node %s: it has %d", ref, vm, to, vms)
		}
	}
	if !n.moves.begin(ref) {
		return errBusy
	}
	settling := false
	defer func() {
		if !settling {
			n.moves.end(ref)
		}
	}()
	start := time.Now()
	c.startHolding(ref)
	// 1. The object stops here, once its commits are durable.
	released := make(chan error, 1)
	if err := n.hosted[n.moves.current(ref)].Release(ref, func(err error) { released <- err }); err != nil {
		released <- err
	}
	if err := <-released; err != nil {
		c.stopHolding(ref)
		return fmt.Errorf("%s cannot move: %v", ref, err)
	}
	// 2. Its records go to the target, which stores them.
	recs, _, err := n.store.Export(ref.Class, ref.ID)
	if err != nil {
		c.stopHolding(ref)
		return fmt.Errorf("%s stays on node %s: reading it: %v", ref, self, err)
	}
	attempt := newAttempt()
	body, err := encodeWire(&moveIn{Ref: ref, Attempt: attempt, From: self, Epoch: epoch, VM: vm, Records: recs})
	if err != nil {
		c.stopHolding(ref)
		return fmt.Errorf("%s stays on node %s: %v", ref, self, err)
	}
	if err = c.failMove("transfer"); err == nil {
		ctx, cancel := context.WithTimeout(c.ctx, transferTimeout)
		_, err = c.tr.Request(ctx, addr, wireMoveIn, body)
		cancel()
	}
	if err != nil {
		c.abandon(ref, addr, attempt)
		c.stopHolding(ref)
		return fmt.Errorf("%s stays on node %s: %v", ref, self, remoteError(err, "node "+to+" did not take it"))
	}
	// 3. The directory moves it, or not.
	newEpoch, err := uint64(0), c.failMove("directory")
	if err == nil {
		ctx, cancel := context.WithTimeout(c.ctx, claimTimeout)
		newEpoch, err = c.dir.MoveObject(ctx, ref, self, to, epoch)
		cancel()
	}
	if err != nil && !errors.Is(err, directory.ErrConflict) {
		// The answer is lost: the move may have happened. Hold on.
		settling = true
		go c.settle(ref, to, addr, attempt, epoch, start)
		return fmt.Errorf("%s: the directory did not answer (%v); the object waits for its answer, then stays on node %s or moves to node %s", ref, err, self, to)
	}
	return c.conclude(ref, to, addr, attempt, epoch, newEpoch, err, false, start)
}

// conclude ends a move whose outcome the directory has told: err is nil
// (the move happened, the object is to's at newEpoch) or a conflict.
// retried: an earlier ask of the same move had its answer lost.
func (c *cluster) conclude(ref objects.Ref, to, addr, attempt string, epoch, newEpoch uint64, err error, retried bool, start time.Time) error {
	n := c.n
	self := n.cfg.Name
	if err != nil {
		var ce *directory.ConflictError
		if errors.As(err, &ce) {
			c.setOwner(ref, ce.Owner, ce.Epoch) // the freshest answer there is
		}
		if ce == nil || !retried || ce.Epoch <= epoch || ce.Owner == self {
			// Refused: the object stays here, whole (or, if it went and
			// came back meanwhile, it is here again, as the target
			// stored it here when it came back).
			c.abandon(ref, addr, attempt)
			c.stopHolding(ref)
			return fmt.Errorf("%s stays on node %s: the directory refused the move: %v", ref, self, err)
		}
		// A later epoch, another owner: the lost ask moved it (only a move
		// from our epoch makes a later one), and it has moved on since.
		newEpoch = epoch + 1
	}
	c.setOwner(ref, to, newEpoch)
	n.moves.place(ref, -1)
	c.tell(addr, &moveEnd{Ref: ref, Attempt: attempt, Done: true, Epoch: newEpoch})
	// The copy goes before the messages do, and while the object counts
	// as leaving: a move back here waits for that (acceptMove), so the
	// delete can never hit what comes back.
	if !c.owns(ref) {
		if err := n.store.CommitSync(persist.DeleteWrite(ref.Class, ref.ID)); err != nil {
			n.cfg.Logger.Error("deleting an object that moved to another node failed; the copy left here is not served", "object", ref.String(), "err", err)
		}
	}
	c.stopHolding(ref)
	n.cfg.Logger.Info("object moved", "object", ref.String(), "from", self, "to", to, "epoch", newEpoch, "took", time.Since(start))
	return nil
}

// settle asks the directory again, until it answers, for a move whose
// answer was lost; the object's messages are held meanwhile.
func (c *cluster) settle(ref objects.Ref, to, addr, attempt string, epoch uint64, start time.Time) {
	defer c.n.moves.end(ref)
	for {
		select {
		case <-c.quit:
			return // the node stops; the directory says where it is when it comes back
		case <-time.After(settleEvery):
		}
		ctx, cancel := context.WithTimeout(c.ctx, claimTimeout)
		newEpoch, err := c.dir.MoveObject(ctx, ref, c.n.cfg.Name, to, epoch)
		cancel()
		if err == nil || errors.Is(err, directory.ErrConflict) {
			if err := c.conclude(ref, to, addr, attempt, epoch, newEpoch, err, true, start); err != nil {
				c.n.cfg.Logger.Warn("move given up", "object", ref.String(), "to", to, "err", err)
			}
			return
		}
		c.n.cfg.Logger.Warn("the directory does not answer; the object waits", "object", ref.String(), "to", to, "err", err)
	}
}

// abandon tells the target, in the background, to drop what it stored.
func (c *cluster) abandon(ref objects.Ref, addr, attempt string) {
	go c.tell(addr, &moveEnd{Ref: ref, Attempt: attempt})
}

// tell sends the outcome of a move to its target.
func (c *cluster) tell(addr string, e *moveEnd) {
	body, err := encodeWire(e)
	if err == nil {
		ctx, cancel := context.WithTimeout(c.ctx, endTimeout)
		_, err = c.tr.Request(ctx, addr, wireMoveEnd, body)
		cancel()
	}
	if err != nil {
		// Done: the target learns it from its copy of the directory, and
		// messages reach it through this node meanwhile. Given up: its
		// copy stays stored there, unserved and left out of queries.
		c.n.cfg.Logger.Warn("telling the target how a move ended failed", "object", e.Ref.String(), "done", e.Done, "err", err)
	}
}

// failMove is a test's fault injection at a step of moveOut.
func (c *cluster) failMove(step string) error {
	if f := c.testFailMove.Load(); f != nil {
		return (*f)(step)
	}
	return nil
}

func newAttempt() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// acceptMove is the target's side of step 2: store the object, do not
// serve it yet.
func (c *cluster) acceptMove(r *moveIn) error {
	n := c.n
	self := n.cfg.Name
	c.arriveMu.Lock()
	defer c.arriveMu.Unlock()
	c.prune()
	c.arrMu.Lock()
	_, given := c.aborted[r.Attempt]
	c.arrMu.Unlock()
	switch {
	case given:
		return fmt.Errorf("node %s: the move of %s was given up", self, r.Ref)
	case c.owns(r.Ref):
		return fmt.Errorf("%s is already on node %s", r.Ref, self)
	case r.VM >= len(n.hosted):
		return fmt.Errorf("%s cannot move to VM %d of node %s: it has %d", r.Ref, r.VM, self, len(n.hosted))
	}
	version := 0
	if r.Records.Meta != nil {
		version = r.Records.Meta.ClassVersion
	}
	if err := c.waitClass(r.Ref.Class, version); err != nil {
		return err
	}
	if err := c.waitLeft(r.Ref); err != nil {
		return err
	}
	if err := n.store.CommitSync(persist.ImportWrite(r.Ref.Class, r.Ref.ID, &r.Records)); err != nil {
		return fmt.Errorf("node %s cannot store %s: %v", self, r.Ref, err)
	}
	c.arrMu.Lock()
	c.arriving[r.Ref] = arrival{attempt: r.Attempt, vm: r.VM, at: time.Now()}
	c.arrMu.Unlock()
	return nil
}

// waitClass waits until this node knows the class version an arriving
// object runs and has declared the class's indexes, so that the import
// makes the object's index entries.
func (c *cluster) waitClass(class string, version int) error {
	deadline := time.Now().Add(classWait)
	for {
		d := c.n.classes.Latest(class)
		if d != nil && (version == 0 || c.n.classes.Get(class, version) != nil) {
			sts, err := c.n.store.IndexStates(class)
			if err != nil {
				return err
			}
			declared := true
			for _, ix := range d.Indexes {
				if !slices.ContainsFunc(sts, func(st persist.IndexStatus) bool { return st.Index.Name() == ix.Name() }) {
					declared = false
				}
			}
			if declared {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s does not know class %s version %d yet", c.n.cfg.Name, class, version)
		}
		select {
		case <-c.quit:
			return errors.New("node is stopping")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitLeft waits until ref, if it is leaving this node, has left (its copy
// here deleted): an object may come back before that is over.
func (c *cluster) waitLeft(ref objects.Ref) error {
	deadline := time.Now().Add(classWait)
	for {
		c.leaveMu.Lock()
		_, leaving := c.leaving[ref]
		c.leaveMu.Unlock()
		if !leaving {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is still leaving node %s; retry", ref, c.n.cfg.Name)
		}
		select {
		case <-c.quit:
			return errors.New("node is stopping")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// endMove is the target's side of the outcome.
func (c *cluster) endMove(r *moveEnd) error {
	c.arriveMu.Lock()
	defer c.arriveMu.Unlock()
	c.arrMu.Lock()
	a, ok := c.arriving[r.Ref]
	match := ok && a.attempt == r.Attempt
	if match {
		delete(c.arriving, r.Ref)
	}
	if !r.Done {
		c.aborted[r.Attempt] = time.Now()
	}
	c.arrMu.Unlock()
	if r.Done {
		// The placement first: the object is served from the moment this
		// node knows it owns it.
		if match {
			c.n.moves.place(r.Ref, a.vm)
		}
		c.setOwner(r.Ref, c.n.cfg.Name, r.Epoch)
		return nil
	}
	if match && !c.owns(r.Ref) {
		if err := c.n.store.CommitSync(persist.DeleteWrite(r.Ref.Class, r.Ref.ID)); err != nil {
			return fmt.Errorf("node %s: dropping %s: %v", c.n.cfg.Name, r.Ref, err)
		}
	}
	return nil
}

// prune forgets arrivals and given-up attempts past their time.
func (c *cluster) prune() {
	c.arrMu.Lock()
	defer c.arrMu.Unlock()
	for ref, a := range c.arriving {
		if time.Since(a.at) > arrivalTTL {
			delete(c.arriving, ref)
		}
	}
	for id, at := range c.aborted {
		if time.Since(at) > abortedTTL {
			delete(c.aborted, id)
		}
	}
}

// serves reports whether a query on this node answers with ref stored
// here: an object another node owns is left out (a copy a move left
// behind), unless it is arriving here. While a move runs both nodes may
// answer with it; the merge keeps one row per key.
func (c *cluster) serves(ref objects.Ref) bool {
	owner, _, ok := c.ownerEpoch(ref)
	if !ok || owner == c.n.cfg.Name {
		return true
	}
	c.arrMu.Lock()
	a, arriving := c.arriving[ref]
	c.arrMu.Unlock()
	return arriving && time.Since(a.at) < arrivalTTL
}

// routeOrFail routes m, answering it with an error if it cannot be.
func (n *Node) routeOrFail(m *scripting.Message, hops uint8) {
	err := n.routeOn(m, hops)
	if err == errRouteAgain {
		err = n.routeHops(m, hops)
	}
	if err != nil {
		name, msg := "UnavailableError", err.Error()
		if errors.Is(err, scripting.ErrOverloaded) {
			name, msg = "OverloadedError", fmt.Sprintf("%s is overloaded: its queue is full; back off and retry", m.To)
		}
		n.failMessage(m, name, msg)
	}
}
