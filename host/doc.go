// Package host is an Odin node: the broker between its VM workers.
//
// The contract:
//  1. Open starts the store, the class registry and one VM worker per CPU
//     (Config.VMs) that host objects.
//  2. Every message between objects goes through Route: a call goes to the VM
//     hosting its target (placement is a hash of the ref over the hosted VMs;
//     an ephemeral channel lives in the VM that made it), a reply goes back to
//     the caller's VM. Route never blocks: a full queue answers ErrOverloaded.
//  3. RunScript runs a script on a VM of its own that hosts no objects, so a
//     script's loops never stall objects, and returns when its main tasklet
//     ends.
//  4. Close stops the workers, answering every queued call, and closes the
//     store after its pending commits.
package host
