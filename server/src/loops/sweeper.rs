//! The expiry sweeper: on the groups this node leads, expired keys are deleted through
//! Raft, so disk space comes back and every replica stays identical. The same tick
//! runs the collector of orphaned collection rows.

use super::collector::Collector;
use crate::node::Node;
use crate::replica::GroupReplica;
use crate::value::split_expiry_key;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::ticker::Ticker;
use tokio_util::sync::CancellationToken;

/// Most expired keys one replica deletes per sweep (one Raft entry).
const SWEEP_PER_GROUP: usize = 1_000;
/// Most due expiry-index entries of led ranges one sweep takes.
const SWEEP_SCAN: usize = 100_000;
/// Most expiry-index entries one sweep reads, counting those of ranges led elsewhere
/// (their leaders sweep them; a follower's entries left by blind writes that its
/// leader no longer has stay until the key is written again).
const SWEEP_READ: usize = 4 * SWEEP_SCAN;

/// Due expiry-index entries of one replica's range.
type DueKeys = (Arc<GroupReplica>, Vec<Bytes>);

/// Sweeps every `every` until `shutdown`.
pub(crate) async fn run(node: Arc<Node>, every: Duration, shutdown: CancellationToken) {
    let mut tick = Ticker::new(every, shutdown);
    let mut collector = Collector::default();
    while tick.tick().await {
        let due = match due_keys(&node) {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "reading the expiry index failed");
                continue;
            }
        };
        // Raft writes: a shutdown does not wait for commits its peers may never make.
        let round = async {
            for (replica, index_keys) in due {
                if let Err(e) = replica.sweep_expired(index_keys).await {
                    tracing::debug!(group = replica.id, error = %e, "expiry sweep failed");
                }
            }
            collector.tick(&node).await;
            for replica in node.all_replicas() {
                if let Err(e) = replica.recount_if_unsure().await {
                    tracing::debug!(group = replica.id, error = %e, "recount failed");
                }
            }
        };
        tick.unless_stopped(round).await;
    }
}

/// Keys whose expiry has passed, by the replica this node leads whose range holds
/// them: at most [`SWEEP_PER_GROUP`] per replica, from one scan of the node's expiry
/// index (a node with thousands of idle ranges does not scan it once per range).
fn due_keys(node: &Node) -> std::io::Result<Vec<DueKeys>> {
    let mut replicas: Vec<(Arc<GroupReplica>, _)> = node
        .all_replicas()
        .into_iter()
        .filter(|r| r.raft.is_leader())
        .map(|r| {
            let range = r.range();
            (r, range)
        })
        .collect();
    replicas.sort_by(|a, b| a.1.start.cmp(&b.1.start));
    let mut due: BTreeMap<usize, Vec<Bytes>> = BTreeMap::new();
    let now = (node.clock.now_ms() + 1).to_be_bytes();
    let mut taken = 0;
    for kv in node.data.expiry.range(..now.as_slice()).take(SWEEP_READ) {
        let index_key = kv.key().map_err(tessera_common::raftlog::io_err)?;
        let Some((_, key)) = split_expiry_key(&index_key) else {
            continue;
        };
        let at = replicas.partition_point(|(_, range)| range.start.as_slice() <= key);
        let Some(i) = at.checked_sub(1).filter(|i| replicas[*i].1.contains(key)) else {
            continue; // Led elsewhere, or left by a replica deleted meanwhile.
        };
        taken += 1;
        if taken > SWEEP_SCAN {
            break;
        }
        let keys = due.entry(i).or_default();
        if keys.len() < SWEEP_PER_GROUP {
            keys.push(Bytes::copy_from_slice(&index_key));
        }
    }
    Ok(due
        .into_iter()
        .map(|(i, keys)| (replicas[i].0.clone(), keys))
        .collect())
}
