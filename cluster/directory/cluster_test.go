package directory

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// TestCluster runs the write semantics on one three-voter cluster, with every
// node writing: the followers' writes go through Forward.
func TestCluster(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	ctx := ctxFor(t)

	t.Run("Servers", func(t *testing.T) {
		want := []Server{{"n1", c.addrs["n1"], true}, {"n2", c.addrs["n2"], true}, {"n3", c.addrs["n3"], true}}
		c.waitUntil("every node knows the three voters and the leader", func() bool {
			l := c.leader()
			for _, d := range c.live() {
				got, err := d.Servers()
				if name, addr := d.Leader(); err != nil || !slices.Equal(got, want) || name != l.cfg.Name || addr != l.Addr() {
					return false
				}
			}
			return true
		})
		for _, d := range c.live() {
			if d.IsLeader() {
				continue
			}
			// (Unless it has just become the leader: a loaded machine can
			// make leadership move.)
			if err := d.AddServer("x", "127.0.0.1:1"); !errors.Is(err, ErrNotLeader) && !d.IsLeader() {
				t.Errorf("AddServer on follower %s: %v, want ErrNotLeader", d.cfg.Name, err)
			}
			if err := d.RemoveServer("n1"); !errors.Is(err, ErrNotLeader) && !d.IsLeader() {
				t.Errorf("RemoveServer on follower %s: %v, want ErrNotLeader", d.cfg.Name, err)
			}
		}
	})

	t.Run("ClaimRace", func(t *testing.T) {
		const refs, perNode = 40, 4
		type claim struct {
			owner string
			epoch uint64
		}
		var mu sync.Mutex
		got := map[string][]claim{}
		var wg sync.WaitGroup
		for _, d := range c.live() {
			for g := range perNode {
				wg.Go(func() {
					for i := range refs {
						id := fmt.Sprintf("race-%d", (i+g*7)%refs)
						owner, epoch, err := d.ClaimObject(ctx, ref(id), d.cfg.Name)
						if err != nil {
							t.Errorf("%s: claim %s: %v", d.cfg.Name, id, err)
							return
						}
						mu.Lock()
						got[id] = append(got[id], claim{owner, epoch})
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		c.checkConverged()
		for id, claims := range got {
			first := claims[0]
			if first.epoch != 1 || !slices.Contains([]string{"n1", "n2", "n3"}, first.owner) {
				t.Errorf("%s: claimed as %+v", id, first)
			}
			for _, cl := range claims {
				if cl != first {
					t.Errorf("%s: claims disagree: %+v", id, claims)
					break
				}
			}
			for _, d := range c.live() {
				if owner, epoch, ok := d.Owner(ref(id)); !ok || owner != first.owner || epoch != 1 {
					t.Errorf("%s: Owner(%s) = %s %d %v, want %s 1", d.cfg.Name, id, owner, epoch, ok, first.owner)
				}
			}
		}
		if len(got) != refs {
			t.Errorf("%d refs claimed, want %d", len(got), refs)
		}
	})

	t.Run("ClaimObjects", func(t *testing.T) {
		d := c.node("n2")
		if _, _, err := d.ClaimObject(ctx, ref("batch-3"), "n3"); err != nil {
			t.Fatal(err)
		}
		refs := make([]objects.Ref, maxOpRefs+5) // two raft entries
		for i := range refs {
			refs[i] = ref(fmt.Sprintf("batch-%d", i))
		}
		owners, err := d.ClaimObjects(ctx, refs, "n2")
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range owners {
			want := "n2"
			if i == 3 {
				want = "n3"
			}
			if o != want {
				t.Fatalf("owner of %s = %q, want %q", refs[i], o, want)
			}
		}
		if got, err := d.ClaimObjects(ctx, nil, "n2"); got != nil || err != nil {
			t.Errorf("ClaimObjects(nil) = %v, %v", got, err)
		}
		if _, err := d.ClaimObjects(ctx, []objects.Ref{ref("ok"), {Class: "bad class", ID: "x"}}, "n2"); !errors.Is(err, ErrBadCommand) {
			t.Errorf("bad ref: %v, want ErrBadCommand", err)
		}
	})

	t.Run("UniqueRace", func(t *testing.T) {
		const tuples, perNode = 10, 3
		var mu sync.Mutex
		holders := map[string][]string{} // tuple -> holders returned
		winners := map[string][]string{} // tuple -> claimers told they hold it
		var wg sync.WaitGroup
		for _, d := range c.live() {
			for g := range perNode {
				id := fmt.Sprintf("%s-%d", d.cfg.Name, g)
				wg.Go(func() {
					for i := range tuples {
						tuple := []byte{byte(i), 0, 0xff}
						h, err := d.ClaimUnique(ctx, "Acct", `u:["email"]`, tuple, id)
						if err != nil {
							t.Errorf("%s: %v", id, err)
							return
						}
						mu.Lock()
						holders[string(tuple)] = append(holders[string(tuple)], h)
						if h == id {
							winners[string(tuple)] = append(winners[string(tuple)], id)
						}
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		for tuple, hs := range holders {
			if w := winners[tuple]; len(w) != 1 {
				t.Errorf("tuple %x: %d winners %v", tuple, len(w), w)
				continue
			}
			for _, h := range hs {
				if h != winners[tuple][0] {
					t.Errorf("tuple %x: holders disagree: %v", tuple, hs)
					break
				}
			}
		}

		// Only the holder frees; then another can claim.
		tuple := []byte{0, 0, 0xff}
		holder := winners[string(tuple)][0]
		other := "someone-else"
		n3 := c.node("n3")
		if err := n3.FreeUnique(ctx, "Acct", `u:["email"]`, tuple, other); err != nil {
			t.Fatal(err)
		}
		if h, err := n3.ClaimUnique(ctx, "Acct", `u:["email"]`, tuple, other); err != nil || h != holder {
			t.Fatalf("claim after a stranger's free = %q, %v; want %q", h, err, holder)
		}
		if err := c.node("n1").FreeUnique(ctx, "Acct", `u:["email"]`, tuple, holder); err != nil {
			t.Fatal(err)
		}
		if h, err := n3.ClaimUnique(ctx, "Acct", `u:["email"]`, tuple, other); err != nil || h != other {
			t.Fatalf("claim after the holder's free = %q, %v; want %q", h, err, other)
		}
		if h, err := n3.ClaimUnique(ctx, "Acct", `u:["email"]`, tuple, other); err != nil || h != other {
			t.Fatalf("claim again by the holder = %q, %v; want %q", h, err, other)
		}
		c.waitUntil("the holder everywhere", func() bool {
			for _, d := range c.live() {
				if h, ok := d.UniqueHolder("Acct", `u:["email"]`, tuple); !ok || h != other {
					return false
				}
			}
			return true
		})
		if _, ok := n3.UniqueHolder("Acct", `u:["name"]`, tuple); ok {
			t.Error("a holder in another index")
		}
	})

	t.Run("MoveObject", func(t *testing.T) {
		n1, n2, n3 := c.node("n1"), c.node("n2"), c.node("n3")
		r := ref("mover")
		if owner, epoch, err := n1.ClaimObject(ctx, r, "n1"); err != nil || owner != "n1" || epoch != 1 {
			t.Fatalf("claim = %s %d %v", owner, epoch, err)
		}
		if e, err := n3.MoveObject(ctx, r, "n2", "n3", 1); !isConflict(err) {
			t.Fatalf("move from a non-owner = %d, %v; want ErrConflict", e, err)
		}
		if e, err := n3.MoveObject(ctx, r, "n1", "n3", 7); !isConflict(err) {
			t.Fatalf("move at a wrong epoch = %d, %v; want ErrConflict", e, err)
		}
		if e, err := n2.MoveObject(ctx, r, "n1", "n2", 1); err != nil || e != 2 {
			t.Fatalf("move = %d, %v; want 2", e, err)
		}
		// The same move again (a retry whose reply was lost) succeeds.
		if e, err := n2.MoveObject(ctx, r, "n1", "n2", 1); err != nil || e != 2 {
			t.Fatalf("move again = %d, %v; want 2", e, err)
		}
		if e, err := n1.MoveObject(ctx, r, "n1", "n3", 1); !isConflict(err) {
			t.Fatalf("stale move = %d, %v; want ErrConflict", e, err)
		} else if ce := (*ConflictError)(nil); !errors.As(err, &ce) || ce.Owner != "n2" || ce.Epoch != 2 {
			t.Fatalf("stale move: %#v does not name the owner n2 at epoch 2", err)
		}
		if _, err := n1.MoveObject(ctx, r, "n2", "", 2); !errors.Is(err, ErrBadCommand) {
			t.Fatalf("move to nobody: %v, want ErrBadCommand", err)
		}
		// Racing moves at one epoch: exactly one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var wins []string
		for _, d := range c.live() {
			wg.Go(func() {
				_, err := d.MoveObject(ctx, r, "n2", d.cfg.Name, 2)
				switch {
				case err == nil:
					mu.Lock()
					wins = append(wins, d.cfg.Name)
					mu.Unlock()
				case !isConflict(err):
					t.Errorf("%s: %v", d.cfg.Name, err)
				}
			})
		}
		wg.Wait()
		if len(wins) != 1 {
			t.Fatalf("racing moves: winners %v", wins)
		}
		c.waitUntil("the move everywhere", func() bool {
			for _, d := range c.live() {
				if o, e, _ := d.Owner(r); o != wins[0] || e != 3 {
					return false
				}
			}
			return true
		})
		// An unowned object counts as ("", 0).
		if e, err := n3.MoveObject(ctx, ref("fresh"), "", "n3", 0); err != nil || e != 1 {
			t.Fatalf("move of an unowned object = %d, %v", e, err)
		}
	})

	t.Run("PutClass", func(t *testing.T) {
		rec := persist.ClassRecord{Name: "Acct", Version: 1, Source: "class Acct {}", Deps: []string{"Log"},
			Created: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), Indexes: []objects.Index{{Fields: []string{"email"}, Unique: true}}}
		n2 := c.node("n2")
		if err := n2.PutClass(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := c.node("n3").PutClass(ctx, rec); err != nil {
			t.Fatalf("the same record again: %v", err)
		}
		other := rec
		other.Source = "class Acct { x() {} }"
		if err := c.node("n1").PutClass(ctx, other); !isConflict(err) {
			t.Fatalf("another source under version 1: %v, want ErrConflict", err)
		}
		other.Version = 2
		if err := c.node("n1").PutClass(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := n2.PutClass(ctx, persist.ClassRecord{Name: "Acct"}); !errors.Is(err, ErrBadCommand) {
			t.Fatalf("version 0: %v, want ErrBadCommand", err)
		}
		for _, d := range c.live() {
			name := d.cfg.Name
			c.waitUntil(name+" hears of both versions", func() bool { return len(c.heardOf(name)) == 2 })
			heard := c.heardOf(name)
			if !classEqual(heard[0], rec) || !classEqual(heard[1], other) {
				t.Errorf("%s: OnClass heard %+v", name, heard)
			}
			if got := d.Classes(); len(got) != 2 || !classEqual(got[0], rec) || !classEqual(got[1], other) {
				t.Errorf("%s: Classes() = %+v", name, got)
			}
		}
	})

	t.Run("MalformedForward", func(t *testing.T) {
		l := c.leader()
		for _, cmd := range [][]byte{nil, {0}, {commandV1}, {commandV1, 0x80}, {commandV1, 0x81, 0xa1, 0x01, 0x09},
			append([]byte{commandV1}, bytes.Repeat([]byte{0x9f}, 100)...)} {
			if _, err := l.ApplyForwarded(ctx, cmd); !errors.Is(err, ErrBadCommand) {
				t.Errorf("ApplyForwarded(%x) = %v, want ErrBadCommand", cmd, err)
			}
		}
		good, err := encodeCommand([]op{{Kind: opClaim, Refs: []wireRef{{Class: "Acct", ID: "fwd"}}, Node: "n9"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range c.live() {
			if d != l {
				if _, err := d.ApplyForwarded(ctx, good); !errors.Is(err, ErrNotLeader) && !d.IsLeader() {
					t.Errorf("ApplyForwarded on follower %s: %v, want ErrNotLeader", d.cfg.Name, err)
				}
			}
		}
		var reply []byte
		c.retry("forward", func() (err error) { reply, err = c.leader().ApplyForwarded(ctx, good); return err })
		rs, err := decodeReply(reply, 1)
		if err != nil || len(rs[0].Owners) != 1 || rs[0].Owners[0] != "n9" {
			t.Fatalf("reply %+v, %v", rs, err)
		}
	})
}

func classEqual(a, b persist.ClassRecord) bool {
	return a.Name == b.Name && a.Version == b.Version && a.Source == b.Source && a.Created.Equal(b.Created) &&
		slices.Equal(a.Deps, b.Deps) && len(a.Indexes) == len(b.Indexes)
}

// TestLeaderLoss closes the leader: the other two elect a new one and writes
// go on from both; the old leader, reopened on its Dir, rejoins and catches up.
func TestLeaderLoss(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	ctx := ctxFor(t)
	for i, d := range c.live() {
		if _, _, err := d.ClaimObject(ctx, ref(fmt.Sprintf("before-%d", i)), d.cfg.Name); err != nil {
			t.Fatal(err)
		}
	}
	old := c.leader()
	oldName := old.cfg.Name
	c.stop(oldName)
	start := time.Now()
	l := c.leader()
	t.Logf("%s took over from %s in %v", l.cfg.Name, oldName, time.Since(start))
	c.waitUntil("OnLeader(true) on "+l.cfg.Name, func() bool {
		v := c.leadsOf(l.cfg.Name)
		return len(v) > 0 && v[len(v)-1]
	})
	if v := c.leadsOf(oldName); len(v) == 0 || !v[0] {
		t.Errorf("%s: OnLeader calls %v", oldName, v)
	}
	for _, d := range c.live() {
		owner, _, err := d.ClaimObject(ctx, ref("after-"+d.cfg.Name), d.cfg.Name)
		if err != nil || owner != d.cfg.Name {
			t.Fatalf("%s: claim after the leader's loss = %s, %v", d.cfg.Name, owner, err)
		}
		if _, err := d.ClaimUnique(ctx, "Acct", "u:x", []byte(d.cfg.Name), d.cfg.Name); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.PutClass(ctx, persist.ClassRecord{Name: "Late", Version: 1, Source: "class Late {}"}); err != nil {
		t.Fatal(err)
	}

	back := c.start(oldName, true) // Bootstrap on existing state does nothing
	c.waitUntil(oldName+" catches up", func() bool {
		_, _, ok := back.Owner(ref("after-" + l.cfg.Name))
		return ok && len(back.Classes()) == 1
	})
	if h := c.heardOf(oldName); len(h) != 1 || h[len(h)-1].Name != "Late" {
		t.Errorf("%s heard of %+v", oldName, h)
	}
	// Its own earlier claim survived the restart.
	for i := range 3 {
		if _, _, ok := back.Owner(ref(fmt.Sprintf("before-%d", i))); !ok {
			t.Errorf("%s lost before-%d", oldName, i)
		}
	}
	// It writes again, through the new leader.
	if owner, _, err := back.ClaimObject(ctx, ref("back"), oldName); err != nil || owner != oldName {
		t.Fatalf("claim from the restarted node = %s, %v", owner, err)
	}
}

// TestSnapshot forces snapshots with few trailing logs, so that a node added
// late and a restarted node catch up from a snapshot rather than the log.
func TestSnapshot(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.trailingLogs = 2 })
	ctx := ctxFor(t)
	n1 := c.node("n1")
	refs := make([]objects.Ref, 5000)
	for i := range refs {
		refs[i] = ref(fmt.Sprintf("s%d", i))
	}
	if _, err := n1.ClaimObjects(ctx, refs, "n1"); err != nil {
		t.Fatal(err)
	}
	rec := persist.ClassRecord{Name: "Snap", Version: 1, Source: "class Snap {}", Created: time.Unix(5, 6)}
	if err := n1.PutClass(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := n1.ClaimUnique(ctx, "Snap", "u:k", []byte("k\x00"), "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := n1.MoveObject(ctx, refs[7], "n1", "n2", 1); err != nil {
		t.Fatal(err)
	}
	c.checkConverged()
	for _, d := range c.live() {
		if err := d.raft.Snapshot().Error(); err != nil {
			t.Fatalf("%s: snapshot: %v", d.cfg.Name, err)
		}
	}
	for i := range 5 { // past the trailing logs
		if _, _, err := n1.ClaimObject(ctx, ref(fmt.Sprintf("post-%d", i)), "n1"); err != nil {
			t.Fatal(err)
		}
	}

	// A fourth node joins as a non-voter and gets the snapshot.
	n4 := c.join("n4")
	c.waitUntil("n4 catches up", func() bool { _, _, ok := n4.Owner(ref("post-4")); return ok })
	if st := n4.raft.Stats(); st["last_snapshot_index"] == "0" {
		t.Errorf("n4 caught up without a snapshot: %v", st)
	}
	if o, e, _ := n4.Owner(refs[7]); o != "n2" || e != 2 {
		t.Errorf("n4: Owner(%s) = %s %d", refs[7], o, e)
	}
	if h, _ := n4.UniqueHolder("Snap", "u:k", []byte("k\x00")); h != "s1" {
		t.Errorf("n4: unique holder %q", h)
	}
	if h := c.heardOf("n4"); len(h) != 1 || !classEqual(h[0], rec) {
		t.Errorf("n4 heard of %+v", h)
	}
	servers, err := c.leader().Servers()
	if err != nil || len(servers) != 4 || servers[3].Voter {
		t.Fatalf("Servers() = %+v, %v; want n4 as a non-voter", servers, err)
	}

	// A follower restarts from its own snapshot and the log after it.
	var follower string
	for _, d := range c.live() {
		if !d.IsLeader() && d.cfg.Name != "n4" {
			follower = d.cfg.Name
			break
		}
	}
	// It comes back on another port: the leader, told by the host, updates
	// its address.
	c.stop(follower)
	c.mu.Lock()
	oldAddr := c.addrs[follower]
	c.addrs[follower] = ""
	c.mu.Unlock()
	restarted := c.start(follower, false)
	if restarted.Addr() == oldAddr {
		t.Fatalf("%s came back on the same address", follower)
	}
	c.retry("update "+follower, func() error { return c.leader().AddServer(follower, restarted.Addr()) })
	c.waitUntil(follower+" restores", func() bool {
		_, _, ok := c.node(follower).Owner(ref("post-4"))
		return ok
	})
	if h := c.heardOf(follower); len(h) < 2 || !classEqual(h[len(h)-1], rec) {
		t.Errorf("%s heard of %+v", follower, h)
	}

	// The restarted follower's voter place: removing it promotes n4.
	c.retry("remove "+follower, func() error { return c.leader().RemoveServer(follower) })
	c.waitUntil("n4 promoted", func() bool {
		servers, err := c.leader().Servers()
		if err != nil || len(servers) != 3 {
			return false
		}
		for _, s := range servers {
			if !s.Voter {
				return false
			}
		}
		return true
	})
	c.stop(follower)
	if _, _, err := n4.ClaimObject(ctx, ref("from-n4"), "n4"); err != nil {
		t.Fatal(err)
	}
}

// TestClose: writes in progress when a node closes fail with ErrClosed, as do
// all calls after; a node without a quorum gives up with ErrNoLeader.
func TestClose(t *testing.T) {
	c := newTestCluster(t, 2, func(cfg *Config) { cfg.timeout = time.Second })
	ctx := ctxFor(t)
	n2 := c.node("n2")
	// The short time limit may not be enough on a loaded machine.
	c.retry("claim", func() error { _, _, err := n2.ClaimObject(ctx, ref("a"), "n2"); return err })
	c.waitUntil("n2 applies the claim", func() bool { _, _, ok := n2.Owner(ref("a")); return ok })
	c.stop("n1") // n2 alone is no quorum
	start := time.Now()
	if _, _, err := n2.ClaimObject(ctx, ref("b"), "n2"); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("claim without a quorum: %v, want ErrNoLeader", err)
	}
	t.Logf("gave up after %v", time.Since(start))

	done := make(chan error, 1)
	go func() {
		_, err := n2.ClaimUnique(ctx, "Acct", "u:x", nil, "h")
		done <- err
	}()
	c.stop("n2")
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("claim in progress at Close: %v, want ErrClosed", err)
	}
	if _, _, err := n2.ClaimObject(ctx, ref("c"), "n2"); !errors.Is(err, ErrClosed) {
		t.Errorf("claim after Close: %v", err)
	}
	if _, err := n2.ApplyForwarded(ctx, []byte{commandV1}); !errors.Is(err, ErrClosed) {
		t.Errorf("ApplyForwarded after Close: %v", err)
	}
	if err := n2.AddServer("n3", "127.0.0.1:1"); !errors.Is(err, ErrClosed) {
		t.Errorf("AddServer after Close: %v", err)
	}
	if err := n2.WaitLeader(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitLeader after Close: %v", err)
	}
	if err := n2.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if owner, _, ok := n2.Owner(ref("a")); !ok || owner != "n2" {
		t.Errorf("Owner after Close = %q %v", owner, ok)
	}
}

// TestNoForward: a follower without Forward refuses writes with ErrNotLeader.
func TestNoForward(t *testing.T) {
	c := newTestCluster(t, 2, func(cfg *Config) {
		if cfg.Name == "n2" {
			cfg.Forward = nil
		}
	})
	if _, _, err := c.node("n2").ClaimObject(ctxFor(t), ref("a"), "n2"); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("claim on a follower without Forward: %v, want ErrNotLeader", err)
	}
}
