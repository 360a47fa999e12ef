// Package directory is the cluster's replicated directory: which node owns each
// object (with an epoch), the class sources and versions, and the holders of
// cluster-wide unique index values. It is a small state machine replicated with
// hashicorp/raft among up to three voters; every other node is a non-voter that
// forwards its writes to the leader.
//
// The contract:
//
//  1. Open starts one node: its raft log, stable store and snapshots live in
//     Config.Dir, its raft transport listens on Config.Bind. Exactly one node of
//     a new cluster opens with Bootstrap; the others wait until the leader adds
//     them (AddServer, driven by the host from membership events). A node
//     reopened on the same Dir rejoins with its state.
//  2. Writes (ClaimObject, ClaimObjects, MoveObject, ClaimUnique, FreeUnique,
//     PutClass) are linearizable: they return once the leader has committed
//     and applied them. Concurrent writes on one node are coalesced (group
//     commit: one command in flight per node, carrying every write queued
//     meanwhile). On a follower the command goes to the leader through
//     Config.Forward, whose far side calls ApplyForwarded, which merges it
//     into the leader's own batches. Every write is idempotent, so a command
//     whose outcome was lost with a leader is sent again, until a time limit
//     (30 s) ends in ErrNoLeader.
//  3. An object has at most one owner at a time. ClaimObject gives an unowned
//     object to the claimer at epoch 1; only MoveObject changes an owner, as a
//     compare-and-set on (owner, epoch) that increments the epoch.
//  4. A unique value (class, index, tuple) has at most one holder; only the
//     holder frees it.
//  5. A class version, once defined, keeps its source; OnClass hears of every
//     record the state machine applies or restores, on every node.
//  6. Reads (Owner, Classes, UniqueHolder) come from the local copy of the state:
//     they may lag the leader, which is fine for caches, whose owners are
//     checked by epoch.
//  7. The state is snapshotted (CBOR) so that a restarted or late node catches
//     up without replaying the whole log.
package directory
