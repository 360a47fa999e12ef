package host

import (
	"sync"
	"sync/atomic"

	"github.com/odin-db/odin/scripting"
)

// Session is an interactive session (odin shell) on a VM of its own, like
// a script's: its loops never stall the VMs hosting objects.
type Session struct {
	s       *scripting.Session
	release func()
	once    sync.Once
	closed  atomic.Bool
}

// NewSession opens an interactive session. With colors, results are
// printed with ANSI colours.
func (n *Node) NewSession(colors bool) (*Session, error) {
	w, release, err := n.scriptWorker()
	if err != nil {
		return nil, err
	}
	s, err := w.OpenSession(colors)
	if err != nil {
		release()
		return nil, err
	}
	return &Session{s: s, release: release}, nil
}

// Eval runs one input (see scripting.Session.Eval) and returns what the
// REPL prints for it, and whether it failed. err is
// scripting.ErrSessionClosed after Close.
func (s *Session) Eval(src string) (out string, failed bool, err error) {
	type result struct {
		out    string
		failed bool
	}
	if s.closed.Load() {
		return "", false, scripting.ErrSessionClosed
	}
	ch := make(chan result, 1)
	s.s.Eval(src, func(out string, failed bool) { ch <- result{out, failed} })
	r := <-ch
	return r.out, r.failed, nil
}

// Interrupt stops the input running, if any; the session goes on. It may
// be called from any goroutine (a signal handler's).
func (s *Session) Interrupt() { s.s.Interrupt() }

// Complete proposes completions for the word before byte offset pos of
// line, and the offset where that word starts.
func (s *Session) Complete(line string, pos int) ([]string, int) { return s.s.Complete(line, pos) }

// Tasklets lists the session's live tasklets.
func (s *Session) Tasklets() ([]scripting.TaskletInfo, error) { return s.s.Tasklets() }

// Close ends the session, killing its tasklets, and stops its VM.
func (s *Session) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.s.Close()
		s.release()
	})
	return nil
}
