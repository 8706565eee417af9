//! Connections from this node to its peers: one multiplexed client per peer node,
//! shared by every group (Raft traffic) and addressed by node id through the catalog.

use crate::peer::{PeerClient, PeerMessage, PeerReply};
use crate::DataTypes;
use std::time::Duration;
use tessera_common::directory::Directory;
use tessera_common::raftnet::{RaftReply, RaftRequest, RaftTransport};
use tessera_common::RpcError;
use tessera_proto::catalog::NodeId;

/// Node id → peer client, following address changes in the catalog.
pub type Peers = Directory<PeerClient>;

/// Raft traffic of every group of this node, over [`Peers`].
pub struct PeerTransport(pub std::sync::Arc<Peers>);

impl RaftTransport<DataTypes> for PeerTransport {
    async fn send(
        &self,
        target: NodeId,
        group: u64,
        msg: RaftRequest<DataTypes>,
        timeout: Duration,
    ) -> Result<RaftReply<DataTypes>, RpcError> {
        let Some(client) = self.0.client(target) else {
            return Ok(RaftReply::Failed(format!(
                "address of node {target} unknown"
            )));
        };
        match client
            .call(&PeerMessage::Raft { group, msg }, timeout)
            .await?
        {
            PeerReply::Raft(reply) => Ok(reply),
            _ => Ok(RaftReply::Failed(
                "unexpected reply to a Raft message".into(),
            )),
        }
    }
}
