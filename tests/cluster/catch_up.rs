//! A follower that was down while the group moved on catches up after restart (with a
//! snapshot threshold low enough that the leader has purged the log it missed) and ends
//! with exactly the leader's data.

use crate::harness::{wait_for, TestCluster};
use std::time::Duration;
use tessera_common::raftnet::RaftTimings;

/// Sets `k0000`, `k0001`, ... for `range`, one request at a time, each to `value(i)`.
async fn set_numbered(
    con: &mut redis::aio::MultiplexedConnection,
    range: std::ops::Range<u32>,
    value: impl Fn(u32) -> String,
) {
    for i in range {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i:04}"))
            .arg(value(i))
            .query_async(con)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_down_during_5000_writes_catches_up_with_identical_data() {
    // Keep little log behind each snapshot, so the leader purges what the follower
    // misses and must send it a snapshot.
    let (mut cluster, group, follower) = TestCluster::start_with_follower_down().await;

    // Unpipelined writers: batches stay small, so the writes take hundreds of entries.
    let writers = (0..10).map(|w| {
        let cluster = &cluster;
        async move {
            let mut con = cluster.client().await;
            for i in 0..500 {
                let n = w * 500 + i;
                let _: () = redis::cmd("SET")
                    .arg(format!("k{n:05}"))
                    .arg(n)
                    .query_async(&mut con)
                    .await
                    .unwrap();
            }
        }
    });
    futures::future::join_all(writers).await;

    cluster.cluster.start_node(follower).await.unwrap();
    let digests = cluster
        .identical_replicas(group, Duration::from_secs(60))
        .await;
    assert_eq!(digests[0].1.keys, 5000);
    assert!(
        digests[0].1.applied > 100,
        "hundreds of entries, several snapshots: {digests:?}"
    );
    eprintln!("replicas converged: {digests:?}");
    cluster.cluster.shutdown().await.unwrap();
}

/// `COMPACT` snapshots every replica and purges its whole Raft log (the default
/// thresholds would keep it: far fewer entries than `snapshot_every`), loses nothing,
/// and a follower that was down during later writes still catches up — from the
/// snapshot, since the log it would need is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_purges_every_raft_log_and_keeps_every_key() {
    let mut cluster = TestCluster::start().await;
    let group = cluster.default_group().await;
    let mut con = cluster.client().await;
    set_numbered(&mut con, 0..300, |i| i.to_string()).await;
    // A write is acknowledged once a majority applied it: wait for the third replica,
    // so every one has applied all of them before COMPACT.
    let applied = wait_for(
        Duration::from_secs(30),
        "every replica to apply the writes",
        || async {
            let digests = cluster.digests(group).await;
            let first = digests.first()?.1.applied;
            let same = digests.len() == 3 && digests.iter().all(|(_, d)| d.applied == first);
            same.then_some(first)
        },
    )
    .await;
    let before = cluster.digests(group).await;
    assert!(
        before.iter().all(|(_, d)| d.purged == 0),
        "nothing purged below the snapshot threshold: {before:?}"
    );
    let reply: String = redis::cmd("COMPACT").query_async(&mut con).await.unwrap();
    assert_eq!(reply, "OK");
    let after = cluster.digests(group).await;
    assert_eq!(after.len(), 3);
    for (node, d) in &after {
        // An election after COMPACT may append one more entry; everything applied
        // before it is purged.
        assert!(
            d.purged >= applied && d.purged >= 300,
            "node {node}: log not purged up to what it applied ({applied}): {d:?}"
        );
        assert_eq!(d.keys, 300, "node {node}: {d:?}");
    }

    let follower = cluster.follower(group).await;
    cluster.cluster.stop_node(follower).await.unwrap();
    set_numbered(&mut con, 300..310, |i| i.to_string()).await;
    cluster.cluster.start_node(follower).await.unwrap();
    wait_for(
        Duration::from_secs(60),
        "three identical replicas with 310 keys",
        || async {
            let digests = cluster.digests(group).await;
            let first = digests.first()?.1.clone();
            (digests.len() == 3
                && first.keys == 310
                && digests
                    .iter()
                    .all(|(_, d)| (d.applied, d.digest) == (first.applied, first.digest)))
            .then_some(())
        },
    )
    .await;
    cluster.cluster.shutdown().await.unwrap();
}

/// A group snapshots and purges its log once the log grew by `snapshot_bytes`, long
/// before `snapshot_every` entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_grown_past_snapshot_bytes_is_snapshotted_and_purged() {
    let timings = RaftTimings {
        snapshot_bytes: 256 << 10,
        keep_logs: 10,
        ..Default::default()
    };
    let cluster = TestCluster::start_with(timings).await;
    let group = cluster.default_group().await;
    let mut con = cluster.client().await;
    let value = "v".repeat(2_000);
    set_numbered(&mut con, 0..400, |_| value.clone()).await;
    // About 800 KB in about 400 entries: far from the 10,000-entry threshold, past
    // the 256 KiB one three times.
    let digests = wait_for(
        Duration::from_secs(20),
        "every replica purged its log by size",
        || async {
            let digests = cluster.digests(group).await;
            (digests.len() == 3 && digests.iter().all(|(_, d)| d.purged > 0)).then_some(digests)
        },
    )
    .await;
    assert!(digests.iter().all(|(_, d)| d.keys == 400), "{digests:?}");
    cluster.cluster.shutdown().await.unwrap();
}
