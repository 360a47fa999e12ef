package scripts

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// procNode is an `odin node` process of a test cluster.
type procNode struct {
	name, dir         string
	gossip, rpc, raft string
	cmd               *exec.Cmd
	mu                sync.Mutex
	log               strings.Builder
	exited            chan struct{}
}

const clusterToken = "test-token"

// freeAddr returns a 127.0.0.1 address whose TCP and UDP ports are free now.
func freeAddr(t *testing.T) string {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr
		}
	}
	t.Fatal("no free port")
	return ""
}

func newProcNode(t *testing.T, name string) *procNode {
	return &procNode{name: name, dir: t.TempDir(), gossip: freeAddr(t), rpc: freeAddr(t), raft: freeAddr(t)}
}

// start runs the node, joining join (gossip addresses), and waits until it
// says it started.
func (p *procNode) start(t *testing.T, join ...string) {
	t.Helper()
	args := []string{"node", "--data", p.dir, "--name", p.name, "--bind", p.gossip, "--rpc", p.rpc,
		"--raft", p.raft, "--token", clusterToken, "--vms", "2", "--fast"}
	if len(join) > 0 {
		args = append(args, "--join", strings.Join(join, ","))
	}
	p.cmd = exec.Command(odinBin, args...)
	p.cmd.Env = append(os.Environ(), "ODIN_DATA=")
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = nil
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.Contains(sc.Text(), "node started") {
				once.Do(func() { close(started) })
			}
		}
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-started:
	case <-p.exited:
		t.Fatalf("%s exited at start:\n%s", p.name, p.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start:\n%s", p.name, p.output())
	}
}

func (p *procNode) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *procNode) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// client runs a script on the cluster through node p and returns its output.
func (p *procNode) client(t *testing.T, src string, args ...string) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "client.js")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return runOdin(t, "", append([]string{"run", "--connect", p.rpc, "--token", clusterToken, path}, args...)...)
}

func (p *procNode) mustClient(t *testing.T, src string, args ...string) string {
	t.Helper()
	out, code := p.client(t, src, args...)
	if code != 0 {
		t.Fatalf("client of %s exited %d:\n%s", p.name, code, out)
	}
	return strings.TrimSpace(out)
}

const clusterClass = `
class Member {
  static indexes = ["team", "score"];
  static unique = ["email"];
  join(team, score, email) { this.team = team; this.score = score; this.email = email; }
  setScore(s) { this.score = s; }
  setEmail(e) { this.email = e; }
}
odin.define(Member);
`

