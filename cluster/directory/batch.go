package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// Writes are coalesced (group commit). Each write becomes a call queued to
// the batcher goroutine. The batcher takes the first call and every call
// queued behind it, up to the limits of one command, and hands them to a
// dispatcher as one command; it takes the next batch only when that command
// is done (Config.inflight, one by default, commands are in flight). So an
// idle directory sends a write at once, and under load each command carries
// every write that arrived during the previous one's round trip: the batch
// grows with the load, with no timer. One command at a time beats several in
// flight (measured with 64 claimers on the leader of three nodes: 29k
// claims/s with one, 20k with two, 14k with four, 9k with one claim per
// command and 64 in flight): raft's cost is per entry and per replication
// round, not per op. The dispatcher applies the command through raft on the
// leader, or forwards it to the leader, and fans the results out. The leader
// queues forwarded ops to its own batcher too, so the writes of all nodes
// share raft entries.

// call is one write waiting for its result.
type call struct {
	op op
	// forwarded: the op came from a follower through ApplyForwarded; if this
	// node is not the leader when it is dispatched, it fails with
	// ErrNotLeader and the follower tries the new leader itself.
	forwarded bool
	done      chan callResult // buffered: the dispatcher never blocks on it
}

type callResult struct {
	res result
	err error
}

// enqueue hands calls to the batcher.
func (d *Directory) enqueue(ctx context.Context, calls ...*call) error {
	if d.closed() {
		return ErrClosed
	}
	for _, c := range calls {
		select {
		case d.calls <- c:
		case <-ctx.Done():
			return ctx.Err()
		case <-d.ctx.Done():
			return ErrClosed
		}
	}
	return nil
}

// do queues one op and waits for its result.
func (d *Directory) do(ctx context.Context, o op) (result, error) {
	if err := o.validate(); err != nil {
		return result{}, err
	}
	c := &call{op: o, done: make(chan callResult, 1)}
	if err := d.enqueue(ctx, c); err != nil {
		return result{}, err
	}
	r, err := d.wait(ctx, c)
	if err != nil {
		return result{}, err
	}
	return r, r.err()
}

// wait waits for a queued call's result. A call queued as Close began may
// never reach the batcher: once everything has stopped it fails with
// ErrClosed.
func (d *Directory) wait(ctx context.Context, c *call) (result, error) {
	select {
	case r := <-c.done:
		return r.res, r.err
	case <-ctx.Done():
		return result{}, ctx.Err()
	case <-d.stopped:
		select {
		case r := <-c.done:
			return r.res, r.err
		default:
			return result{}, ErrClosed
		}
	}
}

func (d *Directory) batchLoop() {
	defer d.wg.Done()
	var next *call
	for {
		if next == nil {
			select {
			case next = <-d.calls:
			case <-d.ctx.Done():
				d.failQueued(nil)
				return
			}
		}
		select {
		case d.slots <- struct{}{}:
		case <-d.ctx.Done():
			d.failQueued(next)
			return
		}
		batch := []*call{next}
		refs := next.op.weight()
		next = nil
	collect:
		for len(batch) < d.batchOps {
			select {
			case c := <-d.calls:
				if refs+c.op.weight() > maxBatchRefs {
					next = c
					break collect
				}
				batch = append(batch, c)
				refs += c.op.weight()
			default:
				break collect
			}
		}
		d.wg.Add(1)
		go d.dispatch(batch)
	}
}

// failQueued fails c and every call still queued, at Close.
func (d *Directory) failQueued(c *call) {
	if c != nil {
		c.done <- callResult{err: ErrClosed}
	}
	for {
		select {
		case c := <-d.calls:
			c.done <- callResult{err: ErrClosed}
		default:
			return
		}
	}
}

func (d *Directory) dispatch(batch []*call) {
	defer d.wg.Done()
	defer func() { <-d.slots }()
	d.commands.Add(1)
	d.ops.Add(int64(len(batch)))
	results, err := d.submit(&batch)
	for i, c := range batch {
		if err != nil {
			c.done <- callResult{err: err}
		} else {
			c.done <- callResult{res: results[i]}
		}
	}
}

