//! `BACKUP` under write load, restored into a fresh cluster: every range of the new
//! cluster holds exactly the rows of its file (digests equal), the data reads back, and
//! a damaged or partial backup is refused with the file named.

use crate::harness::TestCluster;
use redis::AsyncCommands;
use std::hash::Hasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tessera_proto::data::BackupRow;

/// The digest a replica computes over `rows` (data rows, then member rows, in order).
fn digest_of(rows: &[BackupRow]) -> u64 {
    #[allow(deprecated)]
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for row in rows {
        hasher.write(&row.key);
        hasher.write(&row.value);
    }
    hasher.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_into_a_new_cluster_with_equal_digests() {
    let old = TestCluster::start().await;
    let mut con = old.client().await;
    let _: () = redis::cmd("CREATETABLE")
        .arg("users")
        .arg("SPLITS")
        .arg("h")
        .arg("p")
        .query_async(&mut con)
        .await
        .unwrap();
    for i in 0..50 {
        let _: () = con
            .set(format!("users:{i:02}"), format!("v{i}"))
            .await
            .unwrap();
    }
    let _: () = con.set_ex("ttl", "soon", 3600).await.unwrap();
    let _: () = con
        .hset_multiple("h", &[("a", "1"), ("b", "2")])
        .await
        .unwrap();
    let _: () = con.rpush("l", &["x", "y", "z"]).await.unwrap();
    let _: () = con
        .zadd_multiple("z", &[(1.5, "m"), (2.5, "n")])
        .await
        .unwrap();

    // Writes go on while the backup runs.
    let writing = Arc::new(AtomicBool::new(true));
    let mut writer = old.client().await;
    let load = tokio::spawn({
        let writing = writing.clone();
        async move {
            let mut n = 0u32;
            while writing.load(Ordering::Relaxed) && n < 100_000 {
                let _: () = writer.set(format!("load{}", n % 500), n).await.unwrap();
                let _: () = writer
                    .set(format!("users:load{}", n % 50), n)
                    .await
                    .unwrap();
                n += 1;
            }
            n
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup");
    let summary: redis::Value = redis::cmd("BACKUP")
        .arg(path.to_str().unwrap())
        .query_async(&mut con)
        .await
        .unwrap();
    writing.store(false, Ordering::Relaxed);
    assert!(load.await.unwrap() > 0, "writes went on during the backup");
    assert!(format!("{summary:?}").contains("ranges"), "{summary:?}");
    let again: redis::RedisResult<redis::Value> = redis::cmd("BACKUP")
        .arg(path.to_str().unwrap())
        .query_async(&mut con)
        .await;
    assert!(
        again.is_err(),
        "a directory holding a backup is not overwritten"
    );

    let (manifest, files) = tessera::restore::verify(&path).unwrap();
    assert_eq!(manifest.ranges.len(), 4, "default + users split in three");

    // Restore into a new cluster: each range holds exactly its file's rows.
    let new = TestCluster::start().await;
    let restored = tessera::restore::load(
        &manifest,
        files.clone(),
        vec![new.cluster.meta_addr().to_string()],
    )
    .await
    .unwrap();
    assert_eq!(restored.ranges, 4);
    let catalog = new.catalog().await;
    for (file, rows) in manifest.ranges.iter().zip(&files) {
        let range = catalog
            .ranges
            .values()
            .find(|r| r.start == file.range.start && r.end == file.range.end)
            .unwrap_or_else(|| panic!("no range {:?} in the new cluster", file.range));
        let leader = new.leader(range.group).await;
        let digest = new.digest(leader, range.group).await.unwrap();
        let data_rows = rows.iter().filter(|r| !r.member).count() as u64;
        assert_eq!(digest.stored, data_rows, "{}", file.file);
        assert_eq!(
            digest.members,
            rows.len() as u64 - data_rows,
            "{}",
            file.file
        );
        assert_eq!(digest.digest, digest_of(rows), "{}", file.file);
    }
    let mut restored_con = new.client().await;
    let v: String = restored_con.get("users:07").await.unwrap();
    assert_eq!(v, "v7");
    let ttl: i64 = restored_con.ttl("ttl").await.unwrap();
    assert!(ttl > 3000, "the expiry came back: {ttl}");
    let h: Vec<(String, String)> = restored_con.hgetall("h").await.unwrap();
    assert_eq!(h.len(), 2);
    let l: Vec<String> = restored_con.lrange("l", 0, -1).await.unwrap();
    assert_eq!(l, ["x", "y", "z"]);
    let z: Vec<(String, f64)> = restored_con.zrange_withscores("z", 0, -1).await.unwrap();
    assert_eq!(z, [("m".to_string(), 1.5), ("n".to_string(), 2.5)]);

    // A damaged file and a missing one are refused, naming the file.
    let victim = path.join(&manifest.ranges[1].file);
    let mut bytes = std::fs::read(&victim).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&victim, &bytes).unwrap();
    let err = tessera::restore::verify(&path).unwrap_err().to_string();
    assert!(
        err.contains(&manifest.ranges[1].file) && err.contains("damaged"),
        "{err}"
    );
    std::fs::remove_file(&victim).unwrap();
    let err = tessera::restore::verify(&path).unwrap_err().to_string();
    assert!(
        err.contains(&manifest.ranges[1].file) && err.contains("missing"),
        "{err}"
    );
    std::fs::remove_file(path.join("MANIFEST.json")).unwrap();
    let err = tessera::restore::verify(&path).unwrap_err().to_string();
    assert!(
        err.contains("MANIFEST.json") && err.contains("not a complete backup"),
        "{err}"
    );
}
