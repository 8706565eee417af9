//! Heartbeats: liveness and per-replica stats for the meta service, every second.

use crate::node::Node;
use openraft::async_runtime::WatchReceiver;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::ticker::Ticker;
use tessera_proto::meta_api::ReplicaStats;
use tokio_util::sync::CancellationToken;

/// Reports to the meta service every `every` until `shutdown`.
pub(crate) async fn run(node: Arc<Node>, every: Duration, shutdown: CancellationToken) {
    let mut tick = Ticker::new(every, shutdown);
    while tick.tick().await {
        let stats: Vec<ReplicaStats> = node
            .all_replicas()
            .iter()
            .map(|r| {
                let membership = r.leader_membership(node.id, false);
                let metrics = r.raft.metrics();
                let m = metrics.borrow_watched();
                ReplicaStats {
                    group: r.id,
                    is_leader: membership.is_some(),
                    applied: m.last_applied.as_ref().map_or(0, |id| id.index),
                    membership,
                    asleep: r.hibernation.is_asleep(),
                }
            })
            .collect();
        if let Err(e) = node.meta.heartbeat(node.id, stats).await {
            tracing::debug!(error = %e, "heartbeat failed");
        }
    }
}
