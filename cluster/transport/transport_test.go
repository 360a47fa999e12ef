package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// logBuf collects a transport's log, for tests that check what it says.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestTransport starts a transport listening on a free loopback port,
// closed when the test ends; opts adjust its Config.
func newTestTransport(t testing.TB, name string, h Handler, opts ...func(*Config)) *Transport {
	t.Helper()
	cfg := Config{Name: name, Bind: "127.0.0.1:0", Token: "secret"}
	for _, o := range opts {
		o(&cfg)
	}
	tr, err := Listen(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func client(c *Config) { c.Bind = "" }

// echo answers requests with their body, or type 2 with an error.
var echo = Handler{Request: func(_ Peer, typ uint8, body []byte) ([]byte, error) {
	if typ == 2 {
		return nil, fmt.Errorf("no such object %s", body)
	}
	return body, nil
}}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after %v: still waiting for %s", d, what)
		}
	}
}

// inbox records the messages a transport receives.
type inbox struct {
	mu   sync.Mutex
	from []Peer
	msgs [][]byte
}

func (b *inbox) handler() Handler {
	h := echo
	h.Message = func(from Peer, _ uint8, body []byte) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.from = append(b.from, from)
		b.msgs = append(b.msgs, body)
	}
	return h
}

func (b *inbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

func connCount(tr *Transport) int {
	tr.mu.RLock()
	defer tr.mu.RUnlock()
	n := 0
	for _, cs := range tr.byName {
		n += len(cs)
	}
	return n
}

func TestMessagesInOrder(t *testing.T) {
	var in inbox
	a := newTestTransport(t, "a", Handler{})
	b := newTestTransport(t, "b", in.handler())
	const n = 20000
	for i := range n {
		for {
			err := a.Send(b.Addr(), 1, binary.AppendUvarint(nil, uint64(i)))
			if !errors.Is(err, ErrOverloaded) {
				if err != nil {
					t.Fatal(err)
				}
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(t, 10*time.Second, "the messages", func() bool { return in.len() == n })
	for i, m := range in.msgs {
		if got, _ := binary.Uvarint(m); got != uint64(i) {
			t.Fatalf("message %d is %d", i, got)
		}
	}
	if want := (Peer{"a", a.Addr()}); in.from[0] != want {
		t.Errorf("from %+v, want %+v", in.from[0], want)
	}
}

func TestRequest(t *testing.T) {
	a := newTestTransport(t, "a", Handler{})
	b := newTestTransport(t, "b", echo)
	ctx := context.Background()
	got, err := a.Request(ctx, b.Addr(), 1, []byte("hello"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("got %q, %v", got, err)
	}
	got, err = a.Request(ctx, b.Addr(), 1, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty request: got %q, %v", got, err)
	}
	_, err = a.Request(ctx, b.Addr(), 2, []byte("x"))
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "no such object x" {
		t.Fatalf("want a RemoteError, got %#v", err)
	}
	// a has no Request handler.
	_, err = b.Request(ctx, a.Addr(), 1, nil)
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "no request handler") {
		t.Fatalf("want a RemoteError, got %#v", err)
	}
	// A cancelled request returns at once, and the connection goes on.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Request(cctx, b.Addr(), 1, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if _, err := a.Request(ctx, b.Addr(), 1, nil); err != nil {
		t.Fatal(err)
	}
	if n := connCount(a); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestConcurrentRequests(t *testing.T) {
	a := newTestTransport(t, "a", Handler{})
	b := newTestTransport(t, "b", echo)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				want := fmt.Sprintf("%d/%d", g, i)
				got, err := a.Request(context.Background(), b.Addr(), 1, []byte(want))
				if err == nil && string(got) != want {
					err = fmt.Errorf("got %q, want %q", got, want)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := connCount(a) + connCount(b); n != 2 {
		t.Errorf("%d connection ends, want 2 (one connection)", n)
	}
}

func TestBothDirectionsOneConnection(t *testing.T) {
	var ina, inb inbox
	a := newTestTransport(t, "a", ina.handler())
	b := newTestTransport(t, "b", inb.handler())
	ctx := context.Background()
	if err := a.Send(b.Addr(), 1, []byte("a>b")); err != nil {
		t.Fatal(err)
	}
	if err := b.SendPeer("a", 1, []byte("b>a by name")); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(a.Addr(), 1, []byte("b>a by address")); err != nil {
		t.Fatal(err)
	}
	if got, err := b.RequestPeer(ctx, "a", 1, []byte("q")); err != nil || string(got) != "q" {
		t.Fatalf("b asks a: %q, %v", got, err)
	}
	if got, err := b.Request(ctx, a.Addr(), 1, []byte("r")); err != nil || string(got) != "r" {
		t.Fatalf("b asks a: %q, %v", got, err)
	}
	waitFor(t, 5*time.Second, "messages", func() bool { return ina.len() == 2 && inb.len() == 1 })
	if ina.from[0] != (Peer{"b", b.Addr()}) || inb.from[0] != (Peer{"a", a.Addr()}) {
		t.Errorf("peers: %v, %v", ina.from, inb.from)
	}
	if na, nb := connCount(a), connCount(b); na != 1 || nb != 1 {
		t.Errorf("a has %d connections and b %d, want 1 each", na, nb)
	}
}

func TestClientWithoutListener(t *testing.T) {
	var in inbox
	var seen atomic.Value
	node := newTestTransport(t, "n1", Handler{Request: func(from Peer, _ uint8, body []byte) ([]byte, error) {
		seen.Store(from)
		return body, nil
	}})
	ch := in.handler()
	ch.Request = func(_ Peer, _ uint8, body []byte) ([]byte, error) { return append([]byte("client:"), body...), nil }
	c := newTestTransport(t, "c1", ch, client)
	if c.Addr() != "" {
		t.Fatalf("a client's Addr is %q", c.Addr())
	}
	ctx := context.Background()
	if _, err := c.Request(ctx, node.Addr(), 1, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if p := seen.Load().(Peer); p != (Peer{Name: "c1"}) {
		t.Errorf("the node sees %+v", p)
	}
	if err := node.SendPeer("c1", 1, []byte("pushed")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the pushed message", func() bool { return in.len() == 1 })
	if got, err := node.RequestPeer(ctx, "c1", 1, []byte("x")); err != nil || string(got) != "client:x" {
		t.Fatalf("node asks client: %q, %v", got, err)
	}
	if err := node.SendPeer("nobody", 1, nil); !errors.Is(err, ErrNoPeer) {
		t.Errorf("SendPeer to nobody: %v", err)
	}
	if _, err := node.RequestPeer(ctx, "nobody", 1, nil); !errors.Is(err, ErrNoPeer) {
		t.Errorf("RequestPeer to nobody: %v", err)
	}
}

func TestTokenMismatch(t *testing.T) {
	var log logBuf
	b := newTestTransport(t, "b", echo, func(c *Config) {
		c.Token = "right"
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	a := newTestTransport(t, "a", Handler{}, func(c *Config) { c.Token = "wrong" })
	err := a.Send(b.Addr(), 1, nil)
	if err == nil || !strings.Contains(err.Error(), "token") || !strings.Contains(err.Error(), "node b at "+b.Addr()) {
		t.Fatalf("Send: %v", err)
	}
	t.Log(err)
	if _, err := a.Request(context.Background(), b.Addr(), 1, nil); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("Request: %v", err)
	}
	waitFor(t, 5*time.Second, "the listener's log", func() bool { return strings.Contains(log.String(), "token") })
	t.Log(log.String())
	if n := connCount(b); n != 0 {
		t.Errorf("b keeps %d connections", n)
	}
}

// rawHandshake dials addr and shakes hands by hand, for tests that then
// send what a Transport never would.
func rawHandshake(t *testing.T, addr, token string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	h := hello{version: version, name: "raw"}
	copy(h.proof[:], proof(token, "odin-dial", h.nonce))
	if err := writeOne(nc, &frame{kind: kindHello, body: h.encode()}); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	if f, err := readFrame(br, helloFrame); err != nil || f.kind != kindHello {
		t.Fatalf("handshake: %+v, %v", f, err)
	}
	return nc, br
}

// closedByPeer reads (and drops) until the peer closes nc, failing the
// test if that takes longer than d.
func closedByPeer(t *testing.T, nc net.Conn, d time.Duration) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection is still open after %v", d)
	}
}

func TestMalformedFrameClosesOnlyItsConnection(t *testing.T) {
	var log logBuf
	b := newTestTransport(t, "b", echo, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&log, nil)) })
	a := newTestTransport(t, "a", Handler{})
	ctx := context.Background()
	works := func() {
		t.Helper()
		if got, err := a.Request(ctx, b.Addr(), 1, []byte("ok")); err != nil || string(got) != "ok" {
			t.Fatalf("a's request: %q, %v", got, err)
		}
	}
	works()

	bad := map[string][]byte{
		"not odin":       []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"unknown kind":   {0, 0, 0, 3, 99, 0, 1},
		"short frame":    {0, 0, 0, 2, 1, 0},
		"bad request id": {0, 0, 0, 12, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"hello again":    {0, 0, 0, 3, kindHello, 0, 0},
		"huge length":    {0xff, 0xff, 0xff, 0xff, 1},
	}
	for name, b0 := range bad {
		t.Run(name, func(t *testing.T) {
			var nc net.Conn
			if name == "not odin" {
				var err error
				if nc, err = net.Dial("tcp", b.Addr()); err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
			} else {
				nc, _ = rawHandshake(t, b.Addr(), "secret")
			}
			if _, err := nc.Write(b0); err != nil {
				t.Fatal(err)
			}
			closedByPeer(t, nc, 5*time.Second)
			works()
		})
	}
	if !strings.Contains(log.String(), "bad frame") {
		t.Errorf("b's log does not mention the bad frames:\n%s", log.String())
	}
}

func TestOversizedFrame(t *testing.T) {
	b := newTestTransport(t, "b", echo, func(c *Config) { c.MaxFrame = 4096 })
	a := newTestTransport(t, "a", Handler{})
	ctx := context.Background()
	// b refuses a frame larger than its MaxFrame: the connection closes,
	// the request fails, and the next one redials.
	_, err := a.Request(ctx, b.Addr(), 1, make([]byte, 5000))
	if err == nil || !strings.Contains(err.Error(), "b at "+b.Addr()) {
		t.Fatalf("oversized request: %v", err)
	}
	if _, err := a.Request(ctx, b.Addr(), 1, make([]byte, 4000)); err != nil {
		t.Fatal(err)
	}
	// A frame larger than the sender's own MaxFrame is refused before it
	// leaves, and the connection stays.
	if err := b.Send(a.Addr(), 1, make([]byte, 5000)); !errors.Is(err, errTooLarge) {
		t.Fatalf("b sends a large frame: %v", err)
	}
	if _, err := b.Request(ctx, a.Addr(), 1, make([]byte, 5000)); !errors.Is(err, errTooLarge) {
		t.Fatalf("b requests with a large frame: %v", err)
	}
	if _, err := a.Request(ctx, b.Addr(), 1, nil); err != nil {
		t.Fatal(err)
	}
}

// blocking answers requests once release is closed, and counts them in.
type blocking struct {
	entered atomic.Int32
	release chan struct{}
}

func newBlocking(t *testing.T) *blocking {
	b := &blocking{release: make(chan struct{})}
	t.Cleanup(func() { close(b.release) })
	return b
}

func (b *blocking) handler() Handler {
	return Handler{Request: func(_ Peer, _ uint8, body []byte) ([]byte, error) {
		b.entered.Add(1)
		<-b.release
		return body, nil
	}}
}

func TestPeerKilled(t *testing.T) {
	blk := newBlocking(t)
	b := newTestTransport(t, "b", blk.handler())
	a := newTestTransport(t, "a", Handler{})
	addr := b.Addr()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := a.Request(context.Background(), addr, 1, nil)
			errs <- err
		}()
	}
	waitFor(t, 5*time.Second, "the requests to arrive", func() bool { return blk.entered.Load() == 8 })
	start := time.Now()
	b.Close()
	for range 8 {
		select {
		case err := <-errs:
			if err == nil || !strings.Contains(err.Error(), "b at "+addr) {
				t.Fatalf("pending request: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("a pending request still waits 2s after its peer died")
		}
	}
	t.Logf("pending requests failed in %v", time.Since(start))

	start = time.Now()
	if err := a.Send(addr, 1, nil); err == nil {
		t.Fatal("Send to a dead peer succeeded")
	}
	if _, err := a.Request(context.Background(), addr, 1, nil); err == nil {
		t.Fatal("Request to a dead peer succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("calls to a dead peer took %v", d)
	}
}

func TestRedialAfterRestart(t *testing.T) {
	var in inbox
	b := newTestTransport(t, "b", in.handler())
	a := newTestTransport(t, "a", Handler{})
	addr := b.Addr()
	if err := a.Send(addr, 1, []byte("1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the first message", func() bool { return in.len() == 1 })
	b.Close()
	waitFor(t, 5*time.Second, "a to notice", func() bool { return a.Send(addr, 1, nil) != nil })

	b2 := newTestTransport(t, "b", in.handler(), func(c *Config) { c.Bind = addr })
	waitFor(t, 5*time.Second, "a to redial", func() bool { return a.Send(addr, 1, []byte("2")) == nil })
	waitFor(t, 5*time.Second, "the second message", func() bool { return in.len() == 2 })
	if got, err := a.Request(context.Background(), b2.Addr(), 1, []byte("x")); err != nil || string(got) != "x" {
		t.Fatalf("request after the restart: %q, %v", got, err)
	}
}

func TestClose(t *testing.T) {
	blk := newBlocking(t)
	var closed atomic.Value
	b := newTestTransport(t, "b", Handler{Request: blk.handler().Request, Closed: func(p Peer) { closed.Store(p) }})
	a := newTestTransport(t, "a", Handler{})
	errs := make(chan error, 1)
	go func() {
		_, err := a.Request(context.Background(), b.Addr(), 1, nil)
		errs <- err
	}()
	waitFor(t, 5*time.Second, "the request to arrive", func() bool { return blk.entered.Load() == 1 })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("pending request: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a pending request survives Close")
	}
	if err := a.Send(b.Addr(), 1, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if _, err := a.Request(context.Background(), b.Addr(), 1, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Request after Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	waitFor(t, 5*time.Second, "b's Closed", func() bool { p, _ := closed.Load().(Peer); return p.Name == "a" })
	if n := connCount(b); n != 0 {
		t.Errorf("b keeps %d connections", n)
	}
}

func TestOverloaded(t *testing.T) {
	t.Run("handlers", func(t *testing.T) {
		blk := newBlocking(t)
		b := newTestTransport(t, "b", blk.handler(), func(c *Config) { c.QueueLen = 2 })
		a := newTestTransport(t, "a", Handler{})
		for range 2 {
			go a.Request(context.Background(), b.Addr(), 1, nil)
		}
		waitFor(t, 5*time.Second, "two handlers", func() bool { return blk.entered.Load() == 2 })
		if _, err := a.Request(context.Background(), b.Addr(), 1, nil); !errors.Is(err, ErrOverloaded) {
			t.Fatalf("third request: %v", err)
		}
	})
	t.Run("queue", func(t *testing.T) {
		// A peer that never reads: the kernel's buffers fill, then the queue.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		stuck := newTestTransport(t, "stuck", Handler{})
		go func() {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			br := bufio.NewReader(nc)
			_, reply, err := stuck.handshakeAccept(nc, br)
			if err == nil {
				writeOne(nc, &reply)
			}
			<-stuck.ctx.Done()
		}()
		a := newTestTransport(t, "a", Handler{}, func(c *Config) { c.QueueLen = 4 })
		body := make([]byte, 1<<20)
		for i := 0; ; i++ {
			err := a.Send(ln.Addr().String(), 1, body)
			if errors.Is(err, ErrOverloaded) {
				t.Logf("overloaded after %d MB", i)
				break
			}
			if err != nil || i == 200 {
				t.Fatalf("send %d: %v", i, err)
			}
		}
	})
}

func TestSilentPeerIsDropped(t *testing.T) {
	var closed atomic.Int32
	b := newTestTransport(t, "b", Handler{Closed: func(Peer) { closed.Add(1) }},
		func(c *Config) { c.ping = 20 * time.Millisecond })
	// A raw connection that completes the handshake, then says nothing.
	nc, br := rawHandshake(t, b.Addr(), "secret")
	go io.Copy(io.Discard, br)
	waitFor(t, 5*time.Second, "b to drop the silent connection", func() bool { return closed.Load() == 1 })
	nc.Close()
}

func TestIdleConnectionStays(t *testing.T) {
	fast := func(c *Config) { c.ping = 100 * time.Millisecond }
	a := newTestTransport(t, "a", Handler{}, fast)
	c := newTestTransport(t, "c", echo, fast)
	if _, err := a.Request(context.Background(), c.Addr(), 1, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * idlePings * 100 * time.Millisecond / 2) // what is tested is that time passes
	// a has no Request handler: its RemoteError shows that the connection
	// is still there.
	_, err := c.RequestPeer(context.Background(), "a", 1, nil)
	if re := (*RemoteError)(nil); !errors.As(err, &re) {
		t.Fatalf("the idle connection was dropped: %v", err)
	}
}

func TestAdvertised(t *testing.T) {
	remote := &net.TCPAddr{IP: net.ParseIP("10.0.0.7"), Port: 5555}
	for in, want := range map[string]string{
		"":                "",
		"10.0.0.8:7001":   "10.0.0.8:7001",
		"node3:7001":      "node3:7001",
		":7001":           "10.0.0.7:7001",
		"0.0.0.0:7001":    "10.0.0.7:7001",
		"[::]:7001":       "10.0.0.7:7001",
		"no port at all":  "no port at all",
		"[::1]:7001":      "[::1]:7001",
		"127.0.0.1:65535": "127.0.0.1:65535",
	} {
		if got := advertised(in, remote); got != want {
			t.Errorf("advertised(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestListenValidates(t *testing.T) {
	if _, err := Listen(Config{Bind: "127.0.0.1:0"}, Handler{}); err == nil {
		t.Error("Listen without a name succeeded")
	}
	a := newTestTransport(t, "a", Handler{})
	if _, err := Listen(Config{Name: "b", Bind: a.Addr()}, Handler{}); err == nil {
		t.Error("Listen on a used address succeeded")
	}
}

func TestUnreachablePeerFailsFast(t *testing.T) {
	a := newTestTransport(t, "a", Handler{}, func(c *Config) { c.DialTimeout = 300 * time.Millisecond })
	const nowhere = "10.255.255.1:7001" // not routed: the dial hangs or fails at once
	start := time.Now()
	if err := a.Send(nowhere, 1, nil); err == nil {
		t.Fatal("Send to nowhere succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the first Send took %v", d)
	}
	start = time.Now()
	for range 100 {
		if _, err := a.Request(context.Background(), nowhere, 1, nil); err == nil {
			t.Fatal("Request to nowhere succeeded")
		}
	}
	if d := time.Since(start); d > redialBackoff {
		t.Fatalf("100 requests after a failed dial took %v", d)
	}
}

func TestSimultaneousDials(t *testing.T) {
	a := newTestTransport(t, "a", echo)
	b := newTestTransport(t, "b", echo)
	var wg sync.WaitGroup
	for _, p := range [][2]*Transport{{a, b}, {b, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p[0].Request(context.Background(), p[1].Addr(), 1, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for range 10 {
		for _, p := range [][2]*Transport{{a, b}, {b, a}} {
			if _, err := p[0].Request(context.Background(), p[1].Addr(), 1, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := p[0].RequestPeer(context.Background(), p[1].cfg.Name, 1, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("a has %d connections, b %d", connCount(a), connCount(b))
}
