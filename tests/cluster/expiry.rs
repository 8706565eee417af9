//! Expiry under replication: the absolute expiry travels in the Raft entry, so a TTL
//! survives a leader change; expired keys vanish from reads at once and, through the
//! leader's sweeper, from the disk of every replica. Time can be moved forward by hand
//! (the clock seam), so an hour-long TTL is tested without waiting an hour.

use crate::harness::{wait_for, TestCluster};
use redis::AsyncCommands;
use std::time::{Duration, Instant};
use tessera_common::clock::ManualClock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hour_long_ttl_expires_when_the_clock_moves_an_hour() {
    let clock = ManualClock::new();
    let cluster = TestCluster::start_with_clock(clock.clone()).await;
    let mut con = cluster.client().await;
    let _: () = redis::cmd("SET")
        .arg("session")
        .arg("v")
        .arg("EX")
        .arg(3600)
        .query_async(&mut con)
        .await
        .unwrap();
    let _: () = con.set("forever", "v").await.unwrap();
    clock.advance(Duration::from_secs(3599));
    assert_eq!(con.ttl::<_, i64>("session").await.unwrap(), 1);
    clock.advance(Duration::from_secs(2));
    assert_eq!(con.get::<_, Option<String>>("session").await.unwrap(), None);
    assert_eq!(con.ttl::<_, i64>("session").await.unwrap(), -2);
    assert_eq!(con.exists::<_, i64>("forever").await.unwrap(), 1);
    let group = cluster.default_group().await;
    wait_for(
        Duration::from_secs(10),
        "the sweeper to delete the expired key on every replica",
        || async {
            let digests = cluster.digests(group).await;
            let swept = digests.len() == 3
                && digests
                    .iter()
                    .all(|(_, d)| d.stored == 1 && d.expiry_index == 0);
            swept.then_some(())
        },
    )
    .await;
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
    let _: () = redis::cmd("SET")
        .arg("later")
        .arg("v")
        .arg("EX")
        .arg(3600)
        .query_async(&mut con)
        .await
        .unwrap();
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

    let group = cluster.default_group().await;
    let digests = wait_for(
        Duration::from_secs(10),
        "the sweeper to delete expired keys on all replicas",
        || async {
            let digests = cluster.digests(group).await;
            let clean = digests.len() == 3
                && digests
                    .iter()
                    .all(|(_, d)| d.stored == 2 && d.expiry_index == 1);
            clean.then_some(digests)
        },
    )
    .await;
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
    let _: () = redis::cmd("SET")
        .arg("session")
        .arg("v")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut con)
        .await
        .unwrap();
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
