//! The node-wide keyspaces every group's state machine writes into, and what the node
//! does with a group's share of them as a whole (delete it, list groups, footprint).

use super::GroupRecord;
use fjall::{Database, Keyspace};
use std::io;
use tessera_common::raftlog::io_err;
use tessera_common::snapshots::SnapshotDir;
use tessera_common::LogSyncer;
use tessera_proto::catalog::GroupId;

/// The node-wide keyspaces.
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

    /// Adds to `batch` the removal of every key in `[start, end)` and of their
    /// expiry-index entries.
    ///
    /// # Errors
    /// fjall errors.
    pub fn clear_batch(
        &self,
        batch: &mut fjall::OwnedWriteBatch,
        start: &[u8],
        end: &[u8],
    ) -> io::Result<()> {
        for kv in self.data.range(start..end) {
            batch.remove(&self.data, kv.key().map_err(io_err)?);
        }
        for kv in self.expiry.iter() {
            let key = kv.key().map_err(io_err)?;
            if key.len() >= 8 && (start..end).contains(&&key[8..]) {
                batch.remove(&self.expiry, key);
            }
        }
        Ok(())
    }

    /// Deletes `group`'s record, leaving the data of its range (a merge's source, whose
    /// data is its target's now).
    ///
    /// # Errors
    /// fjall errors.
    pub fn forget_record(&self, group: GroupId) -> io::Result<()> {
        self.groups.remove(group.to_be_bytes()).map_err(io_err)
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
        let mut batch = self.db.batch();
        self.clear_batch(&mut batch, &record.range.start, &record.range.end)?;
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
                let inside = start <= r.range.start.as_slice() && r.range.end.as_slice() <= end;
                records += u64::from(inside);
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
