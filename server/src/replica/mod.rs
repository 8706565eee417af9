//! This node's replica of one group: its Raft handle, and the paths a request takes
//! through it — [`write`] (sequence numbers, proposal), [`read`] (linearizable reads,
//! listings, counts), [`snapshot`] (log compaction, digests) and [`membership`] (the
//! leader's view of the group, membership steps, hibernation consent).
//!
//! A request is checked against the replica's applied range — epoch and bounds — before
//! it is served; the state machine checks the epoch again when the write applies.

mod backup;
mod load;
mod membership;
mod read;
mod snapshot;
mod write;

use crate::hibernation::Hibernation;
use crate::state_machine::{CommandBody, DataKeyspaces, Published};
use crate::value::SeqGen;
use crate::{DataRaft, DataTypes};
use bytes::Bytes;
use openraft::ReadPolicy;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tessera_common::raftnet::RaftRequest;
use tessera_common::Clock;
use tessera_proto::catalog::{GroupId, NodeId, RangeDesc};
use tessera_proto::data::{DataError, DataRequest, DataResponse, RangeChange};
use tessera_proto::op::OpKind;

pub use load::{Load, NoSplit};
pub use snapshot::LogSize;

/// This node's replica of one group.
pub struct GroupReplica {
    /// The group id.
    pub id: GroupId,
    /// Its Raft instance.
    pub raft: DataRaft,
    ks: DataKeyspaces,
    applied: Arc<Published>,
    proposer: tokio::sync::Mutex<SeqGen>,
    clock: Arc<dyn Clock>,
    /// A membership step (see the reconciler) is running for this replica.
    pub(crate) reconciling: std::sync::atomic::AtomicBool,
    /// Per joining learner, the leader's log index it must hold to be promoted (see
    /// `membership`).
    catch_up: std::sync::Mutex<std::collections::HashMap<NodeId, u64>>,
    /// Whether its Raft timers are stopped.
    pub(crate) hibernation: Hibernation,
    /// How a read confirms this replica still leads the group.
    read_policy: ReadPolicy,
    log_size: LogSize,
    /// Requests served and sampled keys, for load-based splits.
    pub(crate) load: Load,
    /// Started empty and not as a founding member: its first state must come from a
    /// snapshot (see [`GroupReplica::refuses_replay`]).
    awaits_snapshot: bool,
}

/// How a replica runs besides its Raft instance.
pub struct ReplicaOptions {
    /// This node.
    pub node: NodeId,
    /// Serve reads under the leader lease instead of ReadIndex.
    pub lease_reads: bool,
    /// Bytes appended to its Raft log so far (from its log store).
    pub log_bytes: Arc<AtomicU64>,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// It starts empty and not as a founding member: it must be sent a snapshot.
    pub awaits_snapshot: bool,
}

impl GroupReplica {
    /// Wraps a started Raft instance whose state machine publishes `applied`.
    pub fn new(
        id: GroupId,
        raft: DataRaft,
        ks: DataKeyspaces,
        applied: Arc<Published>,
        options: ReplicaOptions,
    ) -> Self {
        Self {
            id,
            raft,
            ks,
            applied,
            proposer: tokio::sync::Mutex::new(SeqGen::new(options.node as u32)),
            clock: options.clock,
            reconciling: Default::default(),
            catch_up: Default::default(),
            hibernation: Default::default(),
            read_policy: if options.lease_reads {
                ReadPolicy::LeaseRead
            } else {
                ReadPolicy::ReadIndex
            },
            log_size: LogSize::new(options.log_bytes),
            load: Load::default(),
            awaits_snapshot: options.awaits_snapshot,
        }
    }

    /// Whether to refuse `msg`: log entries from the group's first entry on, sent to a
    /// replica that must start from a snapshot. It started from the catalog's range at
    /// its current epoch, not the range those entries were proposed under, so it would
    /// refuse them as stale and miss every write they hold. A leader whose log is not
    /// purged sends them (one elected after another had purged and added this learner);
    /// the refusal stands until the leader purges its log and sends a snapshot.
    pub fn refuses_replay(&self, msg: &RaftRequest<DataTypes>) -> bool {
        let RaftRequest::Append(rpc) = msg else {
            return false;
        };
        let from_first = rpc.prev_log_id.is_none() && !rpc.entries.is_empty();
        from_first && self.awaits_snapshot && self.applied_index() == 0
    }

    /// Bytes of keys and values in its range.
    pub fn bytes(&self) -> u64 {
        self.applied.bytes()
    }

