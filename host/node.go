package host

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting"
	"github.com/odin-db/odin/scripting/codec"
)

// Config configures a node.
type Config struct {
	DataDir string // where odin.db lives; ignored with Memory
	Memory  bool   // a throw-away data directory, removed on Close
	Name    string // the node's name; default "local"
	VMs     int    // VM workers hosting objects; default one per CPU

	Stdout, Stderr io.Writer // console output of scripts and objects
	Logger         *slog.Logger

	TurnLimit   time.Duration
	CallTimeout time.Duration
	QueueLimit  int
	IdleTimeout time.Duration // passivate objects idle this long
	// MaxLogEvents bounds an object's replay log (default 10,000).
	MaxLogEvents int
	// NoAutoPlacement keeps objects where they are unless moved by hand
	// (no moves by access frequency or queue length).
	NoAutoPlacement bool
	NoSync          bool // skip fsync (tests, --memory)
	Seed            uint64
	// Cluster makes the node a member of a cluster; nil runs it alone.
	Cluster *ClusterConfig
	// Connect makes the node a client of a cluster node instead: it hosts
	// no objects and runs only its scripts (Memory and VMs are ignored).
	Connect *ConnectConfig
}

// DefaultConfig returns a fresh configuration with the defaults.
func DefaultConfig() Config {
	d := scripting.DefaultConfig()
	return Config{
		DataDir:     "odin-data",
		Name:        "local",
		VMs:         runtime.NumCPU(),
		TurnLimit:   d.TurnLimit,
		CallTimeout: d.CallTimeout,
		QueueLimit:  d.QueueLimit,
	}
}

// Validate checks a configuration.
func (c *Config) Validate() error {
	switch {
	case c.Cluster != nil && c.Connect != nil:
		return fmt.Errorf("host: config: a node is either a cluster member or a client, not both")
	case c.Connect == nil && (c.VMs < 1 || c.VMs > 1024):
		return fmt.Errorf("host: config: VMs must be between 1 and 1024, not %d", c.VMs)
	case !c.Memory && c.DataDir == "":
		return fmt.Errorf("host: config: no data directory")
	case c.Name == "":
		return fmt.Errorf("host: config: no node name")
	}
	return nil
}

// Node is one Odin node: VM workers, the broker routing between them, and
// the store.
type Node struct {
	cfg     Config
	dir     string
	store   *persist.Store
	classes *scripting.Classes
	output  sync.Mutex

	hosted []*scripting.Worker
	// all holds every worker by index: hosted ones first, then the workers of
	// running scripts. Replaced whole (copy on write) so that Route reads it
	// without a lock.
	all     atomic.Pointer[[]*scripting.Worker]
	allMu   sync.Mutex
	closing atomic.Bool

	moves   *mover        // placement overrides and moves between VMs (migrate.go)
	indexes *indexer      // index builds, unique claims, queries (indexes.go)
	cluster *cluster      // nil unless the node is in a cluster (cluster.go)
	client  *client       // nil unless the node is a client of one (client.go)
	closed  chan struct{} // closed by Close: scripts still running return
}

