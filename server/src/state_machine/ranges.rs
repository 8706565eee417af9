//! Commands that change the range itself — split, freeze, merge — applied identically
//! on every replica, each in one fjall batch with the records it touches. No data
//! moves: every group of a node shares the node's data keyspace, so a split only moves
//! a bound (and writes the new group's record), and a merge only widens the target's.

use super::{Applied, DataReply, GroupRecord, GroupStateMachine};
use crate::DataTypes;
use openraft::type_config::alias::{LeaderIdOf, LogIdOf, StoredMembershipOf};
use openraft::vote::RaftLeaderIdExt;
use std::io;
use std::time::Duration;
use tessera_common::failpoint;
use tessera_common::raftlog::io_err;
use tessera_proto::catalog::{GroupId, RangeDesc, RangeId};
use tessera_proto::data::{DataError, RangeChange};

/// What the node must do after a range change was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeEvent {
    /// Start the new group `child` (its record is written), split from `parent`.
    Split {
        /// The group that split.
        parent: GroupId,
        /// The new group.
        child: GroupId,
    },
    /// Stop the absorbed group `source` and delete its Raft log (its data is now the
    /// target's).
    Merged {
        /// The absorbing group.
        target: GroupId,
        /// The absorbed group.
        source: GroupId,
    },
}

/// How many merge decisions (applied or called off) a range remembers.
const DECISIONS_KEPT: usize = 16;

/// How often an apply of a merge looks whether the source's replica on this node has
/// applied its freeze yet.
const SOURCE_POLL: Duration = Duration::from_millis(10);

impl GroupStateMachine {
    /// Applies a range change at `log_id`: its reply, and what the node must do.
    pub(super) async fn change_range(
        &mut self,
        log_id: LogIdOf<DataTypes>,
        epoch: u64,
        change: &RangeChange,
    ) -> io::Result<(DataReply, Option<RangeEvent>)> {
        // An abort is a decision about a merge into this range, whatever its epoch.
        let decision = matches!(change, RangeChange::AbortMerge { .. });
        if epoch != self.record.range.epoch && !decision {
            return Ok((Err(self.epoch_mismatch()), None));
        }
        let mut batch = self.ks.db.batch();
        let outcome = match change {
            RangeChange::Freeze => self.freeze(log_id.index()),
            RangeChange::Unfreeze => self.unfreeze(),
            RangeChange::AbortMerge { source, frozen_at } => {
                Ok((self.abort_merge(*source, *frozen_at), None))
            }
            _ if self.record.frozen_at.is_some() => Err(DataError::Frozen),
            RangeChange::Split {
                at,
                child_range,
                child_group,
            } => self.split(&mut batch, log_id, at, *child_range, *child_group)?,
            RangeChange::Merge { source, frozen_at } => {
                self.merge(&mut batch, source, *frozen_at).await?
            }
        };
        let split = matches!(change, RangeChange::Split { .. });
        if split {
            failpoint::hit("split-before-apply");
        }
        self.record.applied = Some(log_id);
        self.record_batch(&mut batch)?;
        batch.commit().map_err(io_err)?;
        match outcome {
            Ok(_) if split => failpoint::hit("split-after-apply"),
            Ok(_) if matches!(change, RangeChange::Merge { .. }) => {
                failpoint::hit("merge-after-apply")
            }
            _ => {}
        }
        self.applied.publish(&self.record);
        Ok(match outcome {
            Ok((applied, event)) => (Ok(applied), event),
            Err(e) => (Err(e), None),
        })
    }

    fn freeze(&mut self, index: u64) -> Result<(Applied, Option<RangeEvent>), DataError> {
        let at = *self.record.frozen_at.get_or_insert(index);
        if at == index {
            self.record.range.epoch += 1;
        }
        Ok((Applied::Frozen(self.record.range.clone(), at), None))
    }

    fn unfreeze(&mut self) -> Result<(Applied, Option<RangeEvent>), DataError> {
        if self.record.frozen_at.take().is_some() {
            self.record.range.epoch += 1;
        }
        Ok((self.ranges(), None))
    }

    /// The descriptor and the voters, as a range change answers them.
    fn ranges(&self) -> Applied {
        let voters = self.record.membership.membership().voter_ids().collect();
        Applied::Ranges(vec![self.record.range.clone()], voters)
    }

    /// Records that the merge of `source` frozen at `frozen_at` is called off, unless
    /// it was applied already: then the answer is the merged range (the caller records
    /// the merge rather than unfreezing the source).
    fn abort_merge(&mut self, source: GroupId, frozen_at: u64) -> Applied {
        let merged = self.record.merged.contains(&(source, frozen_at));
        if merged {
            return self.ranges();
        }
        let aborted = &mut self.record.aborted_merges;
        if !aborted.contains(&(source, frozen_at)) {
            aborted.push((source, frozen_at));
            let excess = aborted.len().saturating_sub(DECISIONS_KEPT);
            aborted.drain(..excess);
        }
        Applied::Replies(Vec::new())
    }

    /// Why this group cannot split or merge now: a membership change under way (the
    /// new group would start from it).
    fn membership_problem(&self) -> Option<DataError> {
        let membership = self.record.membership.membership();
        let changing =
            membership.get_joint_config().len() > 1 || membership.learner_ids().next().is_some();
        changing.then(|| DataError::Internal("the group's membership is changing; retry".into()))
    }

