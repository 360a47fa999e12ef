package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/odin-db/odin/cluster/directory"
	"github.com/odin-db/odin/cluster/membership"
	"github.com/odin-db/odin/cluster/transport"
	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting"
	"github.com/odin-db/odin/scripting/codec"
)

// ClusterConfig makes a node a member of a cluster: serf for membership,
// the node transport for calls, raft for the directory.
type ClusterConfig struct {
	Gossip     string   // serf's gossip address, host:port (port 0 picks one)
	RPC        string   // the node transport's address
	Raft       string   // the directory's raft address
	Join       []string // gossip addresses of members; none starts a new cluster
	Token      string   // the cluster token, checked on every connection
	EncryptKey []byte   // gossip encryption key (16, 24 or 32 bytes), optional
	Fast       bool     // short failure detection and raft timeouts, for tests
}

// cluster is a node's part in a cluster. The directory says which node
// owns each object; a node activates only objects it owns, claims an
// object the first time it routes a call to one nobody owns (so objects
// start where they are first used), and sends calls for objects owned
// elsewhere to their node. The owners are read from the directory's local
// copy: raft is on the path of a first activation, never of a call.
type cluster struct {
	n   *Node
	tr  *transport.Transport
	mem *membership.Membership
	dir *directory.Directory

	ready chan struct{} // closed once the node's workers exist

	mu       sync.Mutex
	claiming map[objects.Ref][]*scripting.Message // messages waiting for a claim
	// claimsRunning counts the claims in progress, so that routing takes
	// the lock above only while there are some.
	claimsRunning atomic.Int32
	// owners caches owners this node learnt before its copy of the
	// directory did (the answers of its claims, the moves it made or
	// received); the newest epoch wins.
	owners sync.Map // objects.Ref -> ownerEntry

	// Moves between nodes (nodemove.go). Objects leaving this node, their
	// messages held meanwhile:
	leaveMu  sync.Mutex
	leaving  map[objects.Ref]*departure
	nLeaving atomic.Int32
	// Objects arriving: arriveMu orders the target's steps, arrMu guards
	// the maps (queries read them).
	arriveMu     sync.Mutex
	arrMu        sync.Mutex
	arriving     map[objects.Ref]arrival
	aborted      map[string]time.Time // attempts given up, by id
	testFailMove atomic.Pointer[func(step string) error]

	// Class versions applied by the directory, waiting to be learnt (a
	// slice, so that the directory's FSM never blocks on us).
	classMu  sync.Mutex
	learn    []persist.ClassRecord
	learnSig chan struct{}

	// peers is each member's status and transport address as serf last
	// told them: one map read per message sent, instead of a walk of
	// serf's member list.
	peers sync.Map // string -> peer

	quit   chan struct{}
	ctx    context.Context // canceled when the node stops
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// ownerEntry is an owner and the epoch it owns the object at.
type ownerEntry struct {
	node  string
	epoch uint64
}

type peer struct {
	status membership.Status
	rpc    string
}

// raftDir is where the directory keeps its raft log and snapshots.
const raftDir = "raft"

// claimTimeout bounds a claim of an object in the directory.
const claimTimeout = 10 * time.Second

func startCluster(n *Node, cc *ClusterConfig) (*cluster, error) {
	c := &cluster{n: n, ready: make(chan struct{}), claiming: map[objects.Ref][]*scripting.Message{},
		learnSig: make(chan struct{}, 1), quit: make(chan struct{}),
		leaving: map[objects.Ref]*departure{}, arriving: map[objects.Ref]arrival{}, aborted: map[string]time.Time{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	log := n.cfg.Logger
	var err error
	c.tr, err = transport.Listen(transport.Config{Name: n.cfg.Name, Bind: cc.RPC, Token: cc.Token, Logger: log},
		transport.Handler{Message: c.onMessage, Request: c.onRequest})
	if err != nil {
		return nil, fmt.Errorf("host: cluster transport on %s: %w", cc.RPC, err)
	}
	c.dir, err = directory.Open(directory.Config{
		Name: n.cfg.Name, Dir: n.dir + "/" + raftDir, Bind: cc.Raft, Bootstrap: len(cc.Join) == 0,
		Logger: log, Forward: c.forward, Fast: cc.Fast,
		OnClass: func(rec persist.ClassRecord) {
			c.classMu.Lock()
			c.learn = append(c.learn, rec)
			c.classMu.Unlock()
			select {
			case c.learnSig <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		c.tr.Close()
		return nil, fmt.Errorf("host: cluster directory on %s: %w", cc.Raft, err)
	}
	c.done.Add(2)
	go c.learnClasses()
	go c.reconcileLoop(cc.Fast)
	c.mem, err = membership.Start(membership.Config{
		Name: n.cfg.Name, Bind: cc.Gossip, Join: cc.Join, EncryptKey: cc.EncryptKey, Fast: cc.Fast, Logger: log,
		Tags: map[string]string{"rpc": c.tr.Addr(), "raft": c.dir.Addr(), "vms": strconv.Itoa(n.cfg.VMs)},
		OnChange: func(m membership.Member) {
			c.peers.Store(m.Name, peer{status: m.Status, rpc: m.Tags["rpc"]})
		},
	})
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("host: cluster membership on %s: %w", cc.Gossip, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.dir.WaitLeader(ctx); err != nil {
		c.stop()
		return nil, fmt.Errorf("host: cluster: no directory leader: %w", err)
	}
	return c, nil
}

// stop closes the node's parts of the cluster without leaving it: the
// others see the node fail and wait for it to come back.
func (c *cluster) stop() {
	select {
	case <-c.quit:
		return
	default:
	}
	close(c.quit)
	c.cancel()
	if c.mem != nil {
		_ = c.mem.Shutdown()
	}
	c.done.Wait()
	if c.dir != nil {
		_ = c.dir.Close()
	}
	_ = c.tr.Close()
}

// register publishes this node's classes and claims the objects it stores,
// so that the directory knows them before any other node routes to them.
// An object another node claimed first stays stored here but unserved.
func (c *cluster) register() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs, err := c.n.store.Classes()
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if err := c.dir.PutClass(ctx, rec); err != nil && !errors.Is(err, directory.ErrConflict) {
			return fmt.Errorf("publish class %s: %w", rec.Name, err)
		}
	}
	names, err := c.n.store.ClassNames()
	if err != nil {
		return err
	}
	for _, class := range names {
		if d := c.n.classes.Latest(class); d != nil {
			for _, ix := range d.Indexes {
				if ix.Unique {
					if err := c.registerUnique(class, ix); err != nil {
						return fmt.Errorf("register unique values of %s: %w", class, err)
					}
				}
			}
		}
		after := ""
		for {
			ids, err := c.n.store.ListIDs(class, after, 1000)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			refs := make([]objects.Ref, len(ids))
			for i, id := range ids {
				refs[i] = objects.Ref{Class: class, ID: id}
			}
			owners, err := c.dir.ClaimObjects(ctx, refs, c.n.cfg.Name)
			if err != nil {
				return fmt.Errorf("register objects of %s: %w", class, err)
			}
			for i, o := range owners {
				if o != c.n.cfg.Name {
					c.n.cfg.Logger.Warn("object stored here is owned by another node; not serving it", "object", refs[i].String(), "owner", o)
				}
			}
			after = ids[len(ids)-1]
		}
	}
	return nil
}

// registerUnique claims, in the directory, the values this node's objects
// hold in a built unique index: values set before the node was in a
// cluster, or found by a background build, are then unique across nodes
// too. A value another node's object holds is reported, not changed.
func (c *cluster) registerUnique(class string, ix objects.Index) error {
	q := &objects.Query{Class: class, Index: ix.Name(), Fields: len(ix.Fields), Limit: 1000}
	for {
		entries, err := c.n.store.ScanIndex(q)
		if errors.Is(err, persist.ErrIndexBuilding) {
			return nil // registered when its build ends
		}
		if err != nil {
			return err
		}
		if len(entries) > q.Limit {
			entries = entries[:q.Limit]
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for _, e := range entries {
			tuple, id, err := objects.SplitKey(e.Key, len(ix.Fields))
			if err != nil {
				return err
			}
			if objects.HasUnset(tuple, len(ix.Fields)) {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
				defer cancel()
				holder, err := c.dir.ClaimUnique(ctx, class, ix.Name(), tuple, id)
				switch {
				case err != nil:
					c.n.cfg.Logger.Warn("directory: claim unique value", "object", class+"/"+id, "index", ix.String(), "err", err)
				case holder != id:
					c.n.cfg.Logger.Error("unique value held by objects on two nodes", "index", ix.String(), "object", class+"/"+id, "other", class+"/"+holder)
				}
			}()
		}
		wg.Wait()
		if len(entries) < q.Limit {
			return nil
		}
		q.AfterKey = entries[len(entries)-1].Key
	}
}

// learnClasses adds class versions defined through other nodes.
func (c *cluster) learnClasses() {
	defer c.done.Done()
	select {
	case <-c.ready:
	case <-c.quit:
		return
	}
	for {
		select {
		case <-c.learnSig:
			c.classMu.Lock()
			recs := c.learn
			c.learn = nil
			c.classMu.Unlock()
			for _, rec := range recs {
				if err := c.n.learnClass(rec); err != nil {
					c.n.cfg.Logger.Error("class from the directory", "class", rec.Name, "version", rec.Version, "err", err)
				}
			}
		case <-c.quit:
			return
		}
	}
}

// reconcileLoop keeps the raft configuration in step with serf: the leader
// adds alive members as servers. A member that stops stays a server (and
// a member serf sees as failed) until it comes back: a node's objects are
// its own, and queries must know it may hold some. Removing a node for
// good is not built yet.
func (c *cluster) reconcileLoop(fast bool) {
	defer c.done.Done()
	every := 2 * time.Second
	if fast {
		every = 200 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.reconcile()
		case <-c.quit:
			return
		}
	}
}

func (c *cluster) reconcile() {
	if c.mem == nil || !c.dir.IsLeader() {
		return
	}
	for _, m := range c.mem.Members() {
		// AddServer is idempotent: called for every alive member it also
		// updates the address of one that came back on another port.
		if m.Status == membership.Alive && m.Tags["raft"] != "" {
			if err := c.dir.AddServer(m.Name, m.Tags["raft"]); err != nil {
				c.n.cfg.Logger.Warn("directory: add server", "node", m.Name, "err", err)
			}
		}
	}
}

// forward sends a directory command to the leader.
func (c *cluster) forward(ctx context.Context, leader string, cmd []byte) ([]byte, error) {
	addr, err := c.rpcAddr(leader)
	if err != nil {
		return nil, err
	}
	return c.tr.Request(ctx, addr, wireForward, cmd)
}

// rpcAddr is the transport address of an alive member.
func (c *cluster) rpcAddr(node string) (string, error) {
	v, ok := c.peers.Load(node)
	if !ok {
		// The change callback may not have run yet for a member serf
		// already knows (it runs after serf's own bookkeeping).
		m, member := c.mem.Member(node)
		if !member {
			return "", fmt.Errorf("node %s is not a member of the cluster", node)
		}
		v = peer{status: m.Status, rpc: m.Tags["rpc"]}
	}
	p := v.(peer)
	switch {
	case p.status == membership.Failed:
		return "", fmt.Errorf("node %s is down", node)
	case p.status == membership.Left:
		return "", fmt.Errorf("node %s has left the cluster", node)
	case p.rpc == "":
		return "", fmt.Errorf("node %s has no transport address", node)
	}
	return p.rpc, nil
}

// ownable: objects and durable channels have an owner in the directory.
func ownable(ref objects.Ref) bool {
	if _, _, eph := scripting.EphemeralChannel(ref); eph {
		return false
	}
	return scripting.IsObject(ref) || scripting.IsChannel(ref)
}

// owns reports whether this node owns ref (false while nobody does).
func (c *cluster) owns(ref objects.Ref) bool {
	owner, ok := c.owner(ref)
	return ok && owner == c.n.cfg.Name
}

// owner is the node owning ref, if any does.
func (c *cluster) owner(ref objects.Ref) (string, bool) {
	owner, _, ok := c.ownerEpoch(ref)
	return owner, ok
}

// ownerEpoch is the owner of ref and its epoch: the newest this node
// knows, from its copy of the directory or from what it learnt first.
func (c *cluster) ownerEpoch(ref objects.Ref) (string, uint64, bool) {
	node, epoch, ok := c.dir.Owner(ref)
	if v, cached := c.owners.Load(ref); cached {
		e := v.(ownerEntry)
		if !ok || e.epoch > epoch {
			return e.node, e.epoch, true
		}
		c.owners.CompareAndDelete(ref, v) // the directory's copy has caught up
	}
	return node, epoch, ok
}

// setOwner records that node owns ref at epoch, unless a newer epoch is
// known.
func (c *cluster) setOwner(ref objects.Ref, node string, epoch uint64) {
	e := ownerEntry{node: node, epoch: epoch}
	for {
		v, loaded := c.owners.LoadOrStore(ref, e)
		if !loaded || v.(ownerEntry).epoch >= epoch || c.owners.CompareAndSwap(ref, v, e) {
			return
		}
	}
}

// route sends m to another node if it is for one; handled is false when
// m is to be delivered on this node.
func (c *cluster) route(m *scripting.Message, hops uint8) (handled bool, err error) {
	self := c.n.cfg.Name
	target := m.To
	if m.Kind == scripting.KindReply {
		target = m.From.Obj
	}
	if node, _, eph := scripting.EphemeralChannel(target); eph {
		if node == self {
			return false, nil
		}
		return true, c.send(node, m, hops)
	}
	if !ownable(target) {
		if m.Kind == scripting.KindReply && m.From.Node != "" && m.From.Node != self {
			if r := m.From.Relay; r != "" && r != self {
				return true, c.send(r, m, hops) // to a client of another node, through it
			}
			return true, c.send(m.From.Node, m, hops) // to a script on another node or a client
		}
		return false, nil
	}
	if c.claimsRunning.Load() > 0 && c.queueBehindClaim(target, m) {
		return true, nil
	}
	owner, ok := c.owner(target)
	switch {
	case !ok:
		c.claim(m, target)
		return true, nil
	case owner == self:
		return false, nil
	}
	return true, c.send(owner, m, hops)
}

// queueBehindClaim queues m if a claim of ref is running, so that it is
// routed after the messages that wait for the claim.
func (c *cluster) queueBehindClaim(ref objects.Ref, m *scripting.Message) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	q, busy := c.claiming[ref]
	if busy {
		c.claiming[ref] = append(q, m)
	}
	return busy
}

// claim makes this node the owner of ref (unless another node already is)
// and then routes m, and every message for ref that arrives until they are
// all routed, in order.
func (c *cluster) claim(m *scripting.Message, ref objects.Ref) {
	c.mu.Lock()
	if q, busy := c.claiming[ref]; busy {
		c.claiming[ref] = append(q, m)
		c.mu.Unlock()
		return
	}
	c.claiming[ref] = []*scripting.Message{m}
	c.claimsRunning.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.claimsRunning.Add(-1)
		ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
		owner, epoch, err := c.dir.ClaimObject(ctx, ref, c.n.cfg.Name)
		cancel()
		if err == nil {
			c.setOwner(ref, owner, epoch)
		}
		for {
			c.mu.Lock()
			q := c.claiming[ref]
			if len(q) == 0 {
				delete(c.claiming, ref)
				c.mu.Unlock()
				return
			}
			c.claiming[ref] = []*scripting.Message{}
			c.mu.Unlock()
			for _, m := range q {
				if err != nil {
					c.n.failMessage(m, "UnavailableError", fmt.Sprintf("%s: the directory did not answer: %v", ref, err))
					continue
				}
				if err := c.n.deliver(m, owner); err != nil {
					c.n.failMessage(m, "UnavailableError", err.Error())
				}
			}
		}
	}()
}

// deliver routes m, whose target owner holds: to a VM of this node, or
// over the transport.
func (n *Node) deliver(m *scripting.Message, owner string) error {
	if owner != n.cfg.Name {
		return n.cluster.send(owner, m, 0)
	}
	if err := n.deliverLocal(m); err != errRouteAgain {
		return err
	}
	return n.Route(m) // it began to move meanwhile
}

// send routes m to node over the transport: a member by its address, a
// client over the connection it opened.
func (c *cluster) send(node string, m *scripting.Message, hops uint8) error {
	if hops >= maxHops {
		return fmt.Errorf("%s: forwarded %d times between nodes; the directory is settling, retry", m.To, hops)
	}
	body, err := encodeMessage(m, hops+1)
	if err != nil {
		return err
	}
	if _, member := c.peers.Load(node); member {
		addr, err := c.rpcAddr(node)
		if err != nil {
			return fmt.Errorf("%s is on node %s: %v", describeTarget(m), node, err)
		}
		if err := c.tr.Send(addr, wireMessage, body); err != nil {
			if errors.Is(err, transport.ErrOverloaded) {
				return scripting.ErrOverloaded
			}
			return fmt.Errorf("%s is on node %s, which does not answer: %v", describeTarget(m), node, err)
		}
		return nil
	}
	if err := c.tr.SendPeer(node, wireMessage, body); err != nil {
		return fmt.Errorf("%s: node %s is not connected: %v", describeTarget(m), node, err)
	}
	return nil
}

func describeTarget(m *scripting.Message) string {
	if m.Kind == scripting.KindReply {
		return "the caller " + m.From.Obj.String()
	}
	return m.To.String()
}

// wait blocks until the node is ready; false if it stopped first.
func (c *cluster) wait() bool {
	select {
	case <-c.ready:
		return true
	case <-c.quit:
		return false
	}
}

// onMessage delivers a message another node routed here.
func (c *cluster) onMessage(from transport.Peer, typ uint8, body []byte) {
	if typ != wireMessage {
		c.n.cfg.Logger.Warn("cluster: unexpected message type", "from", from.Name, "type", typ)
		return
	}
	m, hops, err := decodeMessage(body)
	if err != nil {
		c.n.cfg.Logger.Warn("cluster: bad message", "from", from.Name, "err", err)
		return
	}
	if !c.wait() {
		return
	}
	if from.Addr == "" && m.From.Node == from.Name && m.Kind != scripting.KindReply {
		// From a client (it does not listen): only this node can answer it.
		m.From.Relay = c.n.cfg.Name
	}
	if err := c.n.routeHops(m, hops); err != nil {
		c.n.failMessage(m, "UnavailableError", err.Error())
	}
}

// onRequest answers another node's (or a client's) request.
func (c *cluster) onRequest(from transport.Peer, typ uint8, body []byte) ([]byte, error) {
	if typ == wireForward {
		// The directory serves the leader's side before the node is ready:
		// other nodes may need it while this one is still starting.
		return c.dir.ApplyForwarded(context.Background(), body)
	}
	if !c.wait() {
		return nil, errors.New("node is stopping")
	}
	switch typ {
	case wireClasses, wireDefine:
		return c.serveClasses(typ, body)
	case wireStatus:
		return c.n.serveStatus(body)
	case wireFind:
		q, err := scripting.DecodeQuery(body)
		if err != nil {
			return nil, err
		}
		rows, ferr := c.n.indexes.localRows(q)
		if ferr != nil {
			return encodeWire(&findAnswer{ErrName: ferr.name, ErrMsg: ferr.msg})
		}
		return encodeWire(&findAnswer{Rows: rows})
	case wireMigrate:
		r, err := decodeMigrateReq(body)
		if err != nil {
			return nil, err
		}
		return nil, c.migrate(r.Ref, r.Node, r.VM, r.Hops)
	case wireMoveIn:
		r, err := decodeMoveIn(body)
		if err != nil {
			return nil, err
		}
		return nil, c.acceptMove(r)
	case wireMoveEnd:
		r, err := decodeMoveEnd(body)
		if err != nil {
			return nil, err
		}
		return nil, c.endMove(r)
	case wireEntryKey:
		r, err := decodeEntryKeyReq(body)
		if err != nil {
			return nil, err
		}
		key, ok, err := c.n.store.EntryKey(r.Class, r.Index, r.ID)
		if err != nil || !ok {
			return nil, err // empty: not in the index
		}
		return key, nil
	}
	return nil, fmt.Errorf("unknown request type %d", typ)
}

// findAll runs a query on every node that may hold objects of its class
// and merges the answers by key. Nodes that are down are missing: an
// error, or with q.Partial, named in the answer.
func (c *cluster) findAll(q *objects.Query) (rows []findRow, missing []string, ferr *findError) {
	body, err := scripting.EncodeQuery(q)
	if err != nil {
		return nil, nil, findErrorf("Error", "odin.find: %v", err)
	}
	type part struct {
		node string
		rows []findRow
		ferr *findError // the query failed there (the same everywhere)
		err  error      // the node did not answer
	}
	nodes := c.dataNodes()
	parts := make(chan part, len(nodes))
	for _, node := range nodes {
		go func(node string) {
			if node == c.n.cfg.Name {
				r, ferr := c.n.indexes.localRows(q)
				parts <- part{node: node, rows: r, ferr: ferr}
				return
			}
			addr, err := c.memberAddr(node)
			if err != nil {
				parts <- part{node: node, err: err}
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b, err := c.tr.Request(ctx, addr, wireFind, body)
			if err != nil {
				parts <- part{node: node, err: err}
				return
			}
			a, err := decodeFindAnswer(b)
			switch {
			case err != nil:
				parts <- part{node: node, err: err}
			case a.ErrName != "":
				parts <- part{node: node, ferr: &findError{name: a.ErrName, msg: a.ErrMsg}}
			default:
				parts <- part{node: node, rows: a.Rows}
			}
		}(node)
	}
	var failures []string
	for range nodes {
		p := <-parts
		switch {
		case p.ferr != nil:
			ferr = p.ferr
		case p.err != nil:
			missing = append(missing, p.node)
			failures = append(failures, p.err.Error())
		default:
			rows = append(rows, p.rows...)
		}
	}
	if ferr != nil {
		return nil, nil, ferr
	}
	sort.Strings(missing)
	if len(missing) > 0 && !q.Partial {
		sort.Strings(failures)
		return nil, nil, findErrorf("UnavailableError", "odin.find: node %s may hold objects of %s and does not answer (%s); pass partial: true to get what the other nodes hold",
			strings.Join(missing, ", "), q.Class, failures[0])
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if q.Desc {
			return string(rows[i].Key) > string(rows[j].Key)
		}
		return string(rows[i].Key) < string(rows[j].Key)
	})
	// An object moving between two nodes may be stored on both for a
	// moment, under the same key (it runs no turn meanwhile): one row.
	rows = slices.CompactFunc(rows, func(a, b findRow) bool { return bytes.Equal(a.Key, b.Key) })
	if len(rows) > q.Limit+1 {
		rows = rows[:q.Limit+1]
	}
	return rows, missing, nil
}

// memberAddr is rpcAddr for a node the directory names: a node that has
// just joined is a server before gossip has reached every member, so one
// that serf does not know yet is waited for, a little.
func (c *cluster) memberAddr(node string) (string, error) {
	addr, err := c.rpcAddr(node)
	for wait := time.Now().Add(joinSettle); err != nil && time.Now().Before(wait); {
		if _, known := c.mem.Member(node); known {
			break
		}
		time.Sleep(20 * time.Millisecond)
		addr, err = c.rpcAddr(node)
	}
	return addr, err
}

// joinSettle bounds the wait for gossip to bring news of a new member.
const joinSettle = 2 * time.Second

// dataNodes are the nodes that may hold objects: the directory's servers
// (a node stays one until it leaves the cluster, however long it is down)
// and the alive members.
func (c *cluster) dataNodes() []string {
	seen := map[string]bool{c.n.cfg.Name: true}
	if servers, err := c.dir.Servers(); err == nil {
		for _, s := range servers {
			seen[s.Name] = true
		}
	}
	for _, m := range c.mem.Members() {
		if m.Status == membership.Alive {
			seen[m.Name] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// entryKey asks the node owning an object for its key in an index.
func (c *cluster) entryKey(class string, ix objects.Index, id string) ([]byte, bool, error) {
	ref := objects.Ref{Class: class, ID: id}
	owner, known := c.owner(ref)
	if !known || owner == c.n.cfg.Name {
		return c.n.store.EntryKey(class, ix, id)
	}
	addr, err := c.rpcAddr(owner)
	if err != nil {
		return nil, false, fmt.Errorf("%s is on node %s: %v", ref, owner, err)
	}
	body, err := encodeWire(&entryKeyReq{Class: class, Index: ix, ID: id})
	if err != nil {
		return nil, false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := c.tr.Request(ctx, addr, wireEntryKey, body)
	if err != nil {
		return nil, false, fmt.Errorf("%s is on node %s, which does not answer: %v", ref, owner, err)
	}
	return b, len(b) > 0, nil
}

func encodeWire(v any) ([]byte, error) { return cbor.Marshal(v) }

// clusterUniques keeps unique values unique across the cluster: first the
// node's own claims (commits in flight on its VMs, and its stored index),
// then the directory, which decides between nodes with one raft write per
// new value, and another to free the value an object gave up once the
// commit that gave it up is durable. Both writes are made on the VM's
// goroutine, so that a free can never overtake a later claim of the same
// value by the same object.
type clusterUniques struct{ c *cluster }

func (u clusterUniques) Claim(class string, ix objects.Index, tuple []byte, id string) (string, error) {
	local := u.c.n.indexes
	holder, err := local.Claim(class, ix, tuple, id)
	if err != nil || holder != "" || tuple == nil {
		return holder, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	holder, err = u.c.dir.ClaimUnique(ctx, class, ix.Name(), tuple, id)
	if err != nil || holder != id {
		local.Release(class, ix, tuple, nil, id, false)
		if err != nil {
			return "", fmt.Errorf("the directory did not answer: %w", err)
		}
		return holder, nil
	}
	return "", nil
}

func (u clusterUniques) Release(class string, ix objects.Index, tuple, old []byte, id string, committed bool) {
	u.c.n.indexes.Release(class, ix, tuple, old, id, committed)
	var free []byte
	switch {
	case committed && old != nil && !bytes.Equal(old, tuple):
		free = old
	case !committed && tuple != nil && !bytes.Equal(tuple, old):
		free = tuple
	}
	if free == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	if err := u.c.dir.FreeUnique(ctx, class, ix.Name(), free, id); err != nil {
		u.c.n.cfg.Logger.Warn("directory: free unique value", "class", class, "index", ix.String(), "object", id, "err", err)
	}
}

// failMessage answers a call, inspection or query that cannot be delivered
// with an error of the given name; a reply that cannot be delivered is
// dropped (its caller's deadline answers it), and so is an activation (the
// object's next message activates it).
func (n *Node) failMessage(m *scripting.Message, name, msg string) {
	switch m.Kind {
	case scripting.KindReply:
		n.cfg.Logger.Warn("reply lost", "to", m.From.Obj.String(), "err", msg)
		return
	case scripting.KindActivate:
		n.cfg.Logger.Warn("activation lost", "object", m.To.String(), "err", msg)
		return
	}
	payload, _ := codec.AppendGo(nil, &codec.ErrorValue{Name: name, Message: msg})
	reply := &scripting.Message{Kind: scripting.KindReply, From: m.From, Args: payload, Failed: true}
	if err := n.Route(reply); err != nil {
		n.cfg.Logger.Warn("reply lost", "to", m.From.Obj.String(), "err", err)
	}
}

// learnClass adds a class version defined through another node.
func (n *Node) learnClass(rec persist.ClassRecord) error {
	learnt, err := n.classes.Learn(rec)
	if err != nil || !learnt {
		return err
	}
	return n.store.PutClass(rec)
}

// clusterClasses stores class versions in the directory first (which
// refuses a conflicting definition made through another node at the same
// time), then in the local store.
type clusterClasses struct {
	store *persist.Store
	c     *cluster
}

func (cc clusterClasses) PutClass(rec persist.ClassRecord) error {
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	if err := cc.c.dir.PutClass(ctx, rec); err != nil {
		if errors.Is(err, directory.ErrConflict) {
			return fmt.Errorf("class %s version %d was defined differently through another node at the same time; define it again", rec.Name, rec.Version)
		}
		return err
	}
	return cc.store.PutClass(rec)
}

func (cc clusterClasses) Classes() ([]persist.ClassRecord, error) { return cc.store.Classes() }

// Members lists the cluster's members as this node sees them (just this
// node when it is not in a cluster).
func (n *Node) Members() []MemberInfo {
	if n.cluster == nil {
		return []MemberInfo{{Name: n.cfg.Name, Status: "alive", VMs: n.cfg.VMs}}
	}
	var out []MemberInfo
	for _, m := range n.cluster.mem.Members() {
		vms, _ := strconv.Atoi(m.Tags["vms"])
		out = append(out, MemberInfo{Name: m.Name, Addr: m.Tags["rpc"], Status: m.Status.String(), VMs: vms})
	}
	return out
}

// MemberInfo describes a member of the cluster.
type MemberInfo struct {
	Name, Addr, Status string
	VMs                int
}

// GossipAddr is the node's serf address ("" outside a cluster): what
// another node joins.
func (n *Node) GossipAddr() string {
	if n.cluster == nil {
		return ""
	}
	return n.cluster.mem.Addr()
}

// RPCAddr is the node's transport address ("" outside a cluster): what
// clients connect to.
func (n *Node) RPCAddr() string {
	if n.cluster == nil {
		return ""
	}
	return n.cluster.tr.Addr()
}
