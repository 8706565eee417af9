//! Putting idle groups to sleep (see [`crate::hibernation`] for the protocol): a leader
//! idle for `hibernate_after`, whose followers hold its whole log, asks them to stop
//! their timers and, once all agreed and nothing happened meanwhile, stops its own.

use crate::node::Node;
use crate::peer::{PeerMessage, PeerReply};
use crate::replica::GroupReplica;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::ticker::Ticker;
use tokio_util::sync::CancellationToken;

/// How often a node looks for groups to put to sleep.
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// How long a follower has to answer its leader's sleep request.
const ASK_TIMEOUT: Duration = Duration::from_millis(500);
/// How many groups a node asks to sleep at once.
const ASKS_AT_ONCE: usize = 64;

/// Puts idle groups this node leads to sleep, until `shutdown`.
pub(crate) async fn run(node: Arc<Node>, shutdown: CancellationToken) {
    let idle_ms = node.timings.hibernate_after_ms;
    if idle_ms == 0 {
        return;
    }
    let mut tick = Ticker::new(CHECK_EVERY, shutdown);
    while tick.tick().await {
        // Concurrently: one at a time, a node leading hundreds of groups on a loaded
        // machine (each ask waiting up to ASK_TIMEOUT) took minutes to put them to sleep,
        // and the groups kept awake kept the machine loaded.
        let asks = node.all_replicas().into_iter().map(|replica| {
            let node = node.clone();
            async move { put_to_sleep(&node, &replica, idle_ms).await }
        });
        let round = futures::stream::iter(asks)
            .buffer_unordered(ASKS_AT_ONCE)
            .for_each(|()| async {});
        tick.unless_stopped(round).await;
    }
}

async fn put_to_sleep(node: &Node, replica: &GroupReplica, idle_ms: u64) {
    let Some(epoch) = replica.hibernation.idle_epoch(idle_ms) else {
        return;
    };
    let Some((req, followers)) = replica.sleep_request(node.id) else {
        return;
    };
    let asks = followers.iter().map(|f| {
        let client = node.peers.client(*f);
        async move {
            let client = client?;
            match client.call(&PeerMessage::Sleep(req), ASK_TIMEOUT).await {
                Ok(PeerReply::Slept(agreed)) => Some(agreed),
                _ => None,
            }
        }
    });
    let answers = futures::future::join_all(asks).await;
    if answers.iter().all(|a| *a == Some(true))
        && replica.sleep_request(node.id).map(|(r, _)| r) == Some(req)
        && replica.hibernation.sleep_if_unchanged(&replica.raft, epoch)
    {
        tracing::debug!(group = replica.id, "group asleep");
    }
}
