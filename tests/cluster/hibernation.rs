//! Idle groups stop their Raft timers (server `hibernate` module) and still serve
//! reads and writes, go back to sleep, and replace a leader whose node stops while the
//! group sleeps — without any client request to wake them.

use crate::harness::{wait_for, TestCluster};
use crate::tables::{field, int};
use redis::AsyncCommands;
use std::time::Duration;
use tessera_common::raftnet::RaftTimings;
use tessera_proto::catalog::GroupId;

async fn all_asleep(cluster: &TestCluster, group: GroupId, replicas: usize) -> bool {
    let digests = cluster.digests(group).await;
    digests.len() == replicas && digests.iter().all(|(_, d)| d.asleep)
}

async fn wait_asleep(cluster: &TestCluster, group: GroupId, replicas: usize) {
    wait_for(
        Duration::from_secs(30),
        "every replica of the group asleep",
        || async { all_asleep(cluster, group, replicas).await.then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_group_sleeps_serves_and_fails_over_while_asleep() {
    let timings = RaftTimings {
        hibernate_after_ms: 300,
        ..Default::default()
    };
    let mut cluster = TestCluster::start_with(timings).await;
    let group = cluster.default_group().await;
    let mut con = cluster.client().await;
    let _: () = con.set("k", "v1").await.unwrap();
    wait_asleep(&cluster, group, 3).await;
    // Operators see it in NODES (from the nodes' heartbeats to the meta service).
    wait_for(
        Duration::from_secs(10),
        "NODES counting sleeping replicas",
        || {
            let mut con = con.clone();
            async move {
                let nodes: redis::Value = redis::cmd("NODES").query_async(&mut con).await.ok()?;
                let redis::Value::Array(nodes) = nodes else {
                    return None;
                };
                let asleep: i64 = nodes.iter().map(|n| int(field(n, "asleep"))).sum();
                (asleep == 3).then_some(())
            }
        },
    )
    .await;

    // A linearizable read on the sleeping leader confirms its leadership by itself.
    let got: String = con.get("k").await.unwrap();
    assert_eq!(got, "v1");
    // A write wakes the leader, and its entry wakes the followers.
    let _: () = con.set("k", "v2").await.unwrap();
    let awake = cluster.digests(group).await;
    assert!(
        awake.iter().filter(|(_, d)| !d.asleep).count() >= 2,
        "a write wakes the leader and a quorum of followers: {awake:?}"
    );
    wait_asleep(&cluster, group, 3).await;

    // The leader's node stops while the group sleeps: the followers notice through
    // their pings and elect a new leader with no client request involved.
    let old = cluster.leader(group).await;
    cluster.cluster.stop_node(old).await.unwrap();
    let new = wait_for(
        Duration::from_secs(20),
        "a new leader among the survivors",
        || async {
            let digests = cluster.digests(group).await;
            let leaders: Vec<_> = digests.iter().filter_map(|(_, d)| d.leader).collect();
            (digests.len() == 2 && leaders.len() == 2 && leaders[0] == leaders[1])
                .then(|| leaders[0])
                .filter(|l| *l != old)
        },
    )
    .await;
    let got: String = con.get("k").await.unwrap();
    assert_eq!(got, "v2");
    let _: () = con.set("k", "v3").await.unwrap();

    // The old leader comes back as a follower of the new one, and all sleep again.
    cluster.cluster.start_node(old).await.unwrap();
    wait_for(
        Duration::from_secs(30),
        "three identical replicas, asleep",
        || async {
            let digests = cluster.digests(group).await;
            let first = digests.first()?.1.clone();
            (digests.len() == 3
                && digests.iter().all(|(_, d)| {
                    d.asleep
                        && d.leader == Some(new)
                        && (d.applied, d.digest) == (first.applied, first.digest)
                }))
            .then_some(())
        },
    )
    .await;
    cluster.cluster.shutdown().await.unwrap();
}
