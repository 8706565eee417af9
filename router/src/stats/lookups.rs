//! INFO's `keyspace_hits` and `keyspace_misses`. Only the replica serving a read knows
//! whether the keys it looked up were there (a nil `HGET` may be a missing key or a
//! missing field), so storage nodes count them and a router sums the nodes' counts.
//! `CONFIG RESETSTAT` records the counts it was sent at, per node, and INFO reports
//! what was counted since.

use crate::cluster::Cluster;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tessera_proto::catalog::NodeId;
use tessera_proto::node_api::{NodeCounters, NodeRequest, NodeResponse};

/// How long INFO waits for a node's counters; a node that does not answer in time is
/// left out of the sums.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// The nodes' counts when this router's statistics were last reset.
#[derive(Default)]
pub struct Lookups {
    reset_at: Mutex<BTreeMap<NodeId, NodeCounters>>,
}

impl Lookups {
    /// Each node's counters since it started, of the nodes that answer in time.
    pub async fn fetch(cluster: &Cluster) -> BTreeMap<NodeId, NodeCounters> {
        let answers = cluster.ask_every_node(&NodeRequest::Counters, ASK_TIMEOUT);
        answers
            .await
            .into_iter()
            .filter_map(|(node, answer)| match answer {
                Ok(NodeResponse::Counters(counted)) => Some((node, counted)),
                _ => None,
            })
            .collect()
    }

    /// The sums of `now` since the last reset. A node counting less than at the reset
    /// has restarted since: all it counted is new.
    pub fn since_reset(&self, now: &BTreeMap<NodeId, NodeCounters>) -> NodeCounters {
        let reset_at = self.reset_at.lock().expect("lookups lock");
        let mut sum = NodeCounters::default();
        for (node, counted) in now {
            let base = reset_at.get(node).copied().unwrap_or_default();
            let restarted = counted.keyspace_hits < base.keyspace_hits
                || counted.keyspace_misses < base.keyspace_misses;
            let base = if restarted {
                NodeCounters::default()
            } else {
                base
            };
            sum.keyspace_hits += counted.keyspace_hits - base.keyspace_hits;
            sum.keyspace_misses += counted.keyspace_misses - base.keyspace_misses;
        }
        sum
    }

    /// Counts from `now` on.
    pub fn reset(&self, now: BTreeMap<NodeId, NodeCounters>) {
        *self.reset_at.lock().expect("lookups lock") = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(hits: u64, misses: u64) -> NodeCounters {
        NodeCounters {
            keyspace_hits: hits,
            keyspace_misses: misses,
        }
    }

    #[test]
    fn sums_the_nodes_since_the_reset() {
        let lookups = Lookups::default();
        let first = BTreeMap::from([(1, counted(10, 4)), (2, counted(5, 0))]);
        assert_eq!(lookups.since_reset(&first), counted(15, 4));
        lookups.reset(first);
        // Node 1 counted on, node 2 restarted (its counts start over), node 3 is new.
        let later = BTreeMap::from([(1, counted(12, 7)), (2, counted(1, 1)), (3, counted(2, 2))]);
        assert_eq!(lookups.since_reset(&later), counted(2 + 1 + 2, 3 + 1 + 2));
    }
}
