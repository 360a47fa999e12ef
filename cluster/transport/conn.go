package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// conn is one connection after its handshake: a reader goroutine that
// dispatches incoming frames, and a writer goroutine that drains the queue.
type conn struct {
	t     *Transport
	nc    net.Conn
	br    *bufio.Reader
	peer  Peer
	addrs []string // the byAddr keys it is registered under

	mu      sync.Mutex
	q       []frame // waiting for the writer
	pending map[uint64]chan result
	nextID  uint64
	err     error         // why the connection ended; nil while it works
	wake    chan struct{} // the queue became non-empty (capacity 1)
	done    chan struct{} // closed when the connection ends

	serving atomic.Int64 // request handlers running
}

type result struct {
	body []byte
	err  error
}

// timeoutReader gives every read from the connection a deadline, so that a
// peer that falls silent (not even pinging) is noticed. timeout is 0 during
// the handshake, whose deadline is absolute.
type timeoutReader struct {
	nc      net.Conn
	timeout time.Duration
}

func (r *timeoutReader) Read(p []byte) (int, error) {
	if r.timeout == 0 {
		return r.nc.Read(p)
	}
	r.nc.SetReadDeadline(time.Now().Add(r.timeout))
	n, err := r.nc.Read(p)
	if ne, ok := err.(net.Error); ok && ne.Timeout() && n == 0 {
		// The deadline may have passed while this process could not run
		// (a loaded machine), with pings waiting: look once more.
		r.nc.SetReadDeadline(time.Now().Add(r.timeout / idlePings * 2))
		n, err = r.nc.Read(p)
	}
	return n, err
}

// timeoutWriter bounds every write, so that a peer that stops reading does
// not hold the writer forever.
type timeoutWriter struct {
	nc      net.Conn
	timeout time.Duration
}

func (w timeoutWriter) Write(p []byte) (int, error) {
	w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.nc.Write(p)
}

