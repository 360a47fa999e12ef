package membership

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds every wait for the cluster to converge; generous for a
// slow machine under -race, while the checks themselves poll quickly.
const waitTimeout = 10 * time.Second

// recorder collects the OnChange calls of one node.
type recorder struct {
	mu      sync.Mutex
	changes []Member
}

func (r *recorder) add(m Member) {
	r.mu.Lock()
	r.changes = append(r.changes, m)
	r.mu.Unlock()
}

// of returns the changes seen for the named member, in order.
func (r *recorder) of(name string) []Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Member
	for _, m := range r.changes {
		if m.Name == name {
			out = append(out, m)
		}
	}
	return out
}

// saw reports whether a change of name to status was delivered.
func (r *recorder) saw(name string, st Status) bool {
	for _, m := range r.of(name) {
		if m.Status == st {
			return true
		}
	}
	return false
}

type node struct {
	*Membership
	rec *recorder
}

// start starts a Fast member on a free 127.0.0.1 port; it is shut down when
// the test ends.
func start(t *testing.T, name string, tags map[string]string, join []string, key []byte) (node, error) {
	t.Helper()
	return startOn(t, name, "127.0.0.1:0", tags, join, key)
}

func startOn(t *testing.T, name, bind string, tags map[string]string, join []string, key []byte) (node, error) {
	t.Helper()
	rec := &recorder{}
	m, err := Start(Config{
		Name:       name,
		Bind:       bind,
		Join:       join,
		Tags:       tags,
		EncryptKey: key,
		Fast:       true,
		Logger:     testLogger(t),
		OnChange:   rec.add,
	})
	if err != nil {
		return node{}, err
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return node{m, rec}, nil
}

func mustStart(t *testing.T, name string, tags map[string]string, join []string, key []byte) node {
	t.Helper()
	n, err := start(t, name, tags, join, key)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return n
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	begin := time.Now()
	deadline := begin.Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(begin)
}

// testLogger sends warnings and errors to t.Log while the test runs; serf
// goroutines may outlive the test by a moment, so later lines are dropped.
func testLogger(t *testing.T) *slog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", t.Name())
}

type tbWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *tbWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

// seesAll reports whether n sees exactly the named members, all alive, each
// with the given value of tag "v".
func seesAll(n node, want map[string]string) bool {
	alive := n.Alive()
	if len(alive) != len(want) {
		return false
	}
	for _, m := range alive {
		v, ok := want[m.Name]
		if !ok || m.Tags["v"] != v {
			return false
		}
	}
	return true
}

func statusOf(n node, name string) Status {
	m, ok := n.Member(name)
	if !ok {
		return 0
	}
	return m.Status
}

func TestJoinTagsAndSetTags(t *testing.T) {
	a := mustStart(t, "a", map[string]string{"v": "1", TagRPC: "127.0.0.1:8001"}, nil, nil)
	if _, port, _ := net.SplitHostPort(a.Addr()); port == "0" || port == "" {
		t.Fatalf("Addr() = %q, want the bound port", a.Addr())
	}
	if a.LocalName() != "a" {
		t.Fatalf("LocalName() = %q", a.LocalName())
	}
	b := mustStart(t, "b", map[string]string{"v": "1"}, []string{a.Addr()}, nil)
	c := mustStart(t, "c", map[string]string{"v": "1"}, []string{b.Addr()}, nil)
	nodes := []node{a, b, c}

	want := map[string]string{"a": "1", "b": "1", "c": "1"}
	for _, n := range nodes {
		waitFor(t, n.LocalName()+" to see a, b, c", func() bool { return seesAll(n, want) })
	}

	ms := c.Members()
	if len(ms) != 3 || ms[0].Name != "a" || ms[1].Name != "b" || ms[2].Name != "c" {
		t.Fatalf("Members() = %+v, want a, b, c sorted", ms)
	}
	if ms[0].Tags[TagRPC] != "127.0.0.1:8001" || ms[0].Addr != a.Addr() || ms[0].Status != Alive {
		t.Fatalf("c sees a as %+v", ms[0])
	}
	// Tags are copies.
	ms[0].Tags["v"] = "mutated"
	if m, _ := c.Member("a"); m.Tags["v"] != "1" {
		t.Fatalf("Member tags share storage: %v", m.Tags)
	}
	if _, ok := c.Member("nobody"); ok {
		t.Fatal("Member(nobody) found")
	}

	if err := b.SetTags(map[string]string{"v": "2", TagVMs: "4"}); err != nil {
		t.Fatal(err)
	}
	want["b"] = "2"
	for _, n := range nodes {
		waitFor(t, n.LocalName()+" to see b's new tags", func() bool { return seesAll(n, want) })
	}
	if m, _ := a.Member("b"); m.Tags[TagVMs] != "4" {
		t.Fatalf("a sees b's tags %v", m.Tags)
	}

	big := map[string]string{"x": strings.Repeat("y", 600)}
	if err := b.SetTags(big); err == nil {
		t.Fatal("SetTags accepted tags over serf's 512-byte limit")
	}
}

