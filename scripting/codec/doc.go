// Package codec copies JavaScript values between goja runtimes with
// structured-clone semantics, as CBOR bytes (RFC 8949). Every call argument,
// result, channel message and stored field goes through it.
//
// The contract:
//
//  1. Make one Encoder and one Decoder per runtime with NewEncoder and
//     NewDecoder while setting the runtime up, before user scripts run (they
//     capture built-in constructors and methods). Use them only on the
//     runtime's goroutine; both are reused from call to call.
//  2. Encode appends one value to a buffer and EncodeArgs appends a list (call
//     arguments) as one CBOR array whose values share one reference table.
//     The encoder walks goja values directly and writes bytes itself. It fails
//     with a *DataCloneError naming the path of the first value that cannot
//     be cloned (functions, symbols, Promises, WeakMaps, WeakSets, Proxies,
//     generators, primitive wrapper objects, Go host objects), with an error
//     wrapping ErrTooDeep past MaxDepth nested objects, or with the
//     *goja.Exception a getter threw; dst is then returned unchanged.
//  3. Decode and DecodeArgs build values in the decoder's runtime. Any input
//     is safe: lengths are checked against the remaining bytes before any
//     allocation, nesting is bounded, goja's own allocations are budgeted,
//     and every error caused by the bytes wraps ErrMalformed.
//  4. Refs and Errors go through Hooks, which the scripting package
//     implements: RefOf recognises Refs (it is asked only about objects that
//     are not plain objects, arrays or other built-ins), MakeRef and MakeError
//     build them on the way in.
//  5. Go code without a runtime reads the bytes with DecodeGo and writes them
//     with AppendGo (inspection of stored state, the CLI, tests).
//
// The same value always encodes to the same bytes (replay compares the state
// it rebuilds with the committed encoding): properties in goja's order,
// shortest heads, numbers as integers when they are safe integers and as the
// shortest exact float otherwise, and value-sharing tags only where an object
// is actually reached twice.
//
// What is kept, as structured clone does: undefined, null, booleans, numbers
// (NaN, ±Infinity and -0 exactly), BigInts, strings (any UTF-16, lone
// surrogates included), plain objects (own enumerable string-keyed
// properties, in order; accessors are read once), arrays (holes and length
// included), Dates (invalid ones too), RegExps (source and flags), Maps and
// Sets (insertion order, keys of any type), ArrayBuffers, typed arrays and
// DataViews, Errors (name, message, stack, cause and other own enumerable
// properties), Refs, and the identity of objects reached more than once,
// cycles included. Objects of classes arrive as plain objects of their own
// enumerable properties. Deliberate differences from the HTML algorithm:
// symbols-keyed and non-index array properties are dropped; a typed array or
// DataView carries only the bytes it views, so views sharing one buffer (or a
// view and its buffer) arrive with separate buffers; Boolean, Number and
// String wrapper objects are refused; a RegExp's lastIndex is reset.
//
// # Format
//
// Untagged items: integers (major types 0 and 1) and floats are Numbers, byte
// strings are ArrayBuffers, text strings are Strings, arrays are Arrays, maps
// (text keys, or tag 48864 keys) are plain objects, and false, true, null and
// undefined (0xf7) are themselves. Tags:
//
//	tag     content                               JS value
//	1       integer or float seconds              Date, when the milliseconds survive the division
//	2, 3    byte string                           BigInt (always tagged, so it never reads as a Number)
//	28      any                                   value referenced again later (value sharing)
//	29      unsigned: index among tag-28 values   that value again
//	31      undefined                             array hole
//	64-87   byte string (RFC 8746)                typed arrays; written little-endian (69, 70, 71,
//	                                              77, 78, 79, 85, 86 and 64, 68, 72), read in either order
//	258     array                                 Set
//	48864   byte string: UTF-16LE code units      String that is not valid UTF-16
//	48865   integer milliseconds, or NaN          Date not exact as tag 1, or invalid
//	48866   [source, flags]                       RegExp
//	48867   [key, value, key, value, ...]         Map
//	48868   [name, message, stack, {props}, cause?]  Error
//	48869   [class, id]                           Ref
//	48870   byte string                           DataView
//	48871   [length, index, value, index, ...]    Array with more holes than elements (and > 1024 holes)
//
// Tags 1 to 258 are IANA-registered with these meanings (tag 31 is the
// registered "absent value in a CBOR array"; 28 and 29 are value sharing,
// http://cbor.schmorp.de/value-sharing). Tags 48864-48871 are Odin's, from
// the first-come-first-served range (32768 and up); they are not registered
// yet. A Map is an array rather than tag 259 over a CBOR map because two
// distinct JS keys may encode to the same bytes ({} and {}), which a CBOR map
// must not hold.
//
// Sharing is cheap when nothing is shared: the encoder records each object's
// offset and writes no mark; when it meets an object a second time it writes
// nothing there yet, and a final pass inserts tag 28 before each object met
// twice and tag 29 at each repeat, moving the bytes once.
//
// The encoder reads some goja internals (see internals.go) to classify objects
// and to read properties and array elements without the allocations of
// goja's public API; it checks them at start-up and falls back to the public
// API if a goja upgrade changed them.
package codec
