//! Keeping sleeping groups able to fail over: this node pings the nodes that lead its
//! sleeping replicas, and wakes the replicas of a leader whose node stops answering,
//! so they elect another.

use crate::node::Node;
use crate::peer::{PeerMessage, PeerReply};
use crate::replica::GroupReplica;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::ticker::Ticker;
use tessera_proto::catalog::NodeId;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Pings sleeping groups' leaders until `shutdown`.
pub(crate) async fn run(node: Arc<Node>, shutdown: CancellationToken) {
    if node.timings.hibernate_after_ms == 0 {
        return;
    }
    let every = Duration::from_millis(node.timings.heartbeat_ms.max(1) * 2);
    let silent_after = Duration::from_millis(node.timings.election_max_ms);
    let mut last_answer: HashMap<NodeId, Instant> = HashMap::new();
    let mut tick = Ticker::new(every, shutdown);
    while tick.tick().await {
        let mut sleeping: HashMap<NodeId, Vec<Arc<GroupReplica>>> = HashMap::new();
        for r in node.all_replicas() {
            if let Some(leader) = r.hibernation.sleeping_under().filter(|l| *l != node.id) {
                sleeping.entry(leader).or_default().push(r);
            }
        }
        last_answer.retain(|leader, _| sleeping.contains_key(leader));
        let now = Instant::now();
        let pings = sleeping.keys().map(|leader| {
            let client = node.peers.client(*leader);
            async move {
                let ok = match client {
                    Some(c) => matches!(
                        c.call(&PeerMessage::Ping, silent_after).await,
                        Ok(PeerReply::Pong)
                    ),
                    None => false,
                };
                (*leader, ok)
            }
        });
        let Some(answers) = tick.unless_stopped(futures::future::join_all(pings)).await else {
            return;
        };
        for (leader, ok) in answers {
            let heard = last_answer.entry(leader).or_insert(now);
            if ok {
                *heard = Instant::now();
            } else if heard.elapsed() >= silent_after {
                tracing::info!(leader, "leader's node silent: waking its sleeping groups");
                for replica in sleeping.remove(&leader).unwrap_or_default() {
                    replica.hibernation.wake(&replica.raft);
                }
                last_answer.remove(&leader);
            }
        }
    }
}
