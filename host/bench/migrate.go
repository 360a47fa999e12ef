package bench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/odin-db/odin/host"
	"github.com/odin-db/odin/objects"
)

// The migrate scenario (performance.md): move an object with 10 suspended
// tasklets and about 100 logged events back and forth between VM 0 and VM 1
// of a durable node (fsync on) while concurrent callers hit it. The pause of
// a move is how long (*host.Node).MoveObject takes, timed in Go: the target
// holds the object's messages, the source lets go once its commits are
// durable. The object is then activated on the target by replay when the
// first message reaches it; each move is followed by a probe (an inspection
// from a script, which adds no event) that waits for that, so that every
// move carries a replayed activation, and the time to its answer ("ready")
// includes the replay. The replay cost per event is the slope of the median
// ready time over objects with about 10, 100 and 1000 logged events, moved
// without load. Every call returns the counter it incremented; at the end
// the counter must equal the number of calls that returned.

const (
	migrateWaiters = 9   // wait tasklets; with pace, 10 suspended tasklets
	migrateEvents  = 100 // logged events each move replays (about)
	migrateCallers = 4   // concurrent callers during the moves
	targetPause    = 5 * time.Millisecond
)

// migrateThink is how long a concurrent caller waits between its calls.
// Every call the object takes while its log is pinned is one more logged
// event, so the callers are paced: flat out, they would lengthen the log
// by about 30 events per move and the scenario would spend most of its time
// cutting and refilling it.
var migrateThink = 2 * time.Millisecond

// migrateSlope are the log lengths of the replay-cost fit.
var migrateSlope = []int{10, 100, 1000}

// moverObj is one BenchMover object of a node and what it has answered.
type moverObj struct {
	n          *host.Node
	id, prefix string
	ref        objects.Ref
	events     int   // log length kept: between low() and high()
	loaded     bool  // moved under concurrent calls
	vm         int   // where it is
	calls      int64 // inc() calls that returned
	moves      int
	refills    int
	refillTime time.Duration
}

// moveSample is one move.
type moveSample struct {
	pause time.Duration // MoveObject
	ready time.Duration // MoveObject + the probe's answer from the target
	log   int           // logged events the target replayed
}

// newMoverObj creates a mover on VM 0 of n, starts its tasklets and fills
// its log to low() events.
func newMoverObj(n *host.Node, prefix string, events int, loaded bool) (*moverObj, error) {
	id := pickIDs(n, "BenchMover", prefix, 0, 1)[0]
	m := &moverObj{n: n, id: id, prefix: id + "c", ref: objects.Ref{Class: "BenchMover", ID: id}, events: events, loaded: loaded}
	if _, err := n.Eval("mig-start.js", migStartJS, m.id, m.prefix, strconv.Itoa(migrateWaiters)); err != nil {
		return nil, fmt.Errorf("starting the mover: %w", err)
	}
	if _, err := m.fill(false); err != nil {
		return nil, err
	}
	return m, nil
}

// The log is kept between low() and high() events: calls during the moves
// lengthen it, and once past high() it is cut and refilled to low(). Under
// load the band is centred on m.events; without, the log stays at m.events.
func (m *moverObj) low() int {
	if m.loaded {
		return m.events - m.events/4
	}
	return m.events
}

func (m *moverObj) high() int { return m.events + max(5, m.events/4) }

// fill brings the log to low() events, cutting it first if reset.
func (m *moverObj) fill(reset bool) (int, error) {
	r := "0"
	if reset {
		r = "1"
	}
	a, err := evalArray(m.n, "mig-fill.js", migFillJS, 2, m.id, m.prefix, strconv.Itoa(m.low()), r)
	if err != nil {
		return 0, fmt.Errorf("filling the log: %w", err)
	}
	log, _ := num(a[0])
	calls, _ := num(a[1])
	m.calls += int64(calls)
	return int(log), nil
}