func TestFailureAndRejoin(t *testing.T) {
	a := mustStart(t, "a", map[string]string{"v": "1"}, nil, nil)
	b := mustStart(t, "b", map[string]string{"v": "1"}, []string{a.Addr()}, nil)
	c := mustStart(t, "c", map[string]string{"v": "1"}, []string{a.Addr()}, nil)
	all := map[string]string{"a": "1", "b": "1", "c": "1"}
	for _, n := range []node{a, b, c} {
		waitFor(t, n.LocalName()+" to see all", func() bool { return seesAll(n, all) })
	}

	// c stops without leaving: a and b see it fail.
	cAddr := c.Addr()
	begin := time.Now()
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	for _, n := range []node{a, b} {
		waitFor(t, n.LocalName()+" to see c failed", func() bool { return n.rec.saw("c", Failed) })
	}
	detect := time.Since(begin)
	t.Logf("failure detected by both in %v", detect)
	if detect > 5*time.Second {
		t.Errorf("failure detection took %v, want < 5s", detect)
	}
	for _, n := range []node{a, b} {
		if st := statusOf(n, "c"); st == Alive {
			t.Errorf("%s still lists c as alive", n.LocalName())
		}
		if ch := n.rec.of("c"); ch[len(ch)-1].Status == Alive {
			t.Errorf("%s: last change of c is %v", n.LocalName(), ch[len(ch)-1])
		}
	}

	// c comes back under the same name, on another port: Alive again.
	c2 := mustStart(t, "c", map[string]string{"v": "2"}, []string{a.Addr()}, nil)
	if c2.Addr() == cAddr {
		t.Fatalf("expected a new port, got %s again", cAddr)
	}
	all["c"] = "2"
	for _, n := range []node{a, b, c2} {
		waitFor(t, n.LocalName()+" to see c back", func() bool { return seesAll(n, all) })
	}
	if m, _ := b.Member("c"); m.Addr != c2.Addr() {
		t.Fatalf("b sees c at %s, want %s", m.Addr, c2.Addr())
	}

	// And once more on its old address (a restart on a fixed port).
	if err := c2.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to see c fail again", func() bool { return statusOf(a, "c") != Alive })
	c3, err := startOn(t, "c", c2.Addr(), map[string]string{"v": "3"}, []string{b.Addr()}, nil)
	if err != nil {
		t.Fatalf("restart c on %s: %v", c2.Addr(), err)
	}
	all["c"] = "3"
	for _, n := range []node{a, b, c3} {
		waitFor(t, n.LocalName()+" to see c back on its address", func() bool { return seesAll(n, all) })
	}
}

func TestLeave(t *testing.T) {
	a := mustStart(t, "a", map[string]string{"v": "1"}, nil, nil)
	b := mustStart(t, "b", map[string]string{"v": "1"}, []string{a.Addr()}, nil)
	c := mustStart(t, "c", map[string]string{"v": "1"}, []string{a.Addr()}, nil)
	all := map[string]string{"a": "1", "b": "1", "c": "1"}
	for _, n := range []node{a, b, c} {
		waitFor(t, n.LocalName()+" to see all", func() bool { return seesAll(n, all) })
	}

	if err := c.Leave(); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(); err != nil {
		t.Fatalf("Shutdown after Leave: %v", err)
	}
	for _, n := range []node{a, b} {
		d := waitFor(t, n.LocalName()+" to see c left", func() bool { return n.rec.saw("c", Left) })
		t.Logf("%s saw c leave within %v of Leave returning", n.LocalName(), d)
		if n.rec.saw("c", Failed) {
			t.Errorf("%s saw c fail, want only left: %+v", n.LocalName(), n.rec.of("c"))
		}
		if alive := n.Alive(); len(alive) != 2 {
			t.Errorf("%s: Alive() = %+v", n.LocalName(), alive)
		}
	}
	// The left member is reaped after the (Fast) tombstone timeout.
	waitFor(t, "a to reap c", func() bool { _, ok := a.Member("c"); return !ok })
}

func TestEncryption(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	other := bytes.Repeat([]byte{9}, 16)
	a := mustStart(t, "a", map[string]string{"v": "1"}, nil, key)
	b := mustStart(t, "b", map[string]string{"v": "1"}, []string{a.Addr()}, key)
	both := map[string]string{"a": "1", "b": "1"}
	for _, n := range []node{a, b} {
		waitFor(t, n.LocalName()+" to see a and b", func() bool { return seesAll(n, both) })
	}

	_, err := start(t, "x", nil, []string{a.Addr()}, other)
	if err == nil {
		t.Fatal("a member with another key joined")
	}
	t.Logf("wrong key: %v", err)
	if !strings.Contains(err.Error(), a.Addr()) || !strings.Contains(err.Error(), "encryption key") {
		t.Errorf("error %q should name %s and the key", err, a.Addr())
	}

	_, err = start(t, "y", nil, []string{a.Addr()}, nil)
	if err == nil {
		t.Fatal("a member without a key joined an encrypted cluster")
	}
	t.Logf("no key: %v", err)
	if !strings.Contains(err.Error(), a.Addr()) || !strings.Contains(err.Error(), "encryption") {
		t.Errorf("error %q should name %s and encryption", err, a.Addr())
	}

	plain := mustStart(t, "plain", nil, nil, nil)
	_, err = start(t, "w", nil, []string{plain.Addr()}, key)
	if err == nil {
		t.Fatal("a member with a key joined an unencrypted cluster")
	}
	t.Logf("key vs plain: %v", err)
	if !strings.Contains(err.Error(), plain.Addr()) {
		t.Errorf("error %q should name %s", err, plain.Addr())
	}

	if _, err := start(t, "z", nil, nil, []byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}

	// Give stray gossip a moment to arrive: the cluster still has only a and b.
	time.Sleep(300 * time.Millisecond)
	for _, n := range []node{a, b} {
		if ms := n.Members(); len(ms) != 2 {
			t.Errorf("%s: Members() = %+v", n.LocalName(), ms)
		}
	}
}

