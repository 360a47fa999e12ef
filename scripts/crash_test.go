package scripts

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test's parameters: the Timer object's tasklet ticks crashTicks
// times, crashMS apart (with a suspending call every tenth tick), and the
// Pinger's tasklet makes crashPings calls to the Counter; both take a few
// seconds of running time, so that most kills land while they are suspended.
const (
	crashTicks = 30
	crashMS    = 80
	crashPings = 300
)

// crashRound is what one run of testdata/crash/phase.js printed before its kill.
type crashRound struct {
	next              int           // the first value it was to send
	delay             time.Duration // how long it ran (after start or ready) before the SIGKILL
	ready             bool          // it had started every object's tasklet
	attempted, acked  []int         // values whose send began, and returned
	passing, passed   []int         // values whose call through Relay began, and returned
	wrong             []string      // calls that resolved with another call's result
	ticks, pings      int           // last progress seen: timer ticks, pinger replies
	timerDone, pinged bool
	stderr            string
}

// TestCrashRecovery (issue #3): objects whose tasklets block on a channel,
// on timers and on calls to other objects survive SIGKILLs at random points
// under load. Each round runs testdata/crash/phase.js on the same data
// directory (the script sends values on a channel to three consumer
// objects and passes some through Relay objects to a Ledger) and kills the
// process 100–600 ms after it is ready (every fourth round: 5–60 ms after it
// started, during start-up and replay); a last run of check.js waits for
// the tasklets to finish. Then every acknowledged send is received exactly
// once, no value is received twice, every tasklet ends with the right
// result, no call ran twice or was lost, and the replay logs are short.
// ODIN_CRASH_SEED=n replays the kill times of a failed run.
func TestCrashRecovery(t *testing.T) {
	rng := crashRand(t, 0)
	rounds := 12
	if testing.Short() {
		rounds = 6
	}
	scripts, err := filepath.Abs("testdata/crash")
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	start := time.Now()

	var all []crashRound
	attempted := map[int]bool{}
	var acked []int
	passing := map[int]bool{}
	var passed []int
	next := 0
	for r := 0; r < rounds; r++ {
		// Most kills land under load, 100–600 ms after the phase is ready;
		// every fourth lands 5–60 ms after the process started, while the
		// node is starting and replaying the objects' logs.
		delay := time.Duration(100+rng.IntN(501)) * time.Millisecond
		early := r%4 == 3
		if early {
			delay = time.Duration(5+rng.IntN(56)) * time.Millisecond
		}
		rd := runUntilKilled(t, scripts, !early, delay, "run", "--data", data, "phase.js",
			strconv.Itoa(next), strconv.Itoa(crashTicks), strconv.Itoa(crashMS), strconv.Itoa(crashPings), strconv.Itoa(r))
		rd.next, rd.delay = next, delay
		for _, v := range rd.attempted {
			if attempted[v] {
				t.Fatalf("round %d attempted %d again (harness bug)", r, v)
			}
			attempted[v] = true
			next = v + 1
		}
		acked = append(acked, rd.acked...)
		for _, v := range rd.passing {
			passing[v] = true
		}
		passed = append(passed, rd.passed...)
		when := "after ready"
		if early {
			when = "after start"
		}
		t.Logf("round %d: killed %v %s: ready=%v, %d sends from %d, %d acknowledged, %d relayed; timer %d/%d ticks, pinger %d/%d replies",
			r, delay, when, rd.ready, len(rd.attempted), rd.next, len(rd.acked), len(rd.passed), rd.ticks, crashTicks, rd.pings, crashPings)
		if rd.stderr != "" {
			t.Errorf("round %d wrote to stderr:\n%s", r, rd.stderr)
		}
		if len(rd.wrong) > 0 {
			t.Errorf("round %d: %d calls resolved with the result of another call (a call id of an earlier process answered from the callee's dedupe table, or a reply to a killed process's call; see TestCrashStaleReply): %s",
				r, len(rd.wrong), head(rd.wrong))
		}
		all = append(all, rd)
		// Now and then the node stays down for a while, so that timers
		// fall due during the downtime and must fire at the next start.
		if r%3 == 2 {
			time.Sleep(3 * crashMS * time.Millisecond)
		}
	}

	// The test must not be vacuous: values were flowing at most kills, and
	// some kills landed while the timer and the pinger were suspended.
	flowing, timerMid, pingerMid := 0, 0, 0
	for _, rd := range all {
		if len(rd.acked) > 0 {
			flowing++
		}
		if rd.ticks > 0 && !rd.timerDone {
			timerMid++
		}
		if rd.pings > 0 && !rd.pinged {
			pingerMid++
		}
	}
	if flowing < rounds/2 || len(acked) < 100 {
		t.Errorf("only %d of %d rounds acknowledged values (%d in all): the kills did not land under load", flowing, rounds, len(acked))
	}
	if timerMid == 0 || pingerMid == 0 {
		t.Errorf("no kill landed while the timer (%d rounds) or the pinger (%d rounds) was mid-way", timerMid, pingerMid)
	}

	out, code := runOdin(t, scripts, "run", "--data", data, "check.js", ranges(acked), "20000")
	if code != 0 {
		t.Fatalf("check.js exited %d:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var res struct {
		State    map[string]json.RawMessage
		Log      map[string]int
		Tasklets map[string]int
		Missing  int
		Complete bool
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || len(lines) != 1 {
		t.Fatalf("check.js printed something other than one JSON line (%v):\n%s", err, out)
	}
	t.Logf("%d rounds, %d values acknowledged, %d attempted, in %v", rounds, len(acked), len(attempted), time.Since(start).Round(time.Millisecond))
	if !res.Complete {
		t.Errorf("after 20 s the tasklets had not finished or %d acknowledged values were still not received", res.Missing)
	}
	state := func(name string, v any) {
		if err := json.Unmarshal(res.State[name], v); err != nil {
			t.Fatalf("state of %s: %v (%s)", name, err, res.State[name])
		}
	}

	// Consumers: every acknowledged value received once, nothing received
	// twice or never sent, and each turn's two writes (seen, sum) together.
	got := map[int][]string{}
	consumers := []string{"c0", "c1", "c2"}
	for _, id := range consumers {
		var c struct {
			Seen    []int
			Sum     int
			Started bool
		}
		state(id, &c)
		total := 0
		for _, v := range c.Seen {
			got[v] = append(got[v], id)
			total += v
		}
		if total != c.Sum || !c.Started {
			t.Errorf("consumer %s: sum %d but its %d values add up to %d (started %v)", id, c.Sum, len(c.Seen), total, c.Started)
		}
	}
	var lost, twice, unsent []string
	for _, v := range acked {
		if len(got[v]) == 0 {
			lost = append(lost, strconv.Itoa(v))
		}
	}
	stranded := 0
	for v := range attempted {
		if len(got[v]) == 0 {
			stranded++
		}
	}
	for v, who := range got {
		if len(who) > 1 {
			twice = append(twice, fmt.Sprintf("%d by %v", v, who))
		}
		if !attempted[v] {
			unsent = append(unsent, strconv.Itoa(v))
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged values were never received: %s", len(lost), head(lost))
	}
	if len(twice) > 0 {
		slices.Sort(twice)
		t.Errorf("%d values were received more than once: %s", len(twice), head(twice))
	}
	if len(unsent) > 0 {
		t.Errorf("values received that were never sent: %s", head(unsent))
	}
	t.Logf("%d values received; %d attempted but unacknowledged values never received", len(got), stranded)

	// The timer's tasklet and the method it called, both suspended in sleeps.
	var timer struct {
		Ticks  int
		Naps   []int
		Done   bool
		Result int
	}
	state("timer", &timer)
	var napper struct{ Calls, Woke []int }
	state("napper", &napper)
	wantResult := crashTicks * (crashTicks + 1) / 2
	var wantNaps, wantCalls []int
	for i := 10; i <= crashTicks; i += 10 {
		wantCalls = append(wantCalls, i)
		wantNaps = append(wantNaps, i*100)
	}
	if timer.Ticks != crashTicks || !timer.Done || timer.Result != wantResult || !slices.Equal(timer.Naps, wantNaps) {
		t.Errorf("timer: ticks %d, done %v, result %d, naps %v; want %d, true, %d, %v",
			timer.Ticks, timer.Done, timer.Result, timer.Naps, crashTicks, wantResult, wantNaps)
	}
	if !slices.Equal(napper.Calls, wantCalls) || !slices.Equal(napper.Woke, wantCalls) {
		t.Errorf("napper: calls %v, woke %v; want each call once: %v", napper.Calls, napper.Woke, wantCalls)
	}

	// The pinger's calls: exactly once each, replies in order.
	var pinger struct {
		Got  []int
		Done bool
	}
	state("pinger", &pinger)
	var counter struct {
		N   int
		Bad [][]int
	}
	state("counter", &counter)
	inOrder := len(pinger.Got) == crashPings
	for i, v := range pinger.Got {
		inOrder = inOrder && v == i+1
	}
	if !inOrder || !pinger.Done {
		t.Errorf("pinger: done %v, %d replies, in order 1..%d: %v", pinger.Done, len(pinger.Got), crashPings, inOrder)
	}
	if counter.N != crashPings || len(counter.Bad) > 0 {
		var bad []string
		for _, b := range counter.Bad {
			bad = append(bad, fmt.Sprint(b))
		}
		t.Errorf("counter: n = %d, want %d; %d calls ran out of turn, [expected n, n]: %s", counter.N, crashPings, len(bad), head(bad))
	}

	// The calls through Relay, a quiescent object restarted with each
	// process: each acknowledged call ran once, and no other call ran.
	var ledger struct{ Got []int }
	state("ledger", &ledger)
	inLedger := map[int]int{}
	for _, v := range ledger.Got {
		inLedger[v]++
		if !passing[v] {
			t.Errorf("ledger holds %d, which was never passed", v)
		}
	}
	var notRun, ranTwice []string
	for _, v := range passed {
		if inLedger[v] == 0 {
			notRun = append(notRun, strconv.Itoa(v))
		}
	}
	for v, n := range inLedger {
		if n > 1 {
			ranTwice = append(ranTwice, fmt.Sprintf("%d (%d times)", v, n))
		}
	}
	if len(notRun) > 0 {
		t.Errorf("%d of %d acknowledged calls through Relay never reached Ledger: %s", len(notRun), len(passed), head(notRun))
	}
	if len(ranTwice) > 0 {
		t.Errorf("calls through Relay that ran more than once: %s", head(ranTwice))
	}

	// Replay logs: short for the receive loops (odin.checkpoint), empty for
	// objects that are quiescent again; one suspended tasklet per consumer.
	for name, n := range res.Log {
		limit, tasklets := 0, 0
		if slices.Contains(consumers, name) {
			limit, tasklets = 4, 1
		}
		if n > limit {
			t.Errorf("%s: replay log has %d events, want at most %d", name, n, limit)
		}
		if res.Tasklets[name] != tasklets {
			t.Errorf("%s: %d suspended tasklets, want %d", name, res.Tasklets[name], tasklets)
		}
	}
}

// crashRand is the random source of a crash test's kill times: seeded from
// the clock, or from ODIN_CRASH_SEED to replay a failed run (stream tells
// the tests apart).
func crashRand(t *testing.T, stream uint64) *rand.Rand {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("ODIN_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("ODIN_CRASH_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay the kill times with ODIN_CRASH_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// runUntilKilled starts odin in dir, SIGKILLs it delay after it started (or
// after it printed "ready", if afterReady) and returns what it printed. The
// phase never ends by itself: exiting before the kill fails the test.
func runUntilKilled(t *testing.T, dir string, afterReady bool, delay time.Duration, args ...string) crashRound {
	t.Helper()
	cmd := exec.Command(odinBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ODIN_DATA=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	done, ready := make(chan error, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if sc.Text() == "ready" {
				close(ready)
			}
		}
		done <- cmd.Wait()
	}()
	endedEarly := func(err error) {
		t.Fatalf("odin %v ended before it was killed (%v); stdout:\n%s\nstderr:\n%s",
			args, err, strings.Join(lines, "\n"), stderr.String())
	}
	if afterReady {
		select {
		case err := <-done:
			endedEarly(err)
		case <-ready:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("odin %v was not ready after 30 s; stderr:\n%s", args, stderr.String())
		}
	}
	select {
	case err := <-done:
		endedEarly(err)
	case <-time.After(delay):
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = <-done
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("odin %v: %v, want killed by SIGKILL; stderr:\n%s", args, err, stderr.String())
	}

	rd := crashRound{stderr: stderr.String()}
	last := -1
	for _, l := range lines {
		f := strings.Fields(l)
		switch {
		case l == "ready":
			rd.ready = true
		case len(f) == 2 && f[0] == "attempt":
			v, _ := strconv.Atoi(f[1])
			rd.attempted = append(rd.attempted, v)
			last = v
		case len(f) == 2 && f[0] == "sent":
			v, _ := strconv.Atoi(f[1])
			if v != last {
				t.Fatalf("%q does not follow the attempt of %d", l, last)
			}
			rd.acked = append(rd.acked, v)
		case len(f) == 2 && f[0] == "pass":
			v, _ := strconv.Atoi(f[1])
			rd.passing = append(rd.passing, v)
		case len(f) == 3 && f[0] == "passed":
			v, _ := strconv.Atoi(f[1])
			if v != rd.passing[len(rd.passing)-1] || f[2] != f[1] {
				rd.wrong = append(rd.wrong, fmt.Sprintf("Relay.pass(%d) returned %s", v, f[2]))
			}
			rd.passed = append(rd.passed, v)
		case strings.HasPrefix(l, "wrong "):
			rd.wrong = append(rd.wrong, strings.TrimPrefix(l, "wrong "))
		case len(f) == 5 && f[0] == "progress":
			rd.ticks, _ = strconv.Atoi(f[1])
			rd.timerDone = f[2] == "true"
			rd.pings, _ = strconv.Atoi(f[3])
			rd.pinged = f[4] == "true"
		default:
			// A line cut by the kill: only the last one can be.
			if l != lines[len(lines)-1] {
				t.Fatalf("unexpected output line %q", l)
			}
		}
	}
	return rd
}

// ranges writes increasing values compactly: "1-5,8-9".
func ranges(vs []int) string {
	var b strings.Builder
	for i := 0; i < len(vs); {
		j := i
		for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-%d", vs[i], vs[j])
		i = j + 1
	}
	return b.String()
}

// head shortens a long list for an error message.
func head(s []string) string {
	if len(s) > 20 {
		return strings.Join(s[:20], ", ") + fmt.Sprintf(", ... (%d more)", len(s)-20)
	}
	return strings.Join(s, ", ")
}

// TestCrashStaleReply: a script is killed while its call through Relay
// waits on Slow; the next process, on the same data directory, makes the
// same call with another argument while the replayed objects finish the old
// one. The new script must get its own call's result, not the reply meant
// for the dead script.
func TestCrashStaleReply(t *testing.T) {
	scripts, err := filepath.Abs("testdata/crash")
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	rd := runUntilKilled(t, scripts, true, 300*time.Millisecond, "run", "--data", data, "stale.js", "1")
	if !rd.ready || rd.stderr != "" {
		t.Fatalf("first run: ready %v, stderr %q", rd.ready, rd.stderr)
	}
	out, code := runOdin(t, scripts, "run", "--data", data, "stale.js", "2")
	if code != 0 || out != "ready\nresult 2 2\n" {
		t.Fatalf("second run (exit %d) printed:\n%s\nwant its own result, \"result 2 2\" (\"result 2 1\": the reply to the killed script's call resolved the new script's call)", code, out)
	}
}
