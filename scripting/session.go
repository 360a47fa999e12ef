package scripting

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/odin-db/odin/scripting/jsinspect"
	"github.com/odin-db/odin/scripting/repl"
)

// ErrSessionClosed is returned for a session used after Close.
var ErrSessionClosed = errors.New("scripting: session closed")

// interruptGrace is how long Interrupt lets the worker come round to a
// queued function (the line is then suspended at an await, or finished)
// before it concludes that code is running and interrupts the runtime.
const interruptGrace = 100 * time.Millisecond

// interruptPulse is how long an interrupt stays set, and then cleared,
// while Interrupt waits for running code to stop.
const interruptPulse = 20 * time.Millisecond

// Session is an interactive session (odin shell) on a script worker: one
// script activation whose global variables persist from one input to the
// next, each input running as a tasklet of that activation (so a top-level
// await suspends only that input). Eval, Interrupt, Complete, Tasklets and
// Close may be called from any goroutine; one input runs at a time.
type Session struct {
	w      *Worker
	colors bool

	cur    atomic.Pointer[input] // the input in progress, nil between inputs
	closed atomic.Bool

	// Worker goroutine only.
	act    *activation
	n      int
	probe  *goja.Object            // {lookup, names}: side-effect-free helpers for completion
	inputs map[uint64]string       // tasklet id -> input name, for the tasklets running inputs
	ended  bool                    // Close ran on the worker
	loaded map[string][]string     // class name -> methods, cached per class version
	vers   map[string]*ClassDef    // the version the cached methods are of
	codes  map[string]*repl.Result // input name -> its rewrite, to map stack positions back
}

// input is one Eval in progress.
type input struct {
	task        *tasklet // worker goroutine only
	interrupted atomic.Bool
}

// probeSource builds the completion helpers. They read properties through
// descriptors, so completing never runs a getter.
const probeSource = `(function () {
  const gopd = Object.getOwnPropertyDescriptor, gpo = Object.getPrototypeOf, gopn = Object.getOwnPropertyNames;
  const box = (o) => (o === null || o === undefined) ? o : (typeof o === "object" || typeof o === "function") ? o : Object(o);
  return {
    lookup(root, path) {
      let o = root;
      for (const k of path) {
        let p = box(o), d;
        if (p === null || p === undefined) return undefined;
        for (let i = 0; p && i < 64 && !(d = gopd(p, k)); i++) p = gpo(p);
        if (!d || !("value" in d)) return undefined;
        o = d.value;
      }
      return o;
    },
    names(o) {
      const out = [];
      let p = box(o);
      for (let i = 0; p && i < 64; i++) { out.push(...gopn(p)); p = gpo(p); }
      return out;
    },
  };
})()`

// OpenSession starts an interactive session on this worker. With colors,
// results are printed with ANSI colours as Node's REPL does on a terminal.
func (w *Worker) OpenSession(colors bool) (*Session, error) {
	s := &Session{w: w, colors: colors, inputs: map[uint64]string{}, codes: map[string]*repl.Result{}, loaded: map[string][]string{}, vers: map[string]*ClassDef{}}
	errc := make(chan error, 1)
	err := w.Do(func() {
		w.nextID++
		a := &activation{ref: w.scriptRef(), script: true}
		a.frame.act = a
		w.acts[a.ref] = a // replies to its calls are routed by its ref
		s.act = a
		v, err := w.rt.RunString(probeSource)
		if err == nil {
			s.probe = v.ToObject(w.rt)
		}
		errc <- err
	})
	if err != nil {
		return nil, err
	}
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("scripting: open session: %w", err)
	}
	return s, nil
}

// Eval runs one input in the session as Node's REPL would and calls done
// (on the worker's goroutine, or at once if the session is closed or its
// worker stopped) with what the REPL prints: the inspected
// value of the input's last expression (`undefined` if it has none), or,
// with failed set, `Uncaught ` and the error with its stack (never a Go
// trace). Console output goes to the worker's Stdout and Stderr as it
// happens.
func (s *Session) Eval(src string, done func(out string, failed bool)) {
	if s.closed.Load() {
		done("Uncaught Error: the session is closed", true)
		return
	}
	in := &input{}
	s.cur.Store(in)
	finish := func(out string, failed bool) {
		s.cur.CompareAndSwap(in, nil)
		done(out, failed)
	}
	if err := s.w.Do(func() { s.eval(in, src, finish) }); err != nil {
		finish("Uncaught Error: the session's VM has stopped", true)
	}
}

