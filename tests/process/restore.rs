//! `tessera restore` as an operator runs it: a backup of a `tessera dev` whose tables
//! were numbered with a gap (one was dropped) restored with the real binary into new
//! data directories, then served by a new `tessera dev`; and a damaged backup refused
//! by the binary with the file named and nothing created.

use crate::harness::process::DevProcess;
use crate::harness::wait_serving;
use redis::AsyncCommands;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn restore(from: &Path, data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["restore", "--from"])
        .arg(from)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run tessera restore")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_restore_command_loads_a_backup_into_new_data_dirs_that_dev_serves() {
    let dir = tempfile::tempdir().unwrap();
    let old = DevProcess::start(&dir.path().join("old"));
    let mut con = wait_serving(&old.url(), Duration::from_secs(30)).await;
    // `gone` takes an id and leaves a gap: `users` has a different id in the new cluster.
    for cmd in [
        &["CREATETABLE", "gone"][..],
        &["DROPTABLE", "gone"],
        &["CREATETABLE", "users", "SPLITS", "m"],
    ] {
        let _: () = redis::cmd(cmd[0])
            .arg(&cmd[1..])
            .query_async(&mut con)
            .await
            .unwrap();
    }
    for i in 0..40 {
        let _: () = con.set(format!("users:{i:02}"), i).await.unwrap();
        let _: () = con.set(format!("plain{i:02}"), i).await.unwrap();
    }
    let _: () = con
        .hset_multiple("users:h", &[("a", "1"), ("b", "2")])
        .await
        .unwrap();
    let backup = dir.path().join("backup");
    let _: redis::Value = redis::cmd("BACKUP")
        .arg(backup.to_str().unwrap())
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(old.terminate().success());

    let restored = dir.path().join("restored");
    let out = restore(&backup, &restored);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 tables created, 3 ranges"), "{stdout}");

    let new = DevProcess::start(&restored);
    let mut con = wait_serving(&new.url(), Duration::from_secs(30)).await;
    for i in 0..40 {
        let user: Option<i64> = con.get(format!("users:{i:02}")).await.unwrap();
        let plain: Option<i64> = con.get(format!("plain{i:02}")).await.unwrap();
        assert_eq!((user, plain), (Some(i), Some(i)), "key {i}");
    }
    let h: Vec<(String, String)> = con.hgetall("users:h").await.unwrap();
    assert_eq!(h.len(), 2);
    let tables: Vec<String> = redis::cmd("TABLES").query_async(&mut con).await.unwrap();
    assert!(
        tables.iter().any(|t| t == "users") && !tables.iter().any(|t| t == "gone"),
        "{tables:?}"
    );
    assert_eq!(
        redis::cmd("DBSIZE")
            .query_async::<i64>(&mut con)
            .await
            .unwrap(),
        41 + 40,
        "the default table's 40 keys and the users table's 41"
    );
    assert!(new.terminate().success());

    // A damaged file: refused, named, and no data directory is left behind.
    let manifest = std::fs::read_to_string(backup.join("MANIFEST.json")).unwrap();
    let file = manifest
        .split('"')
        .find(|s| s.starts_with("range-") && s.ends_with(".rows"))
        .unwrap()
        .to_string();
    let mut bytes = std::fs::read(backup.join(&file)).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(backup.join(&file), &bytes).unwrap();
    let again = dir.path().join("again");
    let out = restore(&backup, &again);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&file) && stderr.contains("damaged"),
        "{stderr}"
    );
    assert!(!again.exists(), "nothing restored from a damaged backup");
}
