//! `BACKUP path`: every range's leader writes the range's rows, read at one applied
//! point after a read barrier, to `path` on its node's filesystem; then the router
//! writes `MANIFEST.json` naming the tables and files with their checksums. Writes go
//! on meanwhile: each range is consistent on its own, not with the others.

use crate::cmd::{ClusterCommand, Parsed};
use crate::Context;
use futures::future::BoxFuture;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_proto::args::Args;
use tessera_proto::backup::{BackupTable, Manifest, FORMAT, MANIFEST};
use tessera_proto::catalog::TableState;
use tessera_proto::data::{BackupFile, DataRequest, DataResponse};
use tessera_proto::op::Command;
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `BACKUP path`.
pub struct Backup(String);

impl Command for Backup {
    const SPEC: CommandSpec = spec! {
        "backup", 2, ["admin"], (0, 0, 0), [],
        "tessera", "tessera-0.1", "Write a backup of the catalog and of every range (each at one applied point) to a directory on the nodes"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let path = args.arg()?;
        let path = String::from_utf8(path.to_vec())
            .map_err(|_| Reply::err("BACKUP path must be UTF-8"))?;
        Ok(Parsed::cluster(Backup(path)))
    }
}

impl ClusterCommand for Backup {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            match backup(&ctx, Path::new(&self.0)).await {
                Ok(manifest) => Reply::Map(vec![
                    (Reply::bulk("path"), Reply::bulk(self.0)),
                    (
                        Reply::bulk("ranges"),
                        Reply::Int(manifest.ranges.len() as i64),
                    ),
                    (
                        Reply::bulk("rows"),
                        Reply::Int(manifest.ranges.iter().map(|f| f.rows as i64).sum()),
                    ),
                    (
                        Reply::bulk("bytes"),
                        Reply::Int(manifest.ranges.iter().map(|f| f.bytes as i64).sum()),
                    ),
                ]),
                Err(why) => Reply::err(format!("BACKUP failed: {why}")),
            }
        })
    }
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    let mut out = std::fs::File::create(&tmp)?;
    out.write_all(&text)?;
    out.sync_all()?;
    std::fs::rename(&tmp, dir.join(MANIFEST))?;
    std::fs::File::open(dir)?.sync_all()
}

async fn backup(ctx: &Context, dir: &Path) -> Result<Manifest, String> {
    let shown = dir.display().to_string();
    if dir.join(MANIFEST).exists() {
        return Err(format!("{shown} already holds a backup"));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {shown}: {e}"))?;
    let dir_text = dir.to_str().ok_or("the path is not UTF-8")?.to_string();
    let catalog = ctx.cluster.catalog();
    let tables: Vec<BackupTable> = catalog
        .tables
        .values()
        .filter(|t| t.state == TableState::Active)
        .map(|t| BackupTable {
            id: t.id,
            name: t.name.clone(),
            replicas: t.replicas,
        })
        .collect();
    let active = |start: &[u8]| {
        tables
            .iter()
            .any(|t| start.starts_with(&t.id.to_be_bytes()))
    };
    let mut regions: Vec<(Vec<u8>, Vec<u8>)> = catalog
        .ranges
        .values()
        .filter(|r| active(&r.start))
        .map(|r| (r.start.clone(), r.end.clone()))
        .collect();
    regions.sort();
    // Walk the key space by the ranges' own bounds, so a range that split or merged
    // since the catalog was read is still covered exactly once.
    let mut files: Vec<BackupFile> = Vec::new();
    for (start, end) in regions {
        let mut anchor = start;
        while anchor < end {
            if files.last().is_some_and(|f| f.range.end > anchor) {
                anchor = files
                    .last()
                    .map(|f| f.range.end.clone())
                    .unwrap_or_default();
                continue;
            }
            let req = DataRequest::Backup {
                dir: dir_text.clone(),
            };
            let file = match ctx.cluster.call(&anchor, req).await {
                Ok(DataResponse::BackedUp(file)) => file,
                Ok(_) => return Err("unexpected reply from a storage node".into()),
                Err(e) => return Err(format!("range at {anchor:?}: {e}")),
            };
            anchor = file.range.end.clone();
            files.push(file);
        }
    }
    let manifest = Manifest {
        format: FORMAT,
        created_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        catalog_version: catalog.version,
        tables,
        ranges: files,
    };
    let path: PathBuf = dir.to_path_buf();
    write_manifest(&path, &manifest).map_err(|e| format!("writing {MANIFEST}: {e}"))?;
    Ok(manifest)
}
