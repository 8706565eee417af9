//! The state machine of one data group: its range of the node's `data` keyspace, plus a
//! per-group record (applied log id, membership, range bounds, highest sequence) in the
//! `group_state` keyspace. Each apply writes data and record in one fjall batch, so
//! they never disagree after a crash; the Raft log (fsynced) is replayed from the
//! recorded position on restart.
//!
//! Snapshots are read from a fjall snapshot of exactly the group's range and installing
//! one replaces exactly that range.

use crate::ops::{Change, Engine, Op, OpResult};
use crate::value::{Seq, StoredValue};
use crate::DataTypes;
use fjall::{Database, Keyspace, Readable};
use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine, Snapshot};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::{Arc, Mutex};
use tessera_common::raftlog::io_err;
use tessera_common::raftnet::SnapshotBytes;
use tessera_common::snapshots::SnapshotDir;
use tessera_common::LogSyncer;
use tessera_meta::catalog::GroupId;

/// A replicated write: ops applied atomically, with the leader's sequence number and
/// clock carried in the entry so every replica computes the same result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataCommand {
    /// Sequence number of the first op; op `i` gets `seq.nth(i)`.
    pub seq: Seq,
    /// The leader's clock when it proposed the write.
    pub now_ms: u64,
    /// The ops.
    pub ops: Vec<Op>,
}

impl std::fmt::Display for DataCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataCommand({} ops, seq {:?})", self.ops.len(), self.seq)
    }
}

/// The result of applying one [`DataCommand`].
pub type DataReply = Vec<OpResult>;

/// The persisted per-group record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Last applied log id.
    pub applied: Option<LogIdOf<DataTypes>>,
    /// Last applied membership.
    pub membership: StoredMembershipOf<DataTypes>,
    /// First storage key of the range.
    pub start: Vec<u8>,
    /// End storage key of the range (exclusive).
    pub end: Vec<u8>,
    /// Highest sequence number applied.
    pub max_seq: Seq,
    /// Key prefixes whose writes are refused (tables being created or existing).
    pub fenced: Vec<Vec<u8>>,
}

/// The node-wide keyspaces every group's state machine writes into.
#[derive(Clone)]
pub struct DataKeyspaces {
    /// The database.
    pub db: Database,
    /// User data: storage key → stored value.
    pub data: Keyspace,
    /// Per-group records.
    pub groups: Keyspace,
    /// Expiry index: expiry time (ms, 8 bytes BE) ++ storage key → empty.
    pub expiry: Keyspace,
    /// Group commit.
    pub syncer: LogSyncer,
    /// The last built or installed snapshot of each group.
    pub snapshots: SnapshotDir,
}

impl DataKeyspaces {
    /// Opens the data keyspaces of `db`.
    ///
    /// # Errors
    /// fjall errors.
    pub fn open(db: &Database, syncer: LogSyncer, snapshots: SnapshotDir) -> io::Result<Self> {
        let opts = fjall::KeyspaceCreateOptions::default;
        Ok(Self {
            db: db.clone(),
            data: db.keyspace("data", opts).map_err(io_err)?,
            groups: db.keyspace("group_state", opts).map_err(io_err)?,
            expiry: db.keyspace("expiry", opts).map_err(io_err)?,
            syncer,
            snapshots,
        })
    }

    /// Deletes everything a replica of `group` left in the data keyspaces: the keys of
    /// its range, their expiry-index entries, its record and its snapshot file; then
    /// fsyncs. (Its Raft log is the log store's to delete.)
    ///
    /// # Errors
    /// fjall or file-system errors.
    pub async fn destroy_group(&self, group: GroupId) -> io::Result<()> {
        let Some(record) = self.record(group)? else {
            return Ok(());
        };
        let (start, end) = (record.start.as_slice(), record.end.as_slice());
        let mut batch = self.db.batch();
        for kv in self.data.range(start..end) {
            batch.remove(&self.data, kv.key().map_err(io_err)?);
        }
        for kv in self.expiry.iter() {
            let key = kv.key().map_err(io_err)?;
            if key.len() >= 8 && (start..end).contains(&&key[8..]) {
                batch.remove(&self.expiry, key);
            }
        }
        batch.remove(&self.groups, group.to_be_bytes());
        batch.commit().map_err(io_err)?;
        self.syncer.sync().await?;
        self.snapshots.remove(group)
    }