// Open starts a node on its data directory.
func Open(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Connect != nil {
		cfg.Memory, cfg.VMs = true, 0
	}
	dir := cfg.DataDir
	if cfg.Memory {
		d, err := os.MkdirTemp("", "odin-memory-")
		if err != nil {
			return nil, err
		}
		dir = d
		cfg.NoSync = true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("host: data directory %s: %w", dir, err)
	}
	pc := persist.DefaultConfig()
	pc.Path = filepath.Join(dir, "odin.db")
	pc.NoSync = cfg.NoSync
	pc.Logger = cfg.Logger
	pc.IndexKey = codec.KeyOf
	store, err := persist.Open(pc)
	if err != nil {
		if cfg.Memory {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	n := &Node{cfg: cfg, dir: dir, store: store, closed: make(chan struct{})}
	n.moves = newMover(n)
	n.indexes = newIndexer(n)
	var classStore scripting.ClassStore = store
	if cfg.Connect != nil {
		if n.client, err = connect(n, cfg.Connect); err != nil {
			store.Close()
			os.RemoveAll(dir)
			return nil, err
		}
		classStore = n.client
	}
	if cfg.Cluster != nil {
		if n.cluster, err = startCluster(n, cfg.Cluster); err != nil {
			store.Close()
			return nil, err
		}
		classStore = clusterClasses{store: store, c: n.cluster}
	}
	fail := func(err error) (*Node, error) {
		n.indexes.stop()
		if n.cluster != nil {
			n.cluster.stop()
		}
		if n.client != nil {
			n.client.stop()
		}
		store.Close()
		if cfg.Memory {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	n.classes, err = scripting.NewClasses(classStore)
	if err != nil {
		return fail(err)
	}
	if err := n.indexes.declareAll(); err != nil {
		return fail(err)
	}
	if n.cluster != nil {
		if err := n.cluster.register(); err != nil {
			return fail(fmt.Errorf("host: joining the cluster: %w", err))
		}
	}
	if n.client != nil {
		n.classes.OnMiss(n.client.classes)
	}
	n.classes.OnDefine(func(d *scripting.ClassDef) {
		if err := n.indexes.declare(d); err != nil {
			cfg.Logger.Error("declare indexes", "class", d.Name, "err", err)
		}
	})
	for i := 0; i < cfg.VMs; i++ {
		w, err := n.newWorker(i, true)
		if err != nil {
			n.Close()
			return nil, err
		}
		n.hosted = append(n.hosted, w)
	}
	all := append([]*scripting.Worker(nil), n.hosted...)
	n.all.Store(&all)
	if n.cluster != nil {
		close(n.cluster.ready)
	}
	if err := n.reactivate(); err != nil {
		n.Close()
		return nil, err
	}
	n.moves.start()
	return n, nil
}

// reactivate brings back the objects whose tasklets or methods were
// suspended when the node stopped (they have a replay log): each is
// activated by replay on its VM, its timers re-armed and its calls re-sent.
func (n *Node) reactivate() error {
	keys, err := n.store.NonQuiescent()
	if err != nil {
		return err
	}
	for _, k := range keys {
		ref := objects.Ref{Class: k.Class, ID: k.ID}
		if err := n.Route(&scripting.Message{Kind: scripting.KindActivate, To: ref}); err != nil {
			n.cfg.Logger.Error("reactivating an object failed", "object", ref.String(), "err", err)
		}
	}
	if len(keys) > 0 {
		n.cfg.Logger.Info("reactivating suspended objects", "count", len(keys))
	}
	return nil
}

func (n *Node) newWorker(index int, hosted bool) (*scripting.Worker, error) {
	wc := scripting.DefaultConfig()
	wc.Index = index
	wc.Node = n.cfg.Name
	wc.Router = n
	wc.Classes = n.classes
	wc.Store = n.store
	wc.Uniques = n.indexes
	if n.cluster != nil {
		wc.Uniques = clusterUniques{n.cluster}
	}
	wc.Hosted = hosted
	wc.EagerRelease = n.cfg.Memory
	wc.Stdout, wc.Stderr, wc.Output = n.cfg.Stdout, n.cfg.Stderr, &n.output
	wc.Logger = n.cfg.Logger
	if n.cfg.TurnLimit > 0 {
		wc.TurnLimit = n.cfg.TurnLimit
	}
	if n.cfg.CallTimeout > 0 {
		wc.CallTimeout = n.cfg.CallTimeout
	}
	if n.cfg.QueueLimit > 0 {
		wc.QueueLimit = n.cfg.QueueLimit
	}
	if n.cfg.IdleTimeout > 0 {
		wc.IdleTimeout = n.cfg.IdleTimeout
	}
	if n.cfg.MaxLogEvents > 0 {
		wc.MaxLogEvents = n.cfg.MaxLogEvents
	}
	if hosted && !n.cfg.NoAutoPlacement {
		wc.Placement = n.moves.requested
	}
	// Each process draws fresh seeds unless a test fixes them: call ids
	// carry a nonce drawn from them, which must differ from any earlier
	// process's on the same data.
	wc.Seed = n.cfg.Seed + uint64(index)*0x9e3779b97f4a7c15
	if n.cfg.Seed == 0 {
		var b [8]byte
		if _, err := crand.Read(b[:]); err != nil {
			return nil, err
		}
		wc.Seed = binary.LittleEndian.Uint64(b[:])
	}
	return scripting.New(wc)
}

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// VMs returns the number of VM workers hosting objects.
func (n *Node) VMs() int { return len(n.hosted) }

// Store returns the node's store.
func (n *Node) Store() *persist.Store { return n.store }

// Classes returns the node's class registry.
func (n *Node) Classes() *scripting.Classes { return n.classes }

// Close stops the workers (answering what is still queued) and closes the
// store after its pending commits. With Memory, the data is removed.
func (n *Node) Close() error {
	if n.closing.Swap(true) {
		return nil
	}
	close(n.closed)
	n.moves.stop()
	n.indexes.stop()
	if p := n.all.Load(); p != nil {
		for _, w := range *p {
			if w != nil {
				w.Stop()
			}
		}
	} else {
		for _, w := range n.hosted {
			w.Stop()
		}
	}
	if n.cluster != nil {
		n.cluster.stop()
	}
	if n.client != nil {
		n.client.stop()
	}
	err := n.store.Close()
	if n.cfg.Memory {
		os.RemoveAll(n.dir)
	}
	return err
}

// Placement returns the VM of this node that hosts (or will host) ref.
func (n *Node) Placement(ref objects.Ref) int { return n.VMOf(ref) }

// VMOf implements scripting.Router: an object's VM is where it was moved
// to, else a hash of its ref over the hosted VMs, so every worker agrees
// without asking anyone; an ephemeral channel lives in the VM that made it.
func (n *Node) VMOf(ref objects.Ref) int {
	if node, vm, ok := scripting.EphemeralChannel(ref); ok {
		if node != n.cfg.Name {
			return -1
		}
		return vm
	}
	if ownable(ref) && ((n.cluster != nil && (!n.cluster.owns(ref) || n.cluster.departing(ref))) || len(n.hosted) == 0) {
		return -1
	}
	if vm, ok := n.moves.override(ref); ok {
		return vm
	}
	return n.placement(ref)
}

// placement is the home VM of an object: a hash of its ref.
func (n *Node) placement(r objects.Ref) int {
	h := fnv.New64a()
	_, _ = io.WriteString(h, r.Class)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, r.ID)
	return int(h.Sum64() % uint64(len(n.hosted)))
}

// Route implements scripting.Router.
func (n *Node) Route(m *scripting.Message) error { return n.routeHops(m, 0) }

// routeHops routes m, which other nodes have forwarded hops times.
func (n *Node) routeHops(m *scripting.Message, hops uint8) error {
	for try := 1; ; try++ {
		if n.cluster != nil && n.cluster.hold(m) {
			return nil // for an object leaving this node
		}
		err := n.routeOn(m, hops)
		if err != errRouteAgain {
			return err
		}
		if try == 3 {
			return fmt.Errorf("%s: its owner keeps changing; retry", describeTarget(m))
		}
	}
}

// errRouteAgain: the object's owner changed, or it began to move to
// another node, while routeOn looked; routing it again gets it right.
var errRouteAgain = errors.New("host: route again")

// routeOn is routeHops past the messages held for objects that leave.
func (n *Node) routeOn(m *scripting.Message, hops uint8) error {
	if n.client != nil {
		if handled, err := n.client.route(m); handled {
			return err
		}
	}
	if m.Kind == scripting.KindFind {
		return n.indexes.find(m)
	}
	if n.cluster != nil {
		if handled, err := n.cluster.route(m, hops); handled {
			return err
		}
	}
	return n.deliverLocal(m)
}

// deliverLocal hands m to the VM of this node that hosts its target.
func (n *Node) deliverLocal(m *scripting.Message) error {
	all := *n.all.Load()
	to := m.To
	if m.Kind == scripting.KindReply {
		to = m.From.Obj
	}
	var vm int
	switch {
	case m.Kind == scripting.KindReply && !scripting.IsObject(to):
		vm = m.From.VM // a script's reply goes back to its VM
	default:
		if vm = n.VMOf(to); vm < 0 {
			if n.cluster != nil && ownable(to) {
				return errRouteAgain
			}
			return fmt.Errorf("%s lives on another node, which this node does not reach", to)
		}
	}
	if vm < 0 || vm >= len(all) || all[vm] == nil {
		return fmt.Errorf("VM %d of node %s is gone", vm, n.cfg.Name)
	}
	return all[vm].Deliver(m)
}

// ListObjects pages through the ids of the objects of class stored on this
// node, in id order.
func (n *Node) ListObjects(class, after string, limit int) ([]string, error) {
	return n.store.ListIDs(class, after, limit)
}
