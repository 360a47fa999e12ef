package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/peterh/liner"

	"github.com/odin-db/odin/host"
	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/scripting/repl"
)

// shellHelp is what .help prints.
const shellHelp = `.classes                     list the defined classes and their versions
.objects Class [after]       list the ids of a class's objects, 20 at a time (after an id)
.inspect Class/id            show an object: class, version, node, VM, state, tasklets
.find Class [cond...] [order=[-]field] [limit=N] [after=id] [select]
                             find objects through the class's indexes (odin.find); a
                             cond is field=value, field>value, field>=value,
                             field<value, field<=value or field^=prefix (a string
                             prefix); a value is JSON (30, true, null, "two words")
                             or else a bare string; select shows each object's state
.indexes [Class]             list the declared indexes and how far their builds are
.tasklets                    list the tasklets this shell started that are still alive
.nodes                       list the nodes and their VMs, with the objects active on
                             each, and the index builds not finished
.migrate Class/id NODE[/VM]  move an object to another node or VM
.load file.js                run a file in this shell (its declarations stay defined)
.exit                        leave the shell (or press Ctrl+D, or Ctrl+C twice)
.help                        print this help

Type JavaScript: the odin API is there, and await works at the top level.
Enter on an unfinished line continues it on the next. Tab completes names,
Up/Down and Ctrl+R search the history (~/.odin_history), Ctrl+C stops a
running line.`

// objectsPage is how many ids .objects prints at a time.
const objectsPage = 20

// shell is one `odin shell`: an embedded node and a session on it.
type shell struct {
	node        *host.Node
	sess        *host.Session
	out, errOut io.Writer
	interactive bool
}

func cmdShell(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags()
	nf := addNodeFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.rest) > 0 {
		return usageError{fmt.Sprintf("odin shell takes no arguments (to run %s, use odin run)", fs.rest[0])}
	}
	interactive := isTerminalIn(stdin) && isTerminalOut(stdout)
	colors := interactive && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"

	node, err := nf.open(stdout, stderr)
	if err != nil {
		return err
	}
	defer node.Close()
	sess, err := node.NewSession(colors)
	if err != nil {
		return err
	}
	defer sess.Close()
	sh := &shell{node: node, sess: sess, out: stdout, errOut: stderr, interactive: interactive}
	if interactive {
		where := "data in " + *nf.data
		if *nf.memory {
			where = "data in memory (--memory)"
		}
		fmt.Fprintf(stdout, "Odin %s shell: node %s, %d VMs, %s.\nType .help for help, .exit or Ctrl+D to leave.\n",
			version, node.Name(), node.VMs(), where)
		return sh.runInteractive()
	}
	return sh.runPiped(stdin)
}

// isTerminalIn reports whether r is the process's standard input and a
// terminal the line editor can drive.
func isTerminalIn(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok || f.Fd() != 0 || !isCharDevice(f) {
		return false
	}
	_, err := liner.TerminalMode()
	return err == nil
}

func isTerminalOut(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isCharDevice(f)
}

