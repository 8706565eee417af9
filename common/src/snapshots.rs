//! Durable storage of the last built or installed snapshot of each Raft group, one file
//! per group. A snapshot is written to a temporary file, fsynced, renamed into place and
//! the directory fsynced, so a crash leaves either the old or the new snapshot whole.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

/// A directory of snapshot files.
#[derive(Clone, Debug)]
pub struct SnapshotDir {
    dir: PathBuf,
}

impl SnapshotDir {
    /// Opens (creating if needed) the snapshot directory `dir`.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    fn path(&self, group: u64) -> PathBuf {
        self.dir.join(format!("group-{group}.snap"))
    }

    /// Replaces the snapshot of `group` with `bytes`, durably.
    ///
    /// # Errors
    /// I/O errors writing, syncing or renaming.
    pub fn save(&self, group: u64, bytes: &[u8]) -> io::Result<()> {
        let tmp = self.dir.join(format!("group-{group}.snap.tmp"));
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, self.path(group))?;
        fs::File::open(&self.dir)?.sync_all()
    }

    /// The snapshot of `group`, if one was saved.
    ///
    /// # Errors
    /// I/O errors other than the file not existing.
    pub fn load(&self, group: u64) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path(group)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes the snapshot of `group` (the replica was removed).
    ///
    /// # Errors
    /// I/O errors other than the file not existing.
    pub fn remove(&self, group: u64) -> io::Result<()> {
        match fs::remove_file(self.path(group)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_replaces_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let snaps = SnapshotDir::open(dir.path().join("snapshots")).unwrap();
        assert_eq!(snaps.load(1).unwrap(), None);
        snaps.save(1, b"first").unwrap();
        snaps.save(1, b"second").unwrap();
        let reopened = SnapshotDir::open(dir.path().join("snapshots")).unwrap();
        assert_eq!(reopened.load(1).unwrap(), Some(b"second".to_vec()));
        reopened.remove(1).unwrap();
        assert_eq!(reopened.load(1).unwrap(), None);
    }
}
