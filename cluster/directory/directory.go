package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// Config configures one directory node.
type Config struct {
	// Name is the node's name, its raft ServerID. It must be stable across
	// restarts and unique in the cluster.
	Name string
	// Dir holds raft.db (the raft log and stable store, raft-boltdb) and
	// snapshots/. Open creates it.
	Dir string
	// Bind is the raft TCP address "host:port". The host must be an address
	// the other nodes can reach (not 0.0.0.0); port 0 picks a free port,
	// which Addr reports.
	Bind string
	// Bootstrap makes this node the single voter of a new cluster if Dir has
	// no raft state yet. Set it on exactly one node of a new cluster.
	Bootstrap bool
	// Logger receives raft's logs; nil discards them.
	Logger *slog.Logger
	// Forward sends a command to the leader when this node is not the leader;
	// the leader's side calls ApplyForwarded. It should carry an error's text
	// back. Nil makes writes on a follower fail with ErrNotLeader.
	Forward func(ctx context.Context, leaderName string, cmd []byte) ([]byte, error)
	// OnClass is told of each class record applied, from the state machine's
	// goroutine, including at restore and replay (so possibly before Open
	// returns, and again for records it has seen). It must not call the
	// Directory's write methods.
	OnClass func(persist.ClassRecord)
	// OnLeader, if set, is called from one goroutine, in order, each time this
	// node gains (true) or loses (false) raft leadership. The host reconciles
	// the raft membership with serf's there (AddServer for each live member).
	OnLeader func(isLeader bool)
	// Fast shortens raft's timeouts for tests.
	Fast bool

	// Test knobs.
	trailingLogs uint64        // logs kept after a snapshot (0: raft's default)
	batchOps     int           // ops per command at most (0: maxBatchOps; 1: no coalescing)
	inflight     int           // commands in flight at most (0: 1)
	timeout      time.Duration // how long a write keeps trying (0: 30 s, 10 s if Fast)
}

// Server is a member of the raft configuration.
type Server struct {
	Name  string
	Addr  string
	Voter bool
}

// maxVoters is the number of voters the directory keeps when it can: three
// survive the loss of any one.
const maxVoters = 3

// Directory is one node of the replicated directory.
type Directory struct {
	cfg     Config
	log     hclog.Logger
	state   *state
	raft    *raft.Raft
	trans   *raft.NetworkTransport
	store   *raftboltdb.BoltStore
	timeout time.Duration // how long a write keeps trying to reach a leader

	calls    chan *call    // to the batcher
	slots    chan struct{} // commands in flight
	batchOps int
	commands atomic.Int64 // commands dispatched, for the benchmark
	ops      atomic.Int64 // ops in them

	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	stopped chan struct{}  // closed by Close once every goroutine has stopped
	wg      sync.WaitGroup // the batcher, dispatchers and the leadership watcher

	closeOnce sync.Once
	closeErr  error
	memberMu  sync.Mutex // serializes AddServer and RemoveServer
}

