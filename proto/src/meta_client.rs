//! The client routers and storage nodes use to reach the meta service: it finds the
//! leader among the configured members, follows `NotLeader` hints, and keeps a local
//! copy of the catalog fresh by long-polling for the changes after its version.

use crate::catalog::{Catalog, CatalogUpdate, NodeId, RangeId, TableId};
use crate::meta_api::{MetaRequest, MetaResponse, NodeStatus, RangeLoad, ReplicaStats, Reshape};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tessera_common::rpc::ServiceClient;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Per-attempt budget of one meta RPC.
const RPC_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a catalog watch waits for a change before asking again.
const WATCH_WAIT: Duration = Duration::from_secs(10);

/// Why a meta request failed.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// No meta member could carry it out before the deadline.
    #[error("metadata service unavailable: {0}")]
    Unavailable(String),
    /// The meta service refused it.
    #[error("{0}")]
    Refused(String),
}

/// A client of the meta service.
pub struct MetaClient {
    members: Vec<ServiceClient<MetaRequest, MetaResponse>>,
    leader: AtomicUsize,
}

impl MetaClient {
    /// A client for the meta members at `addrs` (at least one).
    pub fn new(addrs: impl IntoIterator<Item = String>) -> Self {
        let members = addrs.into_iter().map(ServiceClient::new).collect();
        Self {
            members,
            leader: AtomicUsize::new(0),
        }
    }

    /// Sends `req` to the leader, following hints and trying members in turn until
    /// `deadline` passes.
    async fn call_leader(
        &self,
        req: &MetaRequest,
        deadline: Duration,
    ) -> Result<MetaResponse, MetaError> {
        self.call_leader_for(req, deadline, RPC_TIMEOUT).await
    }

    /// Like `call_leader`, each attempt waiting up to `attempt` for its answer.
    async fn call_leader_for(
        &self,
        req: &MetaRequest,
        deadline: Duration,
        attempt: Duration,
    ) -> Result<MetaResponse, MetaError> {
        let until = tokio::time::Instant::now() + deadline;
        let mut last_error = String::from("no meta member configured");
        while tokio::time::Instant::now() < until && !self.members.is_empty() {
            let idx = self.leader.load(Ordering::Relaxed) % self.members.len();
            let member = &self.members[idx];
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            match member.call(req, attempt.min(left)).await {
                Ok(MetaResponse::NotLeader { leader_addr }) => {
                    let hinted = leader_addr
                        .and_then(|addr| self.members.iter().position(|m| m.addr() == addr));
                    last_error = format!("{} is not the meta leader", member.addr());
                    match hinted {
                        Some(i) if i != idx => self.leader.store(i, Ordering::Relaxed),
                        _ => self.advance(idx, Duration::from_millis(100)).await,
                    }
                }
                Ok(response) => return Ok(response),
                Err(e) => {
                    last_error = e.to_string();
                    self.advance(idx, Duration::from_millis(50)).await;
                }
            }
        }
        Err(MetaError::Unavailable(last_error))
    }

