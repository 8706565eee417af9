//! The meta member's RPC service: Raft messages, catalog reads and watches, node
//! registration and heartbeats. Writes go through the Raft leader; a follower answers
//! `NotLeader` with the leader's address so clients can follow it.

use crate::catalog::{Catalog, MetaCommand, NodeId};
use crate::proto::{MetaRequest, MetaResponse};
use crate::MetaRaft;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_common::raftnet::dispatch;
use tessera_common::RpcService;
use tokio::sync::watch;

/// Longest a catalog watch is held open.
const MAX_WATCH: Duration = Duration::from_secs(30);

/// When each node last reported, as seen by this meta member while it leads.
#[derive(Default)]
pub struct Liveness {
    last_seen: Mutex<HashMap<NodeId, Instant>>,
}

impl Liveness {
    fn record(&self, node: NodeId) {
        self.lock().insert(node, Instant::now());
    }

    /// Nodes heard from within `within`.
    pub fn live(&self, within: Duration) -> Vec<NodeId> {
        let mut live: Vec<_> = self
            .lock()
            .iter()
            .filter(|(_, t)| t.elapsed() <= within)
            .map(|(n, _)| *n)
            .collect();
        live.sort_unstable();
        live
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Instant>> {
        self.last_seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Serves one meta member.
pub struct MetaService {
    pub(crate) raft: MetaRaft,
    pub(crate) catalog: watch::Receiver<Arc<Catalog>>,
    pub(crate) members: Arc<BTreeMap<NodeId, String>>,
    pub(crate) liveness: Arc<Liveness>,
}

impl MetaService {
    /// Proposes `cmd` through Raft and reports the outcome.
    pub(crate) async fn propose(&self, cmd: MetaCommand) -> MetaResponse {
        match self.raft.client_write(cmd).await {
            Ok(written) => match written.data {
                Ok(()) => MetaResponse::Ok,
                Err(refused) => MetaResponse::Error(refused),
            },
            Err(e) => match e.forward_to_leader() {
                Some(fwd) => MetaResponse::NotLeader {
                    leader_addr: fwd.leader_id.and_then(|id| self.members.get(&id).cloned()),
                },
                None => MetaResponse::Error(e.to_string()),
            },
        }
    }

    async fn not_leader(&self) -> MetaResponse {
        let leader = self.raft.current_leader().await;
        MetaResponse::NotLeader {
            leader_addr: leader.and_then(|id| self.members.get(&id).cloned()),
        }
    }

    async fn catalog_after(&self, known_version: u64, wait: Duration) -> MetaResponse {
        let mut rx = self.catalog.clone();
        let newer = rx.wait_for(|c| c.version > known_version);
        let _ = tokio::time::timeout(wait.min(MAX_WATCH), newer).await;
        let current = rx.borrow().clone();
        MetaResponse::Catalog(current)
    }
}

impl RpcService for MetaService {
    type Req = MetaRequest;
    type Resp = MetaResponse;

    async fn handle(self: Arc<Self>, req: MetaRequest) -> MetaResponse {
        match req {
            MetaRequest::Raft(msg) => MetaResponse::Raft(dispatch(&self.raft, msg).await),
            MetaRequest::GetCatalog {
                known_version,
                wait_ms,
            } => {
                self.catalog_after(known_version, Duration::from_millis(wait_ms))
                    .await
            }
            MetaRequest::RegisterNode { id, addr } => {
                let response = self.propose(MetaCommand::RegisterNode { id, addr }).await;
                if matches!(response, MetaResponse::Ok) {
                    self.liveness.record(id);
                }
                response
            }
            MetaRequest::Heartbeat { id, replicas: _ } => {
                if !self.raft.is_leader() {
                    return self.not_leader().await;
                }
                self.liveness.record(id);
                MetaResponse::Ok
            }
        }
    }
}
