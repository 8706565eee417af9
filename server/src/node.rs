//! A storage node: the groups it hosts, the internal RPC service, and the background
//! loops that follow the catalog (creating replicas it is assigned) and heartbeat to
//! the meta service.

use crate::api::{DataError, NodeRequest, NodeResponse};
use crate::group::GroupReplica;
use crate::state_machine::DataKeyspaces;
use crate::transport::NodeDirectory;
use crate::DataRaft;
use dashmap::DashMap;
use openraft::async_runtime::WatchReceiver;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::raftlog::LogKeyspaces;
use tessera_common::raftnet::{dispatch, GroupNetwork, RaftPeers, RaftReply, RaftTimings};
use tessera_common::{FjallLogStore, RpcService};
use tessera_meta::catalog::{Catalog, GroupDesc, GroupId, NodeId};
use tessera_meta::proto::ReplicaStats;
use tessera_meta::MetaClient;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Most expired keys one replica deletes per sweep (one Raft entry).
const SWEEP_PER_GROUP: usize = 1_000;
/// Most expiry-index entries one sweep reads.
const SWEEP_SCAN: usize = 100_000;

/// Expired keys of one replica's range.
type DueKeys = (Arc<GroupReplica>, Vec<Vec<u8>>);

/// The state shared by a node's service and background loops.
pub struct Node {
    pub(crate) id: NodeId,
    pub(crate) data: DataKeyspaces,
    pub(crate) logs: LogKeyspaces,
    pub(crate) groups: DashMap<GroupId, Arc<GroupReplica>>,
    /// Held while replicas are started or deleted, so two loops never start the same
    /// group twice or delete one that is being started.
    pub(crate) lifecycle: tokio::sync::Mutex<()>,
    pub(crate) peers: Arc<NodeDirectory>,
    pub(crate) timings: RaftTimings,
    pub(crate) meta: Arc<MetaClient>,
}

impl RpcService for Node {
    type Req = NodeRequest;
    type Resp = NodeResponse;

    async fn handle(self: Arc<Self>, req: NodeRequest) -> NodeResponse {
        match req {
            NodeRequest::Raft { group, msg } => match self.replica(group) {
                Some(replica) => {
                    if crate::hibernate::wakes(&msg) {
                        replica.hibernation.wake(&replica.raft);
                    }
                    NodeResponse::Raft(dispatch(&replica.raft, msg).await)
                }
                None => NodeResponse::Raft(RaftReply::Failed(format!(
                    "group {group} not on node {}",
                    self.id
                ))),
            },
            NodeRequest::Data { group, epoch, req } => match self.replica(group) {
                Some(replica) => NodeResponse::Data(replica.serve(epoch, req).await),
                None => NodeResponse::Data(Err(DataError::GroupNotFound)),
            },
            NodeRequest::Digest { group } => match self.replica(group) {
                Some(replica) => NodeResponse::Digest(replica.digest()),
                None => NodeResponse::Digest(Err(DataError::GroupNotFound)),
            },
            NodeRequest::Compact => NodeResponse::Compacted(self.compact().await),
            NodeRequest::Hibernate(req) => NodeResponse::Hibernated(
                self.replica(req.group)
                    .is_some_and(|r| r.sleep_if_asked_by_leader(&req)),
            ),
            NodeRequest::Ping => NodeResponse::Pong,
            NodeRequest::Membership { group } => NodeResponse::Membership(
                self.replica(group)
                    .and_then(|r| r.leader_membership(self.id, true)),
            ),
            NodeRequest::Footprint { start, end } => NodeResponse::Footprint(
                self.data
                    .footprint(&start, &end)
                    .map_err(|e| DataError::Internal(e.to_string())),
            ),
        }
    }
}

