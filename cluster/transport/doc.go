// Package transport carries messages and requests between Odin nodes, and
// between a client and a node, over one TCP connection per pair.
//
// The contract:
//  1. Listen starts an endpoint: it listens on Config.Bind (unless empty, for
//     a client) and dials others on demand. Every endpoint has a name.
//  2. Send queues a one-way message to the endpoint listening at an address,
//     dialing it first if no connection exists (concurrent callers share one
//     dial). It returns once the frame is queued, not when it is delivered:
//     frames queued but not yet written when a connection breaks are lost,
//     and the layers above retry. A full queue answers ErrOverloaded at once.
//  3. Request sends a request on the same connection, pipelined with every
//     other frame, and waits for its answer or for ctx. A handler's error
//     comes back as *RemoteError; a broken connection fails every pending
//     request on it at once, with an error naming the peer.
//  4. A connection serves both directions: the accepting side registers it
//     under the dialer's name and listen address, so SendPeer and
//     RequestPeer reach a client that does not listen, and a node reuses the
//     connection another node opened to it.
//  5. A connection that breaks is forgotten; the next Send redials. A dial
//     that failed is remembered for half a second, during which calls to
//     that address fail at once instead of each waiting for DialTimeout.
//     If two endpoints dial each other at once, they keep both connections.
//  6. A malformed or oversized frame closes that one connection, never the
//     process. Idle connections ping every second; one silent for ten
//     seconds (a crashed host, a cut network) is closed, failing its requests.
//  7. Close closes the listener and every connection; pending requests fail
//     with ErrClosed.
//
// # Frames
//
// Every frame is a 4-byte big-endian length n (at most MaxFrame), then n
// bytes:
//
//	kind  1 byte   1 message, 2 request, 3 response, 4 error response,
//	               5 overloaded response, 6 ping, 7 hello
//	id    uvarint  request id (0 for messages and pings); a response carries
//	               the id of its request
//	type  1 byte   the caller's message type (Handler sees it as typ)
//	body  the rest: the payload; the error text for an error response
//
// One connection's writer goroutine encodes queued frames into a buffered
// writer and flushes only when its queue is empty, so frames are batched
// under load and sent at once when idle.
//
// # Handshake
//
// The dialer's first frame is a hello (kind 7, id 0, type 0) whose body is
//
//	version  1 byte (1)
//	name     uvarint length, then bytes (at most 255)
//	addr     uvarint length, then bytes (at most 255; empty for a client)
//	nonce    16 random bytes
//	proof    32 bytes: HMAC-SHA256(token, "odin-dial" | dialer nonce)
//
// The acceptor checks the version and the proof (in constant time). If it
// refuses, it answers an error frame (kind 4, id 0) whose type is the reason
// (1 token, 2 version, 3 malformed hello) and whose body is its name, then
// closes; both sides log or return an error that says why. Otherwise it
// answers its own hello, whose proof is HMAC-SHA256(token, "odin-accept" |
// dialer nonce | acceptor nonce), which the dialer checks in turn.
//
// The token never crosses the wire, but the traffic is not encrypted and
// the dialer's proof could be replayed by someone who can read it: the token
// keeps nodes of other clusters and stray clients out; it does not make an
// untrusted network safe.
package transport
