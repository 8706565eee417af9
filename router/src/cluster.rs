//! The router's view of the cluster and the single place requests are routed:
//! user key → table → range → group → leader, retrying on routing errors (following
//! leader hints, refreshing the catalog) within a bounded deadline.

use dashmap::DashMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::RpcError;
use tessera_meta::catalog::{
    storage_key, Catalog, GroupId, NodeId, RangeDesc, TableId, DEFAULT_TABLE_ID,
};
use tessera_server::{
    DataError, DataRequest, DataResponse, NodeDirectory, NodeRequest, NodeResponse, Op, OpResult,
};
use tokio::sync::watch;

/// Why a routed request failed, as the client will be told.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RouteError {
    /// No replica served the range before the deadline.
    #[error("CLUSTERDOWN {0}")]
    Unavailable(String),
    /// The request may or may not have been applied.
    #[error("TRYAGAIN {0}")]
    Indeterminate(String),
    /// The node refused it for a non-routing reason.
    #[error("ERR {0}")]
    Failed(String),
}

/// Routing state shared by all connections of a router.
pub struct Cluster {
    catalog: watch::Receiver<Arc<Catalog>>,
    nodes: NodeDirectory,
    leaders: DashMap<GroupId, NodeId>,
    deadline: Duration,
    queues: DashMap<
        crate::coalesce::QueueKey,
        tokio::sync::mpsc::UnboundedSender<crate::coalesce::Queued>,
    >,
    this: std::sync::Weak<Cluster>,
}

impl Cluster {
    /// A cluster view following `catalog`; requests give up after `deadline`.
    pub fn new(catalog: watch::Receiver<Arc<Catalog>>, deadline: Duration) -> Arc<Self> {
        Arc::new_cyclic(|this| Self {
            catalog,
            nodes: NodeDirectory::default(),
            leaders: DashMap::new(),
            deadline,
            queues: DashMap::new(),
            this: this.clone(),
        })
    }

