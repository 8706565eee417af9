//! Elastic ranges: what the controller decides from the leaders' reports of each
//! range's size and load, one action per tick at most:
//!
//! - **split by size** a range over `split_bytes`, at its middle key by size;
//! - **split by load** a range over `split_qps` for `split_after`, at a key that
//!   leaves a similar share of the sampled requests on each side (a range whose load is
//!   one key's cannot split, and its leader says so);
//! - **merge** a range that an automatic split started back into its left neighbour
//!   when both stayed under a quarter of `split_bytes` and a tenth of `split_qps` for
//!   `merge_after` (moving the right one's replicas onto the left one's nodes first);
//! - **spread leaders**: move the leadership of a hot range off a node that leads more
//!   than its share of the load, and keep leader counts within ±1 of the mean.
//!
//! Every action is logged with its reason; only settled groups are touched.

use super::ranges::{show, Reshaper};
use crate::catalog::{CatalogRules, MetaCommand};
use crate::liveness::RangeReport;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;
use tessera_proto::catalog::{Catalog, GroupId, NodeId, RangeDesc, RangeId};
use tessera_proto::data::{DataRequest, DataResponse};
use tokio::time::Instant;

/// Below this total load (requests/s) leaders are balanced by count only.
const LOAD_FLOOR: f64 = 100.0;
/// A node leading more than this multiple of the mean load sheds a hot leader.
const LOAD_SLACK: f64 = 1.25;
/// After a leader transfer, how long to wait for the reports to show it.
const TRANSFER_SETTLE: Duration = Duration::from_secs(3);

/// What the elastic planner remembers between ticks.
#[derive(Default)]
pub(crate) struct Elastic {
    /// Each range's reported requests/s over the last `split_after`: (report time, qps).
    load: HashMap<RangeId, VecDeque<(std::time::Instant, f64)>>,
    /// Since when each (left, right) pair has been cold enough to merge.
    cold_since: HashMap<(RangeId, RangeId), Instant>,
    /// The last leader transfer: the group, the node it went to, and when.
    transfer: Option<(GroupId, NodeId, Instant)>,
    /// Transfers that did not take (the target was not caught up, or refused): not
    /// tried again for a while.
    failed_transfers: HashMap<(GroupId, NodeId), Instant>,
    /// Ranges that could not split lately (no split key), and when that was found.
    unsplittable: HashMap<RangeId, Instant>,
}

/// A follower this many entries behind its leader is not a transfer target.
const TRANSFER_LAG: u64 = 64;
/// How long a transfer that did not take is not tried again.
const TRANSFER_BACKOFF: Duration = Duration::from_secs(30);

/// Something to do.
enum Action {
    Split {
        range: RangeDesc,
        by_load: bool,
        reason: String,
    },
    Merge {
        left: RangeDesc,
        right: RangeDesc,
        reason: String,
    },
    Colocate(MetaCommand, String),
    Transfer {
        range: RangeDesc,
        to: NodeId,
        reason: String,
    },
}

impl Elastic {
    /// The leaders' fresh reports of the catalog's ranges as they are.
    fn reports(shaper: &Reshaper<'_>, catalog: &Catalog) -> Vec<RangeReport> {
        shaper
            .service
            .liveness
            .ranges(Duration::from_secs(3))
            .into_iter()
            .filter(|r| catalog.ranges.get(&r.range.id) == Some(&r.range))
            .collect()
    }

    /// Records the leaders' load reports (every tick, also while a new meta leader
    /// waits before acting, so a sustained load counts from when it began).
    pub(crate) fn observe(&mut self, shaper: &Reshaper<'_>, catalog: &Catalog) {
        let reports = Self::reports(shaper, catalog);
        let window = shaper.config.split_after;
        self.load
            .retain(|id, _| reports.iter().any(|r| r.range.id == *id));
        for report in &reports {
            let samples = self.load.entry(report.range.id).or_default();
            if samples.back().is_none_or(|(at, _)| *at < report.at) {
                samples.push_back((report.at, report.load.qps));
            }
            while samples.front().is_some_and(|(at, _)| at.elapsed() > window) {
                samples.pop_front();
            }
        }
    }