func isCharDevice(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// runInteractive is the shell on a terminal: a line editor with history
// and completion, a prompt, results in colour.
func (sh *shell) runInteractive() error {
	tap, err := tapStdin()
	if err != nil {
		return err
	}
	defer tap.restore()
	ln := liner.NewLiner()
	defer ln.Close()
	ln.SetCtrlCAborts(true)
	ln.SetTabCompletionStyle(liner.TabPrints)
	ln.SetMultiLineMode(true)
	ln.SetWordCompleter(sh.completeWord)
	hist := loadHistory(ln)

	// While a line runs, the terminal sends Ctrl+C as SIGINT: it interrupts
	// the line. At the prompt the line editor reads Ctrl+C as a key; between
	// prompts (the editor prints its prompt before it takes the terminal)
	// SIGINT is passed on to it as that key.
	var busy atomic.Bool
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	stop := make(chan struct{})
	defer func() { signal.Stop(sigs); close(stop) }()
	go func() {
		for {
			select {
			case <-sigs:
				if busy.Load() {
					sh.sess.Interrupt()
				} else {
					tap.inject(3)
				}
			case <-stop:
				return
			}
		}
	}()

	var buf []string
	ctrlC := false
	for {
		prompt := "odin> "
		if len(buf) > 0 {
			prompt = "... "
		}
		tap.typed.Store(false)
		line, err := ln.Prompt(prompt)
		switch {
		case errors.Is(err, liner.ErrPromptAborted):
			if len(buf) > 0 || tap.typed.Load() {
				// Ctrl+C drops an unfinished input, or clears the line.
				buf, ctrlC = nil, false
				continue
			}
			if ctrlC {
				return nil
			}
			ctrlC = true
			fmt.Fprintln(sh.out, "(To exit, press Ctrl+C again or Ctrl+D or type .exit)")
			continue
		case errors.Is(err, io.EOF):
			fmt.Fprintln(sh.out)
			return nil
		case err != nil:
			return err
		}
		ctrlC = false
		if strings.TrimSpace(line) != "" {
			ln.AppendHistory(line)
			hist.append(line)
		}
		if len(buf) == 0 && isDotCommand(line) {
			busy.Store(true)
			exit, _ := sh.dot(line)
			busy.Store(false)
			if exit {
				return nil
			}
			continue
		}
		buf = append(buf, line)
		src := strings.Join(buf, "\n")
		if repl.Incomplete(src) {
			continue
		}
		buf = nil
		if strings.TrimSpace(src) == "" {
			continue
		}
		busy.Store(true)
		out, _, err := sh.sess.Eval(src)
		busy.Store(false)
		if err != nil {
			return err
		}
		fmt.Fprintln(sh.out, out)
	}
}

// stdinTap stands between the terminal and the line editor, to tell
// whether anything was typed at a prompt: the editor hands back an empty
// line when Ctrl+C aborts it, and Ctrl+C on a line with text clears it
// while Ctrl+C on an empty line asks to exit (twice exits), as in Node.
type stdinTap struct {
	typed   atomic.Bool // a key other than Ctrl+C came since the prompt began
	orig    *os.File
	r, w    *os.File
	stopped atomic.Bool
}

// tapStdin replaces os.Stdin, which the line editor reads, by a pipe fed
// from the terminal. The editor still sets the terminal's mode on file
// descriptor 0.
func tapStdin() (*stdinTap, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	t := &stdinTap{orig: os.Stdin, r: r, w: w}
	os.Stdin = r
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := t.orig.Read(buf)
			for _, b := range buf[:n] {
				if b != 3 {
					t.typed.Store(true)
				}
			}
			if n > 0 && !t.stopped.Load() {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				w.Close()
				return
			}
		}
	}()
	return t, nil
}

// inject passes a key to the line editor as if typed.
func (t *stdinTap) inject(b byte) {
	if !t.stopped.Load() {
		_, _ = t.w.Write([]byte{b})
	}
}

func (t *stdinTap) restore() {
	t.stopped.Store(true)
	os.Stdin = t.orig
	t.w.Close()
	t.r.Close()
}

// runPiped is the shell reading a pipe or a file: no prompt, no colours.
// Inputs run in order and each result is printed, except undefined (so a
// declaration or a console.log prints nothing more). As `node` does with a
// script on its standard input, the first uncaught error is printed to
// stderr and ends the shell with exit code 1. SIGINT interrupts the running
// input and exits with 130.
func (sh *shell) runPiped(stdin io.Reader) error {
	var interrupted atomic.Bool
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	stop := make(chan struct{})
	defer func() { signal.Stop(sigs); close(stop) }()
	go func() {
		for {
			select {
			case <-sigs:
				interrupted.Store(true)
				sh.sess.Interrupt()
			case <-stop:
				return
			}
		}
	}()

	r := bufio.NewReader(stdin)
	var buf []string
	for {
		line, err := r.ReadString('\n')
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		if !eof || line != "" {
			if len(buf) == 0 && isDotCommand(line) {
				exit, failed := sh.dot(line)
				switch {
				case failed:
					return exitError{1}
				case exit:
					return nil
				case eof:
					return nil
				}
				continue
			}
			buf = append(buf, line)
		}
		src := strings.Join(buf, "\n")
		if !eof && repl.Incomplete(src) {
			continue
		}
		buf = nil
		if strings.TrimSpace(src) != "" {
			out, failed, err := sh.sess.Eval(src)
			if err != nil {
				return err
			}
			if interrupted.Load() {
				fmt.Fprintln(sh.errOut, out)
				return exitError{130}
			}
			if failed {
				fmt.Fprintln(sh.errOut, out)
				return exitError{1}
			}
			if out != "undefined" {
				fmt.Fprintln(sh.out, out)
			}
		}
		if eof {
			return nil
		}
	}
}

