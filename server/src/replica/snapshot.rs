//! Keeping the Raft log short, and looking at what a replica holds: snapshots by log
//! size, snapshot-and-purge on demand (`COMPACT`), and the local walk behind counts and
//! digests.

use super::GroupReplica;
use crate::layout;
use crate::state_machine::{GroupRecord, Recount};
use crate::value::StoredValue;
use openraft::async_runtime::WatchReceiver;
use std::hash::{DefaultHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tessera_proto::data::DataError;
use tessera_proto::node_api::ReplicaDigest;

/// Most bytes of log entries kept behind a snapshot taken because the log grew large.
const KEEP_LOG_BYTES: u64 = 8 << 20;

/// How much a replica's Raft log grew since the last snapshot this node asked for.
pub struct LogSize {
    /// Bytes appended to the log so far (from its log store).
    appended: Arc<AtomicU64>,
    at_snapshot: AtomicU64,
    index_at_snapshot: AtomicU64,
}

impl LogSize {
    /// Follows the log store's byte counter `appended`.
    pub fn new(appended: Arc<AtomicU64>) -> Self {
        Self {
            appended,
            at_snapshot: AtomicU64::new(0),
            index_at_snapshot: AtomicU64::new(0),
        }
    }
}

/// What a walk over a replica's range found.
#[derive(Default)]
pub(super) struct RangeTally {
    pub(super) applied: u64,
    pub(super) keys: u64,
    pub(super) stored: u64,
    pub(super) volatile: u64,
    pub(super) bytes: u64,
    pub(super) members: u64,
    pub(super) digest: u64,
}

impl GroupReplica {
    fn last_applied(&self) -> Option<u64> {
        self.raft
            .metrics()
            .borrow_watched()
            .last_applied
            .map(|l| l.index)
    }

    /// Whether its Raft log was ever purged (else it holds the group's first entry).
    pub(super) fn log_purged(&self) -> bool {
        self.raft.metrics().borrow_watched().purged.is_some()
    }

    /// The last log index applied (0: none).
    pub fn applied_index(&self) -> u64 {
        self.last_applied().unwrap_or(0)
    }

    /// Snapshots and purges the log if `limit` bytes were appended to it since the
    /// last time (0: never). Keeps at most `keep` entries behind the snapshot, fewer
    /// if they would hold more than [`KEEP_LOG_BYTES`] at the recent average entry
    /// size: with batched entries `keep` entries can be as large as the data.
    pub async fn snapshot_if_log_exceeds(&self, limit: u64, keep: u64) {
        let size = &self.log_size;
        let bytes = size.appended.load(Relaxed);
        let grown = bytes.saturating_sub(size.at_snapshot.load(Relaxed));
        if limit == 0 || grown < limit {
            return;
        }
        let applied = self.applied_index();
        let entries = applied
            .saturating_sub(size.index_at_snapshot.load(Relaxed))
            .max(1);
        let average = (grown / entries).max(1);
        let keep = keep.min(KEEP_LOG_BYTES / average);
        size.at_snapshot.store(bytes, Relaxed);
        size.index_at_snapshot.store(applied, Relaxed);
        if let Err(e) = self.snapshot_and_purge(keep).await {
            tracing::warn!(group = self.id, error = %e, "snapshot by log size failed");
        }
    }

    /// Builds a snapshot of everything applied and purges the log up to `keep` entries
    /// before it, waiting (bounded) for both. A snapshot is cheap here (the state
    /// machine is the data keyspace; the snapshot marks the applied position); a
    /// follower that needs purged entries gets the snapshot instead.
    pub async fn snapshot_and_purge(&self, keep: u64) -> Result<(), String> {
        const WAIT: std::time::Duration = std::time::Duration::from_secs(30);
        let raft = &self.raft;
        let Some(applied) = self.last_applied() else {
            return Ok(()); // Nothing applied, nothing to purge.
        };
        raft.trigger().snapshot().await.map_err(|e| e.to_string())?;
        raft.wait(Some(WAIT))
            .metrics(
                |m| m.snapshot.is_some_and(|s| s.index >= applied),
                "snapshot built",
            )
            .await
            .map_err(|e| e.to_string())?;
        let Some(upto) = applied.checked_sub(keep) else {
            return Ok(());
        };
        raft.trigger()
            .purge_log(upto)
            .await
            .map_err(|e| e.to_string())?;
        raft.wait(Some(WAIT))
            .metrics(|m| m.purged.is_some_and(|p| p.index >= upto), "log purged")
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The bytes of this replica's range in one snapshot, with what its record said
    /// then (`None` before the group has a record), and the range epoch then.
    pub(super) fn count_bytes(&self) -> Result<Option<(u64, Recount)>, DataError> {
        let internal = |e: fjall::Error| DataError::Internal(e.to_string());
        let view = self.ks.db.snapshot();
        let Some(record) = self.record_in(&view)? else {
            return Ok(None);
        };
        let range = record.range.start.as_slice()..record.range.end.as_slice();
        let mut actual = 0u64;
        for kv in fjall::Readable::range(&view, &self.ks.data, range) {
            let (k, v) = kv.into_inner().map_err(internal)?;
            actual += (k.len() + v.len()) as u64;
        }
        let rows = layout::bound(&record.range.start)..layout::bound(&record.range.end);
        for kv in fjall::Readable::range(&view, &self.ks.members, rows) {
            let (k, v) = kv.into_inner().map_err(internal)?;
            actual += (k.len() + v.len()) as u64;
        }
        let seen = Recount {
            applied: record.applied.map_or(0, |l| l.index),
            bytes: record.bytes,
            unsure: record.unsure,
            actual,
        };
        Ok(Some((record.range.epoch, seen)))
    }

    /// This group's record as `view` holds it.
    pub(super) fn record_in(
        &self,
        view: &fjall::Snapshot,
    ) -> Result<Option<GroupRecord>, DataError> {
        let stored = fjall::Readable::get(view, &self.ks.groups, self.id.to_be_bytes())
            .map_err(|e| DataError::Internal(e.to_string()))?;
        Ok(stored.and_then(|b| postcard::from_bytes::<GroupRecord>(&b).ok()))
    }

    /// Walks `[from, to)` locally, counting (and optionally hashing) what it holds.
    pub(super) fn walk(
        &self,
        from: &[u8],
        to: &[u8],
        digest: bool,
    ) -> Result<RangeTally, DataError> {
        let internal = |e: fjall::Error| DataError::Internal(e.to_string());
        let view = self.ks.db.snapshot();
        let applied = self
            .record_in(&view)?
            .and_then(|r| r.applied)
            .map_or(0, |id| id.index);
        let now = self.clock.now_ms();
        let mut tally = RangeTally {
            applied,
            ..Default::default()
        };
        let mut hasher = DefaultHasher::new();
        for kv in fjall::Readable::range(&view, &self.ks.data, from..to) {
            let (k, v) = kv.into_inner().map_err(internal)?;
            tally.stored += 1;
            if let Some(value) = StoredValue::decode(&v).filter(|s| s.is_live(now)) {
                tally.keys += 1;
                tally.volatile += u64::from(value.expires_at_ms.is_some());
                tally.bytes += (k.len() + v.len()) as u64;
            }
            if digest {
                hasher.write(&k);
                hasher.write(&v);
            }
        }
        let rows = layout::bound(from)..layout::bound(to);
        for kv in fjall::Readable::range(&view, &self.ks.members, rows) {
            let (k, v) = kv.into_inner().map_err(internal)?;
            tally.members += 1;
            tally.bytes += (k.len() + v.len()) as u64;
            if digest {
                hasher.write(&k);
                hasher.write(&v);
            }
        }
        tally.digest = hasher.finish();
        Ok(tally)
    }

    /// This replica's local digest (see [`ReplicaDigest`]).
    pub fn digest(&self) -> Result<ReplicaDigest, DataError> {
        let (leader, purged) = {
            let metrics = self.raft.metrics().borrow_watched().clone();
            let purged = metrics.purged.map_or(0, |p| p.index());
            (metrics.current_leader, purged)
        };
        let range = self.range();
        let tally = self.walk(&range.start, &range.end, true)?;
        let mut expiry_index = 0;
        for kv in self.ks.expiry.iter() {
            let key = kv.key().map_err(|e| DataError::Internal(e.to_string()))?;
            expiry_index += u64::from(key.len() >= 8 && range.contains(&key[8..]));
        }
        Ok(ReplicaDigest {
            leader,
            applied: tally.applied,
            purged,
            asleep: self.hibernation.is_asleep(),
            epoch: range.epoch,
            keys: tally.keys,
            stored: tally.stored,
            expiry_index,
            members: tally.members,
            digest: tally.digest,
        })
    }
}
