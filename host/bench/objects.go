package bench

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/odin-db/odin/host"
)

// The objects scenario (performance.md): the memory an idle active object
// with 5 small fields takes, and the memory a blocked tasklet takes; target
// ≤ 2 KB each, so that 1M objects fit in 2 GB.
//
// Each run opens a memory node with 2 VMs and, from scripts as users would:
//   - activates N BenchIdle objects by calling set() on each, which gives it
//     5 small fields (3 numbers, 2 short strings); they stay active, idle,
//     since the passivation timeout (5 minutes) is far away;
//   - spawns M tasklets in a script, each blocked in `await ch.receive()` of
//     one channel, then closes the channel and checks that all M ended.
//
// The memory of each is the growth of the heap and stacks in use across the
// step, both read after forced collections (memInUse), divided by N or M.
// Nothing of Odin lives outside the Go heap but the store's memory-mapped
// file, which holds the stored state (on disk, not counted).

const (
	targetBytes    = 2048   // per object and per tasklet
	objectsDefault = 20_000 // objects and tasklets per run at the default --duration
	objectsMin     = 1_000
	objectsMax     = 1_000_000
	objectsWarm    = 200 // activated (and tasklets spawned) before the baseline
)

// objectsCount scales the objects (and tasklets) of a run with Duration:
// 20,000 at the default 2s.
func objectsCount(d time.Duration) int {
	n := int(float64(objectsDefault) * d.Seconds() / 2)
	return min(max(n, objectsMin), objectsMax)
}

// idleJS defines the class of the idle objects. It is evaluated by this
// scenario only (not with classesJS, which every scenario's node defines).
const idleJS = `
class BenchIdle {
  set(i) { this.n = i; this.x = i / 4; this.flag = i % 2; this.name = "obj" + i; this.tag = "idle"; }
  get() { return [this.n, this.x, this.flag, this.name, this.tag]; }
}
odin.define(BenchIdle);
`

// idleSetJS: args prefix, from, count. Activates BenchIdle objects
// prefix+from .. prefix+(from+count-1) by calling set(i), 256 calls at a
// time. Returns [count, elapsed ms].
const idleSetJS = `
const prefix = odin.args[0], from = Number(odin.args[1]), count = Number(odin.args[2]);
const t0 = Date.now();
for (let i = from; i < from + count; i += 256) {
  const ps = [];
  for (let j = i; j < Math.min(from + count, i + 256); j++) ps.push(odin.ref("BenchIdle", prefix + j).set(j));
  await Promise.all(ps);
}
return [count, Date.now() - t0];
`

// idleCheckJS: args prefix, i. Reads one object back.
const idleCheckJS = `
return await odin.ref("BenchIdle", odin.args[0] + odin.args[1]).get();
`

// blockedJS: args ctl, warm, m. Runs warm tasklets that block on a channel
// and are released (a warm-up), then tells the bench it is ready (a send on
// the named channel ctl+"s") and waits to be told to go on (a receive on
// ctl+"g"); then spawns m tasklets, each blocked in the receive of one
// channel, tells the bench they are all blocked and waits again; then closes
// the channel and waits until all have ended. Returns [m, released]. No
// handle of a tasklet is kept: what is measured is the tasklets alone.
const blockedJS = `
const ctl = odin.args[0], warm = Number(odin.args[1]), m = Number(odin.args[2]);
const s = odin.channel(ctl + "s"), g = odin.channel(ctl + "g");
let blocked = 0, released = 0;
async function wait(ch) {
  blocked++;
  try { await ch.receive(); } catch (e) { if (e.name !== "ChannelClosedError") throw e; }
  released++;
}
async function round(k) {
  const ch = odin.channel();
  blocked = 0; released = 0;
  for (let i = 0; i < k; i++) odin.spawn(wait, ch);
  // A tasklet counts itself synchronously before its first await: once the
  // count is k, all k are suspended in receive().
  while (blocked < k) await odin.yield();
  return ch;
}
async function release(ch, k) {
  await ch.close();
  while (released < k) await odin.yield();
}
await release(await round(warm), warm);
await s.send("ready");
await g.receive();
const ch = await round(m);
await s.send("blocked");
await g.receive();
await release(ch, m);
return [m, released];
`

// ctlRecvJS and ctlGoJS drive blockedJS from the bench: args ctl.
const (
	ctlRecvJS = `return await odin.channel(odin.args[0] + "s").receive();`
	ctlGoJS   = `await odin.channel(odin.args[0] + "g").send(1); return await odin.channel(odin.args[0] + "s").receive();`
	ctlEndJS  = `await odin.channel(odin.args[0] + "g").send(1);`
)

// memInUse collects garbage (twice, then debug.FreeOSMemory, which collects
// again) and returns the bytes of heap spans and goroutine stacks in use:
// the memory the live data occupies, its fragmentation included.
func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// objMem is one run's measurement.
type objMem struct {
	objects, tasklets int
	perObject         float64 // bytes per idle active object
	perTasklet        float64 // bytes per blocked tasklet
	activateMs        float64 // wall time of the activations
}