func (s *Session) eval(in *input, src string, finish func(string, bool)) {
	w := s.w
	if s.ended {
		finish("Uncaught Error: the session is closed", true)
		return
	}
	if in.interrupted.Load() {
		finish(s.interruptedText(), true)
		return
	}
	s.w.repair.run()
	s.n++
	name := fmt.Sprintf("REPL%d", s.n)
	r, err := repl.Transform(name, src)
	if err != nil {
		finish(s.syntaxErrorText(name, src, err), true)
		return
	}
	prog, err := goja.CompileAST(r.Program, false)
	r.Program = nil // keep only what maps positions back
	s.codes[name] = r
	if err != nil {
		var ce *goja.CompilerSyntaxError
		if errors.As(err, &ce) {
			finish(s.paint("Uncaught SyntaxError: ", styleErr)+ce.Message, true)
		} else {
			finish(s.paint("Uncaught SyntaxError: ", styleErr)+err.Error(), true)
		}
		return
	}
	w.beginTurn(s.act, nil)
	fv, err := w.rt.RunProgram(prog)
	var fn goja.Callable
	if err == nil {
		var ok bool
		if fn, ok = goja.AssertFunction(fv); !ok {
			err = fmt.Errorf("the input did not compile to a function")
		}
	}
	if err != nil {
		v := w.api.thrown(err)
		w.turn.failed = nil
		w.endTurn()
		finish(s.thrownText(v), true)
		return
	}
	hasValue := r.HasValue
	var t *tasklet
	t = w.spawnTasklet(s.act, fn, nil, func(v goja.Value, failed bool) {
		delete(s.inputs, t.id)
		switch {
		case failed && in.interrupted.Load():
			// The interrupt stopped this input: clear it now, before other
			// code runs into it.
			w.wmu.Lock()
			w.rt.ClearInterrupt()
			w.wmu.Unlock()
			finish(s.interruptedText(), true)
		case failed:
			finish(s.thrownText(v), true)
		default:
			val := goja.Undefined()
			if o, ok := v.(*goja.Object); ok && hasValue {
				val = o.Get("value")
			}
			finish(s.inspect(val), false)
		}
	})
	in.task = t
	s.inputs[t.id] = name
	w.endTurn()
}

// Interrupt stops the input in progress, if any: a synchronous loop is
// interrupted through the runtime, an input suspended at an await is
// killed there (its finally blocks run). The session goes on. Tasklets the
// input spawned keep running.
func (s *Session) Interrupt() {
	in := s.cur.Load()
	if in == nil {
		return
	}
	in.interrupted.Store(true)
	s.onWorker(func() {
		if t := in.task; t != nil && !t.done {
			s.w.runInFrame(&t.frame, nil, func() { s.w.kill(t) })
		}
	})
}

// onWorker runs fn on the worker's goroutine. If the worker does not come
// to it within interruptGrace, JavaScript is running there (a loop): the
// runtime is interrupted, in pulses, until fn runs. goja keeps an
// interrupt pending until it is cleared, and would stop whatever code runs
// next with it, so each pulse is cleared once the code it targets has had
// time to stop, and fn clears any left (under the watchdog's lock) and
// repairs the VM before it runs. It returns whether fn was queued.
func (s *Session) onWorker(fn func()) bool {
	w := s.w
	ran := make(chan struct{})
	err := w.Do(func() {
		close(ran)
		w.wmu.Lock()
		w.rt.ClearInterrupt()
		w.wmu.Unlock()
		s.w.repair.run()
		fn()
	})
	if err != nil {
		return false
	}
	wait := func(d time.Duration) bool {
		select {
		case <-ran:
			return true
		case <-time.After(d):
			return false
		}
	}
	if wait(interruptGrace) {
		return true
	}
	for pulse := 0; pulse < 100; pulse++ {
		w.wmu.Lock()
		select {
		case <-ran:
			w.wmu.Unlock()
			return true
		default:
			w.rt.Interrupt(errInterrupted{})
		}
		w.wmu.Unlock()
		if wait(interruptPulse) {
			return true
		}
		w.wmu.Lock()
		w.rt.ClearInterrupt()
		w.wmu.Unlock()
		if wait(interruptPulse) {
			return true
		}
	}
	return true
}

