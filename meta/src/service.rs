//! The meta member's RPC service: Raft messages, catalog reads and watches, node
//! registration and heartbeats. Writes go through the Raft leader; a follower answers
//! `NotLeader` with the leader's address so clients can follow it.

use crate::catalog::{Catalog, GroupId, MetaCommand, NodeId, NodeState};
use crate::proto::{GroupMembership, MetaRequest, MetaResponse, ReplicaStats};
use crate::MetaRaft;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_common::raftnet::dispatch;
use tessera_common::RpcService;
use tokio::sync::watch;

/// How long a new leader waits for nodes it has not heard from before placing replicas.
const NEW_LEADER_GRACE: Duration = Duration::from_secs(3);
/// Longest a catalog watch is held open.
const MAX_WATCH: Duration = Duration::from_secs(30);

/// What a node last reported: when, and how many groups it leads.
#[derive(Clone, Copy)]
struct Report {
    at: Instant,
    counts: ReplicaCounts,
}

/// How many of a node's replicas lead their group, and how many are asleep.
#[derive(Clone, Copy, Default)]
struct ReplicaCounts {
    leaders: usize,
    asleep: usize,
}

/// What a group's leader last reported about the group's Raft membership.
#[derive(Clone, Debug)]
pub struct GroupReport {
    /// When.
    pub at: Instant,
    /// The reporting leader.
    pub leader: NodeId,
    /// The membership and progress it reported.
    pub membership: GroupMembership,
}

/// When each node last reported, as seen by this meta member while it leads, and what
/// group leaders reported about their groups.
#[derive(Default)]
pub struct Liveness {
    reports: Mutex<HashMap<NodeId, Report>>,
    groups: Mutex<HashMap<GroupId, GroupReport>>,
}

impl Liveness {
    fn record_replicas(&self, node: NodeId, replicas: &[ReplicaStats]) {
        let counts = ReplicaCounts {
            leaders: replicas.iter().filter(|r| r.is_leader).count(),
            asleep: replicas.iter().filter(|r| r.asleep).count(),
        };
        self.record(node, Some(counts));
        let now = Instant::now();
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        for r in replicas {
            if let (true, Some(membership)) = (r.is_leader, &r.membership) {
                groups.insert(
                    r.group,
                    GroupReport {
                        at: now,
                        leader: node,
                        membership: membership.clone(),
                    },
                );
            }
        }
    }

    /// What `group`'s leader last reported, if anything.
    pub fn group(&self, group: GroupId) -> Option<GroupReport> {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        groups.get(&group).cloned()
    }

    fn record(&self, node: NodeId, counts: Option<ReplicaCounts>) {
        let mut reports = self.lock();
        let previous = reports.get(&node).map(|r| r.counts).unwrap_or_default();
        let counts = counts.unwrap_or(previous);
        reports.insert(
            node,
            Report {
                at: Instant::now(),
                counts,
            },
        );
    }

    /// Nodes heard from within `within`.
    pub fn live(&self, within: Duration) -> Vec<NodeId> {
        let reports = self.lock();
        let mut live: Vec<_> = reports
            .iter()
            .filter(|(_, r)| r.at.elapsed() <= within)
            .map(|(n, _)| *n)
            .collect();
        live.sort_unstable();
        live
    }

    /// Whether `node` reported to this member at all (a new leader knows nobody yet).
    fn heard(&self, node: NodeId) -> bool {
        self.lock().contains_key(&node)
    }

    fn counts(&self, node: NodeId) -> ReplicaCounts {
        self.lock().get(&node).map(|r| r.counts).unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Report>> {
        self.reports.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Serves one meta member.
pub struct MetaService {
    pub(crate) raft: MetaRaft,
    pub(crate) catalog: watch::Receiver<Arc<Catalog>>,
    pub(crate) members: Arc<BTreeMap<NodeId, String>>,
    pub(crate) liveness: Arc<Liveness>,
    /// A node silent for this long is down.
    pub(crate) dead_after: Duration,
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

    async fn create_table(&self, name: String, replicas: u8, splits: Vec<Vec<u8>>) -> MetaResponse {
        if !self.raft.is_leader() {
            return self.not_leader().await;
        }
        if let Some(problem) = crate::catalog::table_name_problem(&name) {
            return MetaResponse::Error(problem);
        }
        if ![1, 3, 5].contains(&replicas) {
            return MetaResponse::Error(format!("REPLICAS must be 1, 3 or 5, not {replicas}"));
        }
        // A member that just became leader has not heard from the nodes yet: give
        // them a moment to report before concluding there are too few.
        let until = Instant::now() + NEW_LEADER_GRACE;
        let placements = loop {
            let catalog = self.catalog.borrow().clone();
            let live = self.live_active(&catalog);
            match catalog.place(&live, usize::from(replicas), splits.len() + 1) {
                Ok(p) => break p,
                Err(e) => {
                    let unheard = catalog
                        .nodes
                        .values()
                        .any(|n| n.state == NodeState::Active && !self.liveness.heard(n.id));
                    if !unheard || Instant::now() >= until {
                        return MetaResponse::Error(e);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.propose(MetaCommand::CreateTable {
            name,
            replicas,
            splits,
            placements,
        })
        .await
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
        self.propose(MetaCommand::SetNodeState {
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
        let live = self.liveness.live(self.dead_after);
        let counts = catalog.replica_counts();
        let nodes = catalog
            .nodes
            .values()
            .map(|n| {
                let reported = self.liveness.counts(n.id);
                crate::proto::NodeStatus {
                    id: n.id,
                    addr: n.addr.clone(),
                    state: if live.contains(&n.id) { "up" } else { "down" }.into(),
                    lifecycle: n.state.name().into(),
                    replicas: counts.get(&n.id).copied().unwrap_or(0),
                    leaders: reported.leaders,
                    asleep: reported.asleep,
                }
            })
            .collect();
        MetaResponse::Nodes(nodes)
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
            MetaRequest::RegisterNode { id, addr, identity } => {
                let cmd = MetaCommand::RegisterNode { id, addr, identity };
                let response = self.propose(cmd).await;
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
            MetaRequest::DropTable { name } => self.propose(MetaCommand::DropTable { name }).await,
            MetaRequest::Nodes => self.nodes().await,
            MetaRequest::Decommission { id } => self.decommission(id).await,
        }
    }
}
