package scripting

import "time"

// ActiveObjects returns how many objects are active (in memory) on this
// worker, counted on its goroutine. It may be called from any goroutine;
// it returns -1 if the worker has stopped or stays busy for over a second
// (a turn is bounded by the turn limit, so only a script's loop can).
func (w *Worker) ActiveObjects() int {
	ch := make(chan int, 1)
	err := w.Do(func() {
		n := 0
		for ref := range w.acts {
			if IsObject(ref) {
				n++
			}
		}
		ch <- n
	})
	if err != nil {
		return -1
	}
	select {
	case n := <-ch:
		return n
	case <-time.After(time.Second):
		return -1
	}
}
