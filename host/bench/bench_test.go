package bench

import (
	"flag"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestScenarios(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r, err := Run(name, Options{Duration: 100 * time.Millisecond, Runs: 1, Dir: t.TempDir(), Progress: testWriter{t}})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v (%v)", r, time.Since(start))
			if r.Scenario != name || r.Runs != 1 {
				t.Errorf("scenario %q runs %d", r.Scenario, r.Runs)
			}
			if !(r.OpsPerSec > 0) {
				t.Fatalf("ops %v", r.OpsPerSec)
			}
			if r.Min > r.OpsPerSec || r.OpsPerSec > r.Max {
				t.Errorf("median %v outside [%v, %v]", r.OpsPerSec, r.Min, r.Max)
			}
			if r.Baseline == "" { // performance.md gives none (migrate)
				if r.BaselineOpsPerSec != 0 || r.Ratio != 0 {
					t.Errorf("no baseline, but baseline ops %v ratio %v", r.BaselineOpsPerSec, r.Ratio)
				}
				return
			}
			if !(r.BaselineOpsPerSec > 0) {
				t.Fatalf("baseline %v", r.BaselineOpsPerSec)
			}
			if want := r.OpsPerSec / r.BaselineOpsPerSec; math.Abs(r.Ratio-want) > 1e-9*want {
				t.Errorf("ratio %v, want %v", r.Ratio, want)
			}
		})
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

func TestUnknown(t *testing.T) {
	if _, err := Run("nope", Options{}); err == nil {
		t.Fatal("no error for an unknown scenario")
	}
}