// errInterrupted is the value a session's interrupt carries.
type errInterrupted struct{}

func (errInterrupted) Error() string { return "Script execution interrupted." }

// TaskletInfo describes a live tasklet of a session.
type TaskletInfo struct {
	ID uint64
	// State is "running" (started, not waiting on an operation the worker
	// knows of), "waiting" (suspended at an odin operation: a call, a
	// channel, a sleep, a join) or "new" (spawned, not started yet).
	State string
	// Input names the shell input the tasklet runs ("REPL3"), or is empty
	// for a tasklet spawned with odin.spawn.
	Input string
}

// Tasklets lists the session's live tasklets in spawn order.
func (s *Session) Tasklets() ([]TaskletInfo, error) {
	var out []TaskletInfo
	err := s.call(func() {
		for _, t := range s.act.sortedTasklets() {
			st := "running"
			switch {
			case !t.started:
				st = "new"
			case t.current != 0:
				st = "waiting"
			}
			out = append(out, TaskletInfo{ID: t.id, State: st, Input: s.inputs[t.id]})
		}
	}, 2*time.Second)
	return out, err
}

// call runs fn on the worker and waits for it, at most d.
func (s *Session) call(fn func(), d time.Duration) error {
	if s.closed.Load() {
		return ErrSessionClosed
	}
	done := make(chan struct{})
	if err := s.w.Do(func() { fn(); close(done) }); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("scripting: the session's VM is busy (a loop running? press Ctrl-C)")
	}
}

// Close ends the session: its live tasklets are killed. A loop still
// running is interrupted.
func (s *Session) Close() {
	if s.closed.Swap(true) {
		return
	}
	done := make(chan struct{})
	queued := s.onWorker(func() {
		defer close(done)
		s.ended = true
		for _, t := range s.act.sortedTasklets() {
			s.w.runInFrame(&t.frame, nil, func() { s.w.kill(t) })
		}
		if s.w.acts[s.act.ref] == s.act {
			delete(s.w.acts, s.act.ref)
		}
	})
	if !queued {
		return
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// ---- printing ----

const styleErr = "\x1b[31m"

func (s *Session) paint(text, style string) string {
	if !s.colors {
		return text
	}
	return style + text + "\x1b[39m"
}

func (s *Session) inspect(v goja.Value) string {
	o := s.w.inspectOptions()
	o.Colors = s.colors
	return jsinspect.Inspect(s.w.rt, v, o)
}

func (s *Session) interruptedText() string {
	return s.paint("Uncaught Error: ", styleErr) + "Script execution interrupted."
}

// internalFrame matches frames of Odin's own JavaScript (the prelude).
var internalFrame = regexp.MustCompile(`^\s+at (?:\S+ \()?odin:prelude:`)

// wrapperFrame matches the nameless frame of the function an input runs in:
// the bottom frame of an error thrown by the input.
var wrapperFrame = regexp.MustCompile(`^\s+at (?:async )?REPL\d+:\d+:\d+(?:\(\d+\))?$`)

// framePC is the program counter goja adds to a frame's position.
var framePC = regexp.MustCompile(`(:\d+:\d+)\(\d+\)`)

// thrownText renders a thrown value as Node's REPL does: "Uncaught " and
// the value inspected (for an Error, its stack and own properties), with
// the frames of the shell's own code left out and positions in what was
// typed.
func (s *Session) thrownText(v goja.Value) string {
	text := s.inspect(v)
	if _, ok := v.(*goja.Object); ok {
		lines := strings.Split(text, "\n")
		last := -1
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(stripANSI(l)), "at ") {
				last = i
			}
		}
		kept := lines[:0]
		for i, l := range lines {
			plain := stripANSI(l)
			if internalFrame.MatchString(plain) || i == last && wrapperFrame.MatchString(plain) {
				continue
			}
			if strings.HasPrefix(strings.TrimSpace(plain), "at ") {
				l = s.inputPositions(framePC.ReplaceAllString(l, "$1"))
			}
			kept = append(kept, l)
		}
		text = strings.Join(kept, "\n")
	}
	return s.paint("Uncaught ", styleErr) + text
}

var inputPosition = regexp.MustCompile(`\b(REPL\d+):(\d+):(\d+)`)

