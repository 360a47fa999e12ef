package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/odin-db/odin/host"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting/codec"
)

// The find scenario: secondary indexes and odin.find on N objects (1M at
// the default --duration) of a class Acct {owner, age, balance} with
// `static indexes = ["owner", "age"]`. owner is one of N/10 names, so an
// equality lookup returns 10 objects; age is 0..99.
//
// Steps, on a node with a data directory under Options.Dir:
//  1. define Acct with both indexes, then load the N objects straight into
//     the store (persist.Store.Commit of raw writes, codec bytes from
//     codec.AppendGo, up to persist.DefaultMaxBatch writes per transaction);
//     the writer maintains both indexes as it goes. The node runs with
//     NoSync for this step only: the load is a fixture, not what is measured.
//  2. reopen the node with fsync on; redefine Acct with indexes = ["age"]
//     (the owner index is dropped), then with ["owner", "age"] again: the
//     owner index is built in the background over the N existing objects,
//     host's buildBatch objects per writer transaction. node.WaitIndexes
//     gives the build time.
//  3. measure Options.Runs runs of each, alternating:
//     - the baseline: a full scan answering the equality question without
//     an index, the cheapest honest version a program can do through the
//     store's API: page through the ids (Store.ListIDs, 10,000 a page, the
//     largest page odin.find returns) and Load each object, comparing its
//     stored owner bytes with the wanted name's encoding;
//     - equality: findInFlight script tasklets each running
//     odin.find("Acct", {owner}) for a random owner in a loop;
//     - range: the same with odin.find("Acct", {age: {gte: a, lt: a + 1}},
//     {limit: 100}) for a random age.
//  4. close the node and scan the objects bucket with a raw, read-only bbolt
//     cursor (owner records compared, nothing decoded): the lower bound of
//     any full scan, given as context; it reads persist's key layout
//     directly, so it is skipped, with a note, if that layout changes.
//
// The result's rate is equality finds/s, its baseline full scans/s, and the
// ratio the speed-up the index gives; the note carries the rest.

const (
	findObjectsMax = 1_000_000 // at the default --duration (2s) and above
	findObjectsMin = 20_000    // at least 200 objects of each age on average
	findPerOwner   = 10        // objects an equality lookup returns
	findAges       = 100
	findInFlight   = 64  // concurrent finds of the script (host's maxFinds)
	findRangeLimit = 100 // objects a range find returns
	findScanPage   = 10_000
	findClass      = "Acct"
)

// findCount scales the objects with Duration: 1M at the default 2s, less
// for shorter runs (the tests).
func findCount(d time.Duration) int {
	n := int(float64(findObjectsMax) * d.Seconds() / 2)
	return min(max(n, findObjectsMin), findObjectsMax)
}

// acctJS is the class with the indexes given as a JS array literal.
func acctJS(indexes string) string {
	return `
class Acct {
  static indexes = ` + indexes + `;
  owner = ""; age = 0; balance = 0;
  get() { return [this.owner, this.age, this.balance]; }
}
odin.define(Acct);
`
}

func acctID(i int) string         { return fmt.Sprintf("a%07d", i) }
func ownerName(k int) string      { return "user-" + strconv.Itoa(k) }
func acctOwner(i, owners int) int { return i % owners }

// acctAge spreads the ages over 0..99 independently of the owners
// (splitmix64 of i).
func acctAge(i int) int {
	z := uint64(i) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z % findAges)
}

// findEqJS: args owners, inFlight, ms. inFlight tasklets look owners up
// until ms have passed. Returns [finds, elapsed ms, [latency histogram by
// whole ms, objects returned, finds refused OverloadedError (retried)]].
const findEqJS = `
const owners = Number(odin.args[0]), k = Number(odin.args[1]), ms = Number(odin.args[2]);
const hist = [];
let n = 0, got = 0, busy = 0;
const t0 = Date.now(), end = t0 + ms;
const ts = [];
for (let i = 0; i < k; i++) ts.push(odin.spawn(async () => {
  for (;;) {
    const s = Date.now();
    if (s >= end) break;
    let r;
    try { r = await odin.find("Acct", {owner: "user-" + Math.floor(Math.random() * owners)}); }
    catch (e) { if (e.name === "OverloadedError") { busy++; continue; } throw e; }
    const d = Date.now() - s;
    hist[d] = (hist[d] || 0) + 1;
    n++; got += r.length;
  }
}));
for (const t of ts) await t.join();
return [n, Date.now() - t0, [Array.from(hist, x => x || 0), got, busy]];
`

