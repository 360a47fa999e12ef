// Package bench measures the scenarios of docs/performance (design/performance.md)
// against baselines measured in the same process invocation: it is what
// `odin bench` runs.
//
// Every scenario warms up, then measures Options.Runs runs of Options.Duration
// each, alternating a run of the baseline with a run of the scenario so that
// drift of a noisy machine affects both alike. The result carries the median
// and the range of the scenario's rates and the ratio of the medians.
package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/odin-db/odin/host"
	"github.com/odin-db/odin/objects"
)

// Options configures a run. Zero fields take the defaults.
type Options struct {
	Duration time.Duration // per measured run; default 2s
	Runs     int           // measured runs; default 3
	VMs      int           // VMs of the nodes; default one per CPU (at least 2 where two are needed)
	Dir      string        // where the fsync'd scenarios create their scratch data directory; default os.TempDir()
	Progress io.Writer     // receives one line per step ("commit: run 2/3"); nil is silent
}

// Result is one scenario's outcome. JSON field names follow performance.md.
type Result struct {
	Scenario          string  `json:"scenario"`
	OpsPerSec         float64 `json:"ops_per_sec"` // median of the runs
	Min               float64 `json:"min_ops_per_sec"`
	Max               float64 `json:"max_ops_per_sec"`
	Unit              string  `json:"unit,omitempty"` // what one op is ("calls", "switches", ...)
	Baseline          string  `json:"baseline,omitempty"`
	BaselineOpsPerSec float64 `json:"baseline_ops_per_sec,omitempty"` // median of the baseline's runs
	Ratio             float64 `json:"ratio,omitempty"`                // OpsPerSec / BaselineOpsPerSec
	TargetRatio       float64 `json:"target_ratio,omitempty"`
	P50ms             float64 `json:"p50_ms,omitempty"`
	P99ms             float64 `json:"p99_ms,omitempty"`
	Runs              int     `json:"runs"`
	Note              string  `json:"note,omitempty"`
}

// Met reports whether the scenario reached its target (true when it has none).
func (r Result) Met() bool { return r.TargetRatio == 0 || r.Ratio >= r.TargetRatio }

type scenario struct {
	name string
	run  func(c *ctx) (Result, error)
}

var scenarios = []scenario{
	{"call-local", runCallLocal},
	{"call-vm", runCallVM},
	{"scale-vms", runScaleVMs},
	{"commit", runCommit},
	{"commit-1", runCommit1},
	{"channel", runChannel},
	{"call-remote", runCallRemote},
	{"migrate", runMigrate},
	{"objects", runObjects},
	{"find", runFind},
}

// Names returns the scenarios Run knows, in the order `odin bench` runs them.
func Names() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

// Run measures one scenario.
func Run(name string, opt Options) (Result, error) {
	for _, s := range scenarios {
		if s.name == name {
			c := &ctx{opt: opt.withDefaults(), name: name}
			r, err := s.run(c)
			if err != nil {
				return Result{}, fmt.Errorf("bench %s: %w", name, err)
			}
			r.Scenario = name
			return r, nil
		}
	}
	return Result{}, fmt.Errorf("bench: unknown scenario %q (known: %s)", name, strings.Join(Names(), ", "))
}

func (o Options) withDefaults() Options {
	if o.Duration <= 0 {
		o.Duration = 2 * time.Second
	}
	if o.Runs <= 0 {
		o.Runs = 3
	}
	if o.VMs <= 0 {
		o.VMs = runtime.NumCPU()
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	return o
}

// ctx is one scenario's run.
type ctx struct {
	opt     Options
	name    string
	warming bool // series is warming up: the runs are not measured
}

func (c *ctx) progress(format string, args ...any) {
	if c.opt.Progress != nil {
		fmt.Fprintf(c.opt.Progress, c.name+": "+format+"\n", args...)
	}
}

// warmup is how long each side runs before measuring.
func (c *ctx) warmup() time.Duration {
	return max(c.opt.Duration/4, 50*time.Millisecond)
}

// measureFunc runs for about d and returns the rate it achieved.
type measureFunc func(d time.Duration) (float64, error)

// series warms both sides up, then alternates runs of the baseline and of the
// scenario and returns the rates of each.
func (c *ctx) series(baseName string, base, scen measureFunc) (b, s []float64, err error) {
	c.progress("warming up")
	c.warming = true
	if _, err := base(c.warmup()); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", baseName, err)
	}
	if _, err := scen(c.warmup()); err != nil {
		return nil, nil, err
	}
	c.warming = false
	for i := range c.opt.Runs {
		c.progress("run %d/%d: baseline (%s)", i+1, c.opt.Runs, baseName)
		r, err := base(c.opt.Duration)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", baseName, err)
		}
		b = append(b, r)
		c.progress("run %d/%d: %s (baseline %s/s)", i+1, c.opt.Runs, c.name, human(r))
		r, err = scen(c.opt.Duration)
		if err != nil {
			return nil, nil, err
		}
		s = append(s, r)
	}
	return b, s, nil
}

