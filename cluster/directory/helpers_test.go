package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// testLogger logs through t.Log (at Warn, or at the level in
// ODIN_TEST_RAFT_LOG) while the test runs, and drops what comes after.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if v := os.Getenv("ODIN_TEST_RAFT_LOG"); v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	w := &tbWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tbWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tbWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// testCluster runs directory nodes in one process on 127.0.0.1, each with its
// own Dir, their Forward wired to the named node's ApplyForwarded.
type testCluster struct {
	t      testing.TB
	log    *slog.Logger
	tweak  func(*Config)
	mu     sync.Mutex
	nodes  map[string]*Directory // open nodes
	dirs   map[string]string
	addrs  map[string]string
	heard  map[string][]persist.ClassRecord // OnClass calls per node, across restarts
	leads  map[string][]bool                // OnLeader calls per node
	closed map[*Directory]bool
}

const waitFor = 15 * time.Second // the deadline of every poll

func newTestCluster(t testing.TB, n int, tweak func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{
		t: t, log: testLogger(t), tweak: tweak,
		nodes: map[string]*Directory{}, dirs: map[string]string{}, addrs: map[string]string{},
		heard: map[string][]persist.ClassRecord{}, leads: map[string][]bool{}, closed: map[*Directory]bool{},
	}
	t.Cleanup(c.closeAll)
	first := c.start("n1", true)
	c.waitUntil("n1 leads", func() bool { return first.IsLeader() })
	for i := 2; i <= n; i++ {
		c.join(fmt.Sprintf("n%d", i))
	}
	return c
}

func (c *testCluster) name(i int) string { return fmt.Sprintf("n%d", i) }

// start opens node name (reusing its Dir and address if it ran before).
func (c *testCluster) start(name string, bootstrap bool) *Directory {
	c.t.Helper()
	c.mu.Lock()
	dir, ok := c.dirs[name]
	if !ok {
		dir = filepath.Join(c.t.TempDir(), name)
		c.dirs[name] = dir
	}
	bind := c.addrs[name]
	c.mu.Unlock()
	if bind == "" {
		bind = "127.0.0.1:0"
	}
	cfg := Config{
		Name: name, Dir: dir, Bind: bind, Bootstrap: bootstrap, Fast: true,
		Logger:  c.log.With("node", name),
		Forward: c.forward,
		OnClass: func(r persist.ClassRecord) {
			c.mu.Lock()
			c.heard[name] = append(c.heard[name], r)
			c.mu.Unlock()
		},
		OnLeader: func(v bool) {
			c.mu.Lock()
			c.leads[name] = append(c.leads[name], v)
			c.mu.Unlock()
		},
	}
	if c.tweak != nil {
		c.tweak(&cfg)
	}
	d, err := Open(cfg)
	if err != nil {
		c.t.Fatalf("open %s: %v", name, err)
	}
	c.mu.Lock()
	c.nodes[name] = d
	c.addrs[name] = d.Addr()
	c.mu.Unlock()
	return d
}

// join starts a new node and has the leader add it.
func (c *testCluster) join(name string) *Directory {
	c.t.Helper()
	d := c.start(name, false)
	c.retry("add "+name, func() error { return c.leader().AddServer(name, d.Addr()) })
	c.waitUntil(name+" knows the leader", func() bool { l, _ := d.Leader(); return l != "" })
	return d
}

func (c *testCluster) forward(ctx context.Context, leader string, cmd []byte) ([]byte, error) {
	c.mu.Lock()
	d := c.nodes[leader]
	c.mu.Unlock()
	if d == nil {
		return nil, fmt.Errorf("no connection to %s", leader)
	}
	return d.ApplyForwarded(ctx, cmd)
}

func (c *testCluster) node(name string) *Directory {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.nodes[name]
	if d == nil {
		c.t.Fatalf("node %s is not running", name)
	}
	return d
}

func (c *testCluster) live() []*Directory {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := slices.Sorted(maps.Keys(c.nodes))
	list := make([]*Directory, len(names))
	for i, n := range names {
		list[i] = c.nodes[n]
	}
	return list
}

// leader waits until one running node leads and returns it.
func (c *testCluster) leader() *Directory {
	c.t.Helper()
	var l *Directory
	c.waitUntil("a leader", func() bool {
		for _, d := range c.live() {
			if d.IsLeader() {
				l = d
				return true
			}
		}
		return false
	})
	return l
}

// stop closes a node, keeping its Dir for a restart.
func (c *testCluster) stop(name string) {
	c.t.Helper()
	d := c.node(name)
	c.mu.Lock()
	delete(c.nodes, name)
	c.closed[d] = true
	c.mu.Unlock()
	if err := d.Close(); err != nil {
		c.t.Errorf("close %s: %v", name, err)
	}
}

func (c *testCluster) leadsOf(name string) []bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.leads[name])
}

func (c *testCluster) heardOf(name string) []persist.ClassRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.heard[name])
}

// closeAll checks that the running nodes converge to one state, then closes
// them.
func (c *testCluster) closeAll() {
	if !c.t.Failed() {
		c.checkConverged()
	}
	for _, d := range c.live() {
		if err := d.Close(); err != nil {
			c.t.Errorf("close %s: %v", d.cfg.Name, err)
		}
	}
}

// checkConverged waits until every running node holds the same state.
func (c *testCluster) checkConverged() {
	c.t.Helper()
	var diff string
	ok := poll(func() bool {
		nodes := c.live()
		diff = ""
		if len(nodes) < 2 {
			return true
		}
		for _, d := range nodes[1:] {
			if diff = stateDiff(nodes[0].state, d.state); diff != "" {
				diff = fmt.Sprintf("%s and %s: %s", nodes[0].cfg.Name, d.cfg.Name, diff)
				return false
			}
		}
		return true
	})
	if !ok {
		c.t.Errorf("nodes did not converge: %s", diff)
	}
}

func stateDiff(a, b *state) string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	b.mu.RLock()
	defer b.mu.RUnlock()
	switch {
	case !maps.Equal(a.objects, b.objects):
		return fmt.Sprintf("objects differ (%d and %d)", len(a.objects), len(b.objects))
	case !maps.Equal(a.uniques, b.uniques):
		return fmt.Sprintf("uniques differ (%d and %d)", len(a.uniques), len(b.uniques))
	case !maps.EqualFunc(a.classes, b.classes, func(x, y persist.ClassRecord) bool { return x.Source == y.Source }):
		return fmt.Sprintf("classes differ (%d and %d)", len(a.classes), len(b.classes))
	}
	return ""
}

func poll(cond func() bool) bool {
	deadline := time.Now().Add(waitFor)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *testCluster) waitUntil(what string, cond func() bool) {
	c.t.Helper()
	if !poll(cond) {
		c.t.Fatalf("timed out waiting for %s", what)
	}
}

// retry calls f until it succeeds; membership changes fail while leadership
// or the configuration is settling.
func (c *testCluster) retry(what string, f func() error) {
	c.t.Helper()
	var err error
	if !poll(func() bool { err = f(); return err == nil }) {
		c.t.Fatalf("%s: %v", what, err)
	}
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

func ref(id string) objects.Ref { return objects.Ref{Class: "Acct", ID: id} }

func isConflict(err error) bool { return errors.Is(err, ErrConflict) }