// Open starts a directory node.
func Open(cfg Config) (_ *Directory, err error) {
	if cfg.Name == "" || len(cfg.Name) > maxNameLen {
		return nil, fmt.Errorf("directory: node name of %d bytes (want 1 to %d)", len(cfg.Name), maxNameLen)
	}
	if cfg.Dir == "" || cfg.Bind == "" {
		return nil, errors.New("directory: Config.Dir and Config.Bind are required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	d := &Directory{
		cfg:      cfg,
		log:      newHCLogger(cfg.Logger).Named("raft"),
		state:    newState(cfg.OnClass),
		timeout:  30 * time.Second,
		calls:    make(chan *call, 4096),
		slots:    make(chan struct{}, max(1, cfg.inflight)),
		batchOps: maxBatchOps,
		stopped:  make(chan struct{}),
	}
	if cfg.batchOps > 0 {
		d.batchOps = min(cfg.batchOps, maxBatchOps)
	}
	if cfg.Fast {
		d.timeout = 10 * time.Second
	}
	if cfg.timeout > 0 {
		d.timeout = cfg.timeout
	}
	defer func() {
		if err != nil {
			d.closeResources()
		}
	}()

	d.store, err = raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(cfg.Dir, "raft.db"),
		// Another process holding the file makes Open fail rather than hang.
		BoltOptions: &bbolt.Options{Timeout: 2 * time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("directory: open raft.db: %w", err)
	}
	logs, err := raft.NewLogCache(512, d.store)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, d.log)
	if err != nil {
		return nil, fmt.Errorf("directory: snapshot store: %w", err)
	}
	ioTimeout := 10 * time.Second
	if cfg.Fast {
		ioTimeout = 2 * time.Second
	}
	d.trans, err = raft.NewTCPTransportWithLogger(cfg.Bind, nil, 3, ioTimeout, d.log)
	if err != nil {
		return nil, fmt.Errorf("directory: raft transport on %s: %w", cfg.Bind, err)
	}

	rc := d.raftConfig()
	if cfg.Bootstrap {
		has, err := raft.HasExistingState(logs, d.store, snaps)
		if err != nil {
			return nil, fmt.Errorf("directory: %w", err)
		}
		if !has {
			boot := raft.Configuration{Servers: []raft.Server{{
				Suffrage: raft.Voter, ID: rc.LocalID, Address: d.trans.LocalAddr(),
			}}}
			if err := raft.BootstrapCluster(rc, logs, d.store, snaps, d.trans, boot); err != nil {
				return nil, fmt.Errorf("directory: bootstrap: %w", err)
			}
		}
	}
	notify := make(chan bool, 16)
	rc.NotifyCh = notify
	d.raft, err = raft.NewRaft(rc, d.state, logs, d.store, snaps, d.trans)
	if err != nil {
		return nil, fmt.Errorf("directory: start raft: %w", err)
	}

	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(2)
	go d.batchLoop()
	go d.watchLeader(notify)
	return d, nil
}

func (d *Directory) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(d.cfg.Name)
	rc.Logger = d.log
	// A node removed from the configuration stays up as a follower that
	// cannot start elections, so that adding it again works.
	rc.ShutdownOnRemove = false
	if d.cfg.Fast {
		rc.HeartbeatTimeout = 200 * time.Millisecond
		rc.ElectionTimeout = 200 * time.Millisecond
		rc.LeaderLeaseTimeout = 150 * time.Millisecond
		rc.CommitTimeout = 5 * time.Millisecond
	}
	if d.cfg.trailingLogs > 0 {
		rc.TrailingLogs = d.cfg.trailingLogs
	}
	return rc
}

// watchLeader relays raft's leadership notifications to OnLeader.
func (d *Directory) watchLeader(notify <-chan bool) {
	defer d.wg.Done()
	for {
		select {
		case v := <-notify:
			if d.cfg.OnLeader != nil {
				d.cfg.OnLeader(v)
			}
		case <-d.ctx.Done():
			return
		}
	}
}

// Addr returns the raft transport's address, with the port resolved.
func (d *Directory) Addr() string { return string(d.trans.LocalAddr()) }

// Close stops the node. Writes in progress fail with ErrClosed. The node's
// raft state stays in Dir: it leaves the cluster only if the leader removes
// it (RemoveServer).
func (d *Directory) Close() error {
	d.closeOnce.Do(func() {
		d.cancel()
		err := d.raft.Shutdown().Error()
		d.wg.Wait()
		close(d.stopped)
		d.closeErr = errors.Join(err, d.closeResources())
	})
	return d.closeErr
}

func (d *Directory) closed() bool { return d.ctx != nil && d.ctx.Err() != nil }

func (d *Directory) closeResources() error {
	var errs []error
	if d.trans != nil {
		errs = append(errs, d.trans.Close())
	}
	if d.store != nil {
		errs = append(errs, d.store.Close())
	}
	return errors.Join(errs...)
}

// Leader returns the current leader's name and raft address, or "" if none is
// known.
func (d *Directory) Leader() (name, addr string) {
	a, id := d.raft.LeaderWithID()
	return string(id), string(a)
}

// IsLeader tells whether this node is the raft leader.
func (d *Directory) IsLeader() bool { return d.raft.State() == raft.Leader }

// WaitLeader waits until some leader is known.
func (d *Directory) WaitLeader(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if name, _ := d.Leader(); name != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.ctx.Done():
			return ErrClosed
		case <-t.C:
		}
	}
}

