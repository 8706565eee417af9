//! What every Tessera process keeps on disk: one fjall database, its group-commit sync
//! thread, the Raft log keyspaces and the snapshot directory. Opening and closing them
//! in one place keeps the shutdown order (final fsync, then stop the thread) the same
//! for the meta service and the storage nodes.

use crate::raftlog::{io_err, LogKeyspaces};
use crate::snapshots::SnapshotDir;
use crate::syncer::{LogSyncer, SyncThread};
use std::io;
use std::path::Path;

/// Most disk space the journals may take before fjall flushes the keyspaces that keep
/// the oldest one alive. Small keyspaces (Raft votes and commit marks, group records)
/// rarely fill a memtable, so without this limit they would keep up to fjall's default
/// of 512 MiB of journals on disk (and to replay at start-up) long after the data in
/// them was flushed elsewhere.
const MAX_JOURNALS: u64 = 128 << 20;

/// The on-disk state of one process.
pub struct Store {
    /// The database.
    pub db: fjall::Database,
    /// Group commit for it.
    pub syncer: LogSyncer,
    /// The Raft logs of every group in it.
    pub logs: LogKeyspaces,
    /// Snapshot files.
    pub snapshots: SnapshotDir,
    sync_thread: SyncThread,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`.
    ///
    /// # Errors
    /// The directory or database cannot be opened.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let db = fjall::Database::builder(dir)
            .max_journaling_size(MAX_JOURNALS)
            .open()
            .map_err(io_err)?;
        let (syncer, sync_thread) = LogSyncer::start(db.clone())?;
        let logs = LogKeyspaces::open(&db, syncer.clone())?;
        let snapshots = SnapshotDir::open(dir.join("snapshots"))?;
        Ok(Self {
            db,
            syncer,
            logs,
            snapshots,
            sync_thread,
        })
    }

    /// Makes everything written durable and stops the sync thread.
    ///
    /// # Errors
    /// The final fsync failed.
    pub async fn close(self) -> io::Result<()> {
        let result = self.syncer.sync().await;
        let thread = self.sync_thread;
        tokio::task::spawn_blocking(move || thread.stop())
            .await
            .map_err(io_err)?;
        result
    }
}

/// Flushes every keyspace of one database, then fully compacts each, dropping the space
/// of deleted and overwritten entries. Blocking: call from a blocking thread.
///
/// All are flushed before any is compacted: fjall deletes an old journal only once every
/// keyspace written in it has a table at least as new, and a keyspace compacted down to
/// nothing (a fully purged Raft log) has no table at all, which would keep the journal
/// on disk until that keyspace is written and flushed again.
///
/// # Errors
/// fjall errors.
pub fn compact_keyspaces(keyspaces: &[&fjall::Keyspace]) -> io::Result<()> {
    for ks in keyspaces {
        ks.rotate_memtable_and_wait().map_err(io_err)?;
    }
    for ks in keyspaces {
        ks.major_compact().map_err(io_err)?;
    }
    Ok(())
}
