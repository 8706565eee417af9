//! The state machine of one data group: its range of the node's `data` keyspace, plus a
//! per-group record (applied log id, membership, range descriptor, highest sequence,
//! fences) in the `group_state` keyspace. Each apply writes data and record in one
//! fjall batch, so they never disagree after a crash; the Raft log (fsynced) is
//! replayed from the recorded position on restart.
//!
//! The range descriptor — bounds and epoch — is replicated state: only a Raft command
//! changes it, identically on every replica. A command carries the epoch its leader
//! proposed it under and is refused at apply if the epoch moved meanwhile.

mod cache;
mod command;
mod keyspaces;
mod published;
mod ranges;
mod snapshot;

pub use crate::value::expiry_key;
pub use cache::{CacheStats, ReadCache};
pub use command::{Applied, CommandBody, DataCommand, DataReply, Recount, COLLECT_ROWS};
pub use keyspaces::{DataKeyspaces, Lookups};
pub use published::Published;
pub use ranges::RangeEvent;
pub use snapshot::GroupSnapshotBuilder;

use crate::engine::{Change, Engine};
use crate::value::{Seq, StoredValue};
use crate::DataTypes;
use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, OptionalSend};
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::Arc;
use tessera_common::raftlog::io_err;
use tessera_common::raftnet::SnapshotBytes;
use tessera_proto::catalog::{GroupId, RangeDesc};
use tessera_proto::data::DataError;
use tessera_proto::op::{Op, OpKind};
use tessera_proto::reply::Reply;

/// The persisted per-group record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Last applied log id.
    pub applied: Option<LogIdOf<DataTypes>>,
    /// Last applied membership.
    pub membership: StoredMembershipOf<DataTypes>,
    /// The range this group serves: bounds and epoch.
    pub range: RangeDesc,
    /// Highest sequence number applied.
    pub max_seq: Seq,
    /// Key prefixes whose writes are refused (tables being created or existing).
    pub fenced: Vec<Vec<u8>>,
    /// Bytes of the keys and stored values in the range (kept at apply). Never less
    /// than the truth; more after blind writes, which count every key as new.
    pub bytes: u64,
    /// The index of the freeze entry, once the range is frozen for a merge.
    pub frozen_at: Option<u64>,
    /// Merges into this range that were called off: (source group, freeze index).
    pub aborted_merges: Vec<(GroupId, u64)>,
    /// Merges into this range that were applied: (source group, freeze index).
    pub merged: Vec<(GroupId, u64)>,
    /// Bytes written blind since the range was last recounted ([`CommandBody::Recount`]):
    /// about how far `bytes` may be over when values keep their sizes.
    pub unsure: u64,
    /// The log index of the last recount applied: a count taken before it is stale.
    pub recounted_at: u64,
}

/// The reply to a write refused by a fence.
pub const FENCED: &str =
    "TRYAGAIN the key belongs to a table that is being created or was just created; retry";

/// The state machine of one group.
pub struct GroupStateMachine {
    group: GroupId,
    ks: DataKeyspaces,
    record: GroupRecord,
    applied: Arc<Published>,
    /// Where splits and merges are announced to the node (none in tests).
    events: Option<tokio::sync::mpsc::UnboundedSender<RangeEvent>>,
}

impl GroupStateMachine {
    /// Opens group `group`; a group new to this node starts as `range`.
    ///
    /// # Errors
    /// fjall or decoding errors.
    pub fn open(ks: DataKeyspaces, group: GroupId, range: &RangeDesc) -> io::Result<Self> {
        Self::open_with_events(ks, group, range, None)
    }

    /// [`GroupStateMachine::open`], announcing splits and merges on `events`.
    ///
    /// # Errors
    /// fjall or decoding errors.
    pub fn open_with_events(
        ks: DataKeyspaces,
        group: GroupId,
        range: &RangeDesc,
        events: Option<tokio::sync::mpsc::UnboundedSender<RangeEvent>>,
    ) -> io::Result<Self> {
        let record = match ks.record(group)? {
            Some(record) => record,
            None => GroupRecord {
                range: range.clone(),
                ..Default::default()
            },
        };
        let applied = Arc::new(Published::default());
        applied.publish(&record);
        Ok(Self {
            group,
            ks,
            record,
            applied,
            events,
        })
    }

    /// The applied state the group's request paths read.
    pub fn applied(&self) -> Arc<Published> {
        self.applied.clone()
    }

    fn is_fenced(&self, op: &Op) -> bool {
        !self.record.fenced.is_empty()
            && op
                .keys()
                .iter()
                .any(|k| self.record.fenced.iter().any(|p| k.starts_with(p)))
    }

