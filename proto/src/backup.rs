//! The layout of a backup directory: `MANIFEST.json` (written last, so a backup without
//! it is incomplete) naming the tables and one file per range — `range-ID-EPOCH.rows`,
//! the range's rows as its leader read them at one applied point, with its length and
//! checksum. Each range is consistent on its own; ranges are read one after the other
//! (the consistency of a backup is per range, not across ranges).

use crate::data::BackupFile;
use serde::{Deserialize, Serialize};

/// The manifest's file name.
pub const MANIFEST: &str = "MANIFEST.json";
/// The manifest format this build writes and reads.
pub const FORMAT: u32 = 1;
/// Bytes of a storage key's table prefix.
pub const TABLE_PREFIX: usize = 4;

/// One table of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupTable {
    /// Its id.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Replicas per range.
    pub replicas: u8,
}

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// When the backup finished (Unix ms).
    pub created_ms: u64,
    /// The catalog version when it started.
    pub catalog_version: u64,
    /// The active tables.
    pub tables: Vec<BackupTable>,
    /// One file per range, in key order, covering every table's key space.
    pub ranges: Vec<BackupFile>,
}

impl Manifest {
    /// The split points of table `id`: the user keys its ranges after the first start at.
    pub fn splits(&self, id: u32) -> Vec<Vec<u8>> {
        let prefix = id.to_be_bytes();
        self.ranges
            .iter()
            .filter(|f| f.range.start.starts_with(&prefix) && f.range.start.len() > TABLE_PREFIX)
            .map(|f| f.range.start[TABLE_PREFIX..].to_vec())
            .collect()
    }
}

/// A range file's bytes.
///
/// # Errors
/// Encoding fails (it does not for these types).
pub fn encode_rows(rows: &[crate::data::BackupRow]) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_stdvec(rows)
}

/// The rows of a range file.
///
/// # Errors
/// The bytes are not a range file.
pub fn decode_rows(bytes: &[u8]) -> Result<Vec<crate::data::BackupRow>, postcard::Error> {
    postcard::from_bytes(bytes)
}