func TestStats(t *testing.T) {
	if m, lo, hi := stats([]float64{3, 1, 2}); m != 2 || lo != 1 || hi != 3 {
		t.Errorf("stats odd = %v %v %v", m, lo, hi)
	}
	if m, _, _ := stats([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("stats even median = %v", m)
	}
	h := []float64{0, 50, 40, 9, 1}
	if p := percentile(h, 0.5); p != 1 {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(h, 0.99); p != 3 {
		t.Errorf("p99 = %v", p)
	}
}

// The Go benchmarks below map b.N to calls (or switches, or commits) of the
// scenarios of the same name; compare them across commits with benchstat,
// profile them with -cpuprofile.

func BenchmarkBareGoja(b *testing.B) {
	g, err := newBareGoja()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := g.calls(b.N); err != nil {
		b.Fatal(err)
	}
}

func benchCalls(b *testing.B, vms, vmB int) {
	n, err := openMemory(vms)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	p, err := newCallPair(n, 0, vmB, "p")
	if err != nil {
		b.Fatal(err)
	}
	if err := p.calls(1000); err != nil { // warm up
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := p.calls(b.N); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCallLocal(b *testing.B) { benchCalls(b, 1, 0) }
func BenchmarkCallVM(b *testing.B)    { benchCalls(b, 2, 1) }

func BenchmarkChannel(b *testing.B) {
	n, err := openMemory(1)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	b.ResetTimer()
	if _, _, _, err := evalCounts(n, "channel-n.js", channelNJS, strconv.Itoa(b.N)); err != nil {
		b.Fatal(err)
	}
}

func benchCommit(b *testing.B, callers int) {
	cn, err := newCommitNode(b.TempDir(), runtime.NumCPU())
	if err != nil {
		b.Fatal(err)
	}
	defer cn.cleanup()
	commits := func(count int) {
		_, _, _, err := evalCounts(cn.n, "commit-n.js", commitNJS, "c", strconv.Itoa(callers), strconv.Itoa(count))
		if err != nil {
			b.Fatal(err)
		}
	}
	commits(callers) // create the objects
	b.ResetTimer()
	commits(b.N)
}

func BenchmarkCommit(b *testing.B)  { benchCommit(b, commitCallers) }
func BenchmarkCommit1(b *testing.B) { benchCommit(b, 1) }

// TestMigrate runs the migrate scenario briefly: moves happen under load,
// the pause percentiles are real latencies, and the counter check passed.
func TestMigrate(t *testing.T) {
	r, err := Run("migrate", Options{Duration: 200 * time.Millisecond, Runs: 2, Dir: t.TempDir(), Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Unit != "moves" || !(r.OpsPerSec > 0) || r.Runs != 2 {
		t.Errorf("unit %q ops %v runs %d", r.Unit, r.OpsPerSec, r.Runs)
	}
	if !(r.P50ms > 0) || r.P99ms < r.P50ms {
		t.Errorf("p50 %v p99 %v", r.P50ms, r.P99ms)
	}
	for _, want := range []string{"µs/event", "0 lost or repeated", "10 suspended tasklets"} {
		if !strings.Contains(r.Note, want) {
			t.Errorf("note lacks %q: %s", want, r.Note)
		}
	}
}

// TestMigrateCheck: the final check fails when the counter and the calls
// that returned differ, and the moved object keeps its tasklets and log.
func TestMigrateCheck(t *testing.T) {
	n, cleanup, err := openMigrateNode(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	m, err := newMoverObj(n, "c", 20, false)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		s, err := m.move()
		if err != nil {
			t.Fatal(err)
		}
		if s.log < 20 || s.log > m.high() {
			t.Fatalf("moved with %d logged events, want 20..%d", s.log, m.high())
		}
	}
	if _, err := m.fill(true); err != nil {
		t.Fatal(err)
	}
	m.calls-- // as if one call had run twice
	if err := m.check(); err == nil || !strings.Contains(err.Error(), "lost or repeated") {
		t.Fatalf("check with a miscount: %v", err)
	}
}

func TestFitLine(t *testing.T) {
	s, c := fitLine([]float64{10, 100, 1000}, []float64{1.1, 2, 11})
	if math.Abs(s-0.01) > 1e-9 || math.Abs(c-1) > 1e-9 {
		t.Errorf("slope %v intercept %v", s, c)
	}
	ds := []time.Duration{5, 1, 4, 2, 3}
	if q := quantile(ds, 0.5); q != 3 {
		t.Errorf("median %v", q)
	}
	if q := quantile(ds, 0.99); q != 5 {
		t.Errorf("p99 %v", q)
	}
}

// BenchmarkMigrate: one op is a move of a BenchMover with 10 suspended
// tasklets and about 100 logged events to the other VM, and a probe that
// waits for its replay there (no concurrent calls; fsync on). pause-ms/op
// is MoveObject alone.
func BenchmarkMigrate(b *testing.B) {
	n, cleanup, err := openMigrateNode(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer cleanup()
	m, err := newMoverObj(n, "b", migrateEvents, false)
	if err != nil {
		b.Fatal(err)
	}
	for range 5 { // warm up
		if _, err := m.move(); err != nil {
			b.Fatal(err)
		}
	}
	var pause time.Duration
	b.ResetTimer()
	for range b.N {
		s, err := m.move()
		if err != nil {
			b.Fatal(err)
		}
		pause += s.pause
	}
	b.ReportMetric(msOf(pause)/float64(b.N), "pause-ms/op")
}

// TestObjects runs the objects scenario small (2,000 objects and tasklets):
// both figures are positive and plausible, and the note carries the
// tasklets' figure, the targets and the extrapolation to 1M objects.
func TestObjects(t *testing.T) {
	c := &ctx{opt: Options{Runs: 1, Progress: testWriter{t}}.withDefaults(), name: "objects"}
	m, err := measureObjects(c, "run", 2000, 2000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", m)
	for what, b := range map[string]float64{"object": m.perObject, "tasklet": m.perTasklet} {
		if !(b > 0 && b < 1<<20) {
			t.Errorf("%.0f bytes per %s, want between 0 and 1 MB", b, what)
		}
	}
	r, err := runObjectsN(c, 2000, 2000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Unit != "B/object" || !(r.OpsPerSec > 0 && r.OpsPerSec < 1<<20) || r.Runs != 1 || r.Baseline != "" || r.TargetRatio != 0 {
		t.Errorf("result %+v", r)
	}
	for _, want := range []string{"B per blocked tasklet", "1M objects ≈ ", "GiB", "target ≤ 2048 B each"} {
		if !strings.Contains(r.Note, want) {
			t.Errorf("note lacks %q: %s", want, r.Note)
		}
	}
}

func TestObjectsCount(t *testing.T) {
	for d, want := range map[time.Duration]int{2 * time.Second: 20000, 100 * time.Millisecond: 1000, 10 * time.Second: 100000, time.Hour: 1000000} {
		if got := objectsCount(d); got != want {
			t.Errorf("objectsCount(%v) = %d, want %d", d, got, want)
		}
	}
	for x, want := range map[float64]string{0: "0", 999.4: "999", 1234.5: "1,235", 1234567: "1,234,567", -2048: "-2,048"} {
		if got := thousands(x); got != want {
			t.Errorf("thousands(%v) = %q, want %q", x, got, want)
		}
	}
}

var objectsHeapProfile = flag.String("objects.heapprofile", "", "BenchmarkObjects writes heap profiles `PREFIX`.before and PREFIX.after (objects live; compare with go tool pprof -diff_base)")

// BenchmarkObjects: one op is the activation of an idle BenchIdle object (5
// small fields) by a call from a script; the objects stay active, and
// B/object is the growth of the heap and stacks in use after GC. To see
// what the memory goes to, -objects.heapprofile=/tmp/objects writes heap
// profiles before and after the activations, while the objects are live:
// go tool pprof -sample_index=inuse_space -top -diff_base=/tmp/objects.before /tmp/objects.after
func BenchmarkObjects(b *testing.B) {
	if *objectsHeapProfile != "" {
		runtime.MemProfileRate = 512
	}
	n, err := openMemory(2)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	if _, err := n.Eval("bench-idle.js", idleJS); err != nil {
		b.Fatal(err)
	}
	if _, err := n.Eval("idle-set.js", idleSetJS, "w", "0", strconv.Itoa(objectsWarm)); err != nil {
		b.Fatal(err)
	}
	before := memInUse()
	writeHeapProfile(b, ".before")
	b.ResetTimer()
	if _, err := n.Eval("idle-set.js", idleSetJS, "b", "0", strconv.Itoa(b.N)); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(perItem(before, memInUse(), b.N), "B/object")
	writeHeapProfile(b, ".after")
}

// writeHeapProfile writes the heap profile to -objects.heapprofile + suffix
// (memInUse has just collected the garbage).
func writeHeapProfile(b *testing.B, suffix string) {
	if *objectsHeapProfile == "" {
		return
	}
	f, err := os.Create(*objectsHeapProfile + suffix)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// TestFind runs the find scenario small (findObjectsMin objects): lookups
// return the objects each owner has, the full scan is far slower, the build
// covered every object, and the note carries the figures.
func TestFind(t *testing.T) {
	c := &ctx{opt: Options{Duration: 100 * time.Millisecond, Runs: 1, Dir: t.TempDir(), Progress: testWriter{t}}.withDefaults(), name: "find"}
	r, err := runFindN(c, findObjectsMin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Unit != "finds" || !(r.OpsPerSec > 0) || r.Runs != 1 || !(r.BaselineOpsPerSec > 0) || !(r.Ratio > 1) {
		t.Errorf("result %+v", r)
	}
	if r.P99ms < r.P50ms {
		t.Errorf("p50 %v p99 %v", r.P50ms, r.P99ms)
	}
	for _, want := range []string{"20,000 objects of Acct", "2,000 owners", "Range {age", "Full scan without an index", "Raw bbolt cursor", "Owner index build over 20,000 objects", "Load through Store.Commit", "owner index 20,000 keys"} {
		if !strings.Contains(r.Note, want) {
			t.Errorf("note lacks %q: %s", want, r.Note)
		}
	}
}

func TestFindCount(t *testing.T) {
	for d, want := range map[time.Duration]int{2 * time.Second: 1_000_000, time.Hour: 1_000_000, time.Second: 500_000, 100 * time.Millisecond: 50_000, time.Millisecond: 20_000} {
		if got := findCount(d); got != want {
			t.Errorf("findCount(%v) = %d, want %d", d, got, want)
		}
	}
	seen := map[int]int{}
	for i := range 10000 {
		seen[acctAge(i)]++
	}
	if len(seen) != findAges {
		t.Errorf("acctAge covers %d ages, want %d", len(seen), findAges)
	}
}

// TestCallRemote runs the call-remote scenario briefly: the calls crossed
// the nodes (openRemotePair checks that n2 owns the objects), some were
// timed with the Go clock, and the note carries the absolute targets.
func TestCallRemote(t *testing.T) {
	r, err := Run("call-remote", Options{Duration: 100 * time.Millisecond, Runs: 2, Dir: t.TempDir(), Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Unit != "calls" || !(r.OpsPerSec > 0) || r.Runs != 2 || !(r.BaselineOpsPerSec > 0) || r.TargetRatio != targetCallRemote {
		t.Errorf("result %+v", r)
	}
	if !(r.P50ms > 0) || r.P99ms < r.P50ms {
		t.Errorf("p50 %v p99 %v", r.P50ms, r.P99ms)
	}
	for _, want := range []string{"owned by n2", "calls/s", "p50 ≤ 0.5 ms", "timed with the Go clock", "Baseline: transport.Request of 96 B"} {
		if !strings.Contains(r.Note, want) {
			t.Errorf("note lacks %q: %s", want, r.Note)
		}
	}
}

func TestRemoteStamps(t *testing.T) {
	s := &remoteStamps{on: true}
	for _, line := range []string{"s3\n", "hello\n", "e3\n", "e4\n", "s99\n", "e99\n", "s\n", "x1\n"} {
		s.WriteString(line)
	}
	if lat := s.latencies(); len(lat) != 1 || lat[0] < 0 {
		t.Fatalf("latencies %v, want one", lat)
	}
}

// BenchmarkCallRemote: one op is a call from a script tasklet on n1 to an
// object owned by n2, remoteCallers tasklets calling at once (two cluster
// nodes in this process, TCP on loopback; nothing stamped). Compare with
// cluster/transport's BenchmarkEcho.
func BenchmarkCallRemote(b *testing.B) {
	c := &ctx{opt: Options{Dir: b.TempDir()}.withDefaults(), name: "call-remote"}
	p, err := openRemotePair(c)
	if err != nil {
		b.Fatal(err)
	}
	defer p.close()
	if _, err := p.run(0, 20*remoteCallers, 0); err != nil { // warm up
		b.Fatal(err)
	}
	b.ResetTimer()
	if _, err := p.run(0, b.N, 0); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
