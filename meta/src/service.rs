//! The meta member's RPC service: Raft messages from the other members, and the
//! client-facing requests of `proto` — catalog reads and watches, node registration
//! and heartbeats, table requests. Writes go through the Raft leader; a follower
//! answers `NotLeader` with the leader's address so clients can follow it.

use crate::catalog::{Applied, MetaCommand};
use crate::liveness::Liveness;
use crate::operator::Orders;
use crate::store::CatalogLog;
use crate::{MetaRaft, MetaTypes};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::raftnet::{dispatch, RaftReply, RaftRequest};
use tessera_common::rpc::Wire;
use tessera_common::RpcService;
use tessera_proto::catalog::{Catalog, NodeId, NodeState, TableState};
use tessera_proto::meta_api::{
    MetaRequest, MetaResponse, NodeStatus, Overview, RangeView, Reshape,
};
use tokio::sync::watch;

/// Longest a catalog watch is held open.
const MAX_WATCH: Duration = Duration::from_secs(30);

/// Serves one meta member.
pub struct MetaService {
    pub(crate) raft: MetaRaft,
    pub(crate) catalog: watch::Receiver<Arc<Catalog>>,
    pub(crate) log: Arc<CatalogLog>,
    pub(crate) members: Arc<BTreeMap<NodeId, String>>,
    pub(crate) liveness: Arc<Liveness>,
    /// A node silent for this long is down.
    pub(crate) dead_after: Duration,
    /// Where operators' splits and merges go (to the controller).
    pub(crate) orders: Orders,
}

impl MetaService {
    /// Proposes `cmd` through Raft: its answer, or why it was refused, or where the
    /// leader is.
    pub(crate) async fn propose(&self, cmd: MetaCommand) -> Result<Applied, MetaResponse> {
        match self.raft.client_write(cmd).await {
            Ok(written) => written.data.map_err(MetaResponse::Error),
            Err(e) => Err(match e.forward_to_leader() {
                Some(fwd) => MetaResponse::NotLeader {
                    leader_addr: fwd.leader_id.and_then(|id| self.members.get(&id).cloned()),
                },
                None => MetaResponse::Error(e.to_string()),
            }),
        }
    }

    async fn propose_ok(&self, cmd: MetaCommand) -> MetaResponse {
        match self.propose(cmd).await {
            Ok(_) => MetaResponse::Ok,
            Err(response) => response,
        }
    }

    async fn not_leader(&self) -> MetaResponse {
        let leader = self.raft.current_leader().await;
        MetaResponse::NotLeader {
            leader_addr: leader.and_then(|id| self.members.get(&id).cloned()),
        }
    }

    /// Live nodes that may receive replicas.
    pub(crate) fn live_active(&self, catalog: &Catalog) -> Vec<NodeId> {
        self.liveness
            .live(self.dead_after)
            .into_iter()
            .filter(|n| {
                catalog
                    .nodes
                    .get(n)
                    .is_some_and(|d| d.state == NodeState::Active)
            })
            .collect()
    }

    async fn create_table(&self, name: String, replicas: u8, splits: Vec<Vec<u8>>) -> MetaResponse {
        let cmd = MetaCommand::RequestTable {
            name,
            replicas,
            splits,
        };
        match self.propose(cmd).await {
            Ok(Applied::Table(id)) => MetaResponse::TableId(id),
            Ok(_) => MetaResponse::Error("no table id assigned".into()),
            Err(response) => response,
        }
    }

    async fn drop_table(&self, name: String) -> MetaResponse {
        let creating = self
            .catalog
            .borrow()
            .table_by_name(&name)
            .is_some_and(|t| t.state == TableState::Creating);
        if creating {
            return MetaResponse::Error(format!("table '{name}' is still being created"));
        }
        self.propose_ok(MetaCommand::DropTable { name }).await
    }

    async fn decommission(&self, id: NodeId) -> MetaResponse {
        if !self.raft.is_leader() {
            return self.not_leader().await;
        }
        let catalog = self.catalog.borrow().clone();
        match catalog.nodes.get(&id).map(|n| n.state) {
            None => return MetaResponse::Error(format!("no such node {id}")),
            Some(NodeState::Active) => {}
            Some(_) => return MetaResponse::Ok, // Already draining or drained.
        }
        let others = catalog
            .nodes
            .values()
            .filter(|n| n.id != id && n.state == NodeState::Active)
            .count();
        let needed = catalog
            .groups_on(id)
            .filter_map(|g| catalog.range_of_group(g.id))
            .filter_map(|r| catalog.tables.get(&r.table))
            .map(|t| usize::from(t.replicas))
            .max()
            .unwrap_or(0);
        if needed > others {
            return MetaResponse::Error(format!(
                "cannot decommission node {id}: its ranges need {needed} replicas and only \
                 {others} other active nodes would be left"
            ));
        }
        self.propose_ok(MetaCommand::SetNodeState {
            id,
            state: NodeState::Decommissioning,
        })
        .await
    }

    async fn nodes(&self) -> MetaResponse {
        if !self.raft.is_leader() {
            return self.not_leader().await;
        }
        let catalog = self.catalog.borrow().clone();
        MetaResponse::Nodes(self.node_statuses(&catalog))
    }

    fn node_statuses(&self, catalog: &Catalog) -> Vec<NodeStatus> {
        let live = self.liveness.live(self.dead_after);
        let counts = catalog.replica_counts();
        catalog
            .nodes
            .values()
            .map(|n| {
                let reported = self.liveness.counts(n.id);
                NodeStatus {
                    id: n.id,
                    addr: n.addr.clone(),
                    state: if live.contains(&n.id) { "up" } else { "down" }.into(),
                    lifecycle: n.state.name().into(),
                    replicas: counts.get(&n.id).copied().unwrap_or(0),
                    leaders: reported.leaders,
                    asleep: reported.asleep,
                }
            })
            .collect()
    }

