package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"

	"github.com/odin-db/odin/host"
)

// The interactive tests run the real odin binary on a pseudo-terminal and
// type into it as a person would; a small terminal model (vtScreen) keeps
// the screen they check. The piped tests call run() in-process, and once
// the binary through a real pipe.

var (
	binDir    string
	buildOnce sync.Once
	odinBin   string
	buildErr  error
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "odin-cmd-test-")
	if err != nil {
		panic(err)
	}
	binDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// raceEnabled reports whether the test binary was built with -race; the
// odin binary the tests run is then built with it too.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return true
			}
		}
	}
	return false
}

// odinBinary builds the odin command once per test run.
func odinBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		odinBin = filepath.Join(binDir, "odin")
		args := []string{"build", "-o", odinBin}
		if raceEnabled() {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = err
			odinBin = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, odinBin)
	}
	return odinBin
}

// shellEnv is the environment of a shell under test: its own home (for
// ~/.odin_history), a terminal type with colours, and a race detector
// that fails the process.
func shellEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "TERM", "NO_COLOR", "ODIN_HISTORY", "ODIN_DATA", "GORACE":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "TERM=xterm-256color", "GORACE=halt_on_error=1 exitcode=66")
}

// ---- a terminal on a pty ----

type ptyShell struct {
	t    *testing.T
	cmd  *exec.Cmd
	f    *os.File
	mu   sync.Mutex
	scr  vtScreen
	done chan struct{}
	err  error // the process's exit, once done is closed
}

func startShell(t *testing.T, home string, args ...string) *ptyShell {
	t.Helper()
	cmd := exec.Command(odinBinary(t), append([]string{"shell"}, args...)...)
	cmd.Env = shellEnv(home)
	cmd.Dir = home
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyShell{t: t, cmd: cmd, f: f, done: make(chan struct{})}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			p.mu.Lock()
			p.scr.write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		<-readDone
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		f.Close()
	})
	p.waitPrompt("the first prompt")
	return p
}

func (p *ptyShell) screen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.scr.String()
}

func (p *ptyShell) send(keys string) {
	p.t.Helper()
	if _, err := p.f.Write([]byte(keys)); err != nil {
		p.t.Fatalf("typing %q: %v", keys, err)
	}
}

// waitFor polls the screen until cond holds, failing after a deadline with
// the screen shown.
func (p *ptyShell) waitFor(what string, cond func(screen string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := p.screen()
		if cond(s) {
			return s
		}
		select {
		case <-p.done:
			if s = p.screen(); cond(s) {
				return s
			}
			p.t.Fatalf("the shell exited (%v) while waiting for %s; screen:\n%s", p.err, what, s)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s; screen:\n%s", what, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *ptyShell) waitText(text string) string {
	p.t.Helper()
	return p.waitFor(strconv.Quote(text), func(s string) bool { return strings.Contains(s, text) })
}

// lastLine is the screen's last line.
func lastLine(s string) string {
	lines := strings.Split(s, "\n")
	return lines[len(lines)-1]
}

func prompts(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "odin>") {
			n++
		}
	}
	return n
}

// waitPrompt waits for an empty prompt on the last line.
func (p *ptyShell) waitPrompt(what string) string {
	p.t.Helper()
	return p.waitFor(what, func(s string) bool { return lastLine(s) == "odin>" })
}

// enter types one complete input at a ready prompt and returns what the
// shell printed before its next prompt.
func (p *ptyShell) enter(line string) string {
	p.t.Helper()
	p.waitPrompt("a prompt before " + strconv.Quote(line))
	return p.submit(line)
}

// submit types line and Enter at the prompt as it stands (maybe with text
// on it already) and returns what the shell printed before its next prompt.
func (p *ptyShell) submit(line string) string {
	p.t.Helper()
	n := prompts(p.screen())
	p.send(line + "\r")
	s := p.waitFor("the prompt after "+strconv.Quote(line), func(s string) bool {
		return prompts(s) > n && lastLine(s) == "odin>"
	})
	lines := strings.Split(s, "\n")
	// The output is between the line typed (the n-th prompt) and the last.
	seen := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "odin>") {
			seen++
			if seen == n {
				return strings.Join(lines[i+1:len(lines)-1], "\n")
			}
		}
	}
	return ""
}

