package host

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/scripting"
)

// mover keeps where objects were moved (placement overrides) and carries
// out moves between the VMs of the node: by hand (odin.migrate), by access
// frequency (the workers report objects called mostly from another VM), and
// away from a VM whose queue stays much longer than the others'.
type mover struct {
	n         *Node
	mu        sync.Mutex
	to        map[objects.Ref]int       // overrides of the hash placement
	lastMoved map[objects.Ref]time.Time // for the cool-down
	moving    map[objects.Ref]bool
	lastAuto  map[[2]int]time.Time // last automatic move between two VMs, by (from, to)
	quit      chan struct{}
	done      chan struct{}
	hot       []int // seconds each VM's queue has been too long
}

// Policy constants: an object moves at most once per cool-down, and a VM
// whose queue is over queueHigh and over queueRatio times the shortest for
// queueSeconds in a row sheds its busiest object.
const (
	coolDown = 10 * time.Second
	// noSwap: an automatic move from VM i to VM j is skipped if one from j
	// to i happened this recently. Two objects calling each other would
	// otherwise both move towards the other and swap VMs at every window.
	noSwap       = 2 * time.Second
	queueHigh    = 1000
	queueRatio   = 4
	queueSeconds = 3
)

func newMover(n *Node) *mover {
	return &mover{n: n, to: map[objects.Ref]int{}, lastMoved: map[objects.Ref]time.Time{},
		moving: map[objects.Ref]bool{}, lastAuto: map[[2]int]time.Time{}, quit: make(chan struct{}), done: make(chan struct{})}
}

func (m *mover) override(ref objects.Ref) (int, bool) {
	m.mu.Lock()
	vm, ok := m.to[ref]
	m.mu.Unlock()
	return vm, ok
}

func (m *mover) start() {
	m.hot = make([]int, len(m.n.hosted))
	go m.balance()
}

func (m *mover) stop() {
	select {
	case <-m.quit:
	default:
		close(m.quit)
		<-m.done
	}
}

// Migrate implements scripting.Router: it moves ref to VM vm of node
// (see MoveTo) and calls done when the move is over (or refused).
func (n *Node) Migrate(ref objects.Ref, node string, vm int, done func(error)) {
	go func() {
		err := n.MoveTo(ref, node, vm)
		if done != nil {
			done(err)
		}
	}()
}

// MoveObject moves an object to another VM and waits (for tools and tests).
func (n *Node) MoveObject(ref objects.Ref, vm int) error { return n.moves.move(ref, vm, false) }

// MoveTo moves an object to VM vm of node, wherever it is in the cluster,
// and waits: node "" is the node it is on, vm < 0 the target node's
// placement (no move between the VMs of one node). A move between nodes is
// carried out by the owner (nodemove.go); it fails, with the object still
// served where it was, if the target is down or refuses.
func (n *Node) MoveTo(ref objects.Ref, node string, vm int) error {
	switch {
	case !scripting.IsObject(ref) || ref.ID == "":
		return fmt.Errorf("host: %s cannot move: only objects move", ref)
	case n.client != nil:
		return n.client.migrate(ref, node, vm)
	case n.cluster != nil:
		return n.cluster.migrate(ref, node, vm, 0)
	case node != "" && node != n.cfg.Name:
		return fmt.Errorf("host: %s cannot move to node %q: node %s is not in a cluster", ref, node, n.cfg.Name)
	case vm < 0:
		return nil
	}
	return n.moves.move(ref, vm, false)
}

var errBusy = errors.New("host: the object is already moving")

// begin marks ref as moving; false if it already is.
func (m *mover) begin(ref objects.Ref) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.moving[ref] {
		return false
	}
	m.moving[ref] = true
	return true
}

// end ends begin.
func (m *mover) end(ref objects.Ref) {
	m.mu.Lock()
	delete(m.moving, ref)
	m.lastMoved[ref] = time.Now()
	m.mu.Unlock()
}

