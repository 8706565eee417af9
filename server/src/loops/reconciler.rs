//! Bringing each group's Raft membership in line with its member list in the catalog.
//!
//! The controller (on the meta leader) only edits member lists. Each group's leader
//! compares the list with its Raft membership and moves one step at a time (see
//! `replica::membership`). A replica whose node is no longer listed asks the group's
//! leader for the committed membership and deletes itself only once that membership no
//! longer contains it (openraft never tells a removed node it was removed).

use crate::node::Node;
use crate::peer::{PeerMessage, PeerReply};
use crate::replica::GroupReplica;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::ticker::Ticker;
use tessera_proto::catalog::{Catalog, NodeId};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Every this many passes, sleeping groups are checked even if the catalog is unchanged.
const SLEEPERS_EVERY: u64 = 20;
/// How long to wait for a peer's answer about a group's membership.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The reconciler of one node.
pub(crate) struct Reconciler {
    node: Arc<Node>,
    catalog: watch::Receiver<Arc<Catalog>>,
    seen_version: u64,
    pass: u64,
    /// Membership steps under way, one per replica at most.
    steps: JoinSet<()>,
}

impl Reconciler {
    pub(crate) fn new(node: Arc<Node>, catalog: watch::Receiver<Arc<Catalog>>) -> Self {
        Self {
            node,
            catalog,
            seen_version: 0,
            pass: 0,
            steps: JoinSet::new(),
        }
    }

    /// Every `every`, lets the groups this node leads converge on their catalog member
    /// lists, and deletes replicas this node no longer holds, until `shutdown`; then
    /// waits for the steps under way.
    pub(crate) async fn run(mut self, every: Duration, shutdown: CancellationToken) {
        let mut tick = Ticker::new(every, shutdown);
        while tick.tick().await {
            while self.steps.try_join_next().is_some() {}
            self.pass().await;
        }
        self.steps.shutdown().await;
    }

    async fn pass(&mut self) {
        let current = self.catalog.borrow().clone();
        if current.version == 0 {
            return;
        }
        // Sleeping groups are settled; look at them when the catalog changes, and now
        // and then in case a step failed just before they fell asleep.
        self.pass += 1;
        let everything =
            current.version != self.seen_version || self.pass.is_multiple_of(SLEEPERS_EVERY);
        self.seen_version = current.version;
        if everything {
            // Also (re)start replicas the catalog assigns here that are not running,
            // e.g. one re-assigned while it was being deleted.
            self.node.adopt_groups(&current).await;
        }
        for replica in self.node.all_replicas() {
            self.consider(&current, replica, everything);
        }
    }

    /// Starts a membership step for `replica` if it needs one and none is running.
    fn consider(&mut self, current: &Arc<Catalog>, replica: Arc<GroupReplica>, everything: bool) {
        let node = &self.node;
        let Some(group) = current.groups.get(&replica.id) else {
            return; // Dropped: the catalog follower deletes it.
        };
        let member = group.members.contains(&node.id);
        if member && !everything && replica.hibernation.is_asleep() {
            return;
        }
        let leading = match replica.leader_membership(node.id, false) {
            Some(membership) if !membership.needs_step_towards(&group.members) => return,
            Some(_) => true,
            None if member => return, // A follower: its leader does the work.
            None => false,
        };
        if replica.reconciling.swap(true, Ordering::AcqRel) {
            return; // The previous step is still running.
        }
        let (node, members) = (node.clone(), group.members.clone());
        let (snapshot, latest) = (current.clone(), self.catalog.clone());
        self.steps.spawn(async move {
            let outcome = if leading {
                replica.reconcile(node.id, &members, &snapshot).await
            } else {
                retire_if_removed(&node, &replica, &members, &latest).await
            };
            if let Err(e) = outcome {
                tracing::warn!(group = replica.id, error = %e, "membership step failed");
            }
            replica.reconciling.store(false, Ordering::Release);
        });
    }
}

/// Deletes `replica` once the group's leader (found among `members`) reports a
/// committed membership without this node.
async fn retire_if_removed(
    node: &Node,
    replica: &GroupReplica,
    members: &[NodeId],
    catalog: &watch::Receiver<Arc<Catalog>>,
) -> Result<(), String> {
    for peer in members {
        let Some(client) = node.peers.client(*peer) else {
            continue;
        };
        let req = PeerMessage::Membership { group: replica.id };
        let Ok(PeerReply::Membership(Some(m))) = client.call(&req, ASK_TIMEOUT).await else {
            continue;
        };
        if m.joint || m.voters.contains(&node.id) || m.learners.contains(&node.id) {
            return Ok(()); // Still a member for now.
        }
        let _lifecycle = node.lifecycle.lock().await;
        let reassigned = catalog
            .borrow()
            .groups
            .get(&replica.id)
            .is_none_or(|g| g.members.contains(&node.id));
        if reassigned {
            return Ok(()); // Assigned here again (or dropped) meanwhile.
        }
        tracing::info!(
            node = node.id,
            group = replica.id,
            "removed from the group: deleting the replica"
        );
        return node
            .destroy_replica(replica.id)
            .await
            .map_err(|e| e.to_string());
    }
    Ok(())
}
