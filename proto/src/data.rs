//! Data requests: what a router (or the meta controller) asks of one group, and the
//! errors a replica answers that the caller can act on (follow a leader, apply newer
//! range descriptors, refresh the catalog).

use crate::catalog::{GroupId, NodeId, RangeDesc, RangeId};
use crate::op::Op;
use crate::reply::Reply;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A request for the data of one group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum DataRequest {
    /// Replicate these ops as one Raft entry (atomic within the group) and answer
    /// their replies.
    Write(Vec<Op>),
    /// Evaluate read-only ops linearizably (ReadIndex) and answer their replies.
    Read(Vec<Op>),
    /// Linearizable listing of up to `limit` live keys in `[start, end)` (clipped to the
    /// group's range), in byte order.
    Scan {
        /// First storage key.
        start: Bytes,
        /// End storage key (exclusive; empty: the range's end).
        end: Bytes,
        /// Most keys to return.
        limit: u32,
        /// Only keys holding this type (a stored value's type tag), if given.
        kind: Option<u8>,
    },
    /// Linearizable count of the live keys in `[start, end)` (clipped to the group's
    /// range).
    Count {
        /// First storage key.
        start: Bytes,
        /// End storage key (exclusive; empty: the range's end).
        end: Bytes,
    },
    /// Delete every key of the group's range (FLUSHALL), as one Raft entry.
    Clear,
    /// Change the range itself (split, freeze, merge), as one Raft entry.
    Change(RangeChange),
    /// Where the range could be split: by size (its middle key by bytes) or by load (a
    /// key that balances the sampled requests). Answered by the leader, not replicated.
    SplitKey {
        /// By load rather than by size.
        by_load: bool,
    },
    /// Hand leadership of the group to `to` (a voter).
    TransferLeader {
        /// The new leader.
        to: NodeId,
    },
    /// `BACKUP`: after a read barrier, write every row of the range at one applied
    /// point to a file in `dir` on this node's filesystem. Answered by the leader.
    Backup {
        /// The backup directory.
        dir: String,
    },
    /// A restore: write these rows exactly as they are (stored values under their
    /// keys, collection rows raw), as one Raft entry.
    Ingest(Vec<BackupRow>),
    /// Fence (or unfence) a storage-key prefix, as one Raft entry: while fenced, every
    /// write to a key with that prefix is refused, in log order. Answers the live keys
    /// of this range that have the prefix, and where the range ends (the caller fences
    /// the next range too while the prefix goes on). The meta controller fences `name:` in `default` before
    /// table `name` exists, so creating it never changes the meaning of a stored key.
    Fence {
        /// The storage-key prefix.
        prefix: Bytes,
        /// Fence (true) or lift the fence (false).
        on: bool,
    },
    /// Waits until one of `keys` (storage keys of this range) holds a value, or is
    /// written, or `timeout_ms` passes: how a blocking pop (`BLPOP`, ...) waits without
    /// asking again and again. Answers `Woken`; not replicated.
    Wait {
        /// The keys.
        keys: Vec<Bytes>,
        /// How long to wait at most.
        timeout_ms: u64,
    },
}

impl DataRequest {
    /// Whether the request goes through Raft (its outcome is unknown if the answer is
    /// lost).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            DataRequest::Write(_)
                | DataRequest::Clear
                | DataRequest::Fence { .. }
                | DataRequest::Change(_)
        )
    }
}

/// A change of a range itself, applied identically on every replica of its group (one
/// Raft entry, one storage batch each).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RangeChange {
    /// Split the range at storage key `at` (a user-key boundary strictly inside it): the
    /// range keeps `[start, at)`, a new range `child_range` served by the new group
    /// `child_group` — on the same nodes, over the same data — takes `[at, end)`, and
    /// both get the next epoch. Answers `Ranges`.
    Split {
        /// The first key of the new range.
        at: Bytes,
        /// The new range's id (allocated by the meta service).
        child_range: RangeId,
        /// The new group's id (allocated by the meta service).
        child_group: GroupId,
    },
    /// Stop serving (a merge's source): every request is refused until the range is
    /// absorbed by its left neighbour or thawed. Answers `Frozen`.
    Freeze,
    /// Serve again after a freeze whose merge was called off (its target answered
    /// `AbortMerge` with `Aborted`). Answers `Ranges`.
    Unfreeze,
    /// Absorb `source` (the frozen right neighbour, whose replicas are on the same
    /// nodes and have applied its freeze at `frozen_at`). Answers `Ranges`.
    Merge {
        /// The frozen source's descriptor.
        source: RangeDesc,
        /// The index of the source's freeze entry.
        frozen_at: u64,
    },
    /// Call off the merge of the frozen `source` into this range: a `Merge` of it
    /// proposed later is refused. Answers `Aborted`, or `Ranges` if the merge was
    /// applied first. (Not checked against the epoch: it is a decision about a merge
    /// whatever happened to the range since.)
    AbortMerge {
        /// The source's group.
        source: GroupId,
        /// The index of the source's freeze entry.
        frozen_at: u64,
    },
}

