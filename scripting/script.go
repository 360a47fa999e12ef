package scripting

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"

	"github.com/odin-db/odin/objects"
)

// scriptPrefix wraps a script so that top-level await works. It stays on
// the first line, so line numbers are unchanged.
const scriptPrefix = "(async function() { "

// SyntaxError is a script that does not parse, with its position.
type SyntaxError struct {
	File         string
	Line, Column int
	Message      string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: SyntaxError: %s", e.File, e.Line, e.Column, e.Message)
}

func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// ScriptError is a script that threw: the thrown value rendered with its
// stack, as a user should see it.
type ScriptError struct {
	Name, Message string
	Stack         string
}

func (e *ScriptError) Error() string { return e.Stack }

// CompileScript compiles a script for RunScript, reporting a syntax error
// with file:line:column of the original source.
func CompileScript(name, src string) (*goja.Program, error) {
	wrapped := scriptPrefix + src + "\n})"
	ast, err := parser.ParseFile(nil, name, wrapped, 0)
	if err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			pos := list[0].Position
			return nil, newSyntaxError(name, pos.Line, pos.Column, list[0].Message, 0)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, name, err)
	}
	prog, err := goja.CompileAST(ast, false)
	if err != nil {
		var ce *goja.CompilerSyntaxError
		if errors.As(err, &ce) && ce.File != nil {
			pos := ce.File.Position(ce.Offset)
			return nil, newSyntaxError(name, pos.Line, pos.Column, ce.Message, 0)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, name, err)
	}
	return prog, nil
}

// newSyntaxError maps a position in the wrapped script back to the source:
// the wrapper shares the first line only.
func newSyntaxError(name string, line, col int, msg string, more int) *SyntaxError {
	if line == 1 {
		col -= len(scriptPrefix)
		if col < 1 {
			col = 1
		}
	}
	if more > 0 {
		msg = fmt.Sprintf("%s (and %d more errors)", msg, more)
	}
	return &SyntaxError{File: name, Line: line, Column: col, Message: msg}
}

// scriptRef names a new script activation. Replies to a script go to this
// address, so it must not repeat across processes: an object that finishes
// a call of a killed script after a restart must not resolve a call of a
// new one.
func (w *Worker) scriptRef() objects.Ref {
	return objects.Ref{Class: "$script", ID: fmt.Sprintf("%x.%d", w.rng.Uint64(), w.nextID)}
}

// RunScript runs a compiled script as the main tasklet of a new script
// context on this worker, with odin.args set to args. done is called on
// the worker's goroutine when the main tasklet ends, with the codec
// encoding of the script's result (what its top level returns; nil if it
// cannot be cloned) or a *ScriptError.
func (w *Worker) RunScript(prog *goja.Program, args []string, done func(result []byte, err error)) error {
	return w.Do(func() {
		w.api.setArgs(args)
		w.nextID++
		a := &activation{ref: w.scriptRef(), script: true}
		a.frame.act = a
		w.acts[a.ref] = a
		w.beginTurn(a, nil)
		fv, err := w.rt.RunProgram(prog)
		var fn goja.Callable
		if err == nil {
			var ok bool
			if fn, ok = goja.AssertFunction(fv); !ok {
				err = fmt.Errorf("script did not compile to a function")
			}
		}
		if err != nil {
			v := w.api.thrown(err)
			w.turn.failed = nil
			w.endTurn()
			done(nil, w.scriptError(v))
			return
		}
		w.spawnTasklet(a, fn, nil, func(v goja.Value, failed bool) {
			if failed {
				done(nil, w.scriptError(v))
				return
			}
			b, err := w.enc.Encode(nil, v)
			if err != nil {
				b = nil
			}
			done(b, nil)
		})
		w.endTurn()
	})
}

func (w *Worker) scriptError(v goja.Value) *ScriptError {
	se := &ScriptError{Stack: w.describeError(v)}
	if o, ok := v.(*goja.Object); ok {
		if n := o.Get("name"); n != nil {
			se.Name = n.String()
		}
		if m := o.Get("message"); m != nil {
			se.Message = m.String()
		}
		if !strings.Contains(se.Stack, se.Message) {
			se.Stack = se.Name + ": " + se.Message + "\n" + se.Stack
		}
	} else {
		se.Stack = "Uncaught " + se.Stack
	}
	return se
}

// trackRejection records promises rejected with no handler; those still
// unhandled when the turn ends are reported like Node's unhandled
// rejections (the program goes on).
func (w *Worker) trackRejection(p *goja.Promise, op goja.PromiseRejectionOperation) {
	switch op {
	case goja.PromiseRejectionReject:
		w.unhandled = append(w.unhandled, p)
	case goja.PromiseRejectionHandle:
		for i, q := range w.unhandled {
			if q == p {
				w.unhandled = append(w.unhandled[:i], w.unhandled[i+1:]...)
				break
			}
		}
	}
}

// markHandled records that the worker itself handles a rejected promise
// (a method's or a tasklet's result), so it is not reported as unhandled.
func (w *Worker) markHandled(p *goja.Promise) {
	w.trackRejection(p, goja.PromiseRejectionHandle)
}

func (w *Worker) reportRejections() {
	if len(w.unhandled) == 0 {
		return
	}
	ps := w.unhandled
	w.unhandled = nil
	for _, p := range ps {
		w.printErr("Uncaught (in promise) %s", w.describeError(p.Result()))
	}
}
