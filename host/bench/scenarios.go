package bench

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/odin-db/odin/host"
	"github.com/odin-db/odin/persist"
)

// Targets from performance.md.
const (
	targetCallLocal = 1.0 / 6
	targetCallVM    = 0.5
	targetScalePer  = 0.9 // scale-vms: 1.8 for 2 VMs on 2 cores
	targetCommit    = 0.8
	targetCommit1   = 0.8
)

const (
	commitCallers = 64
	spinObjects   = 32
	spinCallTime  = 100 * time.Microsecond
)

// commitPayload is the size of what one inc() commits: the counter field,
// a CBOR unsigned integer of up to 32 bits.
var commitPayload = []byte{0x1a, 0x00, 0x01, 0x00, 0x00}

// callPair is a caller A and a callee B of a node, on the VMs asked for.
type callPair struct {
	n        *host.Node
	aid, bid string
}

func newCallPair(n *host.Node, vmA, vmB int, prefix string) (callPair, error) {
	p := callPair{n: n,
		aid: pickIDs(n, "BenchCaller", prefix+"a", vmA, 1)[0],
		bid: pickIDs(n, "BenchTarget", prefix+"b", vmB, 1)[0]}
	_, err := n.Eval("bench-touch.js", touchJS, "BenchCaller/"+p.aid, "BenchTarget/"+p.bid)
	return p, err
}

func (p callPair) rate(d time.Duration) (float64, error) {
	return evalRate(p.n, "call.js", callForJS, p.aid, p.bid, msArg(d))
}

// calls makes count calls and returns how long they took (for Go benchmarks).
func (p callPair) calls(count int) error {
	_, _, _, err := evalCounts(p.n, "call-n.js", callNJS, p.aid, p.bid, strconv.Itoa(count))
	return err
}

// bareGoja is the baseline of call-local: Go calling a method of a JS object
// on a bare goja runtime, through goja.AssertFunction.
type bareGoja struct {
	obj *goja.Object
	get goja.Callable
}

func newBareGoja() (*bareGoja, error) {
	vm := goja.New()
	v, err := vm.RunString(`({ v: 1, get() { return this.v; } })`)
	if err != nil {
		return nil, err
	}
	obj := v.ToObject(vm)
	get, ok := goja.AssertFunction(obj.Get("get"))
	if !ok {
		return nil, fmt.Errorf("get is not a function")
	}
	return &bareGoja{obj: obj, get: get}, nil
}

func (g *bareGoja) calls(count int) error {
	for range count {
		if _, err := g.get(g.obj); err != nil {
			return err
		}
	}
	return nil
}

func (g *bareGoja) rate(d time.Duration) (float64, error) {
	const batch = 4096
	n := 0
	start := time.Now()
	for {
		if err := g.calls(batch); err != nil {
			return 0, err
		}
		n += batch
		if el := time.Since(start); el >= d {
			return float64(n) / el.Seconds(), nil
		}
	}
}

func runCallLocal(c *ctx) (Result, error) {
	n, err := openMemory(c.opt.VMs)
	if err != nil {
		return Result{}, err
	}
	defer n.Close()
	p, err := newCallPair(n, 0, 0, "l")
	if err != nil {
		return Result{}, err
	}
	g, err := newBareGoja()
	if err != nil {
		return Result{}, err
	}
	const base = "bare goja Go→JS call"
	b, s, err := c.series(base, g.rate, p.rate)
	if err != nil {
		return Result{}, err
	}
	r := result(base, targetCallLocal, b, s)
	r.Unit = "calls"
	r.Note = "performance.md: about 500k calls/s on one core here"
	return r, nil
}

func runCallVM(c *ctx) (Result, error) {
	n, err := openMemory(max(2, c.opt.VMs))
	if err != nil {
		return Result{}, err
	}
	defer n.Close()
	local, err := newCallPair(n, 0, 0, "l")
	if err != nil {
		return Result{}, err
	}
	cross, err := newCallPair(n, 0, 1, "x")
	if err != nil {
		return Result{}, err
	}
	b, s, err := c.series("call-local", local.rate, cross.rate)
	if err != nil {
		return Result{}, err
	}
	r := result("call-local", targetCallVM, b, s)
	r.Unit = "calls"
	return r, nil
}