// ---- dot commands ----

var dotCommands = []string{".classes", ".exit", ".find", ".help", ".indexes", ".inspect", ".load", ".migrate", ".nodes", ".objects", ".tasklets"}

// isDotCommand reports whether a line is a shell command: a dot and a
// letter, as Node's REPL decides (".5 + 1" is JavaScript).
func isDotCommand(line string) bool {
	t := strings.TrimSpace(line)
	return len(t) >= 2 && t[0] == '.' && (t[1] >= 'a' && t[1] <= 'z' || t[1] >= 'A' && t[1] <= 'Z')
}

// errw is where the shell reports a failure: the terminal, or stderr when
// piped.
func (sh *shell) errw() io.Writer {
	if sh.interactive {
		return sh.out
	}
	return sh.errOut
}

func (sh *shell) fail(format string, a ...any) (exit, failed bool) {
	fmt.Fprintf(sh.errw(), format+"\n", a...)
	return false, true
}

// dot runs one dot command; exit asks the shell to end.
func (sh *shell) dot(line string) (exit, failed bool) {
	t := strings.TrimSpace(line)
	fields := strings.Fields(t)
	cmd, args := fields[0], fields[1:]
	switch cmd {
	case ".help":
		fmt.Fprintln(sh.out, shellHelp)
	case ".exit":
		return true, false
	case ".classes":
		return sh.classes()
	case ".objects":
		if len(args) < 1 || len(args) > 2 {
			return sh.fail("usage: .objects Class [after]")
		}
		after := ""
		if len(args) == 2 {
			after = args[1]
		}
		return sh.objects(args[0], after)
	case ".inspect":
		if len(args) != 1 {
			return sh.fail("usage: .inspect Class/id")
		}
		ref, err := parseRef(args[0])
		if err != nil {
			return sh.fail("%v", err)
		}
		return sh.evalPrint(fmt.Sprintf("await odin.inspect(odin.ref(%s, %s))", jsString(ref.Class), jsString(ref.ID)))
	case ".find":
		src, err := findSource(strings.TrimSpace(strings.TrimPrefix(t, ".find")))
		if err != nil {
			return sh.fail("%v", err)
		}
		return sh.evalPrint(src)
	case ".indexes":
		if len(args) > 1 {
			return sh.fail("usage: .indexes [Class]")
		}
		class := ""
		if len(args) == 1 {
			class = args[0]
		}
		return sh.indexes(class)
	case ".tasklets":
		return sh.tasklets()
	case ".nodes":
		return sh.nodes()
	case ".migrate":
		if len(args) != 2 {
			return sh.fail("usage: .migrate Class/id NODE[/VM]")
		}
		return sh.migrate(args[0], args[1])
	case ".load":
		path := strings.TrimSpace(strings.TrimPrefix(t, ".load"))
		if path == "" {
			return sh.fail("usage: .load file.js")
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return sh.fail("cannot read %s: %v", path, err)
		}
		return sh.evalPrint(string(src))
	default:
		return sh.fail("%s is not a shell command (type .help for the list)", cmd)
	}
	return false, false
}

// evalPrint runs JavaScript for a dot command and prints its result
// (nothing for undefined).
func (sh *shell) evalPrint(src string) (exit, failed bool) {
	out, failed, err := sh.sess.Eval(src)
	switch {
	case err != nil:
		return sh.fail("%v", err)
	case failed:
		fmt.Fprintln(sh.errw(), out)
	case out != "undefined" && !strings.HasSuffix(out, "undefined\x1b[39m"):
		fmt.Fprintln(sh.out, out)
	}
	return false, failed
}

