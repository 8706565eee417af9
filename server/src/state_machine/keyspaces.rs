//! The node-wide keyspaces every group's state machine writes into, and what the node
//! does with a group's share of them as a whole (delete it, list groups, footprint).

use super::cache::ReadCache;
use super::GroupRecord;
use crate::engine::Source;
use crate::layout;
use fjall::{Database, Keyspace};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tessera_common::raftlog::io_err;
use tessera_common::snapshots::SnapshotDir;
use tessera_common::LogSyncer;
use tessera_proto::catalog::GroupId;
use tessera_proto::node_api::NodeCounters;

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
    /// Collections' member rows ([`crate::layout`]): row key → member value.
    pub members: Keyspace,
    /// Group commit.
    pub syncer: LogSyncer,
    /// The last built or installed snapshot of each group.
    pub snapshots: SnapshotDir,
    /// The point-read cache, if the node keeps one.
    pub cache: Option<Arc<ReadCache>>,
    /// Keys found and not found by the reads this node served.
    pub lookups: Arc<Lookups>,
}

/// Keys found and not found by read commands (Redis's `keyspace_hits` and
/// `keyspace_misses`), counted once per batch of reads.
#[derive(Debug)]
pub struct Lookups {
    hits: AtomicU64,
    misses: AtomicU64,
    /// When the counting started (Unix ms): a router tells a restarted node by it.
    started_ms: u64,
}

impl Default for Lookups {
    fn default() -> Self {
        use tessera_common::Clock;
        Self {
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            started_ms: tessera_common::clock::SystemClock.now_ms(),
        }
    }
}

impl Lookups {
    /// Counts `hits` keys found and `misses` not found.
    pub fn add(&self, hits: u64, misses: u64) {
        if hits > 0 {
            self.hits.fetch_add(hits, Ordering::Relaxed);
        }
        if misses > 0 {
            self.misses.fetch_add(misses, Ordering::Relaxed);
        }
    }

    /// The counts since the node started.
    pub fn counters(&self) -> NodeCounters {
        NodeCounters {
            keyspace_hits: self.hits.load(Ordering::Relaxed),
            keyspace_misses: self.misses.load(Ordering::Relaxed),
            started_ms: self.started_ms,
        }
    }
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
            members: db.keyspace("members", opts).map_err(io_err)?,
            syncer,
            snapshots,
            cache: None,
            lookups: Arc::default(),
        })
    }

    /// With a point-read cache of about `bytes` (0: none).
    #[must_use]
    pub fn with_read_cache(mut self, bytes: u64) -> Self {
        self.cache = (bytes > 0).then(|| Arc::new(ReadCache::new(bytes)));
        self
    }

    /// Commits `batch`, which may write any key of the data keyspace outside the apply
    /// of a batch (a snapshot installed, a replica's data deleted): the point-read
    /// cache serves nothing while it commits and forgets everything after.
    ///
    /// # Errors
    /// fjall errors.
    pub fn commit_rewrite(&self, batch: fjall::OwnedWriteBatch) -> io::Result<()> {
        let pending = self.cache.as_deref().map(ReadCache::writing_all);
        batch.commit().map_err(io_err)?;
        if let Some(pending) = pending {
            pending.cleared();
        }
        Ok(())
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
        for kv in self.members.range(layout::bound(start)..layout::bound(end)) {
            batch.remove(&self.members, kv.key().map_err(io_err)?);
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
        self.commit_rewrite(batch)?;
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
    pub fn keyspaces(&self) -> [&fjall::Keyspace; 4] {
        [&self.data, &self.groups, &self.expiry, &self.members]
    }

    /// A [`Source`] reading the keyspaces as they are now (to apply entries).
    pub fn current(&self) -> Stored<'_> {
        Stored {
            ks: self,
            view: None,
        }
    }

    /// A [`Source`] reading a consistent view taken now (to serve reads).
    pub fn view(&self) -> Stored<'_> {
        Stored {
            ks: self,
            view: Some(self.db.snapshot()),
        }
    }

    /// The stored bytes of the string key `key` as they are now, through the point-read
    /// cache (`state_machine::cache`): shared with the cache on a hit, read from a
    /// snapshot taken now on a miss (fjall's latest state may show part of a batch
    /// being committed: it reads at `SeqNo::MAX`). `cache` is this node's.
    ///
    /// # Errors
    /// fjall errors.
    pub fn get_now(&self, cache: &ReadCache, key: &[u8]) -> io::Result<Option<bytes::Bytes>> {
        match cache.get(key) {
            Ok(hit) => Ok(hit),
            Err(seen) => fjall::Readable::get(&self.db.snapshot(), &self.data, key)
                .map_err(io_err)
                .map(|value| cache.fill(seen, key, value.as_deref())),
        }
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

/// The stored state of the node's groups, read by the engine.
pub struct Stored<'a> {
    ks: &'a DataKeyspaces,
    view: Option<fjall::Snapshot>,
}

impl Stored<'_> {
    fn get_in(&self, keyspace: &Keyspace, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let value = match &self.view {
            Some(view) => fjall::Readable::get(view, keyspace, key),
            None => keyspace.get(key),
        };
        Ok(value.map_err(io_err)?.map(|v| v.to_vec()))
    }
}

impl Source for Stored<'_> {
    fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.get_in(&self.ks.data, key)
    }

    fn member(&self, row: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.get_in(&self.ks.members, row)
    }

    fn members(
        &self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
    ) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.rows(prefix, from, limit, false)
    }

    fn last_members(&self, prefix: &[u8], limit: usize) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.rows(prefix, prefix, limit, true)
    }
}

impl Stored<'_> {
    fn rows(
        &self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
        backwards: bool,
    ) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        use std::ops::Bound;
        let end = tessera_proto::keys::prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded);
        let range = (Bound::Included(from.to_vec()), end);
        let rows: Box<dyn DoubleEndedIterator<Item = fjall::Guard>> = match &self.view {
            Some(view) => Box::new(fjall::Readable::range(view, &self.ks.members, range)),
            None => Box::new(self.ks.members.range(range)),
        };
        let rows: Box<dyn Iterator<Item = fjall::Guard>> = if backwards {
            Box::new(rows.rev())
        } else {
            rows
        };
        let mut out = Vec::new();
        for kv in rows.take(limit) {
            let (k, v) = kv.into_inner().map_err(io_err)?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }
}
