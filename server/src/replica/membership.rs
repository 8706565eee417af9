//! The leader's view of its group's membership and the steps that bring it in line
//! with the catalog, and a follower's consent to hibernate.
//!
//! Membership steps, one at a time: a new member is added as a learner and catches up
//! (log or snapshot); once every new member is within [`CATCH_UP_SLACK`] entries of the
//! leader's log, one joint-consensus change makes the catalog's list the voter set; a
//! leader that is itself leaving hands leadership to a staying voter first.

use super::GroupReplica;
use crate::peer::SleepRequest;
use openraft::async_runtime::WatchReceiver;
use openraft::ChangeMembers;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tessera_proto::catalog::{Catalog, NodeId};
use tessera_proto::meta_api::GroupMembership;

/// A learner this close to the leader's last log index is promoted.
const CATCH_UP_SLACK: u64 = 64;
/// Longest a membership change may take before the next tick tries again.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);

impl GroupReplica {
    /// This replica's view of its group's membership, if it is the leader
    /// (`committed`: the committed configuration rather than the effective one).
    pub fn leader_membership(&self, me: NodeId, committed: bool) -> Option<GroupMembership> {
        self.leader_view(me, committed)
            .map(|(membership, _)| membership)
    }

    /// [`GroupReplica::leader_membership`] and the leader's last log index.
    fn leader_view(&self, me: NodeId, committed: bool) -> Option<(GroupMembership, u64)> {
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
                // A member that acknowledged nothing yet (a learner whose replica has not
                // started, or not received its snapshot) is not caught up, however
                // short the log.
                let lag = matched
                    .as_ref()
                    .map_or(u64::MAX, |l| last.saturating_sub(l.index));
                (*id, lag)
            })
            .collect();
        let view = GroupMembership {
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            joint: membership.get_joint_config().len() > 1,
            lag,
        };
        Some((view, last))
    }

    /// One step towards `members` being exactly the voter set (see the module docs).
    pub(crate) async fn reconcile(
        &self,
        me: NodeId,
        members: &[NodeId],
        catalog: &Catalog,
    ) -> Result<(), String> {
        let Some((current, last)) = self.leader_view(me, false) else {
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
        let new: Vec<&NodeId> = joining.iter().filter(|n| !learners.contains(n)).collect();
        // A new replica must start from a snapshot, never replay the log from the start:
        // it does not know the range the first entries were proposed under (it refuses
        // them). So the leader purges its log before it adds one, and so does a leader
        // elected while a learner still has nothing, if its own log was never purged.
        let empty_learner = learners.iter().any(|n| lag(n) == u64::MAX);
        if !new.is_empty() || (empty_learner && !self.log_purged()) {
            self.snapshot_and_purge(0).await?;
        }
        for node in new {
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
            let caught_up = self.caught_up(&joining, &learners, last, lag);
            if !caught_up {
                return Ok(()); // Still catching up.
            }
            ChangeMembers::ReplaceAllVoters(desired)
        } else if voters != desired {
            ChangeMembers::ReplaceAllVoters(desired)
        } else {
            ChangeMembers::RemoveNodes(learners.difference(&desired).copied().collect())
        };
        lock(&self.catch_up).clear();
        tracing::info!(group = self.id, change = ?change, "changing the group's membership");
        match tokio::time::timeout(CHANGE_TIMEOUT, self.raft.change_membership(change, false)).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("membership change timed out".into()),
        }
    }

    /// Whether every joining learner has caught up: it is within [`CATCH_UP_SLACK`]
    /// entries of the leader's last index `last`, or it holds the index that was the
    /// leader's last when an earlier step found it behind. Under steady writes the
    /// leader's log keeps growing while a learner catches up, and on a busy machine the
    /// distance may never drop under the slack; a fixed target is reached as long as the
    /// learner makes progress at all.
    fn caught_up(
        &self,
        joining: &[NodeId],
        learners: &BTreeSet<NodeId>,
        last: u64,
        lag: impl Fn(&NodeId) -> u64,
    ) -> bool {
        let mut targets = lock(&self.catch_up);
        targets.retain(|n, _| joining.contains(n));
        let mut all = true;
        for n in joining {
            let behind = lag(n);
            let holds = (behind != u64::MAX).then(|| last.saturating_sub(behind));
            let reached = match (targets.get(n), holds) {
                (Some(target), Some(holds)) => holds >= *target,
                _ => false,
            };
            if learners.contains(n) && (behind <= CATCH_UP_SLACK || reached) {
                continue;
            }
            all = false;
            if learners.contains(n) && holds.is_some() && !targets.contains_key(n) {
                tracing::info!(
                    group = self.id,
                    node = n,
                    behind,
                    target = last,
                    "learner catching up: promoted once it holds the target index"
                );
                targets.insert(*n, last);
            }
        }
        all
    }

    /// If this replica leads a settled group whose followers hold its whole log, the
    /// request to send them and the followers to send it to.
    pub(crate) fn sleep_request(&self, me: NodeId) -> Option<(SleepRequest, Vec<NodeId>)> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        if m.current_leader != Some(me) || !m.state.is_leader() {
            return None;
        }
        let membership = m.membership_config.membership();
        if membership.get_joint_config().len() > 1 || membership.learner_ids().next().is_some() {
            return None;
        }
        if m.committed_membership_config.log_id() != m.membership_config.log_id() {
            return None;
        }
        let last = m.last_log_index?;
        if m.last_applied.as_ref().map(|l| l.index) != Some(last) {
            return None;
        }
        let replication = m.replication.as_ref()?;
        let caught_up = replication
            .values()
            .all(|matched| matched.as_ref().map(|l| l.index) == Some(last));
        if !caught_up {
            return None;
        }
        let followers: Vec<NodeId> = membership.voter_ids().filter(|id| *id != me).collect();
        let req = SleepRequest {
            group: self.id,
            leader: me,
            term: m.current_term,
            last_log: last,
        };
        Some((req, followers))
    }

    /// A follower's answer to its leader's request to sleep.
    pub fn sleep_if_asked_by_leader(&self, req: &SleepRequest) -> bool {
        let agrees = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow_watched();
            m.current_leader == Some(req.leader)
                && m.current_term == req.term
                && !m.state.is_leader()
                && m.last_log_index == Some(req.last_log)
        };
        if agrees {
            self.hibernation.sleep_following(&self.raft, req.leader);
        }
        agrees
    }
}

fn lock(targets: &Mutex<HashMap<NodeId, u64>>) -> MutexGuard<'_, HashMap<NodeId, u64>> {
    targets.lock().unwrap_or_else(|e| e.into_inner())
}
