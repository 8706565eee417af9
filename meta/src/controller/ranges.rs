//! Splits and merges, carried out step by step, each step safe to repeat and every
//! outcome recorded in the catalog only after the group applied it:
//!
//! - **split**: ask the meta group for the new range's and group's ids, then propose
//!   the split to the range's group; record the two descriptors it answers (the
//!   catalog takes only a higher epoch), then wait until the new range serves;
//! - **merge** (of a range into its left neighbour, replicas co-located): freeze the
//!   right range (its group stops serving), wait until every replica of it applied the
//!   freeze, then propose the merge to the left range's group and record it. If the
//!   replicas do not catch up in time, the merge is called off *in the left group's
//!   log* first (a merge proposed later is refused there), and only then is the right
//!   range thawed: so a range is never absorbed and serving at once.
//!
//! After a meta failover the new leader finds what a step left half done in the
//! leaders' reports ([`Reshaper::recover`]): a split or merge applied but not
//! recorded, a range frozen for a merge that never finished.

use super::ControllerConfig;
use crate::catalog::{Applied, MetaCommand};
use crate::liveness::RangeReport;
use crate::service::MetaService;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::failpoint;
use tessera_proto::call::{call, CallOptions, Routing};
use tessera_proto::catalog::{Catalog, GroupId, NodeId, RangeDesc};
use tessera_proto::data::{DataRequest, DataResponse, RangeChange};
use tessera_proto::meta_api::MetaResponse;
use tessera_proto::node_api::{NodeRequest, NodeResponse};
use tessera_proto::range_map::Route;
use tessera_proto::routing::CatalogRouting;
use tokio::time::Instant;

/// Budget of one request to a group.
const STEP_DEADLINE: Duration = Duration::from_secs(10);
/// How long a merge waits for the source's replicas to apply its freeze.
const CATCH_UP_DEADLINE: Duration = Duration::from_secs(5);
/// What a target answers to a merge that was called off (see the state machine).
const MERGE_CALLED_OFF: &str = "this merge was called off";
/// How often it asks them meanwhile.
const CATCH_UP_POLL: Duration = Duration::from_millis(20);

/// Carries out splits and merges for the controller.
pub(crate) struct Reshaper<'a> {
    pub(crate) service: &'a MetaService,
    pub(crate) routing: &'a CatalogRouting,
    pub(crate) config: &'a ControllerConfig,
}

/// A range's start (or any storage key) for logs.
pub(crate) fn show(key: &[u8]) -> String {
    let user = key.get(4..).unwrap_or_default();
    String::from_utf8_lossy(user).into_owned()
}

