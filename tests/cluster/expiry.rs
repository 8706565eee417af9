//! Expiry under replication: the absolute expiry travels in the Raft entry, so a TTL
//! survives a leader change; expired keys vanish from reads at once and, through the
//! leader's sweeper, from the disk of every replica. Time can be moved forward by hand
//! (the clock seam), so an hour-long TTL is tested without waiting an hour.

use crate::harness::{wait_for, TestCluster};
use redis::AsyncCommands;
use std::time::{Duration, Instant};
use tessera_common::clock::ManualClock;
use tessera_proto::catalog::NodeId;
use tessera_proto::ReplicaDigest;

/// `SET key value EX seconds`.
async fn set_ex(con: &mut redis::aio::MultiplexedConnection, key: &str, value: &str, secs: u64) {
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("EX")
        .arg(secs)
        .query_async(con)
        .await
        .unwrap();
}

/// Waits until all three replicas of the default group store `stored` keys and
/// `index` expiry-index entries; their digests.
async fn wait_stored(
    cluster: &TestCluster,
    stored: u64,
    index: u64,
    what: &str,
) -> Vec<(NodeId, ReplicaDigest)> {
    let group = cluster.default_group().await;
    wait_for(Duration::from_secs(10), what, || async {
        let digests = cluster.digests(group).await;
        let done = digests.len() == 3
            && digests
                .iter()
                .all(|(_, d)| d.stored == stored && d.expiry_index == index);
        done.then_some(digests)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hour_long_ttl_expires_when_the_clock_moves_an_hour() {
    let clock = ManualClock::new();
    let cluster = TestCluster::start_with_clock(clock.clone()).await;
    let mut con = cluster.client().await;
    set_ex(&mut con, "session", "v", 3600).await;
    let _: () = con.set("forever", "v").await.unwrap();
    clock.advance(Duration::from_secs(3599));
    assert_eq!(con.ttl::<_, i64>("session").await.unwrap(), 1);
    clock.advance(Duration::from_secs(2));
    assert_eq!(con.get::<_, Option<String>>("session").await.unwrap(), None);
    assert_eq!(con.ttl::<_, i64>("session").await.unwrap(), -2);
    assert_eq!(con.exists::<_, i64>("forever").await.unwrap(), 1);
    let what = "the sweeper to delete the expired key on every replica";
    wait_stored(&cluster, 1, 0, what).await;
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_set_over_an_expiring_key_keeps_it_and_the_sweeper_drops_the_old_entry() {
    let clock = ManualClock::new();
    let cluster = TestCluster::start_with_clock(clock.clone()).await;
    let mut con = cluster.client().await;
    set_ex(&mut con, "session", "old", 60).await;
    // A plain SET writes without reading: the old expiry's index entry stays behind.
    let _: () = con.set("session", "new").await.unwrap();
    assert_eq!(con.ttl::<_, i64>("session").await.unwrap(), -1);
    clock.advance(Duration::from_secs(61));
    let what = "the sweeper to drop the stale index entry on every replica";
    wait_stored(&cluster, 1, 0, what).await;
    assert_eq!(con.get::<_, String>("session").await.unwrap(), "new");
    assert_eq!(con.ttl::<_, i64>("session").await.unwrap(), -1);
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_vanish_from_reads_and_from_every_replica() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    let mut pipe = redis::pipe();
    for i in 0..50 {
        pipe.cmd("SET")
            .arg(format!("short:{i}"))
            .arg(i)
            .arg("PX")
            .arg(2_000)
            .ignore();
    }
    let _: () = pipe.query_async(&mut con).await.unwrap();
    let _: () = con.set("long", "stays").await.unwrap();
    set_ex(&mut con, "later", "v", 3600).await;
    assert_eq!(
        redis::cmd("DBSIZE")
            .query_async::<i64>(&mut con)
            .await
            .unwrap(),
        52
    );

    wait_for(
        Duration::from_secs(10),
        "short keys to expire for readers",
        || {
            let mut con = con.clone();
            async move {
                let n: i64 = redis::cmd("DBSIZE").query_async(&mut con).await.ok()?;
                (n == 2).then_some(())
            }
        },
    )
    .await;
    let keys: Vec<String> = con.keys("*").await.unwrap();
    assert_eq!(keys, vec!["later".to_string(), "long".to_string()]);
    let (_, scanned): (u64, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(1000)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(scanned, keys);
    assert_eq!(con.get::<_, Option<String>>("short:1").await.unwrap(), None);

    let what = "the sweeper to delete expired keys on all replicas";
    let digests = wait_stored(&cluster, 2, 1, what).await;
    assert!(
        digests.iter().all(|(_, d)| d.digest == digests[0].1.digest),
        "{digests:?}"
    );
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_survives_leader_failover() {
    let mut cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    set_ex(&mut con, "session", "v", 60).await;
    let before: i64 = con.pttl("session").await.unwrap();
    let group = cluster.default_group().await;
    let leader = cluster.leader(group).await;

    let failover = Instant::now();
    cluster.cluster.stop_node(leader).await.unwrap();
    let after: i64 = con.pttl("session").await.unwrap();
    let took = failover.elapsed().as_millis() as i64;
    assert_ne!(cluster.leader(group).await, leader);
    // The remaining time went down by the failover's duration, no more, no less
    // (100 ms of slack for the clocks and the reads themselves).
    assert!(after <= before, "TTL must not grow: {before} -> {after}");
    assert!(
        before - after <= took + 100,
        "TTL {before} -> {after} over a {took} ms failover"
    );
    assert_eq!(
        con.get::<_, Option<String>>("session").await.unwrap(),
        Some("v".into())
    );
    cluster.cluster.shutdown().await.unwrap();
}
