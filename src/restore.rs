//! `tessera restore --from PATH`: checks a backup (its manifest, then every file's
//! length and checksum, refusing a damaged or partial backup with the file named),
//! then loads it into a new cluster: the tables are created with the backup's split
//! points (the default table is split at them), and each file's rows are written to
//! the range that starts where the backed-up one started, through Raft, unchanged but
//! for the table id at the front of their keys (a new cluster numbers its tables
//! afresh).
//! With `--data-dir` it runs an embedded cluster in that directory for the restore,
//! which `tessera dev --data-dir` then serves.

use anyhow::{bail, Context as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_common::hash::FastMap;
use tessera_proto::backup::{Manifest, FORMAT, MANIFEST, TABLE_PREFIX};
use tessera_proto::catalog::{Catalog, TableState, DEFAULT_TABLE_ID};
use tessera_proto::data::{checksum, BackupRow, DataRequest, DataResponse};
use tessera_proto::meta_client::MetaClient;
use tessera_proto::reply::Reply;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Rows per Raft entry while loading.
const BATCH_ROWS: usize = 512;
/// How long the new cluster may take to create a table or split a range.
const LAYOUT_WAIT: Duration = Duration::from_secs(120);

/// What a restore loaded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Tables created.
    pub tables: usize,
    /// Range files loaded.
    pub ranges: usize,
    /// Rows written.
    pub rows: u64,
}

/// Reads and checks the backup at `from`: the manifest and every file it names.
///
/// # Errors
/// A missing manifest (a partial backup), a manifest that does not parse, a missing
/// file, or one whose length or checksum differs, named.
pub fn verify(from: &Path) -> anyhow::Result<(Manifest, Vec<Vec<BackupRow>>)> {
    let path = from.join(MANIFEST);
    let text = std::fs::read(&path).with_context(|| {
        format!(
            "{} is missing: {} is not a complete backup",
            path.display(),
            from.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .with_context(|| format!("{} is damaged (it does not parse)", path.display()))?;
    if manifest.format != FORMAT {
        bail!(
            "{}: backup format {} (this build reads {FORMAT})",
            path.display(),
            manifest.format
        );
    }
    let mut files = Vec::with_capacity(manifest.ranges.len());
    for file in &manifest.ranges {
        let path = from.join(&file.file);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("{} is missing from the backup", path.display()))?;
        if bytes.len() as u64 != file.bytes || checksum(&bytes) != file.checksum {
            bail!(
                "{} is damaged: {} bytes with checksum {:016x}, the manifest says {} bytes with {:016x}",
                path.display(),
                bytes.len(),
                checksum(&bytes),
                file.bytes,
                file.checksum
            );
        }
        let rows: Vec<BackupRow> = tessera_proto::backup::decode_rows(&bytes)
            .with_context(|| format!("{} is damaged (its rows do not decode)", path.display()))?;
        files.push(rows);
    }
    Ok((manifest, files))
}

/// Waits until the catalog satisfies `done`.
async fn wait_catalog(
    catalog: &mut watch::Receiver<Arc<Catalog>>,
    what: &str,
    done: impl Fn(&Catalog) -> bool,
) -> anyhow::Result<()> {
    let until = Instant::now() + LAYOUT_WAIT;
    while !done(&catalog.borrow()) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("the new cluster did not {what} within {LAYOUT_WAIT:?}");
        }
        let _ = tokio::time::timeout(left, catalog.changed()).await;
    }
    Ok(())
}

