package transport

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// Config configures a Transport. Zero fields take their defaults.
type Config struct {
	Name        string        // this endpoint's name (a node's, or a client's), sent in the handshake
	Bind        string        // host:port to listen on ("127.0.0.1:0" picks a port); "" does not listen (a client)
	Token       string        // the shared secret; both ends of a connection must have the same
	MaxFrame    int           // the largest frame in bytes (default 16 MB): a larger one received closes the connection, a larger body is not sent
	QueueLen    int           // outgoing frames queued per connection (default 65536); full answers ErrOverloaded
	DialTimeout time.Duration // bounds a dial and its handshake (default 2s)
	Logger      *slog.Logger  // nil is silent

	ping time.Duration // idle connections ping this often (default 1s); tests shorten it
}

const (
	defaultMaxFrame    = 16 << 20
	defaultQueueLen    = 65536
	defaultDialTimeout = 2 * time.Second
	defaultPing        = time.Second
	idlePings          = 10                     // a connection silent for this many ping intervals is dead
	redialBackoff      = 500 * time.Millisecond // a failed dial answers calls to its address for this long
	bufSize            = 64 << 10
)

// Handler receives what peers send. Every field may be nil.
type Handler struct {
	// Message is called for each one-way message, in order per connection,
	// on that connection's reader goroutine: it must not block for long.
	// It may keep body.
	Message func(from Peer, typ uint8, body []byte)
	// Request answers a request; each runs on its own goroutine. A non-nil
	// error reaches the requester as *RemoteError with the error's text.
	// At most QueueLen requests run per connection: the peer's further
	// requests are answered ErrOverloaded.
	Request func(from Peer, typ uint8, body []byte) ([]byte, error)
	// Closed is told when a connection to a peer ends, after its last
	// Message (not for the connections Close ends).
	Closed func(from Peer)
}

// Peer identifies the other end of a connection: its name and the address
// it listens on ("" for a client that does not listen).
type Peer struct{ Name, Addr string }

// String is "name at addr", or the name alone for a client.
func (p Peer) String() string {
	if p.Addr == "" {
		return p.Name
	}
	return p.Name + " at " + p.Addr
}

// Transport is an endpoint: it listens, dials, and keeps one connection
// per peer. Its methods are safe for concurrent use.
type Transport struct {
	cfg  Config
	h    Handler
	log  *slog.Logger
	ln   net.Listener
	addr string          // ln's address
	ctx  context.Context // ends with Close; bounds dials
	stop context.CancelFunc
	wg   sync.WaitGroup // the accept loop, dials, handshakes, readers and writers

	mu     sync.RWMutex
	closed bool
	byAddr map[string][]*conn    // by dialed and advertised listen address, newest last
	byName map[string][]*conn    // by peer name, newest last: every connection
	dials  map[string]*dialing   // dials in progress, and failed ones until their backoff ends
	raw    map[net.Conn]struct{} // connections in their handshake
}

// dialing is one dial shared by the callers that want the same address.
type dialing struct {
	done  chan struct{} // closed when c or err is set
	c     *conn
	err   error
	until time.Time // for a failed dial: when to try again
}