func (sh *shell) classes() (exit, failed bool) {
	cs := sh.node.Classes()
	names := cs.Names()
	if len(names) == 0 {
		fmt.Fprintln(sh.out, "No classes are defined yet: define one with odin.define(Class).")
		return false, false
	}
	for _, n := range names {
		if d := cs.Latest(n); d != nil {
			fmt.Fprintf(sh.out, "%-24s v%d\n", n, d.Version)
		}
	}
	return false, false
}

func (sh *shell) objects(class, after string) (exit, failed bool) {
	if !sh.node.Classes().Defined(class) {
		return sh.fail("no class %q is defined (see .classes)", class)
	}
	ids, err := sh.node.ListObjects(class, after, objectsPage+1)
	if err != nil {
		return sh.fail("%v", err)
	}
	if len(ids) == 0 {
		if after != "" {
			fmt.Fprintf(sh.out, "No objects of class %s after %q.\n", class, after)
		} else {
			fmt.Fprintf(sh.out, "No objects of class %s yet.\n", class)
		}
		return false, false
	}
	more := len(ids) > objectsPage
	if more {
		ids = ids[:objectsPage]
	}
	for _, id := range ids {
		fmt.Fprintf(sh.out, "%s/%s\n", class, id)
	}
	if more {
		fmt.Fprintf(sh.out, "... more: .objects %s %s\n", class, ids[len(ids)-1])
	}
	return false, false
}

func (sh *shell) tasklets() (exit, failed bool) {
	ts, err := sh.sess.Tasklets()
	if err != nil {
		return sh.fail("%v", err)
	}
	if len(ts) == 0 {
		fmt.Fprintln(sh.out, "No tasklets are running.")
		return false, false
	}
	for _, t := range ts {
		what := "spawned"
		if t.Input != "" {
			what = "running input " + t.Input
		}
		fmt.Fprintf(sh.out, "Tasklet<%d>  %-8s %s\n", t.ID, t.State, what)
	}
	return false, false
}

func (sh *shell) nodes() (exit, failed bool) {
	if sh.node.RPCAddr() != "" || sh.node.VMs() == 0 {
		// A cluster node, or a client of one: every node of the cluster.
		sts, err := sh.node.ClusterStatus()
		if err != nil {
			return sh.fail("%v", err)
		}
		writeNodes(sh.out, sts)
		var ixs []host.IndexInfo
		for _, st := range sts {
			ixs = append(ixs, st.Indexes...)
		}
		if s := indexSummary(ixs); s != "" {
			fmt.Fprintf(sh.out, "indexes: %s\n", s)
		}
		return false, false
	}
	st := sh.node.Status()
	fmt.Fprintf(sh.out, "node %s (this process): %d VMs\n", st.Name, len(st.VMs))
	for _, vm := range st.VMs {
		switch vm.Objects {
		case -1:
			fmt.Fprintf(sh.out, "  VM %d: busy\n", vm.Index)
		case 1:
			fmt.Fprintf(sh.out, "  VM %d: 1 object active\n", vm.Index)
		default:
			fmt.Fprintf(sh.out, "  VM %d: %d objects active\n", vm.Index, vm.Objects)
		}
	}
	ixs, err := sh.node.Indexes()
	if err != nil {
		return sh.fail("%v", err)
	}
	if s := indexSummary(ixs); s != "" {
		fmt.Fprintf(sh.out, "  indexes: %s\n", s)
	}
	return false, false
}

// indexes prints the declared indexes (of one class, or of all) and the
// state of their builds.
func (sh *shell) indexes(class string) (exit, failed bool) {
	if class != "" && !sh.node.Classes().Defined(class) {
		return sh.fail("no class %q is defined (see .classes)", class)
	}
	all, err := sh.node.Indexes()
	if err != nil {
		return sh.fail("%v", err)
	}
	var list []host.IndexInfo
	for _, ix := range all {
		if class == "" || ix.Class == class {
			list = append(list, ix)
		}
	}
	switch {
	case len(list) > 0:
		writeIndexes(sh.out, list, false)
	case class != "":
		fmt.Fprintf(sh.out, "%s has no indexes: declare them with static indexes = [...] (or static unique = [...]).\n", class)
	default:
		fmt.Fprintln(sh.out, "No indexes are declared: a class declares them with static indexes = [...] (or static unique = [...]).")
	}
	return false, false
}