// inputPositions maps the positions in a stack frame from the rewritten
// code of an input back to what was typed.
func (s *Session) inputPositions(frame string) string {
	return inputPosition.ReplaceAllStringFunc(frame, func(m string) string {
		p := inputPosition.FindStringSubmatch(m)
		r := s.codes[p[1]]
		if r == nil {
			return m
		}
		line, _ := strconv.Atoi(p[2])
		col, _ := strconv.Atoi(p[3])
		line, col = r.Position(line, col)
		return fmt.Sprintf("%s:%d:%d", p[1], line, col)
	})
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripANSI(s string) string { return ansi.ReplaceAllString(s, "") }

// syntaxErrorText shows a syntax error as Node's REPL does: the line, a
// caret under the position, and the message.
func (s *Session) syntaxErrorText(name, src string, err error) string {
	var se *repl.SyntaxError
	if !errors.As(err, &se) {
		return s.paint("Uncaught SyntaxError: ", styleErr) + err.Error()
	}
	var b strings.Builder
	lines := strings.Split(src, "\n")
	if se.Line >= 1 && se.Line <= len(lines) && len(lines[se.Line-1]) <= 200 {
		l := lines[se.Line-1]
		fmt.Fprintf(&b, "%s:%d\n%s\n%s^\n\n", name, se.Line, l, caretPad(l, se.Column-1))
	}
	b.WriteString(s.paint("Uncaught SyntaxError: ", styleErr) + se.Message)
	return b.String()
}

// caretPad is the indentation that puts a caret under byte col of l
// (tabs kept, so that the caret lines up on a terminal).
func caretPad(l string, col int) string {
	var b strings.Builder
	for i, r := range l {
		if i >= col {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// ---- completion ----

// Complete proposes completions for the word before byte offset pos of
// line: global names, keywords and class names; after `expr.`, the
// properties of expr's value when expr is a variable path (a.b.c, a[0]),
// and the methods of a Ref's class when the value is a Ref or expr is a
// literal odin.ref("Class", ...); inside the class-name string of
// odin.ref("..., odin.objects("... or odin.find("..., class names. expr is
// never evaluated: properties are read through descriptors (no getter
// runs). It returns the candidates, sorted, and the offset where the word
// they replace starts. A busy worker gives no candidates.
func (s *Session) Complete(line string, pos int) (candidates []string, start int) {
	if pos < 0 || pos > len(line) {
		pos = len(line)
	}
	start = pos
	err := s.call(func() { candidates, start = s.complete(line[:pos]) }, time.Second)
	if err != nil {
		return nil, pos
	}
	return candidates, start
}

var (
	classArg   = regexp.MustCompile(`(?:^|[^\w$.])odin\s*\.\s*(?:ref|objects|find)\s*\(\s*["']([\w$]*)$`)
	refLiteral = regexp.MustCompile(`^odin\s*\.\s*ref\s*\(\s*(?:(["'])([A-Za-z_$][\w$]*)["']|([A-Za-z_$][\w$]*))\s*,`)
	pathExpr   = regexp.MustCompile(`^[A-Za-z_$][\w$]*(?:\s*(?:\??\.\s*[A-Za-z_$][\w$]*|\[\s*\d+\s*\]|\[\s*(?:"[^"\\]*"|'[^'\\]*')\s*\]))*$`)
	pathPart   = regexp.MustCompile(`[A-Za-z_$][\w$]*|\d+|"[^"\\]*"|'[^'\\]*'`)
	identifier = regexp.MustCompile(`^[A-Za-z_$][\w$]*$`)
)

var keywords = []string{"async", "await", "break", "case", "catch", "class", "const", "continue",
	"debugger", "default", "delete", "do", "else", "extends", "false", "finally", "for", "function",
	"if", "in", "instanceof", "let", "new", "null", "of", "return", "static", "super", "switch", "this",
	"throw", "true", "try", "typeof", "undefined", "var", "void", "while", "yield"}

func (s *Session) complete(text string) ([]string, int) {
	if m := classArg.FindStringSubmatch(text); m != nil {
		return matching(s.w.cfg.Classes.Names(), m[1]), len(text) - len(m[1])
	}
	i := len(text)
	for i > 0 && isIdent(text[i-1]) {
		i--
	}
	partial := text[i:]
	if partial != "" && partial[0] >= '0' && partial[0] <= '9' {
		return nil, len(text)
	}
	if i > 0 && text[i-1] == '.' {
		end := i - 1
		if end > 0 && text[end-1] == '?' {
			end--
		}
		expr := memberExpression(text[:end])
		if expr == "" {
			return nil, i
		}
		return matching(s.members(expr), partial), i
	}
	if i > 0 && (text[i-1] >= '0' && text[i-1] <= '9') {
		return nil, i
	}
	names := s.propertyNames(s.w.rt.GlobalObject())
	names = append(names, keywords...)
	names = append(names, s.w.cfg.Classes.Names()...)
	return matching(names, partial), i
}

// members lists what may follow `expr.`.
func (s *Session) members(expr string) []string {
	if m := refLiteral.FindStringSubmatch(expr); m != nil {
		class := m[2]
		if class == "" {
			class = m[3]
		}
		return s.refMembers(class)
	}
	if !pathExpr.MatchString(expr) {
		return nil
	}
	var parts []string
	for _, p := range pathPart.FindAllString(expr, -1) {
		if p[0] == '"' || p[0] == '\'' {
			p = p[1 : len(p)-1]
		}
		parts = append(parts, p)
	}
	lookup, _ := goja.AssertFunction(s.probe.Get("lookup"))
	arr := make([]any, len(parts))
	for i, p := range parts {
		arr[i] = p
	}
	v, err := lookup(s.probe, s.w.rt.GlobalObject(), s.w.rt.NewArray(arr...))
	if err != nil || v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	if o, ok := v.(*goja.Object); ok {
		if info := s.w.api.refInfoOfObj(o); info != nil {
			return s.refMembers(info.ref.Class)
		}
	}
	return s.propertyNames(v)
}

// refMembers lists what a Ref to an object of class offers: its class's
// callable methods and the Ref's own members.
func (s *Session) refMembers(class string) []string {
	names := []string{"call", "class", "equals", "id", "toString"}
	if class == channelClass {
		return append(names, "balance", "close", "next", "receive", "send")
	}
	d := s.w.cfg.Classes.Latest(class)
	if d == nil {
		return names
	}
	if s.vers[class] != d {
		lc, err := s.w.loadClass(d)
		if err != nil {
			return names
		}
		s.vers[class], s.loaded[class] = d, lc.methods
	}
	return append(names, s.loaded[class]...)
}

// propertyNames lists the identifier-like property names of v and its
// prototypes.
func (s *Session) propertyNames(v goja.Value) []string {
	namesFn, _ := goja.AssertFunction(s.probe.Get("names"))
	res, err := namesFn(s.probe, v)
	if err != nil {
		return nil
	}
	var names []string
	if o, ok := res.(*goja.Object); ok {
		n := int(o.Get("length").ToInteger())
		for i := 0; i < n; i++ {
			if name := o.Get(fmt.Sprint(i)).String(); identifier.MatchString(name) && !strings.HasPrefix(name, "__") {
				names = append(names, name)
			}
		}
	}
	return names
}

// matching returns the names that start with prefix, sorted, without
// duplicates.
func matching(names []string, prefix string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func isIdent(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// memberExpression returns the member expression that ends text: names,
// dots, and bracketed or parenthesised groups (with strings in them),
// scanning back to the first character outside of those.
func memberExpression(text string) string {
	i := len(text)
	for i > 0 {
		c := text[i-1]
		switch {
		case isIdent(c) || c == '.':
			i--
		case c == '?' && i < len(text) && text[i] == '.':
			i--
		case c == ')' || c == ']':
			j := matchBack(text, i-1)
			if j < 0 {
				return ""
			}
			i = j
		default:
			return strings.TrimSpace(text[i:])
		}
	}
	return strings.TrimSpace(text[i:])
}

// matchBack returns the index of the bracket that opens the one closing at
// text[end], skipping quoted strings, or -1.
func matchBack(text string, end int) int {
	depth := 0
	for i := end; i >= 0; i-- {
		switch c := text[i]; c {
		case ')', ']', '}':
			depth++
		case '(', '[', '{':
			depth--
			if depth == 0 {
				return i
			}
		case '"', '\'', '`':
			j := i - 1
			for j >= 0 && !(text[j] == c && (j == 0 || text[j-1] != '\\')) {
				j--
			}
			if j < 0 {
				return -1
			}
			i = j
		}
	}
	return -1
}