func (p *ptyShell) expect(line, want string) {
	p.t.Helper()
	if got := p.enter(line); got != want {
		p.t.Errorf("%q printed %q, want %q", line, got, want)
	}
}

// exited waits for the process to end and returns its exit code.
func (p *ptyShell) exited() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.t.Fatalf("the shell did not exit; screen:\n%s", p.screen())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	p.t.Fatal(p.err)
	return -1
}

// ---- the interactive tests ----

func TestShellInteractive(t *testing.T) {
	home := t.TempDir()
	data := filepath.Join(home, "data")
	p := startShell(t, home, "--data", data, "--vms", "2")
	if s := p.screen(); !strings.Contains(s, "Type .help for help") {
		t.Errorf("no banner:\n%s", s)
	}

	// A class typed over several lines: the shell continues the input.
	p.send("class Account {\r")
	p.waitFor("a continuation prompt", func(s string) bool { return lastLine(s) == "..." })
	p.send("  balance = 0;\r")
	p.send("  deposit(n) { this.balance += n; return this.balance; }\r")
	p.waitFor("three lines of the class", func(s string) bool { return strings.Count(s, "\n...") == 3 && lastLine(s) == "..." })
	n := prompts(p.screen())
	p.send("}\r")
	s := p.waitFor("the class's result", func(s string) bool { return prompts(s) > n && lastLine(s) == "odin>" })
	if want := "odin> class Account {\n...   balance = 0;\n...   deposit(n) { this.balance += n; return this.balance; }\n... }\nundefined\nodin>"; !strings.HasSuffix(s, want) {
		t.Errorf("screen after the class:\n%s\nwant it to end with:\n%s", s, want)
	}
	p.expect("odin.define(Account)", "[class Account]")
	p.expect(`const alice = odin.ref("Account", "alice")`, "undefined")
	p.expect("alice", "Ref<Account/alice>")
	p.expect("await alice.deposit(5)", "5")

	// Tab completes odin.* (one candidate: inserted; several: listed).
	n = prompts(p.screen())
	p.send("odin.de\t")
	p.waitFor("odin.de completed", func(s string) bool { return lastLine(s) == "odin> odin.define" })
	p.send("\x15") // Ctrl+U clears the line
	p.send("odin.sp\t")
	p.waitFor("odin.sp completed", func(s string) bool { return lastLine(s) == "odin> odin.spawn" })
	p.send("\x15odin.\t\t")
	s = p.waitFor("the odin. candidates", func(s string) bool {
		return prompts(s) > n && lastLine(s) == "odin> odin." && strings.Contains(s, "withTimeout")
	})
	for _, w := range []string{"define", "spawn", "inspect", "channel", "TimeoutError"} {
		if !strings.Contains(s, w) {
			t.Errorf("odin.<Tab><Tab> does not list %s:\n%s", w, s)
		}
	}
	p.send("\x15")
	// Tab completes a Ref's methods, from its class.
	p.send("await alice.dep\t")
	p.waitFor("alice.dep completed", func(s string) bool { return lastLine(s) == "odin> await alice.deposit" })
	if out := p.submit("(1)"); out != "6" {
		t.Errorf("await alice.deposit(1) printed %q", out)
	}
	p.send(`odin.ref("Account", "bob").` + "\t\t")
	p.waitFor("bob's methods", func(s string) bool {
		l := strings.Split(s, "\n")
		return len(l) > 2 && strings.Contains(l[len(l)-2], "deposit") && strings.Contains(l[len(l)-2], "toString")
	})
	p.send("\x15")

	// Up recalls the history: the last line typed.
	p.send("\x1b[A")
	p.waitFor("the recalled line", func(s string) bool { return lastLine(s) == "odin> await alice.deposit(1)" })
	if out := p.submit(""); out != "7" {
		t.Errorf("the recalled line printed %q", out)
	}

	// Ctrl+C stops a running line; the shell goes on.
	p.waitPrompt("a prompt before the loop")
	p.send(`console.log("spinning"); for (;;) {}` + "\r")
	p.waitText("spinning")
	p.send("\x03")
	p.waitText("Uncaught Error: Script execution interrupted.")
	p.expect("1 + 1", "2")
	p.expect("await alice.deposit(0)", "7")

	// Errors: name and message, no Go trace.
	out := p.enter("null.balance")
	if !strings.HasPrefix(out, "Uncaught TypeError: ") || strings.Contains(out, ".go") {
		t.Errorf("error printed as %q", out)
	}

	// Dot commands.
	p.expect(".classes", "Account                  v1")
	p.expect(".objects Account", "Account/alice")
	out = p.enter(".inspect Account/alice")
	for _, w := range []string{"class: 'Account'", "id: 'alice'", "state: { balance: 7 }", "node: 'local'"} {
		if !strings.Contains(out, w) {
			t.Errorf(".inspect printed %q, want %q in it", out, w)
		}
	}
	out = p.enter(".help")
	for _, c := range dotCommands {
		if !strings.Contains(out, c) {
			t.Errorf(".help does not document %s:\n%s", c, out)
		}
	}
	out = p.enter(".nodes")
	if !strings.Contains(out, "node local (this process): 2 VMs") || !strings.Contains(out, "VM 1:") {
		t.Errorf(".nodes printed %q", out)
	}
	p.expect("const bg = odin.spawn(async () => { await odin.sleep(1e9) })", "undefined")
	out = p.enter(".tasklets")
	if !regexp.MustCompile(`Tasklet<\d+>\s+(waiting|new|running)\s+spawned`).MatchString(out) {
		t.Errorf(".tasklets printed %q", out)
	}
	// .migrate moves the object when the node can (odin.migrate), and says so
	// otherwise.
	switch out := p.enter(".migrate Account/alice local/1"); out {
	case "{ node: 'local', vm: 1 }":
		if out := p.enter(".inspect Account/alice"); !strings.Contains(out, "vm: 1,") {
			t.Errorf(".inspect after .migrate printed %q", out)
		}
	case "migration is not available yet":
	default:
		t.Errorf(".migrate printed %q", out)
	}
	p.expect(".find Account", "[ Ref<Account/alice> ]")
	p.expect(".indexes", "No indexes are declared: a class declares them with static indexes = [...] (or static unique = [...]).")
	// Tab completes dot commands and their class.
	p.send(".fi\t")
	p.waitFor(".fi completed", func(s string) bool { return lastLine(s) == "odin> .find" })
	p.send("Acc\t")
	p.waitFor(".find Acc completed", func(s string) bool { return lastLine(s) == "odin> .find Account" })
	p.send("\x15.in\t\t")
	p.waitFor("the .in candidates", func(s string) bool {
		l := strings.Split(s, "\n")
		return len(l) > 2 && strings.Contains(l[len(l)-2], ".indexes") && strings.Contains(l[len(l)-2], ".inspect") && lastLine(s) == "odin> .in"
	})
	p.send("\x15.inde\t")
	p.waitFor(".inde completed", func(s string) bool { return lastLine(s) == "odin> .indexes" })
	p.send("\t")
	p.waitFor(".indexes completed", func(s string) bool { return lastLine(s) == "odin> .indexes Account" })
	p.send("\x15")

	p.expect(".nosuch", ".nosuch is not a shell command (type .help for the list)")

	// Ctrl+C on an empty line asks; Ctrl+D leaves.
	p.send("\x03")
	p.waitText("(To exit, press Ctrl+C again or Ctrl+D or type .exit)")
	p.waitPrompt("a prompt after Ctrl+C")
	p.send("\x04")
	if code := p.exited(); code != 0 {
		t.Errorf("exit code %d after Ctrl+D", code)
	}
	hist, err := os.ReadFile(filepath.Join(home, ".odin_history"))
	if err != nil || !strings.Contains(string(hist), "await alice.deposit(5)\n") || !strings.Contains(string(hist), "  balance = 0;\n") {
		t.Errorf("history file: %q, %v", hist, err)
	}

	// A second shell on the same data directory: the objects and the
	// history are there.
	p = startShell(t, home, "--data", data, "--vms", "2")
	p.expect(".objects Account", "Account/alice")
	p.send("\x1b[A")
	p.waitFor("history from the last session", func(s string) bool { return lastLine(s) == "odin> .objects Account" })
	p.send("\x1b[A")
	p.waitFor("the line before", func(s string) bool { return lastLine(s) == "odin> .nosuch" })
	p.send("\x15")
	p.expect(`await odin.ref("Account", "alice").deposit(3)`, "10")
	// Ctrl+C with text on the line clears it; twice on an empty line exits.
	p.send("abc")
	p.waitFor("abc typed", func(s string) bool { return lastLine(s) == "odin> abc" })
	p.send("\x03")
	p.waitPrompt("a cleared line")
	if strings.Contains(p.screen(), "To exit") {
		t.Errorf("Ctrl+C on a line with text asked to exit:\n%s", p.screen())
	}
	p.send("\x03")
	p.waitText("To exit, press Ctrl+C again")
	p.waitPrompt("the prompt after the message")
	p.send("\x03")
	if code := p.exited(); code != 0 {
		t.Errorf("exit code %d after Ctrl+C twice", code)
	}
}

