//! Heartbeats: liveness and per-replica stats for the meta service, every second.

use crate::node::Node;
use crate::replica::{GroupReplica, NoSplit};
use openraft::async_runtime::WatchReceiver;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::ticker::Ticker;
use tessera_proto::catalog::GroupId;
use tessera_proto::meta_api::{RangeLoad, ReplicaStats};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Reports to the meta service every `every` until `shutdown`.
pub(crate) async fn run(node: Arc<Node>, every: Duration, shutdown: CancellationToken) {
    let mut tick = Ticker::new(every, shutdown);
    // Each replica's served ops when last reported, to report requests per second.
    let mut last: HashMap<GroupId, (u64, Instant)> = HashMap::new();
    while tick.tick().await {
        let replicas = node.all_replicas();
        last.retain(|g, _| replicas.iter().any(|r| r.id == *g));
        let stats: Vec<ReplicaStats> = replicas
            .iter()
            .map(|r| stats_of(&node, r, &mut last))
            .collect();
        report_gauges(node.id, &stats);
        report_read_cache(&node);
        report_lookups(&node);
        if let Some(Err(e)) = tick
            .unless_stopped(node.meta.heartbeat(node.id, stats))
            .await
        {
            tracing::debug!(error = %e, "heartbeat failed");
        }
    }
}

/// The `tessera_node_keyspace_{hits,misses}_total` series: keys read commands found
/// and did not find on this node.
fn report_lookups(node: &Node) {
    let counted = node.data.lookups.counters();
    let id = node.id.to_string();
    metrics::counter!("tessera_node_keyspace_hits_total", "node" => id.clone())
        .absolute(counted.keyspace_hits);
    metrics::counter!("tessera_node_keyspace_misses_total", "node" => id)
        .absolute(counted.keyspace_misses);
}

/// The point-read cache's `tessera_node_read_cache_*` series, if the node keeps one.
fn report_read_cache(node: &Node) {
    let Some(cache) = node.data.cache.as_deref() else {
        return;
    };
    let stats = cache.stats();
    let id = node.id.to_string();
    metrics::counter!("tessera_node_read_cache_hits_total", "node" => id.clone())
        .absolute(stats.hits);
    metrics::counter!("tessera_node_read_cache_misses_total", "node" => id.clone())
        .absolute(stats.misses);
    metrics::gauge!("tessera_node_read_cache_bytes", "node" => id.clone()).set(stats.bytes as f64);
    metrics::gauge!("tessera_node_read_cache_entries", "node" => id).set(stats.entries as f64);
}

/// Ranges per node whose load is exported one by one (the busiest ones).
const EXPORTED_RANGES: usize = 32;

/// Sets the node's `tessera_node_*` and `tessera_range_*` gauges.
fn report_gauges(node: u64, stats: &[ReplicaStats]) {
    let id = node.to_string();
    let count = |f: fn(&ReplicaStats) -> bool| stats.iter().filter(|s| f(s)).count() as f64;
    metrics::gauge!("tessera_node_replicas", "node" => id.clone()).set(stats.len() as f64);
    metrics::gauge!("tessera_node_leaders", "node" => id.clone()).set(count(|s| s.is_leader));
    metrics::gauge!("tessera_node_sleeping_groups", "node" => id.clone()).set(count(|s| s.asleep));
    let mut led: Vec<_> = stats.iter().filter_map(|s| s.range.as_ref()).collect();
    led.sort_by(|a, b| b.1.qps.total_cmp(&a.1.qps));
    for (range, load) in led.into_iter().take(EXPORTED_RANGES) {
        let labels = [
            ("node", id.clone()),
            ("range", range.id.to_string()),
            ("table", range.table.to_string()),
        ];
        metrics::gauge!("tessera_range_requests_per_second", &labels).set(load.qps);
        metrics::gauge!("tessera_range_bytes", &labels).set(load.bytes as f64);
    }
}

fn stats_of(
    node: &Node,
    replica: &GroupReplica,
    last: &mut HashMap<GroupId, (u64, Instant)>,
) -> ReplicaStats {
    let membership = replica.leader_membership(node.id, false);
    let applied = {
        let metrics = replica.raft.metrics();
        let m = metrics.borrow_watched();
        m.last_applied.as_ref().map_or(0, |id| id.index)
    };
    let ops = replica.load.ops();
    let (before, at) = last
        .insert(replica.id, (ops, Instant::now()))
        .unwrap_or((ops, Instant::now()));
    let seconds = at.elapsed().as_secs_f64();
    let qps = if seconds > 0.0 {
        (ops - before) as f64 / seconds
    } else {
        0.0
    };
    let range = membership.as_ref().map(|_| {
        let desc = replica.range();
        let load = RangeLoad {
            bytes: replica.bytes(),
            qps,
            splittable: replica.load.balanced_key(&desc) != Err(NoSplit::HotKey),
            frozen_at: replica.frozen_at(),
        };
        ((*desc).clone(), load)
    });
    ReplicaStats {
        group: replica.id,
        is_leader: membership.is_some(),
        applied,
        membership,
        asleep: replica.hibernation.is_asleep(),
        range,
    }
}