// spinK calibrates BenchSpin.work's loop count to about spinCallTime on a
// bare goja VM (warmed up, timed over at least 20 ms).
func spinK() (int, error) {
	vm := goja.New()
	v, err := vm.RunString(spinJS)
	if err != nil {
		return 0, err
	}
	fn, _ := goja.AssertFunction(v)
	k := 1000
	for range 2 { // the first pass warms up
		reps := 0
		start := time.Now()
		for time.Since(start) < 20*time.Millisecond {
			if _, err := fn(goja.Undefined(), vm.ToValue(k)); err != nil {
				return 0, err
			}
			reps++
		}
		per := time.Since(start) / time.Duration(reps)
		k = max(1, int(float64(k)*float64(spinCallTime)/float64(per)))
	}
	return k, nil
}

// spinNode is a node whose spinObjects BenchSpin objects are spread evenly
// over its VMs.
type spinNode struct {
	n   *host.Node
	ids []string
	k   int
}

func newSpinNode(vms, k int, ids []string) (*spinNode, error) {
	n, err := openMemory(vms)
	if err != nil {
		return nil, err
	}
	if ids == nil {
		per := spinObjects / vms
		for vm := range vms {
			ids = append(ids, pickIDs(n, "BenchSpin", fmt.Sprintf("s%d_", vm), vm, per)...)
		}
	}
	args := make([]string, len(ids))
	for i, id := range ids {
		args[i] = "BenchSpin/" + id
	}
	if _, err := n.Eval("bench-touch.js", touchJS, args...); err != nil {
		n.Close()
		return nil, err
	}
	return &spinNode{n: n, ids: ids, k: k}, nil
}

func (s *spinNode) rate(d time.Duration) (float64, error) {
	args := append([]string{strconv.Itoa(s.k), msArg(d)}, s.ids...)
	return evalRate(s.n, "spin.js", spinForJS, args...)
}

func runScaleVMs(c *ctx) (Result, error) {
	vms := max(2, c.opt.VMs)
	k, err := spinK()
	if err != nil {
		return Result{}, err
	}
	many, err := newSpinNode(vms, k, nil)
	if err != nil {
		return Result{}, err
	}
	defer many.n.Close()
	one, err := newSpinNode(1, k, many.ids)
	if err != nil {
		return Result{}, err
	}
	defer one.n.Close()
	base := "1 VM"
	b, s, err := c.series(base, one.rate, many.rate)
	if err != nil {
		return Result{}, err
	}
	r := result(base, targetScalePer*float64(vms), b, s)
	r.Unit = "calls"
	r.Note = fmt.Sprintf("%d VMs vs 1; %d objects, one script tasklet each; work() ≈ %v on bare goja, %.0f µs per call on 1 VM",
		vms, len(many.ids), spinCallTime, 1e6/r.BaselineOpsPerSec)
	return r, nil
}

// commitNode is a durable node (fsync on) with a baseline store in a
// separate file of the same scratch directory.
type commitNode struct {
	n       *host.Node
	store   *persist.Store
	cleanup func()
	hist    []float64 // latency histogram of the measured runs, by whole ms
	measure bool
}

func newCommitNode(dir string, vms int) (*commitNode, error) {
	n, d, cleanup, err := openDurable(dir, vms)
	if err != nil {
		return nil, err
	}
	pc := persist.DefaultConfig()
	pc.Path = filepath.Join(d, "baseline.db")
	st, err := persist.Open(pc)
	if err != nil {
		cleanup()
		return nil, err
	}
	cn := &commitNode{n: n, store: st}
	cn.cleanup = func() { st.Close(); cleanup() }
	return cn, nil
}

