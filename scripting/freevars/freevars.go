package freevars

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja/token"
)

// Ident is a free identifier and the position of its first use.
type Ident struct {
	Name         string
	Line, Column int // 1-based, relative to src; Column counts characters
}

// String returns "name (line:column)".
func (id Ident) String() string { return fmt.Sprintf("%s (%d:%d)", id.Name, id.Line, id.Column) }

// prefix and suffix wrap the source so that a class declaration parses as a
// class expression. The suffix starts with a newline so that a trailing line
// comment cannot swallow the closing parenthesis.
const (
	prefix = "("
	suffix = "\n)"
)

// Free returns the identifiers that src (one class declaration or class
// expression) reads or writes without declaring them, each once, in order
// of first appearance, with the position of the first use. A syntax error is
// returned as a *SyntaxError (wrapping ErrSyntax) with line:column; a source
// that is not exactly one class returns an error wrapping ErrNotClass.
func Free(src string) ([]Ident, error) {
	prog, err := parser.ParseFile(nil, "", prefix+src+suffix, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, syntaxError(src, err)
	}
	if len(prog.Body) != 1 {
		return nil, ErrNotClass
	}
	es, ok := prog.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return nil, ErrNotClass
	}
	class, ok := es.Expression.(*ast.ClassLiteral)
	if !ok {
		return nil, fmt.Errorf("%w (got %s)", ErrNotClass, describe(es.Expression))
	}
	w := walker{declared: make(map[string]int32), first: make(map[string]int)}
	w.class(class)
	if w.err != nil {
		return nil, w.err
	}
	return w.result(src), nil
}

func describe(e ast.Expression) string {
	switch e.(type) {
	case *ast.FunctionLiteral, *ast.ArrowFunctionLiteral:
		return "a function"
	case *ast.SequenceExpression:
		return "several expressions"
	}
	return "an expression"
}

// syntaxError converts a parser error to positions in src.
func syntaxError(src string, err error) error {
	var list parser.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		return &SyntaxError{Line: 1, Column: 1, Message: err.Error()}
	}
	e := list[0]
	wrapped := prefix + src + suffix
	starts := lineStarts(wrapped)
	off := len(wrapped) // byte offset of the error in wrapped
	if l := e.Position.Line; l >= 1 && l <= len(starts) {
		off = starts[l-1] + e.Position.Column - 1 // goja columns count bytes
	}
	off -= len(prefix)
	msg := e.Message
	if off >= len(src) {
		off = len(src)
		msg = "Unexpected end of input"
	}
	off = max(off, 0)
	line, col := position(src, lineStarts(src), off)
	return &SyntaxError{Line: line, Column: col, Message: msg}
}

// lineStarts returns the byte offsets at which the lines of s start. Like
// goja (and ECMAScript), it ends lines at \n, \r, \r\n, U+2028 and U+2029.
func lineStarts(s string) []int {
	starts := []int{0}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			starts = append(starts, i+1)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			starts = append(starts, i+1)
		case 0xE2: // first byte of U+2028 and U+2029
			if strings.HasPrefix(s[i:], "\u2028") || strings.HasPrefix(s[i:], "\u2029") {
				i += 2
				starts = append(starts, i+1)
			}
		}
	}
	return starts
}

// position returns the 1-based line and character column of byte offset
// off in s, whose line starts are starts.
func position(s string, starts []int, off int) (line, col int) {
	line = sort.SearchInts(starts, off+1) // lines starting at or before off
	return line, utf8.RuneCountInString(s[starts[line-1]:off]) + 1
}

// walker resolves identifier references against a scope chain kept as a
// stack of declared names (stack) and a count per name (declared); a scope
// is a mark on the stack.
type walker struct {
	declared map[string]int32
	stack    []string
	free     []free
	first    map[string]int // name -> index in free
	err      error
}

type free struct {
	name string
	off  file.Idx
}

func (w *walker) mark() int { return len(w.stack) }