// submit applies a batch as one command on the leader, wherever it is, and
// returns one result per call. It tries again, until d.timeout, while there
// is no leader, leadership moves, or the leader cannot be reached: every op is
// idempotent, so a command whose outcome was lost can be sent again. When
// this node is not the leader, the forwarded calls in the batch fail at once
// with ErrNotLeader and leave it.
func (d *Directory) submit(batch *[]*call) ([]result, error) {
	var cmd []byte
	encode := func() error {
		ops := make([]op, len(*batch))
		for i, c := range *batch {
			ops[i] = c.op
		}
		var err error
		cmd, err = encodeCommand(ops)
		return err
	}
	if err := encode(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	wait := time.Millisecond
	var last error
	for {
		if d.IsLeader() {
			rs, err := d.applyLocal(cmd, len(*batch))
			if err == nil || !errors.Is(err, ErrNotLeader) {
				return rs, err
			}
			last = err
		} else if d.dropForwarded(batch) {
			if len(*batch) == 0 {
				return nil, nil
			}
			if err := encode(); err != nil {
				return nil, err
			}
			continue
		} else if name, _ := d.Leader(); name == "" || name == d.cfg.Name {
			last = ErrNoLeader
		} else if d.cfg.Forward == nil {
			return nil, fmt.Errorf("%w: the leader is %s and there is no Forward", ErrNotLeader, name)
		} else {
			reply, err := d.forward(ctx, name, cmd)
			if err == nil {
				return decodeReply(reply, len(*batch))
			}
			if errors.Is(err, ErrBadCommand) || strings.Contains(err.Error(), ErrBadCommand.Error()) {
				return nil, err
			}
			last = fmt.Errorf("forward to %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			if d.closed() {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("%w after %v: %w", ErrNoLeader, d.timeout, last)
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// forward sends a command to the leader through Config.Forward, giving up
// early if another leader is elected meanwhile (the old one may be gone
// without a word, and the command is idempotent).
func (d *Directory) forward(ctx context.Context, leader string, cmd []byte) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if name, _ := d.Leader(); name != "" && name != leader {
					cancel()
					return
				}
			}
		}
	}()
	return d.cfg.Forward(ctx, leader, cmd)
}

// dropForwarded fails the forwarded calls of a batch with ErrNotLeader and
// removes them from it; it reports whether there were any.
func (d *Directory) dropForwarded(batch *[]*call) bool {
	kept := (*batch)[:0:0]
	for _, c := range *batch {
		if c.forwarded {
			c.done <- callResult{err: ErrNotLeader}
		} else {
			kept = append(kept, c)
		}
	}
	if len(kept) == len(*batch) {
		return false
	}
	*batch = kept
	return true
}

// applyLocal applies a command through raft on this node, the leader.
func (d *Directory) applyLocal(cmd []byte, n int) ([]result, error) {
	f := d.raft.Apply(cmd, d.timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrEnqueueTimeout) {
			return nil, fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
		return nil, d.raftErr(err)
	}
	ar, ok := f.Response().(*applyResult)
	if !ok {
		return nil, fmt.Errorf("directory: unexpected apply response %T", f.Response())
	}
	if ar.err != nil {
		return nil, ar.err
	}
	if len(ar.results) != n {
		return nil, fmt.Errorf("directory: %d results for %d ops", len(ar.results), n)
	}
	return ar.results, nil
}

// ApplyForwarded is the leader's side of Forward: it applies a command sent by
// a follower and returns the reply to hand back. A malformed command returns
// an error wrapping ErrBadCommand; on a node that is not the leader it returns
// ErrNotLeader, and the follower tries again with the new leader.
func (d *Directory) ApplyForwarded(ctx context.Context, cmd []byte) ([]byte, error) {
	if d.closed() {
		return nil, ErrClosed
	}
	ops, err := decodeCommand(cmd)
	if err != nil {
		return nil, err
	}
	for i := range ops {
		if err := ops[i].validate(); err != nil {
			return nil, err
		}
	}
	if !d.IsLeader() {
		return nil, ErrNotLeader
	}
	calls := make([]*call, len(ops))
	for i := range ops {
		calls[i] = &call{op: ops[i], forwarded: true, done: make(chan callResult, 1)}
	}
	if err := d.enqueue(ctx, calls...); err != nil {
		return nil, err
	}
	rs := make([]result, len(calls))
	for i, c := range calls {
		r, err := d.wait(ctx, c)
		if err != nil {
			return nil, err
		}
		rs[i] = r
	}
	return encodeReply(rs)
}
