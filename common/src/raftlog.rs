//! The Raft log and vote of every group on a node, in one fjall database.
//!
//! Layout (all integers big-endian, so keys sort by group, then index):
//! - keyspace `raft_log`: `group (8) ++ index (8)` → postcard entry;
//! - keyspace `raft_state`: `group (8) ++ tag (1)` → postcard vote / last purged / committed.
//!
//! Durability: `append` makes entries readable at once and reports them flushed only
//! after a group-committed fsync ([`LogSyncer`]); `save_vote` returns after its fsync;
//! `purge` first fsyncs the whole database, so state-machine writes that the purged
//! entries produced are durable before the entries disappear.

use crate::syncer::LogSyncer;
use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::type_config::alias::{LogIdOf, VoteOf};
use openraft::{OptionalSend, RaftLogReader, RaftTypeConfig};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};

const TAG_VOTE: u8 = 1;
const TAG_PURGED: u8 = 2;
const TAG_COMMITTED: u8 = 3;

/// The keyspaces and sync thread shared by every group's log on one node.
#[derive(Clone)]
pub struct LogKeyspaces {
    db: Database,
    logs: Keyspace,
    state: Keyspace,
    syncer: LogSyncer,
}

impl LogKeyspaces {
    /// The log keyspaces, for [`crate::store::compact_keyspaces`].
    pub fn keyspaces(&self) -> [&Keyspace; 2] {
        [&self.logs, &self.state]
    }

    /// Opens (or creates) the log keyspaces in `db`.
    ///
    /// # Errors
    /// fjall errors opening the keyspaces.
    pub fn open(db: &Database, syncer: LogSyncer) -> io::Result<Self> {
        let logs = db
            .keyspace("raft_log", KeyspaceCreateOptions::default)
            .map_err(io_err)?;
        let state = db
            .keyspace("raft_state", KeyspaceCreateOptions::default)
            .map_err(io_err)?;
        Ok(Self {
            db: db.clone(),
            logs,
            state,
            syncer,
        })
    }

    /// The group-commit handle of this database.
    pub fn syncer(&self) -> &LogSyncer {
        &self.syncer
    }

    /// Deletes every log entry and all Raft state of `group` (the replica was removed).
    ///
    /// # Errors
    /// fjall errors.
    pub async fn destroy_group(&self, group: u64) -> io::Result<()> {
        let mut batch = self.db.batch();
        for kv in self
            .logs
            .range(log_key(group, 0)..=log_key(group, u64::MAX))
        {
            batch.remove(&self.logs, kv.key().map_err(io_err)?);
        }
        for tag in [TAG_VOTE, TAG_PURGED, TAG_COMMITTED] {
            batch.remove(&self.state, state_key(group, tag));
        }
        batch.commit().map_err(io_err)?;
        self.syncer.sync().await
    }
}

/// Most entries the in-memory cache of a group's log tail holds.
const CACHE_ENTRIES: usize = 256;
/// Most encoded bytes it holds.
const CACHE_BYTES: usize = 4 << 20;

/// The newest entries of a group's log, consecutive, in memory: the leader reads each
/// entry again to send it to every follower and to apply it, and followers to apply
/// it; without the cache each read is a seek in a large memtable plus a decode.
struct EntryCache<E> {
    entries: std::collections::VecDeque<(E, usize)>,
    bytes: usize,
}

/// What the cache needs of an entry.
trait Indexed {
    fn log_index(&self) -> u64;
}

impl<E: RaftEntry> Indexed for E {
    fn log_index(&self) -> u64 {
        self.index()
    }
}

