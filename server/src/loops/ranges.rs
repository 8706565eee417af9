//! Acting on splits and merges once applied: a split's new group is started here (its
//! record was written by the split, so the replica begins where the split left it), and
//! the former parent's leader campaigns for it at once; a merge's absorbed group is
//! stopped and its Raft log deleted.

use crate::node::Node;
use crate::replica::GroupReplica;
use crate::state_machine::RangeEvent;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Handles range events until `shutdown`.
pub(crate) async fn run(
    node: Arc<Node>,
    mut events: mpsc::UnboundedReceiver<RangeEvent>,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            event = events.recv() => match event {
                Some(event) => event,
                None => return,
            },
        };
        match event {
            RangeEvent::Split { parent, child } => start_child(&node, parent, child).await,
            RangeEvent::Merged { target, source } => {
                tracing::info!(
                    node = node.id,
                    target,
                    source,
                    "merged: retiring the source"
                );
                if let Err(e) = node.retire_merged(source).await {
                    tracing::error!(group = source, error = %e, "cannot retire a merged group");
                }
            }
        }
    }
}

async fn start_child(node: &Node, parent: u64, child: u64) {
    {
        let _lifecycle = node.lifecycle.lock().await;
        if node.replica(child).is_none() {
            // The split wrote the new group's record here: no catalog is needed.
            let none = tessera_proto::catalog::Catalog::default();
            if let Err(e) = node.start_replica(&none, child).await {
                tracing::error!(group = child, error = %e, "cannot start a split's new group");
                return;
            }
        }
    }
    tracing::info!(node = node.id, parent, child, "split: new group started");
    tessera_common::failpoint::hit("split-before-election");
    let leads_parent = node.replica(parent).is_some_and(|p| p.raft.is_leader());
    if let Some(child) = node.replica(child).filter(|_| leads_parent) {
        // Its own task: the next range event must not wait for this election.
        tokio::spawn(campaign(child));
    }
}

/// The former parent's leader stands first, so the new range serves at once. The other
/// voters start the new group as they apply the split, which can be after the first
/// vote request reached them (refused: no such group yet); rather than leave the range
/// without a leader for an election timeout, it stands again until one is known.
async fn campaign(child: Arc<GroupReplica>) {
    let until = tokio::time::Instant::now() + CAMPAIGN_FOR;
    loop {
        if let Err(e) = child.raft.trigger().elect(false).await {
            tracing::debug!(group = child.id, error = %e, "election of a new group");
            return;
        }
        let led = child
            .raft
            .wait(Some(CAMPAIGN_ROUND))
            .metrics(|m| m.current_leader.is_some(), "a new group's leader")
            .await;
        if led.is_ok() || tokio::time::Instant::now() >= until {
            return;
        }
    }
}

/// How long one campaign of a split's new group waits for a leader before the former
/// parent leader stands again, and for how long it keeps standing.
const CAMPAIGN_ROUND: Duration = Duration::from_millis(50);
const CAMPAIGN_FOR: Duration = Duration::from_secs(2);