// Listen starts a Transport: it listens on cfg.Bind, if set, and dials
// others when asked to.
func Listen(cfg Config, h Handler) (*Transport, error) {
	if cfg.Name == "" || len(cfg.Name) > maxName {
		return nil, fmt.Errorf("transport: a name of 1 to %d bytes is required", maxName)
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = defaultMaxFrame
	}
	cfg.MaxFrame = min(cfg.MaxFrame, 1<<32-1)
	if cfg.MaxFrame < helloFrame {
		return nil, fmt.Errorf("transport: MaxFrame %d is below %d bytes", cfg.MaxFrame, helloFrame)
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = defaultQueueLen
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	if cfg.ping <= 0 {
		cfg.ping = defaultPing
	}
	t := &Transport{
		cfg: cfg, h: h, log: cfg.Logger,
		byAddr: map[string][]*conn{}, byName: map[string][]*conn{},
		dials: map[string]*dialing{}, raw: map[net.Conn]struct{}{},
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Bind != "" {
		ln, err := net.Listen("tcp", cfg.Bind)
		if err != nil {
			return nil, fmt.Errorf("transport: %w", err)
		}
		t.ln, t.addr = ln, ln.Addr().String()
	}
	t.ctx, t.stop = context.WithCancel(context.Background())
	if t.ln != nil {
		t.wg.Add(1)
		go t.accept()
	}
	return t, nil
}

// Addr is the address the Transport listens on, "" if it does not.
func (t *Transport) Addr() string { return t.addr }

// Send queues a one-way message to the endpoint listening at addr, dialing
// it if no connection exists, and returns without waiting for delivery. It
// fails if the endpoint cannot be reached (within DialTimeout, or at once
// while a recent dial's failure stands), and with ErrOverloaded if the
// connection's queue is full. A message queued when the connection breaks
// is lost. The transport keeps body until it is written: do not modify it.
func (t *Transport) Send(addr string, typ uint8, body []byte) error {
	c, err := t.connTo(context.Background(), addr)
	if err != nil {
		return err
	}
	_, err = c.push(frame{kind: kindMessage, typ: typ, body: body}, true, nil)
	return err
}

// SendPeer is Send over an existing connection, inbound or outbound, to the
// peer named name: how a node answers a client that does not listen. It
// fails with ErrNoPeer if there is none.
func (t *Transport) SendPeer(name string, typ uint8, body []byte) error {
	c, err := t.named(name)
	if err != nil {
		return err
	}
	_, err = c.push(frame{kind: kindMessage, typ: typ, body: body}, true, nil)
	return err
}

// Request sends a request to the endpoint listening at addr, on the
// connection Send uses, and waits for its answer or for ctx. A handler's
// error comes back as *RemoteError.
func (t *Transport) Request(ctx context.Context, addr string, typ uint8, body []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := t.connTo(ctx, addr)
	if err != nil {
		return nil, err
	}
	return c.request(ctx, typ, body)
}

// RequestPeer is Request over an existing connection to the peer named
// name; ErrNoPeer if there is none.
func (t *Transport) RequestPeer(ctx context.Context, name string, typ uint8, body []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := t.named(name)
	if err != nil {
		return nil, err
	}
	return c.request(ctx, typ, body)
}

// Close closes the listener and every connection; pending requests fail
// with ErrClosed. It waits for the transport's goroutines, but not for
// request handlers still running.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	var conns []*conn
	for _, cs := range t.byName {
		conns = append(conns, cs...)
	}
	raw := make([]net.Conn, 0, len(t.raw))
	for nc := range t.raw {
		raw = append(raw, nc)
	}
	t.mu.Unlock()

	t.stop()
	var err error
	if t.ln != nil {
		err = t.ln.Close()
	}
	for _, nc := range raw {
		nc.Close()
	}
	for _, c := range conns {
		c.fail(ErrClosed)
	}
	t.wg.Wait()
	return err
}

func (t *Transport) isClosed() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.closed
}

// named finds the newest connection to the peer called name.
func (t *Transport) named(name string) (*conn, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return nil, ErrClosed
	}
	if cs := t.byName[name]; len(cs) > 0 {
		return cs[len(cs)-1], nil
	}
	return nil, fmt.Errorf("%w %s", ErrNoPeer, name)
}

