package scripting

import (
	"time"

	"github.com/dop251/goja"
)

// passivateIdle deactivates the objects idle for longer than IdleTimeout.
func (w *Worker) passivateIdle(now time.Time) {
	for _, a := range w.acts {
		if !a.persistent || a.deactivating || a.releasing != nil || now.Sub(a.lastUsed) < w.cfg.IdleTimeout {
			continue
		}
		if a.ch != nil {
			if len(a.ch.senders) == 0 && len(a.ch.receivers) == 0 && a.inflight == 0 {
				w.forget(a)
			}
			continue
		}
		if a.quiescent() && len(a.waiting) == 0 {
			w.deactivate(a)
		}
	}
}

// deactivate runs an object's onDeactivate hook as a turn (its changes are
// committed like any turn's) and removes it from memory once that commit is
// durable. A call arriving meanwhile finds it still active and keeps it.
func (w *Worker) deactivate(a *activation) {
	if a.inst != nil && a.broken == "" {
		if hook, ok := goja.AssertFunction(a.inst.Get("onDeactivate")); ok {
			w.beginTurn(a, nil)
			if _, ok := w.call(hook, a.inst); !ok {
				w.cfg.Logger.Warn("onDeactivate threw", "object", a.ref.String(), "err", w.turn.failed.String())
			}
			w.endTurn()
		}
	}
	if a.inflight == 0 {
		w.forget(a)
		return
	}
	a.deactivating = true
}

func (w *Worker) forget(a *activation) {
	if w.acts[a.ref] == a {
		delete(w.acts, a.ref)
	}
}