/// Loads a checked backup into the (new, empty) cluster whose meta members are at
/// `meta_addrs`.
///
/// # Errors
/// The cluster refused a table or split, or a write failed.
pub async fn load(
    manifest: &Manifest,
    files: Vec<Vec<BackupRow>>,
    meta_addrs: Vec<String>,
) -> anyhow::Result<Restored> {
    let meta = Arc::new(MetaClient::new(meta_addrs));
    let stop = CancellationToken::new();
    let (mut catalog, follower) = meta.clone().follow_catalog(stop.clone());
    let cluster = tessera_router::cluster::Cluster::new(catalog.clone(), Duration::from_secs(60));
    let result = async {
        wait_catalog(&mut catalog, "activate its default table", |c| {
            c.tables
                .get(&DEFAULT_TABLE_ID)
                .is_some_and(|t| t.state == TableState::Active)
        })
        .await?;
        let mut restored = Restored::default();
        for table in &manifest.tables {
            let splits = manifest.splits(table.id);
            if table.id == DEFAULT_TABLE_ID {
                for key in splits {
                    meta.split(&table.name, key)
                        .await
                        .with_context(|| format!("splitting table {}", table.name))?;
                }
                continue;
            }
            meta.create_table(&table.name, table.replicas, splits)
                .await
                .with_context(|| format!("creating table {}", table.name))?;
            restored.tables += 1;
            let name = table.name.clone();
            wait_catalog(&mut catalog, &format!("create table {name}"), |c| {
                c.active_table(&name).is_some()
            })
            .await?;
        }
        let ids = new_table_ids(manifest, &catalog.borrow())?;
        for (file, mut rows) in manifest.ranges.iter().zip(files) {
            let start = renumbered(&file.range.start, &ids).with_context(|| {
                format!("{}: its range is in no table of the manifest", file.file)
            })?;
            for row in &mut rows {
                row.key = renumbered(&row.key, &ids)
                    .with_context(|| {
                        format!("{}: a row is in no table of the manifest", file.file)
                    })?
                    .into();
            }
            for chunk in rows.chunks(BATCH_ROWS) {
                let req = DataRequest::Ingest(chunk.to_vec());
                match cluster.call(&start, req).await {
                    Ok(DataResponse::Replies(replies)) if replies == [Reply::Ok] => {}
                    Ok(other) => bail!("loading {}: unexpected answer {other:?}", file.file),
                    Err(e) => bail!("loading {}: {e}", file.file),
                }
                restored.rows += chunk.len() as u64;
            }
            restored.ranges += 1;
        }
        Ok(restored)
    }
    .await;
    cluster.shutdown().await;
    stop.cancel();
    let _ = follower.await;
    result
}

/// The id each table of the backup has in the new cluster, by its id in the backup.
/// They differ where the old cluster dropped a table (its id is never reused) or
/// created tables in another order.
///
/// # Errors
/// A table of the backup is not active in the new cluster.
pub fn new_table_ids(manifest: &Manifest, catalog: &Catalog) -> anyhow::Result<FastMap<u32, u32>> {
    manifest
        .tables
        .iter()
        .map(|table| match catalog.active_table(&table.name) {
            Some(now) => Ok((table.id, now.id)),
            None => bail!("table {} is not active in the new cluster", table.name),
        })
        .collect()
}

/// `key` (a data or member row key, or a range bound: each starts with its table's
/// id) with its table's id replaced by the new one; `None` if its table is unknown.
pub fn renumbered(key: &[u8], ids: &FastMap<u32, u32>) -> Option<Vec<u8>> {
    let prefix: [u8; TABLE_PREFIX] = key.get(..TABLE_PREFIX)?.try_into().ok()?;
    let new = ids.get(&u32::from_be_bytes(prefix))?;
    let mut out = Vec::with_capacity(key.len());
    out.extend_from_slice(&new.to_be_bytes());
    out.extend_from_slice(&key[TABLE_PREFIX..]);
    Some(out)
}

/// `tessera restore --from PATH --data-dir DIR`: runs an embedded cluster in `dir`,
/// loads the backup, and stops it cleanly.
///
/// # Errors
/// As [`verify`] and [`load`]; a data directory that already holds data.
pub async fn restore_into_dir(from: &Path, dir: &Path) -> anyhow::Result<Restored> {
    let (manifest, files) = verify(from)?;
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: restore starts a new cluster's data directories",
            dir.display()
        );
    }
    let cluster = crate::dev::DevCluster::start(crate::dev::DevOptions {
        listen: "127.0.0.1:0".parse().expect("loopback"),
        data_dir: PathBuf::from(dir),
        ..Default::default()
    })
    .await?;
    let restored = load(&manifest, files, vec![cluster.meta_addr().to_string()]).await;
    cluster.shutdown().await?;
    restored
}
