//! `BACKUP` and restore on a replica: every row of the range read from one storage
//! snapshot (after a read barrier, so at one Raft-applied point no older than the
//! request) written to one file with its checksum; and rows of such a file written
//! back, unchanged, through Raft.

use super::GroupReplica;
use crate::layout;
use crate::state_machine::CommandBody;
use std::io::Write;
use std::path::Path;
use tessera_proto::catalog::RangeDesc;
use tessera_proto::data::{checksum, BackupFile, BackupRow, DataError, DataResponse};

fn internal(e: impl std::fmt::Display) -> DataError {
    DataError::Internal(e.to_string())
}

impl GroupReplica {
    /// The range's rows, and the applied index they reflect, from one snapshot.
    fn rows(&self) -> Result<(RangeDesc, u64, Vec<BackupRow>), DataError> {
        let view = self.ks.db.snapshot();
        let record = self
            .record_in(&view)?
            .ok_or_else(|| internal("no group record"))?;
        let range = record.range.clone();
        let applied = record.applied.map_or(0, |id| id.index);
        let mut rows = Vec::new();
        for kv in
            fjall::Readable::range(&view, &self.ks.data, range.start.clone()..range.end.clone())
        {
            let (key, value) = kv.into_inner().map_err(internal)?;
            rows.push(BackupRow {
                member: false,
                key: key.to_vec().into(),
                value: value.to_vec().into(),
            });
        }
        let members = layout::bound(&range.start)..layout::bound(&range.end);
        for kv in fjall::Readable::range(&view, &self.ks.members, members) {
            let (key, value) = kv.into_inner().map_err(internal)?;
            rows.push(BackupRow {
                member: true,
                key: key.to_vec().into(),
                value: value.to_vec().into(),
            });
        }
        Ok((range, applied, rows))
    }

    /// Writes the range's rows to `dir/range-ID-EPOCH.rows` (durably) and describes it.
    pub(super) async fn backup(&self, dir: &str) -> Result<BackupFile, DataError> {
        let (range, applied, rows) = self.rows()?;
        let bytes = tessera_proto::backup::encode_rows(&rows).map_err(internal)?;
        let file = format!("range-{}-{}.rows", range.id, range.epoch);
        let path = Path::new(dir).join(&file);
        let described = BackupFile {
            file,
            range,
            applied,
            rows: rows.len() as u64,
            bytes: bytes.len() as u64,
            checksum: checksum(&bytes),
        };
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
            let tmp = path.with_extension("tmp");
            let mut out = std::fs::File::create(&tmp)?;
            out.write_all(&bytes)?;
            out.sync_all()?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(internal)?
        .map_err(|e| internal(format!("writing the backup file: {e}")))?;
        Ok(described)
    }

    /// Writes backup rows of this range as they are, as one Raft entry.
    pub(super) async fn ingest(
        &self,
        range: &RangeDesc,
        rows: Vec<BackupRow>,
    ) -> Result<DataResponse, DataError> {
        let ours = |row: &BackupRow| {
            if row.member {
                layout::split(&row.key).is_some_and(|(key, _, _)| range.contains(&key))
            } else {
                range.contains(&row.key)
            }
        };
        if !rows.iter().all(ours) {
            return Err(DataError::KeyNotInRange);
        }
        self.replies(range.epoch, CommandBody::Ingest(rows), 1)
            .await
            .map(DataResponse::Replies)
    }
}
