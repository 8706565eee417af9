//! A crash at each step of a split and of a merge, with real processes: the process
//! that reaches the armed failpoint aborts (every node, or the meta leader), is started
//! again without it, and the cluster recovers to one consistent state — the change
//! done, every key readable and writable on both sides, every group's replicas equal.

use crate::cluster::{Cluster, Shape};
use crate::harness::{connect, test_dir, wait_serving};
use redis::AsyncCommands;
use std::time::{Duration, Instant};
use tessera_proto::keys::storage_key;

#[derive(Clone, Copy, PartialEq)]
enum Change {
    Split,
    Merge,
}

/// Where the armed process runs.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Nodes,
    Meta,
}

const KEYS: usize = 200;

fn key(i: usize) -> String {
    format!("k{i:03}")
}

/// The default table's range starts, as user keys, per the catalog.
async fn starts(cluster: &Cluster) -> Option<Vec<String>> {
    let catalog = cluster.catalog().await?;
    let ranges = catalog.table_ranges(0);
    let user = |s: &[u8]| String::from_utf8_lossy(s.get(4..).unwrap_or_default()).into_owned();
    Some(ranges.iter().map(|r| user(&r.start)).collect())
}

async fn admin(url: &str, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let mut con = connect(url).await;
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query_async(&mut con).await
}

/// Restarts (without the failpoint) every process that aborted; whether there was one.
fn restart_exited(cluster: &mut Cluster) -> bool {
    restart_exited_after(cluster, |_| {})
}

/// Like [`restart_exited`], calling `first` between finding an aborted process and
/// restarting it.
fn restart_exited_after(cluster: &mut Cluster, first: impl FnOnce(&mut Cluster)) -> bool {
    let (nodes, metas) = cluster.reap_exited();
    if nodes.is_empty() && metas.is_empty() {
        return false;
    }
    first(cluster);
    cluster.disarm();
    for id in &nodes {
        cluster.restart_node(*id);
    }
    for id in &metas {
        cluster.restart_meta(*id);
    }
    true
}

/// Waits until every range's replicas agree, restarting processes that abort meanwhile.
async fn all_agree(cluster: &mut Cluster) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        restart_exited(cluster);
        let mut agree = true;
        if let Some(catalog) = cluster.catalog().await {
            for range in catalog.table_ranges(0) {
                agree &= cluster.replicas_agree(range.group).await;
            }
        } else {
            agree = false;
        }
        if agree {
            return;
        }
        assert!(Instant::now() < deadline, "replicas never came to agree");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn crash_and_recover(point: &str, side: Side, change: Change) {
    let failpoint = vec!["--failpoint".to_string(), point.to_string()];
    // Crashed nodes are soon seen alive again. When the meta leader crashes, its
    // successor must finish the change at once, not after leading for `--dead-after`
    // (until then a frozen merge source refuses its keys): with 10 minutes, the
    // deadlines below pass only if recovery does not wait for it.
    let dead_after = match side {
        Side::Nodes => "3s",
        Side::Meta => "10m",
    };
    let mut shape = Shape {
        meta_flags: [
            "--dead-after",
            dead_after,
            "--split-bytes",
            "0",
            "--split-qps",
            "0",
        ]
        .map(String::from)
        .to_vec(),
        node_flags: vec!["--heartbeat-interval".into(), "250ms".into()],
        ..Shape::default()
    };
    match side {
        Side::Nodes => shape.node_flags.extend(failpoint),
        Side::Meta => shape.meta_flags.extend(failpoint),
    }
    let dir = test_dir();
    let mut cluster = Cluster::start(dir.path(), shape);
    let url = cluster.url();
    wait_serving(&url, Duration::from_secs(30)).await;
    let mut con = connect(&url).await;
    let pairs: Vec<(String, usize)> = (0..KEYS).map(|i| (key(i), i)).collect();
    let _: () = con.mset(&pairs).await.unwrap();
    if change == Change::Merge {
        let ok = admin(&url, &["SPLIT", "default", "k100"]).await.unwrap();
        assert_eq!(ok, redis::Value::Okay);
    }

    // The change crashes a process on its way (so its answer may be lost or an error).
    let cmd = match change {
        Change::Split => "SPLIT",
        Change::Merge => "MERGE",
    };
    let asked = {
        let url = url.clone();
        tokio::spawn(async move { admin(&url, &[cmd, "default", "k100"]).await })
    };
    // When the meta leader aborts, the order dies with the router, killed before a new
    // meta leader can be elected to take the order again: the new leader must finish
    // the change on its own.
    let kill_the_order = move |cluster: &mut Cluster| {
        if side == Side::Meta {
            cluster.restart_router();
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !restart_exited_after(&mut cluster, kill_the_order) {
        assert!(
            Instant::now() < deadline,
            "nothing reached failpoint {point}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(120), asked).await;

    let expected = match change {
        Change::Split => vec![String::new(), "k100".to_string()],
        Change::Merge => vec![String::new()],
    };
    // Others that reach the point later (a lagging node applying the split) are
    // restarted as they go down.
    let deadline = Instant::now() + Duration::from_secs(90);
    while starts(&cluster).await.as_ref() != Some(&expected) {
        restart_exited(&mut cluster);
        assert!(
            Instant::now() < deadline,
            "no recovered layout: {:?}",
            starts(&cluster).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every replica comes to agree; those that crash on reaching the point after the
    // layout was recorded (a lagging node applying the split) are restarted meanwhile.
    all_agree(&mut cluster).await;
    // Asking again is answered at once: the layout is there.
    let again = admin(&url, &[cmd, "default", "k100"]).await;
    match change {
        Change::Split => assert_eq!(again.unwrap(), redis::Value::Okay),
        Change::Merge => {
            let e = again.unwrap_err().to_string();
            assert!(
                e.contains("no range of table 'default' starts at that key"),
                "{e}"
            );
        }
    }

    let mut con = connect(&url).await;
    for i in 0..KEYS {
        let got: usize = con.get(key(i)).await.unwrap();
        assert_eq!(got, i, "{} survives", key(i));
    }
    let pairs: Vec<(String, usize)> = (0..KEYS).map(|i| (key(i), i + 1000)).collect();
    let _: () = con.mset(&pairs).await.unwrap();
    all_agree(&mut cluster).await;
    let catalog = cluster.catalog().await.unwrap();
    let k100 = storage_key(0, b"k100");
    let split = catalog.table_ranges(0).iter().any(|r| r.start == k100);
    assert_eq!(split, change == Change::Split);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_crashes_before_applying_a_split() {
    crash_and_recover("split-before-apply", Side::Nodes, Change::Split).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_crashes_after_applying_a_split_before_the_new_group_starts() {
    crash_and_recover("split-after-apply", Side::Nodes, Change::Split).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_crashes_during_the_new_groups_first_election() {
    crash_and_recover("split-before-election", Side::Nodes, Change::Split).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meta_leader_crashes_before_recording_a_split() {
    crash_and_recover("meta-split-before-record", Side::Meta, Change::Split).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meta_leader_crashes_with_the_merge_source_frozen() {
    crash_and_recover("meta-merge-after-freeze", Side::Meta, Change::Merge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_crashes_after_applying_a_merge() {
    crash_and_recover("merge-after-apply", Side::Nodes, Change::Merge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meta_leader_crashes_before_recording_a_merge() {
    crash_and_recover("meta-merge-before-record", Side::Meta, Change::Merge).await;
}
