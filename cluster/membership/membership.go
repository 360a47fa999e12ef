// Package membership is the cluster's member list: a small wrapper over
// hashicorp/serf (gossip membership and failure detection by memberlist).
//
// Each node advertises in its tags what the others need to route to it (its
// RPC address, VM count, load; see the Tag constants). Every change seen by
// the local node (a member joined, failed, left, changed its tags, or was
// reaped) is logged as one line and handed to Config.OnChange, in order, from
// one goroutine, so routing tables can follow the cluster.
//
// Serf has no "suspect" state (suspicion is internal to memberlist) and a
// member that announced its leave but has not finished leaving is still
// reachable; both report Alive. A member reaped after a long failure or leave
// (serf's reconnect / tombstone timeouts) is delivered to OnChange once more
// with its last status (Failed or Left) and is then no longer listed.
package membership

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// Conventional tag keys advertised by an Odin node.
const (
	TagRPC  = "rpc"  // RPC (transport) address, host:port
	TagRaft = "raft" // raft address of the directory, host:port
	TagVMs  = "vms"  // number of VMs, decimal
	TagLoad = "load" // current load, decimal
)

// DefaultPort is the gossip port used when Config.Bind is empty.
const DefaultPort = 7946

// Status is a member's state as seen by the local node.
type Status int

const (
	Alive  Status = iota + 1 // alive, suspected, or leaving but not yet gone
	Failed                   // declared dead by failure detection
	Left                     // left gracefully
)

func (s Status) String() string {
	switch s {
	case Alive:
		return "alive"
	case Failed:
		return "failed"
	case Left:
		return "left"
	default:
		return "status(" + strconv.Itoa(int(s)) + ")"
	}
}

// Member is one node of the cluster as seen by the local node.
type Member struct {
	Name   string
	Addr   string            // gossip address host:port
	Tags   map[string]string // a copy, owned by the caller
	Status Status
}

// Config configures Start.
type Config struct {
	Name       string            // unique node name (required)
	Bind       string            // gossip "host:port"; port 0 picks a free one (see Addr); "" = 0.0.0.0:7946
	Advertise  string            // optional "host:port" announced to the others; port 0 = the bound port
	Join       []string          // addresses of existing members; empty = start a new cluster
	Tags       map[string]string // e.g. "rpc": "127.0.0.1:8001", "raft": "127.0.0.1:9001", "vms": "2"
	EncryptKey []byte            // 16/24/32 bytes, optional (gossip encryption; all members need the same key)
	Fast       bool              // fast failure detection for tests (sub-second probe, suspicion, reap)
	Logger     *slog.Logger      // nil = discard; serf/memberlist logs go here too
	OnChange   func(Member)      // called from one goroutine, in order, for every join, failure, leave, tag update and reap
}

// About OnChange: the first calls (the local node's own join, the members
// found by cfg.Join) are made once Start has succeeded, on a goroutine of
// their own, possibly before the caller has stored Start's result; a callback
// that uses the *Membership must synchronize with that store. OnChange may
// call Members, Member and Alive; it should not block for long, as later
// changes wait for it (they are queued, never dropped, and serf is never
// held up).

// Membership is a running serf agent. Its methods are safe for concurrent use.
type Membership struct {
	name     string
	addr     string
	serf     *serf.Serf
	log      *slog.Logger
	onChange func(Member)

	events chan serf.Event // filled by serf; drained by pump
	done   chan struct{}   // closed by Shutdown
	pumped chan struct{}   // closed when pump returns

	tagsMu sync.Mutex // serializes SetTags (serf writes its config unguarded)

	qmu    sync.Mutex // guards queue and closed
	queue  []Member   // changes waiting for OnChange
	closed bool
	wake   chan struct{} // signals the dispatcher, capacity 1

	stopOnce sync.Once
}