func TestShellInterruptAwait(t *testing.T) {
	home := t.TempDir()
	p := startShell(t, home, "--memory", "--vms", "1")
	p.waitPrompt("a prompt")
	p.send(`try { console.log("waiting"); await odin.sleep(1e9) } finally { console.log("finally ran") }` + "\r")
	p.waitText("waiting")
	// The sleep starts when the line's first turn ends; Ctrl+C kills the
	// line at its await either way.
	p.send("\x03")
	p.waitText("Script execution interrupted.")
	p.waitText("finally ran")
	p.expect("40 + 2", "42")
	p.waitPrompt("a prompt")
	p.send(".exit\r")
	if code := p.exited(); code != 0 {
		t.Errorf("exit code %d after .exit", code)
	}
}

// ---- piped mode ----

func runShell(t *testing.T, input string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"shell"}, args...), strings.NewReader(input), &out, &errb)
	return out.String(), errb.String(), code
}

const pipedSession = `class Account {
  balance = 0;
  deposit(n) { this.balance += n; return this.balance; }
}
odin.define(Account)
const a = odin.ref("Account", "a")
await a.deposit(1)
console.log("printed by the line")
a
({ balance: await a.deposit(2), list: [1, 'two'] })
`

func TestShellPiped(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runShell(t, pipedSession, "--data", dir, "--vms", "2")
	want := "[class Account]\n1\nprinted by the line\nRef<Account/a>\n{ balance: 3, list: [ 1, 'two' ] }\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("exit %d\nstdout %q\nwant   %q\nstderr %q", code, out, want, errOut)
	}
	if strings.Contains(out, "\x1b[") || strings.Contains(out, "odin>") {
		t.Errorf("colours or prompts in piped output: %q", out)
	}
	// Through a real pipe, with the binary, on the same data.
	cmd := exec.Command(odinBinary(t), "shell", "--data", dir)
	cmd.Env = shellEnv(t.TempDir())
	cmd.Stdin = strings.NewReader(`await odin.ref("Account","a").deposit(1)` + "\n")
	b, err := cmd.CombinedOutput()
	if err != nil || string(b) != "4\n" {
		t.Errorf("echo ... | odin shell: %q, %v", b, err)
	}
}

