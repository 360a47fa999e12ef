package host

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/odin-db/odin/cluster/transport"
	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting"
)

// A client (odin run --connect, odin shell --connect) is a node that hosts
// no objects: its scripts run in their own VMs here, and everything else
// (calls, queries, class definitions) goes to the node it connected to,
// which routes it into the cluster and sends the replies back over the
// same connection.
type client struct {
	n      *Node
	tr     *transport.Transport
	server string // the node's transport address
}

// ConnectConfig attaches a node as a client of a cluster node.
type ConnectConfig struct {
	Addr  string // the node's transport (--rpc) address
	Token string
}

func connect(n *Node, cc *ConnectConfig) (*client, error) {
	var b [6]byte
	_, _ = crand.Read(b[:])
	n.cfg.Name = "client-" + hex.EncodeToString(b[:])
	c := &client{n: n, server: cc.Addr}
	var err error
	c.tr, err = transport.Listen(transport.Config{Name: n.cfg.Name, Token: cc.Token, Logger: n.cfg.Logger},
		transport.Handler{Message: c.onMessage})
	if err != nil {
		return nil, err
	}
	// One request up front: a wrong address or token fails here, clearly.
	if _, err := c.classes(); err != nil {
		c.tr.Close()
		return nil, fmt.Errorf("host: cannot connect to %s: %w", cc.Addr, err)
	}
	return c, nil
}

func (c *client) stop() { _ = c.tr.Close() }

func (c *client) request(typ uint8, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := c.tr.Request(ctx, c.server, typ, body)
	var re *transport.RemoteError
	if errors.As(err, &re) {
		return nil, errors.New(re.Msg)
	}
	return b, err
}

func (c *client) classes() ([]persist.ClassRecord, error) {
	b, err := c.request(wireClasses, nil)
	if err != nil {
		return nil, err
	}
	var recs []persist.ClassRecord
	if err := wireDec.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("malformed class list: %w", err)
	}
	return recs, nil
}

// PutClass and Classes make the client's class registry the cluster's.
func (c *client) PutClass(rec persist.ClassRecord) error {
	body, err := cbor.Marshal(&rec)
	if err != nil {
		return err
	}
	_, err = c.request(wireDefine, body)
	return err
}

func (c *client) Classes() ([]persist.ClassRecord, error) { return c.classes() }

// route sends everything that is not for one of the client's own scripts
// to the node.
func (c *client) route(m *scripting.Message) (handled bool, err error) {
	self := c.n.cfg.Name
	target := m.To
	if m.Kind == scripting.KindReply {
		target = m.From.Obj
	}
	if node, _, eph := scripting.EphemeralChannel(target); eph && node == self {
		return false, nil
	}
	if m.Kind == scripting.KindReply && !ownable(target) && m.From.Node == self {
		return false, nil
	}
	body, err := encodeMessage(m, 0)
	if err != nil {
		return true, err
	}
	if err := c.tr.Send(c.server, wireMessage, body); err != nil {
		if errors.Is(err, transport.ErrOverloaded) {
			return true, scripting.ErrOverloaded
		}
		return true, fmt.Errorf("the node at %s does not answer: %v", c.server, err)
	}
	return true, nil
}

// migrate asks the node to move an object (odin.migrate in a client).
func (c *client) migrate(ref objects.Ref, node string, vm int) error {
	body, err := encodeWire(&migrateReq{Ref: ref, Node: node, VM: vm})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	if _, err := c.tr.Request(ctx, c.server, wireMigrate, body); err != nil {
		return remoteError(err, "the node at "+c.server+" does not answer")
	}
	return nil
}

func (c *client) onMessage(from transport.Peer, typ uint8, body []byte) {
	m, _, err := decodeMessage(body)
	if err != nil || typ != wireMessage {
		c.n.cfg.Logger.Warn("client: bad message", "from", from.Name, "err", err)
		return
	}
	if err := c.n.Route(m); err != nil {
		c.n.cfg.Logger.Warn("client: message lost", "err", err)
	}
}

// serveClassRequests answers a client's class requests on a cluster node.
func (c *cluster) serveClasses(typ uint8, body []byte) ([]byte, error) {
	if typ == wireDefine {
		var rec persist.ClassRecord
		if err := wireDec.Unmarshal(body, &rec); err != nil {
			return nil, fmt.Errorf("malformed class record: %w", err)
		}
		if rec.Name == "" || rec.Version < 1 {
			return nil, fmt.Errorf("malformed class record %q v%d", rec.Name, rec.Version)
		}
		return nil, clusterClasses{store: c.n.store, c: c}.PutClass(rec)
	}
	recs, err := c.n.store.Classes()
	if err != nil {
		return nil, err
	}
	return cbor.Marshal(recs)
}