func (w *walker) pop(mark int) {
	for _, n := range w.stack[mark:] {
		w.declared[n]--
	}
	w.stack = w.stack[:mark]
}

func (w *walker) declare(name string) {
	w.declared[name]++
	w.stack = append(w.stack, name)
}

func (w *walker) declareID(id *ast.Identifier) { w.declare(id.Name.String()) }

// use records a reference to id.
func (w *walker) use(id *ast.Identifier) {
	name := id.Name.String()
	if w.declared[name] > 0 {
		return
	}
	if i, ok := w.first[name]; ok {
		w.free[i].off = min(w.free[i].off, id.Idx)
		return
	}
	w.first[name] = len(w.free)
	w.free = append(w.free, free{name, id.Idx})
}

func (w *walker) unsupported(n ast.Node) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: %T", ErrUnsupported, n)
	}
}

// result sorts the free names by first use and converts their positions.
func (w *walker) result(src string) []Ident {
	sort.Slice(w.free, func(i, j int) bool { return w.free[i].off < w.free[j].off })
	out := make([]Ident, len(w.free))
	starts := lineStarts(src)
	for i, f := range w.free {
		off := int(f.off) - 1 - len(prefix) // a file.Idx counts from 1
		out[i].Name = f.name
		out[i].Line, out[i].Column = position(src, starts, off)
	}
	return out
}

// ---------------------------------------------------------------- hoisting

// bindingNames calls fn for every identifier a binding target declares.
func bindingNames(target ast.Expression, fn func(*ast.Identifier)) {
	switch t := target.(type) {
	case *ast.Identifier:
		fn(t)
	case *ast.ArrayPattern:
		for _, e := range t.Elements {
			bindingNames(e, fn)
		}
		bindingNames(t.Rest, fn)
	case *ast.ObjectPattern:
		for _, p := range t.Properties {
			switch p := p.(type) {
			case *ast.PropertyKeyed:
				bindingNames(p.Value, fn)
			case *ast.PropertyShort:
				fn(&p.Name)
			}
		}
		bindingNames(t.Rest, fn)
	case *ast.AssignExpression: // a target with a default
		bindingNames(t.Left, fn)
	}
}

// declareVars declares the var-scoped names of a function body: var
// declarations anywhere in it, outside nested functions and classes.
func (w *walker) declareVars(list []ast.Statement) {
	for _, s := range list {
		w.declareVarsIn(s)
	}
}

func (w *walker) declareVarsIn(s ast.Statement) {
	switch s := s.(type) {
	case *ast.VariableStatement:
		for _, b := range s.List {
			bindingNames(b.Target, w.declareID)
		}
	case *ast.BlockStatement:
		w.declareVars(s.List)
	case *ast.IfStatement:
		w.declareVarsIn(s.Consequent)
		if s.Alternate != nil {
			w.declareVarsIn(s.Alternate)
		}
	case *ast.ForStatement:
		if init, ok := s.Initializer.(*ast.ForLoopInitializerVarDeclList); ok {
			for _, b := range init.List {
				bindingNames(b.Target, w.declareID)
			}
		}
		w.declareVarsIn(s.Body)
	case *ast.ForInStatement:
		w.declareForInto(s.Into)
		w.declareVarsIn(s.Body)
	case *ast.ForOfStatement:
		w.declareForInto(s.Into)
		w.declareVarsIn(s.Body)
	case *ast.WhileStatement:
		w.declareVarsIn(s.Body)
	case *ast.DoWhileStatement:
		w.declareVarsIn(s.Body)
	case *ast.LabelledStatement:
		w.declareVarsIn(s.Statement)
	case *ast.WithStatement:
		w.declareVarsIn(s.Body)
	case *ast.SwitchStatement:
		for _, c := range s.Body {
			w.declareVars(c.Consequent)
		}
	case *ast.TryStatement:
		w.declareVars(s.Body.List)
		if s.Catch != nil {
			w.declareVars(s.Catch.Body.List)
		}
		if s.Finally != nil {
			w.declareVars(s.Finally.List)
		}
	}
}