// connTo finds or makes a connection to the endpoint listening at addr.
func (t *Transport) connTo(ctx context.Context, addr string) (*conn, error) {
	t.mu.RLock()
	cs, closed := t.byAddr[addr], t.closed
	t.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if len(cs) > 0 {
		return cs[len(cs)-1], nil
	}

	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, ErrClosed
	}
	if cs := t.byAddr[addr]; len(cs) > 0 {
		t.mu.Unlock()
		return cs[len(cs)-1], nil
	}
	d := t.dials[addr]
	if d == nil || d.err != nil && time.Now().After(d.until) {
		d = &dialing{done: make(chan struct{})}
		t.dials[addr] = d
		t.wg.Add(1)
		go t.dial(addr, d)
	}
	t.mu.Unlock()
	select {
	case <-d.done:
		return d.c, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (t *Transport) dial(addr string, d *dialing) {
	defer t.wg.Done()
	c, err := t.dialConn(addr)
	t.mu.Lock()
	d.c, d.err = c, err
	if err != nil {
		d.until = time.Now().Add(redialBackoff)
	} else {
		delete(t.dials, addr)
	}
	t.mu.Unlock()
	close(d.done)
}

// dialConn dials addr, shakes hands and registers the connection.
func (t *Transport) dialConn(addr string) (*conn, error) {
	deadline := time.Now().Add(t.cfg.DialTimeout)
	nc, err := (&net.Dialer{Deadline: deadline}).DialContext(t.ctx, "tcp", addr)
	if err != nil {
		if t.isClosed() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("transport: %w", err)
	}
	if !t.track(nc) {
		nc.Close()
		return nil, ErrClosed
	}
	tr := &timeoutReader{nc: nc}
	br := bufio.NewReaderSize(tr, bufSize)
	nc.SetDeadline(deadline)
	h, err := t.handshakeDial(nc, br, addr)
	if err != nil {
		t.untrack(nc)
		nc.Close()
		if t.isClosed() {
			return nil, ErrClosed
		}
		return nil, err
	}
	c := t.newConn(nc, tr, br, Peer{Name: h.name, Addr: addr})
	c.addrs = []string{addr}
	if a := advertised(h.addr, nc.RemoteAddr()); a != "" && a != addr {
		c.addrs = append(c.addrs, a)
	}
	if err := t.register(c); err != nil {
		nc.Close()
		return nil, err
	}
	t.log.Debug("transport: connected", "peer", c.peer.String())
	return c, nil
}

func (t *Transport) handshakeDial(nc net.Conn, br *bufio.Reader, addr string) (hello, error) {
	me := hello{version: version, name: t.cfg.Name, addr: t.Addr()}
	rand.Read(me.nonce[:])
	copy(me.proof[:], proof(t.cfg.Token, "odin-dial", me.nonce))
	if err := writeOne(nc, &frame{kind: kindHello, body: me.encode()}); err != nil {
		return hello{}, fmt.Errorf("transport: handshake with %s: %w", addr, err)
	}
	f, err := readFrame(br, helloFrame)
	if err != nil {
		if errors.Is(err, errMalformed) || errors.Is(err, errTooLarge) {
			return hello{}, fmt.Errorf("transport: %s is not an odin node (its answer to the handshake is not odin's): %w", addr, err)
		}
		return hello{}, fmt.Errorf("transport: handshake with %s: %w", addr, err)
	}
	if f.kind == kindError {
		who := fmt.Sprintf("node %.*s at %s", maxName, f.body, addr)
		switch f.typ {
		case refuseToken:
			return hello{}, fmt.Errorf("transport: %s refused our token (the cluster tokens differ)", who)
		case refuseVersion:
			return hello{}, fmt.Errorf("transport: %s refused our protocol version %d", who, version)
		}
		return hello{}, fmt.Errorf("transport: %s refused our handshake", who)
	}
	if f.kind != kindHello {
		return hello{}, fmt.Errorf("transport: handshake with %s: %w: kind %d", addr, errMalformed, f.kind)
	}
	h, err := decodeHello(f.body)
	switch {
	case err != nil:
		return hello{}, fmt.Errorf("transport: handshake with %s: %w", addr, err)
	case h.version != version:
		return hello{}, fmt.Errorf("transport: node %s at %s speaks protocol version %d, not %d", h.name, addr, h.version, version)
	case !hmac.Equal(h.proof[:], proof(t.cfg.Token, "odin-accept", me.nonce, h.nonce)):
		return hello{}, fmt.Errorf("transport: node %s at %s does not know our token (the cluster tokens differ)", h.name, addr)
	}
	return h, nc.SetDeadline(time.Time{})
}

// accept accepts connections until the listener closes.
func (t *Transport) accept() {
	defer t.wg.Done()
	for {
		nc, err := t.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("transport: accept", "err", err)
			time.Sleep(50 * time.Millisecond) // out of file descriptors, say
			continue
		}
		if !t.track(nc) {
			nc.Close()
			return
		}
		t.wg.Add(1)
		go t.serveInbound(nc)
	}
}

