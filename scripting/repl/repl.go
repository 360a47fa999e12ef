package repl

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja/token"
)

// prefix opens the async function an input runs in. It stays on the first
// line, so the input's line numbers are kept.
const prefix = "(async function() { "

// Result is an input rewritten for a session.
type Result struct {
	// Code is the program: the async function expression, then a var
	// statement declaring Names.
	Code string
	// Program is Code parsed, ready for goja.CompileAST (non-strict).
	Program *ast.Program
	// Names are the global variables the input declares, in order.
	Names []string
	// HasValue: the function resolves to {value: v}, v being the value of
	// the expression statement the input ends with (when it ends with an if,
	// a try or a block, the one its run ended with), or to undefined when
	// the input ended otherwise.
	HasValue bool

	src  string    // the input as rewritten (after object-literal wrapping)
	kept []segment // the runs of Code copied from src unchanged
}

// segment is a run of n bytes copied unchanged from src[src:] to Code[code:].
type segment struct{ code, src, n int }

// Position maps a line and column of Code, as stack frames report them
// (from 1, the column counting bytes), to the line and column in the input.
// A position inside text the rewrite inserted maps to where it was
// inserted.
func (r *Result) Position(line, col int) (int, int) {
	off := 0
	for l := 1; l < line && off < len(r.Code); off++ {
		if r.Code[off] == '\n' {
			l++
		}
	}
	off += col - 1
	src := 0
	for _, k := range r.kept {
		if off < k.code {
			break
		}
		if off < k.code+k.n {
			src = k.src + off - k.code
			break
		}
		src = k.src + k.n
	}
	return position(r.src, src)
}

// SyntaxError is an input that does not parse, with its position in the
// input (line and column from 1; the column counts bytes).
type SyntaxError struct {
	Line, Column int
	Message      string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
}

// Transform rewrites one input as described in the package documentation;
// name is the file name its stack frames show (Node says REPL1, REPL2...).
// It returns a *SyntaxError if the input does not parse.
func Transform(name, src string) (*Result, error) {
	if t := strings.TrimSpace(src); strings.HasPrefix(t, "{") && !strings.HasSuffix(t, ";") {
		if r, err := transform(name, "("+t+")"); err == nil {
			return r, nil
		}
	}
	return transform(name, src)
}

func transform(name, src string) (*Result, error) {
	wrapped := prefix + src + "\n})"
	prog, err := parse("", wrapped)
	if err != nil {
		return nil, syntaxError(err, wrapped, src)
	}
	fn, err := wrappedBody(prog, wrapped, src)
	if err != nil {
		return nil, err
	}
	t := &transformer{src: src, seen: map[string]bool{}}
	if err := t.top(fn.Body.List); err != nil {
		return nil, err
	}
	// The value of the input is that of the expression statement it ends
	// with, looking into a final block, if or try. An expression's own span
	// leaves out the parentheses around it, so first try the spans widened
	// over them; the fallbacks only guard against a position goja reports
	// differently.
	var wide, exact [][2]int
	for _, e := range tails(fn.Body.List) {
		start, end := t.off(e.Expression.Idx0()), t.off(e.Expression.Idx1())
		wide = append(wide, [2]int{t.backOverParens(start), t.forwardOverParens(end)})
		exact = append(exact, [2]int{start, end})
	}
	attempts := [][][2]int{nil}
	if len(wide) > 0 {
		attempts = [][][2]int{wide, exact, nil}
	}
	var lastErr error
	for _, spans := range attempts {
		edits := append([]edit(nil), t.edits...)
		hasValue := len(spans) > 0
		for _, sp := range spans {
			edits = append(edits, edit{at: sp[0], ins: "return { value: ("}, edit{at: sp[1], ins: ") }"})
		}
		body, kept := apply(src, edits)
		code := prefix + body + "\n})"
		if len(t.names) > 0 {
			code += "; var " + strings.Join(t.names, ", ") + ";"
		}
		p, err := parse(name, code)
		if err != nil {
			lastErr = err
			continue
		}
		for i := range kept {
			kept[i].code += len(prefix)
		}
		return &Result{Code: code, Program: p, Names: t.names, HasValue: hasValue, src: src, kept: kept}, nil
	}
	// Unreachable unless a rewrite is wrong: report it rather than run
	// something else than what was typed.
	return nil, &SyntaxError{Line: 1, Column: 1, Message: "cannot run this input in the shell: " + lastErr.Error()}
}