// migrate calls odin.migrate (to another node, another VM, or both), then
// shows where the object is.
func (sh *shell) migrate(refArg, target string) (exit, failed bool) {
	ref, err := parseRef(refArg)
	if err != nil {
		return sh.fail("%v", err)
	}
	node, vm := target, ""
	if i := strings.LastIndexByte(target, '/'); i >= 0 {
		node, vm = target[:i], target[i+1:]
	}
	var opts []string
	if node != "" {
		opts = append(opts, "node: "+jsString(node))
	}
	if vm != "" {
		n, err := strconv.Atoi(vm)
		if err != nil || n < 0 {
			return sh.fail("usage: .migrate Class/id NODE[/VM], with VM a number from 0 (not %q)", vm)
		}
		opts = append(opts, "vm: "+strconv.Itoa(n))
	}
	r := fmt.Sprintf("odin.ref(%s, %s)", jsString(ref.Class), jsString(ref.ID))
	return sh.evalPrint(fmt.Sprintf(`typeof odin.migrate !== "function" ? void console.log("migration is not available yet") : (await odin.migrate(%s, {%s}), await odin.placement(%s))`,
		r, strings.Join(opts, ", "), r))
}

// findUsage is what a malformed .find prints.
const findUsage = "usage: .find Class [field=value | field>value | field>=value | field<value | field<=value | field^=prefix]... [order=[-]field] [limit=N] [after=id] [select]"

// findOps are the operators of a .find condition, longest first, with the
// odin.find condition each stands for.
var findOps = []struct{ op, name string }{
	{">=", "gte"}, {"<=", "lte"}, {"^=", "prefix"}, {"=", "eq"}, {">", "gt"}, {"<", "lt"},
}