impl Reshaper<'_> {
    /// Sends `req` to `range`'s group at `range`'s epoch.
    pub(crate) async fn send(
        &self,
        range: &RangeDesc,
        req: DataRequest,
    ) -> Result<DataResponse, String> {
        let route = Route {
            range: Arc::new(range.clone()),
            leader: self.routing.leader_of(range.group),
        };
        let options = CallOptions {
            until: Instant::now() + STEP_DEADLINE,
            stale_is_error: true,
        };
        call(
            self.routing,
            &range.start,
            Some(route),
            &Arc::new(req),
            options,
        )
        .await
        .map_err(|e| e.to_string())
    }

    async fn propose(&self, cmd: MetaCommand) -> Result<Applied, String> {
        let what = cmd.to_string();
        match self.service.propose(cmd).await {
            Ok(applied) => {
                tracing::info!(change = %what, "controller changed the catalog");
                Ok(applied)
            }
            Err(MetaResponse::Error(e)) => Err(e),
            Err(_) => Err("this meta member lost its leadership".into()),
        }
    }

    /// Whether `group`'s leader reported, recently, exactly the catalog's members as
    /// voters, no change under way, and every member is live.
    pub(crate) fn settled(&self, catalog: &Catalog, group: GroupId) -> Result<Vec<NodeId>, String> {
        let Some(desc) = catalog.groups.get(&group) else {
            return Err(format!("group {group} is not in the catalog"));
        };
        let report = self.service.liveness.group(group);
        let dead_after = self.config.dead_after;
        let Some(report) = report.filter(|r| r.at.elapsed() < dead_after) else {
            return Err(format!("group {group} has no leader reporting"));
        };
        let m = &report.membership;
        let voters: BTreeSet<NodeId> = m.voters.iter().copied().collect();
        let members: BTreeSet<NodeId> = desc.members.iter().copied().collect();
        if m.joint || !m.learners.is_empty() || voters != members {
            return Err(format!("group {group} is changing its replicas"));
        }
        let live: BTreeSet<NodeId> = self.service.liveness.live(dead_after).into_iter().collect();
        if let Some(down) = members.iter().find(|n| !live.contains(n)) {
            return Err(format!("node {down} of group {group} is down"));
        }
        Ok(desc.members.clone())
    }

    /// Splits `range` at storage key `at` (strictly inside it); the new range once it
    /// serves.
    pub(crate) async fn split(
        &self,
        range: &RangeDesc,
        at: &[u8],
        automatic: bool,
        reason: &str,
    ) -> Result<RangeDesc, String> {
        let first = match self.propose(MetaCommand::AllocateIds { count: 2 }).await? {
            Applied::Ids(first) => first,
            other => return Err(format!("unexpected answer to an id request: {other:?}")),
        };
        let req = DataRequest::Change(RangeChange::Split {
            at: at.to_vec().into(),
            child_range: first,
            child_group: first + 1,
        });
        let (parent, child, members) = match self.send(range, req).await? {
            DataResponse::Ranges { ranges, members } if ranges.len() == 2 => {
                (ranges[0].clone(), ranges[1].clone(), members)
            }
            DataResponse::Ranges { .. } => return Err("the split answered no new range".into()),
            other => return Err(format!("unexpected answer to a split: {other:?}")),
        };
        tracing::info!(
            table = parent.table,
            range = parent.id,
            new_range = child.id,
            new_group = child.group,
            at = %show(at),
            reason,
            "split applied"
        );
        failpoint::hit("meta-split-before-record");
        self.propose(MetaCommand::RecordSplit {
            parent,
            child: child.clone(),
            members,
            automatic,
        })
        .await?;
        self.wait_serving(&child).await?;
        Ok(child)
    }

    /// Waits until `range` answers a linearizable read (its group has a leader that
    /// applied the change).
    pub(crate) async fn wait_serving(&self, range: &RangeDesc) -> Result<(), String> {
        let route = Route {
            range: Arc::new(range.clone()),
            leader: None,
        };
        let options = CallOptions {
            until: Instant::now() + STEP_DEADLINE,
            stale_is_error: false,
        };
        let req = Arc::new(DataRequest::Read(Vec::new()));
        match call(self.routing, &range.start, Some(route), &req, options).await {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("range {} does not serve yet: {e}", range.id)),
        }
    }

    /// Whether `left`'s and `right`'s groups are settled on the same nodes.
    pub(crate) fn colocated(
        &self,
        catalog: &Catalog,
        left: &RangeDesc,
        right: &RangeDesc,
    ) -> Result<(), String> {
        let mut a = self.settled(catalog, left.group)?;
        let mut b = self.settled(catalog, right.group)?;
        a.sort_unstable();
        b.sort_unstable();
        if a != b {
            return Err(format!(
                "ranges {} and {} are not on the same nodes ({a:?}, {b:?})",
                left.id, right.id
            ));
        }
        Ok(())
    }

    /// Merges `right` into its left neighbour `left` (co-located, checked here).
    pub(crate) async fn merge(
        &self,
        catalog: &Catalog,
        left: &RangeDesc,
        right: &RangeDesc,
        reason: &str,
    ) -> Result<(), String> {
        self.colocated(catalog, left, right)?;
        let (frozen, index) = match self
            .send(right, DataRequest::Change(RangeChange::Freeze))
            .await?
        {
            DataResponse::Frozen { range, index } => (range, index),
            other => return Err(format!("unexpected answer to a freeze: {other:?}")),
        };
        tracing::info!(range = right.id, index, reason, "merge: source frozen");
        failpoint::hit("meta-merge-after-freeze");
        self.finish_merge(catalog, left, &frozen, index, reason)
            .await
    }

    /// Absorbs the frozen `source` into `target` if every replica of the source applied
    /// the freeze in time; otherwise calls the merge off and thaws the source.
    pub(crate) async fn finish_merge(
        &self,
        catalog: &Catalog,
        target: &RangeDesc,
        source: &RangeDesc,
        frozen_at: u64,
        reason: &str,
    ) -> Result<(), String> {
        let ready = match self.colocated(catalog, target, source) {
            Ok(()) => self.caught_up(catalog, source.group, frozen_at).await,
            Err(e) => Err(e),
        };
        if let Err(why) = ready {
            self.call_off(target, source, frozen_at).await?;
            return Err(format!("merge called off: {why}"));
        }
        let req = DataRequest::Change(RangeChange::Merge {
            source: source.clone(),
            frozen_at,
        });
        let merged = match self.send(target, req).await {
            Ok(DataResponse::Ranges { ranges, .. }) if ranges.len() == 1 => ranges[0].clone(),
            Ok(other) => return Err(format!("unexpected answer to a merge: {other:?}")),
            // Called off earlier (a thaw that did not get through): thaw now.
            Err(e) if e.contains(MERGE_CALLED_OFF) => {
                self.call_off(target, source, frozen_at).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        tracing::info!(
            table = merged.table,
            range = merged.id,
            absorbed = source.id,
            reason,
            "merge applied"
        );
        failpoint::hit("meta-merge-before-record");
        self.propose(MetaCommand::RecordMerge {
            target: merged.clone(),
            source: source.clone(),
        })
        .await?;
        self.wait_serving(&merged).await
    }

    /// Waits until every replica of `group` applied index `at` (and made it durable).
    async fn caught_up(&self, catalog: &Catalog, group: GroupId, at: u64) -> Result<(), String> {
        let members = catalog.groups.get(&group).map(|g| g.members.clone());
        let members = members.ok_or_else(|| format!("group {group} is not in the catalog"))?;
        let deadline = Instant::now() + CATCH_UP_DEADLINE;
        let mut behind: BTreeSet<NodeId> = members.into_iter().collect();
        while !behind.is_empty() {
            if Instant::now() >= deadline {
                return Err(format!(
                    "replicas on {behind:?} did not apply the freeze in time"
                ));
            }
            for node in behind.clone() {
                let Some(client) = self.routing.client(node) else {
                    continue;
                };
                let req = NodeRequest::Applied { group };
                if let Ok(NodeResponse::Applied(Ok(applied))) =
                    client.call(&req, CATCH_UP_DEADLINE).await
                {
                    if applied >= at {
                        behind.remove(&node);
                    }
                }
            }
            if !behind.is_empty() {
                tokio::time::sleep(CATCH_UP_POLL).await;
            }
        }
        Ok(())
    }

    /// Calls the merge of `source` into `target` off (in `target`'s log), then thaws
    /// the source; or records the merge if `target` had applied it after all.
    async fn call_off(
        &self,
        target: &RangeDesc,
        source: &RangeDesc,
        frozen_at: u64,
    ) -> Result<(), String> {
        let req = DataRequest::Change(RangeChange::AbortMerge {
            source: source.group,
            frozen_at,
        });
        let options = CallOptions {
            until: Instant::now() + STEP_DEADLINE,
            stale_is_error: false,
        };
        let answer = call(self.routing, &target.start, None, &Arc::new(req), options).await;
        match answer.map_err(|e| e.to_string())? {
            DataResponse::Aborted => {}
            DataResponse::Ranges { ranges, .. } if ranges.len() == 1 => {
                let cmd = MetaCommand::RecordMerge {
                    target: ranges[0].clone(),
                    source: source.clone(),
                };
                self.propose(cmd).await?;
                return Ok(());
            }
            other => return Err(format!("unexpected answer to a merge abort: {other:?}")),
        }
        let thawed = match self
            .send(source, DataRequest::Change(RangeChange::Unfreeze))
            .await?
        {
            DataResponse::Ranges { ranges, .. } if ranges.len() == 1 => ranges[0].clone(),
            other => return Err(format!("unexpected answer to a thaw: {other:?}")),
        };
        tracing::info!(range = thawed.id, "merge called off: range thawed");
        self.propose(MetaCommand::RecordEpoch { range: thawed })
            .await?;
        Ok(())
    }

    /// Records what leaders report but the catalog does not have yet (a split or merge
    /// applied before a meta failover, or a thaw), and finishes or calls off merges
    /// left frozen. Answers whether there was anything to do.
    ///
    /// `leading_for`: how long this member has led. Only reports heard meanwhile count,
    /// and while it is under `--dead-after` a frozen merge whose members have not all
    /// reported yet waits for them (they report within a heartbeat) instead of being
    /// called off.
    pub(crate) async fn recover(&self, catalog: &Catalog, leading_for: Duration) -> bool {
        let dead_after = self.config.dead_after;
        let reports = self.service.liveness.ranges(leading_for.min(dead_after));
        let mut acted = false;
        for report in &reports {
            let Some(known) = catalog.ranges.get(&report.range.id) else {
                continue;
            };
            if report.range.epoch <= known.epoch {
                continue;
            }
            let cmd = self.unrecorded(catalog, &reports, report, known);
            if let Some(cmd) = cmd {
                acted = true;
                if let Err(e) = self.propose(cmd).await {
                    tracing::warn!(error = %e, "cannot record a reported range change");
                }
            }
        }
        if acted {
            return true;
        }
        for report in reports.iter().filter(|r| r.load.frozen_at.is_some()) {
            let source = &report.range;
            let known = catalog.ranges.get(&source.id);
            if !known.is_some_and(|k| k.group == source.group && k.epoch < source.epoch) {
                continue; // Merged or dropped meanwhile: an old report.
            }
            let target = catalog.ranges.values().find(|r| {
                r.table == source.table && r.end == source.start && r.group != source.group
            });
            let (Some(target), Some(frozen_at)) = (target, report.load.frozen_at) else {
                continue;
            };
            let target = fresher(&reports, target);
            if leading_for < dead_after && self.colocated(catalog, &target, source).is_err() {
                return true; // Not every member has reported to this new leader yet.
            }
            let reason = "finishing an interrupted merge";
            if let Err(e) = self
                .finish_merge(catalog, &target, source, frozen_at, reason)
                .await
            {
                tracing::warn!(range = source.id, error = %e, "interrupted merge");
            }
            return true;
        }
        false
    }

    /// The catalog command that records what `report` (newer than `known`) says.
    fn unrecorded(
        &self,
        catalog: &Catalog,
        reports: &[RangeReport],
        report: &RangeReport,
        known: &RangeDesc,
    ) -> Option<MetaCommand> {
        let range = &report.range;
        if range.end < known.end {
            // Split: the new range's leader reports it too.
            let child = reports.iter().find(|c| {
                c.range.table == range.table
                    && c.range.start == range.end
                    && !catalog.ranges.contains_key(&c.range.id)
            })?;
            let members = self.service.liveness.group(child.range.group)?;
            return Some(MetaCommand::RecordSplit {
                parent: range.clone(),
                child: child.range.clone(),
                members: members.membership.voters,
                automatic: false,
            });
        }
        if range.end > known.end {
            let source = catalog
                .ranges
                .values()
                .find(|r| r.table == range.table && r.start == known.end)?;
            return Some(MetaCommand::RecordMerge {
                target: range.clone(),
                source: source.clone(),
            });
        }
        if report.load.frozen_at.is_none() {
            return Some(MetaCommand::RecordEpoch {
                range: range.clone(),
            });
        }
        None // Frozen: finished (or called off) below.
    }
}

/// The reported descriptor of `range` if newer than the catalog's.
fn fresher(reports: &[RangeReport], range: &RangeDesc) -> RangeDesc {
    reports
        .iter()
        .find(|r| r.range.id == range.id && r.range.epoch > range.epoch)
        .map_or_else(|| range.clone(), |r| r.range.clone())
}