    /// The range's mean requests/s over `split_after`, once reports cover that long.
    fn sustained_qps(&self, range: RangeId, window: Duration) -> Option<f64> {
        let samples = self.load.get(&range)?;
        let (oldest, _) = samples.front()?;
        // Reports come every heartbeat: a window covered but for the last one is full.
        if oldest.elapsed() + Duration::from_secs(1) < window {
            return None;
        }
        Some(samples.iter().map(|(_, q)| q).sum::<f64>() / samples.len() as f64)
    }

    /// Takes at most one elastic step.
    pub(crate) async fn step(&mut self, shaper: &Reshaper<'_>, catalog: &Catalog) {
        let reports = Self::reports(shaper, catalog);
        let Some(action) = self.plan(shaper, catalog, &reports) else {
            return;
        };
        match action {
            Action::Split {
                range,
                by_load,
                reason,
            } => self.split(shaper, &range, by_load, &reason).await,
            Action::Merge {
                left,
                right,
                reason,
            } => {
                self.cold_since.remove(&(left.id, right.id));
                if let Err(e) = shaper.merge(catalog, &left, &right, &reason).await {
                    tracing::warn!(left = left.id, right = right.id, error = %e, "merge failed");
                }
            }
            Action::Colocate(cmd, reason) => {
                tracing::info!(change = %cmd, reason, "co-locating ranges to merge them");
                super::propose(shaper.service, cmd).await;
            }
            Action::Transfer { range, to, reason } => {
                self.transfer = Some((range.group, to, Instant::now()));
                transfer(shaper, &range, to, &reason).await;
            }
        }
    }

    fn plan(
        &mut self,
        shaper: &Reshaper<'_>,
        catalog: &Catalog,
        reports: &[RangeReport],
    ) -> Option<Action> {
        let config = shaper.config;
        self.unsplittable
            .retain(|_, at| at.elapsed() < config.split_after);
        for report in reports {
            let (range, load) = (&report.range, &report.load);
            if self.unsplittable.contains_key(&range.id) {
                continue;
            }
            if shaper.settled(catalog, range.group).is_err() {
                continue;
            }
            if config.split_bytes > 0 && load.bytes > config.split_bytes {
                let reason = format!(
                    "size {} bytes over --split-bytes {}",
                    load.bytes, config.split_bytes
                );
                return Some(Action::Split {
                    range: range.clone(),
                    by_load: false,
                    reason,
                });
            }
            let sustained = self.sustained_qps(range.id, config.split_after);
            let hot = sustained.filter(|q| config.split_qps > 0.0 && *q > config.split_qps);
            if let (Some(qps), true) = (hot, load.splittable) {
                let reason = format!(
                    "{qps:.0} requests/s on average over {}s, above --split-qps {}",
                    config.split_after.as_secs(),
                    config.split_qps,
                );
                return Some(Action::Split {
                    range: range.clone(),
                    by_load: true,
                    reason,
                });
            }
        }
        if let Some(action) = self.merge_candidate(shaper, catalog, reports) {
            return Some(action);
        }
        self.leader_move(shaper, catalog, reports)
    }

    async fn split(
        &mut self,
        shaper: &Reshaper<'_>,
        range: &RangeDesc,
        by_load: bool,
        reason: &str,
    ) {
        let req = DataRequest::SplitKey { by_load };
        let at = match shaper.send(range, req).await {
            Ok(DataResponse::SplitKey(Ok(at))) => at,
            Ok(DataResponse::SplitKey(Err(why))) => {
                tracing::info!(range = range.id, reason, why, "range cannot split now");
                self.unsplittable.insert(range.id, Instant::now());
                return;
            }
            Ok(other) => {
                tracing::warn!(range = range.id, ?other, "unexpected answer to a split key");
                return;
            }
            Err(e) => {
                tracing::debug!(range = range.id, error = %e, "no split key");
                return;
            }
        };
        self.load.remove(&range.id);
        match shaper.split(range, &at, true, reason).await {
            Ok(child) => tracing::info!(
                range = range.id,
                new_range = child.id,
                at = %show(&at),
                reason,
                "controller split a range"
            ),
            Err(e) => tracing::warn!(range = range.id, error = %e, reason, "split failed"),
        }
    }