    fn split(
        &mut self,
        batch: &mut fjall::OwnedWriteBatch,
        log_id: LogIdOf<DataTypes>,
        at: &[u8],
        child_range: RangeId,
        child_group: GroupId,
    ) -> io::Result<Result<(Applied, Option<RangeEvent>), DataError>> {
        let parent = self.record.range.clone();
        if !(parent.start.as_slice() < at && at < parent.end.as_slice()) {
            let why = "the split key is not strictly inside the range";
            return Ok(Err(DataError::Internal(why.into())));
        }
        if let Some(problem) = self.membership_problem() {
            return Ok(Err(problem));
        }
        let mut child_bytes = 0u64;
        for kv in self.ks.data.range(at..parent.end.as_slice()) {
            let (k, v) = kv.into_inner().map_err(io_err)?;
            child_bytes += (k.len() + v.len()) as u64;
        }
        let epoch = parent.epoch + 1;
        let child = RangeDesc {
            id: child_range,
            table: parent.table,
            start: at.to_vec(),
            end: parent.end.clone(),
            epoch,
            group: child_group,
        };
        // The new group starts as if its log up to here were applied and purged: the
        // same synthetic log id on every replica (term 0, so any leader it elects has a
        // higher term), with the parent's voters.
        let leader =
            LeaderIdOf::<DataTypes>::new_committed(0, log_id.committed_leader_id().node_id);
        let start = LogIdOf::<DataTypes>::new(leader, log_id.index());
        let membership = self.record.membership.membership().clone();
        let record = GroupRecord {
            applied: Some(start),
            membership: StoredMembershipOf::<DataTypes>::new(Some(start), membership),
            range: child.clone(),
            max_seq: self.record.max_seq,
            // Fences only refuse writes to keys with their prefix: the child keeps them
            // all (those outside its range never match).
            fenced: self.record.fenced.clone(),
            bytes: child_bytes,
            ..Default::default()
        };
        let bytes = postcard::to_stdvec(&record).map_err(io_err)?;
        batch.insert(&self.ks.groups, child_group.to_be_bytes(), bytes);
        self.record.range.end = at.to_vec();
        self.record.range.epoch = epoch;
        self.record.bytes = self.record.bytes.saturating_sub(child_bytes);
        let voters = self.record.membership.membership().voter_ids().collect();
        let ranges = vec![self.record.range.clone(), child];
        let event = RangeEvent::Split {
            parent: self.group,
            child: child_group,
        };
        Ok(Ok((Applied::Ranges(ranges, voters), Some(event))))
    }

    /// Absorbs the frozen right neighbour. Its replica on this node must have applied
    /// the freeze (so its data here is complete and final); the controller proposes the
    /// merge only once every source replica has, but after a restart this replica may
    /// replay the merge before the source replays its freeze, so this waits for it.
    async fn merge(
        &mut self,
        batch: &mut fjall::OwnedWriteBatch,
        source: &RangeDesc,
        frozen_at: u64,
    ) -> io::Result<Result<(Applied, Option<RangeEvent>), DataError>> {
        let target = &self.record.range;
        if source.start != target.end || source.table != target.table {
            return Ok(Err(DataError::Internal(
                "the source is not the right neighbour".into(),
            )));
        }
        if self
            .record
            .aborted_merges
            .contains(&(source.group, frozen_at))
        {
            let why = "this merge was called off";
            return Ok(Err(DataError::Internal(why.into())));
        }
        if let Some(problem) = self.membership_problem() {
            return Ok(Err(problem));
        }
        let absorbed = self.wait_for_frozen_source(source, frozen_at).await?;
        batch.remove(&self.ks.groups, source.group.to_be_bytes());
        let range = &mut self.record.range;
        range.end = absorbed.range.end.clone();
        range.epoch = range.epoch.max(absorbed.range.epoch) + 1;
        self.record.bytes += absorbed.bytes;
        self.record.unsure += absorbed.unsure;
        self.record.max_seq = self.record.max_seq.max(absorbed.max_seq);
        for prefix in absorbed.fenced {
            if !self.record.fenced.contains(&prefix) {
                self.record.fenced.push(prefix);
            }
        }
        let merged = &mut self.record.merged;
        merged.push((source.group, frozen_at));
        let excess = merged.len().saturating_sub(DECISIONS_KEPT);
        merged.drain(..excess);
        let event = RangeEvent::Merged {
            target: self.group,
            source: source.group,
        };
        Ok(Ok((self.ranges(), Some(event))))
    }

    async fn wait_for_frozen_source(
        &self,
        source: &RangeDesc,
        frozen_at: u64,
    ) -> io::Result<GroupRecord> {
        let mut waited = Duration::ZERO;
        loop {
            if let Some(record) = self.ks.record(source.group)? {
                let applied = record.applied.as_ref().map_or(0, |l| l.index());
                if record.frozen_at == Some(frozen_at) && applied >= frozen_at {
                    return Ok(record);
                }
            }
            if waited.as_secs() > 0 && waited.as_millis() % 5_000 < SOURCE_POLL.as_millis() {
                tracing::warn!(
                    group = self.group,
                    source = source.group,
                    "merge waits for the source replica on this node to apply its freeze"
                );
            }
            tokio::time::sleep(SOURCE_POLL).await;
            waited += SOURCE_POLL;
        }
    }
}