    /// Groups that have a record on this node.
    ///
    /// # Errors
    /// fjall errors.
    pub fn recorded_groups(&self) -> io::Result<Vec<GroupId>> {
        let mut groups = Vec::new();
        for kv in self.groups.iter() {
            let key = kv.key().map_err(io_err)?;
            if let Ok(bytes) = <[u8; 8]>::try_from(key.as_ref()) {
                groups.push(u64::from_be_bytes(bytes));
            }
        }
        Ok(groups)
    }

    /// The data keyspaces, for [`tessera_common::store::compact_keyspaces`].
    pub fn keyspaces(&self) -> [&fjall::Keyspace; 3] {
        [&self.data, &self.groups, &self.expiry]
    }

    /// Keys stored in `[start, end)` and group records whose range lies inside it: what
    /// a dropped table may have left behind.
    ///
    /// # Errors
    /// fjall or decoding errors.
    pub fn footprint(&self, start: &[u8], end: &[u8]) -> io::Result<(u64, u64)> {
        let mut keys = 0;
        for kv in self.data.range(start..end) {
            kv.key().map_err(io_err)?;
            keys += 1;
        }
        let mut records = 0;
        for group in self.recorded_groups()? {
            if let Some(r) = self.record(group)? {
                records += u64::from(start <= r.start.as_slice() && r.end.as_slice() <= end);
            }
        }
        Ok((keys, records))
    }

    /// The stored record of `group`, if the group has ever existed here.
    ///
    /// # Errors
    /// fjall or decoding errors.
    pub fn record(&self, group: GroupId) -> io::Result<Option<GroupRecord>> {
        match self.groups.get(group.to_be_bytes()).map_err(io_err)? {
            Some(bytes) => postcard::from_bytes(&bytes).map(Some).map_err(io_err),
            None => Ok(None),
        }
    }
}

/// Snapshot contents: the record, then every key/value of the range. The record comes
/// first so that the snapshot's metadata can be read without decoding the data.
#[derive(Serialize, Deserialize)]
struct SnapshotPayload {
    record: GroupRecord,
    #[serde(with = "tessera_common::wire_bytes::byte_pairs")]
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Wraps stored snapshot bytes with the metadata their record describes.
fn snapshot_of(bytes: Vec<u8>) -> io::Result<SnapshotOf<DataTypes, SnapshotBytes>> {
    let (record, _) = postcard::take_from_bytes::<GroupRecord>(&bytes).map_err(io_err)?;
    let meta = GroupStateMachine::snapshot_meta(&record);
    Ok(Snapshot {
        meta,
        snapshot: SnapshotBytes::new(bytes),
    })
}

/// The state machine of one group.
pub struct GroupStateMachine {
    group: GroupId,
    ks: DataKeyspaces,
    record: GroupRecord,
    max_seq: Arc<Mutex<Seq>>,
}

impl GroupStateMachine {
    /// Opens group `group`; a new group starts with range `[start, end)`.
    ///
    /// # Errors
    /// fjall or decoding errors.
    pub fn open(ks: DataKeyspaces, group: GroupId, start: &[u8], end: &[u8]) -> io::Result<Self> {
        let record = match ks.record(group)? {
            Some(record) => record,
            None => GroupRecord {
                start: start.to_vec(),
                end: end.to_vec(),
                ..Default::default()
            },
        };
        let max_seq = Arc::new(Mutex::new(record.max_seq));
        Ok(Self {
            group,
            ks,
            record,
            max_seq,
        })
    }

    /// The highest applied sequence number, shared with the group's proposer.
    pub fn max_seq(&self) -> Arc<Mutex<Seq>> {
        self.max_seq.clone()
    }

    fn is_fenced(&self, op: &Op) -> bool {
        !self.record.fenced.is_empty()
            && op
                .keys()
                .iter()
                .any(|k| self.record.fenced.iter().any(|p| k.starts_with(p)))
    }