    /// Runs ops that all live in the range holding `anchor`, coalesced with the other
    /// requests in flight for the same group (see [`crate::coalesce`]).
    ///
    /// # Errors
    /// [`RouteError`] if the batch they travelled in failed as a whole.
    pub async fn execute(&self, anchor: &[u8], ops: Vec<Op>) -> Result<Vec<OpResult>, RouteError> {
        let write = ops.iter().any(Op::is_write);
        let group = Self::range_for(&self.catalog(), anchor).map(|r| r.group);
        let Some(group) = group else {
            // No range yet: go direct, which waits for the catalog within the deadline.
            let req = if write {
                DataRequest::Write(ops)
            } else {
                DataRequest::Read(ops)
            };
            return match self.call(anchor, req).await? {
                DataResponse::Results(results) => Ok(results),
                _ => Err(RouteError::Failed(
                    "unexpected reply from storage node".into(),
                )),
            };
        };
        let (done, result) = tokio::sync::oneshot::channel();
        let queued = crate::coalesce::Queued {
            anchor: anchor.to_vec(),
            ops,
            done,
        };
        let queue = self.queues.entry((group, write)).or_insert_with(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(crate::coalesce::run(self.this.clone(), write, rx));
            tx
        });
        if queue.send(queued).is_err() {
            return Err(RouteError::Unavailable(
                "the router is shutting down".into(),
            ));
        }
        drop(queue);
        result.await.unwrap_or_else(|_| {
            Err(RouteError::Unavailable(
                "the router is shutting down".into(),
            ))
        })
    }

    /// The current catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.borrow().clone()
    }

    /// Maps a user key to (table, storage key): `t:rest` belongs to table `t` when such
    /// a table exists, everything else to `default`.
    pub fn storage_key(catalog: &Catalog, user_key: &[u8]) -> (TableId, Vec<u8>) {
        if let Some(colon) = user_key.iter().position(|&b| b == b':') {
            if let Ok(name) = std::str::from_utf8(&user_key[..colon]) {
                if let Some(table) = catalog
                    .table_by_name(name)
                    .filter(|t| t.id != DEFAULT_TABLE_ID)
                {
                    return (table.id, storage_key(table.id, &user_key[colon + 1..]));
                }
            }
        }
        (DEFAULT_TABLE_ID, storage_key(DEFAULT_TABLE_ID, user_key))
    }

    /// The range holding `storage_key` in `catalog`.
    pub fn range_for<'a>(catalog: &'a Catalog, storage_key: &[u8]) -> Option<&'a RangeDesc> {
        catalog.ranges.values().find(|r| r.contains(storage_key))
    }

    /// The ranges of `table` in key order.
    pub fn table_ranges(catalog: &Catalog, table: TableId) -> Vec<RangeDesc> {
        let mut ranges: Vec<_> = catalog
            .ranges
            .values()
            .filter(|r| r.table == table)
            .cloned()
            .collect();
        ranges.sort_by(|a, b| a.start.cmp(&b.start));
        ranges
    }

    /// Sends `req` to the leader of the range that holds `anchor` (a storage key),
    /// retrying routing errors until the deadline.
    ///
    /// # Errors
    /// [`RouteError`] once the deadline passes or on a non-retryable failure.
    pub async fn call(&self, anchor: &[u8], req: DataRequest) -> Result<DataResponse, RouteError> {
        let until = tokio::time::Instant::now() + self.deadline;
        let is_write = matches!(req, DataRequest::Write(_));
        let mut attempt = 0usize;
        let mut last = String::from("no range covers the key yet");
        loop {
            if tokio::time::Instant::now() >= until {
                return Err(RouteError::Unavailable(format!(
                    "the range holding this key is unavailable ({last})"
                )));
            }
            attempt += 1;
            let catalog = self.catalog();
            let Some(range) = Self::range_for(&catalog, anchor) else {
                self.wait_for_catalog(catalog.version, until).await;
                continue;
            };
            let Some(group) = catalog.groups.get(&range.group) else {
                self.wait_for_catalog(catalog.version, until).await;
                continue;
            };
            let target = match self.leaders.get(&group.id) {
                Some(leader) => *leader,
                None => group.members[attempt % group.members.len().max(1)],
            };
            self.nodes.update(&catalog);
            let Some(client) = self.nodes.client(target) else {
                last = format!("address of node {target} unknown");
                self.wait_for_catalog(catalog.version, until).await;
                continue;
            };
            let msg = NodeRequest::Data {
                group: group.id,
                epoch: range.epoch,
                req: req.clone(),
            };
            // An attempt may use whatever is left of the request's deadline: a large
            // write can take a while, and cutting it short only makes it indeterminate.
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            let outcome = client.call(&msg, left).await;
            match outcome {
                Ok(NodeResponse::Data(Ok(resp))) => {
                    // Only a leader serves data: remember it (it may have been found by
                    // trying members after a partitioned leader stopped answering).
                    if self.leader_of(group.id) != Some(target) {
                        self.leaders.insert(group.id, target);
                    }
                    return Ok(resp);
                }
                Ok(NodeResponse::Data(Err(e))) => {
                    last = format!("node {target}: {e}");
                    self.on_data_error(group.id, target, &e, catalog.version, until)
                        .await?;
                }
                Ok(_) => {
                    return Err(RouteError::Failed(
                        "unexpected reply from storage node".into(),
                    ))
                }
                Err(RpcError::Connect { .. }) | Err(RpcError::Encode(_)) => {
                    last = format!("node {target} unreachable");
                    self.forget_leader(group.id, target);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) if is_write => {
                    self.forget_leader(group.id, target);
                    return Err(RouteError::Indeterminate(format!(
                        "write outcome unknown: {e}"
                    )));
                }
                Err(e) => {
                    last = e.to_string();
                    self.forget_leader(group.id, target);
                }
            }
        }
    }

    async fn on_data_error(
        &self,
        group: GroupId,
        target: NodeId,
        e: &DataError,
        version: u64,
        until: tokio::time::Instant,
    ) -> Result<(), RouteError> {
        match e {
            DataError::NotLeader {
                leader: Some(leader),
            } if *leader != target => {
                self.leaders.insert(group, *leader);
            }
            DataError::NotLeader { .. } | DataError::GroupNotFound => {
                // An election is under way or the replica is not created yet.
                self.forget_leader(group, target);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            DataError::EpochMismatch { .. } | DataError::KeyNotInRange => {
                self.wait_for_catalog(version, until).await;
            }
            DataError::Indeterminate => return Err(RouteError::Indeterminate(e.to_string())),
            DataError::Internal(msg) => return Err(RouteError::Failed(msg.clone())),
        }
        Ok(())
    }

    /// The node this router last found leading `group`.
    pub fn leader_of(&self, group: GroupId) -> Option<NodeId> {
        self.leaders.get(&group).map(|l| *l)
    }

    /// Waits (briefly, at most until `until`) for a catalog newer than the current one.
    pub async fn wait_for_newer_catalog(&self, until: tokio::time::Instant) {
        let version = self.catalog.borrow().version;
        self.wait_for_catalog(version, until).await;
    }

    fn forget_leader(&self, group: GroupId, node: NodeId) {
        self.leaders.remove_if(&group, |_, leader| *leader == node);
    }

    async fn wait_for_catalog(&self, version: u64, until: tokio::time::Instant) {
        let mut rx = self.catalog.clone();
        let wait = tokio::time::Instant::now() + Duration::from_millis(200);
        let _ =
            tokio::time::timeout_at(wait.min(until), rx.wait_for(|c| c.version > version)).await;
    }
}
