//! The controller: runs on the meta leader and changes the catalog to keep the cluster
//! in shape. It never touches a group's Raft membership itself: it edits the group's
//! member list in the catalog, and the group's leader carries the change out (learner,
//! catch-up, promotion, removal — see the storage node's reconciler). It
//!
//! - creates the built-in `default` table as soon as enough live nodes registered;
//! - replaces the replicas of dead nodes, of lagging followers and of decommissioning
//!   nodes with new replicas on live active nodes;
//! - marks a decommissioning node removed once it holds no replica;
//! - evens replica counts out (within ±1) when nothing else is under way.
//!
//! A group whose leader reports a membership other than the catalog's is "unsettled"
//! and is left alone until its leader finished the previous change, so at most one
//! change per group is ever in flight.

use crate::catalog::{Catalog, GroupId, MetaCommand, NodeId, NodeState, DEFAULT_TABLE};
use crate::proto::MetaResponse;
use crate::service::MetaService;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How often the controller looks at the cluster.
const TICK: Duration = Duration::from_millis(200);

/// Controller settings.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Replicas of the `default` table's ranges.
    pub default_replicas: u8,
    /// A node silent for this long is dead and its replicas are replaced.
    pub dead_after: Duration,
    /// A follower more than this many log entries behind its leader is lagging...
    pub lag_entries: u64,
    /// ...and is replaced once it has lagged for this long.
    pub lag_window: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            default_replicas: 3,
            dead_after: Duration::from_secs(10),
            lag_entries: 10_000,
            lag_window: Duration::from_secs(30),
        }
    }
}

/// What the controller remembers between ticks.
#[derive(Default)]
struct Memory {
    /// Since when this member leads (liveness is only known after `dead_after` of it).
    leading_since: Option<Instant>,
    /// Since when each (group, follower) has been lagging.
    lagging_since: HashMap<(GroupId, NodeId), Instant>,
}

/// Runs until `shutdown`; acts only while this member leads.
pub async fn run(service: Arc<MetaService>, config: ControllerConfig, shutdown: CancellationToken) {
    let mut tick = tessera_common::ticker::Ticker::new(TICK, shutdown);
    let mut memory = Memory::default();
    while tick.tick().await {
        if !service.raft.is_leader() {
            memory = Memory::default();
            continue;
        }
        let leading_since = *memory.leading_since.get_or_insert_with(Instant::now);
        let catalog = service.catalog.borrow().clone();
        if catalog.table_by_name(DEFAULT_TABLE).is_none() {
            if let Some(cmd) = bootstrap_default_table(&catalog, &service, &config) {
                propose(&service, cmd).await;
            }
            continue;
        }
        // A new leader has heard from nobody yet: everyone would look dead.
        if leading_since.elapsed() < config.dead_after {
            continue;
        }
        let view = View::new(&catalog, &service, &config, &mut memory);
        for cmd in view.plan() {
            propose(&service, cmd).await;
        }
    }
}

async fn propose(service: &MetaService, cmd: MetaCommand) {
    let what = cmd.to_string();
    match service.propose(cmd).await {
        MetaResponse::Ok => tracing::info!(change = %what, "controller changed the catalog"),
        MetaResponse::Error(e) => {
            tracing::warn!(change = %what, error = %e, "controller change refused")
        }
        _ => tracing::debug!(change = %what, "controller lost leadership"),
    }
}

fn bootstrap_default_table(
    catalog: &Catalog,
    service: &MetaService,
    config: &ControllerConfig,
) -> Option<MetaCommand> {
    let live = service.live_active(catalog);
    let placements = catalog
        .place(&live, usize::from(config.default_replicas), 1)
        .ok()?;
    Some(MetaCommand::CreateTable {
        name: DEFAULT_TABLE.to_string(),
        replicas: config.default_replicas,
        splits: Vec::new(),
        placements,
    })
}

/// One tick's view of the cluster: the catalog, who is live, and which groups have
/// settled (their leader reports exactly the catalog's members as voters).
struct View<'a> {
    catalog: &'a Catalog,
    live: BTreeSet<NodeId>,
    /// Live active nodes: the ones that may receive replicas.
    targets: Vec<NodeId>,
    settled: BTreeSet<GroupId>,
    /// Members to replace, per settled group.
    replace: BTreeMap<GroupId, NodeId>,
}

