//! A follower that was down while the group moved on catches up after restart (with a
//! snapshot threshold low enough that the leader has purged the log it missed) and ends
//! with exactly the leader's data.

use crate::harness::{wait_for, TestCluster};
use std::time::Duration;
use tessera_common::raftnet::RaftTimings;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_down_during_5000_writes_catches_up_with_identical_data() {
    // Keep little log behind each snapshot, so the leader purges what the follower
    // misses and must send it a snapshot.
    let timings = RaftTimings {
        snapshot_every: 50,
        keep_logs: 5,
        ..Default::default()
    };
    let mut cluster = TestCluster::start_with(timings).await;
    let group = cluster.default_group().await;
    let leader = cluster.leader(group).await;
    let follower = cluster
        .cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    cluster.cluster.stop_node(follower).await.unwrap();

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
    let digests = wait_for(
        Duration::from_secs(60),
        "three identical replicas",
        || async {
            let digests = cluster.digests(group).await;
            let same = digests.len() == 3
                && digests.iter().all(|(_, d)| {
                    let first = &digests[0].1;
                    (d.applied, d.keys, d.digest) == (first.applied, first.keys, first.digest)
                });
            same.then_some(digests)
        },
    )
    .await;
    assert_eq!(digests[0].1.keys, 5000);
    assert!(
        digests[0].1.applied > 100,
        "hundreds of entries, several snapshots: {digests:?}"
    );
    eprintln!("replicas converged: {digests:?}");
    cluster.cluster.shutdown().await.unwrap();
}