// measureObjects measures one run with n objects and m tasklets on a fresh
// memory node of 2 VMs.
func measureObjects(c *ctx, run string, n, m int) (objMem, error) {
	node, err := openMemory(2)
	if err != nil {
		return objMem{}, err
	}
	defer node.Close()
	if _, err := node.Eval("bench-idle.js", idleJS); err != nil {
		return objMem{}, fmt.Errorf("defining BenchIdle: %w", err)
	}
	r := objMem{objects: n, tasklets: m}

	// Idle objects. The warm-up activates a few on each VM first, so that
	// what the first activation of the class on a VM costs once is not
	// counted.
	if _, err := node.Eval("idle-set.js", idleSetJS, "w", "0", strconv.Itoa(objectsWarm)); err != nil {
		return objMem{}, fmt.Errorf("warm-up: %w", err)
	}
	c.progress("%s: activating %d objects", run, n)
	before := memInUse()
	_, ms, _, err := evalCounts(node, "idle-set.js", idleSetJS, "o", "0", strconv.Itoa(n))
	if err != nil {
		return objMem{}, fmt.Errorf("activating the objects: %w", err)
	}
	after := memInUse()
	r.perObject = perItem(before, after, n)
	r.activateMs = ms
	active := 0
	for _, vm := range node.Status().VMs {
		active += vm.Objects
	}
	if want := n + objectsWarm; active < want {
		return objMem{}, fmt.Errorf("%d objects active after activating %d, want all (were some passivated?)", active, want)
	}
	// The objects hold their fields (read from one of them, it stays active).
	v, err := node.Eval("idle-check.js", idleCheckJS, "o", strconv.Itoa(n-1))
	if err != nil {
		return objMem{}, err
	}
	if a, ok := v.([]any); !ok || len(a) != 5 || a[3] != "obj"+strconv.Itoa(n-1) {
		return objMem{}, fmt.Errorf("object o%d holds %#v, want its 5 fields", n-1, v)
	}

	// Blocked tasklets.
	c.progress("%s: %d blocked tasklets", run, m)
	r.perTasklet, err = measureTasklets(node, m)
	if err != nil {
		return objMem{}, fmt.Errorf("blocked tasklets: %w", err)
	}
	return r, nil
}

// measureTasklets runs blockedJS and measures the memory of its m blocked
// tasklets. It returns the bytes per tasklet.
func measureTasklets(node *host.Node, m int) (float64, error) {
	const ctl = "bench-blocked-"
	type outcome struct {
		v   any
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		v, err := node.Eval("blocked.js", blockedJS, ctl, strconv.Itoa(objectsWarm), strconv.Itoa(m))
		done <- outcome{v, err}
	}()
	// Each step waits for the script's answer, or for its early end.
	step := func(name, src string) error {
		res := make(chan error, 1)
		go func() {
			_, err := node.Eval(name, src, ctl)
			res <- err
		}()
		select {
		case err := <-res:
			return err
		case o := <-done:
			done <- o
			if o.err != nil {
				// Nobody will answer the control script, which ends
				// when the node closes.
				return o.err
			}
			// blocked.js returns only after its last receive on ctl+"g",
			// which answered the control script's send.
			return <-res
		}
	}
	if err := step("ctl-recv.js", ctlRecvJS); err != nil {
		return 0, err
	}
	before := memInUse()
	if err := step("ctl-go.js", ctlGoJS); err != nil {
		return 0, err
	}
	after := memInUse()
	if err := step("ctl-end.js", ctlEndJS); err != nil {
		return 0, err
	}
	o := <-done
	if o.err != nil {
		return 0, o.err
	}
	a, ok := o.v.([]any)
	if !ok || len(a) != 2 {
		return 0, fmt.Errorf("blocked.js returned %#v", o.v)
	}
	if got, _ := num(a[1]); int(got) != m {
		return 0, fmt.Errorf("%v of %d tasklets ended when their channel closed", a[1], m)
	}
	return perItem(before, after, m), nil
}

// perItem is the growth from before to after divided among count items.
func perItem(before, after uint64, count int) float64 {
	return (float64(after) - float64(before)) / float64(count)
}

func runObjects(c *ctx) (Result, error) {
	n := objectsCount(c.opt.Duration)
	return runObjectsN(c, n, n)
}

// runObjectsN measures Options.Runs runs of n objects and m tasklets. The
// result's rate fields carry bytes per object (unit "B/object"); the note
// carries the tasklets' figure and the targets.
func runObjectsN(c *ctx, n, m int) (Result, error) {
	var objs, tasks []float64
	var last objMem
	for i := range c.opt.Runs {
		run := fmt.Sprintf("run %d/%d", i+1, c.opt.Runs)
		r, err := measureObjects(c, run, n, m)
		if err != nil {
			return Result{}, err
		}
		c.progress("%s: %.0f B/object, %.0f B/tasklet", run, r.perObject, r.perTasklet)
		objs = append(objs, r.perObject)
		tasks = append(tasks, r.perTasklet)
		last = r
	}
	res := Result{Unit: "B/object", Runs: len(objs)}
	res.OpsPerSec, res.Min, res.Max = stats(objs)
	tMed, tMin, tMax := stats(tasks)
	res.Note = fmt.Sprintf("%s B per idle active object (5 small fields) %s, %s B per blocked tasklet (min–max %s–%s) %s; target ≤ %d B each. "+
		"1M objects ≈ %.2f GiB (the Go GC lets the heap grow to about twice its live data at GOGC=100). "+
		"%s objects activated by calls from a script (%s/s), %s tasklets blocked in ch.receive() in a script; heap+stacks in use after GC, 2 VMs",
		thousands(res.OpsPerSec), mark(res.OpsPerSec), thousands(tMed), thousands(tMin), thousands(tMax), mark(tMed), targetBytes,
		res.OpsPerSec*1e6/(1<<30),
		thousands(float64(last.objects)), thousands(float64(last.objects)/(max(last.activateMs, 1)/1000)), thousands(float64(last.tasklets)))
	return res, nil
}

// mark is ✓ when bytes meet the target of performance.md.
func mark(bytes float64) string {
	if bytes <= targetBytes {
		return "✓"
	}
	return "✗"
}

// thousands formats x rounded to an integer with thousands separators.
func thousands(x float64) string {
	s := strconv.FormatFloat(math.Abs(math.Round(x)), 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if math.Round(x) < 0 {
		s = "-" + s
	}
	return s
}