    /// Evaluates one command, or refuses it if the range's epoch moved since it was
    /// proposed.
    fn run(&mut self, engine: &mut Engine<'_>, cmd: &DataCommand) -> io::Result<DataReply> {
        if cmd.epoch != self.record.range.epoch {
            return Ok(Err(self.epoch_mismatch()));
        }
        if self.record.frozen_at.is_some() {
            return Ok(Err(DataError::Frozen));
        }
        // A leader whose clock lags an earlier leader's may propose a lower sequence;
        // lifting it here keeps sequences increasing in log order, identically on every
        // replica.
        let base = cmd.seq.max(self.record.max_seq.nth(1));
        engine.now_ms = cmd.now_ms;
        engine.seq = base;
        let replies = match &cmd.body {
            CommandBody::Ops(ops) => {
                let mut replies = Vec::with_capacity(ops.len());
                for (i, op) in ops.iter().enumerate() {
                    engine.seq = base.nth(i);
                    replies.push(if op.is_write() && self.is_fenced(op) {
                        Reply::Error(FENCED.into())
                    } else {
                        engine.run(op)?
                    });
                }
                replies
            }
            CommandBody::Sweep(index_keys) => vec![engine.sweep(index_keys)?],
            CommandBody::Collect(prefixes) => vec![engine.collect(prefixes, COLLECT_ROWS)?],
            CommandBody::Ingest(rows) => vec![engine.restore_rows(rows)?],
            CommandBody::Recount(seen) => {
                // A count taken before the last recount applied (the same scan proposed
                // again by a new leader) would subtract the old over-count twice.
                if seen.applied >= self.record.recounted_at {
                    // Writes after the scan keep their counts; the blind ones before
                    // it are now counted right.
                    let since = i128::from(self.record.bytes) - i128::from(seen.bytes);
                    let bytes = (i128::from(seen.actual) + since).max(0);
                    self.record.bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
                    self.record.unsure = self.record.unsure.saturating_sub(seen.unsure);
                    self.record.recounted_at = self.record.applied.map_or(0, |l| l.index);
                }
                vec![Reply::Ok]
            }
            CommandBody::Clear => vec![self.clear_range(engine)?],
            CommandBody::Fence { prefix, on } => vec![self.fence(engine, prefix, *on)?],
            _ => {
                return Ok(Err(DataError::Internal(
                    "a range change in an op batch".into(),
                )))
            }
        };
        self.record.max_seq = base.nth(replies.len().saturating_sub(1));
        Ok(Ok(Applied::Replies(replies)))
    }

    /// The error for a command proposed under another epoch: the current descriptor
    /// and the group's voters.
    fn epoch_mismatch(&self) -> DataError {
        let members = self.record.membership.membership().voter_ids().collect();
        DataError::EpochMismatch {
            ranges: vec![self.record.range.clone()],
            members,
        }
    }

    /// Sets or lifts a fence on `prefix`; answers how many live keys have it, and one,
    /// counting what earlier entries of this apply batch wrote as well as what is stored.
    fn fence(&mut self, engine: &Engine<'_>, prefix: &[u8], on: bool) -> io::Result<Reply> {
        self.record.fenced.retain(|p| p != prefix);
        if on {
            self.record.fenced.push(prefix.to_vec());
        }
        // Only this range's keys: other ranges' keys on this node are theirs to count.
        let range = &self.record.range;
        let touched: std::collections::HashMap<Vec<u8>, bool> = engine
            .touched_with_prefix(prefix)
            .into_iter()
            .filter(|(k, _)| range.contains(k))
            .collect();
        let (mut count, mut example) = (0, None);
        let mut consider = |key: &[u8], live: bool| {
            if live {
                count += 1;
                example.get_or_insert_with(|| key.to_vec());
            }
        };
        let from = prefix.max(range.start.as_slice()).to_vec();
        let to = match tessera_proto::keys::prefix_end(prefix) {
            Some(end) if end.as_slice() < range.end.as_slice() => end,
            _ => range.end.clone(),
        };
        if from >= to {
            return Ok(Reply::Array(vec![Reply::Int(0), Reply::Nil]));
        }
        for kv in self.ks.data.range(from..to) {
            let (k, v) = kv.into_inner().map_err(io_err)?;
            if !touched.contains_key(k.as_ref()) {
                consider(&k, !StoredValue::is_expired_raw(&v, engine.now_ms));
            }
        }
        for (key, live) in &touched {
            consider(key, *live);
        }
        Ok(Reply::Array(vec![
            Reply::Int(count),
            example.map_or(Reply::Nil, Reply::bulk),
        ]))
    }

