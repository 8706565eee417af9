//! Bringing each group's Raft membership in line with its member list in the catalog.
//!
//! The controller (on the meta leader) only edits member lists. Each group's leader
//! compares the list with its Raft membership and moves one step at a time:
//!
//! 1. a new member is added as a learner and catches up (log or snapshot);
//! 2. once every new member is within [`CATCH_UP_SLACK`] entries of the leader's log,
//!    one joint-consensus change makes the list the voter set, dropping old voters;
//! 3. a leader that is itself leaving hands leadership to a staying voter first.
//!
//! A replica whose node is no longer listed asks the group's leader for the committed
//! membership and deletes itself only once that membership no longer contains it
//! (openraft never tells a removed node it was removed).

use crate::group::GroupReplica;
use crate::node::Node;
use openraft::async_runtime::WatchReceiver;
use openraft::ChangeMembers;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tessera_meta::catalog::{Catalog, NodeId};
use tessera_meta::proto::GroupMembership;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A learner this close to the leader's last log index is promoted.
const CATCH_UP_SLACK: u64 = 64;
/// Longest a membership change may take before the next tick tries again.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Every this many passes, sleeping groups are checked even if the catalog is unchanged.
const SLEEPERS_EVERY: u64 = 20;
/// How long to wait for a peer's answer about a group's membership.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

impl GroupReplica {
    /// This replica's view of its group's membership, if it is the leader
    /// (`committed`: the committed configuration rather than the effective one).
    pub fn leader_membership(&self, me: NodeId, committed: bool) -> Option<GroupMembership> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        if m.current_leader != Some(me) || !m.state.is_leader() {
            return None;
        }
        let stored = if committed {
            &m.committed_membership_config
        } else {
            &m.membership_config
        };
        let membership = stored.membership();
        let last = m.last_log_index.unwrap_or(0);
        let lag = m
            .replication
            .iter()
            .flatten()
            .filter(|(id, _)| **id != me)
            .map(|(id, matched)| {
                (
                    *id,
                    last.saturating_sub(matched.as_ref().map_or(0, |l| l.index)),
                )
            })
            .collect();
        Some(GroupMembership {
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            joint: membership.get_joint_config().len() > 1,
            lag,
        })
    }

    /// One step towards `members` being exactly the voter set (see the module docs).
    async fn reconcile(
        &self,
        me: NodeId,
        members: &[NodeId],
        catalog: &Catalog,
    ) -> Result<(), String> {
        let Some(current) = self.leader_membership(me, false) else {
            return Ok(());
        };
        if !current.needs_step_towards(members) {
            return Ok(());
        }
        let desired: BTreeSet<NodeId> = members.iter().copied().collect();
        let voters: BTreeSet<NodeId> = current.voters.iter().copied().collect();
        let learners: BTreeSet<NodeId> = current.learners.iter().copied().collect();
        self.hibernation.wake(&self.raft);
        let lag = |n: &NodeId| {
            current
                .lag
                .iter()
                .find(|(id, _)| id == n)
                .map_or(u64::MAX, |(_, lag)| *lag)
        };
        if !desired.contains(&me) {
            // Leaving: hand leadership to the most caught-up staying voter.
            if let Some(to) = voters.intersection(&desired).min_by_key(|n| lag(n)) {
                tracing::info!(
                    group = self.id,
                    to,
                    "leaving the group: transferring leadership"
                );
                self.raft
                    .trigger()
                    .transfer_leader(*to)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            return Ok(());
        }
        let joining: Vec<NodeId> = desired.difference(&voters).copied().collect();
        for node in joining.iter().filter(|n| !learners.contains(n)) {
            let addr = catalog
                .nodes
                .get(node)
                .map(|n| n.addr.clone())
                .unwrap_or_default();
            tracing::info!(group = self.id, node, "adding a learner");
            self.raft
                .add_learner(*node, openraft::BasicNode::new(addr), false)
                .await
                .map_err(|e| e.to_string())?;
        }
        let change = if !joining.is_empty() {
            if !joining
                .iter()
                .all(|n| learners.contains(n) && lag(n) <= CATCH_UP_SLACK)
            {
                return Ok(()); // Still catching up.
            }
            ChangeMembers::ReplaceAllVoters(desired)
        } else if voters != desired {
            ChangeMembers::ReplaceAllVoters(desired)
        } else {
            ChangeMembers::RemoveNodes(learners.difference(&desired).copied().collect())
        };
        tracing::info!(group = self.id, change = ?change, "changing the group's membership");
        match tokio::time::timeout(CHANGE_TIMEOUT, self.raft.change_membership(change, false)).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("membership change timed out".into()),
        }
    }
}