    /// The index of its freeze entry, if a merge froze it.
    pub fn frozen_at(&self) -> Option<u64> {
        self.applied.frozen_at()
    }

    /// The range as last applied: bounds and epoch.
    pub fn range(&self) -> Arc<RangeDesc> {
        self.applied.range()
    }

    /// Whether `key` falls in its range.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.range().contains(key)
    }

    /// Serves one data request routed with range epoch `epoch`.
    pub async fn serve(&self, epoch: u64, req: DataRequest) -> Result<DataResponse, DataError> {
        // Also on a follower: the router tries followers when the leader is gone.
        self.hibernation.wake(&self.raft);
        let range = self.range();
        if epoch != range.epoch {
            return Err(self.epoch_mismatch(&range));
        }
        let unfreezing = matches!(
            req,
            DataRequest::Change(RangeChange::Freeze | RangeChange::Unfreeze)
        );
        if self.applied.frozen() && !unfreezing {
            return Err(DataError::Frozen);
        }
        match req {
            DataRequest::Write(ops) => {
                check_keys(&range, ops.iter().flat_map(OpKind::keys))?;
                self.load.record(&ops);
                self.write_ops(range.epoch, ops).await
            }
            DataRequest::Read(ops) => {
                check_keys(&range, ops.iter().flat_map(OpKind::keys))?;
                self.load.record(&ops);
                if ops.iter().any(OpKind::is_write) {
                    return Err(DataError::Internal("a read request holds a write".into()));
                }
                self.read_barrier(&range).await?;
                self.read(&ops).map(DataResponse::Replies)
            }
            DataRequest::Scan {
                start,
                end,
                limit,
                kind,
            } => {
                self.read_barrier(&range).await?;
                self.scan(&range, &start, &end, limit, kind)
            }
            DataRequest::Count { start, end } => {
                self.read_barrier(&range).await?;
                let (from, to) = clip(&range, &start, &end);
                let tally = self.walk(from, to, false)?;
                Ok(DataResponse::Count {
                    keys: tally.keys,
                    volatile: tally.volatile,
                    bytes: tally.bytes,
                    next: Bytes::copy_from_slice(to),
                })
            }
            DataRequest::Clear => self.clear(&range).await,
            DataRequest::Wait { keys, timeout_ms } => {
                check_keys(&range, keys.iter())?;
                self.wait_for_keys(&keys, timeout_ms).await
            }
            DataRequest::Fence { prefix, on } => self.fence(&range, prefix, on).await,
            DataRequest::Change(change) => {
                self.change_range(range.epoch, CommandBody::Change(change))
                    .await
            }
            DataRequest::SplitKey { by_load } => {
                self.read_barrier(&range).await?;
                Ok(DataResponse::SplitKey(self.split_key(&range, by_load)?))
            }
            DataRequest::Backup { dir } => {
                self.read_barrier(&range).await?;
                self.backup(&dir).await.map(DataResponse::BackedUp)
            }
            DataRequest::Ingest(rows) => self.ingest(&range, rows).await,
            DataRequest::TransferLeader { to } => {
                self.raft
                    .trigger()
                    .transfer_leader(to)
                    .await
                    .map_err(|e| DataError::Internal(e.to_string()))?;
                Ok(DataResponse::Transferring)
            }
        }
    }

    /// The answer to a request routed with another epoch.
    fn epoch_mismatch(&self, range: &RangeDesc) -> DataError {
        use openraft::async_runtime::WatchReceiver;
        let metrics = self.raft.metrics();
        let members = metrics
            .borrow_watched()
            .membership_config
            .membership()
            .voter_ids()
            .collect();
        DataError::EpochMismatch {
            ranges: vec![range.clone()],
            members,
        }
    }
}

/// `[start, end)` clipped to `range` (an empty `end` means the range's end).
fn clip<'a>(range: &'a RangeDesc, start: &'a [u8], end: &'a [u8]) -> (&'a [u8], &'a [u8]) {
    let from = start.max(range.start.as_slice());
    let to = if end.is_empty() {
        range.end.as_slice()
    } else {
        end.min(range.end.as_slice())
    };
    (from, to.max(from))
}

/// Fails with `KeyNotInRange` unless every key lies in `range`.
fn check_keys<'a>(
    range: &RangeDesc,
    mut keys: impl Iterator<Item = &'a bytes::Bytes>,
) -> Result<(), DataError> {
    match keys.all(|k| range.contains(k)) {
        true => Ok(()),
        false => Err(DataError::KeyNotInRange),
    }
}