// TestClusterProcesses: three `odin node` processes, scripts through
// `odin run --connect`: objects spread over the nodes, queries see all of
// them, a unique value is taken once under concurrent commits on three
// nodes, a node killed with SIGKILL makes queries fail (or, with partial,
// name it), and after its restart its indexes match its objects.
func TestClusterProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three node processes")
	}
	nodes := []*procNode{newProcNode(t, "n1"), newProcNode(t, "n2"), newProcNode(t, "n3")}
	t.Cleanup(func() {
		for _, p := range nodes {
			p.kill()
		}
		if t.Failed() {
			for _, p := range nodes {
				t.Logf("--- %s:\n%s", p.name, p.output())
			}
		}
	})
	nodes[0].start(t)
	nodes[1].start(t, nodes[0].gossip)
	nodes[2].start(t, nodes[0].gossip)
	for _, p := range nodes {
		waitFor(t, p.name+" seeing three members", func() bool {
			out, code := runOdin(t, "", "status", "--connect", p.rpc, "--token", clusterToken)
			return code == 0 && strings.Count(out, " alive ") == 3
		})
	}
	nodes[0].mustClient(t, clusterClass)
	// Each node's client creates ten members: they live on that node.
	for i, p := range nodes {
		p.mustClient(t, fmt.Sprintf(`
			for (let k = 0; k < 10; k++) {
				const m = odin.ref("Member", "n%d-" + k);
				await m.join("t" + (k %% 2), k * 10 + %d, "n%d-" + k + "@x");
				const where = await odin.placement(m);
				if (where.node !== "n%d") throw new Error(m + " lives on " + where.node);
			}`, i+1, i+1, i+1, i+1))
	}
	// odin migrate moves one to another node; it keeps its state there.
	if out, code := runOdin(t, "", "migrate", "--connect", nodes[2].rpc, "--token", clusterToken, "Member/n1-9", "n3/1"); code != 0 || strings.TrimSpace(out) != "Member/n1-9 is on node n3, VM 1" {
		t.Fatalf("odin migrate: exit %d: %s", code, out)
	}
	if got := nodes[0].mustClient(t, `const s = (await odin.find("Member", {team: "t1"}, {select: true})).filter(r => r.ref.id === "n1-9"); console.log(s.length, s[0].state.score, (await odin.placement(s[0].ref)).node)`); got != "1 91 n3" {
		t.Fatalf("after odin migrate: %s", got)
	}
	count := func(p *procNode, q string) string {
		return p.mustClient(t, `console.log((await odin.find("Member", `+q+`)).length)`)
	}
	for _, p := range nodes {
		if got := count(p, `{team: "t1"}`); got != "15" {
			t.Fatalf("find through %s: %s objects, want 15", p.name, got)
		}
	}
	// The unique email: three clients, one per node, race for the same
	// values; each value ends up with exactly one holder.
	var wg sync.WaitGroup
	outs := make([]string, 3)
	for i, p := range nodes {
		wg.Add(1)
		go func(i int, p *procNode) {
			defer wg.Done()
			outs[i] = p.mustClient(t, fmt.Sprintf(`
				let won = 0;
				for (let v = 0; v < 10; v++) {
					try { await odin.ref("Member", "n%d-" + v).setEmail("shared" + v + "@x"); won++; }
					catch (e) { if (e.rule !== "unique") throw e; }
				}
				console.log(won);`, i+1))
		}(i, p)
	}
	wg.Wait()
	total := 0
	for _, o := range outs {
		n, err := strconv.Atoi(o)
		if err != nil {
			t.Fatalf("unique race output %q", o)
		}
		total += n
	}
	if total != 10 {
		t.Fatalf("the 10 shared emails were taken %d times (%v)", total, outs)
	}
	for v := 0; v < 10; v++ {
		if got := count(nodes[1], fmt.Sprintf(`{email: "shared%d@x"}`, v)); got != "1" {
			t.Fatalf("shared%d@x held by %s objects", v, got)
		}
	}

	// A client moves an object from n1 to n3 (the node it connected to asks
	// n1): it keeps its state and is found once.
	moved := nodes[1].mustClient(t, `
		const m = odin.ref("Member", "n1-0");
		await odin.migrate(m, { node: "n3", vm: 1 });
		const p = await odin.placement(m);
		await m.setScore(5);
		const i = await odin.inspect(m);
		console.log(p.node, p.vm, i.node, i.state.team, i.state.score, (await odin.find("Member", {team: "t0"})).length);`)
	if moved != "n3 1 n3 t0 5 15" {
		t.Fatalf("after moving n1-0 to n3: %q", moved)
	}

	// n2 keeps changing its objects' scores when it is killed.
	busy := exec.Command(odinBin, "run", "--connect", nodes[1].rpc, "--token", clusterToken, writeScript(t, `
		for (let round = 1; ; round++)
			for (let k = 0; k < 10; k++) await odin.ref("Member", "n2-" + k).setScore(round * 1000 + k);`))
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	nodes[1].kill()
	_ = busy.Process.Kill()
	_ = busy.Wait()
	out, _ := nodes[0].client(t, `
		try { await odin.find("Member", {team: "t0"}); console.log("answered"); }
		catch (e) { console.log(e.name); }
		const part = await odin.find("Member", {team: "t0"}, {partial: true});
		console.log(part.length, JSON.stringify(part.missing));
		try { await odin.ref("Member", "n2-1").setScore(1); console.log("answered"); }
		catch (e) { console.log(e.name); }`)
	if want := "UnavailableError\n10 [\"n2\"]\nUnavailableError"; strings.TrimSpace(out) != want {
		t.Fatalf("with n2 killed:\n%s\nwant\n%s", out, want)
	}
	nodes[1].start(t, nodes[0].gossip)
	// After the restart, n2's score index matches its objects' scores.
	check := `
		const all = await odin.find("Member", {score: {gte: 0}}, {select: true, order: "score"});
		let prev = -1, bad = 0;
		for (const {ref, state} of all) {
			if (state.score < prev) bad++;
			prev = state.score;
			const same = await odin.find("Member", {score: state.score});
			if (!same.some(r => String(r) === String(ref))) bad++;
		}
		const byTeam = (await odin.find("Member", {team: "t0"})).length + (await odin.find("Member", {team: "t1"})).length;
		console.log(all.length, byTeam, bad);`
	waitFor(t, "n2 serving again", func() bool {
		out, code := nodes[2].client(t, check)
		return code == 0 && strings.TrimSpace(out) == "30 30 0"
	})
}

func writeScript(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.js")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
