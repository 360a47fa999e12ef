// Package persist is one node's storage: a bbolt file holding class sources,
// object state (one record per top-level field), listing ids and metadata,
// written by one group-commit goroutine. It knows nothing of JavaScript:
// values are opaque bytes (CBOR made by scripting).
//
// The contract, as the caller sees it:
//
//  1. Open(cfg) takes the file's lock (failing with ErrInUse that names the
//     holder's pid), checks the format version (refusing, never rewriting,
//     another one with ErrFormat), and starts the writer goroutine.
//  2. At the end of a turn that changed state, the caller builds one Write for
//     the object (field puts and deletes, a new meta record if the field set
//     or class version changed, or a whole-object delete) and calls Commit,
//     which queues it and returns at once. The store owns the Write until
//     done is called.
//  3. The writer takes everything queued (at most MaxBatch), with no timer,
//     applies it in one bbolt transaction, in the order Commit was called,
//     and fsyncs it. Then it calls each write's done exactly once, in that
//     same order: nil means the write is durable, so the caller may now
//     release the turn's buffered messages (the output gate).
//  4. A write the store refuses (ErrInvalid, checked before it touches
//     anything) or that bbolt refuses is left out of the transaction and only
//     its own done gets the error; if the transaction itself fails the writes
//     are retried one by one. A failed write does not stop later writes of the
//     same object: a caller that sends deltas must stop the object (reload it)
//     on the first error.
//  5. Reads (Load, ListIDs, Classes, GetMeta) run in their own read
//     transactions and see what was committed before they began; a Commit is
//     visible once its done has run.
//  6. An object moving to another node: Export reads all its records (meta,
//     fields, log, dedupe record) in one read transaction; the target commits
//     ImportWrite of them and the source DeleteWrite, both ordinary Writes, so
//     the writer moves the index entries and checks unique values as for any
//     commit.
//  7. Close drains the queue (every done is called) and releases the file;
//     later Commits get done(ErrClosed), other calls ErrClosed.
//
// Layout (FormatVersion 1):
//
//	meta     "format" -> uint32 big-endian, "node" -> node id, other keys: PutMeta
//	classes  <name> -> uint32 big-endian version -> CBOR ClassRecord
//	objects  <class> -> id "\x00"        -> CBOR ObjectMeta
//	                    id "\x00" field  -> field value
//
// Ids contain no NUL, so an object's keys are contiguous and every key of id
// sorts before id+"\x01", which is what lets ListIDs skip an object's fields
// with one seek. The empty field name is the meta record and cannot be a field.
package persist