func TestJoinErrors(t *testing.T) {
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	_, err = start(t, "lonely", nil, []string{dead}, nil)
	if err == nil || !strings.Contains(err.Error(), dead) {
		t.Fatalf("join of %s: err = %v, want one naming the address", dead, err)
	}
	t.Logf("dead address: %v", err)

	if _, err := Start(Config{Bind: "127.0.0.1:0"}); err == nil {
		t.Fatal("Start without a name succeeded")
	}
	if _, err := Start(Config{Name: "n", Bind: "127.0.0.1"}); err == nil {
		t.Fatal("Start with a port-less bind address succeeded")
	}

	a := mustStart(t, "a", nil, nil, nil)
	if _, err := a.Join([]string{dead}); err == nil || !strings.Contains(err.Error(), dead) {
		t.Fatalf("Join(%s): err = %v", dead, err)
	}
	b := mustStart(t, "b", nil, nil, nil)
	if n, err := b.Join([]string{dead, a.Addr()}); err != nil || n != 1 {
		t.Fatalf("Join(dead, a) = %d, %v; want 1, nil", n, err)
	}
	waitFor(t, "a and b to meet", func() bool { return len(a.Alive()) == 2 && len(b.Alive()) == 2 })
}

func TestOnChangeOrder(t *testing.T) {
	var logs syncBuffer
	rec := &recorder{}
	a, err := Start(Config{
		Name:     "a",
		Bind:     "127.0.0.1:0",
		Fast:     true,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		OnChange: rec.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown() })

	b := mustStart(t, "b", map[string]string{"v": "1"}, []string{a.Addr()}, nil)
	waitFor(t, "a to see b", func() bool { return rec.saw("b", Alive) })
	if err := b.SetTags(map[string]string{"v": "2"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to see b's tags", func() bool {
		m, _ := a.Member("b")
		return m.Tags["v"] == "2"
	})
	if err := b.Leave(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to reap b", func() bool {
		_, ok := a.Member("b")
		return !ok && len(rec.of("b")) >= 4
	})

	// a's own join comes first.
	if self := rec.of("a"); len(self) == 0 || self[0].Status != Alive {
		t.Fatalf("changes of a: %+v", self)
	}
	// b: joined, updated, left, reaped (reported with its last status).
	var got []string
	for _, m := range rec.of("b") {
		got = append(got, fmt.Sprintf("%v/%s", m.Status, m.Tags["v"]))
	}
	want := []string{"alive/1", "alive/2", "left/2", "left/2"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("changes of b = %v, want %v", got, want)
	}

	out := logs.String()
	for _, line := range []string{
		`msg="membership: member joined" name=a`,
		`msg="membership: member joined" name=b addr=` + b.Addr(),
		`msg="membership: member updated" name=b`,
		`msg="membership: member left" name=b`,
		`msg="membership: member reaped" name=b`,
	} {
		if !strings.Contains(out, line) {
			t.Errorf("log lacks %q:\n%s", line, out)
		}
	}

	// No OnChange call starts after Shutdown.
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	n := len(rec.of("a")) + len(rec.of("b"))
	time.Sleep(100 * time.Millisecond)
	if n2 := len(rec.of("a")) + len(rec.of("b")); n2 != n {
		t.Fatalf("OnChange called after Shutdown (%d -> %d)", n, n2)
	}
}

// TestOnChangeMayCallBack checks that OnChange can read the member list
// (serf sends events while holding its member lock).
func TestOnChangeMayCallBack(t *testing.T) {
	var mu sync.Mutex
	var seen []int
	var self *Membership
	ready := make(chan struct{})
	a, err := Start(Config{
		Name: "a",
		Bind: "127.0.0.1:0",
		Fast: true,
		OnChange: func(Member) {
			<-ready
			n := len(self.Members())
			mu.Lock()
			seen = append(seen, n)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	self = a
	close(ready)
	t.Cleanup(func() { _ = a.Shutdown() })
	for _, name := range []string{"b", "c", "d"} {
		mustStart(t, name, nil, []string{a.Addr()}, nil)
	}
	waitFor(t, "OnChange to see 4 members", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1] == 4
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
