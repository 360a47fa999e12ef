package host

import (
	"github.com/odin-db/odin/scripting"
	"github.com/odin-db/odin/scripting/codec"
)

// RunScript runs a script to completion on its own VM worker (a script does
// not share a VM with objects, so its loops never stall them). It returns a
// *scripting.SyntaxError if the script does not parse and a
// *scripting.ScriptError if it throws.
func (n *Node) RunScript(name, src string, args []string) error {
	_, err := n.runScript(name, src, args)
	return err
}

// Eval runs a script like RunScript and returns what its top level returns
// (`return` works at the top level of a script), decoded into Go values as
// codec.DecodeGo does.
func (n *Node) Eval(name, src string, args ...string) (any, error) {
	b, err := n.runScript(name, src, args)
	if err != nil || b == nil {
		return nil, err
	}
	return codec.DecodeGo(b)
}

func (n *Node) runScript(name, src string, args []string) ([]byte, error) {
	prog, err := scripting.CompileScript(name, src)
	if err != nil {
		return nil, err
	}
	w, release, err := n.scriptWorker()
	if err != nil {
		return nil, err
	}
	defer release()
	type outcome struct {
		b   []byte
		err error
	}
	done := make(chan outcome, 1)
	if err := w.RunScript(prog, args, func(b []byte, err error) { done <- outcome{b, err} }); err != nil {
		return nil, err
	}
	select {
	case o := <-done:
		return o.b, o.err
	case <-n.closed:
		return nil, ErrClosed
	}
}

// scriptWorker starts a worker for a script and registers it for routing.
func (n *Node) scriptWorker() (*scripting.Worker, func(), error) {
	n.allMu.Lock()
	old := *n.all.Load()
	index := len(old)
	for i := len(n.hosted); i < len(old); i++ {
		if old[i] == nil {
			index = i
			break
		}
	}
	w, err := n.newWorker(index, false)
	if err != nil {
		n.allMu.Unlock()
		return nil, nil, err
	}
	all := append([]*scripting.Worker(nil), old...)
	if index == len(all) {
		all = append(all, w)
	} else {
		all[index] = w
	}
	n.all.Store(&all)
	n.allMu.Unlock()
	release := func() {
		w.Stop()
		n.allMu.Lock()
		cur := append([]*scripting.Worker(nil), *n.all.Load()...)
		cur[index] = nil
		n.all.Store(&cur)
		n.allMu.Unlock()
	}
	return w, release, nil
}
