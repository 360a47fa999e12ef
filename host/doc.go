// Package host is an Odin node: the broker between its VM workers.
//
// The contract:
//  1. Open starts the store, the class registry and one VM worker per CPU
//     (Config.VMs) that host objects, then reactivates every object that was
//     not quiescent when the node last stopped (its replay log brings back
//     its suspended tasklets, timers and calls).
//  2. Every message between objects goes through Route: a call goes to the VM
//     hosting its target (placement is a hash of the ref over the hosted VMs,
//     unless the object was moved; an ephemeral channel lives in the VM that
//     made it), a reply to the calling activation wherever it lives. Route
//     never blocks: a full queue answers ErrOverloaded.
//  3. Objects move between VMs (migrate.go): by hand (MoveObject,
//     odin.migrate), towards the VM that calls them most, and off a VM whose
//     queue stays long. A move parks the object's messages at the target,
//     lets the source go once its commits are durable, and activates the
//     object at the target by replay; no call is lost or run twice.
//  4. RunScript and Eval run a script on a VM of its own that hosts no
//     objects; NewSession opens an interactive one for the shell.
//  5. Close stops the workers, answering every queued call, and closes the
//     store after its pending commits. With Memory, the data is removed.
package host