func (w *walker) declareForInto(into ast.ForInto) {
	if v, ok := into.(*ast.ForIntoVar); ok {
		bindingNames(v.Binding.Target, w.declareID)
	}
}

// declareLexical declares the block-scoped names of a statement list:
// let, const, class, and function declarations (block-scoped in the strict
// code of a class).
func (w *walker) declareLexical(list []ast.Statement) {
	for _, s := range list {
		switch s := s.(type) {
		case *ast.LexicalDeclaration:
			for _, b := range s.List {
				bindingNames(b.Target, w.declareID)
			}
		case *ast.ClassDeclaration:
			if s.Class.Name != nil {
				w.declareID(s.Class.Name)
			}
		case *ast.FunctionDeclaration:
			if s.Function.Name != nil {
				w.declareID(s.Function.Name)
			}
		}
	}
}

// ---------------------------------------------------------------- scopes

// class walks a class declaration or expression. Its name, when it has
// one, is bound inside the class (the heritage included).
func (w *walker) class(c *ast.ClassLiteral) {
	m := w.mark()
	if c.Name != nil {
		w.declareID(c.Name)
	}
	if c.SuperClass != nil {
		w.expr(c.SuperClass)
	}
	for _, el := range c.Body {
		switch el := el.(type) {
		case *ast.MethodDefinition:
			if el.Computed {
				w.expr(el.Key)
			}
			w.function(el.Body, false)
		case *ast.FieldDefinition:
			if el.Computed {
				w.expr(el.Key)
			}
			if el.Initializer != nil {
				w.expr(el.Initializer)
			}
		case *ast.ClassStaticBlock:
			m2 := w.mark()
			w.body(el.Block.List)
			w.pop(m2)
		default:
			w.unsupported(el)
		}
	}
	w.pop(m)
}

// function walks a function literal. A function expression's own name is
// bound inside it; a declaration's name is bound by its enclosing scope.
// Parameters get a scope of their own so that their defaults cannot see
// the body's declarations.
func (w *walker) function(f *ast.FunctionLiteral, expression bool) {
	m := w.mark()
	if expression && f.Name != nil {
		w.declareID(f.Name)
	}
	w.declare("arguments")
	w.params(f.ParameterList)
	w.body(f.Body.List)
	w.pop(m)
}

func (w *walker) arrow(a *ast.ArrowFunctionLiteral) {
	m := w.mark()
	w.params(a.ParameterList)
	switch b := a.Body.(type) {
	case *ast.BlockStatement:
		w.body(b.List)
	case *ast.ExpressionBody:
		w.expr(b.Expression)
	default:
		w.unsupported(b)
	}
	w.pop(m)
}

func (w *walker) params(p *ast.ParameterList) {
	if p == nil {
		return
	}
	for _, b := range p.List {
		bindingNames(b.Target, w.declareID)
	}
	bindingNames(p.Rest, w.declareID)
	for _, b := range p.List {
		w.binding(b)
	}
	if p.Rest != nil {
		w.pattern(p.Rest, true)
	}
}

// body walks a function or static block body: its var and lexical names
// are declared first, so hoisting holds.
func (w *walker) body(list []ast.Statement) {
	w.declareVars(list)
	w.declareLexical(list)
	w.stmts(list)
}

func (w *walker) block(list []ast.Statement) {
	m := w.mark()
	w.declareLexical(list)
	w.stmts(list)
	w.pop(m)
}

// binding walks a declaration's target (already declared) and initializer.
func (w *walker) binding(b *ast.Binding) {
	w.pattern(b.Target, true)
	if b.Initializer != nil {
		w.expr(b.Initializer)
	}
}