    /// Two cold neighbours to merge (or a replica move that co-locates them first).
    fn merge_candidate(
        &mut self,
        shaper: &Reshaper<'_>,
        catalog: &Catalog,
        reports: &[RangeReport],
    ) -> Option<Action> {
        let config = shaper.config;
        if config.split_bytes == 0 && config.split_qps == 0.0 {
            return None; // Elastic ranges are off.
        }
        let by_id: HashMap<RangeId, &RangeReport> =
            reports.iter().map(|r| (r.range.id, r)).collect();
        let cold = |r: &RangeReport| {
            let small = config.split_bytes == 0 || r.load.bytes < config.split_bytes / 4;
            let quiet = config.split_qps == 0.0 || r.load.qps < config.split_qps / 10.0;
            small && quiet && r.load.frozen_at.is_none()
        };
        let mut pairs = Vec::new();
        for right_id in &catalog.elastic {
            let Some(right) = by_id.get(right_id) else {
                continue;
            };
            let left = reports
                .iter()
                .find(|l| l.range.table == right.range.table && l.range.end == right.range.start);
            let Some(left) = left else { continue };
            if cold(left) && cold(right) {
                pairs.push((left.range.clone(), right.range.clone()));
            }
        }
        let now = Instant::now();
        self.cold_since
            .retain(|key, _| pairs.iter().any(|(l, r)| (l.id, r.id) == *key));
        for (left, right) in pairs {
            let since = *self.cold_since.entry((left.id, right.id)).or_insert(now);
            if since.elapsed() < config.merge_after {
                continue;
            }
            let reason = format!(
                "ranges {} and {} under a quarter of --split-bytes and a tenth of \
                 --split-qps for {}s",
                left.id,
                right.id,
                config.merge_after.as_secs()
            );
            match shaper.colocated(catalog, &left, &right) {
                Ok(()) => {
                    return Some(Action::Merge {
                        left,
                        right,
                        reason,
                    })
                }
                Err(_) => {
                    if let Some(cmd) = colocate_step(shaper, catalog, &left, &right) {
                        return Some(Action::Colocate(cmd, reason));
                    }
                }
            }
        }
        None
    }