func parse(name, code string) (*ast.Program, error) {
	return parser.ParseFile(nil, name, code, 0, parser.WithDisableSourceMaps)
}

// wrappedBody returns the async function of a parsed wrapped input, or the
// syntax error of an input that closed the function early.
func wrappedBody(prog *ast.Program, wrapped, src string) (*ast.FunctionLiteral, error) {
	if len(prog.Body) == 1 {
		if es, ok := prog.Body[0].(*ast.ExpressionStatement); ok {
			if fn, ok := es.Expression.(*ast.FunctionLiteral); ok && int(fn.Body.RightBrace)-1 == len(prefix)+len(src)+1 {
				return fn, nil
			}
		}
	}
	// The input holds a `}` that closes no bracket of its own.
	at := len(src)
	if len(prog.Body) > 0 {
		if es, ok := prog.Body[0].(*ast.ExpressionStatement); ok {
			if fn, ok := es.Expression.(*ast.FunctionLiteral); ok {
				at = min(max(int(fn.Body.RightBrace)-1-len(prefix), 0), len(src))
			}
		}
	}
	line, col := position(src, at)
	return nil, &SyntaxError{Line: line, Column: col, Message: "Unexpected token }"}
}

// syntaxError maps a parse error in the wrapped input back to the input.
func syntaxError(err error, wrapped, src string) error {
	msg, off := firstError(err, wrapped)
	off -= len(prefix)
	if off < 0 {
		off = 0
	}
	if off >= len(src) {
		// The error is in the wrapper: the input ran out, or a bracket of
		// the input closed the function.
		off = len(src)
		if lx := lex(src); lx.broken {
			off = lx.brokenAt
		}
	}
	line, col := position(src, off)
	return &SyntaxError{Line: line, Column: col, Message: msg}
}

// firstError returns the message and byte offset of a parse error.
func firstError(err error, text string) (string, int) {
	var list parser.ErrorList
	var one *parser.Error
	var pe parser.Error
	switch {
	case errors.As(err, &list) && len(list) > 0:
		pe = *list[0]
	case errors.As(err, &one):
		pe = *one
	default:
		return err.Error(), len(text)
	}
	off := 0
	line := 1
	for off < len(text) && line < pe.Position.Line {
		if text[off] == '\n' {
			line++
		}
		off++
	}
	return pe.Message, off + pe.Position.Column - 1
}

// position converts a byte offset of src into a line and a column, from 1.
func position(src string, off int) (line, col int) {
	line, start := 1, 0
	for i := 0; i < off && i < len(src); i++ {
		if src[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, off - start + 1
}

// edit replaces src[at:at+del] with ins. Edits at the same offset apply in
// the order they were made.
type edit struct {
	at, del int
	ins     string
}

// apply makes the edits, and returns the text with the runs of src it
// kept unchanged.
func apply(src string, edits []edit) (string, []segment) {
	sorted := append([]edit(nil), edits...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].at < sorted[j].at })
	var b strings.Builder
	b.Grow(len(src) + 64)
	var kept []segment
	pos := 0
	copySrc := func(to int) {
		if to > pos {
			kept = append(kept, segment{code: b.Len(), src: pos, n: to - pos})
			b.WriteString(src[pos:to])
		}
	}
	for _, e := range sorted {
		if e.at < pos {
			continue // overlapping edit: cannot happen for well-formed spans
		}
		copySrc(e.at)
		b.WriteString(e.ins)
		pos = e.at + e.del
	}
	copySrc(len(src))
	return b.String(), kept
}

type transformer struct {
	src   string
	edits []edit
	names []string
	seen  map[string]bool
}

// off converts a position in the wrapped input to an offset in src.
func (t *transformer) off(idx file.Idx) int { return int(idx) - 1 - len(prefix) }