func TestShellPipedStopsAtFirstError(t *testing.T) {
	out, errOut, code := runShell(t, "1\nnull.x\n2\n", "--memory", "--vms", "1")
	if code != 1 || out != "1\n" || !strings.HasPrefix(errOut, "Uncaught TypeError") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(errOut, ".go:") {
		t.Errorf("Go trace in %q", errOut)
	}
	out, errOut, code = runShell(t, "let x = ;\n", "--memory", "--vms", "1")
	if code != 1 || out != "" || !strings.Contains(errOut, "Uncaught SyntaxError") {
		t.Errorf("syntax error: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// An unfinished input at the end of the input is an error too.
	_, errOut, code = runShell(t, "foo(\n", "--memory", "--vms", "1")
	if code != 1 || !strings.Contains(errOut, "SyntaxError") {
		t.Errorf("unfinished input: exit %d, stderr %q", code, errOut)
	}
}

func TestShellPipedDotCommands(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "lib.js")
	if err := os.WriteFile(file, []byte("function twice(n) { return 2 * n }\ntwice(21)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	input := ".classes\n" + pipedSession + ".classes\n.objects Account\n.objects Account a\n.load " + file + "\ntwice(5)\n.tasklets\n.inspect Account/a\n"
	out, errOut, code := runShell(t, input, "--data", filepath.Join(dir, "data"), "--vms", "2")
	for _, w := range []string{
		"No classes are defined yet",
		"Account                  v1\nAccount/a\nNo objects of class Account after \"a\".\n42\n10\nNo tasklets are running.\n{\n  class: 'Account',",
		"state: { balance: 3 }",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if code != 0 || errOut != "" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runShell(t, ".objects\n", "--memory", "--vms", "1")
	if code != 1 || !strings.Contains(errOut, "usage: .objects Class [after]") {
		t.Errorf("bad .objects: exit %d, stderr %q", code, errOut)
	}
	out, _, code = runShell(t, ".help\n.exit\n1\n", "--memory", "--vms", "1")
	if code != 0 || !strings.Contains(out, ".load file.js") || strings.Contains(out, "\n1\n") {
		t.Errorf(".help/.exit: exit %d, stdout %q", code, out)
	}
}

// findClass is a class with indexes for the .find and .indexes tests.
const findClass = `class Person {
  static indexes = ["owner", "age", ["city", "age"], "name", "code"];
  static unique = ["email"];
  open(owner, age, city, name, code, email) { Object.assign(this, { owner, age, city, name, code, email }); }
}
odin.define(Person)
await odin.ref("Person", "a").open("bob", 30, "Paris", "Alice Smith", 7, "a@x")
await odin.ref("Person", "b").open("carol", 45, "Lyon", "Albert", "7", "b@x")
await odin.ref("Person", "c").open("bob", 52, "Paris", "Bruno", 8, "c@x")
await odin.ref("Person", "d").open("dan", 18, "Lyon", "Alfred", null, "d@x")
`

func TestShellPipedFind(t *testing.T) {
	dir := t.TempDir()
	if out, errOut, code := runShell(t, findClass, "--data", dir, "--vms", "2"); code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, c := range []struct{ cmd, want string }{
		// Equality: a bare word is a string; JSON values are JSON.
		{".find Person owner=bob", "[ Ref<Person/a>, Ref<Person/c> ]"},
		{`.find Person owner="bob"`, "[ Ref<Person/a>, Ref<Person/c> ]"},
		{".find Person code=7", "[ Ref<Person/a> ]"},
		{`.find Person code="7"`, "[ Ref<Person/b> ]"},
		{".find Person code=null", "[ Ref<Person/d> ]"},
		{`.find Person name="Alice Smith"`, "[ Ref<Person/a> ]"},
		{".find Person owner=nobody", "[]"},
		// Ranges, in the index's order.
		{".find Person age>=30 age<52", "[ Ref<Person/a>, Ref<Person/b> ]"},
		{".find Person age>30 age<=52", "[ Ref<Person/b>, Ref<Person/c> ]"},
		{".find Person age<30", "[ Ref<Person/d> ]"},
		{".find Person city=Paris age>40", "[ Ref<Person/c> ]"},
		// A string prefix (the value is always a string).
		{".find Person name^=Al", "[ Ref<Person/b>, Ref<Person/d>, Ref<Person/a> ]"},
		{`.find Person name^="Alice S"`, "[ Ref<Person/a> ]"},
		// Order, limit and paging.
		{".find Person order=-age", "[ Ref<Person/c>, Ref<Person/b>, Ref<Person/a>, Ref<Person/d> ]"},
		{".find Person age>0 order=-age limit=2", "[ Ref<Person/c>, Ref<Person/b> ]"},
		{".find Person age>0 order=-age limit=2 after=b", "[ Ref<Person/a>, Ref<Person/d> ]"},
		{".find Person city=Lyon order=age", "[ Ref<Person/d>, Ref<Person/b> ]"},
		// Every object, in id order.
		{".find Person limit=3", "[ Ref<Person/a>, Ref<Person/b>, Ref<Person/c> ]"},
		// select: each object's state.
		{".find Person owner=carol select", "[\n  {\n    ref: Ref<Person/b>,\n    state: {\n      owner: 'carol',\n      age: 45,\n      city: 'Lyon',\n      name: 'Albert',\n      code: '7',\n      email: 'b@x'\n    }\n  }\n]"},
		{".find Person email=d@x select=true", "state: {"},
	} {
		out, errOut, code := runShell(t, c.cmd+"\n", "--data", dir, "--vms", "2")
		if code != 0 || errOut != "" || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", c.cmd, code, errOut, out, c.want)
		}
	}

	// Errors: odin.find's, printed as the REPL prints them, and the shell's
	// usage; piped, the first error ends the shell with exit code 1.
	for _, c := range []struct{ cmd, want string }{
		{".find Person nosuch=1", "Uncaught TypeError: odin.find: no index of Person serves a query on {nosuch}"},
		{".find Person owner=bob order=age", "Uncaught TypeError: odin.find: no index of Person serves a query on {owner} ordered by age"},
		{".find Person age>1 name^=A", "Uncaught TypeError: odin.find: range or prefix conditions on two fields"},
		{".find Nobody owner=bob", "Uncaught NotDefinedError: odin.find: class Nobody is not defined"},
		{".find Person limit=20000", "Uncaught RangeError: odin.find: limit must be an integer between 1 and 10000"},
		{".find", "usage: .find Class [field=value"},
		{".find owner=bob", "the class comes first"},
		{".find Person bob", `"bob" is not a condition`},
		{".find Person owner^bob", "^ must be followed by ="},
		{".find Person =bob", "has no field name"},
		{`.find Person name="Alice`, "a quoted value is not closed"},
		{".find Person age>1 age>2", "field age has two > conditions"},
		{".find Person limit=x", "limit=x: the limit is a whole number from 1"},
		{".find Person limit=1 limit=2", "limit is given twice"},
	} {
		out, errOut, code := runShell(t, c.cmd+"\n1\n", "--data", dir, "--vms", "1")
		if code != 1 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant %q in it", c.cmd, code, out, errOut, c.want)
		}
		if strings.Contains(errOut, ".go:") || strings.Contains(errOut, "goroutine") {
			t.Errorf("%s: Go trace in %q", c.cmd, errOut)
		}
	}
}

func TestFindSource(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"Account", `await odin.find("Account", {})`},
		{"Account owner=bob", `await odin.find("Account", {"owner": {eq: "bob"}})`},
		{`Account owner="bob smith" age>=1.5 age<1e3`, `await odin.find("Account", {"owner": {eq: "bob smith"}, "age": {gte: 1.5, lt: 1e3}})`},
		{"Account ok=true x=null n=-2", `await odin.find("Account", {"ok": {eq: true}, "x": {eq: null}, "n": {eq: -2}})`},
		{"Account name^=12 code^=\"a b\"", `await odin.find("Account", {"name": {prefix: "12"}, "code": {prefix: "a b"}})`},
		{"Account name^=a name<b", `await odin.find("Account", {"name": {prefix: "a", lt: "b"}})`},
		{"Account order=-age limit=5 select after=x", `await odin.find("Account", {}, {order: "-age", limit: 5, select: true, after: odin.ref("Account", "x")})`},
		// A quoted field name is always a field, and may hold an operator.
		{`Account "order"=1 "a=b">2`, `await odin.find("Account", {"order": {eq: 1}, "a=b": {gt: 2}})`},
		// A JSON object is a value (odin.find refuses it), not conditions.
		{`Account owner={"gte":1}`, `await odin.find("Account", {"owner": {eq: {"gte":1}}})`},
		{"Account owner=", `await odin.find("Account", {"owner": {eq: ""}})`},
		{"Account s=\u2028", `await odin.find("Account", {"s": {eq: "\u2028"}})`},
	} {
		got, err := findSource(c.args)
		if err != nil || got != c.want {
			t.Errorf(".find %s:\n got %s, %v\nwant %s", c.args, got, err, c.want)
		}
	}
}