impl<E: Indexed + Clone> EntryCache<E> {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.log_index())
    }

    fn push(&mut self, entry: E, size: usize) {
        let follows = self
            .entries
            .back()
            .is_none_or(|(last, _)| last.log_index() + 1 == entry.log_index());
        if !follows {
            self.clear();
        }
        self.bytes += size;
        self.entries.push_back((entry, size));
        while self.entries.len() > CACHE_ENTRIES || self.bytes > CACHE_BYTES {
            let Some((_, size)) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= size;
        }
    }

    /// Entries `start..=end`, if the cache holds all of them.
    fn get(&self, start: u64, end: u64) -> Option<Vec<E>> {
        let first = self.first_index()?;
        let last = first + self.entries.len() as u64 - 1;
        if start < first || end > last {
            return None;
        }
        let from = (start - first) as usize;
        let to = (end - first) as usize;
        Some(
            self.entries
                .range(from..=to)
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }

    /// Drops entries with an index at or above `from`.
    fn truncate_from(&mut self, from: u64) {
        while self
            .entries
            .back()
            .is_some_and(|(e, _)| e.log_index() >= from)
        {
            if let Some((_, size)) = self.entries.pop_back() {
                self.bytes -= size;
            }
        }
    }

    /// Drops entries with an index at or below `upto`.
    fn purge_upto(&mut self, upto: u64) {
        while self
            .entries
            .front()
            .is_some_and(|(e, _)| e.log_index() <= upto)
        {
            if let Some((_, size)) = self.entries.pop_front() {
                self.bytes -= size;
            }
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

/// The Raft log store of one group. Clones share the same storage and cache.
pub struct FjallLogStore<C: RaftTypeConfig> {
    group: u64,
    ks: LogKeyspaces,
    cache: std::sync::Arc<std::sync::Mutex<EntryCache<C::Entry>>>,
    appended: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<C: RaftTypeConfig> Clone for FjallLogStore<C> {
    fn clone(&self) -> Self {
        Self {
            group: self.group,
            ks: self.ks.clone(),
            cache: self.cache.clone(),
            appended: self.appended.clone(),
        }
    }
}

impl<C: RaftTypeConfig> FjallLogStore<C> {
    /// The log store of `group` inside the shared keyspaces.
    pub fn new(ks: LogKeyspaces, group: u64) -> Self {
        let cache = EntryCache {
            entries: Default::default(),
            bytes: 0,
        };
        Self {
            group,
            ks,
            cache: std::sync::Arc::new(std::sync::Mutex::new(cache)),
            appended: Default::default(),
        }
    }

    /// Encoded bytes appended to this log so far (shared by clones): lets the owner
    /// snapshot by log size as well as by entry count.
    pub fn appended_bytes(&self) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        self.appended.clone()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, EntryCache<C::Entry>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn log_key(group: u64, index: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&group.to_be_bytes());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

fn key_index(key: &[u8; 16]) -> u64 {
    let mut index = [0u8; 8];
    index.copy_from_slice(&key[8..]);
    u64::from_be_bytes(index)
}

fn state_key(group: u64, tag: u8) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[..8].copy_from_slice(&group.to_be_bytes());
    key[8] = tag;
    key
}

/// Converts any displayable storage error into an `io::Error`.
pub fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

fn encode<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    postcard::to_extend(value, Vec::with_capacity(crate::frame::ENCODE_START_BYTES))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> io::Result<T> {
    postcard::from_bytes(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

impl<C: RaftTypeConfig> FjallLogStore<C> {
    fn get_state<T: DeserializeOwned>(&self, tag: u8) -> io::Result<Option<T>> {
        match self
            .ks
            .state
            .get(state_key(self.group, tag))
            .map_err(io_err)?
        {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    fn put_state<T: Serialize>(&self, tag: u8, value: &T) -> io::Result<()> {
        self.ks
            .state
            .insert(state_key(self.group, tag), encode(value)?)
            .map_err(io_err)
    }

    fn index_range(&self, range: &impl RangeBounds<u64>) -> Option<([u8; 16], [u8; 16])> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.checked_add(1)?,
            Bound::Unbounded => 0,
        };
        let end_inclusive = match range.end_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.checked_sub(1)?,
            Bound::Unbounded => u64::MAX,
        };
        (start <= end_inclusive).then(|| {
            (
                log_key(self.group, start),
                log_key(self.group, end_inclusive),
            )
        })
    }
}

impl<C: RaftTypeConfig> RaftLogReader<C> for FjallLogStore<C>
where
    C::Entry: Clone,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, io::Error> {
        let Some((start, end)) = self.index_range(&range) else {
            return Ok(Vec::new());
        };
        let (first, last) = (key_index(&start), key_index(&end));
        if let Some(entries) = self.cache().get(first, last) {
            return Ok(entries);
        }
        let mut entries = Vec::new();
        for kv in self.ks.logs.range(start..=end) {
            let value = kv.value().map_err(io_err)?;
            entries.push(decode::<C::Entry>(&value)?);
        }
        Ok(entries)
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<C>>, io::Error> {
        self.get_state(TAG_VOTE)
    }
}

impl<C: RaftTypeConfig> RaftLogStorage<C> for FjallLogStore<C>
where
    C::Entry: Clone,
{
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, io::Error> {
        let last = self
            .ks
            .logs
            .range(log_key(self.group, 0)..=log_key(self.group, u64::MAX))
            .next_back();
        let last_log_id = match last {
            Some(kv) => Some(decode::<C::Entry>(&kv.value().map_err(io_err)?)?.log_id()),
            None => None,
        };
        let last_purged_log_id: Option<LogIdOf<C>> = self.get_state(TAG_PURGED)?;
        Ok(LogState {
            last_log_id: last_log_id.or_else(|| last_purged_log_id.clone()),
            last_purged_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<C>) -> Result<(), io::Error> {
        self.put_state(TAG_VOTE, vote)?;
        self.ks.syncer.sync().await
    }

    async fn save_committed(&mut self, committed: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        // Not fsynced on its own: the next log fsync covers it, and a stale value only
        // means replaying a little more of the (durable) log on restart.
        self.put_state(TAG_COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<C>>, io::Error> {
        Ok(self
            .get_state::<Option<LogIdOf<C>>>(TAG_COMMITTED)?
            .flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let started = std::time::Instant::now();
        let mut batch = self.ks.db.batch();
        let mut cached = Vec::new();
        for entry in entries {
            let bytes = encode(&entry)?;
            let size = bytes.len();
            batch.insert(&self.ks.logs, log_key(self.group, entry.index()), bytes);
            cached.push((entry, size));
        }
        batch.commit().map_err(io_err)?;
        let total: usize = cached.iter().map(|(_, size)| size).sum();
        metrics::counter!("tessera_raft_log_appended_entries_total").increment(cached.len() as u64);
        metrics::counter!("tessera_raft_log_appended_bytes_total").increment(total as u64);
        self.appended
            .fetch_add(total as u64, std::sync::atomic::Ordering::Relaxed);
        {
            let mut cache = self.cache();
            for (entry, size) in cached {
                cache.push(entry, size);
            }
        }
        self.ks.syncer.sync_then(move |res| {
            metrics::histogram!("tessera_raft_log_append_seconds")
                .record(started.elapsed().as_secs_f64());
            callback.io_completed(res)
        });
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        let from = match last_log_id {
            Some(id) => id.index() + 1,
            None => 0,
        };
        self.cache().truncate_from(from);
        let mut batch = self.ks.db.batch();
        for kv in self
            .ks
            .logs
            .range(log_key(self.group, from)..=log_key(self.group, u64::MAX))
        {
            batch.remove(&self.ks.logs, kv.key().map_err(io_err)?);
        }
        batch.commit().map_err(io_err)
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> Result<(), io::Error> {
        self.ks.syncer.sync().await?;
        self.cache().purge_upto(log_id.index());
        // Entries up to the previous purge are gone already; scanning from 0 would
        // step over every tombstone of every earlier purge still in the memtable.
        let from = self
            .get_state::<LogIdOf<C>>(TAG_PURGED)?
            .map_or(0, |prev| prev.index() + 1);
        let mut batch = self.ks.db.batch();
        batch.insert(
            &self.ks.state,
            state_key(self.group, TAG_PURGED),
            encode(&log_id)?,
        );
        for kv in self
            .ks
            .logs
            .range(log_key(self.group, from)..=log_key(self.group, log_id.index()))
        {
            batch.remove(&self.ks.logs, kv.key().map_err(io_err)?);
        }
        batch.commit().map_err(io_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct E(u64);

    impl Indexed for E {
        fn log_index(&self) -> u64 {
            self.0
        }
    }

    fn cache() -> EntryCache<E> {
        EntryCache {
            entries: Default::default(),
            bytes: 0,
        }
    }

    #[test]
    fn the_cache_answers_only_ranges_it_holds_whole() {
        let mut c = cache();
        for i in 5..=9 {
            c.push(E(i), 10);
        }
        assert_eq!(c.get(6, 8), Some(vec![E(6), E(7), E(8)]));
        assert_eq!(c.get(4, 6), None, "starts before the cache");
        assert_eq!(c.get(8, 10), None, "ends after it");
        c.truncate_from(8);
        assert_eq!(c.get(7, 8), None, "truncated entries are gone");
        c.push(E(8), 10);
        assert_eq!(c.get(5, 8), Some(vec![E(5), E(6), E(7), E(8)]));
        c.purge_upto(6);
        assert_eq!(c.get(6, 7), None, "purged entries are gone");
        assert_eq!(c.get(7, 8), Some(vec![E(7), E(8)]));
        assert_eq!(c.bytes, 20);
    }

    #[test]
    fn a_gap_restarts_the_cache_and_limits_hold() {
        let mut c = cache();
        c.push(E(1), 10);
        c.push(E(3), 10); // Not consecutive: only the new entry is kept.
        assert_eq!(c.get(1, 1), None);
        assert_eq!(c.get(3, 3), Some(vec![E(3)]));
        for i in 4..4 + CACHE_ENTRIES as u64 + 10 {
            c.push(E(i), 1);
        }
        assert_eq!(c.entries.len(), CACHE_ENTRIES);
        let mut big = cache();
        for i in 0..4 {
            big.push(E(i), CACHE_BYTES / 3);
        }
        assert_eq!(big.entries.len(), 3);
        assert_eq!(big.first_index(), Some(1));
    }
}
