// Package scripting runs Odin's JavaScript: a VM worker is one goroutine that
// owns one goja runtime and everything living in it (object activations,
// tasklets, channels, scripts).
//
// The contract:
//  1. A Worker takes Messages (calls, replies, inspections) through Deliver
//     and runs each as a turn of one activation: one event, until the stack is
//     empty and the job queue drained. Nothing else touches its runtime.
//  2. At the end of an object's turn the changed fields are validated against
//     the class's schema and committed through the Store; the turn's output
//     (replies, calls, spawns, timers) is released when that commit is durable.
//     A throw, a constraint failure or an interrupt restores the fields, and
//     every call whose code ran in the turn is answered with the error.
//  3. Outgoing messages go through the Router the host provides (scripting
//     never reaches past it); replies are addressed to the calling
//     activation, so they find an object wherever it lives.
//  4. An object that is not quiescent keeps a replay log in the store (log.go);
//     activating it replays the log, so suspended methods and tasklets survive
//     restarts and moves (migrate.go). Calls from objects are exactly-once.
//  5. Arguments, results, channel values and stored fields are copied with
//     structured-clone semantics by the codec (scripting/codec).
package scripting
