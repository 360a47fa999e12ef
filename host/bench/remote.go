package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odin-db/odin/cluster/transport"
	"github.com/odin-db/odin/host"
)

// The call-remote scenario (performance.md): calls between two nodes on
// loopback, 64 callers; the baseline is the framed transport echoing bytes
// with no JS; target ≥ 0.5× (≥ 100k calls/s here), p50 ≤ 0.5 ms.
//
// Two cluster nodes run in this process (real serf, raft and TCP on
// 127.0.0.1, each on its own data directory under Options.Dir, NoSync: the
// calls are read-only and write nothing). n1 defines BenchEcho; a script on
// n2 calls each of remoteObjects objects once, which makes n2 their owner
// (objects live where they are first called); a script on n1 then runs
// remoteCallers tasklets, each awaiting get() of its own object in a loop.
//
// Latency: Date.now() has whole-millisecond resolution, too coarse for a
// target of 0.5 ms, so one call in remoteSampleEvery of each caller is timed
// with the Go clock instead: the script console.logs "s<caller>" right
// before the call and "e<caller>" right after its await resumes, and n1's
// Stdout is a writer of the bench (remoteStamps) that reads time.Now() as
// each line is written (console.log writes synchronously, on the script's
// VM goroutine). What is timed is what the caller sees: from the turn that
// makes the call to the turn that resumes with its answer.
//
// The baseline: two transport.Transport endpoints on 127.0.0.1 (as two
// nodes have), remoteCallers goroutines each doing Request in a loop with
// a body the size of a call's message, answered with the first bytes of
// it, the size of a reply's message.

const (
	targetCallRemote   = 0.5
	remoteAbsTarget    = 100_000 // calls/s, performance.md's "here"
	remoteP50TargetMs  = 0.5
	remoteCallers      = 64
	remoteObjects      = 64 // one per caller
	remoteSampleEvery  = 8  // calls of a caller per one timed with the Go clock
	remoteCallBytes    = 96 // host's CBOR wireMsg of a script's get() call
	remoteReplyBytes   = 69 // and of its reply
	remoteClass        = "BenchEcho"
	remoteObjectPrefix = "e"
	remoteSettle       = 30 * time.Second // bounds each setup wait
)

// echoJS is the class of the called objects.
const echoJS = `
class BenchEcho { get() { return 1; } }
odin.define(BenchEcho);
`

// remoteOwnJS (run on the node that is to own the objects): args class,
// prefix, count. Calls each object once, then returns the node each is on.
const remoteOwnJS = `
const [cls, prefix] = odin.args, count = Number(odin.args[2]);
const refs = [];
for (let i = 0; i < count; i++) refs.push(odin.ref(cls, prefix + i));
await Promise.all(refs.map(r => r.get()));
return await Promise.all(refs.map(r => odin.placement(r).then(p => p.node)));
`

// remoteWhereJS: args class, prefix, count. The node each object is on, as
// the node running it sees it.
const remoteWhereJS = `
const [cls, prefix] = odin.args, count = Number(odin.args[2]);
const out = [];
for (let i = 0; i < count; i++) out.push((await odin.placement(odin.ref(cls, prefix + i))).node);
return out;
`

// remoteCallJS: args class, prefix, objects, callers, ms, count, every.
// callers tasklets, caller i calling get() of object i % objects in a
// loop, until ms have passed (count 0) or count calls have been made. With
// every > 0, one call in every of each caller is stamped by console.log
// (see remoteStamps). Returns [calls, elapsed ms, wrong answers].
const remoteCallJS = `
const [cls, prefix] = odin.args;
const objects = Number(odin.args[2]), k = Number(odin.args[3]), ms = Number(odin.args[4]);
const count = Number(odin.args[5]), every = Number(odin.args[6]);
let n = 0, issued = 0, bad = 0;
const t0 = Date.now(), end = t0 + ms;
const ts = [];
for (let i = 0; i < k; i++) {
  const r = odin.ref(cls, prefix + (i % objects));
  ts.push(odin.spawn(async () => {
    for (let j = i % Math.max(every, 1); ; j++) {
      if (count > 0 ? issued++ >= count : Date.now() >= end) break;
      let v;
      if (every > 0 && j % every === 0) {
        console.log("s" + i);
        v = await r.get();
        console.log("e" + i);
      } else {
        v = await r.get();
      }
      if (v !== 1) bad++;
      n++;
    }
  }));
}
for (const t of ts) await t.join();
return [n, Date.now() - t0, bad];
`