// result fills the rate fields from the measured series.
func result(baseName string, target float64, b, s []float64) Result {
	r := Result{Baseline: baseName, TargetRatio: target, Runs: len(s)}
	r.OpsPerSec, r.Min, r.Max = stats(s)
	r.BaselineOpsPerSec, _, _ = stats(b)
	if r.BaselineOpsPerSec > 0 {
		r.Ratio = r.OpsPerSec / r.BaselineOpsPerSec
	}
	return r
}

// stats returns the median, min and max of xs.
func stats(xs []float64) (med, lo, hi float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

// human formats a rate like 512.3k.
func human(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	default:
		return fmt.Sprintf("%.0f", x)
	}
}

// openMemory opens a throw-away node with vms VMs and defines the bench classes.
func openMemory(vms int) (*host.Node, error) {
	cfg := host.DefaultConfig()
	cfg.Memory = true
	cfg.VMs = vms
	// The scenarios place their objects on purpose (call-vm keeps caller and
	// callee on two VMs): the placement policy would move them together.
	cfg.NoAutoPlacement = true
	return openNode(cfg)
}

// openDurable opens a node on a fresh directory under dir with fsync on. The
// returned cleanup closes the node and removes the directory.
func openDurable(dir string, vms int, opts ...func(*host.Config)) (*host.Node, string, func(), error) {
	d, err := os.MkdirTemp(dir, "odin-bench-")
	if err != nil {
		return nil, "", nil, err
	}
	cfg := host.DefaultConfig()
	cfg.DataDir = filepath.Join(d, "node")
	cfg.VMs = vms
	cfg.NoSync = false
	cfg.NoAutoPlacement = true
	for _, o := range opts {
		o(&cfg)
	}
	n, err := openNode(cfg)
	if err != nil {
		os.RemoveAll(d)
		return nil, "", nil, err
	}
	return n, d, func() { n.Close(); os.RemoveAll(d) }, nil
}

func openNode(cfg host.Config) (*host.Node, error) {
	// The turn limit is a wall-clock watchdog: on a starved machine (other
	// processes, long GC pauses) a trivial turn can pass the default 1 s and
	// abort the whole measurement. The scenarios run no long turns.
	cfg.TurnLimit = time.Minute
	n, err := host.Open(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := n.Eval("bench-classes.js", classesJS); err != nil {
		n.Close()
		return nil, fmt.Errorf("defining the bench classes: %w", err)
	}
	return n, nil
}

// pickIDs returns count ids of class whose objects land on VM vm of n.
func pickIDs(n *host.Node, class, prefix string, vm, count int) []string {
	var ids []string
	for i := 0; len(ids) < count; i++ {
		id := fmt.Sprintf("%s%d", prefix, i)
		if n.Placement(objects.Ref{Class: class, ID: id}) == vm {
			ids = append(ids, id)
		}
	}
	return ids
}

// evalRate runs a script that returns [ops, elapsedMs] and returns ops/s.
func evalRate(n *host.Node, name, src string, args ...string) (float64, error) {
	ops, ms, _, err := evalCounts(n, name, src, args...)
	if err != nil {
		return 0, err
	}
	if ms <= 0 {
		return 0, fmt.Errorf("%s: no time elapsed", name)
	}
	return ops / (ms / 1000), nil
}

// evalCounts runs a script returning [ops, elapsedMs, extra?].
func evalCounts(n *host.Node, name, src string, args ...string) (ops, ms float64, extra any, err error) {
	v, err := n.Eval(name, src, args...)
	if err != nil {
		return 0, 0, nil, err
	}
	a, ok := v.([]any)
	if !ok || len(a) < 2 {
		return 0, 0, nil, fmt.Errorf("%s returned %#v, want [ops, ms, ...]", name, v)
	}
	if ops, ok = num(a[0]); !ok {
		return 0, 0, nil, fmt.Errorf("%s: ops is %#v", name, a[0])
	}
	if ms, ok = num(a[1]); !ok {
		return 0, 0, nil, fmt.Errorf("%s: ms is %#v", name, a[1])
	}
	if len(a) > 2 {
		extra = a[2]
	}
	return ops, ms, extra, nil
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func msArg(d time.Duration) string { return fmt.Sprint(d.Milliseconds()) }