func (t *transformer) add(at, del int, ins string) {
	t.edits = append(t.edits, edit{at: at, del: del, ins: ins})
}

func (t *transformer) name(n string) {
	if !t.seen[n] {
		t.seen[n] = true
		t.names = append(t.names, n)
	}
}

// top rewrites the top-level statements.
func (t *transformer) top(list []ast.Statement) error {
	for _, st := range list {
		switch s := st.(type) {
		case *ast.LexicalDeclaration:
			kw := "let"
			if s.Token == token.CONST {
				kw = "const"
			}
			t.declarations(t.off(s.Idx), kw, s.List, true)
		case *ast.FunctionDeclaration:
			if s.Function.Name != nil {
				n := string(s.Function.Name.Name)
				t.name(n)
				t.add(t.off(s.Idx0()), 0, n+" = ")
				t.add(t.off(s.Idx1()), 0, ";")
			}
		case *ast.ClassDeclaration:
			if s.Class.Name != nil {
				n := string(s.Class.Name.Name)
				t.name(n)
				t.add(t.off(s.Idx0()), 0, n+" = ")
				t.add(t.off(s.Idx1()), 0, ";")
			}
		default:
			if err := t.nested(st); err != nil {
				return err
			}
		}
	}
	return nil
}

// nested rewrites the var declarations of statements that run at the top
// level (blocks, branches, loops; not functions), whose scope is the
// global one at Node's prompt, and rejects a top-level return.
func (t *transformer) nested(st ast.Statement) error {
	switch s := st.(type) {
	case *ast.VariableStatement:
		t.declarations(t.off(s.Var), "var", s.List, false)
	case *ast.BlockStatement:
		for _, x := range s.List {
			if err := t.nested(x); err != nil {
				return err
			}
		}
	case *ast.IfStatement:
		if err := t.nested(s.Consequent); err != nil {
			return err
		}
		if s.Alternate != nil {
			return t.nested(s.Alternate)
		}
	case *ast.ForStatement:
		if init, ok := s.Initializer.(*ast.ForLoopInitializerVarDeclList); ok && len(init.List) > 0 {
			if t.stripVar(t.off(init.List[0].Idx0())) {
				for _, b := range init.List {
					t.targetNames(b.Target)
				}
			}
		}
		return t.nested(s.Body)
	case *ast.ForInStatement:
		t.forInto(s.Into)
		return t.nested(s.Body)
	case *ast.ForOfStatement:
		t.forInto(s.Into)
		return t.nested(s.Body)
	case *ast.WhileStatement:
		return t.nested(s.Body)
	case *ast.DoWhileStatement:
		return t.nested(s.Body)
	case *ast.WithStatement:
		return t.nested(s.Body)
	case *ast.LabelledStatement:
		return t.nested(s.Statement)
	case *ast.TryStatement:
		if err := t.nested(s.Body); err != nil {
			return err
		}
		if s.Catch != nil {
			if err := t.nested(s.Catch.Body); err != nil {
				return err
			}
		}
		if s.Finally != nil {
			return t.nested(s.Finally)
		}
	case *ast.SwitchStatement:
		for _, c := range s.Body {
			for _, x := range c.Consequent {
				if err := t.nested(x); err != nil {
					return err
				}
			}
		}
	case *ast.ReturnStatement:
		line, col := position(t.src, t.off(s.Return))
		return &SyntaxError{Line: line, Column: col, Message: "Illegal return statement"}
	}
	return nil
}

func (t *transformer) forInto(into ast.ForInto) {
	if v, ok := into.(*ast.ForIntoVar); ok && v.Binding != nil {
		if t.stripVar(t.off(v.Binding.Idx0())) {
			t.targetNames(v.Binding.Target)
		}
	}
}