    /// The console's view: nodes, ranges in key order with their leaders and loads,
    /// health counts and the controller's recent decisions.
    async fn overview(&self) -> MetaResponse {
        if !self.raft.is_leader() {
            return self.not_leader().await;
        }
        let catalog = self.catalog.borrow().clone();
        let live = self.liveness.live(self.dead_after).into_iter().collect();
        let health = crate::controller::health(&catalog, &live);
        let reports: std::collections::HashMap<_, _> = self
            .liveness
            .ranges(self.dead_after)
            .into_iter()
            .map(|r| (r.range.id, r))
            .collect();
        let table_name = |id| {
            catalog
                .tables
                .get(&id)
                .map_or(String::new(), |t| t.name.clone())
        };
        let mut ranges: Vec<RangeView> = catalog
            .ranges
            .values()
            .map(|r| {
                let report = reports.get(&r.id);
                RangeView {
                    id: r.id,
                    table: table_name(r.table),
                    start: r.start.clone(),
                    end: r.end.clone(),
                    epoch: r.epoch,
                    group: r.group,
                    replicas: catalog
                        .groups
                        .get(&r.group)
                        .map(|g| g.members.clone())
                        .unwrap_or_default(),
                    leader: report.map(|rep| rep.leader),
                    bytes: report.map_or(0, |rep| rep.load.bytes),
                    qps: report.map_or(0.0, |rep| rep.load.qps),
                }
            })
            .collect();
        ranges.sort_by(|a, b| a.start.cmp(&b.start));
        let mut tables: Vec<String> = catalog
            .tables
            .values()
            .filter(|t| t.state == TableState::Active)
            .map(|t| t.name.clone())
            .collect();
        tables.sort();
        MetaResponse::Overview(Overview {
            catalog_version: catalog.version,
            nodes: self.node_statuses(&catalog),
            tables,
            ranges,
            under_replicated: health.under_replicated,
            unavailable: health.unavailable,
            decisions: self.liveness.decisions(),
        })
    }

    /// Hands an operator's split or merge to the controller and answers its outcome.
    async fn reshape(&self, order: Reshape) -> MetaResponse {
        if !self.raft.is_leader() {
            return self.not_leader().await;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.orders.send((order, tx)).await.is_err() {
            return MetaResponse::Error("the controller is stopping".into());
        }
        match rx.await {
            Ok(Ok(())) => MetaResponse::Ok,
            Ok(Err(e)) => MetaResponse::Error(e),
            Err(_) => MetaResponse::Error("the controller is stopping".into()),
        }
    }

    /// Every range's size and load, as leaders last reported them.
    async fn loads(&self) -> MetaResponse {
        if !self.raft.is_leader() {
            return self.not_leader().await;
        }
        let ranges = self.liveness.ranges(self.dead_after);
        MetaResponse::Loads(ranges.into_iter().map(|r| (r.range.id, r.load)).collect())
    }

    async fn catalog_after(&self, known_version: u64, wait: Duration) -> MetaResponse {
        let mut rx = self.catalog.clone();
        let newer = rx.wait_for(|c| c.version > known_version);
        let _ = tokio::time::timeout(wait.min(MAX_WATCH), newer).await;
        MetaResponse::Catalog(self.log.since(known_version))
    }

    async fn serve(&self, req: MetaRequest) -> MetaResponse {
        match req {
            MetaRequest::GetCatalog {
                known_version,
                wait_ms,
            } => {
                self.catalog_after(known_version, Duration::from_millis(wait_ms))
                    .await
            }
            MetaRequest::RegisterNode { id, addr, identity } => {
                let cmd = MetaCommand::RegisterNode { id, addr, identity };
                let response = self.propose_ok(cmd).await;
                if matches!(response, MetaResponse::Ok) {
                    self.liveness.record(id, None);
                }
                response
            }
            MetaRequest::Heartbeat { id, replicas } => {
                if !self.raft.is_leader() {
                    return self.not_leader().await;
                }
                self.liveness.record_replicas(id, &replicas);
                MetaResponse::Ok
            }
            MetaRequest::CreateTable {
                name,
                replicas,
                splits,
            } => self.create_table(name, replicas, splits).await,
            MetaRequest::DropTable { name } => self.drop_table(name).await,
            MetaRequest::Nodes => self.nodes().await,
            MetaRequest::Decommission { id } => self.decommission(id).await,
            MetaRequest::Reshape(order) => self.reshape(order).await,
            MetaRequest::Loads => self.loads().await,
            MetaRequest::Overview => self.overview().await,
        }
    }
}

impl RpcService for MetaService {
    type Req = Wire<MetaRequest, RaftRequest<MetaTypes>>;
    type Resp = Wire<MetaResponse, RaftReply<MetaTypes>>;

    async fn handle(self: Arc<Self>, req: Self::Req) -> Self::Resp {
        match req {
            Wire::Peer(msg) => Wire::Peer(dispatch(&self.raft, msg).await),
            Wire::Service(req) => Wire::Service(self.serve(req).await),
        }
    }

    /// A stopping member waits for what changes the catalog and drops the rest:
    /// questions and catalog watches are asked again, heartbeats come again, and Raft
    /// tolerates lost messages.
    fn may_abandon(req: &Self::Req) -> bool {
        matches!(
            req,
            Wire::Peer(_)
                | Wire::Service(
                    MetaRequest::GetCatalog { .. }
                        | MetaRequest::Nodes
                        | MetaRequest::Loads
                        | MetaRequest::Overview
                        | MetaRequest::Heartbeat { .. }
                )
        )
    }
}
