//! A storage node's state: the replicas it hosts, and their life cycle — started when
//! the catalog assigns them here, deleted when their group is gone — plus compaction of
//! the whole node. The background loops that drive it are in [`crate::loops`].

use crate::replica::{GroupReplica, ReplicaOptions};
use crate::state_machine::{DataKeyspaces, GroupStateMachine};
use crate::transport::{PeerTransport, Peers};
use crate::DataRaft;
use dashmap::DashMap;
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use tessera_common::raftlog::LogKeyspaces;
use tessera_common::raftnet::{GroupNetwork, RaftPeers, RaftTimings};
use tessera_common::{Clock, FjallLogStore};
use tessera_proto::catalog::{Catalog, GroupDesc, GroupId, NodeId};
use tessera_proto::data::DataError;
use tessera_proto::meta_client::MetaClient;

/// The state shared by a node's service and background loops.
pub struct Node {
    pub(crate) id: NodeId,
    pub(crate) data: DataKeyspaces,
    pub(crate) logs: LogKeyspaces,
    pub(crate) replicas: DashMap<GroupId, Arc<GroupReplica>>,
    /// Held while replicas are started or deleted, so two loops never start the same
    /// group twice or delete one that is being started.
    pub(crate) lifecycle: tokio::sync::Mutex<()>,
    pub(crate) peers: Arc<Peers>,
    pub(crate) timings: RaftTimings,
    pub(crate) meta: Arc<MetaClient>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Node {
    /// This node's replica of `group`, if it runs one.
    pub(crate) fn replica(&self, group: GroupId) -> Option<Arc<GroupReplica>> {
        self.replicas.get(&group).map(|r| r.clone())
    }

    /// Every running replica.
    pub(crate) fn all_replicas(&self) -> Vec<Arc<GroupReplica>> {
        self.replicas.iter().map(|r| r.clone()).collect()
    }

    /// Creates the replicas `catalog` assigns to this node that do not exist yet, and
    /// deletes those of groups the catalog no longer has (dropped tables), including
    /// leftovers on disk from while this node was down. A replica on disk whose group
    /// still exists but no longer lists this node is started too: it may still be a
    /// voter until the group's leader finishes removing it, and the reconciler deletes
    /// it once that is done.
    pub(crate) async fn adopt_groups(&self, catalog: &Catalog) {
        if catalog.version == 0 {
            return; // Not fetched yet: an empty catalog must not look like "drop all".
        }
        let _lifecycle = self.lifecycle.lock().await;
        self.peers.update(
            catalog.version,
            catalog.nodes.values().map(|n| (n.id, n.addr.as_str())),
        );
        if let Err(e) = self.drop_removed_groups(catalog).await {
            tracing::error!(node = self.id, error = %e, "cannot delete dropped replicas");
        }
        let recorded = match self.data.recorded_groups() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(node = self.id, error = %e, "cannot list replicas on disk");
                return;
            }
        };
        let hosted = catalog
            .groups
            .values()
            .filter(|g| g.members.contains(&self.id) || recorded.contains(&g.id));
        for group in hosted {
            if self.replicas.contains_key(&group.id) {
                continue;
            }
            if let Err(e) = self.start_replica(catalog, group).await {
                tracing::error!(group = group.id, error = %e, "cannot start replica");
            }
        }
    }

    async fn drop_removed_groups(&self, catalog: &Catalog) -> io::Result<()> {
        let running: Vec<GroupId> = self.replicas.iter().map(|r| *r.key()).collect();
        let recorded = self.data.recorded_groups()?;
        for group in running.into_iter().chain(recorded) {
            if catalog.groups.contains_key(&group) {
                continue;
            }
            self.destroy_replica(group).await?;
            tracing::info!(node = self.id, group, "replica of a dropped group deleted");
        }
        Ok(())
    }

    /// Snapshots every replica and purges its Raft log up to the snapshot, then
    /// flushes and fully compacts every keyspace and syncs.
    ///
    /// A snapshot here is cheap (the state machine is the data keyspace; the snapshot
    /// is a marker of the applied position), so the log entries it covers are only
    /// needed by a follower that lags behind them, and that follower gets the snapshot.
    pub(crate) async fn compact(&self) -> Result<(), DataError> {
        let internal = |e: String| DataError::Internal(e);
        for replica in self.all_replicas() {
            replica
                .snapshot_and_purge(0)
                .await
                .map_err(|e| internal(format!("group {}: {e}", replica.id)))?;
        }
        let (data, logs) = (self.data.clone(), self.logs.clone());
        tokio::task::spawn_blocking(move || {
            let mut keyspaces = data.keyspaces().to_vec();
            keyspaces.extend(logs.keyspaces());
            tessera_common::store::compact_keyspaces(&keyspaces)
        })
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(|e| internal(e.to_string()))?;
        self.data
            .syncer
            .sync()
            .await
            .map_err(|e| internal(e.to_string()))
    }

    /// Stops this node's replica of `group` and deletes its data, log and record.
    /// The caller holds `lifecycle`.
    pub(crate) async fn destroy_replica(&self, group: GroupId) -> io::Result<()> {
        if let Some((_, replica)) = self.replicas.remove(&group) {
            if let Err(e) = replica.raft.shutdown().await {
                tracing::warn!(group, error = %e, "raft shutdown");
            }
        }
        self.data.destroy_group(group).await?;
        self.logs.destroy_group(group).await
    }

    async fn start_replica(&self, catalog: &Catalog, group: &GroupDesc) -> io::Result<()> {
        let range = catalog
            .range_of_group(group.id)
            .ok_or_else(|| io::Error::other("group has no range"))?;
        let sm = GroupStateMachine::open(self.data.clone(), group.id, range)?;
        let applied = sm.applied();
        let log = FjallLogStore::new(self.logs.clone(), group.id);
        let log_bytes = log.appended_bytes();
        let transport = RaftPeers(Arc::new(PeerTransport(self.peers.clone())));
        let network = GroupNetwork::new(transport, group.id);
        let config = self.timings.raft_config("tessera-data")?;
        let raft = DataRaft::new(self.id, config, network, log, sm)
            .await
            .map_err(io::Error::other)?;
        // Only the group's founding members form it; later members join through Raft.
        if group.retired.is_empty()
            && group.members.first() == Some(&self.id)
            && !raft.is_initialized().await.map_err(io::Error::other)?
        {
            let members: BTreeMap<NodeId, openraft::BasicNode> = group
                .members
                .iter()
                .map(|id| {
                    let addr = catalog.nodes.get(id).map(|n| n.addr.clone());
                    (*id, openraft::BasicNode::new(addr.unwrap_or_default()))
                })
                .collect();
            raft.initialize(members).await.map_err(io::Error::other)?;
        }
        let options = ReplicaOptions {
            node: self.id,
            lease_reads: self.timings.lease_reads,
            log_bytes,
            clock: self.clock.clone(),
        };
        let replica = GroupReplica::new(group.id, raft, self.data.clone(), applied, options);
        tracing::info!(node = self.id, group = group.id, "replica started");
        self.replicas.insert(group.id, Arc::new(replica));
        Ok(())
    }

    /// Stops every replica's Raft instance and closes the connections to peers.
    pub(crate) async fn stop(&self) {
        let replicas = self.all_replicas();
        self.replicas.clear();
        for replica in replicas {
            if let Err(e) = replica.raft.shutdown().await {
                tracing::warn!(group = replica.id, error = %e, "raft shutdown");
            }
        }
        for client in self.peers.all() {
            client.close().await;
        }
    }
}