// findSource turns the arguments of .find (the text after it) into the
// odin.find call that runs it: every condition as {op: value}, so that a
// value is never taken for conditions.
func findSource(text string) (string, error) {
	words, err := splitWords(text)
	if err != nil {
		return "", fmt.Errorf("%v\n%s", err, findUsage)
	}
	if len(words) == 0 {
		return "", errors.New(findUsage)
	}
	class := words[0]
	if strings.ContainsAny(class, "=<>^\"") {
		return "", fmt.Errorf("%s\n(the class comes first, then the conditions: .find Account owner=bob)", findUsage)
	}
	type field struct {
		name string
		ops  []string // op: value, as JavaScript
	}
	var fields []*field
	var opts []string
	seenOpt := map[string]bool{}
	option := func(name, js string) error {
		if seenOpt[name] {
			return fmt.Errorf("%s is given twice", name)
		}
		seenOpt[name] = true
		opts = append(opts, name+": "+js)
		return nil
	}
	for _, w := range words[1:] {
		if w == "select" {
			if err := option("select", "true"); err != nil {
				return "", err
			}
			continue
		}
		i := strings.IndexAny(w, "=<>^")
		if strings.HasPrefix(w, "\"") {
			// A quoted field name: the operator follows its closing quote.
			i = -1
			if end := quotedEnd(w); end > 0 {
				if j := strings.IndexAny(w[end:], "=<>^"); j == 0 {
					i = end
				}
			}
		}
		if i < 0 {
			return "", fmt.Errorf("%q is not a condition (such as owner=bob or age>=18) nor an option\n%s", w, findUsage)
		}
		name, rest := w[:i], w[i:]
		if strings.HasPrefix(name, "\"") {
			if err := json.Unmarshal([]byte(name), &name); err != nil {
				return "", fmt.Errorf("%s: the field name is not a valid quoted string", w)
			}
		}
		if name == "" {
			return "", fmt.Errorf("%q has no field name before %c\n%s", w, rest[0], findUsage)
		}
		op, opName := "", ""
		for _, o := range findOps {
			if strings.HasPrefix(rest, o.op) {
				op, opName = o.op, o.name
				break
			}
		}
		if op == "" {
			return "", fmt.Errorf("%q: ^ must be followed by = (field^=prefix)\n%s", w, findUsage)
		}
		raw := rest[len(op):]
		if op == "=" && w[:i] == name { // an option, unless the name was quoted
			switch name {
			case "order":
				if err := option("order", jsString(plainString(raw))); err != nil {
					return "", err
				}
				continue
			case "limit":
				n, err := strconv.Atoi(raw)
				if err != nil || n < 1 {
					return "", fmt.Errorf("limit=%s: the limit is a whole number from 1", raw)
				}
				if err := option("limit", strconv.Itoa(n)); err != nil {
					return "", err
				}
				continue
			case "after":
				if err := option("after", fmt.Sprintf("odin.ref(%s, %s)", jsString(class), jsString(plainString(raw)))); err != nil {
					return "", err
				}
				continue
			case "select":
				b, err := strconv.ParseBool(raw)
				if err != nil {
					return "", fmt.Errorf("select=%s: select takes true or false (or write select alone)", raw)
				}
				if err := option("select", strconv.FormatBool(b)); err != nil {
					return "", err
				}
				continue
			}
		}
		val := jsValue(raw)
		if opName == "prefix" {
			val = jsString(plainString(raw))
		}
		var f *field
		for _, g := range fields {
			if g.name == name {
				f = g
			}
		}
		if f == nil {
			f = &field{name: name}
			fields = append(fields, f)
		}
		for _, o := range f.ops {
			if strings.HasPrefix(o, opName+": ") {
				return "", fmt.Errorf("field %s has two %s conditions", name, op)
			}
		}
		f.ops = append(f.ops, opName+": "+val)
	}
	conds := make([]string, len(fields))
	for i, f := range fields {
		conds[i] = jsString(f.name) + ": {" + strings.Join(f.ops, ", ") + "}"
	}
	src := fmt.Sprintf("await odin.find(%s, {%s}", jsString(class), strings.Join(conds, ", "))
	if len(opts) > 0 {
		src += ", {" + strings.Join(opts, ", ") + "}"
	}
	return src + ")", nil
}

// splitWords splits a command line at blanks, keeping a double-quoted part
// (JSON: \" escapes a quote) in its word, quotes included.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inQuote, escaped, have := false, false, false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case inQuote && r == '\\':
			escaped = true
		case r == '"':
			inQuote = !inQuote
		case !inQuote && (r == ' ' || r == '\t'):
			if have {
				words = append(words, cur.String())
				cur.Reset()
				have = false
			}
			continue
		}
		cur.WriteRune(r)
		have = true
	}
	if inQuote {
		return nil, errors.New("a quoted value is not closed (\")")
	}
	if have {
		words = append(words, cur.String())
	}
	return words, nil
}

// quotedEnd is the length of the double-quoted string at the start of s
// (escapes skipped), or -1 if it is not closed.
func quotedEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// jsValue is a condition value as JavaScript: the JSON value raw is, if it
// is JSON, or else the string raw.
func jsValue(raw string) string {
	if raw == "" || !json.Valid([]byte(raw)) {
		return jsString(raw)
	}
	d := json.NewDecoder(strings.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return jsString(raw)
	}
	b, err := json.Marshal(v) // escapes U+2028 and U+2029, which JavaScript source may not hold raw
	if err != nil {
		return jsString(raw)
	}
	return string(b)
}

// plainString is raw unquoted if it is a JSON string, else raw itself.
func plainString(raw string) string {
	var s string
	if strings.HasPrefix(raw, "\"") && json.Unmarshal([]byte(raw), &s) == nil {
		return s
	}
	return raw
}

// parseRef reads Class/id.
func parseRef(s string) (objects.Ref, error) {
	i := strings.IndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return objects.Ref{}, fmt.Errorf("%q is not Class/id (for example Account/alice)", s)
	}
	r := objects.Ref{Class: s[:i], ID: s[i+1:]}
	if err := r.Validate(); err != nil {
		return objects.Ref{}, err
	}
	return r, nil
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ---- completion ----

