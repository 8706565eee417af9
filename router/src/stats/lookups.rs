//! INFO's `keyspace_hits` and `keyspace_misses`. Only the replica serving a read knows
//! whether the keys it looked up were there (a nil `HGET` may be a missing key or a
//! missing field), so storage nodes count them and a router sums the nodes' counts.
//!
//! The sums only go up, as Redis's counters do: a node that does not answer in time
//! counts with what it said last, and a node that restarted (its counts start over)
//! keeps what it had counted before. `CONFIG RESETSTAT` makes each node's latest
//! count its new zero; a node first heard of after a reset starts from zero when it is.

use crate::cluster::Cluster;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tessera_proto::catalog::NodeId;
use tessera_proto::node_api::{NodeCounters, NodeRequest, NodeResponse};

/// How long INFO waits for a node's counters; a node that does not answer in time
/// counts with its last answer.
const ASK_TIMEOUT: Duration = Duration::from_millis(500);

/// Hits and misses.
type Pair = [u64; 2];

/// What this router knows of the nodes' counts.
#[derive(Default)]
pub struct Lookups {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Whether the statistics were reset since this router started.
    reset: bool,
    nodes: BTreeMap<NodeId, Tally>,
}

/// One node's counts as this router saw them.
struct Tally {
    /// When the node's current run started counting (Unix ms).
    started_ms: u64,
    /// Its counts when last heard.
    last: Pair,
    /// Its counts at the reset, in the current run (zero if it started since).
    from: Pair,
    /// What its earlier runs counted since the reset.
    earlier: Pair,
}

impl Lookups {
    /// Asks every node for its counts and notes the answers that come in time.
    pub async fn refresh(&self, cluster: &Cluster) {
        let answers = ask(cluster).await;
        self.observe(&answers);
    }

    /// Asks every node for its counts and starts counting from them.
    pub async fn reset(&self, cluster: &Cluster) {
        let answers = ask(cluster).await;
        self.start_over(&answers);
    }

    /// Notes `answers`, then makes every node's latest counts its zero.
    fn start_over(&self, answers: &[(NodeId, NodeCounters)]) {
        let mut state = self.lock();
        state.reset = true;
        note(&mut state, answers);
        for tally in state.nodes.values_mut() {
            tally.from = tally.last;
            tally.earlier = [0, 0];
        }
    }

    /// Keys found and not found since the start or the last reset, over all nodes.
    pub fn total(&self) -> NodeCounters {
        let state = self.lock();
        let mut sum = NodeCounters::default();
        for t in state.nodes.values() {
            sum.keyspace_hits += t.earlier[0] + t.last[0].saturating_sub(t.from[0]);
            sum.keyspace_misses += t.earlier[1] + t.last[1].saturating_sub(t.from[1]);
        }
        sum
    }

    fn observe(&self, answers: &[(NodeId, NodeCounters)]) {
        note(&mut self.lock(), answers);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Each node's counters, of the nodes that answer in time.
async fn ask(cluster: &Cluster) -> Vec<(NodeId, NodeCounters)> {
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

/// Folds answers into `state`. Answers may arrive out of order (two INFOs at once):
/// within one run of a node, counts only grow, so the larger is the newer; an answer
/// from an earlier run than the one known is stale.
fn note(state: &mut State, answers: &[(NodeId, NodeCounters)]) {
    for (node, counted) in answers {
        let now = [counted.keyspace_hits, counted.keyspace_misses];
        let fresh = Tally {
            started_ms: counted.started_ms,
            last: now,
            // Heard of first after a reset: it counts from now on.
            from: if state.reset { now } else { [0, 0] },
            earlier: [0, 0],
        };
        let tally = state.nodes.entry(*node).or_insert(fresh);
        if counted.started_ms == tally.started_ms {
            tally.last = [tally.last[0].max(now[0]), tally.last[1].max(now[1])];
        } else if counted.started_ms > tally.started_ms {
            // Restarted: keep what the previous run counted since the reset.
            for i in 0..2 {
                tally.earlier[i] += tally.last[i].saturating_sub(tally.from[i]);
            }
            *tally = Tally {
                started_ms: counted.started_ms,
                last: now,
                from: [0, 0],
                earlier: tally.earlier,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(started_ms: u64, hits: u64, misses: u64) -> NodeCounters {
        NodeCounters {
            keyspace_hits: hits,
            keyspace_misses: misses,
            started_ms,
        }
    }

    fn totals(lookups: &Lookups) -> (u64, u64) {
        let t = lookups.total();
        (t.keyspace_hits, t.keyspace_misses)
    }

    #[test]
    fn sums_only_grow_across_resets_restarts_silence_and_late_answers() {
        let lookups = Lookups::default();
        lookups.observe(&[(1, counted(100, 10, 4)), (2, counted(100, 5, 0))]);
        assert_eq!(totals(&lookups), (15, 4));

        // The reset's answers: from here on, node 1 and 2 count from 11/4 and 5/0.
        lookups.start_over(&[(1, counted(100, 11, 4)), (2, counted(100, 5, 0))]);
        assert_eq!(totals(&lookups), (0, 0));

        // A late answer from before the reset changes nothing.
        lookups.observe(&[(1, counted(100, 10, 4))]);
        assert_eq!(totals(&lookups), (0, 0));

        // Node 1 counts 2 hits and 3 misses, then restarts and counts 1 and 1 more;
        // node 2 does not answer; node 3 is new and starts from zero.
        lookups.observe(&[(1, counted(100, 13, 7)), (3, counted(300, 50, 50))]);
        lookups.observe(&[(1, counted(200, 1, 1)), (3, counted(300, 52, 51))]);
        assert_eq!(totals(&lookups), (2 + 1 + 2, 3 + 1 + 1));
        // An answer from node 1's earlier run, arriving late, is stale.
        lookups.observe(&[(1, counted(100, 14, 8))]);
        assert_eq!(totals(&lookups), (5, 5));
    }
}