impl Node {
    fn replica(&self, group: GroupId) -> Option<Arc<GroupReplica>> {
        self.groups.get(&group).map(|r| r.clone())
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
        self.peers.update(catalog);
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
            if self.groups.contains_key(&group.id) {
                continue;
            }
            if let Err(e) = self.start_replica(catalog, group).await {
                tracing::error!(group = group.id, error = %e, "cannot start replica");
            }
        }
    }

    async fn drop_removed_groups(&self, catalog: &Catalog) -> std::io::Result<()> {
        let running: Vec<GroupId> = self.groups.iter().map(|r| *r.key()).collect();
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
    async fn compact(&self) -> Result<(), DataError> {
        let replicas: Vec<_> = self.groups.iter().map(|r| r.value().clone()).collect();
        for replica in replicas {
            replica
                .snapshot_and_purge(0)
                .await
                .map_err(|e| DataError::Internal(format!("group {}: {e}", replica.id)))?;
        }
        let (data, logs) = (self.data.clone(), self.logs.clone());
        tokio::task::spawn_blocking(move || {
            let mut keyspaces = data.keyspaces().to_vec();
            keyspaces.extend(logs.keyspaces());
            tessera_common::store::compact_keyspaces(&keyspaces)
        })
        .await
        .map_err(|e| DataError::Internal(e.to_string()))?
        .map_err(|e| DataError::Internal(e.to_string()))?;
        self.data
            .syncer
            .sync()
            .await
            .map_err(|e| DataError::Internal(e.to_string()))
    }

    /// Stops this node's replica of `group` and deletes its data, log and record.
    /// The caller holds `lifecycle`.
    pub(crate) async fn destroy_replica(&self, group: GroupId) -> std::io::Result<()> {
        if let Some((_, replica)) = self.groups.remove(&group) {
            if let Err(e) = replica.raft.shutdown().await {
                tracing::warn!(group, error = %e, "raft shutdown");
            }
        }
        self.data.destroy_group(group).await?;
        self.logs.destroy_group(group).await
    }

    async fn start_replica(&self, catalog: &Catalog, group: &GroupDesc) -> std::io::Result<()> {
        let range = catalog
            .range_of_group(group.id)
            .ok_or_else(|| std::io::Error::other("group has no range"))?;
        let sm = GroupReplica::open_state_machine(&self.data, group.id, &range.start, &range.end)?;
        let max_seq = sm.max_seq();
        let log = FjallLogStore::new(self.logs.clone(), group.id);
        let log_bytes = log.appended_bytes();
        let network = GroupNetwork::new(RaftPeers(self.peers.clone()), group.id);
        let config = self.timings.raft_config("tessera-data")?;
        let raft = DataRaft::new(self.id, config, network, log, sm)
            .await
            .map_err(std::io::Error::other)?;
        // Only the group's founding members form it; later members join through Raft.
        if group.retired.is_empty()
            && group.members.first() == Some(&self.id)
            && !raft.is_initialized().await.map_err(std::io::Error::other)?
        {
            let members: BTreeMap<NodeId, openraft::BasicNode> = group
                .members
                .iter()
                .map(|id| {
                    let addr = catalog
                        .nodes
                        .get(id)
                        .map(|n| n.addr.clone())
                        .unwrap_or_default();
                    (*id, openraft::BasicNode::new(addr))
                })
                .collect();
            raft.initialize(members)
                .await
                .map_err(std::io::Error::other)?;
        }
        let bounds = (range.start.clone(), range.end.clone(), range.epoch);
        let replica = GroupReplica::new(
            group.id,
            self.id,
            raft,
            self.data.clone(),
            bounds,
            max_seq,
            crate::group::ReplicaOptions {
                lease_reads: self.timings.lease_reads,
                log_bytes,
            },
        );
        tracing::info!(node = self.id, group = group.id, "replica started");
        self.groups.insert(group.id, Arc::new(replica));
        Ok(())
    }

    /// Follows the catalog until `shutdown`, adopting assigned groups.
    pub(crate) async fn follow_catalog(
        self: Arc<Self>,
        mut catalog: watch::Receiver<Arc<Catalog>>,
        shutdown: CancellationToken,
    ) {
        loop {
            let current = catalog.borrow_and_update().clone();
            self.adopt_groups(&current).await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = catalog.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Reports liveness and replica stats to the meta service until `shutdown`.
    pub(crate) async fn heartbeat(self: Arc<Self>, every: Duration, shutdown: CancellationToken) {
        let mut tick = tessera_common::ticker::Ticker::new(every, shutdown);
        while tick.tick().await {
            let stats: Vec<ReplicaStats> = self
                .groups
                .iter()
                .map(|r| {
                    let membership = r.leader_membership(self.id, false);
                    let metrics = r.raft.metrics();
                    let m = metrics.borrow_watched();
                    ReplicaStats {
                        group: r.id,
                        is_leader: membership.is_some(),
                        applied: m.last_applied.as_ref().map_or(0, |id| id.index),
                        membership,
                        asleep: r.hibernation.is_asleep(),
                    }
                })
                .collect();
            if let Err(e) = self.meta.heartbeat(self.id, stats).await {
                tracing::debug!(error = %e, "heartbeat failed");
            }
        }
    }

    /// Deletes expired keys through Raft on the groups this node leads, until
    /// `shutdown`.
    pub(crate) async fn sweep_expired(
        self: Arc<Self>,
        every: Duration,
        shutdown: CancellationToken,
    ) {
        let mut tick = tessera_common::ticker::Ticker::new(every, shutdown);
        while tick.tick().await {
            let due = match self.due_keys() {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the expiry index failed");
                    continue;
                }
            };
            for (replica, keys) in due {
                if let Err(e) = replica.sweep_expired(keys).await {
                    tracing::debug!(group = replica.id, error = %e, "expiry sweep failed");
                }
            }
        }
    }

    /// Snapshots the replicas whose logs grew by `RaftTimings::snapshot_bytes` since
    /// their last snapshot, every `every` until `shutdown`.
    pub(crate) async fn snapshot_large_logs(
        self: Arc<Self>,
        every: Duration,
        shutdown: CancellationToken,
    ) {
        let mut tick = tessera_common::ticker::Ticker::new(every, shutdown);
        while tick.tick().await {
            let replicas: Vec<_> = self.groups.iter().map(|r| r.clone()).collect();
            for replica in replicas {
                replica
                    .snapshot_if_log_exceeds(self.timings.snapshot_bytes, self.timings.keep_logs)
                    .await;
            }
        }
    }

    /// Keys whose expiry has passed, by the replica whose range holds them: at most
    /// [`SWEEP_PER_GROUP`] per replica, from one scan of the node's expiry index (a
    /// node with thousands of idle ranges does not scan it once per range).
    fn due_keys(&self) -> std::io::Result<Vec<DueKeys>> {
        let mut replicas: Vec<Arc<GroupReplica>> = self.groups.iter().map(|r| r.clone()).collect();
        replicas.sort_by(|a, b| a.start().cmp(b.start()));
        let mut due: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        let now = (crate::value::now_ms() + 1).to_be_bytes();
        for kv in self.data.expiry.range(..now.as_slice()).take(SWEEP_SCAN) {
            let index_key = kv.key().map_err(tessera_common::raftlog::io_err)?;
            let key = &index_key[8.min(index_key.len())..];
            let at = replicas.partition_point(|r| r.start() <= key);
            let Some(i) = at.checked_sub(1).filter(|i| replicas[*i].contains(key)) else {
                continue; // Left by a replica deleted meanwhile.
            };
            let keys = due.entry(i).or_default();
            if keys.len() < SWEEP_PER_GROUP {
                keys.push(key.to_vec());
            }
        }
        Ok(due
            .into_iter()
            .map(|(i, keys)| (replicas[i].clone(), keys))
            .collect())
    }

    /// Stops every replica's Raft instance.
    pub(crate) async fn stop_replicas(&self) {
        let replicas: Vec<_> = self.groups.iter().map(|r| r.clone()).collect();
        self.groups.clear();
        for replica in replicas {
            if let Err(e) = replica.raft.shutdown().await {
                tracing::warn!(group = replica.id, error = %e, "raft shutdown");
            }
        }
    }
}
