//! Snapshots by log size: a replica whose Raft log grew by `snapshot_bytes` since its
//! last snapshot takes one and purges the log behind it.

use crate::node::Node;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::ticker::Ticker;
use tokio_util::sync::CancellationToken;

/// Checks every replica every `every` until `shutdown`.
pub(crate) async fn run(node: Arc<Node>, every: Duration, shutdown: CancellationToken) {
    let mut tick = Ticker::new(every, shutdown);
    let (limit, keep) = (node.timings.snapshot_bytes, node.timings.keep_logs);
    while tick.tick().await {
        for replica in node.all_replicas() {
            replica.snapshot_if_log_exceeds(limit, keep).await;
        }
    }
}