// remoteStamps is n1's Stdout: it times the calls the script stamps.
type remoteStamps struct {
	mu    sync.Mutex
	on    bool // measuring (not warming up)
	start [remoteCallers]time.Time
	lat   []time.Duration
}

func (s *remoteStamps) Write(p []byte) (int, error) {
	s.WriteString(string(p))
	return len(p), nil
}

// WriteString is what console.log calls (through io.WriteString), with
// the line and its newline.
func (s *remoteStamps) WriteString(line string) (int, error) {
	now := time.Now()
	if len(line) < 3 || line[len(line)-1] != '\n' {
		return len(line), nil
	}
	i, err := strconv.Atoi(line[1 : len(line)-1])
	if err != nil || i < 0 || i >= remoteCallers {
		return len(line), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch line[0] {
	case 's':
		s.start[i] = now
	case 'e':
		if s.on && !s.start[i].IsZero() {
			s.lat = append(s.lat, now.Sub(s.start[i]))
		}
		s.start[i] = time.Time{}
	}
	return len(line), nil
}

func (s *remoteStamps) measure(on bool) {
	s.mu.Lock()
	s.on = on
	s.mu.Unlock()
}

func (s *remoteStamps) latencies() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lat
}

// remotePair is two cluster nodes, n2 owning remoteObjects BenchEcho objects.
type remotePair struct {
	n1, n2 *host.Node
	stamps *remoteStamps
	dir    string
}

// openRemotePair starts the two nodes and places the objects on n2.
func openRemotePair(c *ctx) (p *remotePair, err error) {
	d, err := os.MkdirTemp(c.opt.Dir, "odin-bench-remote-")
	if err != nil {
		return nil, err
	}
	p = &remotePair{stamps: &remoteStamps{}, dir: d}
	defer func() {
		if err != nil {
			p.close()
			p = nil
		}
	}()
	cfg := func(name string, join []string) host.Config {
		cfg := host.DefaultConfig()
		cfg.Name = name
		cfg.DataDir = filepath.Join(d, name)
		cfg.VMs = c.opt.VMs
		cfg.NoSync = true
		cfg.NoAutoPlacement = true
		cfg.TurnLimit = time.Minute // see openNode
		cfg.Cluster = &host.ClusterConfig{Gossip: "127.0.0.1:0", RPC: "127.0.0.1:0", Raft: "127.0.0.1:0",
			Join: join, Token: "bench", Fast: true}
		return cfg
	}
	c.progress("starting 2 cluster nodes")
	cfg1 := cfg("n1", nil)
	cfg1.Stdout = p.stamps
	if p.n1, err = host.Open(cfg1); err != nil {
		return p, fmt.Errorf("node n1: %w", err)
	}
	if p.n2, err = host.Open(cfg("n2", []string{p.n1.GossipAddr()})); err != nil {
		return p, fmt.Errorf("node n2: %w", err)
	}
	if err := waitFor(func() bool { return alive(p.n1) == 2 && alive(p.n2) == 2 }); err != nil {
		return p, fmt.Errorf("the nodes did not see each other alive: n1 sees %+v, n2 sees %+v", p.n1.Members(), p.n2.Members())
	}
	if _, err := p.n1.Eval("bench-echo.js", echoJS); err != nil {
		return p, fmt.Errorf("defining %s: %w", remoteClass, err)
	}
	if err := waitFor(func() bool { return p.n2.Classes().Latest(remoteClass) != nil }); err != nil {
		return p, fmt.Errorf("n2 did not learn %s from the directory", remoteClass)
	}
	c.progress("placing %d objects on n2", remoteObjects)
	args := []string{remoteClass, remoteObjectPrefix, strconv.Itoa(remoteObjects)}
	v, err := p.n2.Eval("remote-own.js", remoteOwnJS, args...)
	if err != nil {
		return p, fmt.Errorf("calling the objects from n2: %w", err)
	}
	if err := onNode(v, "n2"); err != nil {
		return p, fmt.Errorf("after calling them from n2: %w", err)
	}
	// n1 learns the owners from its copy of the directory (or, before it
	// has caught up, by asking): either way its calls go to n2.
	var last error
	if err := waitFor(func() bool {
		v, err := p.n1.Eval("remote-where.js", remoteWhereJS, args...)
		if err == nil {
			err = onNode(v, "n2")
		}
		last = err
		return err == nil
	}); err != nil {
		return p, fmt.Errorf("as n1 sees them: %w", last)
	}
	return p, nil
}