func TestShellPipedIndexes(t *testing.T) {
	dir := t.TempDir()
	input := ".indexes\n" + findClass + `class Plain { x = 1 }
odin.define(Plain)
.indexes
.indexes Person
.indexes Plain
.nodes
`
	out, errOut, code := runShell(t, input, "--data", dir, "--vms", "2")
	for _, w := range []string{
		"No indexes are declared: a class declares them with static indexes = [...] (or static unique = [...]).\n",
		"Person   owner          built\nPerson   age            built\nPerson   [city, age]    built\nPerson   name           built\nPerson   code           built\nPerson   unique email   built\n" +
			"Person   owner          built\n",
		"Plain has no indexes: declare them with static indexes = [...] (or static unique = [...]).\n",
		"  indexes: 6 built\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if code != 0 || errOut != "" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}

	// A unique index declared on objects that break it: its build fails,
	// and .indexes and .nodes say why.
	input = `class Person {
  static indexes = ["owner", "age", ["city", "age"], "name", "code"];
  static unique = ["email", ["owner", "city"]];
  open(owner, age, city, name, code, email) { Object.assign(this, { owner, age, city, name, code, email }); }
}
odin.define(Person)
for (;;) {
  try { await odin.find(Person, { owner: "bob", city: "Paris" }); break } catch (e) { if (!/still being built/.test(e.message)) break }
  await odin.sleep(5)
}
.indexes Person
.nodes
.find Person owner=bob city=Paris
`
	out, errOut, code = runShell(t, input, "--data", dir, "--vms", "2")
	for _, w := range []string{
		"Person   unique email           built\nPerson   unique [owner, city]   failed: Person/a and Person/c hold the same unique [owner, city]\n",
		"  indexes: 6 built; Person unique [owner, city] failed: Person/a and Person/c hold the same unique [owner, city]\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if code != 1 || !strings.Contains(errOut, "UnavailableError: odin.find: the build of index unique [owner, city] of Person failed") {
		t.Errorf("find on the failed index: exit %d, stderr %q", code, errOut)
	}

	_, errOut, code = runShell(t, ".indexes Nope\n", "--data", dir, "--vms", "1")
	if code != 1 || !strings.Contains(errOut, `no class "Nope" is defined`) {
		t.Errorf(".indexes Nope: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runShell(t, ".indexes a b\n", "--data", dir, "--vms", "1")
	if code != 1 || !strings.Contains(errOut, "usage: .indexes [Class]") {
		t.Errorf(".indexes a b: exit %d, stderr %q", code, errOut)
	}
}

func TestShellUsage(t *testing.T) {
	_, errOut, code := runShell(t, "", "script.js")
	if code != 2 || !strings.Contains(errOut, "odin shell takes no arguments") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// ---- a small terminal model ----

// vtScreen applies what a program writes to a terminal: text, carriage
// return, newline, backspace, tab, and the CSI sequences a line editor
// uses (cursor moves, erasing; colours are dropped). It keeps every line
// (no scrolling), which is what the tests read.
type vtScreen struct {
	lines    [][]rune
	row, col int
	pending  []byte // an incomplete escape sequence or UTF-8 character
}

func (v *vtScreen) write(p []byte) {
	data := append(v.pending, p...)
	v.pending = nil
	for i := 0; i < len(data); {
		c := data[i]
		if c == 0x1b {
			n, ok := v.escape(data[i:])
			if !ok {
				v.pending = append([]byte(nil), data[i:]...)
				return
			}
			i += n
			continue
		}
		switch c {
		case '\r':
			v.col = 0
		case '\n':
			v.row++
		case '\b':
			if v.col > 0 {
				v.col--
			}
		case '\t':
			v.col = (v.col/8 + 1) * 8
		case 0x07:
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && !utf8.FullRune(data[i:]) {
				v.pending = append([]byte(nil), data[i:]...)
				return
			}
			v.put(r)
			i += size
			continue
		}
		i++
	}
}

func (v *vtScreen) line() []rune {
	for len(v.lines) <= v.row {
		v.lines = append(v.lines, nil)
	}
	return v.lines[v.row]
}

func (v *vtScreen) put(r rune) {
	l := v.line()
	for len(l) <= v.col {
		l = append(l, ' ')
	}
	l[v.col] = r
	v.lines[v.row] = l
	v.col++
}

// escape applies one escape sequence at the start of b and returns its
// length, or ok=false if b holds only part of it.
func (v *vtScreen) escape(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	if b[1] != '[' {
		return 2, true
	}
	i := 2
	for i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] == ';' || b[i] == '?') {
		i++
	}
	if i >= len(b) {
		return 0, false
	}
	params := strings.TrimPrefix(string(b[2:i]), "?")
	n := 0
	if p, _, _ := strings.Cut(params, ";"); p != "" {
		n, _ = strconv.Atoi(p)
	}
	one := max(n, 1)
	switch b[i] {
	case 'G':
		v.col = one - 1
	case 'A':
		v.row = max(v.row-one, 0)
	case 'B':
		v.row += one
	case 'C':
		v.col += one
	case 'D':
		v.col = max(v.col-one, 0)
	case 'K':
		l := v.line()
		switch n {
		case 0:
			if v.col < len(l) {
				v.lines[v.row] = l[:v.col]
			}
		case 1:
			for j := 0; j < v.col && j < len(l); j++ {
				l[j] = ' '
			}
		case 2:
			v.lines[v.row] = nil
		}
	case 'J':
		if n == 0 {
			l := v.line()
			if v.col < len(l) {
				v.lines[v.row] = l[:v.col]
			}
			v.lines = v.lines[:v.row+1]
		}
	case 'H':
		v.row, v.col = 0, 0
	}
	return i + 1, true
}

// String is the screen's text, trailing spaces and empty lines trimmed.
func (v *vtScreen) String() string {
	out := make([]string, len(v.lines))
	for i, l := range v.lines {
		out[i] = strings.TrimRight(string(l), " ")
	}
	for len(out) > 1 && out[len(out)-1] == "" && len(out)-1 > v.row {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}

func TestCompleteFind(t *testing.T) {
	cfg := host.DefaultConfig()
	cfg.Memory, cfg.VMs = true, 1
	node, err := host.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	sess, err := node.NewSession(false)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if out, failed, err := sess.Eval(`class Person { static indexes = ["owner", ["city", "age"]]; static unique = ["email"] }
odin.define(Person)`); failed || err != nil {
		t.Fatalf("%s %v", out, err)
	}
	sh := &shell{node: node, sess: sess, out: io.Discard, errOut: io.Discard}
	for _, c := range []struct {
		line, head string
		want       []string
	}{
		{".find Pe", ".find ", []string{"Person "}},
		{".indexes P", ".indexes ", []string{"Person "}},
		{".find Person ", ".find Person ", []string{"age", "city", "email", "owner", "order=", "limit=", "after=", "select "}},
		{".find Person owner=bob c", ".find Person owner=bob ", []string{"city"}},
		{".find Person o", ".find Person ", []string{"owner", "order="}},
		{".find Person order=-a", ".find Person ", []string{"order=-age "}},
		{".find Person owner=b", ".find Person ", nil},
		{".find Nobody o", ".find Nobody ", []string{"order="}},
	} {
		head, got, tail := sh.completeWord(c.line, len([]rune(c.line)))
		if head != c.head || tail != "" || !slices.Equal(got, c.want) {
			t.Errorf("%q: head %q, completions %q, tail %q; want head %q, completions %q", c.line, head, got, tail, c.head, c.want)
		}
	}
}
