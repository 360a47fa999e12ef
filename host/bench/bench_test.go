package bench

import (
	"math"
	"runtime"
	"strconv"
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
			if !(r.OpsPerSec > 0) || !(r.BaselineOpsPerSec > 0) {
				t.Fatalf("ops %v baseline %v", r.OpsPerSec, r.BaselineOpsPerSec)
			}
			if r.Min > r.OpsPerSec || r.OpsPerSec > r.Max {
				t.Errorf("median %v outside [%v, %v]", r.OpsPerSec, r.Min, r.Max)
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