// declarations turns `kw a = 1, {b} = o` into `void ( a = 1, {b} = o)`
// and declares the names. With lexical, a binding without initialiser is
// set to undefined (let x; declares x afresh); a var without one keeps the
// variable's value, as in JavaScript.
func (t *transformer) declarations(at int, kw string, list []*ast.Binding, lexical bool) {
	if len(list) == 0 || at < 0 || at+len(kw) > len(t.src) || t.src[at:at+len(kw)] != kw {
		return
	}
	t.add(at, len(kw), "void (")
	for _, b := range list {
		t.targetNames(b.Target)
		if b.Initializer == nil && lexical {
			t.add(t.off(b.Target.Idx1()), 0, " = undefined")
		}
	}
	t.add(t.off(list[len(list)-1].Idx1()), 0, ")")
}

// stripVar deletes the `var` keyword before a loop's binding that starts
// at off, and reports whether it found it.
func (t *transformer) stripVar(off int) bool {
	i := off
	for i > 0 && isSpace(t.src[i-1]) {
		i--
	}
	if i >= 3 && t.src[i-3:i] == "var" && (i == 3 || !isIdentChar(t.src[i-4])) {
		t.add(i-3, 3, "")
		return true
	}
	return false
}

// targetNames declares the names a binding target binds.
func (t *transformer) targetNames(e ast.Expression) {
	switch x := e.(type) {
	case *ast.Identifier:
		t.name(string(x.Name))
	case *ast.ObjectPattern:
		for _, p := range x.Properties {
			switch p := p.(type) {
			case *ast.PropertyShort:
				t.name(string(p.Name.Name))
			case *ast.PropertyKeyed:
				t.targetNames(p.Value)
			}
		}
		if x.Rest != nil {
			t.targetNames(x.Rest)
		}
	case *ast.ArrayPattern:
		for _, el := range x.Elements {
			if el != nil {
				t.targetNames(el)
			}
		}
		if x.Rest != nil {
			t.targetNames(x.Rest)
		}
	case *ast.AssignExpression:
		t.targetNames(x.Left)
	}
}

// tails returns the expression statements whose value is the value of a
// statement list ending with them: its last statement (ignoring empty
// ones), or the last ones of a final block, of both branches of a final if,
// of the body and catch block of a final try.
func tails(list []ast.Statement) []*ast.ExpressionStatement {
	for i := len(list) - 1; i >= 0; i-- {
		if _, ok := list[i].(*ast.EmptyStatement); !ok {
			return tail(list[i])
		}
	}
	return nil
}

func tail(st ast.Statement) []*ast.ExpressionStatement {
	switch s := st.(type) {
	case *ast.ExpressionStatement:
		return []*ast.ExpressionStatement{s}
	case *ast.BlockStatement:
		return tails(s.List)
	case *ast.IfStatement:
		out := tail(s.Consequent)
		if s.Alternate != nil {
			out = append(out, tail(s.Alternate)...)
		}
		return out
	case *ast.TryStatement:
		out := tails(s.Body.List)
		if s.Catch != nil {
			out = append(out, tails(s.Catch.Body.List)...)
		}
		return out
	}
	return nil
}

// backOverParens moves a start offset back over the opening parentheses,
// spaces and block comments before it.
func (t *transformer) backOverParens(start int) int {
	best := start
	i := start
	for {
		j := i
		for j > 0 {
			switch {
			case isSpace(t.src[j-1]):
				j--
				continue
			case j >= 2 && t.src[j-2:j] == "*/":
				if k := strings.LastIndex(t.src[:j-2], "/*"); k >= 0 {
					j = k
					continue
				}
			}
			break
		}
		if j > 0 && t.src[j-1] == '(' {
			best, i = j-1, j-1
			continue
		}
		return best
	}
}

// forwardOverParens moves an end offset forward over the closing
// parentheses, spaces and comments after it.
func (t *transformer) forwardOverParens(end int) int {
	best := end
	i := end
	for i < len(t.src) {
		switch c := t.src[i]; {
		case isSpace(c):
			i++
		case strings.HasPrefix(t.src[i:], "//"):
			k := strings.IndexByte(t.src[i:], '\n')
			if k < 0 {
				return best
			}
			i += k
		case strings.HasPrefix(t.src[i:], "/*"):
			k := strings.Index(t.src[i+2:], "*/")
			if k < 0 {
				return best
			}
			i += k + 4
		case c == ')':
			i++
			best = i
		default:
			return best
		}
	}
	return best
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