impl Node {
    /// Every `every`, lets the groups this node leads converge on their catalog member
    /// lists, and deletes replicas this node no longer holds, until `shutdown`.
    pub(crate) async fn reconcile_memberships(
        self: Arc<Self>,
        catalog: watch::Receiver<Arc<Catalog>>,
        every: Duration,
        shutdown: CancellationToken,
    ) {
        let mut tick = tessera_common::ticker::Ticker::new(every, shutdown);
        let (mut seen_version, mut pass) = (0, 0u64);
        while tick.tick().await {
            let current = catalog.borrow().clone();
            if current.version == 0 {
                continue;
            }
            // Sleeping groups are settled; look at them when the catalog changes, and
            // now and then in case a step failed just before they fell asleep.
            pass += 1;
            let everything = current.version != seen_version || pass % SLEEPERS_EVERY == 0;
            seen_version = current.version;
            if everything {
                // Also (re)start replicas the catalog assigns here that are not
                // running, e.g. one re-assigned while it was being deleted.
                self.adopt_groups(&current).await;
            }
            let replicas: Vec<Arc<GroupReplica>> = self.groups.iter().map(|r| r.clone()).collect();
            for replica in replicas {
                let Some(group) = current.groups.get(&replica.id) else {
                    continue; // Dropped: the catalog follower deletes it.
                };
                let member = group.members.contains(&self.id);
                if member && !everything && replica.hibernation.is_asleep() {
                    continue;
                }
                let leading = match replica.leader_membership(self.id, false) {
                    Some(current) => {
                        if !current.needs_step_towards(&group.members) {
                            continue;
                        }
                        true
                    }
                    None if member => continue, // A follower: its leader does the work.
                    None => false,
                };
                if replica.reconciling.swap(true, Ordering::AcqRel) {
                    continue; // The previous step is still running.
                }
                let (node, members) = (self.clone(), group.members.clone());
                let (snapshot, latest) = (current.clone(), catalog.clone());
                tokio::spawn(async move {
                    let outcome = if leading {
                        replica.reconcile(node.id, &members, &snapshot).await
                    } else {
                        node.retire_if_removed(&replica, &members, &latest).await
                    };
                    if let Err(e) = outcome {
                        tracing::warn!(group = replica.id, error = %e, "membership step failed");
                    }
                    replica.reconciling.store(false, Ordering::Release);
                });
            }
        }
    }

    /// Deletes `replica` once the group's leader (found among `members`) reports a
    /// committed membership without this node.
    async fn retire_if_removed(
        &self,
        replica: &GroupReplica,
        members: &[NodeId],
        catalog: &watch::Receiver<Arc<Catalog>>,
    ) -> Result<(), String> {
        for peer in members {
            let Some(client) = self.peers.client(*peer) else {
                continue;
            };
            let req = crate::api::NodeRequest::Membership { group: replica.id };
            let Ok(crate::api::NodeResponse::Membership(Some(m))) =
                client.call(&req, ASK_TIMEOUT).await
            else {
                continue;
            };
            if m.joint || m.voters.contains(&self.id) || m.learners.contains(&self.id) {
                return Ok(()); // Still a member for now.
            }
            let _lifecycle = self.lifecycle.lock().await;
            let reassigned = catalog
                .borrow()
                .groups
                .get(&replica.id)
                .is_none_or(|g| g.members.contains(&self.id));
            if reassigned {
                return Ok(()); // Assigned here again (or dropped) meanwhile.
            }
            tracing::info!(
                node = self.id,
                group = replica.id,
                "removed from the group: deleting the replica"
            );
            return self
                .destroy_replica(replica.id)
                .await
                .map_err(|e| e.to_string());
        }
        Ok(())
    }
}
