//! The collector: on the ranges this node leads, finds rows of collections that no key
//! refers to any more (deleted, overwritten or expired; a `DEL` only drops the key's
//! metadata row) and deletes them through Raft, so the space comes back and every
//! replica stays identical. Runs on the sweeper's tick.

use crate::engine::collection::refers_to;
use crate::layout;
use crate::node::Node;
use crate::value::StoredValue;
use bytes::Bytes;
use std::collections::HashMap;
use std::io;
use tessera_common::raftlog::io_err;
use tessera_proto::catalog::GroupId;
use tessera_proto::keys::prefix_end;

/// Most collections one tick checks on a node.
const CHECKS_PER_TICK: usize = 1_000;
/// Most collections one proposal collects.
const PER_PROPOSAL: usize = 16;

/// Where each led range's walk goes on from (a members-keyspace key).
#[derive(Default)]
pub(crate) struct Collector {
    cursors: HashMap<GroupId, Vec<u8>>,
}

impl Collector {
    /// Checks up to [`CHECKS_PER_TICK`] collections of the ranges this node leads and
    /// proposes the deletion of the orphans' rows.
    pub(crate) async fn tick(&mut self, node: &Node) {
        let mut budget = CHECKS_PER_TICK;
        let led: Vec<_> = node
            .all_replicas()
            .into_iter()
            .filter(|r| r.raft.is_leader())
            .collect();
        self.cursors
            .retain(|group, _| led.iter().any(|r| r.id == *group));
        for replica in led {
            if budget == 0 {
                break;
            }
            let range = replica.range();
            let (start, end) = (layout::bound(&range.start), layout::bound(&range.end));
            let from = self
                .cursors
                .get(&replica.id)
                .filter(|c| **c >= start && **c < end)
                .cloned()
                .unwrap_or(start);
            let (orphans, next) = match orphans(node, &from, &end, &mut budget) {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(group = replica.id, error = %e, "looking for orphaned rows failed");
                    continue;
                }
            };
            // Resume at the first orphan: one proposal may not delete all its rows.
            let resume = orphans.first().map(|p| p.to_vec()).or(next);
            match resume {
                Some(at) => self.cursors.insert(replica.id, at),
                None => self.cursors.remove(&replica.id),
            };
            if let Err(e) = replica.collect_rows(orphans).await {
                tracing::debug!(group = replica.id, error = %e, "collecting rows failed");
            }
        }
    }
}

/// The orphaned collections in `[from, end)` of the members keyspace (row prefixes),
/// checking at most `budget` collections, and where to go on from (`None`: the end
/// was reached).
fn orphans(
    node: &Node,
    from: &[u8],
    end: &[u8],
    budget: &mut usize,
) -> io::Result<(Vec<Bytes>, Option<Vec<u8>>)> {
    let mut found = Vec::new();
    let mut at = from.to_vec();
    while *budget > 0 && found.len() < PER_PROPOSAL {
        let Some(kv) = node.data.members.range(at.clone()..end.to_vec()).next() else {
            return Ok((found, None));
        };
        let row = kv.key().map_err(io_err)?;
        *budget -= 1;
        let Some((key, version, len)) = layout::split(&row) else {
            // Not a member row: step over it.
            at = [&row[..], &[0]].concat();
            continue;
        };
        let prefix = &row[..len];
        let stored = node.data.data.get(&key).map_err(io_err)?;
        let value = stored.and_then(|v| StoredValue::decode(&v));
        if !refers_to(value.as_ref(), version) {
            found.push(Bytes::copy_from_slice(prefix));
        }
        match prefix_end(prefix) {
            Some(next) => at = next,
            None => return Ok((found, None)),
        }
    }
    Ok((found, Some(at)))
}
