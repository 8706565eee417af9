//! What the meta leader hears from storage nodes: when each node last reported, how
//! many of its replicas lead or sleep, and what group leaders report about their
//! groups' Raft memberships. Kept in memory on the leader only; a new leader learns
//! it again from the next heartbeats.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tessera_proto::catalog::{GroupId, NodeId, RangeDesc, RangeId};
use tessera_proto::meta_api::{GroupMembership, RangeLoad, ReplicaStats};

/// How long a range report with a higher epoch outranks a newer one with a lower.
const STALE_REPORT: Duration = Duration::from_secs(3);

/// What a node last reported: when, and how many groups it leads.
#[derive(Clone, Copy)]
struct Report {
    at: Instant,
    counts: ReplicaCounts,
}

/// How many of a node's replicas lead their group, and how many are asleep.
#[derive(Clone, Copy, Default)]
pub(crate) struct ReplicaCounts {
    pub(crate) leaders: usize,
    pub(crate) asleep: usize,
}

/// What a group's leader last reported about the group's Raft membership.
#[derive(Clone, Debug)]
pub struct GroupReport {
    /// When.
    pub at: Instant,
    /// The membership and progress it reported.
    pub membership: GroupMembership,
}

/// What a range's leader last reported about the range.
#[derive(Clone, Debug)]
pub struct RangeReport {
    /// When.
    pub at: Instant,
    /// The reporting leader.
    pub leader: NodeId,
    /// The range as the leader's replicated state has it.
    pub range: RangeDesc,
    /// Its size and load.
    pub load: RangeLoad,
}

/// When each node last reported, as seen by this meta member while it leads, and what
/// group leaders reported about their groups and ranges.
#[derive(Default)]
pub struct Liveness {
    decisions: Mutex<std::collections::VecDeque<(u64, String)>>,
    reports: Mutex<HashMap<NodeId, Report>>,
    groups: Mutex<HashMap<GroupId, GroupReport>>,
    ranges: Mutex<HashMap<RangeId, RangeReport>>,
}

/// Controller decisions kept for the console's timeline.
const DECISIONS: usize = 500;

impl Liveness {
    /// Notes a change the controller made (the newest [`DECISIONS`] are kept).
    pub(crate) fn record_decision(&self, what: String) {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut decisions = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        decisions.push_back((at, what));
        if decisions.len() > DECISIONS {
            decisions.pop_front();
        }
    }

    /// The controller's recent changes, oldest first: (Unix ms, what).
    pub(crate) fn decisions(&self) -> Vec<(u64, String)> {
        let decisions = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        decisions.iter().cloned().collect()
    }

    pub(crate) fn record_replicas(&self, node: NodeId, replicas: &[ReplicaStats]) {
        let counts = ReplicaCounts {
            leaders: replicas.iter().filter(|r| r.is_leader).count(),
            asleep: replicas.iter().filter(|r| r.asleep).count(),
        };
        self.record(node, Some(counts));
        let now = Instant::now();
        {
            let mut ranges = self.ranges.lock().unwrap_or_else(|p| p.into_inner());
            for (range, load) in replicas.iter().filter_map(|r| r.range.clone()) {
                let report = RangeReport {
                    at: now,
                    leader: node,
                    range,
                    load,
                };
                // A deposed leader that does not know it yet may report an older
                // state: keep the newest epoch (unless it went silent).
                let older = ranges.get(&report.range.id).is_some_and(|known| {
                    known.range.epoch > report.range.epoch && known.at.elapsed() < STALE_REPORT
                });
                if !older {
                    ranges.insert(report.range.id, report);
                }
            }
        }
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        for r in replicas {
            if let (true, Some(membership)) = (r.is_leader, &r.membership) {
                groups.insert(
                    r.group,
                    GroupReport {
                        at: now,
                        membership: membership.clone(),
                    },
                );
            }
        }
    }

    /// Forgets what nodes reported (the decisions stay): nodes report to the leader
    /// only, so a member that stopped leading knows nothing current, and if it leads
    /// again it must hear from them anew rather than act on what they said before.
    pub(crate) fn forget_reports(&self) {
        self.lock().clear();
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.ranges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// What range leaders reported within `within`.
    pub fn ranges(&self, within: Duration) -> Vec<RangeReport> {
        let ranges = self.ranges.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = ranges.values().filter(|r| r.at.elapsed() <= within);
        fresh.cloned().collect()
    }

    /// What `group`'s leader last reported, if anything.
    pub fn group(&self, group: GroupId) -> Option<GroupReport> {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        groups.get(&group).cloned()
    }

    pub(crate) fn record(&self, node: NodeId, counts: Option<ReplicaCounts>) {
        let mut reports = self.lock();
        let previous = reports.get(&node).map(|r| r.counts).unwrap_or_default();
        let counts = counts.unwrap_or(previous);
        reports.insert(
            node,
            Report {
                at: Instant::now(),
                counts,
            },
        );
    }

    /// Nodes heard from within `within`.
    pub fn live(&self, within: Duration) -> Vec<NodeId> {
        let reports = self.lock();
        let mut live: Vec<_> = reports
            .iter()
            .filter(|(_, r)| r.at.elapsed() <= within)
            .map(|(n, _)| *n)
            .collect();
        live.sort_unstable();
        live
    }

    /// Whether `node` reported to this member at all (a new leader knows nobody yet).
    pub(crate) fn heard(&self, node: NodeId) -> bool {
        self.lock().contains_key(&node)
    }

    pub(crate) fn counts(&self, node: NodeId) -> ReplicaCounts {
        self.lock().get(&node).map(|r| r.counts).unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Report>> {
        self.reports.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_that_stops_leading_forgets_the_reports_but_not_its_decisions() {
        let liveness = Liveness::default();
        liveness.record(1, None);
        liveness.record(2, None);
        liveness.record_decision("split range 7".into());
        assert!(liveness.heard(1));
        assert_eq!(liveness.live(Duration::from_secs(60)), vec![1, 2]);
        liveness.forget_reports();
        assert!(!liveness.heard(1));
        assert!(liveness.live(Duration::from_secs(60)).is_empty());
        assert!(liveness.ranges(Duration::from_secs(60)).is_empty());
        assert_eq!(liveness.decisions().len(), 1);
    }
}
