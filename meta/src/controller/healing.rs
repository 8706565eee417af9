//! Healing and balancing: replicas of dead, lagging or decommissioning nodes move to
//! live active nodes, drained nodes are marked removed, and replica counts are evened
//! out when nothing else is under way.

use super::ControllerConfig;
use crate::catalog::{CatalogRules, MetaCommand};
use crate::service::MetaService;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;
use tessera_proto::catalog::{Catalog, GroupId, NodeId, NodeState};

/// What the healer remembers between ticks.
#[derive(Default)]
pub(super) struct Healer {
    /// Since when each (group, follower) has been lagging.
    lagging_since: HashMap<(GroupId, NodeId), Instant>,
}

impl Healer {
    /// The catalog changes to make now.
    pub(super) fn plan(
        &mut self,
        catalog: &Catalog,
        service: &MetaService,
        config: &ControllerConfig,
    ) -> Vec<MetaCommand> {
        View::new(catalog, service, config, &mut self.lagging_since).plan()
    }
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
        lagging_since: &mut HashMap<(GroupId, NodeId), Instant>,
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
            // A report older than a dead node's silence may describe a leader that is
            // gone: the group is not settled until its (new) leader reports.
            let fresh = service.liveness.group(group.id);
            let Some(report) = fresh.filter(|r| r.at.elapsed() < config.dead_after) else {
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
                    lagging_since.entry((group.id, *node)).or_insert(now);
                } else {
                    lagging_since.remove(&(group.id, *node));
                }
            }
            let state = |n: &NodeId| catalog.nodes.get(n).map(|d| d.state);
            let bad = group
                .members
                .iter()
                .find(|n| !live.contains(n))
                .or_else(|| {
                    group.members.iter().find(|n| {
                        lagging_since
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
        lagging_since.retain(|(g, _), _| settled.contains(g));
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