func (t *Transport) serveInbound(nc net.Conn) {
	defer t.wg.Done()
	tr := &timeoutReader{nc: nc}
	br := bufio.NewReaderSize(tr, bufSize)
	nc.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
	h, reply, err := t.handshakeAccept(nc, br)
	if err != nil {
		t.untrack(nc)
		nc.Close()
		if !t.isClosed() {
			t.log.Warn("transport: refused a connection", "remote", nc.RemoteAddr().String(), "err", err)
		}
		return
	}
	c := t.newConn(nc, tr, br, Peer{Name: h.name, Addr: advertised(h.addr, nc.RemoteAddr())})
	if c.peer.Addr != "" {
		c.addrs = []string{c.peer.Addr}
	}
	// The reply goes first through the writer, so the connection is
	// registered before the dialer can use it.
	c.q = append(c.q, reply)
	if err := t.register(c); err != nil {
		nc.Close()
		return
	}
	t.log.Debug("transport: accepted", "peer", c.peer.String())
}

// handshakeAccept checks a dialer's hello, and returns it and the hello to
// answer, or refuses the dialer.
func (t *Transport) handshakeAccept(nc net.Conn, br *bufio.Reader) (hello, frame, error) {
	f, err := readFrame(br, helloFrame)
	if err != nil {
		return hello{}, frame{}, fmt.Errorf("transport: handshake: %w", err)
	}
	refuse := func(reason uint8, err error) (hello, frame, error) {
		writeOne(nc, &frame{kind: kindError, typ: reason, body: []byte(t.cfg.Name)})
		return hello{}, frame{}, err
	}
	if f.kind != kindHello {
		return refuse(refuseHello, fmt.Errorf("transport: handshake: %w: kind %d", errMalformed, f.kind))
	}
	h, err := decodeHello(f.body)
	switch {
	case err != nil:
		return refuse(refuseHello, fmt.Errorf("transport: handshake: %w", err))
	case h.version != version:
		return refuse(refuseVersion, fmt.Errorf("transport: %s speaks protocol version %d, not %d", h.name, h.version, version))
	case !hmac.Equal(h.proof[:], proof(t.cfg.Token, "odin-dial", h.nonce)):
		return refuse(refuseToken, fmt.Errorf("transport: %s presented a wrong token (the cluster tokens differ)", h.name))
	}
	me := hello{version: version, name: t.cfg.Name, addr: t.Addr()}
	rand.Read(me.nonce[:])
	copy(me.proof[:], proof(t.cfg.Token, "odin-accept", h.nonce, me.nonce))
	return h, frame{kind: kindHello, body: me.encode()}, nc.SetDeadline(time.Time{})
}

// writeOne writes a frame straight to nc, for the handshake.
func writeOne(nc net.Conn, f *frame) error {
	bw := bufio.NewWriterSize(nc, 4+maxHeader+len(f.body))
	if err := writeFrame(bw, f); err != nil {
		return err
	}
	return bw.Flush()
}

// advertised is the address a peer says it listens on, with an unspecified
// host (":7001", "0.0.0.0:7001") replaced by the host it connects from.
func advertised(addr string, remote net.Addr) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || (host != "" && !net.ParseIP(host).IsUnspecified()) {
		return addr
	}
	if ra, ok := remote.(*net.TCPAddr); ok {
		return net.JoinHostPort(ra.IP.String(), port)
	}
	return addr
}

// track notes a connection in its handshake, so that Close can end it;
// false if the transport is closed.
func (t *Transport) track(nc net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.raw[nc] = struct{}{}
	return true
}

func (t *Transport) untrack(nc net.Conn) {
	t.mu.Lock()
	delete(t.raw, nc)
	t.mu.Unlock()
}

// register makes a connection that finished its handshake findable and
// starts its reader and writer.
func (t *Transport) register(c *conn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.raw, c.nc)
	if t.closed {
		return ErrClosed
	}
	for _, a := range c.addrs {
		t.byAddr[a] = append(t.byAddr[a], c)
	}
	t.byName[c.peer.Name] = append(t.byName[c.peer.Name], c)
	t.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
	return nil
}

// remove forgets a connection that ended.
func (t *Transport) remove(c *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	drop := func(m map[string][]*conn, k string) {
		if i := slices.Index(m[k], c); i >= 0 {
			m[k] = slices.Delete(m[k], i, i+1)
			if len(m[k]) == 0 {
				delete(m, k)
			}
		}
	}
	for _, a := range c.addrs {
		drop(t.byAddr, a)
	}
	drop(t.byName, c.peer.Name)
}
