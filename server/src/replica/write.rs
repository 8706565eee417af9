//! The write path: a leader assigns sequence numbers in log order and proposes one
//! Raft entry; the reply comes back once the entry is applied.

use super::GroupReplica;
use crate::state_machine::{Applied, CommandBody, DataCommand, DataReply};
use bytes::Bytes;
use openraft::error::ClientWriteError;
use openraft::impls::ProgressResponder;
use tessera_proto::catalog::RangeDesc;
use tessera_proto::data::{DataError, DataResponse};
use tessera_proto::op::Op;
use tessera_proto::reply::Reply;

impl GroupReplica {
    /// Proposes `body` under range epoch `epoch` and waits until it is applied.
    async fn propose(&self, epoch: u64, body: CommandBody, ops: usize) -> DataReply {
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
        match applied.await {
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
    async fn replies(
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
        self.replies(epoch, CommandBody::Ops(ops), n)
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

    /// On the leader, proposes the deletion of `keys` of this range, whose expiry has
    /// passed. Followers do nothing: the deletion reaches them through the log, so
    /// every replica stays identical.
    pub async fn sweep_expired(&self, keys: Vec<Bytes>) -> Result<(), DataError> {
        if keys.is_empty() || !self.raft.is_leader() || self.applied.frozen() {
            return Ok(());
        }
        let range = self.range();
        super::check_keys(&range, keys.iter())?;
        self.hibernation.wake(&self.raft); // Requests wake the group in `serve`.
        self.replies(range.epoch, CommandBody::Sweep(keys), 1)
            .await
            .map(drop)
    }
}