// completeWord is the line editor's completer: pos counts runes.
func (sh *shell) completeWord(line string, pos int) (head string, completions []string, tail string) {
	runes := []rune(line)
	if pos > len(runes) {
		pos = len(runes)
	}
	before, after := string(runes[:pos]), string(runes[pos:])
	if isDotCommand(before) || strings.TrimSpace(before) == "." {
		return sh.completeDot(before, after)
	}
	cands, start := sh.sess.Complete(line, len(before))
	if start > len(before) {
		start = len(before)
	}
	return before[:start], cands, after
}

// completeDot completes a dot command's name, and the class of its first
// argument.
func (sh *shell) completeDot(before, after string) (string, []string, string) {
	t := strings.TrimLeft(before, " ")
	lead := before[:len(before)-len(t)]
	if !strings.Contains(t, " ") {
		var out []string
		for _, c := range dotCommands {
			if strings.HasPrefix(c, t) {
				out = append(out, c+" ")
			}
		}
		return lead, out, after
	}
	fields := strings.Fields(t)
	cmd := fields[0]
	switch cmd {
	case ".objects", ".inspect", ".migrate", ".indexes", ".find":
	default:
		return before, nil, after
	}
	rest := strings.TrimLeft(t[len(cmd):], " ")
	if cmd == ".find" && strings.Contains(rest, " ") {
		return sh.completeFind(before, after, strings.Fields(rest)[0])
	}
	// Only the first argument, while it has no slash yet.
	if strings.ContainsAny(rest, " /") {
		return before, nil, after
	}
	suffix := " "
	if cmd == ".inspect" || cmd == ".migrate" {
		suffix = "/"
	}
	var out []string
	names := sh.node.Classes().Names()
	sort.Strings(names)
	for _, n := range names {
		if strings.HasPrefix(n, rest) {
			out = append(out, n+suffix)
		}
	}
	return before[:len(before)-len(rest)], out, after
}

// completeFind completes a word of .find after the class: the fields of
// the class's indexes, the options, and order's fields.
func (sh *shell) completeFind(before, after, class string) (string, []string, string) {
	word := before[strings.LastIndexAny(before, " \t")+1:]
	head := before[:len(before)-len(word)]
	var fields []string
	if d := sh.node.Classes().Latest(class); d != nil {
		seen := map[string]bool{}
		for _, ix := range d.Indexes {
			for _, f := range ix.Fields {
				if !seen[f] {
					seen[f] = true
					fields = append(fields, f)
				}
			}
		}
	}
	sort.Strings(fields)
	var cands []string
	if strings.HasPrefix(word, "order=") {
		for _, f := range fields {
			cands = append(cands, "order="+f+" ", "order=-"+f+" ")
		}
	} else if !strings.ContainsAny(word, "=<>^") {
		cands = append(fields, "order=", "limit=", "after=", "select ")
	}
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, word) {
			out = append(out, c)
		}
	}
	return head, out, after
}

// ---- history ----

// history appends the lines typed to ~/.odin_history ($ODIN_HISTORY
// overrides the path; an empty $ODIN_HISTORY set keeps no history).
type history struct{ path string }

func historyPath() string {
	if p, ok := os.LookupEnv("ODIN_HISTORY"); ok {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".odin_history")
}

// loadHistory reads the history file into the editor, trimming the file
// when it has grown well past what the editor keeps.
func loadHistory(ln *liner.State) *history {
	h := &history{path: historyPath()}
	if h.path == "" {
		return h
	}
	f, err := os.Open(h.path)
	if err != nil {
		return h
	}
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		lines++
	}
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		_, _ = ln.ReadHistory(f)
	}
	f.Close()
	if lines > 2*liner.HistoryLimit {
		if f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
			_, _ = ln.WriteHistory(f)
			f.Close()
		}
	}
	return h
}

// append adds one line to the file at once, so that a crash loses none.
func (h *history) append(line string) {
	if h.path == "" {
		return
	}
	f, err := os.OpenFile(h.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	fmt.Fprintln(f, line)
	f.Close()
}
