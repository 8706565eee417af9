//! The write path: a leader assigns sequence numbers in log order and proposes one
//! Raft entry; the reply comes back once the entry is applied.

use super::GroupReplica;
use crate::state_machine::{Applied, CommandBody, DataCommand, DataReply};
use crate::value::split_expiry_key;
use bytes::Bytes;
use openraft::error::ClientWriteError;
use openraft::impls::ProgressResponder;
use std::sync::Arc;
use tessera_proto::catalog::RangeDesc;
use tessera_proto::data::{DataError, DataResponse};
use tessera_proto::op::Op;
use tessera_proto::reply::Reply;

/// Fewest bytes written blind before a range is recounted.
pub const RECOUNT_FLOOR: u64 = 64 << 10;

impl GroupReplica {
    /// Proposes `body` under range epoch `epoch` and waits until it is applied.
    async fn propose(&self, epoch: u64, body: CommandBody, ops: usize) -> DataReply {
        let started = std::time::Instant::now();
        metrics::counter!("tessera_node_proposals_total").increment(1);
        metrics::histogram!("tessera_node_proposal_ops").record(ops as f64);
        let (responder, applied) = ProgressResponder::complete_only();
        {
            // Sequence numbers must follow log order: assign and enqueue under one lock.
            let mut proposer = self.proposer.lock().await;
            let floor = self.applied.max_seq();
            let seq = proposer.reserve(self.clock.now_nanos(), ops.max(1), floor);
            let cmd = DataCommand {
                seq,
                now_ms: self.clock.now_ms(),
                epoch,
                body,
            };
            self.raft
                .write(cmd)
                .responder(responder)
                .await
                .map_err(|e| DataError::Internal(e.to_string()))?;
        }
        let applied = applied.await;
        metrics::histogram!("tessera_node_commit_seconds").record(started.elapsed().as_secs_f64());
        match applied {
            Ok(Ok(written)) => written.data,
            Ok(Err(ClientWriteError::ForwardToLeader(f))) => Err(DataError::NotLeader {
                leader: f.leader_id,
            }),
            Ok(Err(ClientWriteError::LogEntryDiscarded(_))) => Err(DataError::Indeterminate),
            Ok(Err(e)) => Err(DataError::Internal(e.to_string())),
            Err(_) => Err(DataError::Indeterminate),
        }
    }

    /// Proposes `body` and expects one reply per op.
    pub(super) async fn replies(
        &self,
        epoch: u64,
        body: CommandBody,
        ops: usize,
    ) -> Result<Vec<Reply>, DataError> {
        match self.propose(epoch, body, ops).await? {
            Applied::Replies(replies) => Ok(replies),
            _ => Err(DataError::Internal("unexpected outcome".into())),
        }
    }

    /// Client ops as one entry: atomic within the group.
    pub(super) async fn write_ops(
        &self,
        epoch: u64,
        ops: Vec<Op>,
    ) -> Result<DataResponse, DataError> {
        let n = ops.len();
        self.replies(epoch, CommandBody::Ops(ops.into()), n)
            .await
            .map(DataResponse::Replies)
    }

    /// Deletes every key of the range.
    pub(super) async fn clear(&self, range: &RangeDesc) -> Result<DataResponse, DataError> {
        self.replies(range.epoch, CommandBody::Clear, 1).await?;
        Ok(DataResponse::Cleared {
            next: Bytes::copy_from_slice(&range.end),
        })
    }

    /// Proposes a split, a freeze or a merge (see `DataRequest`).
    pub(super) async fn change_range(
        &self,
        epoch: u64,
        body: CommandBody,
    ) -> Result<DataResponse, DataError> {
        match self.propose(epoch, body, 1).await? {
            Applied::Ranges(ranges, members) => Ok(DataResponse::Ranges { ranges, members }),
            Applied::Frozen(range, index) => Ok(DataResponse::Frozen { range, index }),
            Applied::Replies(_) => Ok(DataResponse::Aborted),
        }
    }

    /// Sets or lifts a fence on a key prefix.
    pub(super) async fn fence(
        &self,
        range: &RangeDesc,
        prefix: Bytes,
        on: bool,
    ) -> Result<DataResponse, DataError> {
        let replies = self
            .replies(range.epoch, CommandBody::Fence { prefix, on }, 1)
            .await?;
        match replies.as_slice() {
            [Reply::Array(items)] => Ok(DataResponse::Fenced {
                count: match items.first() {
                    Some(Reply::Int(n)) => *n as u64,
                    _ => 0,
                },
                example: match items.get(1) {
                    Some(Reply::Bulk(k)) => Some(k.clone()),
                    _ => None,
                },
                next: Bytes::copy_from_slice(&range.end),
            }),
            _ => Err(DataError::Internal("unexpected reply to a fence".into())),
        }
    }

    /// On the leader, proposes the deletion of the keys of these expiry-index entries
    /// of this range, whose time has passed. Followers do nothing: the deletion reaches
    /// them through the log, so every replica stays identical.
    pub async fn sweep_expired(&self, index_keys: Vec<Bytes>) -> Result<(), DataError> {
        if index_keys.is_empty() || !self.raft.is_leader() || self.applied.frozen() {
            return Ok(());
        }
        let range = self.range();
        let keys = index_keys
            .iter()
            .map(|k| split_expiry_key(k).map(|(_, key)| key));
        if !keys
            .into_iter()
            .all(|k| k.is_some_and(|k| range.contains(k)))
        {
            return Err(DataError::KeyNotInRange);
        }
        self.hibernation.wake(&self.raft); // Requests wake the group in `serve`.
        self.replies(range.epoch, CommandBody::Sweep(index_keys), 1)
            .await
            .map(drop)
    }

    /// On the leader, proposes deleting the rows of these collections of this range
    /// (row prefixes) that no key refers to; apply checks that again, identically on
    /// every replica.
    pub async fn collect_rows(&self, prefixes: Vec<Bytes>) -> Result<(), DataError> {
        if prefixes.is_empty() || !self.raft.is_leader() || self.applied.frozen() {
            return Ok(());
        }
        let range = self.range();
        let ours = |p: &Bytes| crate::layout::split(p).is_some_and(|(k, _, _)| range.contains(&k));
        if !prefixes.iter().all(ours) {
            return Err(DataError::KeyNotInRange);
        }
        self.hibernation.wake(&self.raft);
        self.replies(range.epoch, CommandBody::Collect(prefixes), 1)
            .await
            .map(drop)
    }

    /// On the leader, once the bytes written blind since the last recount reach half
    /// the range's count (and at least [`RECOUNT_FLOOR`]), counts a snapshot of the
    /// range and proposes the correction. A scan so reads at most twice the bytes
    /// written blind since the one before.
    pub async fn recount_if_unsure(self: &Arc<Self>) -> Result<(), DataError> {
        let (bytes, unsure) = (self.applied.bytes(), self.applied.unsure());
        let sure = bytes.saturating_sub(unsure);
        if unsure < RECOUNT_FLOOR.max(sure) || !self.raft.is_leader() || self.applied.frozen() {
            return Ok(());
        }
        let replica = self.clone();
        let counted = tokio::task::spawn_blocking(move || replica.count_bytes())
            .await
            .map_err(|e| DataError::Internal(e.to_string()))??;
        let Some((epoch, seen)) = counted else {
            return Ok(());
        };
        self.hibernation.wake(&self.raft);
        self.replies(epoch, CommandBody::Recount(seen), 1)
            .await
            .map(drop)
    }
}