    /// A leader to move: off a node leading more than its share of the load, else off
    /// a node leading more groups than the mean + 1.
    fn leader_move(
        &mut self,
        shaper: &Reshaper<'_>,
        catalog: &Catalog,
        reports: &[RangeReport],
    ) -> Option<Action> {
        if let Some((group, to, at)) = self.transfer {
            if at.elapsed() < TRANSFER_SETTLE {
                return None;
            }
            let led = reports
                .iter()
                .any(|r| r.range.group == group && r.leader == to);
            if !led {
                tracing::info!(
                    group,
                    to,
                    "leader transfer did not take; not retried for 30s"
                );
                self.failed_transfers.insert((group, to), Instant::now());
            }
            self.transfer = None;
        }
        self.failed_transfers
            .retain(|_, at| at.elapsed() < TRANSFER_BACKOFF);
        let nodes = shaper.service.live_active(catalog);
        if nodes.len() < 2 {
            return None;
        }
        let mut load: BTreeMap<NodeId, f64> = nodes.iter().map(|n| (*n, 0.0)).collect();
        let mut leaders: BTreeMap<NodeId, usize> = nodes.iter().map(|n| (*n, 0)).collect();
        for r in reports {
            *load.entry(r.leader).or_default() += r.load.qps;
            *leaders.entry(r.leader).or_default() += 1;
        }
        // Voters that could take over: live, caught up, not refused lately.
        let voters = |r: &RangeReport| -> Vec<NodeId> {
            let group = r.range.group;
            let members = shaper.settled(catalog, group).unwrap_or_default();
            let report = shaper.service.liveness.group(group);
            let caught_up = |m: &NodeId| {
                report.as_ref().is_some_and(|g| {
                    let lag = g.membership.lag.iter().find(|(n, _)| n == m);
                    lag.is_some_and(|(_, lag)| *lag <= TRANSFER_LAG)
                })
            };
            let eligible = members.into_iter().filter(|m| *m != r.leader);
            eligible
                .filter(|m| nodes.contains(m) && caught_up(m))
                .filter(|m| !self.failed_transfers.contains_key(&(group, *m)))
                .collect()
        };
        let total: f64 = load.values().sum();
        let mean = total / nodes.len() as f64;
        let (busiest, most) = load
            .iter()
            .filter(|(n, _)| nodes.contains(n))
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(n, l)| (*n, *l))?;
        if total >= LOAD_FLOOR && most > mean * LOAD_SLACK {
            let mut hot: Vec<&RangeReport> =
                reports.iter().filter(|r| r.leader == busiest).collect();
            hot.sort_by(|a, b| b.load.qps.total_cmp(&a.load.qps));
            for r in hot.into_iter().filter(|r| r.load.qps > 0.0) {
                let q = r.load.qps;
                let to = voters(r)
                    .into_iter()
                    .min_by(|a, b| load[a].total_cmp(&load[b]))
                    .filter(|t| load[t] + q < most);
                if let Some(to) = to {
                    let reason = format!(
                        "node {busiest} leads {most:.0} requests/s, over {LOAD_SLACK}x the \
                         mean {mean:.0}; range {} carries {q:.0}",
                        r.range.id
                    );
                    return Some(Action::Transfer {
                        range: r.range.clone(),
                        to,
                        reason,
                    });
                }
            }
        }
        let count = |n: &NodeId| leaders.get(n).copied().unwrap_or(0);
        let top = *nodes.iter().max_by_key(|n| (count(n), **n))?;
        let bottom = *nodes.iter().min_by_key(|n| (count(n), **n))?;
        if count(&top) <= count(&bottom) + 1 {
            return None;
        }
        let ceiling = (mean * LOAD_SLACK).max(LOAD_FLOOR);
        let mut led: Vec<&RangeReport> = reports.iter().filter(|r| r.leader == top).collect();
        led.sort_by(|a, b| a.load.qps.total_cmp(&b.load.qps));
        let r = led
            .into_iter()
            .find(|r| voters(r).contains(&bottom) && load[&bottom] + r.load.qps <= ceiling)?;
        let reason = format!(
            "node {top} leads {} groups, node {bottom} {}",
            count(&top),
            count(&bottom)
        );
        Some(Action::Transfer {
            range: r.range.clone(),
            to: bottom,
            reason,
        })
    }
}

/// One replica move that brings the groups of `left` and `right` onto the same nodes:
/// `right`'s group towards `left`'s nodes, or, where one of those nodes takes no new
/// replicas (it is draining), `left`'s group towards `right`'s.
pub(crate) fn colocate_step(
    shaper: &Reshaper<'_>,
    catalog: &Catalog,
    left: &RangeDesc,
    right: &RangeDesc,
) -> Option<MetaCommand> {
    let l = shaper.settled(catalog, left.group).ok()?;
    let r = shaper.settled(catalog, right.group).ok()?;
    if l.len() != r.len() {
        return None; // Different replica counts never co-locate.
    }
    let towards = |group, from: &[NodeId], to: &[NodeId]| {
        let remove = from.iter().find(|n| !to.contains(n))?;
        let add = to.iter().find(|n| catalog.may_join(group, **n))?;
        Some(MetaCommand::MoveReplica {
            group,
            remove: Some(*remove),
            add: Some(*add),
        })
    };
    towards(right.group, &r, &l).or_else(|| towards(left.group, &l, &r))
}

/// Hands `range`'s leadership to `to`, and counts it.
async fn transfer(shaper: &Reshaper<'_>, range: &RangeDesc, to: NodeId, reason: &str) {
    match shaper.send(range, DataRequest::TransferLeader { to }).await {
        Ok(_) => {
            tracing::info!(
                range = range.id,
                group = range.group,
                to,
                reason,
                "leader moved"
            );
            super::propose(shaper.service, MetaCommand::CountLeaderTransfer).await;
        }
        Err(e) => tracing::debug!(range = range.id, error = %e, "leader transfer failed"),
    }
}
