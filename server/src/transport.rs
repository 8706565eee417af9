//! Connections from this node to its peers: one multiplexed RPC client per peer node,
//! shared by every group (Raft traffic) and addressed by node id through the catalog.

use crate::api::{NodeRequest, NodeResponse};
use crate::DataTypes;
use dashmap::DashMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::raftnet::{RaftReply, RaftRequest, RaftTransport};
use tessera_common::{RpcClient, RpcError};
use tessera_meta::catalog::{Catalog, NodeId};

/// A client of one storage node's internal RPC.
pub type NodeClient = RpcClient<NodeRequest, NodeResponse>;

/// Node id → client, following address changes in the catalog.
#[derive(Default)]
pub struct NodeDirectory {
    clients: DashMap<NodeId, Arc<NodeClient>>,
    /// The catalog version the directory last followed (addresses only change with it).
    version: std::sync::atomic::AtomicU64,
}

impl NodeDirectory {
    /// Points every node id at its address in `catalog`, replacing clients whose
    /// address changed.
    pub fn update(&self, catalog: &Catalog) {
        use std::sync::atomic::Ordering;
        // Called on every routed request: only a new catalog can change an address.
        // The version is recorded after the clients are in place, so a caller that
        // sees it up to date also sees the clients (concurrent updates are harmless).
        if catalog.version != 0 && self.version.load(Ordering::Acquire) == catalog.version {
            return;
        }
        for node in catalog.nodes.values() {
            let stale = self
                .clients
                .get(&node.id)
                .is_none_or(|c| c.addr() != node.addr);
            if stale {
                self.clients
                    .insert(node.id, Arc::new(NodeClient::new(node.addr.clone())));
            }
        }
        self.version.store(catalog.version, Ordering::Release);
    }

    /// The client for `node`, if its address is known.
    pub fn client(&self, node: NodeId) -> Option<Arc<NodeClient>> {
        self.clients.get(&node).map(|c| c.clone())
    }
}

impl RaftTransport<DataTypes> for NodeDirectory {
    async fn send(
        &self,
        target: NodeId,
        group: u64,
        msg: RaftRequest<DataTypes>,
        timeout: Duration,
    ) -> Result<RaftReply<DataTypes>, RpcError> {
        let Some(client) = self.client(target) else {
            return Ok(RaftReply::Failed(format!(
                "address of node {target} unknown"
            )));
        };
        match client
            .call(&NodeRequest::Raft { group, msg }, timeout)
            .await?
        {
            NodeResponse::Raft(reply) => Ok(reply),
            _ => Ok(RaftReply::Failed(
                "unexpected reply to a Raft message".into(),
            )),
        }
    }
}