// Start creates the local serf agent and, if cfg.Join is not empty, joins the
// cluster through those addresses. If none of them can be reached, the agent
// is shut down and the error names the addresses tried.
func Start(cfg Config) (*Membership, error) {
	if cfg.Name == "" {
		return nil, errors.New("membership: a node name is required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	ml := memberlist.DefaultLANConfig()
	sc := serf.DefaultConfig()
	if cfg.Fast {
		fastTimings(sc, ml)
	} else {
		// A node restarted under the same name on another address may
		// take over its old entry once it has been dead this long.
		ml.DeadNodeReclaimTime = 30 * time.Second
	}

	bind := cfg.Bind
	if bind == "" {
		bind = net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultPort))
	}
	bindHost, bindPort, err := splitAddr(bind, "bind")
	if err != nil {
		return nil, err
	}
	ml.BindAddr, ml.BindPort = bindHost, bindPort
	ml.AdvertiseAddr, ml.AdvertisePort = "", bindPort
	if cfg.Advertise != "" {
		advHost, advPort, err := splitAddr(cfg.Advertise, "advertise")
		if err != nil {
			return nil, err
		}
		if advPort == 0 {
			advPort = bindPort // memberlist replaces it too when bindPort is 0
		}
		ml.AdvertiseAddr, ml.AdvertisePort = advHost, advPort
	}

	if len(cfg.EncryptKey) > 0 {
		if err := memberlist.ValidateKey(cfg.EncryptKey); err != nil {
			return nil, fmt.Errorf("membership: encryption key: %w", err)
		}
		key := append([]byte(nil), cfg.EncryptKey...)
		kr, err := memberlist.NewKeyring(nil, key)
		if err != nil {
			return nil, fmt.Errorf("membership: encryption key: %w", err)
		}
		ml.Keyring = kr
	}

	// serf and memberlist log through the standard logger; route it to slog.
	ml.LogOutput, sc.LogOutput = nil, nil
	ml.Logger = stdLogger(cfg.Logger)
	sc.Logger = ml.Logger

	m := &Membership{
		name:     cfg.Name,
		log:      logger,
		onChange: cfg.OnChange,
		events:   make(chan serf.Event, 1024),
		done:     make(chan struct{}),
		pumped:   make(chan struct{}),
		wake:     make(chan struct{}, 1),
	}
	sc.NodeName = cfg.Name
	sc.Tags = copyTags(cfg.Tags)
	sc.EventCh = m.events
	sc.MemberlistConfig = ml

	go m.pump()

	s, err := serf.Create(sc)
	if err != nil {
		m.stop()
		return nil, fmt.Errorf("membership: start %s on %s: %w", cfg.Name, bind, err)
	}
	m.serf = s
	// memberlist wrote the port it bound back into its config.
	m.addr = net.JoinHostPort(bindHost, strconv.Itoa(ml.BindPort))
	if ip := net.ParseIP(bindHost); ip == nil || ip.IsUnspecified() {
		m.addr = s.Memberlist().LocalNode().Address()
	}

	if len(cfg.Join) > 0 {
		if _, err := m.Join(cfg.Join); err != nil {
			_ = m.Shutdown()
			return nil, err
		}
	}
	// Changes seen so far (at least the local node's own join) are queued
	// and delivered from here on, so OnChange never hears of an agent whose
	// start failed.
	if m.onChange != nil {
		go m.dispatch()
	}
	return m, nil
}

// fastTimings shortens failure detection and reaping to well under a second
// (modelled on serf's own tests, a little slower to stay stable under -race).
func fastTimings(sc *serf.Config, ml *memberlist.Config) {
	local := memberlist.DefaultLocalConfig()
	*ml = *local
	ml.GossipInterval = 20 * time.Millisecond
	ml.ProbeInterval = 200 * time.Millisecond
	ml.ProbeTimeout = 100 * time.Millisecond
	ml.SuspicionMult = 2 // suspicion timeout 2 × probe interval (× log10 n)
	ml.PushPullInterval = 2 * time.Second
	ml.GossipToTheDeadTime = 2 * time.Second
	ml.DeadNodeReclaimTime = 10 * time.Millisecond

	sc.ReapInterval = 200 * time.Millisecond
	sc.ReconnectInterval = 200 * time.Millisecond
	sc.ReconnectTimeout = 500 * time.Millisecond
	sc.TombstoneTimeout = 500 * time.Millisecond
	sc.LeavePropagateDelay = 100 * time.Millisecond
}