impl std::fmt::Display for RangeChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RangeChange::Split { child_group, .. } => write!(f, "Split(into {child_group})"),
            RangeChange::Freeze => write!(f, "Freeze"),
            RangeChange::Unfreeze => write!(f, "Unfreeze"),
            RangeChange::Merge { source, .. } => write!(f, "Merge({})", source.group),
            RangeChange::AbortMerge { source, .. } => write!(f, "AbortMerge({source})"),
        }
    }
}

/// The answer to a [`DataRequest`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum DataResponse {
    /// Replies of `Write` or `Read`, one per op.
    Replies(Vec<Reply>),
    /// Answer to `Count`: live keys, how many of them have an expiry, and their size.
    Count {
        /// Live keys.
        keys: u64,
        /// Live keys with an expiry.
        volatile: u64,
        /// Bytes of the live keys and their stored values.
        bytes: u64,
        /// Where the counted interval ends (the replica's range end, at most `end`).
        next: Bytes,
    },
    /// Answer to `Scan`: the keys, and where the listing continues.
    Keys {
        /// Storage keys, ascending.
        keys: Vec<Bytes>,
        /// Where to continue: just after the last key if `limit` keys were returned,
        /// else the end of what this replica holds of the interval (so a caller whose
        /// range map is out of date still visits every key exactly once).
        next: Bytes,
    },
    /// Answer to `Clear`: the end of the range that was cleared.
    Cleared {
        /// The range's end.
        next: Bytes,
    },
    /// Answer to `Split`, `Merge` and `Unfreeze`: the descriptors after the change,
    /// and the voters of the group that applied it.
    Ranges {
        /// The descriptors.
        ranges: Vec<RangeDesc>,
        /// The group's voters.
        members: Vec<NodeId>,
    },
    /// Answer to `AbortMerge`: the merge can no longer happen.
    Aborted,
    /// Answer to `SplitKey`: the key, or why the range cannot split.
    SplitKey(Result<Bytes, String>),
    /// Answer to `Freeze`: the frozen descriptor and the freeze entry's index.
    Frozen {
        /// The descriptor.
        range: RangeDesc,
        /// The entry's index.
        index: u64,
    },
    /// Answer to `TransferLeader`: the transfer started.
    Transferring,
    /// Answer to `Backup`: the file written.
    BackedUp(BackupFile),
    /// Answer to `Fence`: live keys with the prefix, and one of them.
    Fenced {
        /// How many (in this range).
        count: u64,
        /// One of them (a storage key).
        example: Option<Bytes>,
        /// Where this range ends: the prefix may go on in the next range.
        next: Bytes,
    },
    /// Answer to `Wait`: whether a key holds a value or was written (else it timed out).
    Woken(bool),
}

/// Why a data request was not served. Routing errors say what the caller should do;
/// see the router's `routing::retry` for how each is handled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum DataError {
    /// This replica is not the leader; `leader` is the hint, if known.
    #[error("not the leader (leader hint: {leader:?})")]
    NotLeader {
        /// The leader's node id, if known.
        leader: Option<NodeId>,
    },
    /// The request was routed with another range epoch than the replica's; `ranges`
    /// are the current descriptors of what the replica serves (and, after a split,
    /// of the range that took part of it), and `members` the nodes holding the
    /// replying group (and so, right after a split, the new group as well).
    #[error("range epoch mismatch (current: {ranges:?})")]
    EpochMismatch {
        /// Current descriptors.
        ranges: Vec<RangeDesc>,
        /// The replying group's voters.
        members: Vec<NodeId>,
    },
    /// The range is frozen: it is being merged into its left neighbour.
    #[error("the range is being merged into its neighbour")]
    Frozen,
    /// A key lies outside the replica's range.
    #[error("key not in the group's range")]
    KeyNotInRange,
    /// This node hosts no such group.
    #[error("group not found on this node")]
    GroupNotFound,
    /// The write was proposed but leadership changed; it may or may not be applied.
    #[error("leadership changed while the write was in flight; its outcome is unknown")]
    Indeterminate,
    /// Anything else (storage failure, shutting down).
    #[error("{0}")]
    Internal(String),
}

/// One stored row of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRow {
    /// A collection's member row (else a key's stored value).
    pub member: bool,
    /// The row's key in its keyspace.
    pub key: Bytes,
    /// The row's stored bytes.
    pub value: Bytes,
}

/// One range's file of a backup, as the node that wrote it describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    /// The file's name inside the backup directory.
    pub file: String,
    /// The range as the node had it when it read the rows.
    pub range: RangeDesc,
    /// The Raft log index the rows reflect.
    pub applied: u64,
    /// Rows in the file.
    pub rows: u64,
    /// The file's length.
    pub bytes: u64,
    /// [`checksum`] of the file's bytes.
    pub checksum: u64,
}

/// The checksum of a backup file (XXH3, 64 bits).
pub fn checksum(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}
