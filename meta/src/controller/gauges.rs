//! What the leading meta member tells Prometheus about the cluster each tick: nodes by
//! state, tables, ranges, and ranges whose groups are under-replicated or unavailable.

use crate::service::MetaService;
use std::collections::BTreeSet;
use std::time::Duration;
use tessera_proto::catalog::{Catalog, NodeState};

/// The cluster's health as counts.
#[derive(Debug, Default, PartialEq)]
pub struct Health {
    /// Registered nodes in each state, and nodes not heard from (`dead`).
    pub nodes: Vec<(&'static str, usize)>,
    /// Ranges whose group has fewer replicas than its table asks for, or a dead one.
    pub under_replicated: usize,
    /// Ranges whose group has no live majority.
    pub unavailable: usize,
}

/// Counts `catalog`'s health given the nodes heard from recently (`live`).
pub fn health(catalog: &Catalog, live: &BTreeSet<u64>) -> Health {
    let mut nodes: Vec<(&'static str, usize)> = [
        NodeState::Active,
        NodeState::Decommissioning,
        NodeState::Removed,
    ]
    .into_iter()
    .map(|s| {
        (
            s.name(),
            catalog.nodes.values().filter(|n| n.state == s).count(),
        )
    })
    .collect();
    let dead = catalog
        .nodes
        .values()
        .filter(|n| n.state != NodeState::Removed && !live.contains(&n.id))
        .count();
    nodes.push(("dead", dead));
    let mut health = Health {
        nodes,
        ..Health::default()
    };
    for range in catalog.ranges.values() {
        let Some(group) = catalog.groups.get(&range.group) else {
            continue;
        };
        let wanted = catalog
            .tables
            .get(&range.table)
            .map_or(1, |t| usize::from(t.replicas));
        let alive = group.members.iter().filter(|m| live.contains(m)).count();
        if group.members.len() < wanted || alive < group.members.len() {
            health.under_replicated += 1;
        }
        if alive * 2 <= group.members.len() {
            health.unavailable += 1;
        }
    }
    health
}

/// Sets the `tessera_meta_*` gauges.
pub(super) fn report(service: &MetaService, catalog: &Catalog, dead_after: Duration) {
    let live: BTreeSet<u64> = service.liveness.live(dead_after).into_iter().collect();
    let health = health(catalog, &live);
    for (state, count) in &health.nodes {
        metrics::gauge!("tessera_meta_nodes", "state" => *state).set(*count as f64);
    }
    metrics::gauge!("tessera_meta_tables").set(catalog.tables.len() as f64);
    metrics::gauge!("tessera_meta_ranges").set(catalog.ranges.len() as f64);
    metrics::gauge!("tessera_meta_groups").set(catalog.groups.len() as f64);
    metrics::gauge!("tessera_meta_under_replicated_ranges").set(health.under_replicated as f64);
    metrics::gauge!("tessera_meta_unavailable_ranges").set(health.unavailable as f64);
    metrics::gauge!("tessera_meta_catalog_version").set(catalog.version as f64);
}