// splitAddr parses "host:port", resolving a host name to an IP (memberlist
// binds and advertises IPs only).
func splitAddr(addr, what string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("membership: %s address %q: %w", what, addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("membership: %s address %q: bad port", what, addr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if net.ParseIP(host) == nil {
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return "", 0, fmt.Errorf("membership: %s address %q: cannot resolve host: %v", what, addr, err)
		}
		ip := ips[0]
		for _, c := range ips {
			if c.To4() != nil {
				ip = c
				break
			}
		}
		host = ip.String()
	}
	return host, port, nil
}

// Addr returns the bound gossip address (with the real port when Bind asked
// for port 0). When bound to all interfaces it is the advertised address.
func (m *Membership) Addr() string { return m.addr }

// LocalName returns the local node's name.
func (m *Membership) LocalName() string { return m.name }

// Members returns every member known to the local node, including itself and
// failed or left members not yet reaped, sorted by name.
func (m *Membership) Members() []Member {
	sms := m.serf.Members()
	out := make([]Member, 0, len(sms))
	for _, sm := range sms {
		out = append(out, fromSerf(sm))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Member returns the named member, if known.
func (m *Membership) Member(name string) (Member, bool) {
	for _, sm := range m.serf.Members() {
		if sm.Name == name {
			return fromSerf(sm), true
		}
	}
	return Member{}, false
}

// Alive returns the members whose status is Alive, sorted by name.
func (m *Membership) Alive() []Member {
	all := m.Members()
	out := all[:0]
	for _, mem := range all {
		if mem.Status == Alive {
			out = append(out, mem)
		}
	}
	return out
}

// SetTags replaces the local node's tags and gossips them to the cluster
// (encoded tags are limited to 512 bytes). It waits until the update has been
// broadcast.
func (m *Membership) SetTags(tags map[string]string) error {
	m.tagsMu.Lock()
	defer m.tagsMu.Unlock()
	if err := m.serf.SetTags(copyTags(tags)); err != nil {
		return fmt.Errorf("membership: set tags: %w", err)
	}
	return nil
}

// Join contacts the given members to join their cluster and returns how many
// were reached. The error, returned only when none was, names the addresses.
func (m *Membership) Join(addrs []string) (int, error) {
	if len(addrs) == 0 {
		return 0, errors.New("membership: join: no addresses given")
	}
	n, err := m.serf.Join(addrs, true)
	if err != nil && n == 0 {
		return 0, &joinError{addrs: addrs, err: err}
	}
	if err != nil {
		// Some address was reached but the join broadcast failed; the
		// gossip will converge anyway.
		m.log.Warn("membership: join", "addrs", strings.Join(addrs, ","), "err", err)
	}
	return n, nil
}

// Leave leaves the cluster gracefully (the others see the node as Left) and
// then shuts the agent down. Members still returns the last view.
func (m *Membership) Leave() error {
	if err := m.serf.Leave(); err != nil {
		_ = m.Shutdown()
		return fmt.Errorf("membership: leave: %w", err)
	}
	return m.Shutdown()
}

// Shutdown stops the agent without leaving: the others see the node as
// Failed once failure detection notices. No OnChange call starts after
// Shutdown returns (one in progress may still be running). It is safe to call
// more than once, and after Leave.
func (m *Membership) Shutdown() error {
	err := m.serf.Shutdown()
	m.stop()
	if err != nil {
		return fmt.Errorf("membership: shutdown: %w", err)
	}
	return nil
}

// stop ends the pump and dispatcher goroutines.
func (m *Membership) stop() {
	m.stopOnce.Do(func() {
		m.qmu.Lock()
		m.closed = true
		m.queue = nil
		m.qmu.Unlock()
		close(m.done)
		<-m.pumped
	})
}

// pump drains serf's event channel. serf sends on it while holding its member
// lock, so pump never calls into serf and never waits on OnChange: it logs
// and queues each change for the dispatcher.
func (m *Membership) pump() {
	defer close(m.pumped)
	for {
		select {
		case ev := <-m.events:
			m.handle(ev)
		case <-m.done:
			return
		}
	}
}

func (m *Membership) handle(ev serf.Event) {
	me, ok := ev.(serf.MemberEvent)
	if !ok {
		return // user events and queries are not used
	}
	for _, sm := range me.Members {
		mem := fromSerf(sm)
		switch me.Type {
		case serf.EventMemberJoin:
			m.log.Info("membership: member joined", "name", mem.Name, "addr", mem.Addr, "tags", mem.Tags)
		case serf.EventMemberFailed:
			m.log.Info("membership: member failed", "name", mem.Name, "addr", mem.Addr)
		case serf.EventMemberLeave:
			m.log.Info("membership: member left", "name", mem.Name, "addr", mem.Addr)
		case serf.EventMemberUpdate:
			m.log.Info("membership: member updated", "name", mem.Name, "addr", mem.Addr, "tags", mem.Tags)
		case serf.EventMemberReap:
			m.log.Info("membership: member reaped", "name", mem.Name, "addr", mem.Addr, "status", mem.Status.String())
		default:
			continue
		}
		if m.onChange == nil {
			continue
		}
		m.qmu.Lock()
		if !m.closed {
			m.queue = append(m.queue, mem)
		}
		m.qmu.Unlock()
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

// dispatch calls OnChange for each queued change, in order.
func (m *Membership) dispatch() {
	for {
		m.qmu.Lock()
		for len(m.queue) > 0 && !m.closed {
			mem := m.queue[0]
			m.queue[0] = Member{}
			m.queue = m.queue[1:]
			m.qmu.Unlock()
			m.onChange(mem)
			m.qmu.Lock()
		}
		closed := m.closed
		m.qmu.Unlock()
		if closed {
			return
		}
		select {
		case <-m.wake:
		case <-m.done:
		}
	}
}

// joinError is a failed join: the addresses tried and memberlist's reasons
// (a multi-line multierror), flattened to one line.
type joinError struct {
	addrs []string
	err   error
}

func (e *joinError) Error() string {
	var reasons []string
	if me, ok := e.err.(interface{ WrappedErrors() []error }); ok {
		for _, r := range me.WrappedErrors() {
			reasons = append(reasons, r.Error())
		}
	} else {
		reasons = append(reasons, e.err.Error())
	}
	msg := fmt.Sprintf("membership: join %s: no member reachable: %s",
		strings.Join(e.addrs, ", "), strings.Join(reasons, "; "))
	if strings.Contains(msg, "decrypt") {
		msg += " (the gossip encryption key differs from the cluster's)"
	}
	return msg
}

func (e *joinError) Unwrap() error { return e.err }

func fromSerf(sm serf.Member) Member {
	st := Alive // serf's alive and leaving
	switch sm.Status {
	case serf.StatusFailed:
		st = Failed
	case serf.StatusLeft:
		st = Left
	}
	return Member{
		Name:   sm.Name,
		Addr:   net.JoinHostPort(sm.Addr.String(), strconv.Itoa(int(sm.Port))),
		Tags:   copyTags(sm.Tags),
		Status: st,
	}
}

func copyTags(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = v
	}
	return out
}

// stdLogger returns a standard logger whose lines ("[LEVEL] serf: ...") go to
// l at the matching level; nil discards them. INFO becomes Debug: membership
// changes are logged once, by this package.
func stdLogger(l *slog.Logger) *log.Logger {
	if l == nil {
		return log.New(io.Discard, "", 0)
	}
	return log.New(slogWriter{l}, "", 0)
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\r\n")
	level := slog.LevelInfo
	if strings.HasPrefix(msg, "[") {
		if i := strings.IndexByte(msg, ']'); i > 0 {
			switch msg[1:i] {
			case "TRACE", "DEBUG", "INFO":
				level = slog.LevelDebug
			case "WARN", "WARNING":
				level = slog.LevelWarn
				if strings.Contains(msg, "Shutdown without a Leave") {
					level = slog.LevelDebug // Shutdown is documented as not leaving
				}
			case "ERR", "ERROR":
				level = slog.LevelError
			}
			msg = strings.TrimSpace(msg[i+1:])
		}
	}
	w.l.Log(context.Background(), level, msg)
	return len(p), nil
}