impl<'a> View<'a> {
    fn new(
        catalog: &'a Catalog,
        service: &MetaService,
        config: &ControllerConfig,
        memory: &mut Memory,
    ) -> Self {
        let live: BTreeSet<NodeId> = service
            .liveness
            .live(config.dead_after)
            .into_iter()
            .collect();
        let targets = service.live_active(catalog);
        let mut settled = BTreeSet::new();
        let mut replace = BTreeMap::new();
        let now = Instant::now();
        for group in catalog.groups.values() {
            let Some(report) = service.liveness.group(group.id) else {
                continue;
            };
            let m = &report.membership;
            let members: BTreeSet<NodeId> = group.members.iter().copied().collect();
            let voters: BTreeSet<NodeId> = m.voters.iter().copied().collect();
            if m.joint || !m.learners.is_empty() || voters != members {
                continue;
            }
            settled.insert(group.id);
            for (node, lag) in &m.lag {
                if *lag > config.lag_entries {
                    memory.lagging_since.entry((group.id, *node)).or_insert(now);
                } else {
                    memory.lagging_since.remove(&(group.id, *node));
                }
            }
            let state = |n: &NodeId| catalog.nodes.get(n).map(|d| d.state);
            let bad = group
                .members
                .iter()
                .find(|n| !live.contains(n))
                .or_else(|| {
                    group.members.iter().find(|n| {
                        memory
                            .lagging_since
                            .get(&(group.id, **n))
                            .is_some_and(|since| since.elapsed() >= config.lag_window)
                    })
                })
                .or_else(|| {
                    group
                        .members
                        .iter()
                        .find(|n| state(n) != Some(NodeState::Active))
                });
            if let Some(bad) = bad {
                replace.insert(group.id, *bad);
            }
        }
        memory.lagging_since.retain(|(g, _), _| settled.contains(g));
        Self {
            catalog,
            live,
            targets,
            settled,
            replace,
        }
    }

    /// The catalog changes to make now.
    fn plan(&self) -> Vec<MetaCommand> {
        let mut counts = self.catalog.replica_counts();
        let mut cmds = Vec::new();
        for (group, bad) in &self.replace {
            let Some(target) = self.target_for(*group, &counts) else {
                tracing::debug!(group, node = bad, "no node can take this replica");
                continue;
            };
            *counts.entry(target).or_default() += 1;
            if let Some(c) = counts.get_mut(bad) {
                *c = c.saturating_sub(1);
            }
            cmds.push(MetaCommand::MoveReplica {
                group: *group,
                remove: Some(*bad),
                add: Some(target),
            });
        }
        if !cmds.is_empty() || self.settled.len() < self.catalog.groups.len() {
            return cmds; // Finish what is under way before anything else.
        }
        for node in self.catalog.nodes.values() {
            if node.state == NodeState::Decommissioning && counts.get(&node.id) == Some(&0) {
                cmds.push(MetaCommand::SetNodeState {
                    id: node.id,
                    state: NodeState::Removed,
                });
            }
        }
        cmds.extend(self.rebalance(&counts));
        cmds
    }

    /// The least-loaded live active node that may join `group`.
    fn target_for(&self, group: GroupId, counts: &BTreeMap<NodeId, usize>) -> Option<NodeId> {
        let desc = self.catalog.groups.get(&group)?;
        self.targets
            .iter()
            .filter(|n| self.catalog.may_join(desc.id, **n))
            .min_by_key(|n| (counts.get(n).copied().unwrap_or(0), **n))
            .copied()
    }

    /// One move from the most- to the least-loaded live active node, if their replica
    /// counts differ by more than one.
    fn rebalance(&self, counts: &BTreeMap<NodeId, usize>) -> Option<MetaCommand> {
        let load = |n: &NodeId| counts.get(n).copied().unwrap_or(0);
        let busiest = self.targets.iter().max_by_key(|n| (load(n), **n))?;
        let idlest = self.targets.iter().min_by_key(|n| (load(n), **n))?;
        if load(busiest) <= load(idlest) + 1 {
            return None;
        }
        let group = self.catalog.groups.values().find(|g| {
            g.members.contains(busiest)
                && self.catalog.may_join(g.id, *idlest)
                && g.members.iter().all(|m| self.live.contains(m))
        })?;
        Some(MetaCommand::MoveReplica {
            group: group.id,
            remove: Some(*busiest),
            add: Some(*idlest),
        })
    }
}
