package host

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/odin-db/odin/cluster/transport"
)

// NodeStatus is what `.nodes` in the shell and `odin status` show of a
// node: its VMs and the objects active on them, and its indexes (each node
// keeps and builds the indexes of the objects it holds).
type NodeStatus struct {
	Name    string      `cbor:"1,keyasint"`
	Addr    string      `cbor:"2,keyasint,omitempty"` // transport address, in a cluster
	State   string      `cbor:"3,keyasint"`           // alive, failed, left
	VMs     []VMStatus  `cbor:"4,keyasint,omitempty"` // empty when the node did not answer
	Indexes []IndexInfo `cbor:"5,keyasint,omitempty"`
	Err     string      `cbor:"6,keyasint,omitempty"` // why the node did not answer
}

// VMStatus describes one VM of a node.
type VMStatus struct {
	Index   int `cbor:"1,keyasint"`
	Objects int `cbor:"2,keyasint"` // objects active in memory; -1 if the VM did not answer
}

// IndexInfo describes one declared index of a class on a node, and its build.
type IndexInfo struct {
	Node  string `cbor:"1,keyasint"`
	Class string `cbor:"2,keyasint"`
	Index string `cbor:"3,keyasint"` // as users write it: owner, [city, age], unique email
	Built bool   `cbor:"4,keyasint,omitempty"`
	Done  int    `cbor:"5,keyasint,omitempty"` // objects indexed so far by its build
	Total int    `cbor:"6,keyasint,omitempty"` // objects of the class when the build began
	Err   string `cbor:"7,keyasint,omitempty"`
}

// Status reports this node alone.
func (n *Node) Status() NodeStatus {
	st := NodeStatus{Name: n.cfg.Name, Addr: n.RPCAddr(), State: "alive"}
	for i, w := range n.hosted {
		st.VMs = append(st.VMs, VMStatus{Index: i, Objects: w.ActiveObjects()})
	}
	ixs, err := n.localIndexes()
	if err != nil {
		st.Err = err.Error()
	}
	st.Indexes = ixs
	return st
}

// ClusterStatus reports every node of the cluster, asking each alive one
// (just this node when it is alone; a client asks the node it is connected
// to), in name order.
func (n *Node) ClusterStatus() ([]NodeStatus, error) {
	switch {
	case n.client != nil:
		b, err := n.client.request(wireStatus, []byte{1})
		if err != nil {
			return nil, err
		}
		var out []NodeStatus
		if err := wireDec.Unmarshal(b, &out); err != nil {
			return nil, fmt.Errorf("malformed status: %w", err)
		}
		return out, nil
	case n.cluster == nil:
		return []NodeStatus{n.Status()}, nil
	}
	c := n.cluster
	members := c.mem.Members()
	out := make([]NodeStatus, len(members))
	done := make(chan struct{}, len(members))
	for i, m := range members {
		go func(i int) {
			defer func() { done <- struct{}{} }()
			st := NodeStatus{Name: m.Name, Addr: m.Tags["rpc"], State: m.Status.String()}
			switch {
			case m.Name == n.cfg.Name:
				st = n.Status()
			case m.Status.String() == "alive":
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				b, err := c.tr.Request(ctx, m.Tags["rpc"], wireStatus, []byte{0})
				var re *transport.RemoteError
				switch {
				case errors.As(err, &re):
					st.Err = re.Msg
				case err != nil:
					st.Err = err.Error()
				default:
					var one NodeStatus
					if err := wireDec.Unmarshal(b, &one); err != nil {
						st.Err = "malformed status: " + err.Error()
					} else {
						st = one
					}
				}
			}
			out[i] = st
		}(i)
	}
	for range members {
		<-done
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Indexes lists the declared indexes of every class on every node, with
// their builds.
func (n *Node) Indexes() ([]IndexInfo, error) {
	sts, err := n.ClusterStatus()
	if err != nil {
		return nil, err
	}
	var out []IndexInfo
	for _, st := range sts {
		out = append(out, st.Indexes...)
	}
	return out, nil
}

// serveStatus answers a status request: this node's ([0]) or, for a
// client, the cluster's ([1]).
func (n *Node) serveStatus(body []byte) ([]byte, error) {
	if len(body) == 1 && body[0] == 1 {
		sts, err := n.ClusterStatus()
		if err != nil {
			return nil, err
		}
		return encodeWire(sts)
	}
	return encodeWire(n.Status())
}