// findRangeJS: args ages, limit, inFlight, ms. Like findEqJS with a range
// of one age and a limit.
const findRangeJS = `
const ages = Number(odin.args[0]), limit = Number(odin.args[1]), k = Number(odin.args[2]), ms = Number(odin.args[3]);
const hist = [];
let n = 0, got = 0, busy = 0;
const t0 = Date.now(), end = t0 + ms;
const ts = [];
for (let i = 0; i < k; i++) ts.push(odin.spawn(async () => {
  for (;;) {
    const s = Date.now();
    if (s >= end) break;
    const a = Math.floor(Math.random() * ages);
    let r;
    try { r = await odin.find("Acct", {age: {gte: a, lt: a + 1}}, {limit}); }
    catch (e) { if (e.name === "OverloadedError") { busy++; continue; } throw e; }
    const d = Date.now() - s;
    hist[d] = (hist[d] || 0) + 1;
    n++; got += r.length;
  }
}));
for (const t of ts) await t.join();
return [n, Date.now() - t0, [Array.from(hist, x => x || 0), got, busy]];
`

// findRun is what the find scenario measured.
type findRun struct {
	n, owners int

	loadDur   time.Duration // step 1
	dropDur   time.Duration // redefining without the owner index
	declDur   time.Duration // redefining with it (the declaration alone)
	buildDur  time.Duration // declaration to built
	dbBytes   int64
	heapBytes uint64

	scan, eq, rng []float64 // rates of the measured runs
	eqHist        []float64 // equality latencies by whole ms
	rngHist       []float64
	eqGot, eqN    float64 // objects returned, finds (measured runs)
	rngGot, rngN  float64
	busy          float64 // finds refused OverloadedError and retried

	raw     time.Duration // one raw bbolt scan; 0 if skipped
	rawNote string
	sizes   string // bbolt bucket sizes
}

func runFind(c *ctx) (Result, error) { return runFindN(c, findCount(c.opt.Duration)) }

// runFindN runs the scenario on n objects.
func runFindN(c *ctx, n int) (Result, error) {
	m, err := measureFind(c, n)
	if err != nil {
		return Result{}, err
	}
	return m.result(c), nil
}

func measureFind(c *ctx, n int) (*findRun, error) {
	m := &findRun{n: n, owners: max(n/findPerOwner, 1)}
	d, err := os.MkdirTemp(c.opt.Dir, "odin-bench-find-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(d)
	cfg := host.DefaultConfig()
	cfg.DataDir = filepath.Join(d, "node")
	cfg.VMs = c.opt.VMs
	cfg.NoAutoPlacement = true

	// 1. Define the class with both indexes and load the objects (NoSync).
	cfg.NoSync = true
	node, err := openNode(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := node.Eval("acct.js", acctJS(`["owner", "age"]`)); err != nil {
		node.Close()
		return nil, fmt.Errorf("defining Acct: %w", err)
	}
	c.progress("loading %s objects (2 indexes maintained, NoSync)", thousands(float64(n)))
	m.loadDur, err = loadAccts(c, node.Store(), n, m.owners)
	if cerr := node.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("loading: %w", err)
	}

	// 2. Reopen with fsync; drop the owner index and build it again.
	cfg.NoSync = false
	node, err = openNode(cfg)
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			node.Close()
		}
	}()
	if err := checkIndexes(node, n, "owner", "age"); err != nil {
		return nil, fmt.Errorf("after loading: %w", err)
	}
	c.progress("dropping the owner index")
	t := time.Now()
	if _, err := node.Eval("acct-age.js", acctJS(`["age"]`)); err != nil {
		return nil, fmt.Errorf("redefining Acct without the owner index: %w", err)
	}
	m.dropDur = time.Since(t)
	c.progress("building the owner index over %s objects", thousands(float64(n)))
	t = time.Now()
	if _, err := node.Eval("acct.js", acctJS(`["owner", "age"]`)); err != nil {
		return nil, fmt.Errorf("redefining Acct with the owner index: %w", err)
	}
	m.declDur = time.Since(t)
	node.WaitIndexes()
	m.buildDur = time.Since(t)
	if err := checkIndexes(node, n, "owner", "age"); err != nil {
		return nil, fmt.Errorf("after the build: %w", err)
	}

	// 3. The measured runs.
	if err := m.series(c, node); err != nil {
		return nil, err
	}
	m.heapBytes = memInUse()

	// 4. The raw scan, on the closed store.
	path := node.Store().Path()
	closed = true
	if err := node.Close(); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil {
		m.dbBytes = fi.Size()
	}
	c.progress("raw bbolt scan")
	m.rawScan(path)
	return m, nil
}

