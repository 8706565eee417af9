//! A storage node's state: the replicas it hosts, and their life cycle — started when
//! the catalog assigns them here, deleted when their group is gone — plus compaction of
//! the whole node. The background loops that drive it are in [`crate::loops`].

use crate::replica::{GroupReplica, ReplicaOptions};
use crate::state_machine::{DataKeyspaces, GroupStateMachine, RangeEvent};
use crate::transport::{PeerTransport, Peers};
use crate::DataRaft;
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use tessera_common::hash::FastDashMap;
use tessera_common::raftlog::LogKeyspaces;
use tessera_common::raftnet::{GroupNetwork, RaftPeers, RaftTimings};
use tessera_common::{Clock, FjallLogStore};
use tessera_proto::catalog::{Catalog, GroupId, NodeId, Origin, RangeDesc};
use tessera_proto::data::DataError;
use tessera_proto::meta_client::MetaClient;

/// The state shared by a node's service and background loops.
pub struct Node {
    pub(crate) id: NodeId,
    pub(crate) data: DataKeyspaces,
    pub(crate) logs: LogKeyspaces,
    pub(crate) replicas: FastDashMap<GroupId, Arc<GroupReplica>>,
    /// Held while replicas are started or deleted, so two loops never start the same
    /// group twice or delete one that is being started.
    pub(crate) lifecycle: tokio::sync::Mutex<()>,
    pub(crate) peers: Arc<Peers>,
    pub(crate) timings: RaftTimings,
    pub(crate) meta: Arc<MetaClient>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Where state machines announce splits and merges (see `loops::ranges`).
    pub(crate) events: tokio::sync::mpsc::UnboundedSender<RangeEvent>,
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
    /// deletes those of dropped tables, including leftovers on disk from while this node
    /// was down. A replica on disk is started whatever the catalog says of it (unless
    /// its table was dropped): its group may not be in the catalog yet (a split's new
    /// group), or no longer list this node while it is still a voter (the reconciler
    /// deletes it once its removal is committed).
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
        self.retire_absorbed(catalog).await;
        let assigned = catalog.groups_on(self.id).map(|g| g.id);
        let wanted: std::collections::BTreeSet<GroupId> = assigned.chain(recorded).collect();
        for group in wanted {
            if self.replicas.contains_key(&group) || catalog.dropped_groups.contains(&group) {
                continue;
            }
            if let Err(e) = self.start_replica(catalog, group).await {
                tracing::error!(group, error = %e, "cannot start replica");
            }
        }
    }

    /// Stops replicas of merged-away groups that no replica here needs any more: the
    /// target's replica here covers them now (it caught up past the merge by snapshot,
    /// so no merge was applied here to retire them), or the target has no replica here
    /// (it moved away). A target replica here that has yet to apply the merge needs
    /// the source's record, so the source stays until then. Their data stays: it is
    /// the target's, or no replica's here (and a snapshot replaces it if one comes).
    async fn retire_absorbed(&self, catalog: &Catalog) {
        let replicas = self.all_replicas();
        for zombie in &replicas {
            let Some(target) = catalog.merged_groups.get(&zombie.id) else {
                continue;
            };
            let range = zombie.range();
            let needed = replicas.iter().any(|r| {
                let other = r.range();
                let covers = other.start <= range.start && range.end <= other.end;
                r.id == *target && !covers
            });
            if needed {
                continue;
            }
            tracing::info!(
                node = self.id,
                group = zombie.id,
                "retiring a merged-away replica"
            );
            if let Err(e) = self.retire_merged_locked(zombie.id).await {
                tracing::error!(group = zombie.id, error = %e, "cannot retire a merged group");
            }
        }
    }

    async fn drop_removed_groups(&self, catalog: &Catalog) -> io::Result<()> {
        let running: Vec<GroupId> = self.replicas.iter().map(|r| *r.key()).collect();
        let recorded = self.data.recorded_groups()?;
        for group in running.into_iter().chain(recorded) {
            if !catalog.dropped_groups.contains(&group) {
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

    /// Starts this node's replica of `group`: from its record if it has one here (also
    /// a split's new group), else as a new replica of the catalog's range for it — but
    /// never one that overlaps a replica running here (a parent that has not applied
    /// the split that created the group yet).
    pub(crate) async fn start_replica(&self, catalog: &Catalog, group: GroupId) -> io::Result<()> {
        let record = self.data.record(group)?;
        let founding = catalog
            .groups
            .get(&group)
            .and_then(|d| d.founding_range(self.id));
        let awaits_snapshot = record.is_none() && founding.is_none();
        let range = match record {
            Some(record) => record.range,
            None => {
                // A founding member replays the group's log from the founding range;
                // anyone else starts empty and is sent a snapshot (which sets the
                // range): the catalog's range only keeps it from overlapping others.
                let range = founding
                    .or_else(|| catalog.range_of_group(group))
                    .ok_or_else(|| io::Error::other("group has no range"))?;
                let current = catalog.range_of_group(group).unwrap_or(range);
                let overlap = self
                    .overlapping(range)
                    .or_else(|| self.overlapping(current));
                if let Some(overlap) = overlap {
                    tracing::debug!(group, overlap, "replica waits for an overlapping one");
                    return Ok(());
                }
                range.clone()
            }
        };
        let events = Some(self.events.clone());
        let sm = GroupStateMachine::open_with_events(self.data.clone(), group, &range, events)?;
        let applied = sm.applied();
        let log = FjallLogStore::new(self.logs.clone(), group);
        let log_bytes = log.appended_bytes();
        let transport = RaftPeers(Arc::new(PeerTransport(self.peers.clone())));
        let network = GroupNetwork::new(transport, group);
        let config = self.timings.raft_config("tessera-data")?;
        let raft = DataRaft::new(self.id, config, network, log, sm)
            .await
            .map_err(io::Error::other)?;
        self.initialize_if_founder(catalog, group, &raft).await?;
        let options = ReplicaOptions {
            node: self.id,
            lease_reads: self.timings.lease_reads,
            log_bytes,
            clock: self.clock.clone(),
            awaits_snapshot,
        };
        let replica = GroupReplica::new(group, raft, self.data.clone(), applied, options);
        tracing::info!(node = self.id, group, "replica started");
        self.replicas.insert(group, Arc::new(replica));
        Ok(())
    }

    /// A running replica whose range overlaps `range`.
    fn overlapping(&self, range: &RangeDesc) -> Option<GroupId> {
        self.replicas.iter().find_map(|r| {
            let other = r.range();
            let overlaps = other.start < range.end && range.start < other.end;
            overlaps.then_some(r.id)
        })
    }

    /// Only a group's founding members form it; later members join through Raft, and a
    /// split's new group starts from the state its split wrote.
    async fn initialize_if_founder(
        &self,
        catalog: &Catalog,
        group: GroupId,
        raft: &DataRaft,
    ) -> io::Result<()> {
        let Some(desc) = catalog.groups.get(&group) else {
            return Ok(());
        };
        let founder = match &desc.origin {
            Origin::Founded { members, .. } => {
                desc.retired.is_empty() && members.first() == Some(&self.id)
            }
            Origin::Split { .. } => false,
        };
        if !founder || raft.is_initialized().await.map_err(io::Error::other)? {
            return Ok(());
        }
        let members: BTreeMap<NodeId, openraft::BasicNode> = desc
            .members
            .iter()
            .map(|id| {
                let addr = catalog.nodes.get(id).map(|n| n.addr.clone());
                (*id, openraft::BasicNode::new(addr.unwrap_or_default()))
            })
            .collect();
        raft.initialize(members).await.map_err(io::Error::other)
    }

    /// Stops this node's replica of a group a merge absorbed and deletes its Raft log
    /// (its record went with the merge; its data is the target's now).
    pub(crate) async fn retire_merged(&self, source: GroupId) -> io::Result<()> {
        let _lifecycle = self.lifecycle.lock().await;
        self.retire_merged_locked(source).await
    }

    /// [`Node::retire_merged`], for a caller holding `lifecycle`.
    async fn retire_merged_locked(&self, source: GroupId) -> io::Result<()> {
        if let Some((_, replica)) = self.replicas.remove(&source) {
            if let Err(e) = replica.raft.shutdown().await {
                tracing::warn!(group = source, error = %e, "raft shutdown");
            }
        }
        self.data.forget_record(source)?;
        self.data.snapshots.remove(source)?;
        self.logs.destroy_group(source).await
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