// move moves the object to the other VM and probes it there.
func (m *moverObj) move() (moveSample, error) {
	to := 1 - m.vm
	t0 := time.Now()
	if err := m.n.MoveObject(m.ref, to); err != nil {
		return moveSample{}, fmt.Errorf("moving %s to VM %d: %w", m.ref, to, err)
	}
	pause := time.Since(t0)
	a, err := evalArray(m.n, "mig-probe.js", migProbeJS, 4, m.id)
	ready := time.Since(t0)
	if err != nil {
		return moveSample{}, fmt.Errorf("probing %s after its move: %w", m.ref, err)
	}
	vm, _ := num(a[0])
	log, _ := num(a[1])
	tasklets, _ := num(a[2])
	if broken, _ := a[3].(string); broken != "" {
		return moveSample{}, fmt.Errorf("%s is broken after its move to VM %d: %s", m.ref, to, broken)
	}
	if int(vm) != to || int(tasklets) != migrateWaiters+1 {
		return moveSample{}, fmt.Errorf("after its move to VM %d, %s is on VM %v with %v tasklets (want %d)", to, m.ref, vm, tasklets, migrateWaiters+1)
	}
	m.vm = to
	m.moves++
	return moveSample{pause: pause, ready: ready, log: int(log)}, nil
}

// run moves the object back and forth for about d while callers tasklets of
// a script call it, and returns the moves per second (refills excluded) and
// the samples. With callers 0 it moves for d without load.
func (m *moverObj) run(d time.Duration, callers int) (float64, []moveSample, error) {
	done := make(chan struct{})
	var load []any
	var loadErr error
	if callers > 0 {
		go func() {
			defer close(done)
			load, loadErr = evalArray(m.n, "mig-load.js", migLoadJS, 4, m.id, strconv.Itoa(callers), msArg(d), msArg(migrateThink))
		}()
	} else {
		time.AfterFunc(d, func() { close(done) })
	}
	var samples []moveSample
	var refill time.Duration
	start := time.Now()
	var err error
loop:
	for {
		select {
		case <-done:
			break loop
		default:
		}
		var s moveSample
		if s, err = m.move(); err != nil {
			break
		}
		samples = append(samples, s)
		if s.log > m.high() {
			t := time.Now()
			if _, err = m.fill(true); err != nil {
				break
			}
			m.refills++
			refill += time.Since(t)
		}
	}
	elapsed := time.Since(start) - refill
	m.refillTime += refill
	<-done
	if err != nil {
		return 0, nil, err
	}
	if callers > 0 {
		if loadErr != nil {
			return 0, nil, fmt.Errorf("the concurrent calls: %w", loadErr)
		}
		ok, _ := num(load[0])
		failed, _ := num(load[1])
		disorder, _ := num(load[2])
		m.calls += int64(ok)
		if failed > 0 {
			return 0, nil, fmt.Errorf("%.0f of %.0f calls failed during %d moves (first: %v)", failed, ok+failed, len(samples), load[3])
		}
		if disorder > 0 {
			return 0, nil, fmt.Errorf("%.0f calls returned a counter not above the caller's previous one (a call ran twice or a turn was lost)", disorder)
		}
	}
	if len(samples) == 0 || elapsed <= 0 {
		return 0, nil, fmt.Errorf("no move completed in %v", d)
	}
	return float64(len(samples)) / elapsed.Seconds(), samples, nil
}

// check wakes the wait tasklets and compares the counter with the calls
// that returned: 0 lost or repeated calls, and the tasklets survived.
func (m *moverObj) check() error {
	a, err := evalArray(m.n, "mig-final.js", migFinalJS, 3, m.id, m.prefix, strconv.Itoa(migrateWaiters))
	if err != nil {
		return fmt.Errorf("final check: %w", err)
	}
	n, _ := num(a[0])
	got, _ := num(a[1])
	alive, _ := num(a[2])
	if int64(n) != m.calls {
		return fmt.Errorf("lost or repeated calls: the counter is %.0f but %d calls returned (%+d)", n, m.calls, int64(n)-m.calls)
	}
	if want := migrateWaiters * (migrateWaiters + 1) / 2; int(got) != want || int(alive) != 1 {
		return fmt.Errorf("after the moves, the wait tasklets summed %.0f (want %d) and %.0f tasklets are alive (want 1: pace)", got, want, alive)
	}
	return nil
}

func openMigrateNode(dir string) (*host.Node, func(), error) {
	n, _, cleanup, err := openDurable(dir, 2, func(c *host.Config) {
		c.NoAutoPlacement = true // only the scenario moves objects
		c.MaxLogEvents = 10 * migrateSlope[len(migrateSlope)-1]
	})
	return n, cleanup, err
}