// loadAccts commits n Acct objects as raw writes and waits until all are
// applied. It returns how long that took.
func loadAccts(c *ctx, st *persist.Store, n, owners int) (time.Duration, error) {
	var (
		wg     sync.WaitGroup
		failed atomic.Bool
		errMu  sync.Mutex
		first  error
	)
	meta := &persist.ObjectMeta{ClassVersion: 1, Fields: []string{"owner", "age", "balance"}}
	enc := func(v any) []byte {
		b, err := codec.AppendGo(nil, v)
		if err != nil {
			panic(err) // strings and ints always encode
		}
		return b
	}
	done := func(err error) {
		if err != nil {
			errMu.Lock()
			if first == nil {
				first = err
			}
			errMu.Unlock()
			failed.Store(true)
		}
		wg.Done()
	}
	start := time.Now()
	for i := 0; i < n && !failed.Load(); i++ {
		if i > 0 && i%max(n/10, 1) == 0 {
			c.progress("loaded %s of %s", thousands(float64(i)), thousands(float64(n)))
		}
		w := &persist.Write{Class: findClass, ID: acctID(i), Meta: meta, Puts: []persist.FieldPut{
			{Name: "owner", Value: enc(ownerName(acctOwner(i, owners)))},
			{Name: "age", Value: enc(acctAge(i))},
			{Name: "balance", Value: enc(i)},
		}}
		wg.Add(1)
		st.Commit(w, done)
	}
	wg.Wait()
	return time.Since(start), first
}

// checkIndexes checks that the named indexes of Acct are built over n objects.
func checkIndexes(node *host.Node, n int, names ...string) error {
	infos, err := node.Indexes()
	if err != nil {
		return err
	}
	for _, name := range names {
		found := false
		for _, in := range infos {
			if in.Class != findClass || in.Index != name {
				continue
			}
			found = true
			switch {
			case in.Err != "":
				return fmt.Errorf("index %s of %s: build failed: %s", name, findClass, in.Err)
			case !in.Built:
				return fmt.Errorf("index %s of %s: not built (%d of %d)", name, findClass, in.Done, in.Total)
			case in.Total != 0 && in.Total != n:
				return fmt.Errorf("index %s of %s: built over %d objects, want %d", name, findClass, in.Total, n)
			}
		}
		if !found {
			return fmt.Errorf("%s has no index %s (has %+v)", findClass, name, infos)
		}
	}
	return nil
}

// fullScan answers "which objects have owner k" without an index: every
// object's stored state, its owner compared with the wanted encoding.
func fullScan(st *persist.Store, k int) (objects, matches int, err error) {
	want, err := codec.AppendGo(nil, ownerName(k))
	if err != nil {
		return 0, 0, err
	}
	after := ""
	for {
		ids, err := st.ListIDs(findClass, after, findScanPage)
		if err != nil {
			return 0, 0, err
		}
		if len(ids) == 0 {
			return objects, matches, nil
		}
		for _, id := range ids {
			o, ok, err := st.Load(findClass, id)
			if err != nil {
				return 0, 0, err
			}
			if !ok {
				continue
			}
			objects++
			if bytes.Equal(o.Fields["owner"], want) {
				matches++
			}
		}
		after = ids[len(ids)-1]
	}
}

