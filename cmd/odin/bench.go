package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/odin-db/odin/host/bench"
)

func cmdBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags()
	duration := fs.dur("duration", 2*time.Second)
	runs := fs.int("runs", 3)
	vms := fs.int("vms", 0)
	asJSON := fs.bool("json")
	data := fs.str("data", "")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case *duration <= 0:
		return usageError{"--duration must be positive, like 2s"}
	case *runs < 1:
		return usageError{"--runs must be at least 1"}
	case *vms < 0 || *vms > 1024:
		return usageError{"--vms must be between 1 and 1024"}
	}
	names := fs.rest
	if len(names) == 0 {
		names = bench.Names()
	}
	for _, n := range names {
		if !slices.Contains(bench.Names(), n) {
			return usageError{fmt.Sprintf("unknown scenario %q; the scenarios are: %s", n, strings.Join(bench.Names(), ", "))}
		}
	}
	if *data != "" {
		if err := os.MkdirAll(*data, 0o755); err != nil {
			return fmt.Errorf("bench: data directory: %w", err)
		}
	}
	prog := newProgress(stderr)
	opt := bench.Options{Duration: *duration, Runs: *runs, VMs: *vms, Dir: *data, Progress: prog}
	var results []bench.Result
	for _, n := range names {
		r, err := bench.Run(n, opt)
		prog.clear()
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	printTable(stdout, results)
	return nil
}

// printTable prints the results like redis-benchmark's summary.
func printTable(w io.Writer, results []bench.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tops/s (median)\tmin – max\tbaseline\tbaseline ops/s\tratio\ttarget\tp50/p99 ms\t")
	for _, r := range results {
		ratio, target, lat := "-", "-", "-"
		if r.BaselineOpsPerSec > 0 {
			ratio = fmt.Sprintf("%.3f", r.Ratio)
		}
		if r.TargetRatio > 0 {
			mark := "✓"
			if !r.Met() {
				mark = "✗"
			}
			target = fmt.Sprintf("≥ %.3g %s", r.TargetRatio, mark)
		}
		if r.P50ms > 0 || r.P99ms > 0 {
			lat = ms(r.P50ms) + " / " + ms(r.P99ms)
		}
		unit := ""
		if r.Unit != "" {
			unit = " " + r.Unit
		}
		fmt.Fprintf(tw, "%s\t%s%s\t%s – %s\t%s\t%s\t%s\t%s\t%s\t\n", r.Scenario,
			rate(r.OpsPerSec), unit, rate(r.Min), rate(r.Max),
			r.Baseline, rate(r.BaselineOpsPerSec), ratio, target, lat)
	}
	tw.Flush()
	var notes []string
	for _, r := range results {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("  %s: %s", r.Scenario, r.Note))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(notes, "\n"))
	}
	if len(results) > 0 {
		fmt.Fprintf(w, "\n%d run(s) per scenario; baselines measured in this run; ratio = median / baseline median\n", results[0].Runs)
	}
}

func ms(x float64) string {
	switch {
	case x == 0:
		return "-"
	case x < 1:
		return fmt.Sprintf("%.2f", x) // migrate's pauses: real latencies, often below 1 ms
	case x < 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.0f", x)
	}
}

func rate(x float64) string {
	switch {
	case x == 0:
		return "-"
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	default:
		return fmt.Sprintf("%.1f", x)
	}
}

// progress shows what bench is doing on stderr: one line rewritten in place
// with \r on a terminal, plain lines otherwise.
type progress struct {
	w    io.Writer
	tty  bool
	last int // length of the line shown on a terminal
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	if !p.tty {
		return p.w.Write(b)
	}
	line := strings.TrimRight(string(b), "\n")
	pad := ""
	if n := len([]rune(line)); n < p.last {
		pad = strings.Repeat(" ", p.last-n)
	}
	p.last = len([]rune(line))
	_, err := fmt.Fprintf(p.w, "\r%s%s", line, pad)
	return len(b), err
}

// clear removes the in-place line on a terminal.
func (p *progress) clear() {
	if p.tty && p.last > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.last))
		p.last = 0
	}
}