    /// Sets or lifts a fence on `prefix`; answers how many live keys have it, and one,
    /// counting what earlier entries of this apply batch wrote as well as what is stored.
    fn fence(&mut self, engine: &Engine<'_>, prefix: &[u8], on: bool) -> io::Result<OpResult> {
        self.record.fenced.retain(|p| p != prefix);
        if on {
            self.record.fenced.push(prefix.to_vec());
        }
        let touched: std::collections::HashMap<Vec<u8>, bool> =
            engine.touched_with_prefix(prefix).into_iter().collect();
        let (mut count, mut example) = (0, None);
        let mut consider = |key: &[u8], live: bool| {
            if live {
                count += 1;
                example.get_or_insert_with(|| key.to_vec());
            }
        };
        for kv in self.ks.data.prefix(prefix) {
            let (k, v) = kv.into_inner().map_err(io_err)?;
            if !touched.contains_key(k.as_ref()) {
                consider(&k, !StoredValue::is_expired_raw(&v, engine.now_ms));
            }
        }
        for (key, live) in &touched {
            consider(key, *live);
        }
        Ok(OpResult::Array(vec![
            OpResult::Int(count),
            example.map_or(OpResult::Nil, OpResult::Bulk),
        ]))
    }

    /// Deletes every key of the range (FLUSHALL), including keys written earlier in
    /// the same batch.
    fn clear_range(&self, engine: &mut Engine<'_>) -> io::Result<OpResult> {
        for kv in self
            .ks
            .data
            .range(self.record.start.as_slice()..self.record.end.as_slice())
        {
            engine.remove(&kv.key().map_err(io_err)?);
        }
        engine.clear_pending();
        Ok(OpResult::Ok)
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

/// The reply to a write refused by a fence.
pub const FENCED: &str =
    "TRYAGAIN the key belongs to a table that is being created or was just created; retry";

/// The expiry-index key of `key` expiring at `at_ms`: time first, so that everything
/// due by a given time is one range read.
pub fn expiry_key(at_ms: u64, key: &[u8]) -> Vec<u8> {
    [&at_ms.to_be_bytes()[..], key].concat()
}

/// Adds the net changes of an apply batch to `batch`: values, and expiry-index entries
/// moved from the old expiry to the new one.
fn write_changes(ks: &DataKeyspaces, batch: &mut fjall::OwnedWriteBatch, changes: Vec<Change>) {
    for change in changes {
        let new_expiry = change.new.as_ref().and_then(|v| v.expires_at_ms);
        if let Some(old) = change.old_expiry.filter(|old| Some(*old) != new_expiry) {
            batch.remove(&ks.expiry, expiry_key(old, &change.key));
        }
        if let Some(new) = new_expiry.filter(|new| Some(*new) != change.old_expiry) {
            batch.insert(&ks.expiry, expiry_key(new, &change.key), Vec::new());
        }
        match change.new {
            Some(value) => batch.insert(&ks.data, change.key, value.encode()),
            None => batch.remove(&ks.data, change.key),
        }
    }
}

/// Builds a snapshot from a fjall snapshot taken between two applies.
pub struct GroupSnapshotBuilder {
    ks: DataKeyspaces,
    group: GroupId,
    view: fjall::Snapshot,
}

impl RaftSnapshotBuilder<DataTypes> for GroupSnapshotBuilder {
    type SnapshotData = SnapshotBytes;

    /// Records the snapshot point only. openraft keeps just the metadata of a built
    /// snapshot (to decide what log it may purge) and asks `get_current_snapshot` for
    /// the data when a follower needs it, so copying the whole range here would only
    /// double the disk used. The returned data is empty: it is never installed.
    async fn build_snapshot(&mut self) -> Result<SnapshotOf<DataTypes, SnapshotBytes>, io::Error> {
        let record = read_record(&self.ks, self.group, &self.view)?;
        let marker = postcard::to_stdvec(&record).map_err(io_err)?;
        let (ks, group) = (self.ks.clone(), self.group);
        tokio::task::spawn_blocking(move || ks.snapshots.save(group, &marker))
            .await
            .map_err(io_err)??;
        let meta = GroupStateMachine::snapshot_meta(&record);
        Ok(Snapshot {
            meta,
            snapshot: SnapshotBytes::new(Vec::new()),
        })
    }
}

/// The group's record as of `view`.
fn read_record(
    ks: &DataKeyspaces,
    group: GroupId,
    view: &fjall::Snapshot,
) -> io::Result<GroupRecord> {
    match view.get(&ks.groups, group.to_be_bytes()).map_err(io_err)? {
        Some(bytes) => postcard::from_bytes(&bytes).map_err(io_err),
        None => Ok(GroupRecord::default()),
    }
}

/// Serializes the group's record and range from a consistent fjall view.
fn read_snapshot(
    ks: &DataKeyspaces,
    group: GroupId,
    view: &fjall::Snapshot,
) -> io::Result<Vec<u8>> {
    let record = read_record(ks, group, view)?;
    let mut entries = Vec::new();
    for kv in view.range(&ks.data, record.start.as_slice()..record.end.as_slice()) {
        let (k, v) = kv.into_inner().map_err(io_err)?;
        entries.push((k.to_vec(), v.to_vec()));
    }
    postcard::to_stdvec(&SnapshotPayload { record, entries }).map_err(io_err)
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
        let data = self.ks.data.clone();
        let read = move |key: &[u8]| -> io::Result<Option<Vec<u8>>> {
            Ok(data.get(key).map_err(io_err)?.map(|v| v.to_vec()))
        };
        let mut engine = Engine::new(&read, 0, Seq::default());
        let mut replies = Vec::new();
        while let Some((entry, responder)) = entries.try_next().await? {
            self.record.applied = Some(entry.log_id);
            let reply = match entry.payload {
                EntryPayload::Blank => Vec::new(),
                EntryPayload::Normal(cmd) => {
                    // A leader whose clock lags an earlier leader's may propose a lower
                    // sequence; lifting it here keeps sequences increasing in log order,
                    // identically on every replica.
                    let base = cmd.seq.max(self.record.max_seq.nth(1));
                    engine.now_ms = cmd.now_ms;
                    let mut results = Vec::with_capacity(cmd.ops.len());
                    for (i, op) in cmd.ops.iter().enumerate() {
                        engine.seq = base.nth(i);
                        results.push(match op {
                            Op::FlushRange => self.clear_range(&mut engine)?,
                            Op::Fence { prefix, on } => self.fence(&engine, prefix, *on)?,
                            op if op.is_write() && self.is_fenced(op) => {
                                OpResult::Error(FENCED.into())
                            }
                            op => engine.run(op)?,
                        });
                    }
                    self.record.max_seq = base.nth(cmd.ops.len().saturating_sub(1));
                    results
                }
                EntryPayload::Membership(m) => {
                    self.record.membership =
                        StoredMembershipOf::<DataTypes>::new(Some(entry.log_id), m);
                    Vec::new()
                }
            };
            if let Some(responder) = responder {
                replies.push((responder, reply));
            }
        }
        let mut batch = self.ks.db.batch();
        write_changes(&self.ks, &mut batch, engine.into_changes());
        self.record_batch(&mut batch)?;
        batch.commit().map_err(io_err)?;
        *self.max_seq.lock().unwrap_or_else(|p| p.into_inner()) = self.record.max_seq;
        for (responder, reply) in replies {
            responder.send(reply);
        }
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
        let payload: SnapshotPayload = postcard::from_bytes(snapshot.get_ref()).map_err(io_err)?;
        let mut batch = self.ks.db.batch();
        let (start, end) = (
            payload.record.start.as_slice(),
            payload.record.end.as_slice(),
        );
        for kv in self.ks.data.range(start..end) {
            batch.remove(&self.ks.data, kv.key().map_err(io_err)?);
        }
        for kv in self.ks.expiry.iter() {
            let index_key = kv.key().map_err(io_err)?;
            if index_key.len() >= 8 && (start..end).contains(&&index_key[8..]) {
                batch.remove(&self.ks.expiry, index_key);
            }
        }
        for (k, v) in payload.entries {
            if let Some(at) = StoredValue::decode(&v).and_then(|s| s.expires_at_ms) {
                batch.insert(&self.ks.expiry, expiry_key(at, &k), Vec::new());
            }
            batch.insert(&self.ks.data, k, v);
        }
        self.record = payload.record;
        self.record_batch(&mut batch)?;
        batch.commit().map_err(io_err)?;
        self.ks.syncer.sync().await?;
        let marker = postcard::to_stdvec(&self.record).map_err(io_err)?;
        self.ks.snapshots.save(self.group, &marker)?;
        *self.max_seq.lock().unwrap_or_else(|p| p.into_inner()) = self.record.max_seq;
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
        let bytes = tokio::task::spawn_blocking(move || read_snapshot(&ks, group, &view))
            .await
            .map_err(io_err)??;
        snapshot_of(bytes).map(Some)
    }
}