// AddServer adds a node to the raft configuration, as a voter while there are
// fewer than three voters and as a non-voter after that; it updates the
// address of a node already there, and promotes a non-voter if a voter's place
// is free. Only the leader can do it: elsewhere it returns ErrNotLeader.
func (d *Directory) AddServer(name, addr string) error {
	if name == "" || addr == "" {
		return fmt.Errorf("%w: AddServer needs a name and an address", ErrBadCommand)
	}
	d.memberMu.Lock()
	defer d.memberMu.Unlock()
	if err := d.checkLeader(); err != nil {
		return err
	}
	conf, err := d.configuration()
	if err != nil {
		return err
	}
	voters := 0
	var cur *raft.Server
	for i, s := range conf.Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
		if s.ID == raft.ServerID(name) {
			cur = &conf.Servers[i]
		}
	}
	id, address := raft.ServerID(name), raft.ServerAddress(addr)
	switch {
	case cur != nil && cur.Suffrage == raft.Voter:
		if cur.Address == address {
			return nil
		}
		return d.raftErr(d.raft.AddVoter(id, address, 0, d.timeout).Error())
	case voters < maxVoters:
		return d.raftErr(d.raft.AddVoter(id, address, 0, d.timeout).Error())
	case cur != nil && cur.Address == address:
		return nil
	default:
		return d.raftErr(d.raft.AddNonvoter(id, address, 0, d.timeout).Error())
	}
}

// RemoveServer removes a node from the raft configuration (if it is there),
// then gives a free voter's place to the first non-voter by name. Only the
// leader can do it. Removing the leader itself makes it step down once the
// change commits; the next leader fills the voter's place at the next
// AddServer or RemoveServer.
func (d *Directory) RemoveServer(name string) error {
	d.memberMu.Lock()
	defer d.memberMu.Unlock()
	if err := d.checkLeader(); err != nil {
		return err
	}
	conf, err := d.configuration()
	if err != nil {
		return err
	}
	voters := 0
	var promote *raft.Server
	for i, s := range conf.Servers {
		switch {
		case s.ID == raft.ServerID(name):
			if err := d.raftErr(d.raft.RemoveServer(s.ID, 0, d.timeout).Error()); err != nil {
				return err
			}
			if s.ID == raft.ServerID(d.cfg.Name) {
				return nil
			}
		case s.Suffrage == raft.Voter:
			voters++
		case s.Suffrage == raft.Nonvoter && (promote == nil || s.ID < promote.ID):
			promote = &conf.Servers[i]
		}
	}
	if promote != nil && voters < maxVoters {
		return d.raftErr(d.raft.AddVoter(promote.ID, promote.Address, 0, d.timeout).Error())
	}
	return nil
}

// Servers returns the raft configuration as this node last learned it (on a
// follower it may lag the leader's), sorted by name.
func (d *Directory) Servers() ([]Server, error) {
	conf, err := d.configuration()
	if err != nil {
		return nil, err
	}
	list := make([]Server, 0, len(conf.Servers))
	for _, s := range conf.Servers {
		list = append(list, Server{Name: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	sortServers(list)
	return list, nil
}

func (d *Directory) checkLeader() error {
	if d.closed() {
		return ErrClosed
	}
	if !d.IsLeader() {
		return ErrNotLeader
	}
	return nil
}

func (d *Directory) configuration() (raft.Configuration, error) {
	f := d.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Configuration{}, d.raftErr(err)
	}
	return f.Configuration(), nil
}

// raftErr maps raft's errors onto the package's.
func (d *Directory) raftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	}
	return fmt.Errorf("directory: %w", err)
}

// Owner returns the object's owner and epoch as this node knows them.
func (d *Directory) Owner(ref objects.Ref) (node string, epoch uint64, ok bool) {
	loc, ok := d.state.owner(ref)
	return loc.Node, loc.Epoch, ok
}

// Classes returns every class record this node knows, by name then version.
// The records' slices are shared: do not modify them.
func (d *Directory) Classes() []persist.ClassRecord { return d.state.classList() }

// UniqueHolder returns the holder of a unique value as this node knows it.
func (d *Directory) UniqueHolder(class, index string, tuple []byte) (string, bool) {
	return d.state.uniqueHolder(class, index, tuple)
}

func sortServers(list []Server) {
	slices.SortFunc(list, func(a, b Server) int { return strings.Compare(a.Name, b.Name) })
}