    /// Deletes every key of the range (FLUSHALL), including keys written earlier in
    /// the same batch.
    fn clear_range(&self, engine: &mut Engine<'_>) -> io::Result<Reply> {
        let range = &self.record.range;
        for kv in self
            .ks
            .data
            .range(range.start.as_slice()..range.end.as_slice())
        {
            engine.remove(&kv.key().map_err(io_err)?);
        }
        engine.clear_pending();
        Ok(Reply::Ok)
    }

    /// Writes what `engine` changed, and the record, in one batch.
    fn write(&mut self, engine: Engine<'_>) -> io::Result<()> {
        let changes = engine.into_changes();
        for change in &changes.keys {
            let new = change
                .new
                .as_ref()
                .map_or(0, |v| change.key.len() + v.encoded_len());
            let delta = new as i64 - change.old_size as i64;
            self.record.bytes = self.record.bytes.saturating_add_signed(delta);
            if change.blind {
                self.record.unsure += new as u64;
            }
        }
        for change in &changes.members {
            let new = change
                .new
                .as_ref()
                .map_or(0, |v| change.row.len() + v.len());
            let delta = new as i64 - change.old_size as i64;
            self.record.bytes = self.record.bytes.saturating_add_signed(delta);
        }
        let mut batch = self.ks.db.batch();
        for index_key in changes.stale_index {
            batch.remove(&self.ks.expiry, index_key);
        }
        // Before the commit, never after (state_machine::cache).
        let pending = self
            .ks
            .cache
            .as_deref()
            .map(|cache| cache.writing(changes.keys.iter().map(|c| c.key.as_slice())));
        write_changes(&self.ks, &mut batch, &changes.keys);
        for change in changes.members {
            match change.new {
                Some(value) => batch.insert(&self.ks.members, change.row, value),
                None => batch.remove(&self.ks.members, change.row),
            }
        }
        self.record_batch(&mut batch)?;
        batch.commit().map_err(io_err)?;
        // After the commit, never before (state_machine::cache).
        if let Some(pending) = pending {
            pending.written(changes.keys.iter().map(|c| c.key.as_slice()));
        }
        self.applied.publish(&self.record);
        // Wakes blocked requests waiting on these keys (nothing to do if none waits).
        self.applied
            .written(changes.keys.iter().map(|c| c.key.as_slice()));
        Ok(())
    }

    fn record_batch(&self, batch: &mut fjall::OwnedWriteBatch) -> io::Result<()> {
        let bytes = postcard::to_stdvec(&self.record).map_err(io_err)?;
        batch.insert(&self.ks.groups, self.group.to_be_bytes(), bytes);
        Ok(())
    }

    fn snapshot_meta(record: &GroupRecord) -> SnapshotMetaOf<DataTypes> {
        SnapshotMetaOf::<DataTypes> {
            last_log_id: record.applied,
            last_membership: record.membership.clone(),
        }
    }
}

/// Adds the net changes of an apply batch to `batch`: values, and expiry-index entries
/// moved from the old expiry to the new one.
fn write_changes(ks: &DataKeyspaces, batch: &mut fjall::OwnedWriteBatch, changes: &[Change]) {
    for change in changes {
        let new_expiry = change.new.as_ref().and_then(|v| v.expires_at_ms);
        if let Some(old) = change.old_expiry.filter(|old| Some(*old) != new_expiry) {
            batch.remove(&ks.expiry, expiry_key(old, &change.key));
        }
        if let Some(new) = new_expiry.filter(|new| Some(*new) != change.old_expiry) {
            batch.insert(&ks.expiry, expiry_key(new, &change.key), Vec::new());
        }
        match &change.new {
            Some(value) => batch.insert(&ks.data, change.key.as_slice(), value.encode()),
            None => batch.remove(&ks.data, change.key.as_slice()),
        }
    }
}