    async fn advance(&self, from: usize, pause: Duration) {
        let _ = self.leader.compare_exchange(
            from,
            (from + 1) % self.members.len(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        tokio::time::sleep(pause).await;
    }

    async fn expect_ok(&self, req: MetaRequest, deadline: Duration) -> Result<(), MetaError> {
        match self.call_leader(&req, deadline).await? {
            MetaResponse::Ok => Ok(()),
            other => Err(refusal(other)),
        }
    }

    /// A reshape order: the leader answers once the new layout serves, which can take
    /// most of `deadline` (a merge first moves replicas together), so one attempt may
    /// wait that long; another member is tried only if the first cannot be reached.
    async fn reshape(&self, req: MetaRequest, deadline: Duration) -> Result<(), MetaError> {
        match self.call_leader_for(&req, deadline, deadline).await? {
            MetaResponse::Ok => Ok(()),
            other => Err(refusal(other)),
        }
    }

    /// Registers storage node `id` at `addr`.
    ///
    /// # Errors
    /// [`MetaError`] if no leader accepted it within `deadline`.
    pub async fn register_node(
        &self,
        id: NodeId,
        addr: String,
        identity: u64,
        deadline: Duration,
    ) -> Result<(), MetaError> {
        self.expect_ok(MetaRequest::RegisterNode { id, addr, identity }, deadline)
            .await
    }

    /// Starts draining node `id` (`DECOMMISSION`).
    ///
    /// # Errors
    /// [`MetaError::Refused`] with the reason (unknown node, too few nodes left).
    pub async fn decommission(&self, id: NodeId) -> Result<(), MetaError> {
        self.expect_ok(MetaRequest::Decommission { id }, RPC_TIMEOUT)
            .await
    }

    /// Reports node `id` alive with its replicas' stats.
    ///
    /// # Errors
    /// [`MetaError`] if no leader took it.
    pub async fn heartbeat(
        &self,
        id: NodeId,
        replicas: Vec<ReplicaStats>,
    ) -> Result<(), MetaError> {
        self.expect_ok(MetaRequest::Heartbeat { id, replicas }, RPC_TIMEOUT)
            .await
    }

    /// Asks for a table; the meta controller creates it next. Answers its id.
    ///
    /// # Errors
    /// [`MetaError::Refused`] with the reason (bad name, exists).
    pub async fn create_table(
        &self,
        name: &str,
        replicas: u8,
        splits: Vec<Vec<u8>>,
    ) -> Result<TableId, MetaError> {
        let req = MetaRequest::CreateTable {
            name: name.to_string(),
            replicas,
            splits,
        };
        match self.call_leader(&req, Duration::from_secs(10)).await? {
            MetaResponse::TableId(id) => Ok(id),
            other => Err(refusal(other)),
        }
    }

    /// Drops a table.
    ///
    /// # Errors
    /// [`MetaError::Refused`] if there is no such table.
    pub async fn drop_table(&self, name: &str) -> Result<(), MetaError> {
        let req = MetaRequest::DropTable {
            name: name.to_string(),
        };
        self.expect_ok(req, Duration::from_secs(10)).await
    }

    /// The storage nodes with their state and replica and leader counts.
    ///
    /// # Errors
    /// [`MetaError`] if no leader answered.
    pub async fn nodes(&self) -> Result<Vec<NodeStatus>, MetaError> {
        match self
            .call_leader(&MetaRequest::Nodes, Duration::from_secs(5))
            .await?
        {
            MetaResponse::Nodes(nodes) => Ok(nodes),
            other => Err(refusal(other)),
        }
    }

    /// Splits the range of `table` holding user key `key` at it.
    ///
    /// # Errors
    /// [`MetaError::Refused`] with the reason (no such table, a key at a range's start).
    pub async fn split(&self, table: &str, key: Vec<u8>) -> Result<(), MetaError> {
        let req = MetaRequest::Reshape(Reshape::Split {
            table: table.to_string(),
            key,
        });
        self.reshape(req, Duration::from_secs(60)).await
    }

    /// Merges the range of `table` starting at user key `key` into its left neighbour.
    ///
    /// # Errors
    /// [`MetaError::Refused`] with the reason (no range starts there, the first range).
    pub async fn merge(&self, table: &str, key: Vec<u8>) -> Result<(), MetaError> {
        let req = MetaRequest::Reshape(Reshape::Merge {
            table: table.to_string(),
            key,
        });
        self.reshape(req, Duration::from_secs(90)).await
    }

    /// The cluster as the meta leader sees it (the web console's data).
    ///
    /// # Errors
    /// [`MetaError`] if no leader answered.
    pub async fn overview(&self) -> Result<crate::meta_api::Overview, MetaError> {
        match self
            .call_leader(&MetaRequest::Overview, RPC_TIMEOUT)
            .await?
        {
            MetaResponse::Overview(overview) => Ok(overview),
            other => Err(refusal(other)),
        }
    }

    /// Every range's size and load, as leaders last reported them.
    ///
    /// # Errors
    /// [`MetaError`] if no leader answered.
    pub async fn loads(&self) -> Result<Vec<(RangeId, RangeLoad)>, MetaError> {
        match self.call_leader(&MetaRequest::Loads, RPC_TIMEOUT).await? {
            MetaResponse::Loads(loads) => Ok(loads),
            other => Err(refusal(other)),
        }
    }

    /// The catalog changes after `known_version` once there are any, or none after
    /// `wait` (the whole catalog if the member no longer has the steps).
    ///
    /// # Errors
    /// [`MetaError::Unavailable`] if no member answered.
    pub async fn catalog(
        &self,
        known_version: u64,
        wait: Duration,
    ) -> Result<CatalogUpdate, MetaError> {
        let req = MetaRequest::GetCatalog {
            known_version,
            wait_ms: wait.as_millis() as u64,
        };
        let idx = self.leader.load(Ordering::Relaxed) % self.members.len().max(1);
        let member = self
            .members
            .get(idx)
            .ok_or_else(|| MetaError::Unavailable("no members".into()))?;
        match member.call(&req, wait + RPC_TIMEOUT).await {
            Ok(MetaResponse::Catalog(update)) => Ok(update),
            Ok(_) => Err(MetaError::Unavailable("unexpected meta response".into())),
            Err(e) => {
                self.advance(idx, Duration::from_millis(100)).await;
                Err(MetaError::Unavailable(e.to_string()))
            }
        }
    }

    /// The whole current catalog.
    ///
    /// # Errors
    /// [`MetaError::Unavailable`] if no member answered.
    pub async fn full_catalog(&self) -> Result<Arc<Catalog>, MetaError> {
        let mut catalog = Arc::new(Catalog::default());
        let update = self.catalog(0, Duration::ZERO).await?;
        catalog.follow(update);
        Ok(catalog)
    }

    /// Keeps a watch channel holding the newest catalog until `shutdown`; the task
    /// is the caller's to join.
    pub fn follow_catalog(
        self: Arc<Self>,
        shutdown: CancellationToken,
    ) -> (watch::Receiver<Arc<Catalog>>, JoinHandle<()>) {
        let (tx, rx) = watch::channel(Arc::new(Catalog::default()));
        let task = tokio::spawn(async move {
            let mut current = Arc::new(Catalog::default());
            loop {
                let next = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    next = self.catalog(current.version, WATCH_WAIT) => next,
                };
                let update = match next {
                    Ok(update) => update,
                    Err(e) => {
                        tracing::debug!(error = %e, "catalog watch failed; retrying");
                        continue;
                    }
                };
                let before = current.version;
                if !current.follow(update) {
                    current = Arc::new(Catalog::default()); // A gap: start over.
                    continue;
                }
                if current.version > before {
                    tx.send_replace(current.clone());
                }
            }
        });
        (rx, task)
    }
}

/// A meta answer that is not the one expected, as an error.
fn refusal(response: MetaResponse) -> MetaError {
    match response {
        MetaResponse::Error(e) => MetaError::Refused(e),
        _ => MetaError::Refused("unexpected meta response".into()),
    }
}