func (cn *commitNode) rate(prefix string, callers int) measureFunc {
	return func(d time.Duration) (float64, error) {
		ops, ms, extra, err := evalCounts(cn.n, "commit.js", commitForJS, prefix, strconv.Itoa(callers), msArg(d))
		if err != nil {
			return 0, err
		}
		if cn.measure {
			h, _ := extra.([]any)
			for i, v := range h {
				x, _ := num(v)
				for len(cn.hist) <= i {
					cn.hist = append(cn.hist, 0)
				}
				cn.hist[i] += x
			}
		}
		return ops / (ms / 1000), nil
	}
}

// percentile returns the q-quantile of the histogram, in ms.
func percentile(hist []float64, q float64) float64 {
	total := 0.0
	for _, x := range hist {
		total += x
	}
	if total == 0 {
		return 0
	}
	seen := 0.0
	for ms, x := range hist {
		seen += x
		if seen >= q*total {
			return float64(ms)
		}
	}
	return float64(len(hist) - 1)
}

func runCommitN(c *ctx, callers int, base string, target float64, baseRate measureFunc, cn *commitNode) (Result, error) {
	scen := cn.rate("c", callers)
	measured := func(d time.Duration) (float64, error) {
		cn.measure = !c.warming
		return scen(d)
	}
	b, s, err := c.series(base, baseRate, measured)
	if err != nil {
		return Result{}, err
	}
	r := result(base, target, b, s)
	r.Unit = "commits"
	// Latencies are timed in the script with Date.now(), at whole-millisecond
	// resolution: a percentile is reported only when it is large enough for
	// that to matter little (>= 5 ms, so within 20%).
	const minMs = 5
	p50, p99 := percentile(cn.hist, 0.5), percentile(cn.hist, 0.99)
	var omitted []string
	if p50 >= minMs {
		r.P50ms = p50
	} else {
		omitted = append(omitted, fmt.Sprintf("p50 (%.0f ms)", p50))
	}
	if p99 >= minMs {
		r.P99ms = p99
	} else {
		omitted = append(omitted, fmt.Sprintf("p99 (%.0f ms)", p99))
	}
	r.Note = fmt.Sprintf("mean latency %.2f ms (callers / rate)", float64(callers)/r.OpsPerSec*1000)
	if len(omitted) > 0 {
		r.Note += "; omitted " + strings.Join(omitted, ", ") + ": below 5 ms, too close to the 1 ms resolution of Date.now()"
	}
	return r, nil
}

func runCommit(c *ctx) (Result, error) {
	cn, err := newCommitNode(c.opt.Dir, c.opt.VMs)
	if err != nil {
		return Result{}, err
	}
	defer cn.cleanup()
	base := "bbolt group commit (64 goroutines)"
	baseRate := func(d time.Duration) (float64, error) {
		return persist.RawGroupCommitRate(cn.store, commitCallers, commitPayload, d)
	}
	return runCommitN(c, commitCallers, base, targetCommit, baseRate, cn)
}

func runCommit1(c *ctx) (Result, error) {
	cn, err := newCommitNode(c.opt.Dir, c.opt.VMs)
	if err != nil {
		return Result{}, err
	}
	defer cn.cleanup()
	base := "bbolt Update per put"
	baseRate := func(d time.Duration) (float64, error) {
		return persist.RawUpdateRate(cn.store, commitPayload, d)
	}
	return runCommitN(c, 1, base, targetCommit1, baseRate, cn)
}

func runChannel(c *ctx) (Result, error) {
	n, err := openMemory(c.opt.VMs)
	if err != nil {
		return Result{}, err
	}
	defer n.Close()
	p, err := newCallPair(n, 0, 0, "l")
	if err != nil {
		return Result{}, err
	}
	scen := func(d time.Duration) (float64, error) {
		return evalRate(n, "channel.js", channelForJS, msArg(d))
	}
	b, s, err := c.series("call-local", p.rate, scen)
	if err != nil {
		return Result{}, err
	}
	r := result("call-local", 0, b, s)
	r.Unit = "switches"
	mark := "✗"
	if r.OpsPerSec >= 1e6 {
		mark = "✓"
	}
	r.Note = "performance.md's target is ≥ 1M switches/s (absolute, not a ratio): " + mark
	return r, nil
}
