//! The node's RPC service: requests of routers, the meta controller and tests
//! (`proto`'s node requests), and messages from peer nodes (Raft traffic and the
//! questions around it).

use crate::hibernation;
use crate::node::Node;
use crate::peer::{PeerMessage, PeerReply};
use std::sync::Arc;
use tessera_common::raftnet::{dispatch, RaftReply};
use tessera_common::rpc::Wire;
use tessera_common::RpcService;
use tessera_proto::catalog::GroupId;
use tessera_proto::data::{DataError, DataRequest};
use tessera_proto::node_api::{NodeRequest, NodeResponse};

impl Node {
    async fn serve(&self, req: NodeRequest) -> NodeResponse {
        match req {
            NodeRequest::Data { group, epoch, req } => match self.replica(group) {
                Some(replica) => {
                    let served = replica.serve(epoch, Arc::unwrap_or_clone(req)).await;
                    NodeResponse::Data(served.map_err(|e| self.with_neighbours(e)))
                }
                None => NodeResponse::Data(Err(DataError::GroupNotFound)),
            },
            NodeRequest::Digest { group } => match self.replica(group) {
                Some(replica) => NodeResponse::Digest(replica.digest()),
                None => NodeResponse::Digest(Err(DataError::GroupNotFound)),
            },
            NodeRequest::Applied { group } => NodeResponse::Applied(self.applied(group).await),
            NodeRequest::Compact => NodeResponse::Compacted(self.compact().await),
            NodeRequest::Footprint { start, end } => NodeResponse::Footprint(
                self.data
                    .footprint(&start, &end)
                    .map_err(|e| DataError::Internal(e.to_string())),
            ),
            NodeRequest::Counters => NodeResponse::Counters(self.data.lookups.counters()),
        }
    }

    /// The last index `group`'s replica applied, made durable before it is answered (a
    /// merge counts on its source's freeze surviving a crash of this node).
    async fn applied(&self, group: GroupId) -> Result<u64, DataError> {
        let index = match self.replica(group) {
            Some(replica) => replica.applied_index(),
            None => return Err(DataError::GroupNotFound),
        };
        let synced = self.data.syncer.sync().await;
        synced.map_err(|e| DataError::Internal(e.to_string()))?;
        Ok(index)
    }

    /// An `EpochMismatch` also carries the descriptors of this node's other replicas of
    /// the same table: after a split the new range is here too, so a router routing
    /// with the old descriptor learns both halves from one answer.
    fn with_neighbours(&self, e: DataError) -> DataError {
        let DataError::EpochMismatch {
            mut ranges,
            members,
        } = e
        else {
            return e;
        };
        let Some(table) = ranges.first().map(|r| r.table) else {
            return DataError::EpochMismatch { ranges, members };
        };
        for replica in self.all_replicas() {
            let range = replica.range();
            if range.table == table && !ranges.iter().any(|r| r.id == range.id) {
                ranges.push((*range).clone());
            }
        }
        DataError::EpochMismatch { ranges, members }
    }

    async fn answer_peer(&self, msg: PeerMessage) -> PeerReply {
        match msg {
            PeerMessage::Raft { group, msg } => match self.replica(group) {
                Some(replica) if replica.refuses_replay(&msg) => {
                    PeerReply::Raft(RaftReply::Failed(format!(
                        "group {group} on node {} starts from a snapshot, not the first log entry",
                        self.id
                    )))
                }
                Some(replica) => {
                    if hibernation::wakes(&msg) {
                        replica.hibernation.wake(&replica.raft);
                    }
                    PeerReply::Raft(dispatch(&replica.raft, msg).await)
                }
                None => PeerReply::Raft(RaftReply::Failed(format!(
                    "group {group} not on node {}",
                    self.id
                ))),
            },
            PeerMessage::Sleep(req) => PeerReply::Slept(
                self.replica(req.group)
                    .is_some_and(|r| r.sleep_if_asked_by_leader(&req)),
            ),
            PeerMessage::Ping => PeerReply::Pong,
            PeerMessage::Membership { group } => PeerReply::Membership(
                self.replica(group)
                    .and_then(|r| r.leader_membership(self.id, true)),
            ),
        }
    }
}

impl RpcService for Node {
    type Req = Wire<NodeRequest, PeerMessage>;
    type Resp = Wire<NodeResponse, PeerReply>;

    async fn handle(self: Arc<Self>, req: Self::Req) -> Self::Resp {
        match req {
            Wire::Service(req) => Wire::Service(self.serve(req).await),
            Wire::Peer(msg) => Wire::Peer(self.answer_peer(msg).await),
        }
    }

    /// A stopping node waits for what changes data (a write must be answered, or its
    /// caller cannot know whether it happened) and drops the rest: reads and waits are
    /// asked again elsewhere, and Raft tolerates lost messages. Exhaustive on purpose: a
    /// new request must be classified here.
    fn may_abandon(req: &Self::Req) -> bool {
        let req = match req {
            Wire::Peer(
                PeerMessage::Raft { .. }
                | PeerMessage::Sleep(_)
                | PeerMessage::Ping
                | PeerMessage::Membership { .. },
            ) => return true,
            Wire::Service(req) => req,
        };
        match req {
            NodeRequest::Data { req, .. } => match **req {
                DataRequest::Read(_)
                | DataRequest::Scan { .. }
                | DataRequest::Count { .. }
                | DataRequest::SplitKey { .. }
                | DataRequest::Wait { .. } => true,
                DataRequest::Write(_)
                | DataRequest::Clear
                | DataRequest::Change(_)
                | DataRequest::TransferLeader { .. }
                | DataRequest::Backup { .. }
                | DataRequest::Ingest(_)
                | DataRequest::Fence { .. } => false,
            },
            NodeRequest::Digest { .. }
            | NodeRequest::Applied { .. }
            | NodeRequest::Footprint { .. }
            | NodeRequest::Counters => true,
            NodeRequest::Compact => false,
        }
    }
}
