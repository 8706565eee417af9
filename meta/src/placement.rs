//! Where new replicas go: on distinct live nodes, least-loaded first.

use std::collections::BTreeMap;
use tessera_proto::catalog::{Catalog, NodeId};

/// Chooses `replicas` distinct nodes among `live` for each of `ranges` new ranges of
/// `catalog`, least-loaded first (ties by id), counting each choice as it is made.
///
/// The first member of each list founds the group and becomes its first leader, so
/// it is the chosen node that founds the fewest groups: otherwise, with as many
/// nodes as replicas, the lowest id would lead every new group.
///
/// # Errors
/// Fewer live nodes than `replicas`.
pub fn place(
    catalog: &Catalog,
    live: &[NodeId],
    replicas: usize,
    ranges: usize,
) -> Result<Vec<Vec<NodeId>>, String> {
    if live.len() < replicas {
        return Err(format!(
            "REPLICAS {replicas} needs {replicas} live nodes, only {} are live",
            live.len()
        ));
    }
    let mut load = catalog.replica_counts();
    let mut founded: BTreeMap<NodeId, usize> = BTreeMap::new();
    for group in catalog.groups.values() {
        if let Some(first) = group.members.first() {
            *founded.entry(*first).or_default() += 1;
        }
    }
    let mut placements = Vec::with_capacity(ranges);
    for _ in 0..ranges {
        let mut candidates = live.to_vec();
        candidates.sort_by_key(|n| (load.get(n).copied().unwrap_or(0), *n));
        let mut chosen: Vec<NodeId> = candidates.into_iter().take(replicas).collect();
        for n in &chosen {
            *load.entry(*n).or_default() += 1;
        }
        let founder = (0..chosen.len())
            .min_by_key(|i| (founded.get(&chosen[*i]).copied().unwrap_or(0), chosen[*i]));
        if let Some(i) = founder {
            chosen.swap(0, i);
            *founded.entry(chosen[0]).or_default() += 1;
        }
        placements.push(chosen);
    }
    Ok(placements)
}