// series warms each side up, then runs the scan, equality and range sides
// in turn, Options.Runs times.
func (m *findRun) series(c *ctx, node *host.Node) error {
	scans := 0
	scan := func(d time.Duration) (float64, error) {
		start := time.Now()
		count := 0
		for {
			k := (scans*7919 + 13) % m.owners
			scans++
			objs, matches, err := fullScan(node.Store(), k)
			if err != nil {
				return 0, err
			}
			if objs != m.n || matches != findPerOwner {
				return 0, fmt.Errorf("full scan for %s: %d objects, %d matches; want %d and %d", ownerName(k), objs, matches, m.n, findPerOwner)
			}
			count++
			if el := time.Since(start); el >= d {
				return float64(count) / el.Seconds(), nil
			}
		}
	}
	finds := func(name, src string, hist *[]float64, got, nf *float64, args func(d time.Duration) []string, per float64) measureFunc {
		return func(d time.Duration) (float64, error) {
			ops, ms, extra, err := evalCounts(node, name, src, args(d)...)
			if err != nil {
				return 0, err
			}
			x, _ := extra.([]any)
			if len(x) != 3 || ms <= 0 || ops <= 0 {
				return 0, fmt.Errorf("%s returned %v finds in %v ms, extra %#v", name, ops, ms, extra)
			}
			h, _ := x[0].([]any)
			g, _ := num(x[1])
			busy, _ := num(x[2])
			if g != ops*per {
				return 0, fmt.Errorf("%s: %v finds returned %v objects, want %v each", name, ops, g, per)
			}
			if !c.warming {
				addHist(hist, h)
				*got += g
				*nf += ops
				m.busy += busy
			}
			return ops / (ms / 1000), nil
		}
	}
	eq := finds("find-eq.js", findEqJS, &m.eqHist, &m.eqGot, &m.eqN, func(d time.Duration) []string {
		return []string{strconv.Itoa(m.owners), strconv.Itoa(findInFlight), msArg(d)}
	}, findPerOwner)
	rng := finds("find-range.js", findRangeJS, &m.rngHist, &m.rngGot, &m.rngN, func(d time.Duration) []string {
		return []string{strconv.Itoa(findAges), strconv.Itoa(findRangeLimit), strconv.Itoa(findInFlight), msArg(d)}
	}, findRangeLimit)

	sides := []struct {
		name string
		f    measureFunc
		out  *[]float64
	}{
		{"full scan", scan, &m.scan},
		{"equality finds", eq, &m.eq},
		{"range finds", rng, &m.rng},
	}
	c.progress("warming up")
	c.warming = true
	for _, s := range sides {
		if _, err := s.f(c.warmup()); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	c.warming = false
	for i := range c.opt.Runs {
		for _, s := range sides {
			c.progress("run %d/%d: %s", i+1, c.opt.Runs, s.name)
			r, err := s.f(c.opt.Duration)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			*s.out = append(*s.out, r)
		}
	}
	return nil
}

// addHist adds a histogram from a script to h.
func addHist(h *[]float64, from []any) {
	for i, v := range from {
		x, _ := num(v)
		for len(*h) <= i {
			*h = append(*h, 0)
		}
		(*h)[i] += x
	}
}

// rawScan times one scan of the Acct objects' owner records with a bbolt
// cursor on the closed store, and reads the sizes of the buckets. It
// depends on persist's layout (bucket "objects", then the class; keys
// id NUL field; bucket "indexes", then the class, then the index's name),
// and reports in rawNote when that does not hold.
func (m *findRun) rawScan(path string) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		m.rawNote = "raw bbolt scan skipped: " + err.Error()
		return
	}
	defer db.Close()
	k := m.owners / 2
	want, _ := codec.AppendGo(nil, ownerName(k))
	suffix := []byte("\x00owner")
	// The median of 3 scans: the first also maps the file's pages in.
	var times []float64
	for range 3 {
		var objs, matches int
		start := time.Now()
		err = db.View(func(tx *bbolt.Tx) error {
			ob := tx.Bucket([]byte("objects"))
			if ob == nil {
				return errors.New("no objects bucket")
			}
			b := ob.Bucket([]byte(findClass))
			if b == nil {
				return errors.New("no objects/" + findClass + " bucket")
			}
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if bytes.HasSuffix(k, suffix) {
					objs++
					if bytes.Equal(v, want) {
						matches++
					}
				}
			}
			return nil
		})
		el := time.Since(start)
		switch {
		case err != nil:
			m.rawNote = "raw bbolt scan skipped (persist's layout changed?): " + err.Error()
			return
		case objs != m.n || matches != findPerOwner:
			m.rawNote = fmt.Sprintf("raw bbolt scan skipped (persist's layout changed?): %d owner records, %d matches", objs, matches)
			return
		}
		times = append(times, el.Seconds())
	}
	med, _, _ := stats(times)
	m.raw = time.Duration(med * float64(time.Second))
	_ = db.View(func(tx *bbolt.Tx) error {
		var parts []string
		size := func(name string, b *bbolt.Bucket) {
			if b == nil {
				return
			}
			s := b.Stats()
			bytes := int64(s.BranchAlloc + s.LeafAlloc)
			parts = append(parts, fmt.Sprintf("%s %s keys %.0f MB", name, thousands(float64(s.KeyN)), float64(bytes)/(1<<20)))
		}
		if ob := tx.Bucket([]byte("objects")); ob != nil {
			size("objects", ob.Bucket([]byte(findClass)))
		}
		if ib := tx.Bucket([]byte("indexes")); ib != nil {
			if cb := ib.Bucket([]byte(findClass)); cb != nil {
				size("owner index", cb.Bucket([]byte(`i:["owner"]`)))
				size("age index", cb.Bucket([]byte(`i:["age"]`)))
			}
		}
		m.sizes = strings.Join(parts, ", ")
		return nil
	})
}