func (t *Transport) newConn(nc net.Conn, tr *timeoutReader, br *bufio.Reader, p Peer) *conn {
	tr.timeout = idlePings * t.cfg.ping
	return &conn{
		t: t, nc: nc, br: br, peer: p,
		pending: map[uint64]chan result{},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
}

// push queues f for the writer. With limit, a full queue answers
// ErrOverloaded; responses pass (at most QueueLen of them, one per running
// handler). With ch, f is a request: it gets an id, returned, and its
// answer goes to ch.
func (c *conn) push(f frame, limit bool, ch chan result) (uint64, error) {
	if len(f.body) > c.t.cfg.MaxFrame-maxHeader {
		return 0, fmt.Errorf("%w: a body of %d bytes", errTooLarge, len(f.body))
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return 0, c.err
	}
	if limit && len(c.q) >= c.t.cfg.QueueLen {
		c.mu.Unlock()
		return 0, fmt.Errorf("%w: %d frames queued for %s", ErrOverloaded, c.t.cfg.QueueLen, c.peer)
	}
	if ch != nil {
		c.nextID++
		f.id = c.nextID
		c.pending[f.id] = ch
	}
	c.q = append(c.q, f)
	wake := len(c.q) == 1
	c.mu.Unlock()
	if wake {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return f.id, nil
}

func (c *conn) request(ctx context.Context, typ uint8, body []byte) ([]byte, error) {
	ch := make(chan result, 1)
	id, err := c.push(frame{kind: kindRequest, typ: typ, body: body}, true, ch)
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.body, r.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// writeLoop writes queued frames, flushing when the queue is empty, and
// pings when the connection has been idle for a ping interval.
func (c *conn) writeLoop() {
	defer c.t.wg.Done()
	bw := bufio.NewWriterSize(timeoutWriter{c.nc, idlePings * c.t.cfg.ping}, bufSize)
	tick := time.NewTicker(c.t.cfg.ping)
	defer tick.Stop()
	var batch []frame
	wrote, yielded := false, false
	for {
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			return
		}
		batch, c.q = c.q, batch[:0]
		c.mu.Unlock()

		if len(batch) == 0 {
			if bw.Buffered() > 0 && !yielded {
				// Let senders that are ready to run add to this write:
				// callers woken by a batch of answers come back at once.
				yielded = true
				runtime.Gosched()
				continue
			}
			yielded = false
			if bw.Buffered() > 0 {
				if err := bw.Flush(); err != nil {
					c.fail(err)
					return
				}
			}
			select {
			case <-c.wake:
			case <-tick.C:
				if !wrote {
					writeFrame(bw, &frame{kind: kindPing}) // an error shows at the flush
				}
				wrote = false
			case <-c.done:
				return
			}
			continue
		}
		wrote, yielded = true, false
		for i := range batch {
			if err := writeFrame(bw, &batch[i]); err != nil {
				c.fail(err)
				return
			}
			batch[i] = frame{} // let the body go
		}
		if cap(batch) > 1024 {
			batch = nil // do not keep a burst's queue forever
		}
	}
}

// readLoop dispatches incoming frames until the connection ends.
func (c *conn) readLoop() {
	defer c.t.wg.Done()
	h := c.t.h
	for {
		f, err := readFrame(c.br, c.t.cfg.MaxFrame)
		if err != nil {
			c.fail(err)
			break
		}
		switch f.kind {
		case kindMessage:
			if h.Message != nil {
				h.Message(c.peer, f.typ, f.body)
			}
		case kindRequest:
			c.serve(f)
		case kindResponse, kindError, kindOverloaded:
			c.answer(f)
		case kindPing:
		default:
			c.fail(fmt.Errorf("%w: kind %d after the handshake", errMalformed, f.kind))
		}
	}
	if h.Closed != nil && !c.t.isClosed() {
		h.Closed(c.peer)
	}
}

// serve runs the request handler for f on its own goroutine and queues
// its answer.
func (c *conn) serve(f frame) {
	if c.serving.Add(1) > int64(c.t.cfg.QueueLen) {
		c.serving.Add(-1)
		c.push(frame{kind: kindOverloaded, id: f.id, typ: f.typ}, false, nil)
		return
	}
	go func() {
		defer c.serving.Add(-1)
		body, err := []byte(nil), errNoHandler
		if c.t.h.Request != nil {
			body, err = c.t.h.Request(c.peer, f.typ, f.body)
		}
		if err == nil && len(body) > c.t.cfg.MaxFrame-maxHeader {
			err = fmt.Errorf("transport: a response of %d bytes is larger than MaxFrame", len(body))
		}
		r := frame{kind: kindResponse, id: f.id, typ: f.typ, body: body}
		if err != nil {
			r.kind, r.body = kindError, []byte(err.Error())
			if len(r.body) > c.t.cfg.MaxFrame-maxHeader {
				r.body = r.body[:c.t.cfg.MaxFrame-maxHeader]
			}
		}
		c.push(r, false, nil) // fails only if the connection is gone: nobody to answer
	}()
}

// answer completes the pending request f answers; an unknown id is a
// request whose caller gave up.
func (c *conn) answer(f frame) {
	c.mu.Lock()
	ch := c.pending[f.id]
	delete(c.pending, f.id)
	c.mu.Unlock()
	if ch == nil {
		return
	}
	switch f.kind {
	case kindResponse:
		ch <- result{body: f.body}
	case kindError:
		ch <- result{err: &RemoteError{Msg: string(f.body)}}
	default:
		ch <- result{err: fmt.Errorf("%w: %s runs too many requests", ErrOverloaded, c.peer)}
	}
}

// fail ends the connection: the first cause counts. Pending requests fail
// with ErrClosed if the transport closes, else with an error naming the peer.
func (c *conn) fail(cause error) {
	err := cause
	if cause != ErrClosed {
		err = fmt.Errorf("transport: connection to %s lost: %v", c.peer, cause)
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.pending
	c.pending, c.q = nil, nil
	c.mu.Unlock()

	c.t.remove(c) // first, so that a caller told of the failure redials
	close(c.done)
	c.nc.Close()
	for _, ch := range pending {
		ch <- result{err: err}
	}

	var ne net.Error
	switch {
	case errors.Is(cause, errMalformed), errors.Is(cause, errTooLarge):
		c.t.log.Warn("transport: closing the connection after a bad frame", "peer", c.peer.String(), "err", cause)
	case errors.As(cause, &ne) && ne.Timeout():
		c.t.log.Warn("transport: closing a silent connection", "peer", c.peer.String(), "err", cause)
	case cause != ErrClosed:
		c.t.log.Info("transport: connection lost", "peer", c.peer.String(), "err", cause)
	}
}