// current is the VM of this node that hosts ref (when the node does).
func (m *mover) current(ref objects.Ref) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if vm, ok := m.to[ref]; ok {
		return vm
	}
	return m.n.placement(ref)
}

// place makes vm the VM of ref on this node (vm < 0: its hash placement).
func (m *mover) place(ref objects.Ref, vm int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if vm < 0 || vm >= len(m.n.hosted) || vm == m.n.placement(ref) {
		delete(m.to, ref)
	} else {
		m.to[ref] = vm
	}
}

// move runs the protocol of scripting/migrate.go: park at the target, point
// the placement at it, release at the source, unpark.
func (m *mover) move(ref objects.Ref, vm int, auto bool) error {
	n := m.n
	if vm < 0 || vm >= len(n.hosted) {
		return fmt.Errorf("host: no VM %d on node %s (it has %d)", vm, n.cfg.Name, len(n.hosted))
	}
	if !scripting.IsObject(ref) {
		return fmt.Errorf("host: %s cannot move: only objects move", ref)
	}
	m.mu.Lock()
	if m.moving[ref] {
		m.mu.Unlock()
		return errBusy
	}
	if auto && time.Since(m.lastMoved[ref]) < coolDown {
		m.mu.Unlock()
		return nil
	}
	from := n.placement(ref)
	if o, ok := m.to[ref]; ok {
		from = o
	}
	if from == vm || (auto && time.Since(m.lastAuto[[2]int{vm, from}]) < noSwap) {
		m.mu.Unlock()
		return nil
	}
	if auto {
		m.lastAuto[[2]int{from, vm}] = time.Now()
	}
	m.moving[ref] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.moving, ref)
		m.lastMoved[ref] = time.Now()
		m.mu.Unlock()
	}()
	target, source := n.hosted[vm], n.hosted[from]
	if err := target.Park(ref); err != nil {
		return err
	}
	m.mu.Lock()
	if vm == n.placement(ref) {
		delete(m.to, ref)
	} else {
		m.to[ref] = vm
	}
	m.mu.Unlock()
	released := make(chan error, 1)
	if err := source.Release(ref, func(err error) { released <- err }); err != nil {
		released <- err
	}
	err := <-released
	if uerr := target.Unpark(ref); err == nil {
		err = uerr
	}
	n.cfg.Logger.Info("object moved", "object", ref.String(), "from_vm", from, "to_vm", vm, "auto", auto)
	return err
}

// requested is called by the workers with objects called mostly from
// another VM.
func (m *mover) requested(reqs []scripting.MoveRequest) {
	for _, r := range reqs {
		if r.VM < 0 || r.VM >= len(m.n.hosted) {
			continue // called mostly by a script, whose VM hosts no objects
		}
		go func(r scripting.MoveRequest) {
			if err := m.move(r.Ref, r.VM, true); err != nil && err != errBusy {
				m.n.cfg.Logger.Warn("automatic move failed", "object", r.Ref.String(), "err", err)
			}
		}(r)
	}
}

// balance moves load off a VM whose queue stays much longer than the
// shortest one's.
func (m *mover) balance() {
	defer close(m.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
		}
		if m.n.cfg.NoAutoPlacement || len(m.n.hosted) < 2 {
			continue
		}
		short, shortLen := 0, -1
		for i, w := range m.n.hosted {
			if l := w.QueueLen(); shortLen < 0 || l < shortLen {
				short, shortLen = i, l
			}
		}
		for i, w := range m.n.hosted {
			l := w.QueueLen()
			if l > queueHigh && l > queueRatio*shortLen {
				m.hot[i]++
			} else {
				m.hot[i] = 0
			}
			if m.hot[i] >= queueSeconds {
				m.hot[i] = 0
				for _, ref := range w.Busiest(1) {
					go func(ref objects.Ref, to int) { _ = m.move(ref, to, true) }(ref, short)
				}
			}
		}
	}
}