func (p *remotePair) close() {
	for _, n := range []*host.Node{p.n1, p.n2} {
		if n != nil {
			n.Close()
		}
	}
	os.RemoveAll(p.dir)
}

// rate runs remoteCallJS on n1 for d and returns calls/s.
func (p *remotePair) rate(d time.Duration) (float64, error) {
	return p.run(d, 0, remoteSampleEvery)
}

// run makes calls from n1 for d or, with count > 0, until count calls.
func (p *remotePair) run(d time.Duration, count, every int) (float64, error) {
	ops, ms, extra, err := evalCounts(p.n1, "remote-call.js", remoteCallJS, remoteClass, remoteObjectPrefix,
		strconv.Itoa(remoteObjects), strconv.Itoa(remoteCallers), msArg(d), strconv.Itoa(count), strconv.Itoa(every))
	if err != nil {
		return 0, err
	}
	if bad, _ := num(extra); bad != 0 {
		return 0, fmt.Errorf("%v of %v calls answered other than 1", bad, ops)
	}
	if ops <= 0 || ms <= 0 {
		return 0, fmt.Errorf("remote-call.js made %v calls in %v ms", ops, ms)
	}
	return ops / (ms / 1000), nil
}

// alive counts the members n sees alive.
func alive(n *host.Node) int {
	k := 0
	for _, m := range n.Members() {
		if m.Status == "alive" {
			k++
		}
	}
	return k
}

