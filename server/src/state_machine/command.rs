//! What a data group replicates: the command in each Raft entry and what applying it
//! answers.

use crate::value::Seq;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tessera_proto::catalog::{NodeId, RangeDesc};
use tessera_proto::data::{DataError, RangeChange};
use tessera_proto::op::Op;
use tessera_proto::reply::Reply;

/// A replicated write: the leader's sequence number, clock and range epoch carried in
/// the entry so every replica computes the same result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataCommand {
    /// Sequence number of the first op; op `i` gets `seq.nth(i)`.
    pub seq: Seq,
    /// The leader's clock when it proposed the write.
    pub now_ms: u64,
    /// The range epoch the leader proposed it under.
    pub epoch: u64,
    /// What to do.
    pub body: CommandBody,
}

/// What a replicated write does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum CommandBody {
    /// Client ops, applied in order. Shared: the log cache hands the entry out once per
    /// follower it is sent to and once more to apply it, and a clone costs nothing.
    Ops(std::sync::Arc<Vec<Op>>),
    /// Delete the keys of these expiry-index entries if they have expired by the
    /// entry's time, and entries that no longer match their key (the sweeper).
    Sweep(Vec<Bytes>),
    /// Correct the range's byte count from a scan of a snapshot (the sweeper, when
    /// blind writes made the count uncertain).
    Recount(Recount),
    /// Delete every key of the range (`FLUSHALL`).
    Clear,
    /// Fence (or unfence) a key prefix: while fenced, every write to a key with that
    /// prefix is refused. Answers `[count, example]` of the live keys with it.
    Fence {
        /// The storage-key prefix.
        prefix: Bytes,
        /// Fence, or lift the fence.
        on: bool,
    },
    /// Change the range itself: applied on its own, in a batch of its own, after
    /// everything before it is written.
    Change(RangeChange),
    /// Delete stored rows of collections no key refers to any more (deleted,
    /// overwritten or expired ones), given by their row prefixes: at most
    /// [`COLLECT_ROWS`] per prefix (the collector).
    Collect(Vec<Bytes>),
    /// Write rows of a backup exactly as they are (a restore).
    Ingest(Vec<tessera_proto::data::BackupRow>),
}

/// Most rows one [`CommandBody::Collect`] deletes per collection.
pub const COLLECT_ROWS: usize = 1_000;

/// A count of the range's bytes taken from a snapshot of the replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recount {
    /// The log index the snapshot had applied.
    pub applied: u64,
    /// The record's `bytes` in the snapshot.
    pub bytes: u64,
    /// The record's `unsure` in the snapshot.
    pub unsure: u64,
    /// The bytes of keys and values in the snapshot's range.
    pub actual: u64,
}

impl std::fmt::Display for DataCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.body {
            CommandBody::Ops(ops) => write!(f, "Ops({}, seq {:?})", ops.len(), self.seq),
            CommandBody::Sweep(keys) => write!(f, "Sweep({})", keys.len()),
            CommandBody::Recount(seen) => write!(f, "Recount({})", seen.actual),
            CommandBody::Clear => write!(f, "Clear"),
            CommandBody::Fence { on, .. } => write!(f, "Fence({on})"),
            CommandBody::Change(change) => change.fmt(f),
            CommandBody::Collect(prefixes) => write!(f, "Collect({})", prefixes.len()),
            CommandBody::Ingest(rows) => write!(f, "Ingest({})", rows.len()),
        }
    }
}

/// What an applied [`DataCommand`] answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Applied {
    /// One reply per op.
    Replies(Vec<Reply>),
    /// The descriptors after a split or a merge, and the group's voters.
    Ranges(Vec<RangeDesc>, Vec<NodeId>),
    /// The frozen descriptor and the freeze entry's index.
    Frozen(RangeDesc, u64),
}

/// The result of applying one [`DataCommand`], or why it was refused as a whole.
pub type DataReply = Result<Applied, DataError>;