impl RaftStateMachine<DataTypes> for GroupStateMachine {
    type SnapshotData = SnapshotBytes;
    type SnapshotBuilder = GroupSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<DataTypes>>, StoredMembershipOf<DataTypes>), io::Error> {
        Ok((self.record.applied, self.record.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<DataTypes>, io::Error>> + Unpin + OptionalSend,
    {
        let started = std::time::Instant::now();
        let ks = self.ks.clone();
        let read = ks.current();
        let mut engine = Engine::new(&read, 0, Seq::default());
        let mut replies = Vec::new();
        let mut events = Vec::new();
        let mut applied = 0u64;
        while let Some((entry, responder)) = entries.try_next().await? {
            applied += 1;
            let reply = match entry.payload {
                EntryPayload::Normal(DataCommand {
                    epoch,
                    body: CommandBody::Change(change),
                    ..
                }) => {
                    // Everything before it is written first: a split counts and a merge
                    // hands over the data as it stands.
                    self.write(std::mem::replace(
                        &mut engine,
                        Engine::new(&read, 0, Seq::default()),
                    ))?;
                    let (reply, event) = self.change_range(entry.log_id, epoch, &change).await?;
                    events.extend(event);
                    reply
                }
                EntryPayload::Normal(cmd) => {
                    self.record.applied = Some(entry.log_id);
                    self.run(&mut engine, &cmd)?
                }
                EntryPayload::Blank => {
                    self.record.applied = Some(entry.log_id);
                    Ok(Applied::Replies(Vec::new()))
                }
                EntryPayload::Membership(m) => {
                    self.record.applied = Some(entry.log_id);
                    self.record.membership =
                        StoredMembershipOf::<DataTypes>::new(Some(entry.log_id), m);
                    Ok(Applied::Replies(Vec::new()))
                }
            };
            if let Some(responder) = responder {
                replies.push((responder, reply));
            }
        }
        self.write(engine)?;
        if let Some(tx) = &self.events {
            for event in events {
                let _ = tx.send(event);
            }
        }
        for (responder, reply) in replies {
            responder.send(reply);
        }
        metrics::histogram!("tessera_node_apply_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("tessera_node_apply_batch_entries").record(applied as f64);
        metrics::counter!("tessera_node_applied_entries_total").increment(applied);
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        GroupSnapshotBuilder {
            ks: self.ks.clone(),
            group: self.group,
            view: self.ks.db.snapshot(),
        }
    }

    async fn install_snapshot(
        &mut self,
        _meta: &SnapshotMetaOf<DataTypes>,
        snapshot: SnapshotBytes,
    ) -> Result<(), io::Error> {
        let payload: snapshot::SnapshotPayload =
            postcard::from_bytes(snapshot.get_ref()).map_err(io_err)?;
        metrics::counter!("tessera_node_snapshots_installed_total").increment(1);
        let mut batch = self.ks.db.batch();
        let range = &payload.record.range;
        tracing::info!(
            group = self.group,
            range = range.id,
            epoch = range.epoch,
            applied = payload.record.applied.as_ref().map_or(0, |l| l.index),
            keys = payload.entries.len(),
            "installing a snapshot"
        );
        self.ks.clear_batch(&mut batch, &range.start, &range.end)?;
        for (k, v) in payload.entries {
            if let Some(at) = StoredValue::decode(&v).and_then(|s| s.expires_at_ms) {
                batch.insert(&self.ks.expiry, expiry_key(at, &k), Vec::new());
            }
            batch.insert(&self.ks.data, k, v);
        }
        for (row, v) in payload.members {
            batch.insert(&self.ks.members, row, v);
        }
        self.record = payload.record;
        self.record_batch(&mut batch)?;
        self.ks.commit_rewrite(batch)?;
        self.ks.syncer.sync().await?;
        let marker = postcard::to_stdvec(&self.record).map_err(io_err)?;
        self.ks.snapshots.save(self.group, &marker)?;
        self.applied.publish(&self.record);
        Ok(())
    }

    /// The data of the current snapshot, read now from a consistent view of the range.
    /// Its state is at or after the recorded snapshot point (never before: the state
    /// only moves forward), which is all a follower installing it needs. `None` until a
    /// snapshot was built or installed.
    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<DataTypes, SnapshotBytes>>, io::Error> {
        if self.ks.snapshots.load(self.group)?.is_none() {
            return Ok(None);
        }
        let (ks, group, view) = (self.ks.clone(), self.group, self.ks.db.snapshot());
        let bytes = tokio::task::spawn_blocking(move || snapshot::read_snapshot(&ks, group, &view))
            .await
            .map_err(io_err)??;
        snapshot::snapshot_of(bytes).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_common::Store;

    #[test]
    fn a_command_under_another_epoch_answers_the_current_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let ks = DataKeyspaces::open(&store.db, store.syncer.clone(), store.snapshots.clone());
        let range = RangeDesc {
            epoch: 3,
            end: vec![0xff],
            ..Default::default()
        };
        let mut sm = GroupStateMachine::open(ks.unwrap(), 1, &range).unwrap();
        let read = |_: &[u8]| -> io::Result<Option<Vec<u8>>> { Ok(None) };
        let mut engine = Engine::new(&read, 0, Seq::default());
        let cmd = DataCommand {
            seq: Seq::default(),
            now_ms: 0,
            epoch: 2,
            body: CommandBody::Clear,
        };
        let refused = sm.run(&mut engine, &cmd).unwrap();
        assert_eq!(
            refused,
            Err(DataError::EpochMismatch {
                ranges: vec![range],
                members: Vec::new(),
            })
        );
        assert!(!engine.changed());
    }
}