// pattern walks a binding or assignment target. In a declaration (decl)
// its identifiers are declared already; in an assignment they are
// references. Defaults and computed keys are expressions either way.
func (w *walker) pattern(e ast.Expression, decl bool) {
	switch n := e.(type) {
	case nil, *ast.BadExpression:
	case *ast.Identifier:
		if !decl {
			w.use(n)
		}
	case *ast.ArrayPattern:
		for _, el := range n.Elements {
			w.pattern(el, decl)
		}
		w.pattern(n.Rest, decl)
	case *ast.ObjectPattern:
		for _, p := range n.Properties {
			switch p := p.(type) {
			case *ast.PropertyKeyed:
				if p.Computed {
					w.expr(p.Key)
				}
				w.pattern(p.Value, decl)
			case *ast.PropertyShort:
				if !decl {
					w.use(&p.Name)
				}
				if p.Initializer != nil {
					w.expr(p.Initializer)
				}
			default:
				w.unsupported(p)
			}
		}
		w.pattern(n.Rest, decl)
	case *ast.AssignExpression: // target = default
		w.pattern(n.Left, decl)
		w.expr(n.Right)
	default: // a member expression assigned to
		if decl {
			w.unsupported(n)
			return
		}
		w.expr(n)
	}
}

// ---------------------------------------------------------------- statements

func (w *walker) stmts(list []ast.Statement) {
	for _, s := range list {
		w.stmt(s)
	}
}

func (w *walker) stmt(s ast.Statement) {
	switch s := s.(type) {
	case nil, *ast.EmptyStatement, *ast.DebuggerStatement, *ast.BadStatement:
	case *ast.BranchStatement: // break/continue labels are not identifiers
	case *ast.BlockStatement:
		w.block(s.List)
	case *ast.ExpressionStatement:
		w.expr(s.Expression)
	case *ast.VariableStatement:
		for _, b := range s.List {
			w.binding(b)
		}
	case *ast.LexicalDeclaration:
		for _, b := range s.List {
			w.binding(b)
		}
	case *ast.FunctionDeclaration:
		w.function(s.Function, false)
	case *ast.ClassDeclaration:
		w.class(s.Class)
	case *ast.IfStatement:
		w.expr(s.Test)
		w.stmt(s.Consequent)
		w.stmt(s.Alternate)
	case *ast.ForStatement:
		m := w.mark()
		switch init := s.Initializer.(type) {
		case nil:
		case *ast.ForLoopInitializerExpression:
			w.expr(init.Expression)
		case *ast.ForLoopInitializerVarDeclList:
			for _, b := range init.List {
				w.binding(b)
			}
		case *ast.ForLoopInitializerLexicalDecl:
			for _, b := range init.LexicalDeclaration.List {
				bindingNames(b.Target, w.declareID)
			}
			for _, b := range init.LexicalDeclaration.List {
				w.binding(b)
			}
		default:
			w.unsupported(init)
		}
		w.expr(s.Test)
		w.expr(s.Update)
		w.stmt(s.Body)
		w.pop(m)
	case *ast.ForInStatement:
		w.forInto(s.Into, s.Source, s.Body)
	case *ast.ForOfStatement:
		w.forInto(s.Into, s.Source, s.Body)
	case *ast.WhileStatement:
		w.expr(s.Test)
		w.stmt(s.Body)
	case *ast.DoWhileStatement:
		w.stmt(s.Body)
		w.expr(s.Test)
	case *ast.LabelledStatement:
		w.stmt(s.Statement)
	case *ast.ReturnStatement:
		w.expr(s.Argument)
	case *ast.ThrowStatement:
		w.expr(s.Argument)
	case *ast.SwitchStatement:
		w.expr(s.Discriminant)
		m := w.mark()
		for _, c := range s.Body {
			w.declareLexical(c.Consequent)
		}
		for _, c := range s.Body {
			w.expr(c.Test)
			w.stmts(c.Consequent)
		}
		w.pop(m)
	case *ast.TryStatement:
		w.block(s.Body.List)
		if c := s.Catch; c != nil {
			m := w.mark()
			bindingNames(c.Parameter, w.declareID)
			w.pattern(c.Parameter, true)
			w.block(c.Body.List)
			w.pop(m)
		}
		if s.Finally != nil {
			w.block(s.Finally.List)
		}
	case *ast.WithStatement:
		w.expr(s.Object)
		w.stmt(s.Body)
	default:
		w.unsupported(s)
	}
}