// waitFor polls cond every 20 ms until it holds or remoteSettle has passed.
func waitFor(cond func() bool) error {
	deadline := time.Now().Add(remoteSettle)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", remoteSettle)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// onNode checks that a script's list of nodes names node only.
func onNode(v any, node string) error {
	a, ok := v.([]any)
	if !ok || len(a) != remoteObjects {
		return fmt.Errorf("placements %#v, want %d", v, remoteObjects)
	}
	for i, x := range a {
		if x != node {
			return fmt.Errorf("%s/%s%d is on %v, want %s", remoteClass, remoteObjectPrefix, i, x, node)
		}
	}
	return nil
}

// echoPair is the baseline: two transport endpoints on loopback.
type echoPair struct {
	srv, cli *transport.Transport
	body     []byte
	on       bool // measuring: keep the latencies
	lat      []time.Duration
}

func newEchoPair() (*echoPair, error) {
	echo := transport.Handler{Request: func(_ transport.Peer, _ uint8, body []byte) ([]byte, error) {
		return body[:min(len(body), remoteReplyBytes)], nil
	}}
	srv, err := transport.Listen(transport.Config{Name: "echo-srv", Bind: "127.0.0.1:0", Token: "bench"}, echo)
	if err != nil {
		return nil, err
	}
	cli, err := transport.Listen(transport.Config{Name: "echo-cli", Bind: "127.0.0.1:0", Token: "bench"}, transport.Handler{})
	if err != nil {
		srv.Close()
		return nil, err
	}
	e := &echoPair{srv: srv, cli: cli, body: make([]byte, remoteCallBytes)}
	for i := range e.body {
		e.body[i] = byte('a' + i%26)
	}
	if _, err := cli.Request(context.Background(), srv.Addr(), 1, e.body); err != nil { // dial
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *echoPair) close() {
	e.cli.Close()
	e.srv.Close()
}

// rate runs remoteCallers goroutines doing Request for d; calls/s.
func (e *echoPair) rate(d time.Duration) (float64, error) {
	var (
		wg    sync.WaitGroup
		calls atomic.Int64
		errMu sync.Mutex
		first error
		lats  = make([][]time.Duration, remoteCallers)
	)
	ctx := context.Background()
	start := time.Now()
	end := start.Add(d)
	for g := range remoteCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for j := g % remoteSampleEvery; ; j++ {
				t := time.Now()
				if t.After(end) {
					break
				}
				b, err := e.cli.Request(ctx, e.srv.Addr(), 1, e.body)
				if err == nil && len(b) != remoteReplyBytes {
					err = fmt.Errorf("echo answered %d bytes, want %d", len(b), remoteReplyBytes)
				}
				if err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					break
				}
				if j%remoteSampleEvery == 0 {
					lats[g] = append(lats[g], time.Since(t))
				}
				n++
			}
			calls.Add(int64(n))
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if first != nil {
		return 0, first
	}
	if e.on {
		for _, l := range lats {
			e.lat = append(e.lat, l...)
		}
	}
	return float64(calls.Load()) / el.Seconds(), nil
}

func runCallRemote(c *ctx) (Result, error) {
	e, err := newEchoPair()
	if err != nil {
		return Result{}, fmt.Errorf("baseline transport: %w", err)
	}
	defer e.close()
	p, err := openRemotePair(c)
	if err != nil {
		return Result{}, err
	}
	defer p.close()
	base := fmt.Sprintf("transport echo, %d goroutines", remoteCallers)
	baseRate := func(d time.Duration) (float64, error) {
		e.on = !c.warming
		return e.rate(d)
	}
	scen := func(d time.Duration) (float64, error) {
		p.stamps.measure(!c.warming)
		return p.rate(d)
	}
	b, s, err := c.series(base, baseRate, scen)
	if err != nil {
		return Result{}, err
	}
	r := result(base, targetCallRemote, b, s)
	r.Unit = "calls"
	lat := p.stamps.latencies()
	if len(lat) == 0 {
		return Result{}, fmt.Errorf("no call was timed")
	}
	r.P50ms, r.P99ms = msOf(quantile(lat, 0.5)), msOf(quantile(lat, 0.99))
	r.Note = remoteNote(c, r, len(lat), e.lat)
	return r, nil
}

func remoteNote(c *ctx, r Result, samples int, baseLat []time.Duration) string {
	check := func(ok bool) string {
		if ok {
			return "✓"
		}
		return "✗"
	}
	note := fmt.Sprintf("2 nodes in this process (serf, raft, TCP on 127.0.0.1; %d VMs each; NoSync); "+
		"%d script tasklets on n1, each awaiting get() of its own of %d %s objects owned by n2. "+
		"≥ %s calls/s %s; p50 ≤ %.1f ms %s. Latency of 1 call in %d (%s calls) timed with the Go clock (console.log stamps); "+
		"mean by Little's law %d / rate = %.2f ms. ",
		c.opt.VMs, remoteCallers, remoteObjects, remoteClass,
		thousands(remoteAbsTarget), check(r.OpsPerSec >= remoteAbsTarget), remoteP50TargetMs, check(r.P50ms <= remoteP50TargetMs),
		remoteSampleEvery, thousands(float64(samples)), remoteCallers, float64(remoteCallers)/r.OpsPerSec*1000)
	note += fmt.Sprintf("Baseline: transport.Request of %d B answered with %d B (a call's and a reply's message)", remoteCallBytes, remoteReplyBytes)
	if len(baseLat) > 0 {
		note += fmt.Sprintf(", p50/p99 %.3f/%.3f ms", msOf(quantile(baseLat, 0.5)), msOf(quantile(baseLat, 0.99)))
	}
	return note
}