func (m *findRun) result(c *ctx) Result {
	const base = "full scan (Store.ListIDs + Load)"
	r := result(base, 0, m.scan, m.eq)
	r.Unit = "finds"
	r.P50ms, r.P99ms = percentile(m.eqHist, 0.5), percentile(m.eqHist, 0.99)
	rMed, rMin, rMax := stats(m.rng)
	scanMed, _, _ := stats(m.scan)
	per := func(d time.Duration) string { return thousands(float64(m.n) / d.Seconds()) }
	var b strings.Builder
	fmt.Fprintf(&b, "%s objects of %s, %s owners (%d objects each), ages 0..%d; %d finds in flight from a script. ",
		thousands(float64(m.n)), findClass, thousands(float64(m.owners)), findPerOwner, findAges-1, findInFlight)
	fmt.Fprintf(&b, "Equality odin.find(%s, {owner}): %s finds/s, %s objects/s, latency p50/p99 %.0f/%.0f ms (whole ms, Date.now). ",
		findClass, thousands(r.OpsPerSec), thousands(m.eqGot/max(m.eqN, 1)*r.OpsPerSec), r.P50ms, r.P99ms)
	fmt.Fprintf(&b, "Range {age: {gte: a, lt: a+1}}, limit %d: %s finds/s (min–max %s–%s), %s objects/s, p50/p99 %.0f/%.0f ms. ",
		findRangeLimit, thousands(rMed), thousands(rMin), thousands(rMax), thousands(rMed*findRangeLimit),
		percentile(m.rngHist, 0.5), percentile(m.rngHist, 0.99))
	if scanMed > 0 {
		fmt.Fprintf(&b, "Full scan without an index: %s per scan (%s objects/s); index speed-up %s×. ",
			secs(1/scanMed), thousands(float64(m.n)*scanMed), thousands(r.Ratio))
	}
	if m.raw > 0 {
		fmt.Fprintf(&b, "Raw bbolt cursor over the owner records (lower bound of any scan): %s, %s objects/s, speed-up %s×. ",
			secs(m.raw.Seconds()), per(m.raw), thousands(r.OpsPerSec*m.raw.Seconds()))
	} else if m.rawNote != "" {
		b.WriteString(m.rawNote + ". ")
	}
	fmt.Fprintf(&b, "Owner index build over %s objects: %s, %s objects/s (the declaration %s of it; fsync on); dropping it %s. ",
		thousands(float64(m.n)), secs(m.buildDur.Seconds()), per(m.buildDur), secs(m.declDur.Seconds()), secs(m.dropDur.Seconds()))
	fmt.Fprintf(&b, "Load through Store.Commit with both indexes maintained (NoSync): %s, %s objects/s. ",
		secs(m.loadDur.Seconds()), per(m.loadDur))
	fmt.Fprintf(&b, "odin.db %.0f MB", float64(m.dbBytes)/(1<<20))
	if m.sizes != "" {
		fmt.Fprintf(&b, " (%s)", m.sizes)
	}
	fmt.Fprintf(&b, "; Go heap+stacks in use after GC %.0f MB", float64(m.heapBytes)/(1<<20))
	if m.busy > 0 {
		fmt.Fprintf(&b, "; %s finds refused OverloadedError and retried", thousands(m.busy))
	}
	r.Note = b.String()
	return r
}

// secs formats seconds as "3.36 s" or, below a second, "130 ms".
func secs(x float64) string {
	if x < 1 {
		return fmt.Sprintf("%.0f ms", x*1000)
	}
	return fmt.Sprintf("%.2f s", x)
}