// forInto walks a for-in or for-of loop. A let/const head is scoped to
// the loop, and the source expression sees it (in its dead zone).
func (w *walker) forInto(into ast.ForInto, source ast.Expression, body ast.Statement) {
	m := w.mark()
	switch n := into.(type) {
	case *ast.ForIntoVar:
		w.binding(n.Binding)
	case *ast.ForDeclaration:
		bindingNames(n.Target, w.declareID)
		w.pattern(n.Target, true)
	case *ast.ForIntoExpression:
		w.pattern(n.Expression, false)
	default:
		w.unsupported(n)
	}
	w.expr(source)
	w.stmt(body)
	w.pop(m)
}

// ---------------------------------------------------------------- expressions

func (w *walker) exprs(list []ast.Expression) {
	for _, e := range list {
		w.expr(e)
	}
}

func (w *walker) expr(e ast.Expression) {
	switch n := e.(type) {
	case nil, *ast.BadExpression, *ast.BooleanLiteral, *ast.NullLiteral,
		*ast.NumberLiteral, *ast.StringLiteral, *ast.RegExpLiteral,
		*ast.ThisExpression, *ast.SuperExpression, *ast.MetaProperty,
		*ast.PrivateIdentifier: // `#x in obj`
	case *ast.Identifier:
		w.use(n)
	case *ast.ArrayLiteral:
		w.exprs(n.Value) // holes are nil
	case *ast.ObjectLiteral:
		for _, p := range n.Value {
			switch p := p.(type) {
			case *ast.PropertyKeyed:
				if p.Computed {
					w.expr(p.Key)
				}
				w.expr(p.Value)
			case *ast.PropertyShort:
				w.use(&p.Name)
				w.expr(p.Initializer)
			case *ast.SpreadElement:
				w.expr(p.Expression)
			default:
				w.unsupported(p)
			}
		}
	case *ast.ArrayPattern, *ast.ObjectPattern:
		w.pattern(n, false)
	case *ast.AssignExpression:
		if n.Operator == token.ASSIGN {
			w.pattern(n.Left, false)
		} else {
			w.expr(n.Left)
		}
		w.expr(n.Right)
	case *ast.BinaryExpression:
		w.expr(n.Left)
		w.expr(n.Right)
	case *ast.UnaryExpression: // typeof x counts as a use
		w.expr(n.Operand)
	case *ast.ConditionalExpression:
		w.expr(n.Test)
		w.expr(n.Consequent)
		w.expr(n.Alternate)
	case *ast.SequenceExpression:
		w.exprs(n.Sequence)
	case *ast.DotExpression: // a.b: only a is an identifier
		w.expr(n.Left)
	case *ast.PrivateDotExpression:
		w.expr(n.Left)
	case *ast.BracketExpression:
		w.expr(n.Left)
		w.expr(n.Member)
	case *ast.OptionalChain:
		w.expr(n.Expression)
	case *ast.Optional:
		w.expr(n.Expression)
	case *ast.CallExpression:
		w.expr(n.Callee)
		w.exprs(n.ArgumentList)
	case *ast.NewExpression:
		w.expr(n.Callee)
		w.exprs(n.ArgumentList)
	case *ast.SpreadElement:
		w.expr(n.Expression)
	case *ast.TemplateLiteral:
		w.expr(n.Tag)
		w.exprs(n.Expressions)
	case *ast.YieldExpression:
		w.expr(n.Argument)
	case *ast.AwaitExpression:
		w.expr(n.Argument)
	case *ast.FunctionLiteral:
		w.function(n, true)
	case *ast.ArrowFunctionLiteral:
		w.arrow(n)
	case *ast.ClassLiteral:
		w.class(n)
	default:
		w.unsupported(n)
	}
}