func runMigrate(c *ctx) (Result, error) {
	n, cleanup, err := openMigrateNode(c.opt.Dir)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	m, err := newMoverObj(n, "m", migrateEvents, true)
	if err != nil {
		return Result{}, err
	}
	c.progress("warming up")
	if _, _, err := m.run(c.warmup(), migrateCallers); err != nil {
		return Result{}, err
	}
	defer func() { c.progress("%d moves, %d refills of the log (%v)", m.moves, m.refills, m.refillTime) }()
	var rates []float64
	var samples []moveSample
	for i := range c.opt.Runs {
		c.progress("run %d/%d: moves under %d callers", i+1, c.opt.Runs, migrateCallers)
		r, s, err := m.run(c.opt.Duration, migrateCallers)
		if err != nil {
			return Result{}, err
		}
		rates = append(rates, r)
		samples = append(samples, s...)
	}
	if err := m.check(); err != nil {
		return Result{}, err
	}

	// Replay cost: moves without load of objects with more or fewer events.
	var xs, ys []float64
	var quiet []moveSample // the moves of migrateEvents events without load
	for _, ev := range migrateSlope {
		c.progress("replay cost: %d events", ev)
		o, err := newMoverObj(n, fmt.Sprintf("s%d_", ev), ev, false)
		if err != nil {
			return Result{}, err
		}
		for range 3 { // warm up
			if _, err := o.move(); err != nil {
				return Result{}, err
			}
		}
		_, s, err := o.run(max(c.opt.Duration/4, 100*time.Millisecond), 0)
		if err != nil {
			return Result{}, err
		}
		if ev == migrateEvents {
			quiet = s
		}
		xs = append(xs, meanLog(s))
		ys = append(ys, quantile(readies(s), 0.5).Seconds())
	}
	slope, _ := fitLine(xs, ys)

	r := Result{Unit: "moves", Runs: len(rates)}
	r.OpsPerSec, r.Min, r.Max = stats(rates)
	pauses := pausesOf(samples)
	p50, p99 := quantile(pauses, 0.5), quantile(pauses, 0.99)
	r.P50ms, r.P99ms = msOf(p50), msOf(p99)
	var sum time.Duration
	for _, p := range pauses {
		sum += p
	}
	ready := readies(samples)
	mark := "✓"
	if p99 > targetPause {
		mark = "✗"
	}
	var pts []string
	for i, x := range xs {
		pts = append(pts, fmt.Sprintf("%.0f→%.2f", x, ys[i]*1000))
	}
	qp := pausesOf(quiet)
	r.Note = fmt.Sprintf("pause = MoveObject under %d callers (%v between calls), fsync on: mean %.2f ms; target p99 ≤ 5 ms + replay %s; "+
		"without load p50/p99 %.2f/%.2f ms. "+
		"First answer on the target (replay of %.0f events + a probe script) p50/p99 %.2f/%.2f ms. "+
		"Replay ≈ %.1f µs/event (median ms by events: %s). "+
		"%d suspended tasklets; %d calls returned during %d moves, counter equal: 0 lost or repeated. "+
		"ops/s: moves and their probes, log refills excluded",
		migrateCallers, migrateThink, msOf(sum/time.Duration(len(pauses))), mark,
		msOf(quantile(qp, 0.5)), msOf(quantile(qp, 0.99)),
		meanLog(samples), msOf(quantile(ready, 0.5)), msOf(quantile(ready, 0.99)),
		slope*1e6, strings.Join(pts, ", "),
		migrateWaiters+1, m.calls, m.moves)
	return r, nil
}

func pausesOf(s []moveSample) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, x := range s {
		out[i] = x.pause
	}
	return out
}

func readies(s []moveSample) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, x := range s {
		out[i] = x.ready
	}
	return out
}

func meanLog(s []moveSample) float64 {
	if len(s) == 0 {
		return 0
	}
	t := 0
	for _, x := range s {
		t += x.log
	}
	return float64(t) / float64(len(s))
}

// quantile returns the q-quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// fitLine returns the least-squares slope and intercept of ys over xs.
func fitLine(xs, ys []float64) (slope, icept float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if n == 0 || d == 0 {
		return 0, 0
	}
	slope = (n*sxy - sx*sy) / d
	return slope, (sy - slope*sx) / n
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// evalArray runs a script that returns an array of at least want elements.
func evalArray(n *host.Node, name, src string, want int, args ...string) ([]any, error) {
	v, err := n.Eval(name, src, args...)
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok || len(a) < want {
		return nil, fmt.Errorf("%s returned %#v, want an array of %d", name, v, want)
	}
	return a, nil
}
